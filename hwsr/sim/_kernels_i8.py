"""Numba driver of the int8 MAC kernel (private: call it through :mod:`hwsr.sim.direct`).

Per output row: the window rows enter a ring of *word strips* (four channels per uint32
word, see :mod:`hwsr.sim._mac_ir`), only the one new row per output row is converted; the
host's compiled int8 kernel (:mod:`hwsr.sim.int8`) sums every tap into int32 accumulator rows; the int32 requantizer of
:mod:`hwsr.sim._kernels` turns them into the output row's codes while they are in L1.
Window rows are those of :mod:`hwsr.sim._kernels` (ring oldest first, then arriving rows,
channel planes per row). Same rules: explicit dtypes, no allocation in the loops, no
``fastmath``; the twin is :func:`hwsr.sim._naive.conv_requant_i8`.
"""

from __future__ import annotations

import numba
import numpy as np
from llvmlite import ir
from numba import types
from numba.extending import intrinsic

from hwsr.sim._kernels import (
    STAT_OVERFLOWS,
    STAT_PEAK,
    STAT_SATURATIONS,
    _acc_limits_i32,
    _requant_fit_i32,
)

WORD_CHANNELS = 4  # channels per strip word


def _codegen(n_args):  # noqa: ANN001, ANN202
    """Code of a call to the function at address ``args[0]`` with ``n_args`` int64 args."""
    def codegen(context, builder, signature, args):  # noqa: ARG001
        fnty = ir.FunctionType(ir.VoidType(), [ir.IntType(64)] * n_args)
        builder.call(builder.inttoptr(args[0], fnty.as_pointer()), args[1:])
        return context.get_dummy_value()
    return codegen


@intrinsic
def _call_mac(typingctx, fn, strips, tapoff, wq, wstride, ntaps, acc, astride, nblocks):  # noqa: ARG001
    """Call the compiled MAC kernel at address ``fn`` (eight int64 arguments, no result).

    The address is an argument, not a constant, so the numba functions calling it cache."""
    return types.void(*[types.int64] * 9), _codegen(8)


@intrinsic
def _call_rq(typingctx, fn, acc, astride, out, width, c_out, bias, ls, rs, limits, stats):  # noqa: ARG001
    """Call the compiled requantizer at address ``fn`` (ten int64 arguments, no result)."""
    return types.void(*[types.int64] * 11), _codegen(10)


@numba.njit(cache=True, inline="always")
def _words4(p0, p1, p2, p3, body):
    """``body[x]``: bytes ``p0[x]``..``p3[x]`` (four channel planes) as one word; four
    contiguous planes, one pass, so it vectorizes (zero-extend, shift, or)."""
    for x in range(body.shape[0]):
        body[x] = (np.uint32(p0[x]) | (np.uint32(p1[x]) << np.uint32(8))
                   | (np.uint32(p2[x]) << np.uint32(16)) | (np.uint32(p3[x]) << np.uint32(24)))


@numba.njit(cache=True, inline="always")
def _words_partial(src, s0, width, n_c, body):
    """``body`` from the first ``n_c`` < 4 channel planes at ``src[s0:]`` (the rest zero),
    one vectorized pass per plane."""
    for x in range(width):
        body[x] = np.uint32(src[s0 + x])
    for i in range(1, n_c):
        plane = src[s0 + i * width : s0 + (i + 1) * width]
        shift = np.uint32(8 * i)
        for x in range(width):
            body[x] |= np.uint32(plane[x]) << shift


@numba.njit(cache=True, inline="always")
def _window_words(ring, head, incoming, t, width, channels, half, dst):
    """Window row ``t`` into the word strips ``dst[g, x]`` (``(groups, wp)`` uint32): channel
    ``4g + i`` in byte ``i`` of column ``half + x``; padding columns and channels zero."""
    n_ring = ring.shape[0]
    src = ring[(head + t) % n_ring] if t < n_ring else incoming[t - n_ring]
    wp = dst.shape[1]
    for g in range(dst.shape[0]):
        row = dst[g]
        for x in range(half):
            row[x] = 0
        for x in range(half + width, wp):
            row[x] = 0
        body = row[half : half + width]
        c0 = g * WORD_CHANNELS
        n_c = min(WORD_CHANNELS, channels - c0)
        s0 = c0 * width
        if n_c == 4:
            _words4(src[s0 : s0 + width], src[s0 + width : s0 + 2 * width],
                    src[s0 + 2 * width : s0 + 3 * width], src[s0 + 3 * width : s0 + 4 * width],
                    body)
        else:
            _words_partial(src, s0, width, n_c, body)


@numba.njit(cache=True, nogil=True)
def conv_requant_rows_i8(ring, head, incoming, n_out, skip, width, channels, kernel, wq, fns,
                         group, block_pixels, rq_fn, bias, lshift, rshift, relu, acc_bits, fit_code, rounding_code,
                         out_lo, out_hi, out, strips, tapoff, acc, stats):
    """MACs (int8 × int8 → int32) and int32 requantization of ``n_out`` output rows.

    ``strips`` is ``(kernel, groups, wp)`` uint32 scratch (``wp = padded + kernel - 1``),
    ``acc`` ``(c_out, padded)`` int32 scratch (``padded`` a multiple of ``block_pixels``),
    ``tapoff`` int64 scratch of ``kernel**2 * groups``; ``wq`` and ``fns`` come from
    :func:`hwsr.sim.int8.pack_weights` and :func:`hwsr.sim.int8.kernel_table` of one
    variant, whose kernels take ``group`` channels and ``block_pixels`` pixels at a time.
    ``rq_fn`` is the address of the compiled requantizer of the layer's constants
    (:func:`hwsr.sim.int8.requant_address`), or 0 for the numba one.
    """
    c_out = bias.shape[0]
    n_groups = strips.shape[1]
    wp = strips.shape[2]
    half = kernel // 2
    astride = acc.shape[1]
    nblocks = astride // block_pixels
    n_taps = kernel * kernel * n_groups
    strip_bytes = np.int64(wp * 4)
    acc_h, acc_mask, acc_lo, acc_hi = _acc_limits_i32(acc_bits)
    lo, hi = np.int32(out_lo), np.int32(out_hi)
    peak, ovf, sat = np.int32(0), np.int64(0), np.int64(0)
    w = np.uint64(width)
    strips_at = np.int64(strips.ctypes.data)
    tapoff_at = np.int64(tapoff.ctypes.data)
    wq_at = np.int64(wq.ctypes.data)
    acc_at = np.int64(acc.ctypes.data)
    limits = np.array([acc_h, acc_mask, acc_lo, acc_hi, lo, hi], np.int32)
    rq_stats = np.zeros(3, np.int64)  # peak, overflows, saturations of the compiled requantizer
    lim_at, rqs_at = np.int64(limits.ctypes.data), np.int64(rq_stats.ctypes.data)
    bias_at, ls_at = np.int64(bias.ctypes.data), np.int64(lshift.ctypes.data)
    rs_at, out_at = np.int64(rshift.ctypes.data), np.int64(out.ctypes.data)
    out_stride = np.int64(out.strides[0])
    for j in range(n_out):
        # the strips are a ring of k window rows: window row t lives in slot t % k, so each
        # output row converts only the one row it adds (all k at the first row of the call)
        for dy in range(0 if j == 0 else kernel - 1, kernel):
            t = j + skip + dy
            _window_words(ring, head, incoming, t, width, channels, half, strips[t % kernel])
        base = (j + skip) % kernel
        n = 0
        for dy in range(kernel):
            slot = (base + dy) % kernel
            for dx in range(kernel):
                for g in range(n_groups):
                    tapoff[n] = (slot * n_groups + g) * strip_bytes + dx * 4
                    n += 1
        for g0 in range(0, c_out, group):
            size = min(group, c_out - g0)
            _call_mac(fns[size], strips_at, tapoff_at, wq_at + np.int64(wq.itemsize * g0),
                      np.int64(c_out), np.int64(n_taps), acc_at + np.int64(4 * g0 * astride),
                      np.int64(astride), np.int64(nblocks))
        if rq_fn != 0:
            _call_rq(rq_fn, acc_at, np.int64(astride), out_at + np.int64(j) * out_stride,
                     np.int64(width), np.int64(c_out), bias_at, ls_at, rs_at, lim_at, rqs_at)
            continue
        dst = out[j]
        for o in range(c_out):
            peak, ovf, sat = _requant_fit_i32(acc[o], np.uint64(0), dst, np.uint64(o) * w, w,
                                              bias[o], lshift[o], rshift[o], relu, fit_code,
                                              acc_h, acc_mask, acc_lo, acc_hi, rounding_code,
                                              lo, hi, peak, ovf, sat)
    stats[STAT_PEAK] = max(stats[STAT_PEAK], np.int64(peak), rq_stats[0])
    stats[STAT_OVERFLOWS] += ovf + rq_stats[1]
    stats[STAT_SATURATIONS] += sat + rq_stats[2]
