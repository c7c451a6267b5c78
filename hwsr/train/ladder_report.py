"""The seeds table of the ablation ladder: mean ± std per rung, and when a rung climbs.

Plain data in, Markdown out: the report is built only from cached :class:`Score` records
(one per run and evaluation dataset, written by :mod:`hwsr.train.ladder`), so it can be
rebuilt byte for byte without the models or the data (``hwsr ladder --report-only``).

The rule (issue 17): over the seeds, m is the mean and s the *sample* standard deviation
(n − 1) of a rung's Y-PSNR gain over bicubic; rung k climbs only if
``m_k − m_{k−1} > sqrt(s_k² + s_{k−1}²)``. Every run of a dataset is scored on the same
frames, so the bicubic floor is one number and the rule reads the same on Y-PSNR.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import MISSING, asdict, dataclass, fields
from typing import Any

TEACHER_MODE, STUDENT_MODE = "dual", "dual-id"  # the rung-4-vs-rung-3 line compares these
DEAD_FLAG_SHARE = 0.5  # a run whose last hidden layer loses more than this share is flagged


@dataclass(frozen=True)
class Score:
    """One trained run's float score on one dataset's held-out frames (the cached JSON)."""

    rung: str  # rung label (its folder under the runs root)
    mode: str  # training mode of the rung config (baseline, hd2uhd, dual, dual-id)
    seed: int  # run.seed of the run
    dataset: str  # evaluation dataset name (a key of [eval.dirs], e.g. crf24)
    data_dir: str  # the dataset folder scored
    eval_frames: int  # held-out frames asked for ([eval] frames; 0: all)
    frames: int  # held-out frames scored
    crop_lr_px: int  # centre crop of each frame, LR pixels (0: whole frames)
    psnr_db: float  # mean Y-PSNR of the float model, video-LR → HR
    ssim: float  # mean SSIM of the same
    bicubic_db: float  # mean Y-PSNR of bicubic ×3 of video-LR: the floor
    steps: int  # optimizer steps the run trained
    batch_size: int  # triples per step
    elapsed_s: float  # seconds of training steps (the trainer's own clock)
    run_dir: str  # the run folder
    float_sha256: str  # of the scored float.safetensors: a retrained run is rescored
    # largest share of never-firing channels in a stage's last hidden layer at the float
    # phase's last validation (hwsr.train.dead); None: not measured (an older run)
    last_hidden_dead: float | None = None
    dead_stage: str = ""  # the stage of that layer: net1, net2 (a dual pair) or net

    @property
    def gain_db(self) -> float:
        """Y-PSNR gain over bicubic of video-LR (dB)."""
        return self.psnr_db - self.bicubic_db

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Score:
        """The record of a cache file (extra keys, such as all evaluation rows, ignored;
        a field with a default may be missing, as in caches written before it existed)."""
        return cls(**{f.name: d[f.name] for f in fields(cls)
                      if f.name in d or f.default is MISSING})

    @property
    def dead_flag(self) -> bool:
        """True if the last hidden layer lost more than half its channels."""
        return self.last_hidden_dead is not None and self.last_hidden_dead > DEAD_FLAG_SHARE


@dataclass(frozen=True)
class Stat:
    """Mean and sample standard deviation (n − 1) of one rung's values over the seeds."""

    mean: float
    std: float
    values: tuple[float, ...]  # in seed order


def mean_std(values: Sequence[float]) -> Stat:
    """Mean and sample std; the std of one value is NaN (one seed has no error bar).

    >>> s = mean_std([0.1, 0.2, 0.3])
    >>> round(s.mean, 6), round(s.std, 6)
    (0.2, 0.1)
    """
    vals = tuple(float(v) for v in values)
    std = statistics.stdev(vals) if len(vals) > 1 else math.nan
    return Stat(statistics.fmean(vals), std, vals)


def combined_std(a: Stat, b: Stat) -> float:
    """sqrt(s_a² + s_b²): the spread of a difference of two independent means' samples.

    >>> combined_std(Stat(0.0, 0.03, ()), Stat(0.0, 0.04, ()))
    0.05
    """
    return math.hypot(a.std, b.std)


def climbs(previous: Stat, rung: Stat) -> bool:
    """True only if ``rung``'s mean is above ``previous``'s by more than the combined std.

    Equal means never climb, nor does a difference inside the noise, nor a rung without
    error bars (NaN std):

    >>> climbs(Stat(0.25, 0.01, ()), Stat(0.30, 0.01, ()))
    True
    >>> climbs(Stat(0.25, 0.02, ()), Stat(0.27, 0.02, ()))
    False
    >>> climbs(Stat(0.25, 0.0, ()), Stat(0.25, 0.0, ()))
    False
    """
    return rung.mean - previous.mean > combined_std(previous, rung)


# ---- the Markdown report ---------------------------------------------------------------------


@dataclass(frozen=True)
class ReportContext:
    """What the report says about how it was made (from the ladder config)."""

    command: str  # the command that makes it, e.g. hwsr ladder --config configs/...
    rungs: tuple[tuple[str, str], ...]  # (label, training config path), in ladder order
    datasets: tuple[tuple[str, str], ...]  # (name, folder) of each evaluation dataset
    seeds: tuple[int, ...]
    train_on: str  # "each": every dataset trains its own runs; "rung": the rung's data
    overrides: tuple[str, ...]  # TABLE.KEY=VALUE applied to every rung


def _signed(x: float) -> str:
    """Three decimals with a sign and a true minus; a rounded zero is "+0.000", not "−0.000"."""
    return f"{round(x, 3) + 0.0:+.3f}".replace("-", "−")


def _pm(s: Stat, signed: bool) -> str:
    mean = _signed(s.mean) if signed else f"{s.mean:.3f}"
    return f"{mean} ± {s.std:.3f}"


def _by_rung(scores: Sequence[Score], ctx: ReportContext, dataset: str) -> dict[str, list[Score]]:
    out: dict[str, list[Score]] = {}
    for label, _ in ctx.rungs:
        mine = {s.seed: s for s in scores if s.dataset == dataset and s.rung == label}
        missing = [k for k in ctx.seeds if k not in mine]
        if missing:
            raise ValueError(f"{dataset}/{label}: no score for seed {missing[0]}")
        out[label] = [mine[k] for k in ctx.seeds]
    return out


def _floor(rows: dict[str, list[Score]], dataset: str) -> Score:
    every = [s for runs in rows.values() for s in runs]
    if len({(s.bicubic_db, s.frames, s.crop_lr_px) for s in every}) != 1:
        raise ValueError(f"{dataset}: runs were scored on different frames (bicubic floors "
                         "differ); rescore them with the same [eval] settings")
    return every[0]


def _table(rows: dict[str, list[Score]]) -> tuple[list[str], list[int]]:
    """Table lines of one dataset and the 1-based numbers of the rungs that climb."""
    lines = ["| # | rung | mode | gain over bicubic (dB) | Y-PSNR (dB) | gain per seed (dB) | "
             "Δ mean (dB) | combined std (dB) | climbs | train (s) |",
             "|---:|---|---|---:|---:|---|---:|---:|---|---:|"]
    up: list[int] = []
    prev: Stat | None = None
    for i, (label, runs) in enumerate(rows.items(), 1):
        gain = mean_std([s.gain_db for s in runs])
        psnr = mean_std([s.psnr_db for s in runs])
        per_seed = " / ".join(_signed(s.gain_db) + (DEAD_MARK if s.dead_flag else "")
                              for s in runs)
        delta, comb, verdict = "", "", "—"
        if prev is not None:
            delta, comb = _signed(gain.mean - prev.mean), f"{combined_std(prev, gain):.3f}"
            verdict = "**yes**" if climbs(prev, gain) else "no"
            up += [i] if climbs(prev, gain) else []
        train_s = statistics.fmean(s.elapsed_s for s in runs)
        lines.append(f"| {i} | {label} | {runs[0].mode} | {_pm(gain, True)} | {_pm(psnr, False)} "
                     f"| {per_seed} | {delta} | {comb} | {verdict} | {train_s:.0f} |")
        prev = gain
    return lines, up


DEAD_MARK = " †"  # after a seed's gain: its last hidden layer is mostly dead


def dead_lines(rows: dict[str, list[Score]]) -> list[str]:
    """The flag paragraph: every run whose last hidden layer lost more than half its
    channels (never firing on the validation crops), or [] if none did."""
    flagged = [f"{label} seed {s.seed} ({s.dead_stage} {100 * (s.last_hidden_dead or 0.0):.0f} %)"
               for label, runs in rows.items() for s in runs if s.dead_flag]
    if not flagged:
        return []
    return [f"**Flagged{DEAD_MARK}:** the last hidden layer lost more than "
            f"{100 * DEAD_FLAG_SHARE:.0f} % of its channels (they never fire on the validation "
            f"crops): {', '.join(flagged)}. A stage with few live channels left there adds "
            "little to its residual path.",
            ""]


def distillation_line(rows: dict[str, list[Score]], seeds: Sequence[int]) -> str:
    """Whether the first dual-id rung beats the first dual rung, by how much, which seeds.

    Seeds pair the runs (same seed: same initialisation and batches), so the per-seed
    differences are listed; the verdict is the climbs rule on the two rungs.
    """
    modes = {runs[0].mode: label for label, runs in reversed(rows.items())}
    if TEACHER_MODE not in modes or STUDENT_MODE not in modes:
        return ""
    order = list(rows)
    (a, b) = (modes[TEACHER_MODE], modes[STUDENT_MODE])
    ga, gb = (mean_std([s.gain_db for s in rows[x]]) for x in (a, b))
    diff = gb.mean - ga.mean
    per_seed = ", ".join(f"{k}: {_signed(y - x)}" for k, x, y in zip(
        seeds, ga.values, gb.values, strict=True))
    if climbs(ga, gb):
        verdict = f"**{b} beats {a}** by {_signed(diff)} dB, more than the combined std"
    elif round(diff, 3) > 0:  # a lead that shows in the table's three decimals
        verdict = (f"{b} is {_signed(diff)} dB above {a}, within the combined std: "
                   "**not a win**")
    else:
        verdict = f"**{b} does not beat {a}** ({_signed(diff)} dB)"
    return (f"Rung {order.index(b) + 1} ({b}) vs rung {order.index(a) + 1} ({a}): {verdict}; "
            f"combined std {combined_std(ga, gb):.3f} dB; difference per seed {per_seed}.")


def _dataset_section(scores: Sequence[Score], ctx: ReportContext, name: str,
                     folder: str) -> tuple[list[str], list[int]]:
    rows = _by_rung(scores, ctx, name)
    floor = _floor(rows, name)
    crop = "whole frames" if floor.crop_lr_px == 0 else f"centre {floor.crop_lr_px}² LR crops"
    lines, up = _table(rows)
    out = [f"## {name}: `{folder}`", "",
           f"Bicubic ×3 of video-LR: {floor.bicubic_db:.3f} dB Y-PSNR ({floor.frames} "
           f"held-out frames, {crop}).", "", *lines, "", *dead_lines(rows)]
    line = distillation_line(rows, ctx.seeds)
    return out + ([line, ""] if line else []), up


def _setup(scores: Sequence[Score], ctx: ReportContext) -> list[str]:
    runs = {s.run_dir: s for s in scores}.values()  # a run scored on two datasets counts once
    steps = sum(s.steps for s in runs)
    batches = sorted({s.batch_size for s in runs})
    per_run = sorted({s.steps for s in runs})
    trained = ("each dataset trains its own runs (`train_on = \"each\"`)"
               if ctx.train_on == "each" else
               "every run trains on its rung config's data (`train_on = \"rung\"`) and is "
               "scored on every dataset")
    rungs = ", ".join(f"{i} {label} (`{path}`)" for i, (label, path) in enumerate(ctx.rungs, 1))
    sets = ", ".join(f"`{s}`" for s in ctx.overrides) or "none"
    return [
        f"* Rungs, in order: {rungs}.",
        f"* Seeds: {', '.join(map(str, ctx.seeds))} (`run.seed`: initialisation, batches, "
        f"crops); {trained}.",
        f"* Overrides applied to every rung: {sets}.",
        f"* Cost: {len(runs)} runs, {steps:,} optimizer steps ("
        f"{' / '.join(f'{n:,}' for n in per_run)} per run, "
        f"batch {' / '.join(map(str, batches))}); {sum(s.elapsed_s for s in runs):,.0f} s "
        "of training steps in all.",
    ]


def format_report(scores: Sequence[Score], ctx: ReportContext) -> str:
    """The Markdown seeds report of the ladder, from cached scores only (deterministic)."""
    out = ["# The ablation ladder with seeds", "",
           f"Made by `{ctx.command}`; `--report-only` rebuilds it from the cached scores. "
           "Float models, Y-PSNR of HR estimated from video-LR on each dataset's held-out "
           "frames (BT.601 luma, 3-pixel border shaved; `hwsr/train/evaluate.py`).", "",
           *_setup(scores, ctx), "",
           "**Rule.** Over the seeds, m is the mean and s the sample standard deviation "
           "(n − 1) of a rung's gain over bicubic; rung k **climbs** only if "
           "m_k − m_{k−1} > sqrt(s_k² + s_{k−1}²). Columns: mean ± s of the gain and of "
           "Y-PSNR, the gain of each seed (in seed order), Δ mean and the combined std "
           "against the rung above, the verdict, and the mean seconds of training steps.", ""]
    summary = []
    for name, folder in ctx.datasets:
        section, up = _dataset_section(scores, ctx, name, folder)
        out += section
        every = list(range(2, len(ctx.rungs) + 1))
        rungs_up = ", ".join(map(str, up)) or "none"
        summary.append(f"* {name}: climbs at every rung: **{'yes' if up == every else 'no'}** "
                       f"(rungs that climb: {rungs_up}).")
    return "\n".join(out + ["## Verdict", "", *summary, ""])
