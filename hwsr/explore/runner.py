"""Run a grid: cost each variant, train those in budget, score them, append their rows.

For each variant in grid order: its spec is costed (:mod:`hwsr.explore.grid`); one over the
budget becomes a ``skipped`` row with the reason and is not trained. One in budget is
trained by :func:`hwsr.train.trainer.train` into ``runs_dir/<id>/`` (float phase, then QAT
and the export of its integer program), scored by :func:`hwsr.train.evaluate.evaluate` on
the held-out frames of every evaluation dataset (Y-PSNR gain over bicubic of video-LR, float
and integer program), and its program is run once by the line-buffer simulator against the
integer reference. Only then is its row appended.

Resumable at two levels: a rerun skips every variant that has a row, and the trainer
resumes a variant's run from its last checkpoint. The report is rebuilt after every row.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from hwsr.atomic import check_output, write_text
from hwsr.explore.config import ExploreConfig, ExploreError, settings_dict
from hwsr.explore.grid import Variant, costs, over_budget, variants
from hwsr.explore.rows import DONE, SKIPPED, append_row, read_rows
from hwsr.explore.summary import write_report
from hwsr.reference import run_program
from hwsr.sim import simulate
from hwsr.spec import EngineSpec, SpecError, load_spec
from hwsr.train.artifacts import spec_toml
from hwsr.train.config import TrainConfig, load_config, with_defaults
from hwsr.train.evaluate import evaluate, load_frames
from hwsr.train.trainer import train
from hwsr.zoo import PROGRAM_FILE, SPEC_FILE, load_engine

log = logging.getLogger(__name__)


@dataclass
class ExploreResult:
    """What one session of ``hwsr explore`` did."""

    out_dir: Path
    trained: list[str] = field(default_factory=list)  # variants trained and scored now
    skipped: list[str] = field(default_factory=list)  # over budget, recorded now
    kept: list[str] = field(default_factory=list)  # rows already there, left alone


def train_config(cfg: ExploreConfig, variant: Variant) -> TrainConfig:
    """The base training config with this variant's spec, folder and the grid's budget."""
    t = cfg.train
    run_dir = cfg.runs_dir / variant.id
    data: dict[str, Any] = {"batch_size": t.batch_size}
    if t.data_dir:
        data["dir"] = Path(t.data_dir)
    tc = load_config(t.config, t.set).replace(
        run={"name": f"explore-{variant.id}", "model": str(run_dir / SPEC_FILE),
             "out_dir": run_dir, "seed": t.seed, "init_weights": ""},
        data=data, optim={"steps": t.steps}, qat={"steps": t.qat_steps})
    if not tc.run.dual:
        raise ExploreError(f"train.config: {t.config}: mode {tc.run.mode!r} is one network; "
                           "the engine runs a dual pair (mode dual or dual-id)")
    return tc


def recipe(tc: TrainConfig) -> dict[str, Any]:
    """The training config every variant shares (without its name, spec and folder)."""
    d = tc.to_dict()
    d["run"] = {k: v for k, v in d["run"].items() if k not in ("name", "model", "out_dir")}
    return d


# ---- one variant ------------------------------------------------------------------------------


def _write_spec(run_dir: Path, spec: EngineSpec) -> None:
    """The variant's spec as its run folder's engine.toml (the trainer reads it); a folder
    trained for another spec (another base datapath) is refused, not resumed."""
    path = run_dir / SPEC_FILE
    if path.is_file() and load_spec(path) != spec:
        raise ExploreError(f"{run_dir}: trained for another spec than {spec.name}; delete it "
                           "or choose another explore.runs_dir")
    run_dir.mkdir(parents=True, exist_ok=True)
    write_text(path, spec_toml(spec, f"variant {spec.name} of hwsr explore"))


def score(run_dir: Path, cfg: ExploreConfig) -> dict[str, Any]:
    """Y-PSNR of bicubic, the float model and the integer program on each dataset's held-out
    frames, and the gains over bicubic (dB)."""
    psnr, gain, frames = {}, {}, {}
    for name, data_dir in cfg.eval.dirs:
        rows = evaluate([str(run_dir)], data_dir, frames=cfg.eval.frames,
                        crop_lr_px=cfg.eval.crop_lr_px, int8=True)
        by = {r.weights: r for r in rows if r.table == 1}  # "-": bicubic, "int8": program
        floor = by["-"].psnr_db
        psnr[name] = {"bicubic": floor, "float": by["float"].psnr_db, "int": by["int8"].psnr_db}
        gain[name] = {"float": by["float"].psnr_db - floor, "int": by["int8"].psnr_db - floor}
        frames[name] = by["-"].frames
    return {"psnr_db": psnr, "gain_db": gain, "frames": frames}


def sim_check(run_dir: Path, cfg: ExploreConfig) -> dict[str, int]:
    """The simulator against the integer reference on the first held-out frame of each
    dataset: output codes that differ (0 when bit-exact)."""
    program = load_engine(str(run_dir)).program()
    mismatched = 0
    for _, data_dir in cfg.eval.dirs:
        lr = load_frames(data_dir, 1, cfg.eval.crop_lr_px)[0].lr
        want, _ = run_program(program, lr, "dual")
        got = simulate(program, lr, "dual").frame
        mismatched += int(np.count_nonzero(got != want)) if got.shape == want.shape else want.size
    return {"frames": len(cfg.eval.dirs), "mismatched_codes": mismatched}


def _head(variant: Variant, spec: EngineSpec, cfg: ExploreConfig,
          settings: dict[str, Any]) -> dict[str, Any]:
    return {"id": variant.id, "channels": variant.channels, "depth": len(variant.kernels),
            "kernels": list(variant.kernels), "act_bits": variant.act_bits,
            **costs(spec, cfg.budget), "settings": settings}


def run_variant(cfg: ExploreConfig, variant: Variant, base: EngineSpec,
                settings: dict[str, Any], progress: bool | None = None) -> dict[str, Any]:
    """The complete row of one variant: skipped with its reason, or trained and scored."""
    spec = variant.spec(base)
    head = _head(variant, spec, cfg, settings)
    reasons = over_budget(spec, cfg.budget)
    if reasons:
        return {**head, "status": SKIPPED, "reason": "; ".join(reasons)}
    run_dir = cfg.runs_dir / variant.id
    _write_spec(run_dir, spec)
    result = train(train_config(cfg, variant), progress=progress)
    if not (run_dir / PROGRAM_FILE).is_file():
        raise ExploreError(f"{run_dir}: training ended without {PROGRAM_FILE} (stopped between "
                           "its last checkpoint and the export?); delete the folder and rerun")
    return {**head, "status": DONE, "reason": "", **score(run_dir, cfg),
            "sim": sim_check(run_dir, cfg), "run_dir": str(run_dir),
            "train": {"steps": result.steps, "elapsed_s": result.elapsed_s,
                      "val_gain_db": result.val_gain_db}}


# ---- the grid ---------------------------------------------------------------------------------


def _preflight(cfg: ExploreConfig) -> tuple[EngineSpec, list[Variant], dict[str, Any]]:
    """Everything checked before the first step: base model, every spec, the training
    config, the datasets and the output folders."""
    base = load_engine(cfg.base_model).spec
    grid = variants(cfg.axes)
    for v in grid:
        try:
            v.spec(base)
        except SpecError as e:
            raise ExploreError(f"axes: variant {v.id}: {e}") from None
    tc = train_config(cfg, grid[0])
    if not Path(tc.data.dir).is_dir():
        raise ExploreError(f"train: {tc.data.dir}: no such training dataset folder")
    settings = {**settings_dict(cfg), "recipe": recipe(tc)}
    for name, data_dir in cfg.eval.dirs:
        if not Path(data_dir).is_dir():
            raise ExploreError(f"eval.dirs.{name}: {data_dir}: no such dataset folder")
        load_frames(data_dir, 1, cfg.eval.crop_lr_px)  # refuses a dataset without val frames
    for folder, key in ((cfg.out_dir, "explore.out_dir"), (cfg.runs_dir, "explore.runs_dir")):
        folder.mkdir(parents=True, exist_ok=True)
        check_output(folder, key, is_dir=True)
    return base, grid, settings


def _same_settings(recorded: dict[str, Any] | None, settings: dict[str, Any]) -> bool:
    """Whether a row was written under ``settings``; a training key added to hwsr after the
    row was written counts at its default (the row's run trained exactly that way)."""
    if not isinstance(recorded, dict) or not isinstance(recorded.get("recipe"), dict):
        return False
    return ({**recorded, "recipe": with_defaults(recorded["recipe"])}
            == {**settings, "recipe": with_defaults(settings["recipe"])})


def _kept_rows(cfg: ExploreConfig, settings: dict[str, Any]) -> dict[str, dict[str, Any]]:
    rows = {r["id"]: r for r in read_rows(cfg.out_dir)}
    for rid, row in rows.items():
        if not _same_settings(row.get("settings"), settings):
            raise ExploreError(f"{cfg.out_dir}: row {rid} was written with other settings "
                               "(budget, training or datasets); choose another explore.out_dir")
    return rows


def explore(cfg: ExploreConfig, progress: bool | None = None) -> ExploreResult:
    """Run (or resume) the grid of ``cfg`` to the end; the report is rebuilt after each row."""
    base, grid, settings = _preflight(cfg)
    kept = _kept_rows(cfg, settings)
    result = ExploreResult(cfg.out_dir, kept=[v.id for v in grid if v.id in kept])
    for i, variant in enumerate(grid, start=1):
        if variant.id in kept:
            continue
        log.info("variant %d/%d: %s", i, len(grid), variant.id)
        row = run_variant(cfg, variant, base, settings, progress)
        append_row(cfg.out_dir, row)
        (result.trained if row["status"] == DONE else result.skipped).append(variant.id)
        write_report(cfg.out_dir)
    write_report(cfg.out_dir)
    return result


def plan(cfg: ExploreConfig) -> list[dict[str, Any]]:
    """The grid without training: each variant's costs and the budget lines it breaks."""
    base = load_engine(cfg.base_model).spec
    out = []
    for v in variants(cfg.axes):
        spec = v.spec(base)
        out.append({"id": v.id, **costs(spec, cfg.budget),
                    "reason": "; ".join(over_budget(spec, cfg.budget))})
    return out
