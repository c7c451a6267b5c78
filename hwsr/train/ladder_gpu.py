"""The seeded ladder as one job for one GPU lease: every run a process, all at once.

A lease is a few minutes of one GPU, one call of at most ten minutes, and a copy of the
repository; what comes back is a handful of small files. So the ladder's runs are started
together, one ``hwsr ladder --shard K/N`` process per run (each trains one run with one CPU
thread and shares the GPU with the others), and when every process has ended, the scores,
each run's summary and the report are packed into **one** ``.tar.gz``: weights,
checkpoints and metrics stay on the machine. ``--report-only`` rebuilds the report from
the unpacked scores anywhere.

The plan is pure data (:func:`parallel_plan`), so a test checks it at a tiny budget on a
CPU: the same processes, the same archive, only fewer steps.
"""

from __future__ import annotations

import logging
import subprocess
import sys
import tarfile
from dataclasses import dataclass
from pathlib import Path

from hwsr.atomic import atomic_write, check_output
from hwsr.train.artifacts import RESULT_FILE
from hwsr.train.ladder import LadderConfig, LadderError, ladder_runs, score_path
from hwsr.validate import require

log = logging.getLogger(__name__)

LONG_BUDGET = ("optim.steps=13000", "data.batch_size=32")  # reports/ladder.md's GPU budget


@dataclass(frozen=True)
class ParallelPlan:
    """The shard processes of one ladder: argv of each, and where each one logs."""

    argv: tuple[tuple[str, ...], ...]  # one ``python -m hwsr ladder ... --shard K/N`` each
    logs: tuple[Path, ...]  # stdout and stderr of each process
    runs: int  # training runs of the ladder (one process each when shards = runs)


def parallel_plan(config: Path, cfg: LadderConfig, sets: tuple[str, ...], shards: int = 0
                  ) -> ParallelPlan:
    """One process per shard (``shards`` 0: one per run), each the ladder command with
    ``--shard K/N``; ``cfg`` is the loaded config with ``sets`` already applied."""
    runs = len(ladder_runs(cfg))
    n = shards or runs
    require(1 <= n <= runs, "--parallel", f"must be 0 (one process per run) or 1..{runs} "
            f"(the ladder has {runs} runs), got {shards}", LadderError)
    common = [sys.executable, "-m", "hwsr", "ladder", "--config", str(config),
              *(f"--set={s}" for s in sets), "--runs", str(cfg.runs_dir),
              "--report", str(cfg.report), "--no-progress"]
    argv = tuple((*common, "--shard", f"{k}/{n}") for k in range(n))
    logs = tuple(cfg.runs_dir / "logs" / f"shard-{k}-of-{n}.log" for k in range(n))
    return ParallelPlan(argv, logs, runs)


def run_parallel(plan: ParallelPlan) -> list[int]:
    """Start every shard process at once, wait for all; their exit codes in shard order."""
    procs = []
    for argv, log_path in zip(plan.argv, plan.logs, strict=True):
        log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(log_path, "w", encoding="utf-8") as fh:
            procs.append(subprocess.Popen(argv, stdout=fh, stderr=subprocess.STDOUT))
    log.info("started %d ladder processes (logs in %s)", len(procs), plan.logs[0].parent)
    return [p.wait() for p in procs]


def result_files(cfg: LadderConfig) -> list[Path]:
    """What a lease brings back: every run's cached scores and ``result.json``, every
    shard log, and the report (those that exist)."""
    files = []
    for run in ladder_runs(cfg):
        files += [score_path(run, d) for d in run.scored_on] + [run.out_dir / RESULT_FILE]
    files += sorted((cfg.runs_dir / "logs").glob("*.log")) + [cfg.report]
    return [f for f in files if f.is_file()]


def pack_results(cfg: LadderConfig, archive: Path) -> tuple[Path, int]:
    """Write :func:`result_files` into one ``.tar.gz`` (paths as the ladder names them,
    so unpacking it in the repository root puts every score where ``--report-only`` reads
    it); the archive and the number of files in it."""
    require(archive.name.endswith(".tar.gz"), "--collect", f"{archive}: must end in .tar.gz",
            LadderError)
    check_output(archive, "--collect")
    files = result_files(cfg)

    def write(tmp: Path) -> None:
        with tarfile.open(tmp, "w:gz") as tar:
            for f in files:
                tar.add(f, arcname=_arcname(f))

    atomic_write(archive, write)
    return archive, len(files)


def _arcname(path: Path) -> str:
    """A path inside the archive: relative as given, else relative to the working folder."""
    if not path.is_absolute():
        return path.as_posix()
    try:
        return path.relative_to(Path.cwd()).as_posix()
    except ValueError:
        return path.as_posix().lstrip("/")
