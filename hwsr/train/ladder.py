"""``hwsr ladder``: every rung of the ablation ladder with several seeds, scored, tabulated.

A ladder config (``configs/ladder/ladder.toml``) names the rungs (each a training config,
e.g. ``configs/ladder-dual.toml``, and a label), the seeds, the evaluation datasets (one per
codec strength, e.g. ``crf24`` and ``crf30``), overrides applied to every rung and the runs
root. For every (rung, seed) — and, with ``train_on = "each"``, every dataset — the rung's
config is trained by :func:`hwsr.train.trainer.train` with ``run.seed`` set, into::

    <runs_dir>/<dataset>/<rung>/seed<k>/     train_on = "each" (trained and scored on it)
    <runs_dir>/<rung>/seed<k>/               train_on = "rung" (scored on every dataset)

then scored (float, :func:`hwsr.train.evaluate.evaluate`) on the held-out frames, and the
score cached beside the run as ``ladder-score-<dataset>.json`` (atomically). The report
(:mod:`hwsr.train.ladder_report`) is built from those caches only.

Resumable: a finished run (its ``result.json`` at the last step and its float weights
trained by this very config) is not trained again, an unfinished one resumes from its
checkpoint, and a cached score of the same weights and frames is not recomputed.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from safetensors import safe_open

from hwsr.atomic import check_output, json_text, write_text
from hwsr.train.artifacts import RESULT_FILE
from hwsr.train.config import (
    MODES,
    ConfigError,
    TrainConfig,
    apply_overrides,
    load_config,
    with_defaults,
)
from hwsr.train.dead import last_hidden_dead
from hwsr.train.evaluate import evaluate, rows_to_json
from hwsr.train.ladder_report import ReportContext, Score, format_report
from hwsr.train.trainer import train
from hwsr.validate import check_choice, check_keys, read_toml, require
from hwsr.zoo import FLOAT_FILE

log = logging.getLogger(__name__)

TRAIN_ON = ("each", "rung")  # each dataset trains its own runs | the rung config's data only
_NAME = re.compile(r"[a-z0-9][a-z0-9_-]*")  # a rung label or dataset name: a folder, a column
_OWNED = ("run.seed", "run.out_dir", "run.name")  # set per run by the ladder, not by `set`


class LadderError(ValueError):
    """A ladder config or a ladder state that cannot be run; the message is one line."""


@dataclass(frozen=True)
class Rung:
    """One rung: a training config and the label its folder and table row carry."""

    label: str  # lower-case letters, digits, '-', '_'
    config: Path  # training config of the rung (what `hwsr train --config` takes)
    set: tuple[str, ...] = ()  # TABLE.KEY=VALUE overrides of this rung only (after ladder.set)


DEFAULT_RUNGS = tuple(Rung(m, Path(f"configs/ladder-{m}.toml")) for m in MODES)


@dataclass(frozen=True)
class LadderConfig:
    """The whole ladder: rungs × seeds, trained and scored on each evaluation dataset."""

    rungs: tuple[Rung, ...] = DEFAULT_RUNGS  # in ladder order: each climbs from the one above
    seeds: tuple[int, ...] = (0, 1, 2)  # run.seed of each run; >= 2 for a sample std
    datasets: tuple[tuple[str, Path], ...] = (  # (name, dataset folder), one per codec strength
        ("crf24", Path("data/wallpapers-crf24")), ("crf30", Path("data/wallpapers-crf30")))
    eval_frames: int = 0  # first N held-out frames of each dataset (0: all)
    eval_crop_lr_px: int = 0  # centre crop of each frame, LR pixels (0: whole frames)
    train_on: str = "each"  # "each": train on every dataset; "rung": on the rung's data.dir
    set: tuple[str, ...] = ()  # TABLE.KEY=VALUE overrides applied to every rung
    runs_dir: Path = Path("runs/ladder")  # root of the run folders
    report: Path = Path("reports") / "ladder-seeds.md"  # the Markdown seeds report

    def __post_init__(self) -> None:
        _validate(self)


def _validate(cfg: LadderConfig) -> None:
    require(bool(cfg.rungs), "rungs", "must list at least one rung", LadderError)
    labels = [r.label for r in cfg.rungs]
    for i, label in enumerate(labels):
        require(bool(_NAME.fullmatch(label)), f"rungs[{i}].label",
                f"lower-case letters, digits, '-' and '_', got {label!r}", LadderError)
    require(len(set(labels)) == len(labels), "rungs.label", "lists a label twice", LadderError)
    require(len(cfg.seeds) >= 2, "ladder.seeds",
            "needs at least 2 seeds (a sample std needs two values)", LadderError)
    require(min(cfg.seeds) >= 0, "ladder.seeds", "every seed must be >= 0", LadderError)
    require(len(set(cfg.seeds)) == len(cfg.seeds), "ladder.seeds", "lists a seed twice",
            LadderError)
    require(bool(cfg.datasets), "eval.dirs", "must name at least one dataset", LadderError)
    for name, _ in cfg.datasets:
        require(bool(_NAME.fullmatch(name)), f"eval.dirs.{name}",
                "names are lower-case letters, digits, '-' and '_'", LadderError)
    require(cfg.eval_frames >= 0, "eval.frames", "must be >= 0", LadderError)
    require(cfg.eval_crop_lr_px >= 0, "eval.crop_lr_px", "must be >= 0", LadderError)
    check_choice(cfg.train_on, TRAIN_ON, "ladder.train_on", LadderError)
    require(cfg.report.suffix == ".md", "ladder.report", "must be a .md file", LadderError)
    _check_set(cfg, cfg.set, "ladder.set")
    for i, r in enumerate(cfg.rungs):
        _check_set(cfg, r.set, f"rungs[{i}].set")


def _check_set(cfg: LadderConfig, overrides: tuple[str, ...], where: str) -> None:
    """Overrides parse, and leave alone what the ladder sets for each run."""
    try:
        overridden = apply_overrides({}, overrides)
    except ConfigError as e:
        raise LadderError(f"{where}: {e}") from None
    for owned in _OWNED:
        table, _, key = owned.partition(".")
        require(key not in overridden.get(table, {}), where,
                f"{owned} is set by the ladder for each run", LadderError)
    require(cfg.train_on != "each" or "dir" not in overridden.get("data", {}), where,
            'data.dir comes from [eval.dirs] when train_on = "each"', LadderError)


# ---- loading ----------------------------------------------------------------------------------


def _typed(value: Any, key: str, kind: str) -> Any:
    """A TOML value as ``kind``: int, str, path, ints, strs or dirs; else a one-line refusal."""
    if kind == "dirs":
        ok = isinstance(value, dict) and bool(value) and all(
            isinstance(v, str) and v for v in value.values())
        require(ok, key, "must be a table of name = dataset folder", LadderError)
        return tuple((k, Path(v)) for k, v in value.items())
    if kind == "ints":
        ok = isinstance(value, list) and all(type(v) is int for v in value)
        require(ok, key, f"must be an array of integers, got {value!r}", LadderError)
        return tuple(value)
    if kind == "strs":
        ok = isinstance(value, list) and all(isinstance(v, str) for v in value)
        require(ok, key, f"must be an array of strings, got {value!r}", LadderError)
        return tuple(value)
    if kind == "int":
        require(type(value) is int, key, f"must be int, got {value!r}", LadderError)
        return value
    require(isinstance(value, str) and bool(value), key, f"must be a non-empty string, got "
            f"{value!r}", LadderError)
    return Path(value) if kind == "path" else value


def _table(d: dict[str, Any], name: str, kinds: dict[str, str]) -> dict[str, Any]:
    raw = d.get(name, {})
    require(isinstance(raw, dict), name, "must be a table", LadderError)
    check_keys(raw, sorted(kinds), f"{name}.", LadderError)
    return {k: _typed(v, f"{name}.{k}", kinds[k]) for k, v in raw.items()}


def _rungs(d: dict[str, Any]) -> dict[str, Any]:
    if "rungs" not in d:
        return {}
    raw = d["rungs"]
    require(isinstance(raw, list) and all(isinstance(r, dict) for r in raw), "rungs",
            "must be an array of tables ([[rungs]] label = ..., config = ...)", LadderError)
    out = []
    for i, r in enumerate(raw):
        check_keys(r, ["config", "label", "set"], f"rungs[{i}].", LadderError)
        for key in ("label", "config"):
            require(key in r, f"rungs[{i}].{key}", "is required", LadderError)
        out.append(Rung(_typed(r["label"], f"rungs[{i}].label", "str"),
                        _typed(r["config"], f"rungs[{i}].config", "path"),
                        _typed(r.get("set", []), f"rungs[{i}].set", "strs")))
    return {"rungs": tuple(out)}


def ladder_config_from_dict(d: dict[str, Any], source: str = "<dict>") -> LadderConfig:
    """Build a validated ladder config from TOML tables; errors name ``source`` and the key."""
    try:
        check_keys(d, ["eval", "ladder", "rungs"], "", LadderError, what="table")
        top = _table(d, "ladder", {"seeds": "ints", "train_on": "str", "set": "strs",
                                   "runs_dir": "path", "report": "path"})
        ev = _table(d, "eval", {"dirs": "dirs", "frames": "int", "crop_lr_px": "int"})
        names = {"dirs": "datasets", "frames": "eval_frames", "crop_lr_px": "eval_crop_lr_px"}
        kw = {**top, **_rungs(d), **{names[k]: v for k, v in ev.items()}}
        return LadderConfig(**kw)
    except LadderError as e:
        raise LadderError(f"{source}: {e}") from None


def load_ladder_config(path: str | Path) -> LadderConfig:
    """Read a ladder config from a TOML file (see ``configs/ladder/ladder.toml``)."""
    return ladder_config_from_dict(read_toml(path, "ladder config", LadderError), str(Path(path)))


# ---- the runs ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class LadderRun:
    """One training run of the ladder and the datasets it is scored on."""

    rung: Rung
    seed: int
    out_dir: Path
    train_set: str  # dataset it trains on ("": the rung config's own data.dir)
    scored_on: tuple[str, ...]


def ladder_runs(cfg: LadderConfig) -> list[LadderRun]:
    """Every run, seed-major: all rungs of seed 0 first, so a partial ladder is a ladder."""
    out = []
    for seed in cfg.seeds:
        if cfg.train_on == "each":
            out += [LadderRun(r, seed, cfg.runs_dir / name / r.label / f"seed{seed}", name,
                              (name,)) for name, _ in cfg.datasets for r in cfg.rungs]
        else:
            names = tuple(name for name, _ in cfg.datasets)
            out += [LadderRun(r, seed, cfg.runs_dir / r.label / f"seed{seed}", "", names)
                    for r in cfg.rungs]
    return out


def train_config(cfg: LadderConfig, run: LadderRun) -> TrainConfig:
    """The rung's training config with the ladder's overrides, this seed and this folder."""
    tc = load_config(run.rung.config, (*cfg.set, *run.rung.set))
    require(tc.optim.steps > 0, f"{run.rung.config}: optim.steps",
            "must be > 0: the ladder scores the float model", LadderError)
    name = "-".join(["ladder", *([run.train_set] if run.train_set else []), run.rung.label,
                     f"seed{run.seed}"])
    data = {"dir": dict(cfg.datasets)[run.train_set]} if run.train_set else {}
    return tc.replace(run={"seed": run.seed, "out_dir": run.out_dir, "name": name}, data=data)


def _float_meta(path: Path) -> dict[str, Any]:
    with safe_open(str(path), framework="pt") as f:
        return dict(json.loads((f.metadata() or {}).get("hwsr", "{}")))


def _float_config(path: Path) -> dict[str, Any]:
    return dict(_float_meta(path).get("config", {}))


def finished(tc: TrainConfig) -> bool:
    """True if ``run.out_dir`` holds the end of exactly this run: ``result.json`` at the
    last step and float weights whose recorded config is ``tc``. Anything else is handed to
    the trainer, which resumes, or refuses a checkpoint of another config."""
    out = Path(tc.run.out_dir)
    try:
        steps = json.loads((out / RESULT_FILE).read_text(encoding="utf-8"))["steps"]
        recorded = with_defaults(_float_config(out / FLOAT_FILE))
        return steps == tc.total_steps and recorded == tc.to_dict()
    except (OSError, ValueError, KeyError):
        return False


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def score_path(run: LadderRun, dataset: str) -> Path:
    """The cached score of ``run`` on ``dataset``: JSON beside the run's weights."""
    return run.out_dir / f"ladder-score-{dataset}.json"


def _cached(cfg: LadderConfig, run: LadderRun, dataset: str) -> Score | None:
    """The cached score if it is of these eval settings (and, for ``sha``, these weights)."""
    path = score_path(run, dataset)
    if not path.is_file():
        return None
    try:
        s = Score.from_dict(json.loads(path.read_text(encoding="utf-8")))
    except (ValueError, KeyError, TypeError):
        return None
    want = (str(dict(cfg.datasets)[dataset]), cfg.eval_frames, cfg.eval_crop_lr_px)
    return s if (s.data_dir, s.eval_frames, s.crop_lr_px) == want else None


def score_run(cfg: LadderConfig, run: LadderRun, tc: TrainConfig, dataset: str) -> Score:
    """Score ``run``'s float model on ``dataset`` (cached unless its weights changed)."""
    sha = _sha256(run.out_dir / FLOAT_FILE)
    hit = _cached(cfg, run, dataset)
    if hit is not None and hit.float_sha256 == sha:
        return hit
    folder = dict(cfg.datasets)[dataset]
    rows = evaluate([str(run.out_dir)], folder, frames=cfg.eval_frames,
                    crop_lr_px=cfg.eval_crop_lr_px, int8=False)
    floor = next(r for r in rows if r.table == 1 and r.model == "bicubic")
    mine = next(r for r in rows if r.table == 1 and r.model != "bicubic")
    result = json.loads((run.out_dir / RESULT_FILE).read_text(encoding="utf-8"))
    worst = last_hidden_dead(_float_meta(run.out_dir / FLOAT_FILE).get("dead_channels") or {})
    s = Score(run.rung.label, tc.run.mode, run.seed, dataset, str(folder), cfg.eval_frames,
              mine.frames, cfg.eval_crop_lr_px, mine.psnr_db, mine.ssim, floor.psnr_db,
              int(result["steps"]), tc.data.batch_size, float(result["elapsed_s"]),
              str(run.out_dir), sha, worst[1] if worst else None, worst[0] if worst else "")
    doc = {**s.to_dict(), "gain_db": s.gain_db, "rows": json.loads(rows_to_json(rows))}
    write_text(score_path(run, dataset), json_text(doc, indent=2))
    log.info("%s on %s: %+.3f dB over bicubic", run.out_dir, dataset, s.gain_db)
    return s


# ---- the command ------------------------------------------------------------------------------


@dataclass
class LadderResult:
    """What one session of ``hwsr ladder`` did."""

    trained: list[str] = field(default_factory=list)  # runs trained (or resumed) now
    kept: list[str] = field(default_factory=list)  # runs already finished, not retrained
    report: Path | None = None  # the report, once every score is cached
    missing: int = 0  # scores still missing (other shards, or runs not yet done)


def parse_shard(text: str) -> tuple[int, int]:
    """``K/N``: this process takes runs K, K+N, K+2N, … of the list (0 <= K < N).

    >>> parse_shard("1/4")
    (1, 4)
    """
    k, sep, n = text.partition("/")
    ok = sep == "/" and k.isdigit() and n.isdigit() and 0 <= int(k) < int(n)
    require(ok, "--shard", f"expected K/N with 0 <= K < N, got {text!r}", LadderError)
    return int(k), int(n)


def collect_scores(cfg: LadderConfig) -> tuple[list[Score], list[Path]]:
    """Every cached score of the ladder's settings, and the cache files still missing."""
    scores, missing = [], []
    for run in ladder_runs(cfg):
        for dataset in run.scored_on:
            s = _cached(cfg, run, dataset)
            if s is None:
                missing.append(score_path(run, dataset))
            else:
                scores.append(s)
    return scores, missing


def write_report(cfg: LadderConfig, command: str) -> Path:
    """Rebuild the report from the cached scores alone (``--report-only``)."""
    check_output(cfg.report, "ladder.report")
    scores, missing = collect_scores(cfg)
    if missing:
        raise LadderError(f"{missing[0]}: no cached score of these [eval] settings "
                          f"({len(missing)} missing); run the ladder without --report-only")
    ctx = ReportContext(command, tuple((r.label, str(r.config)) for r in cfg.rungs),
                        tuple((n, str(p)) for n, p in cfg.datasets), cfg.seeds, cfg.train_on,
                        cfg.set)
    return write_text(cfg.report, format_report(scores, ctx))


def run_ladder(cfg: LadderConfig, command: str, shard: tuple[int, int] = (0, 1),
               progress: bool | None = None) -> LadderResult:
    """Train, score and cache this shard's runs; write the report once all scores exist."""
    check_output(cfg.report, "ladder.report")
    runs = ladder_runs(cfg)
    configs = [train_config(cfg, run) for run in runs]  # every refusal before any training
    for name, folder in cfg.datasets:
        require(Path(folder).is_dir(), f"eval.dirs.{name}",
                f"{folder}: no such dataset folder (docs/ladder.md says how to build it)",
                LadderError)
    result = LadderResult()
    k, n = shard
    for run, tc in list(zip(runs, configs, strict=True))[k::n]:
        if finished(tc):
            result.kept.append(str(run.out_dir))
        else:
            log.info("training %s", run.out_dir)
            train(tc, progress=progress)
            result.trained.append(str(run.out_dir))
        for dataset in run.scored_on:
            score_run(cfg, run, tc, dataset)
    result.missing = len(collect_scores(cfg)[1])
    if result.missing == 0:
        result.report = write_report(cfg, command)
    return result


def with_overrides(cfg: LadderConfig, sets: tuple[str, ...] = (), runs_dir: Path | None = None,
                   report: Path | None = None) -> LadderConfig:
    """``cfg`` with command-line ``--set`` items added and the runs root or report moved."""
    changes: dict[str, Any] = {"set": cfg.set + tuple(sets)}
    if runs_dir is not None:
        changes["runs_dir"] = runs_dir
    if report is not None:
        changes["report"] = report
    return dataclasses.replace(cfg, **changes)
