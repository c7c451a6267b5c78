"""Benchmark: the output stage alone (residual add, pixel requantization, pixel shuffle).

One 64-row block of conv rows of the default engine's shape at 1280 pixels: Net2's 27
planes of int16 codes (×3 pixel shuffle into 3840-pixel RGB rows) and Net1's 3 planes (×1),
with the delay line and the arriving input rows of the stage, through each kernel: the numba
int64 and int32 kernels and the compiled kernel of every int8 variant this host passes
(:mod:`hwsr.sim.residual`). Rounds are interleaved, the best of each is kept, and every
kernel's output and clamp count are checked equal to the numba int64 kernel's.

Usage: ``python benchmarks/bench_residual.py [--rounds 30]``
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

import numpy as np

from hwsr.sim import int8, ops, residual

WIDTH, BLOCK_ROWS, FRAME_ROWS, DELAY_ROWS = 1280, 64, 720, 3
SHIFTS = (0, 2, 2)  # conv_lshift, in_lshift, out_shift of hwsr-s (both stages)


def cpu_name() -> str:
    try:
        return next(line.split(":", 1)[1].strip() for line in
                    Path("/proc/cpuinfo").read_text().splitlines()
                    if line.startswith("model name"))
    except (OSError, StopIteration):
        return platform.processor() or platform.machine()


def kernels(r: int) -> dict[str, Callable[..., None]]:
    """The output-stage kernels to time for upscale ``r``, by name."""
    out = {"numba int64": ops.residual_shuffle, "numba int32": ops.residual_shuffle_i32}
    for isa in int8.VARIANTS:
        if int8.passes_self_test(isa):
            fn = residual.residual_address(isa, 0, np.dtype(np.int16), r, True)
            out[f"compiled {isa.name}"] = partial(ops.residual_shuffle_i32, fn=fn)
    return out


def time_stage(r: int, rounds: int) -> dict[str, float]:
    """Best seconds of one block through each kernel (outputs checked equal)."""
    rng = np.random.default_rng(r)
    conv = rng.integers(-512, 512, (BLOCK_ROWS, 3 * r * r * WIDTH)).astype(np.int16)
    ring = rng.integers(0, 256, (DELAY_ROWS, 3 * WIDTH), np.uint8)
    incoming = rng.integers(0, 256, (BLOCK_ROWS, 3 * WIDTH), np.uint8)
    runs = kernels(r)
    outs = {name: np.zeros((BLOCK_ROWS * r, WIDTH * r * 3), np.uint8) for name in runs}
    stats = {name: np.zeros(1, np.int64) for name in runs}
    best = dict.fromkeys(runs, float("inf"))
    for _ in range(rounds + 1):  # the first round compiles and warms
        for name, fn in runs.items():
            stats[name][0] = 0
            t = time.perf_counter()
            fn(conv, BLOCK_ROWS, WIDTH, r, ring, 0, incoming, 0, True, *SHIFTS, 0, outs[name],
               stats[name])
            best[name] = min(best[name], time.perf_counter() - t)
    for name in runs:
        assert np.array_equal(outs[name], outs["numba int64"]), name
        assert stats[name][0] == stats["numba int64"][0], name
    return best


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=30)
    args = ap.parse_args()
    print(f"host: {os.cpu_count()} cores ({cpu_name()}), int8 variants "
          f"{', '.join(v.name for v in int8.VARIANTS if int8.passes_self_test(v))}; "
          f"load {os.getloadavg()[0]:.2f}; one thread")
    for stage, r in (("net2", 3), ("net1", 1)):
        best = time_stage(r, args.rounds)
        base = best["numba int32"]
        print(f"{stage} output stage ({3 * r * r} planes x {WIDTH}, r={r}), "
              f"{BLOCK_ROWS} rows, best of {args.rounds}:")
        for name, sec in best.items():
            print(f"  {name:<22s} {sec * 1e3:7.3f} ms   {sec * FRAME_ROWS / BLOCK_ROWS * 1e3:6.1f}"
                  f" ms per 720-row frame   x{base / sec:4.1f} vs numba int32")


if __name__ == "__main__":
    main()
