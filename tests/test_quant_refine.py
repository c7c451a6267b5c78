"""Finishing an int8 engine against its float model (activation scales, distilled weights,
equalized channels): what is kept lowers the error, what is not is undone, and the result
stays exact."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from hwsr.arch.engine_net import build_dual
from hwsr.cli import main
from hwsr.quant.distill import conv_parameters, distill_weights
from hwsr.quant.equalize import equalize_channels, hidden_channels, scale_channel
from hwsr.quant.lower import lower_dual
from hwsr.quant.refine import activation_thresholds, engine_mse, float_targets, refine_scales
from hwsr.reference import run_program
from hwsr.sim import simulate
from hwsr.spec import Activation, Datapath, EngineSpec, LayerSpec, WeightGranularity
from hwsr.train.batches import PatchBatches
from hwsr.train.quantize import _hwsr_meta
from hwsr.train.trainer import train
from hwsr.zoo import load_engine
from tests.test_train_trainer import tiny_config, tiny_spec_file
from tests.toy_data import make_toy_dataset


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("refine")
    toy = {"data": make_toy_dataset(root / "data", patches=24, patch_lr_px=12),
           "spec": tiny_spec_file(root)}
    run = root / "run"
    train(tiny_config(toy, run, optim={"steps": 20}, qat={"steps": 4}), progress=False)
    return {"run": run, "data": toy["data"]}


def _batches(data, n=3):
    pool = PatchBatches(data, 4, PatchBatches.patch_size(data), seed=0)
    return [pool.full_batch(100 + i).lr for i in range(n)]


def test_a_spoiled_scale_is_moved_back_and_every_kept_move_lowers_the_error(tiny_run):
    bundle = load_engine(str(tiny_run["run"]))
    qdual, fdual = bundle.quant_dual(), bundle.float_dual()
    pairs = float_targets(fdual, _batches(tiny_run["data"]))
    def spoiled_by(p: torch.nn.Parameter) -> float:
        with torch.no_grad():
            p.add_(3.0)  # eight times too coarse: resolution thrown away
            mse = engine_mse(qdual, pairs)
            p.sub_(3.0)
        return mse

    # the activation whose spoiling costs most (the toy net barely uses some of them)
    stage, layer, p = max(activation_thresholds(qdual), key=lambda t: spoiled_by(t[2]))
    with torch.no_grad():
        p.add_(3.0)
    spoiled = engine_mse(qdual, pairs)
    changes = refine_scales(qdual, pairs, rounds=4)
    mine = [c for c in changes if (c.stage, c.layer) == (stage, layer)]
    assert mine and all(c.log2_step == -1.0 for c in mine)
    assert all(c.mse_after < c.mse_before for c in changes)
    assert changes[0].mse_before == spoiled and engine_mse(qdual, pairs) == changes[-1].mse_after
    with pytest.raises(ValueError, match="at least one batch"):
        refine_scales(qdual, [])


def _inputs(data):
    pool = PatchBatches(data, 4, PatchBatches.patch_size(data), seed=1)
    return lambda step: pool.full_batch(step).lr


def test_distillation_pulls_spoiled_weights_back_towards_the_float_model(tiny_run):
    bundle = load_engine(str(tiny_run["run"]))
    qdual, fdual = bundle.quant_dual(), bundle.float_dual()
    pairs = float_targets(fdual, _batches(tiny_run["data"]))
    with torch.no_grad():
        qdual.net2.convs[-1].bias.add_(0.05)  # every output pixel 13 LSB too bright
    spoiled = engine_mse(qdual, pairs)
    thresholds = [p.detach().clone() for _, _, p in activation_thresholds(qdual)]
    result = distill_weights(qdual, fdual, _inputs(tiny_run["data"]), 60, pairs, lr=2e-3,
                             ema_decay=0.8)
    assert result.kept and result.mse_before == spoiled
    assert result.mse_after < 0.5 * spoiled and engine_mse(qdual, pairs) == result.mse_after
    # the scales belong to the refinement: distillation leaves them, and their grad flag
    for (_, _, p), before in zip(activation_thresholds(qdual), thresholds, strict=True):
        assert torch.equal(p, before) and p.requires_grad
    assert not qdual.training


def test_distillation_that_cannot_help_is_undone_bit_for_bit(tiny_run):
    bundle = load_engine(str(tiny_run["run"]))
    qdual, fdual = bundle.quant_dual(), bundle.float_dual()
    lrs = _batches(tiny_run["data"])
    with torch.no_grad():
        own = [(x, qdual.eval()(x)[1]) for x in lrs]  # the engine's own output: error 0
    start = [p.detach().clone() for p in conv_parameters(qdual)]
    result = distill_weights(qdual, fdual, _inputs(tiny_run["data"]), 5, own, lr=1e-3)
    assert result.mse_before == 0.0 and not result.kept
    for p, s in zip(conv_parameters(qdual), start, strict=True):
        assert torch.equal(p, s)
    for bad in ({"steps": 0}, {"check": []}, {"lr": 0.0}, {"ema_decay": 1.0}):
        args = {"steps": 2, "check": own, **bad}
        with pytest.raises(ValueError, match="distillation needs"):
            distill_weights(qdual, fdual, _inputs(tiny_run["data"]), **args)


def test_channel_equalization_keeps_the_float_function_bit_for_bit() -> None:
    """×2^k on a channel, ×2^-k on what reads it: the float dual (grouped and dilated
    layers among them) computes the very same numbers."""
    spec = EngineSpec("eq", (LayerSpec(3, 3, 6), LayerSpec(3, 6, 6, groups=6, dilation=2),
                             LayerSpec(1, 6, 4, groups=2), LayerSpec(3, 4, 12, Activation.NONE)),
                      upscale=2)
    torch.manual_seed(0)
    dual = build_dual(spec).eval()
    with torch.no_grad():
        for conv in [*dual.net1.convs, *dual.net2.convs]:
            conv.bias.normal_(0.0, 0.1)
    x = torch.rand(2, 3, 9, 11)
    with torch.no_grad():
        want = dual(x)
    for i, (_, stage, layer, channel) in enumerate(hidden_channels(dual)):
        scale_channel(stage, layer, channel, (-2, -1, 1, 3)[i % 4])
    with torch.no_grad():
        got = dual(x)
    assert all(torch.equal(a, b) for a, b in zip(want, got, strict=True))


def test_equalization_keeps_what_helps_undoes_the_rest_and_stays_exact(tiny_run):
    bundle = load_engine(str(tiny_run["run"]))
    qdual = bundle.quant_dual()
    pairs = float_targets(bundle.float_dual(), _batches(tiny_run["data"]))
    before = lower_dual(qdual.net1, qdual.net2)
    moves = equalize_channels(qdual, pairs, rounds=2)
    assert moves and all(m.mse_after < m.mse_before for m in moves)
    assert engine_mse(qdual, pairs) == moves[-1].mse_after
    # the kept moves replayed on the engine as it was give it back bit for bit: every move
    # the search tried and did not keep was undone exactly
    replay = load_engine(str(tiny_run["run"])).quant_dual()
    for m in moves:
        scale_channel(getattr(replay, m.stage), m.layer, m.channel, m.log2_factor)
    for a, b in zip(conv_parameters(qdual), conv_parameters(replay), strict=True):
        assert torch.equal(a, b)
    # one move keeps the scaled channel's integer weights and bias (its weight scale moves
    # with it) and changes no other row of its layer
    fresh = load_engine(str(tiny_run["run"])).quant_dual().eval()
    scale_channel(fresh.net2, 1, 2, 1)
    moved = lower_dual(fresh.net1, fresh.net2).net2.layers[1]
    la = before.net2.layers[1]
    assert np.array_equal(la.weight, moved.weight) and np.array_equal(la.bias, moved.bias)
    assert (moved.weight_frac - la.weight_frac).tolist() == [0, 0, -1] + [0] * (
        len(la.bias) - 3)
    # the equalized engine's program stays exact
    after = lower_dual(qdual.net1, qdual.net2)
    frame = np.random.default_rng(4).integers(0, 256, (7, 10, 3), dtype=np.uint8)
    ref, _ = run_program(after, frame, "dual")
    assert np.array_equal(simulate(after, frame, "dual").frame, ref)
    with pytest.raises(ValueError, match="at least one batch"):
        equalize_channels(qdual, [])


def test_equalization_needs_per_channel_weight_scales(tiny_run):
    from hwsr.quant.model import build_quant_dual

    spec = load_engine(str(tiny_run["run"])).spec
    dp = Datapath(weight_granularity=WeightGranularity.PER_TENSOR)
    qdual = build_quant_dual(EngineSpec(spec.name, spec.layers, spec.upscale, dp))
    with pytest.raises(ValueError, match="per-channel weight scales"):
        equalize_channels(qdual, [(torch.zeros(1, 3, 4, 4), torch.zeros(1, 3, 12, 12))])


@pytest.mark.parametrize(("distill", "equalize"), [(0, 0), (3, 0), (0, 1)])
def test_refine_only_rewrites_an_exact_engine_pair(tiny_run, tmp_path, capsys, distill,
                                                   equalize):
    out = tmp_path / "refined"
    assert main(["quantize", "--model", str(tiny_run["run"]), "--data", str(tiny_run["data"]),
                 "--refine-only", "--refine-batches", "2", "--batch-size", "4",
                 "--distill-steps", str(distill), "--distill-batch-size", "4",
                 "--equalize-rounds", str(equalize), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "activation scales moved" in printed
    assert ("distillation (3 steps)" in printed) == bool(distill)
    meta = _hwsr_meta(out / "quant.safetensors")
    assert ("distilled" in meta) == bool(distill) and "moves" in meta["refined_scales"]
    assert ("equalized_channels" in meta) == bool(equalize)
    assert sorted(p.name for p in out.iterdir()) == ["program.npz", "quant.safetensors"]
    # the written program is the lowering of the written Brevitas state, and both execute
    # the same integers (Brevitas in float64, the reference, the simulator)
    (out / "engine.toml").write_text((tiny_run["run"] / "engine.toml").read_text())
    bundle = load_engine(str(out))
    qdual = bundle.quant_dual()
    program = bundle.program()
    relowered = lower_dual(qdual.net1, qdual.net2)
    for a, b in zip(program.stages("dual"), relowered.stages("dual"), strict=True):
        for la, lb in zip(a.layers, b.layers, strict=True):
            assert np.array_equal(la.weight, lb.weight) and np.array_equal(la.shift, lb.shift)
            assert la.out_type == lb.out_type
    frame = np.random.default_rng(3).integers(0, 256, (9, 11, 3), dtype=np.uint8)
    ref, _ = run_program(program, frame, "dual")
    x = torch.from_numpy(frame).permute(2, 0, 1)[None].double() / 256
    with torch.no_grad():
        y = qdual.double()(x)[1][0].permute(1, 2, 0).numpy() * 256
    assert np.array_equal(y.astype(np.int64), ref.astype(np.int64))
    assert np.array_equal(simulate(program, frame, "dual").frame, ref)


@pytest.mark.parametrize(("flags", "named"), [
    (["--refine-only", "--refine-batches", "0"], "--refine-batches"),
    (["--refine-only", "--distill-steps", "-1"], "--distill-steps"),
    (["--distill-steps", "5"], "--refine-only"),
    (["--refine-only", "--equalize-rounds", "-1"], "--equalize-rounds"),
    (["--equalize-rounds", "1"], "--refine-only"),
])
def test_refine_only_refuses_bad_counts_in_one_line(tiny_run, capsys, flags, named):
    assert main(["quantize", "--model", str(tiny_run["run"]), "--data", str(tiny_run["data"]),
                 *flags]) == 1
    err = capsys.readouterr().err.strip()
    assert named in err and "\n" not in err
