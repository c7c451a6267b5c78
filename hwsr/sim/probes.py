"""Measured rates of this host's int8 MAC instructions, for the simulator's benchmark.

A whole-frame rate means little without the rate the instruction itself reaches on the same
machine: :func:`peak_rate` runs each variant's register-only loop (``vpdpbusd`` for the VNNI
variants, ``vpmaddwd`` + ``vpaddd`` for AVX2) on host threads, and :func:`kernel_rate` one
MAC kernel alone on a 3×3 20→20 output row in cache.
"""

from __future__ import annotations

import ctypes
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from hwsr.sim import direct, int8

PEAK_ITERS = 400_000  # rounds of the peak loop per thread (about 0.1 s with VNNI)


def peak_probe(isa: int8.Isa, threads: int) -> tuple[Callable[[], None], int]:
    """``(run, macs)``: ``run()`` executes ``isa``'s peak loop on ``threads`` threads (the
    loop releases the GIL), ``macs`` MACs in all."""
    fn = int8.peak_function(isa)
    iters = PEAK_ITERS if isa.form == "dpbusd" else PEAK_ITERS // 2
    pool = ThreadPoolExecutor(max_workers=threads)

    def run() -> None:
        list(pool.map(fn, [iters] * threads))
    return run, threads * iters * isa.peak_chains * isa.macs_per_op


def peak_rate(isa: int8.Isa, threads: int, rounds: int = 3) -> float:
    """Best GMAC/s of :func:`peak_probe` over ``rounds``."""
    run, macs = peak_probe(isa, threads)
    run()
    best = float("inf")
    for _ in range(rounds):
        t = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - t)
    return macs / best / 1e9


def kernel_rate(isa: int8.Isa, width: int = 1280, rounds: int = 300) -> float:
    """GMAC/s of ``isa``'s MAC kernel alone on one 3x3 20->20 output row (45 taps of
    four-channel words, every channel group of the layer), strips in cache, one thread."""
    rng = np.random.default_rng(0)
    s_shape, a_shape, n_taps = direct.i8_scratch_shapes(width, 20, 3, 20)
    strips = rng.integers(0, 2**32, s_shape, dtype=np.uint32)
    acc = np.zeros(a_shape, np.int32)
    wq = int8.pack_weights(rng.integers(-128, 128, (20, 20, 3, 3)), isa)
    wp = s_shape[2]
    tapoff = np.array([((dy * 5 + g) * wp + dx) * 4 for dy in range(3) for dx in range(3)
                       for g in range(5)], np.int64)
    proto = ctypes.CFUNCTYPE(None, *[ctypes.c_int64] * 8)
    calls = []
    for g0 in range(0, 20, isa.group_max):
        n = min(isa.group_max, 20 - g0)
        calls.append((proto(int8.mac_address(isa, n)),
                      (strips.ctypes.data, tapoff.ctypes.data,
                       wq.ctypes.data + wq.itemsize * g0, 20, n_taps,
                       acc.ctypes.data + 4 * g0 * a_shape[1], a_shape[1],
                       a_shape[1] // isa.pixels)))
    best = float("inf")
    for _ in range(5):
        t = time.perf_counter()
        for _ in range(rounds):
            for fn, args in calls:
                fn(*args)
        best = min(best, (time.perf_counter() - t) / rounds)
    return 20 * 20 * 9 * width / best / 1e9
