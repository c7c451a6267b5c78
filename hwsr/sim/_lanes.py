"""Host parallelism of the simulator: two lanes of rows, each with a single-threaded BLAS.

The simulator's matrix products are small (a block of rows at a time), where a multi-threaded
OpenBLAS spends its time spinning, and collapses when other processes share the cores. So
while the engine runs, NumPy's OpenBLAS is set to one thread (through its C API, found in the
process's loaded libraries; where it is not found nothing changes) and the simulator splits
each block's output rows over ``lanes`` Python threads itself: NumPy's ``matmul`` and the
``nogil`` numba kernels release the GIL. This changes host speed only, never a result.
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import os
import re
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

MAX_LANES = 2
CHUNKS_PER_LANE = 3  # pieces of a step per lane: load balance against calls per step


@functools.cache
def _openblas() -> tuple[Callable[[int], None], Callable[[], int]] | None:
    """``(set_num_threads, get_num_threads)`` of the OpenBLAS NumPy loaded, if any."""
    import numpy  # noqa: F401  (make sure NumPy's BLAS is loaded)

    try:
        maps = Path("/proc/self/maps").read_text()
    except OSError:
        return None
    for lib_path in sorted(set(re.findall(r"(/\S*openblas\S*\.so\S*)", maps))):
        try:
            lib = ctypes.CDLL(lib_path)
        except OSError:
            continue
        for prefix, suffix in (("scipy_openblas", "64_"), ("openblas", "64_"), ("openblas", "")):
            setter = getattr(lib, f"{prefix}_set_num_threads{suffix}", None)
            getter = getattr(lib, f"{prefix}_get_num_threads{suffix}", None)
            if setter is not None and getter is not None:
                getter.restype = ctypes.c_int
                return (lambda n, s=setter: s(ctypes.c_int(n))), getter
    return None


@contextlib.contextmanager
def single_threaded_blas() -> Iterator[None]:
    """NumPy's OpenBLAS on one thread inside the block (restored after); else a no-op."""
    api = _openblas()
    if api is None:
        yield
        return
    set_threads, get_threads = api
    before = int(get_threads())
    set_threads(1)
    try:
        yield
    finally:
        set_threads(before)


@functools.cache
def _pool() -> ThreadPoolExecutor:
    return ThreadPoolExecutor(max_workers=MAX_LANES - 1, thread_name_prefix="hwsr-sim-lane")


def default_lanes() -> int:
    return max(1, min(MAX_LANES, os.cpu_count() or 1))


def run_split(n_rows: int, lanes: int, work: Callable[[int, int, int], None]) -> None:
    """Call ``work(lane, first_row, end_row)`` over ``[0, n_rows)`` on ``lanes`` threads.

    The rows go in ``CHUNKS_PER_LANE`` pieces per lane that each lane takes in turn from a
    shared counter, so a lane whose core is busy elsewhere (a shared machine) leaves its
    pieces to the other instead of holding up the step. ``lane`` names the thread (its
    scratch and statistics row); which rows each lane gets never changes a result.
    """
    lanes = max(1, min(lanes, n_rows, MAX_LANES))
    if lanes == 1:
        work(0, 0, n_rows)
        return
    step = -(-n_rows // (lanes * CHUNKS_PER_LANE))
    starts = iter(range(0, n_rows, step))
    lock = threading.Lock()

    def drain(lane: int) -> None:
        while True:
            with lock:
                j0 = next(starts, None)
            if j0 is None:
                return
            work(lane, j0, min(j0 + step, n_rows))

    other: Future[None] = _pool().submit(drain, 1)
    try:
        drain(0)
    finally:
        other.result()
