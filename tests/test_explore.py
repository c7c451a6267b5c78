"""hwsr explore on a tiny grid: resume after a kill, bit-exact programs, budget, report.

The grid: width 4, depths 2 and 3 of the 3/1 kernel pattern, 6- and 10-bit activations, on
hwsr-s's datapath; a MAC budget of 1,000 per LR pixel leaves the two depth-2 variants in
(336 MACs) and puts the depth-3 ones out (1,328). Training is a few steps on the toy
datasets of tests/toy_data.py, two of them standing for the CRF 24 and CRF 30 sets.
"""

from __future__ import annotations

import dataclasses
import doctest
import shutil
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from hwsr.explore import grid, pareto
from hwsr.explore import runner as runner_mod
from hwsr.explore.cli import register
from hwsr.explore.config import (
    ExploreConfig,
    ExploreError,
    LayerShape,
    explore_config_from_dict,
    layer_shape,
    load_explore_config,
)
from hwsr.explore.rows import DONE, ROWS_FILE, SKIPPED, read_rows
from hwsr.explore.runner import explore, plan
from hwsr.explore.summary import PLOT_FILE, REPORT_FILE, write_report
from hwsr.quant.lower import lower_dual
from hwsr.report import engine_report
from hwsr.spec import STAGES
from hwsr.train.artifacts import read_metrics
from hwsr.train.evaluate import load_frames
from hwsr.train.state import CKPT_FILE, read_meta
from hwsr.zoo import load_engine
from tests.test_sim_exact import assert_sim_equals_reference
from tests.toy_data import make_toy_dataset

REPO = Path(__file__).resolve().parents[1]
IN_BUDGET = ["c4-k31-a6", "c4-k31-a10"]
OVER_BUDGET = ["c4-k313-a6", "c4-k313-a10"]
KILL_AT_STEP = 4  # the second variant is killed mid-float-phase, just after a checkpoint
TRAIN_BASE = """
[run]
mode = "dual-id"
[data]
dir = "{data}"
crop_lr_px = 8
val_frames = 2
val_crop_lr_px = 0
[optim]
lr = 5e-3
warmup_steps = 2
[schedule]
log_every_steps = 1
val_every_steps = 6
ckpt_every_steps = 2
[qat]
lr = 1e-3
calib_batches = 2
"""


@pytest.fixture(scope="module")
def toy(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("explore-toy")
    sets = {name: make_toy_dataset(root / name, patches=16, patch_lr_px=12, val_lr_px=16,
                                   seed=seed) for seed, name in enumerate(("crf24", "crf30"))}
    base = root / "train.toml"
    base.write_text(TRAIN_BASE.format(data=sets["crf24"]), encoding="utf-8")
    return {**sets, "train": base}


def grid_dict(toy: dict[str, Path], work: Path) -> dict[str, Any]:
    return {
        "explore": {"base_model": "hwsr-s", "out_dir": str(work / "out"),
                    "runs_dir": str(work / "runs")},
        "axes": {"channels": [4], "depth": [2, 3], "kernel_mixes": [[3, 1]], "act_bits": [6, 10]},
        "budget": {"max_macs_per_lr_px": 1000, "max_linebuffer_kib": 256.0,
                   "budget_width_px": 1280, "widths_px": [1280, 1920]},
        "train": {"config": str(toy["train"]), "steps": 6, "qat_steps": 3, "batch_size": 4,
                  "seed": 3},
        "eval": {"frames": 0, "crop_lr_px": 0,
                 "dirs": {"crf24": str(toy["crf24"]), "crf30": str(toy["crf30"])}},
    }


def tiny_grid(toy: dict[str, Path], work: Path) -> ExploreConfig:
    return explore_config_from_dict(grid_dict(toy, work), source="tiny.toml")


@pytest.fixture(scope="module")
def clean(toy: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> ExploreConfig:
    """The grid run once, uninterrupted."""
    cfg = tiny_grid(toy, tmp_path_factory.mktemp("clean"))
    result = explore(cfg, progress=False)
    assert (result.trained, result.skipped) == (IN_BUDGET, OVER_BUDGET)
    return cfg


def comparable(row: dict[str, Any]) -> dict[str, Any]:
    """A row without what differs between two runs of one grid: its folder, its wall time."""
    out = {k: v for k, v in row.items() if k != "run_dir"}
    if "train" in out:
        out["train"] = {k: v for k, v in out["train"].items() if k != "elapsed_s"}
    return out


class Killed(Exception):
    """What the monkeypatched trainer raises in place of a kill."""


# ---- (a) resume -------------------------------------------------------------------------------


def test_a_killed_grid_resumes_to_the_rows_of_an_uninterrupted_run(
        clean: ExploreConfig, toy: dict[str, Path], tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = tiny_grid(toy, tmp_path)
    real_train, calls = runner_mod.train, []

    def killed_in_second_variant(tc, progress=None):  # type: ignore[no-untyped-def]
        calls.append(tc.run.out_dir)
        if len(calls) == 1:
            return real_train(tc, progress=progress)
        real_train(tc, progress=progress, stop_at_step=KILL_AT_STEP)
        raise Killed

    monkeypatch.setattr(runner_mod, "train", killed_in_second_variant)
    with pytest.raises(Killed):
        explore(cfg, progress=False)
    assert [r["id"] for r in read_rows(cfg.out_dir)] == IN_BUDGET[:1]
    assert read_meta(cfg.runs_dir / IN_BUDGET[1] / CKPT_FILE).step == KILL_AT_STEP

    monkeypatch.setattr(runner_mod, "train", real_train)
    result = explore(cfg, progress=False)
    assert (result.kept, result.trained, result.skipped) == (IN_BUDGET[:1], IN_BUDGET[1:],
                                                             OVER_BUDGET)
    steps = [r["step"] for r in read_metrics(cfg.runs_dir / IN_BUDGET[1])]
    assert steps == sorted(set(steps)) and KILL_AT_STEP in steps  # resumed, not restarted
    got, want = read_rows(cfg.out_dir), read_rows(clean.out_dir)
    assert [comparable(r) for r in got] == [comparable(r) for r in want]

    again = explore(cfg, progress=False)  # nothing left to do: every variant has its row
    assert (again.trained, again.skipped) == ([], []) and read_rows(cfg.out_dir) == got


def test_rows_written_under_other_settings_are_refused(clean: ExploreConfig) -> None:
    changed = dataclasses.replace(clean, train=dataclasses.replace(clean.train, steps=7))
    with pytest.raises(ExploreError, match="other settings"):
        explore(changed, progress=False)


def test_rows_from_before_a_training_key_existed_resume(clean: ExploreConfig,
                                                        tmp_path: Path) -> None:
    """A row written before hwsr knew ``qat.refine_batches``, ``qat.distill_steps`` or
    ``qat.equalize_rounds`` was trained with them at their defaults, so a rerun keeps it
    instead of refusing it."""
    import json

    old = dataclasses.replace(clean, out_dir=tmp_path / "old")
    old.out_dir.mkdir()
    lines = []
    for row in read_rows(clean.out_dir):
        for key in ("refine_batches", "distill_steps", "equalize_rounds"):
            del row["settings"]["recipe"]["qat"][key]
        lines.append(json.dumps(row))
    (old.out_dir / ROWS_FILE).write_text("\n".join(lines) + "\n")
    result = explore(old, progress=False)
    assert result.trained == [] and set(IN_BUDGET) <= set(result.kept)
    assert read_rows(old.out_dir) == [json.loads(line) for line in lines]


# ---- (b) every row's program runs bit-exactly -------------------------------------------------


def test_every_trained_row_lowers_to_a_program_the_simulator_runs_bit_exactly(
        clean: ExploreConfig, toy: dict[str, Path]) -> None:
    done = [r for r in read_rows(clean.out_dir) if r["status"] == DONE]
    assert [r["id"] for r in done] == IN_BUDGET
    frame = load_frames(toy["crf30"], 1)[0].lr
    noise = np.random.default_rng(5).integers(0, 256, (7, 10, 3), dtype=np.uint8)
    for row in done:
        bundle = load_engine(row["run_dir"])
        program = bundle.program()
        assert program.net2.spec.datapath.act_bits == row["act_bits"]
        assert [ly.kernel for ly in program.net2.spec.layers] == row["kernels"]
        qdual = bundle.quant_dual()
        relowered = lower_dual(qdual.net1, qdual.net2)
        for a, b in zip(relowered.stages("dual"), program.stages("dual"), strict=True):
            for la, lb in zip(a.layers, b.layers, strict=True):
                assert np.array_equal(la.weight, lb.weight) and np.array_equal(la.bias, lb.bias)
                assert (la.out_frac, la.out_type) == (lb.out_frac, lb.out_type)
        for stage in STAGES:
            for f in (frame, noise):
                assert_sim_equals_reference(program, f, stage)
        assert row["sim"] == {"frames": 2, "mismatched_codes": 0}


def test_depthwise_and_dilated_variants_train_lower_and_simulate_exactly(
        toy: dict[str, Path], tmp_path: Path) -> None:
    """A grid with a depthwise and a dilated layer: trained, lowered with its groups and
    dilation, costed as the engine report costs it, and bit-exact in the simulator. A
    pattern whose last layer would be depthwise is left out of the grid."""
    d = grid_dict(toy, tmp_path)
    d["axes"] = {"channels": [4], "depth": [3], "act_bits": [8],
                 "kernel_mixes": [[3, "dw3", "3d2"], ["3d2", 1, "dw3"]]}
    d["budget"]["max_macs_per_lr_px"] = 2000
    cfg = explore_config_from_dict(d, source="shapes.toml")
    assert [v.id for v in grid.variants(cfg.axes)] == ["c4-k3_dw3_3d2-a8"]
    result = explore(cfg, progress=False)
    assert result.trained == ["c4-k3_dw3_3d2-a8"]
    (row,) = read_rows(cfg.out_dir)
    assert row["kernels"] == [3, "dw3", "3d2"] and row["sim"]["mismatched_codes"] == 0
    program = load_engine(row["run_dir"]).program()
    assert [(lp.groups, lp.dilation) for lp in program.net2.layers] == [(1, 1), (4, 1), (1, 2)]
    report = engine_report(program.net2.spec, width=1280)
    assert row["macs_per_lr_px"] == report.macs_per_pixel == 108 + 36 + 108 + 108 + 36 + 972
    assert row["linebuffer_kib"]["1280"] == report.linebuffer_kib
    noise = np.random.default_rng(6).integers(0, 256, (9, 8, 3), dtype=np.uint8)
    for stage in STAGES:
        assert_sim_equals_reference(program, noise, stage)


def test_kernel_mix_tokens() -> None:
    assert [layer_shape(t) for t in (1, "3", "dw3", "3d2", "dw3d3")] == [
        LayerShape(1), LayerShape(3), LayerShape(3, True), LayerShape(3, False, 2),
        LayerShape(3, True, 3)]
    assert [layer_shape(t).token for t in (3, "3", "dw3d2")] == [3, 3, "dw3d2"]
    for bad in ("dw1", "3d9", "1d2", "5", True, "x3"):
        with pytest.raises(ExploreError, match=f"got {bad!r}"):
            layer_shape(bad)
    spec = grid.Variant(8, ("3d2", 1, "dw3", 3), 8).spec(load_engine("hwsr-s").spec)
    assert [(ly.kernel, ly.groups, ly.dilation) for ly in spec.layers] == [
        (3, 1, 2), (1, 1, 1), (3, 8, 1), (3, 1, 1)]


def test_a_trained_row_holds_costs_and_gains(clean: ExploreConfig) -> None:
    row = next(r for r in read_rows(clean.out_dir) if r["status"] == DONE)
    spec = grid.Variant(4, (3, 1), 6).spec(load_engine("hwsr-s").spec)
    assert row["macs_per_lr_px"] == 336 == sum(s.macs_per_pixel for s in spec.stage_specs("dual"))
    assert set(row["linebuffer_kib"]) == set(row["latency_cycles"]) == {"1280", "1920"}
    assert row["linebuffer_kib"]["1920"] > row["linebuffer_kib"]["1280"] > 0
    assert row["latency_rows"] == 2 and row["reason"] == ""
    for name in ("crf24", "crf30"):
        p, g = row["psnr_db"][name], row["gain_db"][name]
        assert g == {"float": p["float"] - p["bicubic"], "int": p["int"] - p["bicubic"]}
        assert row["frames"][name] == 2


# ---- (c) over budget ------------------------------------------------------------------------


def test_over_budget_variants_are_recorded_with_the_reason_and_not_trained(
        clean: ExploreConfig) -> None:
    skipped = [r for r in read_rows(clean.out_dir) if r["status"] == SKIPPED]
    assert [r["id"] for r in skipped] == OVER_BUDGET
    for row in skipped:
        assert row["reason"] == "MACs per LR pixel: 1328 > budget 1000"
        assert "gain_db" not in row and not (clean.runs_dir / row["id"]).exists()


# ---- (d) the report from rows alone ---------------------------------------------------------


def test_the_report_and_plot_are_rebuilt_from_the_rows_alone(
        clean: ExploreConfig, tmp_path: Path) -> None:
    shutil.copyfile(clean.out_dir / ROWS_FILE, tmp_path / ROWS_FILE)
    md, svg = write_report(tmp_path)
    assert md.read_bytes() == (clean.out_dir / REPORT_FILE).read_bytes()
    assert svg.read_bytes() == (clean.out_dir / PLOT_FILE).read_bytes()
    text = md.read_text(encoding="utf-8")
    assert all(f"`{v}`" in text for v in IN_BUDGET + OVER_BUDGET) and PLOT_FILE in text
    root = ET.fromstring(svg.read_text(encoding="utf-8"))
    ns = "{http://www.w3.org/2000/svg}"
    panels = 2 * 2  # two datasets x (MACs, line buffers)
    assert len(root.findall(f"{ns}polyline")) == panels
    assert len(root.findall(f"{ns}circle")) == panels * len(IN_BUDGET) + 3  # + the legend


def test_report_only_from_the_command_line(clean: ExploreConfig, tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    import argparse

    shutil.copyfile(clean.out_dir / ROWS_FILE, tmp_path / ROWS_FILE)
    parser = argparse.ArgumentParser(prog="hwsr")
    register(parser.add_subparsers())
    args = parser.parse_args(["explore", "--report-only", "--out", str(tmp_path)])
    assert args.func(args) == 0
    assert (tmp_path / REPORT_FILE).read_bytes() == (clean.out_dir / REPORT_FILE).read_bytes()
    assert "rebuilt" in capsys.readouterr().out


def test_pareto_front_keeps_only_undominated_points() -> None:
    assert doctest.testmod(pareto).failed == 0 and doctest.testmod(grid).failed == 0
    pts = [(5.0, 0.2), (1.0, 0.0), (3.0, 0.2), (3.0, 0.1), (9.0, 0.5), (9.0, 0.4)]
    assert pareto.pareto_front(pts) == [1, 2, 4]


# ---- the config -------------------------------------------------------------------------------


def test_the_shipped_grid_loads_and_every_variant_is_an_engine_spec() -> None:
    cfg = load_explore_config(REPO / "configs" / "explore" / "grid.toml")
    rows = plan(cfg)
    assert len(rows) == 168 and any(r["id"] == "c20-k31313-a8" and not r["reason"]
                                    for r in rows)  # hwsr-s's own shape is in the grid
    assert {r["id"].rsplit("-", 1)[1] for r in rows} == {"a6", "a8", "a10"}


def test_every_shipped_slice_is_within_the_budget_and_part_of_the_grid() -> None:
    full = {r["id"] for r in plan(load_explore_config(REPO / "configs" / "explore" /
                                                      "grid.toml"))}
    slices = sorted(p for p in (REPO / "configs" / "explore").glob("*.toml")
                    if p.name != "grid.toml")
    assert slices
    for path in slices:
        rows = plan(load_explore_config(path))
        assert rows and all(not r["reason"] for r in rows), path.name
        assert {r["id"] for r in rows} <= full, path.name


@pytest.mark.parametrize(("change", "fragment"), [
    ({"axes": {"kernel_mixes": [[3, 5]]}}, "axes.kernel_mixes: a layer is a kernel 1 or 3"),
    ({"axes": {"kernel_mixes": [[3, "dw1"]]}}, "axes.kernel_mixes: a layer is a kernel 1 or 3, "
                                               "or a string 'dw3'"),
    ({"axes": {"kernel_mixes": [["3d9"]]}}, "axes.kernel_mixes: a layer is"),
    ({"axes": {"channels": []}}, "axes.channels: must list"),
    ({"axes": {"depthwise": [1]}}, "axes.depthwise: unknown key"),
    ({"budget": {"budget_width_px": 720}}, "budget.budget_width_px: must be one of"),
    ({"train": {"qat_steps": 0}}, "train.qat_steps: must be > 0"),
    ({"eval": {"dirs": {"CRF 24": "x"}}}, r"eval.dirs.CRF 24: names"),
    ({"grid": {}}, "grid: unknown table"),
])
def test_bad_grids_are_refused_naming_the_key(toy: dict[str, Path], tmp_path: Path,
                                              change: dict[str, Any], fragment: str) -> None:
    d = grid_dict(toy, tmp_path)
    for table, values in change.items():
        d[table] = {**d.get(table, {}), **values}
    with pytest.raises(ExploreError, match=f"^tiny.toml: {fragment}".replace(".", r"\.")):
        explore_config_from_dict(d, source="tiny.toml")
