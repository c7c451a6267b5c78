"""The trainer on a tiny synthetic dataset: config, loss goes down, exact resume, exports."""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from hwsr.spec import spec_from_dict
from hwsr.train import artifacts
from hwsr.train.config import ConfigError, TrainConfig, config_from_dict, load_config
from hwsr.train.nets import dual_params, matched_width, single_spec
from hwsr.train.state import CKPT_FILE, read_meta
from hwsr.train.trainer import lr_at, train
from hwsr.zoo import load_engine
from tests.test_train_losses import TINY
from tests.toy_data import make_toy_dataset

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def toy(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("toy")
    return {"data": make_toy_dataset(root / "data", patches=24, patch_lr_px=12),
            "spec": tiny_spec_file(root)}


def tiny_spec_file(root: Path) -> Path:
    """``root/tiny/engine.toml``: the TINY engine of the loss tests, loadable as a model."""
    spec_file = root / "tiny" / "engine.toml"
    spec_file.parent.mkdir()
    spec_file.write_text(artifacts.spec_toml(spec_from_dict(TINY)), encoding="utf-8")
    return spec_file


def tiny_config(toy: dict[str, Path], out: Path, **over) -> TrainConfig:
    d = {
        "run": {"mode": "dual-id", "model": str(toy["spec"]), "out_dir": str(out), "seed": 3},
        "data": {"dir": str(toy["data"]), "crop_lr_px": 8, "batch_size": 4, "val_frames": 2,
                 "val_crop_lr_px": 0},
        "optim": {"steps": 12, "lr": 5e-3, "warmup_steps": 2},
        "schedule": {"log_every_steps": 1, "val_every_steps": 6, "ckpt_every_steps": 3},
        "qat": {"steps": 4, "calib_batches": 2, "lr": 1e-3},
    }
    for table, values in over.items():
        d[table] = {**d.get(table, {}), **values}
    return config_from_dict(d)


def weights(path: Path) -> dict[str, torch.Tensor]:
    return load_file(str(path))


def assert_same(a: Path, b: Path) -> None:
    wa, wb = weights(a), weights(b)
    assert wa.keys() == wb.keys()
    for k in wa:
        assert torch.equal(wa[k], wb[k]), k


# -- config ---------------------------------------------------------------------------------
def test_shipped_configs_load():
    for path in sorted((REPO / "configs").glob("*.toml")):
        cfg = load_config(path)
        assert cfg.run.mode in ("baseline", "hd2uhd", "dual", "dual-id")


@pytest.mark.parametrize(("tables", "fragment"), [
    ({"run": {"mode": "triple"}}, "run.mode"),
    ({"run": {"mode": "dual", "colour": 1}}, "run.colour: unknown key"),
    ({"optim": {"lr": -1.0}}, "optim.lr"),
    ({"optim": {"steps": "many"}}, "optim.steps: must be int"),
    ({"loss": {"id_route": "teacher"}}, "loss.id_route"),
    ({"loss": {"pixel": "l3"}}, "loss.pixel"),
    ({"loss": {"id_distance": "cos"}}, "loss.id_distance"),
    ({"optim": {"steps": 10}, "loss": {"id_decay_steps": 8, "id_warmup_steps": 4}},
     "loss.id_decay_steps"),
    ({"loss": {"id_decay_steps": -1}}, "loss.id_decay_steps"),
    ({"run": {"mode": "baseline"}, "qat": {"steps": 5}}, "qat.steps"),
    ({"qat": {"steps": 5, "distill_steps": 10}}, "qat.distill_steps: needs qat.refine_batches"),
    ({"qat": {"steps": 5, "equalize_rounds": 1}}, "qat.equalize_rounds: needs qat.refine_batches"),
    ({"train": {}}, "unknown table"),
])
def test_bad_configs_are_refused_naming_the_key(tables, fragment):
    with pytest.raises(ConfigError, match=fragment.replace(".", r"\.")):
        config_from_dict(tables, source="x.toml")


def test_set_overrides_change_typed_values_and_are_checked_like_the_file():
    path = REPO / "configs" / "hwsr-s.toml"
    base = load_config(path)
    cfg = load_config(path, ["optim.steps=123", "optim.lr=2e-4", "loss.pixel=l1",
                             "data.dir=elsewhere", "run.seed=7"])
    assert (cfg.optim.steps, cfg.optim.lr, cfg.loss.pixel, cfg.run.seed) == (123, 2e-4, "l1", 7)
    assert cfg.data.dir == Path("elsewhere") and cfg.qat == base.qat
    with pytest.raises(ConfigError, match=r"optim\.stepz: unknown key"):
        load_config(path, ["optim.stepz=1"])
    with pytest.raises(ConfigError, match=r"optim\.steps: must be int"):
        load_config(path, ["optim.steps=many"])
    for bad in ("optim.steps", "steps=3", "optim.a.b=1"):
        with pytest.raises(ConfigError, match="TABLE.KEY=VALUE"):
            load_config(path, [bad])


def test_lr_schedule_warms_up_then_decays():
    cfg = config_from_dict({"optim": {"steps": 100, "lr": 1e-3, "min_lr": 1e-5,
                                      "warmup_steps": 10}, "qat": {"steps": 10}})
    lrs = [lr_at(s, cfg) for s in range(110)]
    assert lrs[9] == pytest.approx(1e-3) and lrs[0] == pytest.approx(1e-4)
    assert all(a >= b for a, b in zip(lrs[10:100], lrs[11:100], strict=False))
    assert lrs[100] == pytest.approx(cfg.qat.lr)


def test_single_stage_net_matches_the_dual_pair_budget():
    spec = load_engine("hwsr-s").spec
    assert matched_width(spec) == 27
    assert abs(single_spec(spec).params - dual_params(spec)) / dual_params(spec) < 0.01


# -- training -------------------------------------------------------------------------------
def test_a_few_steps_lower_the_loss_and_export_the_engine(toy, tmp_path):
    cfg = tiny_config(toy, tmp_path / "run", optim={"steps": 30})
    result = train(cfg, progress=False)
    losses = [r["loss"] for r in artifacts.read_metrics(tmp_path / "run") if r["phase"] == "float"]
    assert sum(losses[-5:]) < sum(losses[:5])
    for name in ("float.safetensors", "quant.safetensors", "program.npz", "engine.toml",
                 "metrics.jsonl", "result.json"):
        assert (tmp_path / "run" / name).is_file(), name
    assert result.steps == 34 and json.loads((tmp_path / "run/result.json").read_text())


@pytest.mark.parametrize("stop", [6, 14])  # interrupted in the float phase and in QAT
def test_resume_after_interruption_gives_the_identical_result(toy, tmp_path, stop):
    train(tiny_config(toy, tmp_path / "a"), progress=False)
    cfg_b = tiny_config(toy, tmp_path / "b")
    part = train(cfg_b, progress=False, stop_at_step=stop)
    assert part.steps == stop and read_meta(tmp_path / "b" / CKPT_FILE).step == stop
    train(cfg_b, progress=False)
    for name in ("float.safetensors", "quant.safetensors"):
        assert_same(tmp_path / "a" / name, tmp_path / "b" / name)
    steps = [r["step"] for r in artifacts.read_metrics(tmp_path / "b")]
    assert steps == sorted(set(steps))  # no record written twice


def test_rerun_of_a_run_killed_before_its_export_writes_the_engine(toy, tmp_path):
    """Killed after the last QAT checkpoint but before the engine was written: the rerun
    writes the same engine instead of reporting a finished run without one."""
    train(tiny_config(toy, tmp_path / "a"), progress=False)
    cfg = tiny_config(toy, tmp_path / "r")
    train(cfg, progress=False)
    for name in ("quant.safetensors", "program.npz"):
        (tmp_path / "r" / name).unlink()
    train(cfg, progress=False)
    assert_same(tmp_path / "a" / "quant.safetensors", tmp_path / "r" / "quant.safetensors")
    assert (tmp_path / "a" / "program.npz").read_bytes() == \
        (tmp_path / "r" / "program.npz").read_bytes()


def test_resume_refuses_a_checkpoint_of_another_config(toy, tmp_path):
    train(tiny_config(toy, tmp_path / "r"), progress=False, stop_at_step=3)
    with pytest.raises(ValueError, match=r"different \[optim\]"):
        train(tiny_config(toy, tmp_path / "r", optim={"lr": 1e-2}), progress=False)


_KILLED_RUN = """
import sys
from hwsr.train.config import config_from_dict
from hwsr.train.trainer import train
train(config_from_dict(__import__("json").loads(sys.argv[1])), progress=False)
"""


def test_resume_after_sigkill_gives_the_identical_result(toy, tmp_path):
    over = {"optim": {"steps": 80}, "qat": {"steps": 0},
            "schedule": {"ckpt_every_steps": 1, "val_every_steps": 1000}}
    cfg = tiny_config(toy, tmp_path / "k", **over)
    doc = cfg.to_dict()
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen([sys.executable, "-c", _KILLED_RUN, json.dumps(doc)], env=env,
                            cwd=REPO)
    ckpt = tmp_path / "k" / CKPT_FILE
    deadline = time.monotonic() + 40
    while time.monotonic() < deadline and proc.poll() is None:
        if ckpt.is_file() and read_meta(ckpt).step >= 8:
            break
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    killed_at = read_meta(ckpt).step
    assert 0 < killed_at < 80
    train(cfg, progress=False)
    ref = {**over, "schedule": {"ckpt_every_steps": 80, "val_every_steps": 1000}}
    train(tiny_config(toy, tmp_path / "ref", **ref), progress=False)
    assert_same(tmp_path / "k" / "float.safetensors", tmp_path / "ref" / "float.safetensors")


def test_single_stage_modes_train_and_evaluate(toy, tmp_path):
    """Each single-stage mode trains a ×3 net that the evaluation then loads and scores."""
    from hwsr.train.evaluate import evaluate

    modes = ("baseline", "hd2uhd")
    for mode in modes:
        cfg = tiny_config(toy, tmp_path / mode, run={"mode": mode, "single_width": 6},
                          optim={"steps": 4}, qat={"steps": 0})
        assert train(cfg, progress=False).steps == 4
    rows = evaluate([str(tmp_path / m) for m in modes], toy["data"])
    scored = [r for r in rows if r.model != "bicubic"]
    # the mode is read back from the trained weights; a single ×3 net has no Table 2 row
    assert [(r.table, r.model.split("/")[-1], r.mode, r.weights, r.frames) for r in scored] == [
        (1, m, m, "float", 2) for m in modes]
    assert all(math.isfinite(r.psnr_db) and r.psnr_db > 10 and 0 < r.ssim <= 1 for r in scored)


def test_initialisation_starts_net1_at_identity_and_net2_near_bicubic():
    from hwsr.resize import imresize_torch
    from hwsr.train.nets import build_model

    spec = load_engine("hwsr-s").spec
    torch.manual_seed(0)
    model = build_model(spec, "dual")
    coarse = torch.rand(1, 3, 6, 6, dtype=torch.float64)
    x = imresize_torch(coarse, (24, 24)).clamp(0, 0.99).float()  # smooth, in pixel range
    with torch.no_grad():
        y1, y2 = model(x)
    assert torch.equal(y1, x)
    ref = imresize_torch(x.double(), (72, 72)).float()
    inner = (slice(None), slice(None), slice(6, -6), slice(6, -6))  # zero-padded borders differ
    mse = float(((y2 - ref)[inner] ** 2).mean())
    assert mse < 1e-4  # > 40 dB from bicubic (measured 43 dB): 3-tap cubic vs 4 taps


TAP_DECIMALS_ERROR = 1e-4  # the init taps are the kernel rounded to 4 decimals, renormalised


def test_bicubic_init_taps_are_the_one_resizer_kernel():
    """The ×3 initialisation reads hwsr's one cubic kernel, not a table of its own."""
    import numpy as np

    from hwsr.resize import cubic
    from hwsr.train.nets import _cubic_taps

    want = cubic([4 / 3, 1 / 3, 2 / 3])
    want = want / want.sum()
    assert np.abs(_cubic_taps(2, 3).numpy() - want).max() < TAP_DECIMALS_ERROR
    assert torch.equal(_cubic_taps(0, 3), _cubic_taps(2, 3).flip(0))
    assert _cubic_taps(1, 3).tolist() == [0.0, 1.0, 0.0]


def test_quantize_command_exports_the_int8_engine_from_a_float_run(toy, tmp_path, capsys):
    import argparse

    from hwsr.train.cli import register

    train(tiny_config(toy, tmp_path / "f", qat={"steps": 0}), progress=False)
    parser = argparse.ArgumentParser()
    register(parser.add_subparsers())
    args = parser.parse_args([
        "quantize", "--model", str(tmp_path / "f"), "--data", str(toy["data"]), "--steps", "2",
        "--calib-batches", "1", "--batch-size", "4", "--work", str(tmp_path / "w"),
        "--out", str(tmp_path / "int8"), "--no-progress",
    ])
    assert args.func(args) == 0
    assert (tmp_path / "int8" / "program.npz").is_file()
    assert (tmp_path / "int8" / "quant.safetensors").is_file()
    assert "int8 engine" in capsys.readouterr().out


# -- a mix of datasets ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def toy_mix(tmp_path_factory) -> list[Path]:
    root = tmp_path_factory.mktemp("mix")
    return [make_toy_dataset(root / "b", patches=10, patch_lr_px=12, seed=1),
            make_toy_dataset(root / "c", patches=7, patch_lr_px=12, seed=2)]


def test_mix_pools_every_folders_triples_in_order(toy, toy_mix):
    from hwsr.data import TripletDataset
    from hwsr.train.batches import PatchBatches

    pool = PatchBatches(toy["data"], 4, 8, seed=0, mix=toy_mix)
    assert pool.total == 24 + 10 + 7
    plain = [TripletDataset(r, augment=False) for r in (toy["data"], *toy_mix)]
    for part in pool.parts:
        part.augment = False
    flat = [t for d in plain for t in (d[i] for i in range(len(d)))]
    for i, want in enumerate(flat):
        got = pool.triple(i)
        assert all(torch.equal(g, w) for g, w in zip(got, want, strict=True)), i
    # batches draw from the whole pool: over 30 steps every folder contributes
    drawn: list[int] = []
    take = pool.triple
    pool.triple = lambda i: drawn.append(i) or take(i)  # type: ignore[method-assign]
    for step in range(30):
        pool.batch(step)
    assert len(drawn) == 120 and set(drawn) <= set(range(41))
    assert min(drawn) < 24 and any(24 <= i < 34 for i in drawn) and max(drawn) >= 34


def test_mix_trains_validates_on_dir_and_records_the_folders(toy, toy_mix, tmp_path):
    cfg = tiny_config(toy, tmp_path / "m", data={"mix": [str(p) for p in toy_mix]},
                      optim={"steps": 6}, qat={"steps": 0})
    assert cfg.data.mix == tuple(toy_mix)
    train(cfg, progress=False)
    recorded = read_meta(tmp_path / "m" / CKPT_FILE).config
    assert recorded["data"]["mix"] == [str(p) for p in toy_mix]
    assert config_from_dict(recorded).data.mix == cfg.data.mix
    # a rerun of the finished run with the same mix resumes instead of refusing
    train(cfg, progress=False)


@pytest.mark.parametrize("mix, fragment", [
    ("data/x", "list of path strings"),
    ([""], "list of path strings"),
    (["SAME"], "repeats a folder"),
])
def test_bad_mix_is_refused(toy, tmp_path, mix, fragment):
    mix = [str(toy["data"]) if m == "SAME" else m for m in mix] if isinstance(mix, list) else mix
    with pytest.raises(ConfigError, match=fragment):
        tiny_config(toy, tmp_path, data={"mix": mix})


def test_mix_of_other_patch_size_is_refused(toy, tmp_path):
    from hwsr.train.batches import PatchBatches

    other = make_toy_dataset(tmp_path / "big", patches=6, patch_lr_px=16)
    with pytest.raises(ValueError, match="patches differ in size"):
        PatchBatches(toy["data"], 4, 8, seed=0, mix=[other])


# -- the float references: SRCNN and RCAN through the same four modes -------------------------


@pytest.mark.parametrize("arch", ["srcnn", "rcan"])
def test_float_reference_trains_every_mode_and_scores_float_only(toy, tmp_path, arch):
    from hwsr.train.evaluate import evaluate

    modes = ("baseline", "hd2uhd", "dual", "dual-id")
    for mode in modes:
        cfg = tiny_config(toy, tmp_path / mode, run={"mode": mode, "arch": arch},
                          optim={"steps": 3}, qat={"steps": 0})
        result = train(cfg, progress=False)
        assert math.isfinite(result.val_psnr_db), mode
    rows = evaluate([str(tmp_path / m) for m in modes], toy["data"])
    table1 = [r for r in rows if r.table == 1 and r.model != "bicubic"]
    assert [r.mode for r in table1] == list(modes)
    assert {r.weights for r in rows if r.model != "bicubic"} == {"float"}


@pytest.mark.parametrize("arch", ["srcnn", "rcan"])
def test_float_reference_starts_at_bicubic_and_pairs_match_the_single_budget(arch):
    from hwsr.resize import imresize_torch
    from hwsr.train.nets import build_float_arch

    x = torch.rand(1, 3, 10, 12)
    single = build_float_arch(arch, "baseline")
    dual = build_float_arch(arch, "dual")
    up = imresize_torch(x, (30, 36))
    assert torch.equal(single(x), up)
    y1, y2 = dual(x)
    assert torch.equal(y1, x) and torch.equal(y2, up)
    n_single = sum(p.numel() for p in single.parameters())
    n_dual = sum(p.numel() for p in dual.parameters())
    assert abs(n_dual - n_single) / n_single < 0.06


def test_float_reference_has_no_qat_phase(toy, tmp_path):
    with pytest.raises(ConfigError, match="qat.steps.*float reference"):
        tiny_config(toy, tmp_path, run={"arch": "srcnn"})


@pytest.mark.parametrize("stop", [6, 14])  # interrupted in the float phase and in QAT
def test_resume_with_an_ema_teacher_continues_the_same_average(toy, tmp_path, stop):
    over = {"loss": {"id_teacher_ema": 0.5}}
    train(tiny_config(toy, tmp_path / "a", **over), progress=False)
    cfg_b = tiny_config(toy, tmp_path / "b", **over)
    train(cfg_b, progress=False, stop_at_step=stop)
    train(cfg_b, progress=False)
    for name in ("float.safetensors", "quant.safetensors"):
        assert_same(tmp_path / "a" / name, tmp_path / "b" / name)
    # the option changes training: the current-weights teacher ends elsewhere
    train(tiny_config(toy, tmp_path / "c"), progress=False)
    wa, wc = weights(tmp_path / "a" / FLOAT), weights(tmp_path / "c" / FLOAT)
    assert any(not torch.equal(wa[k], wc[k]) for k in wa if k.startswith("net1."))
    with pytest.raises(ConfigError, match="id_teacher_ema"):
        tiny_config(toy, tmp_path / "d", loss={"id_teacher_ema": 1.0})


FLOAT = "float.safetensors"


def test_qat_can_end_with_distilled_weights_equalized_channels_refined_scales_and_stays_exact(
        toy, tmp_path):
    import numpy as np
    from safetensors import safe_open

    from hwsr.reference import run_program

    train(tiny_config(toy, tmp_path / "r", qat={"steps": 4, "refine_batches": 2,
                                                "distill_steps": 3, "equalize_rounds": 1}),
          progress=False)
    with safe_open(str(tmp_path / "r" / "quant.safetensors"), framework="pt") as f:
        meta = json.loads(f.metadata()["hwsr"])
    assert meta["distilled"]["steps"] == 3 and isinstance(meta["distilled"]["kept"], bool)
    assert isinstance(meta["refined_scales"], list)
    assert all(m["mse_after"] < m["mse_before"] for m in meta["equalized_channels"])
    assert all(m["mse_after"] < m["mse_before"] for m in meta["refined_scales"])
    bundle = load_engine(str(tmp_path / "r"))
    frame = np.random.default_rng(5).integers(0, 256, (6, 7, 3), dtype=np.uint8)
    ref, _ = run_program(bundle.program(), frame, "dual")
    x = torch.from_numpy(frame).permute(2, 0, 1)[None].double() / 256
    with torch.no_grad():
        y = bundle.quant_dual().double()(x)[1][0].permute(1, 2, 0).numpy() * 256
    assert np.array_equal(y.astype(np.int64), ref.astype(np.int64))
