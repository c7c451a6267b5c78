"""Integer program storage and refusals; the reference and accumulator bounds by hand."""

from __future__ import annotations

import dataclasses
import json
import zipfile
from pathlib import Path

import numpy as np
import pytest

from hwsr.accum import program_bounds, stage_bounds
from hwsr.fixed import FixedType, Rounding
from hwsr.program import (
    EngineProgram,
    LayerProgram,
    ProgramError,
    StageProgram,
    check_stage,
    load_program,
    save_program,
)
from hwsr.reference import conv2d_int, run_program, run_stage
from hwsr.spec import Activation, Datapath, EngineSpec, LayerSpec, load_spec
from tests.strategies import random_program

ROOT = Path(__file__).resolve().parents[1]
SPEC = load_spec(ROOT / "models" / "hwsr-s" / "engine.toml")


def one_layer_stage(w: int, b: int, w_frac: int, out_frac: int, rounding: Rounding) -> StageProgram:
    """Net1 with a single 1×1 layer: out channel c = w·in_c + b (a diagonal weight)."""
    spec = EngineSpec(
        name="one", layers=(LayerSpec(1, 3, 3, Activation.NONE),), upscale=1,
        datapath=Datapath(rounding=rounding, out_bits=10),
    )
    weight = (np.eye(3, dtype=np.int64) * w).reshape(3, 3, 1, 1)
    lp = LayerProgram(weight, np.full(3, b, np.int64), 8, np.full(3, w_frac, np.int64), out_frac,
                      FixedType(10, out_frac, True), relu=False)
    return StageProgram(spec=spec, layers=(lp,))


def test_reference_by_hand_half_up_vs_half_even() -> None:
    # w = 3 at frac 2 (0.75), b = 2 at acc frac 10; out frac 9: shift = 8 + 2 - 9 = 1.
    # pixel 5: acc = 15 + 2 = 17 -> 17/2 = 8.5 -> half up 9, half even 8.
    # residual: F = max(9, 8) = 9: s = y + (5 << 1) = y + 10; out = s / 2 rounded.
    #   half up:   9 + 10 = 19 -> 9.5 -> 10;  half even: 8 + 10 = 18 -> 9.
    frame = np.full((1, 1, 3), 5, np.uint8)
    up, _ = run_stage(one_layer_stage(3, 2, 2, 9, Rounding.HALF_UP), frame)
    even, _ = run_stage(one_layer_stage(3, 2, 2, 9, Rounding.HALF_EVEN), frame)
    assert up.tolist() == [[[10, 10, 10]]]
    assert even.tolist() == [[[9, 9, 9]]]


def test_reference_output_saturation_counted() -> None:
    # w = 127 at frac 0 -> huge positive output; out saturates to 511 (10-bit) then 255.
    frame = np.full((2, 2, 3), 200, np.uint8)
    out, stats = run_stage(one_layer_stage(127, 0, 0, 8, Rounding.HALF_UP), frame)
    assert (out == 255).all()
    assert stats.layers[0].saturations == 12 and stats.output_saturations == 12


def test_conv2d_int_zero_padding_by_hand() -> None:
    x = np.arange(1, 10, dtype=np.int64).reshape(1, 3, 3)
    w = np.ones((1, 1, 3, 3), np.int64)
    # corner (0,0) sees 1+2+4+5 = 12; centre sees all 45.
    got = conv2d_int(x, w)[0]
    assert got[0, 0] == 12 and got[1, 1] == 45 and got[2, 2] == 5 + 6 + 8 + 9


def test_conv2d_int_exact_beyond_float64() -> None:
    """Sums above 2**53 take the int64 path and stay exact."""
    x = np.full((1, 1, 1), 2**40, np.int64)
    w = np.full((1, 1, 1, 1), 2**20 + 1, np.int64)
    assert int(conv2d_int(x, w)[0, 0, 0]) == 2**60 + 2**40


GROUPED = EngineSpec(
    name="grouped", upscale=3, datapath=Datapath(acc_bits=24),
    layers=(LayerSpec(3, 3, 6, groups=3, dilation=2), LayerSpec(3, 6, 6, groups=6),
            LayerSpec(1, 6, 4, groups=2), LayerSpec(3, 4, 27, Activation.NONE, dilation=3)))


@pytest.mark.parametrize(("groups", "dilation"), [(1, 2), (3, 1), (6, 3), (2, 2)])
def test_conv2d_int_grouped_dilated_equals_torch(groups: int, dilation: int) -> None:
    """Group by group, taps ``dilation`` apart, zero padding: torch's conv2d on the same
    small integers in float64 (every sum exact there) gives the same numbers."""
    import torch

    rng = np.random.default_rng(groups * 10 + dilation)
    x = rng.integers(-255, 256, (6, 7, 9), dtype=np.int64)
    w = rng.integers(-128, 128, (12, 6 // groups, 3, 3), dtype=np.int64)
    want = torch.nn.functional.conv2d(torch.from_numpy(x)[None].double(),
                                      torch.from_numpy(w).double(), padding=dilation,
                                      dilation=dilation, groups=groups)[0]
    assert np.array_equal(conv2d_int(x, w, groups, dilation), want.numpy().astype(np.int64))


def test_dense_weight_is_the_same_layer() -> None:
    """A grouped, dilated layer and its dense span×span equivalent make the same sums."""
    rng = np.random.default_rng(3)
    stage = random_program(GROUPED, rng, extreme=True).net2
    x = rng.integers(0, 256, (3, 11, 10), dtype=np.int64)
    for lp in stage.layers:
        dense = lp.dense_weight()
        span = lp.dilation * (lp.weight.shape[2] - 1) + 1
        assert dense.shape == (lp.weight.shape[0], lp.c_in, span, span)
        assert int(np.count_nonzero(dense)) == int(np.count_nonzero(lp.weight))
        assert np.array_equal(conv2d_int(x, dense), conv2d_int(x, lp.weight, lp.groups,
                                                                lp.dilation))
        x = rng.integers(0, 256, (lp.weight.shape[0], 11, 10), dtype=np.int64)


def test_grouped_program_round_trip_and_refusals(tmp_path: Path) -> None:
    prog = random_program(GROUPED, np.random.default_rng(4))
    save_program(prog, tmp_path / "g.npz")
    back = load_program(tmp_path / "g.npz")
    assert [(lp.groups, lp.dilation) for lp in back.net2.layers] == [(3, 2), (6, 1), (2, 1),
                                                                     (1, 3)]
    frame = np.random.default_rng(5).integers(0, 256, (7, 8, 3), dtype=np.uint8)
    assert np.array_equal(run_program(prog, frame)[0], run_program(back, frame)[0])
    lp = prog.net2.layers[1]
    wrong = dataclasses.replace(lp, weight=lp.dense_weight(), groups=1)  # dense in its place
    with pytest.raises(ProgramError, match=r"weight shape \(6, 6, 3, 3\) != spec \(6, 1, 3, 3\)"):
        check_stage(dataclasses.replace(prog.net2, layers=(prog.net2.layers[0], wrong,
                                                           *prog.net2.layers[2:])))
    undilated = dataclasses.replace(prog.net2.layers[0], dilation=1)
    with pytest.raises(ProgramError, match="groups/dilation 3/1 != spec 3/2"):
        check_stage(dataclasses.replace(prog.net2, layers=(undilated, *prog.net2.layers[1:])))


def test_pixel_shuffle_layout() -> None:
    """Channel c·r² + i·r + j lands at (y·r + i, x·r + j) of colour c, as torch's PixelShuffle."""
    import torch

    rng = np.random.default_rng(0)
    prog = random_program(SPEC, rng)
    frame = rng.integers(0, 256, (3, 4, 3), dtype=np.uint8)
    out, _ = run_program(prog, frame, "net2")
    assert out.shape == (9, 12, 3)
    # Recompute the pre-shuffle tensor and shuffle it with torch.
    stage = prog.net2
    x = frame.transpose(2, 0, 1).astype(np.int64)
    from hwsr.fixed import requantize
    from hwsr.reference import LayerStats, run_layer

    h = x
    for lp in stage.layers:
        h = run_layer(h, lp, stage, LayerStats())
    s = (h << stage.res_conv_lshift) + (np.repeat(x, 9, axis=0) << stage.res_in_lshift)
    pre = requantize(s, stage.out_shift, stage.spec.datapath.rounding, stage.spec.datapath.pixel_type)
    shuffled = torch.nn.functional.pixel_shuffle(torch.from_numpy(pre)[None], 3)[0]
    assert np.array_equal(shuffled.permute(1, 2, 0).numpy(), out.astype(np.int64))


def test_save_load_round_trip(tmp_path: Path) -> None:
    prog = random_program(SPEC, np.random.default_rng(1))
    path = tmp_path / "program.npz"
    save_program(prog, path)
    back = load_program(path)
    frame = np.random.default_rng(2).integers(0, 256, (5, 6, 3), dtype=np.uint8)
    assert np.array_equal(run_program(prog, frame)[0], run_program(back, frame)[0])
    assert back.net2.spec == SPEC and back.net1 is not None and back.net1.spec == SPEC.net1()
    with np.load(path, allow_pickle=False) as z:
        assert all(z[k].dtype != object for k in z.files)


def _rewrite(path: Path, edit) -> None:  # type: ignore[no-untyped-def]
    with np.load(path, allow_pickle=False) as z:
        data = {k: z[k] for k in z.files}
    edit(data)
    np.savez(path, **data)


def test_refusals(tmp_path: Path) -> None:
    prog = random_program(SPEC, np.random.default_rng(3))
    good = tmp_path / "p.npz"
    save_program(prog, good)
    with pytest.raises(ProgramError, match="not found"):
        load_program(tmp_path / "missing.npz")
    bad = tmp_path / "corrupt.npz"
    bad.write_bytes(good.read_bytes()[:100])
    with pytest.raises(ProgramError, match="not a readable hwsr program"):
        load_program(bad)

    def bump_version(d: dict) -> None:  # type: ignore[type-arg]
        h = json.loads(bytes(d["header"]).decode())
        h["version"] = 99
        d["header"] = np.frombuffer(json.dumps(h).encode(), np.uint8)

    _rewrite(good, bump_version)
    with pytest.raises(ProgramError, match="schema version 99"):
        load_program(good)
    save_program(prog, good)
    _rewrite(good, lambda d: d.__setitem__("net2.0.weight", d["net2.0.weight"][:, :, :1, :1]))
    with pytest.raises(ProgramError, match="weight shape"):
        load_program(good)
    save_program(prog, good)
    _rewrite(good, lambda d: d.__setitem__("net2.1.bias", d["net2.1.bias"] * 10))
    with pytest.raises(ProgramError, match="bias codes leave the 16-bit"):
        load_program(good)
    assert zipfile.is_zipfile(good)


def test_check_stage_refuses_wrong_format() -> None:
    prog = random_program(SPEC, np.random.default_rng(4))
    lp = prog.net2.layers[0]
    wrong = LayerProgram(lp.weight, lp.bias, lp.in_frac, lp.weight_frac, lp.out_frac,
                         FixedType(8, lp.out_frac, True), lp.relu)
    with pytest.raises(ProgramError, match="output format"):
        check_stage(StageProgram(SPEC, (wrong, *prog.net2.layers[1:])))


def test_accumulator_bounds_by_hand() -> None:
    st = one_layer_stage(3, 2, 2, 9, Rounding.HALF_UP)
    (b,) = stage_bounds(st)
    assert b.worst_abs == 3 * 255 + 2 and b.bits_needed == 11 and not b.can_overflow
    # Worst 3x3 layer of the default engine: 180 taps of |w| <= 128 on uint8 activations
    # (255) plus |bias| <= 2**15: 180 * 128 * 255 + 32768 = 5,908,168 -> 24 signed bits.
    prog = random_program(SPEC, np.random.default_rng(5), extreme=True)
    bounds = program_bounds(prog)
    assert len(bounds) == 10
    assert max(b.worst_abs for b in bounds) <= 5_908_168
    assert all(not b.can_overflow for b in bounds)
    narrow = one_layer_stage(3, 2, 2, 9, Rounding.HALF_UP)
    narrow_spec = EngineSpec(name="n", layers=narrow.spec.layers, upscale=1,
                             datapath=Datapath(out_bits=10, bias_bits=8, acc_bits=10))
    (nb,) = stage_bounds(StageProgram(narrow_spec, narrow.layers))
    assert nb.bits_needed == 11 and nb.can_overflow


def test_engine_program_stage_lookup() -> None:
    prog = random_program(SPEC, np.random.default_rng(6))
    single = EngineProgram(net2=prog.net2)
    with pytest.raises(ProgramError, match="no stage 'net1'"):
        single.stage("net1")


def test_accumulator_beyond_int64_headroom_is_refused(tmp_path: Path) -> None:
    """32-bit activations times 32-bit weights over a 3×3 fan-in pass 2**62: refused on save
    and on load, naming the layer, before any executor can wrap in int64."""
    dp = Datapath(act_bits=32, weight_bits=32, bias_bits=16, acc_bits=32, out_bits=32)
    spec = EngineSpec(name="wide", layers=(LayerSpec(3, 3, 4), LayerSpec(3, 4, 3, Activation.NONE)),
                      upscale=1, datapath=dp)
    prog = random_program(spec, np.random.default_rng(8), extreme=True)
    with pytest.raises(ProgramError, match=r"net2: layer 1: worst-case accumulator .* 2\*\*62"):
        save_program(EngineProgram(net2=prog.net2), tmp_path / "p.npz")
    assert not (tmp_path / "p.npz").exists()
    ok = dataclasses.replace(dp, act_bits=16, weight_bits=16)
    spec16 = dataclasses.replace(spec, datapath=ok)
    save_program(EngineProgram(net2=random_program(spec16, np.random.default_rng(8), True).net2),
                 tmp_path / "p16.npz")
