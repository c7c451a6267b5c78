"""Plain NumPy twins of the simulator's numba kernels (same signatures as :mod:`hwsr.sim.ops`).

Written for reading, not speed, and from the array arithmetic of :mod:`hwsr.fixed` rather than
its scalar twins, so a test that holds a kernel equal to its twin checks two independent
codings of the same datapath. Layouts: see :mod:`hwsr.sim._kernels`.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from hwsr.fixed import Overflow, Rounding, count_saturations, fit_accumulator, round_shift

_ROUNDINGS = {r.code: r for r in Rounding}
_OVERFLOWS = {o.code: o for o in Overflow}


def window_rows(ring: np.ndarray, head: int, incoming: np.ndarray, n_rows: int) -> np.ndarray:
    """The first ``n_rows`` window rows as int64: the ring oldest first, then arriving rows."""
    ordered = np.roll(ring, -head, axis=0) if ring.shape[0] else ring
    return np.concatenate([ordered, incoming])[:n_rows].astype(np.int64)


def _taps(ring: np.ndarray, head: int, incoming: np.ndarray, n_out: int, skip: int,
          width: int, channels: int, kernel: int) -> np.ndarray:
    """(c, k, k, n_out, width) int64 taps of every output pixel, zero outside the frame."""
    rows = window_rows(ring, head, incoming, skip + n_out + kernel - 1)[skip:]
    planes = rows.reshape(-1, channels, width)
    half = kernel // 2
    padded = np.zeros((planes.shape[0], channels, width + 2 * half), np.int64)
    padded[:, :, half : half + width] = planes
    taps = np.zeros((channels, kernel, kernel, n_out, width), np.int64)
    for dy in range(kernel):
        for dx in range(kernel):
            taps[:, dy, dx] = padded[dy : dy + n_out, :, dx : dx + width].transpose(1, 0, 2)
    return taps


def im2col(ring: np.ndarray, head: int, incoming: np.ndarray, n_out: int, skip: int,
           width: int, channels: int, kernel: int, cols: np.ndarray, p0: int = 0) -> None:
    taps = _taps(ring, head, incoming, n_out, skip, width, channels, kernel)
    cols[:, p0 : p0 + n_out * width] = taps.reshape(channels * kernel * kernel, n_out * width)


def conv_i64(ring: np.ndarray, head: int, incoming: np.ndarray, n_out: int, skip: int,
             width: int, channels: int, weight: npt.NDArray[np.int64],
             acc: npt.NDArray[np.int64], p0: int = 0) -> None:
    kernel = weight.shape[2]
    taps = _taps(ring, head, incoming, n_out, skip, width, channels, kernel)
    mat = taps.reshape(channels * kernel * kernel, n_out * width)
    acc[0, :, p0 : p0 + n_out * width] = weight.reshape(weight.shape[0], -1) @ mat


def ring_push(ring: np.ndarray, head: int, incoming: np.ndarray, n_in: int) -> int:
    n_ring = ring.shape[0]
    if n_ring == 0:
        return 0
    ring[:] = window_rows(ring, head, incoming, n_ring + n_in)[-n_ring:]
    return 0


def _pixels(acc: np.ndarray, p0: int, n_rows: int, width: int) -> np.ndarray:
    """(n_rows, c_out, width) int64 sums of every chunk."""
    a = acc[:, :, p0 : p0 + n_rows * width].astype(np.int64).sum(axis=0)
    return a.reshape(acc.shape[1], n_rows, width).transpose(1, 0, 2)


def _finish(a: np.ndarray, shift: np.ndarray, relu: bool, acc_bits: int, overflow: Overflow,
            rounding: Rounding, out_lo: int, out_hi: int, out: np.ndarray,
            stats: np.ndarray) -> None:
    stats[0] = max(int(stats[0]), int(np.abs(a).max(initial=0)))
    stats[1] += count_saturations(a, acc_bits, signed=True)
    a = fit_accumulator(a, acc_bits, overflow)
    if relu:
        a = np.maximum(a, 0)
    q = round_shift(a, shift[None, :, None], rounding)
    stats[2] += int(np.count_nonzero((q < out_lo) | (q > out_hi)))
    n_rows = a.shape[0]
    out[:n_rows] = np.clip(q, out_lo, out_hi).reshape(n_rows, -1)


def requant(acc: np.ndarray, p0: int, n_rows: int, width: int, bias: npt.NDArray[np.int64],
            shift: npt.NDArray[np.int64], relu: bool, acc_bits: int, overflow_code: int,
            rounding_code: int, out_lo: int, out_hi: int, out: np.ndarray,
            stats: npt.NDArray[np.int64]) -> None:
    a = _pixels(acc, p0, n_rows, width) + bias[None, :, None]
    _finish(a, shift, relu, acc_bits, _OVERFLOWS[overflow_code], _ROUNDINGS[rounding_code],
            out_lo, out_hi, out, stats)


def requant_i32(acc: np.ndarray, p0: int, n_rows: int, width: int,
                bias: npt.NDArray[np.int32], lshift: npt.NDArray[np.int32],
                rshift: npt.NDArray[np.int32], relu: bool, acc_bits: int, fit_code: int,
                rounding_code: int, out_lo: int, out_hi: int, out: np.ndarray,
                stats: npt.NDArray[np.int64]) -> None:
    """Twin of the int32 fast path: the same datapath as :func:`requant`."""
    shift = rshift.astype(np.int64) - lshift.astype(np.int64)
    overflow = Overflow.SATURATE if fit_code == 2 else Overflow.WRAP
    a = _pixels(acc, p0, n_rows, width) + bias.astype(np.int64)[None, :, None]
    _finish(a, shift, relu, acc_bits, overflow, _ROUNDINGS[rounding_code], out_lo, out_hi,
            out, stats)


def residual_shuffle(conv: np.ndarray, n_rows: int, width: int, upscale: int,
                     ring: np.ndarray, head: int, incoming: np.ndarray, t0: int,
                     residual: bool, conv_lshift: int, in_lshift: int, out_shift: int,
                     rounding_code: int, out: npt.NDArray[np.uint8],
                     stats: npt.NDArray[np.int64]) -> None:
    r = upscale
    y = conv[:n_rows].astype(np.int64).reshape(n_rows, 3, r, r, width)
    s = y << conv_lshift
    if residual:
        pix = window_rows(ring, head, incoming, t0 + n_rows)[t0:].reshape(n_rows, 3, width)
        s = s + (pix << in_lshift)[:, :, None, None, :]
    q = round_shift(s, out_shift, _ROUNDINGS[rounding_code])
    stats[0] += int(np.count_nonzero((q < 0) | (q > 255)))
    q = np.clip(q, 0, 255).astype(np.uint8)
    # (row, c, i, k, x) -> output (row*r + i, x*r + k, c)
    out[: n_rows * r] = q.transpose(0, 2, 4, 3, 1).reshape(n_rows * r, width * r * 3)


residual_shuffle_i32 = residual_shuffle  # the int32 fast path computes the same function


def _padded_window(ring: np.ndarray, head: int, incoming: np.ndarray, n_out: int, skip: int,
                   width: int, channels: int, kernel: int) -> np.ndarray:
    """(rows, channels, width + 2*(k//2)) int64 window of ``n_out`` output rows, zero columns
    either side (the frame's padding)."""
    half = kernel // 2
    rows = window_rows(ring, head, incoming, skip + n_out + kernel - 1)[skip:]
    planes = rows.reshape(-1, channels, width)
    padded = np.zeros((planes.shape[0], channels, width + 2 * half), np.int64)
    padded[:, :, half : half + width] = planes
    return padded


def conv_requant_f32(ring: np.ndarray, head: int, incoming: np.ndarray, n_out: int,
                     skip: int, width: int, channels: int, kernel: int, wpack: np.ndarray,
                     taps: np.ndarray, bias: npt.NDArray[np.int32],
                     lshift: npt.NDArray[np.int32], rshift: npt.NDArray[np.int32], relu: bool,
                     acc_bits: int, fit_code: int, rounding_code: int, out_lo: int, out_hi: int,
                     out: np.ndarray, fwin: np.ndarray, acc: np.ndarray,
                     stats: npt.NDArray[np.int64]) -> None:
    """Twin of the direct kernel: int64 sums of the packed taps, then :func:`requant_i32`.

    Reads the taps and weights from ``(wpack, taps)`` as the kernel does (``fwin`` and
    ``acc`` are the kernel's scratch, unused here)."""
    if n_out == 0:
        return
    padded = _padded_window(ring, head, incoming, n_out, skip, width, channels, kernel)
    c_out = bias.shape[0]
    sums = np.zeros((n_out, c_out, width), np.int64)
    for p in range(taps.shape[0]):
        for m in range(taps.shape[1]):
            dy, c = divmod(int(taps[p, m, 0]), channels)
            dx = int(taps[p, m, 1])
            w = wpack[:, p, :, m].reshape(-1)[:c_out].astype(np.int64)  # channel 4g + i
            sums += w[None, :, None] * padded[dy : dy + n_out, c, dx : dx + width][:, None, :]
    requant_i32(sums.transpose(1, 0, 2).reshape(1, c_out, n_out * width), 0, n_out, width,
                bias, lshift, rshift, relu, acc_bits, fit_code, rounding_code, out_lo, out_hi,
                out, stats)


def conv_requant_i8(ring: np.ndarray, head: int, incoming: np.ndarray, n_out: int, skip: int,
                    width: int, channels: int, kernel: int, wq: np.ndarray,
                    fns: np.ndarray, bias: npt.NDArray[np.int32],
                    lshift: npt.NDArray[np.int32], rshift: npt.NDArray[np.int32], relu: bool,
                    acc_bits: int, fit_code: int, rounding_code: int, out_lo: int, out_hi: int,
                    out: np.ndarray, strips: np.ndarray, tapoff: np.ndarray, acc: np.ndarray,
                    stats: npt.NDArray[np.int64], *, isa: object = None) -> None:
    """Twin of the int8 kernels: the weights unpacked from the words ``wq`` of any variant
    (tap ``(dy*k + dx)*groups + g``, lane ``i`` = channel ``4g + i``), int64 sums, then
    :func:`requant_i32` (``fns``, ``isa`` and the scratch arrays are the kernel's)."""
    if n_out == 0:
        return
    c_out = bias.shape[0]
    groups = -(-channels // 4)
    lane = np.int8 if wq.dtype == np.int32 else np.dtype("<i2")  # int8 or int16 lanes
    weight = wq.view(lane).reshape(kernel, kernel, groups, c_out, 4).astype(np.int64)
    weight = weight.transpose(3, 2, 4, 0, 1).reshape(c_out, groups * 4, kernel, kernel)
    wpack = weight[:, :channels, :, :]
    padded = _padded_window(ring, head, incoming, n_out, skip, width, channels, kernel)
    sums = np.zeros((n_out, c_out, width), np.int64)
    for dy in range(kernel):
        for dx in range(kernel):
            sums += np.einsum("oc,jcx->jox", wpack[:, :, dy, dx],
                              padded[dy : dy + n_out, :, dx : dx + width])
    requant_i32(sums.transpose(1, 0, 2).reshape(1, c_out, n_out * width), 0, n_out, width,
                bias, lshift, rshift, relu, acc_bits, fit_code, rounding_code, out_lo, out_hi,
                out, stats)
