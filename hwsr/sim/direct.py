"""Checked entry points of the direct-convolution kernels and the weight packing they read.

The direct paths compute a layer's MACs straight from the line buffer, a row at a time, and
requantize each output row while its accumulators are in L1. Two MAC datapaths:

* **int8** (:func:`conv_requant_i8`): uint8 codes × int8 weights summed in int32 by the
  host's int8 kernel variant of :mod:`hwsr.sim.int8` (the engine's own arithmetic: AVX-512
  VNNI, AVX-VNNI, AVX2 or generic vector code). Exact where the inputs are uint8, the weights int8 and the int32
  requantizer proven exact (which bounds every sum below 2**30).
* **float32** (:func:`conv_requant_f32`, :func:`hwsr.sim._kernels.conv_requant_rows_f32`):
  row-vectorized float32 multiply-adds, on any x86-64. Exact only where the layer's
  worst-case partial sum is below 2**24 and the int32 requantizer is proven exact.

The caller (:class:`hwsr.sim.layer.ConvUnit`) proves the conditions from the integer
weights before choosing a path; the wrappers here check shapes, dtypes and bounds.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable

import numpy as np
import numpy.typing as npt

from hwsr.sim import _kernels, _kernels_i8, int8
from hwsr.sim._kernels import DIRECT_GROUP, DIRECT_TAPS

Codes = np.ndarray
CODE_DTYPES = (np.dtype(np.uint8), np.dtype(np.int16), np.dtype(np.int32), np.dtype(np.int64))
_IINFO = {d: np.iinfo(d) for d in CODE_DTYPES}


def _need(ok: bool, what: str) -> None:
    if not ok:
        raise ValueError(f"simulator kernel: {what}")


def pack_weights(weight: npt.NDArray[np.int64]) -> tuple[npt.NDArray[np.float32],
                                                         npt.NDArray[np.int64]]:
    """``(wpack, taps)`` of the direct kernel for integer weights ``(c_out, c_in, k, k)``.

    Taps ``(c, dy, dx)`` are taken three at a time (for k = 3 one pass is a kernel row of
    one channel, for k = 1 three channels); ``taps[p, m] = (dy*c_in + c, dx)`` locates tap
    ``m`` of pass ``p`` in the float32 window strips, ``wpack[g, p, i, m]`` is its weight for
    output channel ``4g + i``. Missing taps and channels are zero weights on strip 0.

    >>> wpack, taps = pack_weights(np.array([[[[2]], [[3]]]]))
    >>> wpack.shape, taps.tolist(), wpack[0, 0, 0].tolist()
    ((1, 1, 4, 3), [[[0, 0], [1, 0], [0, 0]]], [2.0, 3.0, 0.0])
    """
    c_out, c_in, k, _ = weight.shape
    order = [(c, dy, dx) for c in range(c_in) for dy in range(k) for dx in range(k)]
    passes = -(-len(order) // DIRECT_TAPS)
    groups = -(-c_out // DIRECT_GROUP)
    wpack = np.zeros((groups, passes, DIRECT_GROUP, DIRECT_TAPS), np.float32)
    taps = np.zeros((passes, DIRECT_TAPS, 2), np.int64)
    for n, (c, dy, dx) in enumerate(order):
        p, m = divmod(n, DIRECT_TAPS)
        taps[p, m] = (dy * c_in + c, dx)
        for o in range(c_out):
            g, i = divmod(o, DIRECT_GROUP)
            wpack[g, p, i, m] = float(weight[o, c, dy, dx])
    return wpack, taps


def _once(what: str, arrays: tuple[np.ndarray, ...], check: Callable[[], bool]) -> bool:
    """``check()``, cached by the identity of ``arrays`` (a layer's constants: weights, taps,
    shifts, kernel table, packed once per layer); they are made read-only when it passes,
    so the cached answer stays true. Weak, so an id is never reused stale."""
    key = (what, *map(id, arrays))
    if all(_CHECKED[i].get(key) is a for i, a in enumerate(arrays)):
        return True
    ok = check()
    if ok:
        for i, a in enumerate(arrays):
            a.flags.writeable = False
            _CHECKED[i][key] = a
    return ok


def _in_range(taps: npt.NDArray[np.int64], strips: int, columns: int) -> bool:
    """Every tap reads inside the window strips."""
    return _once(f"taps {strips} {columns}", (taps,), lambda: bool(np.all(
        (taps[..., 0] >= 0) & (taps[..., 0] < strips)
        & (taps[..., 1] >= 0) & (taps[..., 1] < columns))))


def _shifts_ok(lshift: npt.NDArray[np.int32], rshift: npt.NDArray[np.int32]) -> bool:
    return _once("shifts", (lshift, rshift), lambda: int(rshift.max(initial=0)) <= 30
                 and int(lshift.min(initial=0)) >= 0)


# arrays already checked, one table per position in ``arrays``: (what, ids) -> array
_CHECKED: tuple[weakref.WeakValueDictionary[tuple[object, ...], np.ndarray], ...] = tuple(
    weakref.WeakValueDictionary() for _ in range(2))


def _check_rows(ring: Codes, head: int, incoming: Codes, n_out: int, skip: int, width: int,
                channels: int, kernel: int, out: Codes, bias: np.ndarray) -> None:
    """The window rows and the output rows of a direct kernel call."""
    for a, name in ((ring, "ring"), (incoming, "incoming"), (out, "out")):
        _need(isinstance(a, np.ndarray) and a.ndim == 2 and a.dtype in CODE_DTYPES
              and a.flags.c_contiguous, f"{name} must be C-contiguous 2-D codes")
    _need(ring.dtype == incoming.dtype, "ring and incoming rows must share a dtype")
    _need(ring.shape[1] == incoming.shape[1] == width * channels,
          f"rows must hold channels*width = {width * channels} codes")
    _need(0 <= head < max(ring.shape[0], 1), f"ring head {head} out of range")
    _need(n_out >= 0 and skip >= 0 and kernel >= 1 and kernel % 2 == 1 and width < 2**31,
          "bad row counts")
    _need(n_out + skip + kernel - 1 <= ring.shape[0] + incoming.shape[0], "window too short")
    _need(isinstance(bias, np.ndarray) and bias.ndim == 1, "bias must be 1-D")
    _need(out.shape[0] >= n_out and out.shape[1] == bias.shape[0] * width, "out shape mismatch")


def _check_requant(bias: np.ndarray, lshift: np.ndarray, rshift: np.ndarray, out: Codes,
                   out_lo: int, out_hi: int, acc_bits: int, fit_code: int, rounding_code: int,
                   stats: np.ndarray) -> None:
    """The int32 requantizer's parameters (proven exact by the caller)."""
    for a in (bias, lshift, rshift):
        _need(a.dtype == np.int32 and a.shape == bias.shape,
              "parameters must be int32 per channel")
    _need(_shifts_ok(lshift, rshift), "bad shifts")
    info = _IINFO[out.dtype]
    if not (info.min <= out_lo <= out_hi <= info.max and -(2**31) <= out_lo
            and out_hi < 2**31):
        _need(False, f"output range does not fit {out.dtype}")
    _need(2 <= acc_bits <= 32 and fit_code in (0, 1, 2) and (fit_code == 0 or acc_bits <= 30)
          and 0 <= rounding_code <= 3, "bad datapath codes")
    _need(stats.dtype == np.int64 and stats.shape == (3,), "stats must be int64 (3,)")


def conv_requant_f32(ring: Codes, head: int, incoming: Codes, n_out: int, skip: int,
                     width: int, channels: int, kernel: int, wpack: npt.NDArray[np.float32],
                     taps: npt.NDArray[np.int64], bias: npt.NDArray[np.int32],
                     lshift: npt.NDArray[np.int32], rshift: npt.NDArray[np.int32], relu: bool,
                     acc_bits: int, fit_code: int, rounding_code: int, out_lo: int, out_hi: int,
                     out: Codes, fwin: npt.NDArray[np.float32], acc: npt.NDArray[np.float32],
                     stats: npt.NDArray[np.int64]) -> None:
    """MACs (direct, float32) and int32 requantization of ``n_out`` rows into ``out``."""
    _check_rows(ring, head, incoming, n_out, skip, width, channels, kernel, out, bias)
    c_out = bias.shape[0]
    groups, passes = -(-c_out // DIRECT_GROUP), -(-kernel * kernel * channels // DIRECT_TAPS)
    _need(wpack.dtype == np.float32 and wpack.shape == (groups, passes, DIRECT_GROUP,
                                                        DIRECT_TAPS)
          and wpack.flags.c_contiguous, "wpack shape mismatch")
    _need(taps.dtype == np.int64 and taps.shape == (passes, DIRECT_TAPS, 2)
          and taps.flags.c_contiguous, "taps shape mismatch")
    _need(_in_range(taps, kernel * channels, kernel), "taps out of range")
    _check_requant(bias, lshift, rshift, out, out_lo, out_hi, acc_bits, fit_code,
                   rounding_code, stats)
    _need(fwin.dtype == np.float32 and fwin.ndim == 2 and fwin.flags.c_contiguous
          and fwin.shape == (kernel * channels, width + kernel - 1), "fwin shape mismatch")
    _need(acc.dtype == np.float32 and acc.shape == (DIRECT_GROUP, width)
          and acc.flags.c_contiguous, "acc must be float32 (4, width)")
    _kernels.conv_requant_rows_f32(ring, head, incoming, n_out, skip, width, channels, kernel,
                                   wpack, taps, bias, lshift, rshift, bool(relu), acc_bits,
                                   fit_code, rounding_code, out_lo, out_hi, out, fwin, acc,
                                   stats)


def i8_scratch_shapes(width: int, channels: int, kernel: int,
                      c_out: int) -> tuple[tuple[int, int, int], tuple[int, int], int]:
    """Shapes of the int8 kernels' scratch: word strips ``(k, groups, wp)`` uint32, sums
    ``(c_out, padded)`` int32 (``padded``: the width rounded up to 16 pixels, a whole number
    of every variant's blocks) and tap offsets (int64 count), for one host lane.

    >>> i8_scratch_shapes(1280, 20, 3, 27)
    ((3, 5, 1282), (27, 1280), 45)
    """
    groups = -(-channels // int8.CHANNELS)
    padded = -(-width // int8.BLOCK_ALIGN) * int8.BLOCK_ALIGN
    return (kernel, groups, padded + kernel - 1), (c_out, padded), kernel * kernel * groups


def conv_requant_i8(ring: Codes, head: int, incoming: Codes, n_out: int, skip: int,
                    width: int, channels: int, kernel: int, wq: np.ndarray,
                    fns: npt.NDArray[np.int64], bias: npt.NDArray[np.int32],
                    lshift: npt.NDArray[np.int32], rshift: npt.NDArray[np.int32], relu: bool,
                    acc_bits: int, fit_code: int, rounding_code: int, out_lo: int, out_hi: int,
                    out: Codes, strips: npt.NDArray[np.uint32], tapoff: npt.NDArray[np.int64],
                    acc: npt.NDArray[np.int32], stats: npt.NDArray[np.int64], *,
                    isa: int8.Isa, compiled_requant: bool = True) -> None:
    """MACs (int8, kernel variant ``isa``) and int32 requantization of ``n_out`` rows into
    ``out``; ``wq`` and ``fns`` are that variant's packing and kernel table. The rows are
    requantized by the compiled int32-lane requantizer where it passed its self-test (and
    ``compiled_requant``), else by the numba one: the same codes and counts."""
    _need(isinstance(isa, int8.Isa) and int8.passes_self_test(isa),
          f"the int8 {getattr(isa, 'name', isa)} kernel is not available on this host")
    _check_rows(ring, head, incoming, n_out, skip, width, channels, kernel, out, bias)
    _need(ring.dtype == np.uint8, "int8 MACs need uint8 input codes")
    c_out = bias.shape[0]
    s_shape, a_shape, n_taps = i8_scratch_shapes(width, channels, kernel, c_out)
    w_dtype = np.int32 if isa.weight_bytes == 4 else np.int64
    _need(wq.dtype == w_dtype and wq.shape == (n_taps, c_out) and wq.flags.c_contiguous,
          "wq shape mismatch")
    _need(fns.dtype == np.int64 and fns.shape == (isa.group_max + 1,)
          and _once(f"fns {c_out} {isa.name}", (fns,),
                    lambda: np.array_equal(fns, int8.kernel_table(c_out, isa))),
          "fns is not this layer's kernel table")
    _need(strips.dtype == np.uint32 and strips.shape == s_shape and strips.flags.c_contiguous,
          "strips must be uint32 (kernel, groups, wp)")
    _need(acc.dtype == np.int32 and acc.shape == a_shape and acc.flags.c_contiguous,
          "acc must be int32 (c_out, padded width)")
    _need(tapoff.dtype == np.int64 and tapoff.shape == (n_taps,), "tapoff shape mismatch")
    _check_requant(bias, lshift, rshift, out, out_lo, out_hi, acc_bits, fit_code,
                   rounding_code, stats)
    rq_fn = int8.requant_address(isa, rounding_code, fit_code, bool(relu), out.dtype,
                                 int(out_lo), int(out_hi)) if compiled_requant else 0
    _kernels_i8.conv_requant_rows_i8(ring, head, incoming, n_out, skip, width, channels, kernel,
                                     wq, fns, isa.group_max, isa.pixels, rq_fn, bias, lshift,
                                     rshift, bool(relu), acc_bits, fit_code, rounding_code,
                                     out_lo, out_hi, out, strips, tapoff, acc, stats)
