"""Checked entry point of the direct-convolution kernel and the weight packing it reads.

The direct path computes a layer's MACs as row-vectorized float32 multiply-adds straight
from the line buffer and requantizes each output row while its accumulators are in L1 (see
:func:`hwsr.sim._kernels.conv_requant_rows_f32`). It is exact only where the layer's
worst-case partial sum is below 2**24 and the int32 requantizer is proven exact; the caller
(:class:`hwsr.sim.layer.ConvUnit`) proves both from the integer weights before choosing it.
"""

from __future__ import annotations

import weakref

import numpy as np
import numpy.typing as npt

from hwsr.sim import _kernels
from hwsr.sim._kernels import DIRECT_GROUP, DIRECT_TAPS

Codes = np.ndarray
CODE_DTYPES = (np.dtype(np.uint8), np.dtype(np.int16), np.dtype(np.int32), np.dtype(np.int64))


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


def _in_range(taps: npt.NDArray[np.int64], strips: int, columns: int) -> bool:
    """Every tap reads inside the window strips (checked once per taps array: they are
    packed once per layer and not written after, so the check is cached by identity)."""
    key = (id(taps), strips, columns)
    if _CHECKED.get(key) is taps:
        return True
    ok = bool(np.all((taps[..., 0] >= 0) & (taps[..., 0] < strips)
                     & (taps[..., 1] >= 0) & (taps[..., 1] < columns)))
    if ok:
        taps.flags.writeable = False  # so the cached check stays true
        _CHECKED[key] = taps
    return ok


def _shifts_ok(lshift: npt.NDArray[np.int32], rshift: npt.NDArray[np.int32]) -> bool:
    return int(rshift.max(initial=0)) <= 30 and int(lshift.min(initial=0)) >= 0


# taps arrays already checked, by (id, strips, columns); weak, so an id is never reused stale
_CHECKED: weakref.WeakValueDictionary[tuple[int, int, int], np.ndarray] = \
    weakref.WeakValueDictionary()


def conv_requant_f32(ring: Codes, head: int, incoming: Codes, n_out: int, skip: int,
                     width: int, channels: int, kernel: int, wpack: npt.NDArray[np.float32],
                     taps: npt.NDArray[np.int64], bias: npt.NDArray[np.int32],
                     lshift: npt.NDArray[np.int32], rshift: npt.NDArray[np.int32], relu: bool,
                     acc_bits: int, fit_code: int, rounding_code: int, out_lo: int, out_hi: int,
                     out: Codes, fwin: npt.NDArray[np.float32], acc: npt.NDArray[np.float32],
                     stats: npt.NDArray[np.int64]) -> None:
    """MACs (direct, float32) and int32 requantization of ``n_out`` rows into ``out``."""
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
    c_out = bias.shape[0]
    groups, passes = -(-c_out // DIRECT_GROUP), -(-kernel * kernel * channels // DIRECT_TAPS)
    _need(wpack.dtype == np.float32 and wpack.shape == (groups, passes, DIRECT_GROUP,
                                                        DIRECT_TAPS)
          and wpack.flags.c_contiguous, "wpack shape mismatch")
    _need(taps.dtype == np.int64 and taps.shape == (passes, DIRECT_TAPS, 2)
          and taps.flags.c_contiguous, "taps shape mismatch")
    _need(_in_range(taps, kernel * channels, kernel), "taps out of range")
    for a in (bias, lshift, rshift):
        _need(a.dtype == np.int32 and a.shape == (c_out,), "parameters must be int32 per channel")
    _need(_shifts_ok(lshift, rshift), "bad shifts")
    _need(out.shape[0] >= n_out and out.shape[1] == c_out * width, "out shape mismatch")
    info = np.iinfo(out.dtype)
    _need(info.min <= out_lo <= out_hi <= info.max and -(2**31) <= out_lo and out_hi < 2**31,
          f"output range does not fit {out.dtype}")
    _need(2 <= acc_bits <= 32 and fit_code in (0, 1, 2) and (fit_code == 0 or acc_bits <= 30)
          and 0 <= rounding_code <= 3, "bad datapath codes")
    _need(fwin.dtype == np.float32 and fwin.ndim == 2 and fwin.flags.c_contiguous
          and fwin.shape == (kernel * channels, width + kernel - 1), "fwin shape mismatch")
    _need(acc.dtype == np.float32 and acc.shape == (DIRECT_GROUP, width)
          and acc.flags.c_contiguous, "acc must be float32 (4, width)")
    _need(stats.dtype == np.int64 and stats.shape == (3,), "stats must be int64 (3,)")
    _kernels.conv_requant_rows_f32(ring, head, incoming, n_out, skip, width, channels, kernel,
                                   wpack, taps, bias, lshift, rshift, bool(relu), acc_bits,
                                   fit_code, rounding_code, out_lo, out_hi, out, fwin, acc,
                                   stats)
