"""Benchmark: how fast ``hwsr`` answers help and refusals (the goal: 0.5 s or less).

Each case runs ``python -m hwsr ...`` in a fresh process, ``--rounds`` times, the cases
interleaved so that a burst of load hits all of them alike; the best and the median wall time
of each are kept. ``python -c pass`` is the floor (the interpreter's own start). With
``--baseline REV`` the same cases run on that revision's tree too (``git archive`` into a
temporary folder), in the same rounds: before and after measured in one run on one machine.

Usage: ``python benchmarks/bench_startup.py [--baseline REV] [--write benchmarks/results/startup.md]``
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LIMIT_S = 0.5
CASES: tuple[tuple[str, ...], ...] = (
    ("--help",), ("--version",), ("simulate", "--help"), ("report", "--help"),
    ("golden", "write", "--help"), ("export", "--help"), ("rtl", "--help"), ("cosim", "--help"),
    ("train", "--help"), ("data", "build", "--help"),
    ("simulate", "--fps", "-5"), ("simulate", "--out", "/proc/x.png"),
    ("simulate", "--frame", "missing.png"), ("simulate", "--model", "missing"),
    ("report", "--width", "1280", "--fps", "0"), ("golden", "check", "missing"),
    ("export", "--format", "onnx", "--out", "/proc/x.onnx"), ("rtl", "--out", "/proc/rtl"),
    ("cosim", "--golden", "missing"), ("data", "build", "--src", "missing", "--out", "d"),
)


def _time(argv: list[str], tree: Path, cwd: Path) -> float:
    env = {**os.environ, "PYTHONPATH": str(tree)}
    t0 = time.perf_counter()
    subprocess.run(argv, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                   timeout=120)
    return time.perf_counter() - t0


def measure(trees: dict[str, Path], rounds: int) -> dict[tuple[str, str], list[float]]:
    """Wall seconds of every (tree, case), the cases interleaved round by round."""
    times: dict[tuple[str, str], list[float]] = {}
    with tempfile.TemporaryDirectory() as cwd:
        for _ in range(rounds):
            for label, tree in trees.items():
                times.setdefault((label, "python -c pass"), []).append(
                    _time([sys.executable, "-c", "pass"], tree, Path(cwd)))
                for case in CASES:
                    key = (label, "hwsr " + " ".join(case))
                    times.setdefault(key, []).append(
                        _time([sys.executable, "-m", "hwsr", *case], tree, Path(cwd)))
    return times


def _cpu() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def report(times: dict[tuple[str, str], list[float]], labels: list[str], rounds: int) -> str:
    cases = list(dict.fromkeys(case for _, case in times))
    head = "| case | " + " | ".join(f"{lb} best / median (s)" for lb in labels) + " |"
    lines = [
        "# `hwsr` start-up: help and refusals",
        "",
        f"CPU: {_cpu()}, {os.cpu_count()} cores, Python {platform.python_version()}; "
        f"{rounds} rounds, cases interleaved; load average at the end "
        f"{os.getloadavg()[0]:.2f} (the machine is shared). Goal: {LIMIT_S} s. "
        "Written by `python benchmarks/bench_startup.py`.",
        "",
        head,
        "|---" * (len(labels) + 1) + "|",
    ]
    for case in cases:
        cells = []
        for label in labels:
            t = times[(label, case)]
            flag = "" if min(t) <= LIMIT_S or case.startswith("python") else " (over)"
            cells.append(f"{min(t):.3f} / {statistics.median(t):.3f}{flag}")
        lines.append(f"| `{case}` | " + " | ".join(cells) + " |")
    worst = max(min(times[(labels[-1], c)]) for c in cases if c.startswith("hwsr"))
    lines += ["", f"Slowest case now (best of {rounds}): {worst:.3f} s."]
    return "\n".join(lines) + "\n"


def _baseline_tree(rev: str, into: Path) -> Path:
    archive = subprocess.run(["git", "archive", rev], cwd=ROOT, check=True,
                             capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)
    return into


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--baseline", help="git revision to time as 'before' in the same run")
    ap.add_argument("--write", type=Path, help="also write the Markdown table here")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        trees = {}
        if args.baseline:
            trees[f"before ({args.baseline})"] = _baseline_tree(args.baseline, Path(tmp))
        trees["now"] = ROOT
        text = report(measure(trees, args.rounds), list(trees), args.rounds)
    print(text)
    if args.write:
        args.write.write_text(text)


if __name__ == "__main__":
    main()
