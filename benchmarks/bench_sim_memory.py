"""Benchmark: the simulator's memory grows with the line width only, never with the height.

Streams frames of 1280 (720p), 1920 (1080p) and 3840 (4K) pixel lines, and 1280-pixel frames
of several heights, through the dual-stage engine. Rows come from a generator (no input frame
is held) and output rows are dropped as they leave, so what remains is the engine's own state.
Peak memory is measured with ``tracemalloc`` (NumPy reports its buffers to it) from before
the engine is built to after the frame; the engine's own buffer accounting is shown beside it.

Peak RSS (the process's resident set, ``ru_maxrss``) is measured too, each case in a fresh
process that has loaded the same libraries and run the same warm-up frame, so the differences
between cases are the engine's.

Usage: ``python benchmarks/bench_sim_memory.py [--write benchmarks/results/sim.md]``
(appends its table to the file).
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from hwsr.sim import EngineSim, test_pattern
from hwsr.spec import load_spec

ROOT = Path(__file__).resolve().parents[1]
SPEC_PATH = ROOT / "models" / "hwsr-s" / "engine.toml"
CASES = ((1280, 64), (1280, 256), (1280, 720), (1920, 64), (3840, 64), (3840, 256),
         (3840, 720))  # (width, height)
MIB = 1024 * 1024


def rows(width: int, height: int, block: int = 16) -> Iterator[np.ndarray]:
    """The frame's rows, a block at a time, from one small reused tile of the test pattern."""
    tile = test_pattern(width, block)
    for y in range(0, height, block):
        yield tile[: min(block, height - y)]


def measure(program, width: int, height: int) -> tuple[float, float, float, float]:  # type: ignore[no-untyped-def]
    """(peak MiB by tracemalloc, engine buffer MiB, line-buffer KiB, seconds)."""
    tracemalloc.start()
    t0 = time.perf_counter()
    sim = EngineSim(program, "dual", width=width)
    sim.run_rows(rows(width, height), lambda out: None)
    seconds = time.perf_counter() - t0
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    lb_bits = sum(u.linebuffer_bits for s in sim.stages for u in s.units)
    lb_bits += sum(s.residual_bits for s in sim.stages)
    return peak / MIB, sim.buffer_bytes / MIB, lb_bits / 8 / 1024, seconds


def rss_case(program, width: int, height: int) -> dict[str, float]:  # type: ignore[no-untyped-def]
    """In this (fresh) process: peak RSS in MiB after the warm-up, and after one frame."""
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    t0 = time.perf_counter()
    EngineSim(program, "dual", width=width).run_rows(rows(width, height), lambda out: None)
    after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"rss_warm_mib": before, "rss_peak_mib": after, "seconds": time.perf_counter() - t0}


def rss_in_child(width: int, height: int) -> dict[str, float]:
    out = subprocess.run([sys.executable, __file__, "--rss-case", str(width), str(height)],
                         check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--write", type=Path, help="append the markdown table to this file")
    ap.add_argument("--rss-case", type=int, nargs=2, metavar=("WIDTH", "HEIGHT"),
                    help=argparse.SUPPRESS)  # child process of one RSS measurement
    args = ap.parse_args()
    import bench_sim  # the same engine weights as the speed benchmark

    program, origin = bench_sim.engine_program(load_spec(SPEC_PATH))
    EngineSim(program, "dual", width=64).run_frame(test_pattern(64, 8))  # numba warm-up
    if args.rss_case:
        print(json.dumps(rss_case(program, *args.rss_case)))
        return
    lines = ["", "## Memory: grows with the line width only", "",
             f"Dual-stage hwsr-s ({origin}); rows streamed from a generator, output rows "
             "dropped; peak by tracemalloc over building the engine and running one frame.", "",
             "| width x height | peak traced (MiB) | engine buffers (MiB) | line buffers, "
             "silicon (KiB) | peak RSS (MiB) | RSS after warm-up (MiB) | "
             "time under tracemalloc (s) |", "|---|---:|---:|---:|---:|---:|---:|"]
    for width, height in CASES:
        peak, buffers, lb_kib, seconds = measure(program, width, height)
        rss = rss_in_child(width, height)
        lines.append(f"| {width} x {height} | {peak:.1f} | {buffers:.1f} | {lb_kib:.1f} | "
                     f"{rss['rss_peak_mib']:.0f} | {rss['rss_warm_mib']:.0f} | {seconds:.2f} |")
    lines += ["", "Same width, different heights: the same memory. It follows the width: line "
              "buffers, delay lines and stream buffers are rows (a block of about 128k pixels, "
              "at most 64 rows, streams between layers); the direct paths' scratch is a few "
              "rows of 32-bit words per host lane. Peak RSS includes the interpreter, NumPy, numba and the libraries "
              "(the warm-up column)."]
    print("\n".join(lines))
    if args.write:
        with args.write.open("a", encoding="utf-8") as f:
            f.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
