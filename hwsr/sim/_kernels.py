"""Numba kernels of the line-buffer engine (private: call them through :mod:`hwsr.sim.ops`).

Every kernel works on a *window* of input rows the way the engine's datapath sees it: the
``R`` rows held in a ring line buffer (oldest first from ``head``) followed by the rows
arriving from the stream. Window row ``t`` is ``ring[(head + t) % R]`` for ``t < R`` and
``incoming[t - R]`` otherwise. A row holds its channels as planes, ``row[c*width + x]``
(one line per channel, as a line-buffer SRAM holds it).

The MAC array's products are laid out as a matrix with one column per output pixel:
``cols[(c*k + dy)*k + dx, p]`` is tap ``(c, dy, dx)`` of pixel ``p = j*width + x`` (output row
``j`` of the step), so that ``weight.reshape(c_out, -1) @ cols`` gives the sums, one row per
output channel, ``acc[o, p]``; ``p0`` offsets let host lanes share the buffers.

Rules (docs/conventions.md, "Kernels and their twins"): explicit integer dtypes, no ``fastmath``, nothing allocated inside
the loops, shapes and dtypes checked by the wrappers in :mod:`hwsr.sim.ops`. Each kernel has a
plain NumPy twin in :mod:`hwsr.sim._naive`, held equal to it by ``tests/test_sim_kernels.py``.
Inner indices are unsigned where it lets the copies vectorize (no negative-index checks).
"""

from __future__ import annotations

import numba

# numba loads its array registries (and through them SciPy's BLAS bindings, a long chain of
# imports) the first time any cached kernel is loaded; imported here, that happens when the
# simulator is imported, not in its first step, where a Ctrl-C landing in the chain ended
# `hwsr simulate` by the signal instead of its "interrupted" exit 130
import numba.np.arraymath  # noqa: F401
import numpy as np

from hwsr.fixed import (
    clamp_i32,
    clamp_scalar,
    fit_accumulator_scalar,
    round_shift_i32,
    round_shift_scalar,
    signed_range_scalar,
    wrap_i32,
)

# Indices into the per-layer statistics vector the kernels accumulate into.
STAT_PEAK, STAT_OVERFLOWS, STAT_SATURATIONS = 0, 1, 2
# Accumulator fit of the int32 requantizer: none (cannot overflow), wrap, saturate.
FIT_NONE, FIT_WRAP, FIT_SATURATE = 0, 1, 2


@numba.njit(cache=True, nogil=True)
def im2col_rows(ring, head, incoming, n_out, skip, width, channels, kernel, cols, p0):
    """Fill ``cols[:, p0 : p0 + n_out*width]`` with the k×k taps of ``n_out`` output rows.

    Output row ``j`` is centred on window row ``j + skip + k//2``; taps outside the frame's
    columns read zero (rows outside it are zero rows of the window already).
    """
    n_ring = ring.shape[0]
    half = kernel // 2
    w = np.uint64(width)
    for j in range(n_out):
        col0 = np.uint64(p0 + j * width)
        for dy in range(kernel):
            t = j + skip + dy
            src = ring[(head + t) % n_ring] if t < n_ring else incoming[t - n_ring]
            for c in range(channels):
                s0 = np.uint64(c) * w
                for dx in range(kernel):
                    dst = cols[(c * kernel + dy) * kernel + dx]
                    off = dx - half
                    x_lo = min(max(0, -off), width)  # columns [x_lo, x_hi) read the frame
                    x_hi = max(min(width, width - off), x_lo)
                    for x in range(x_lo):
                        dst[col0 + np.uint64(x)] = 0
                    shift = np.uint64(off + width)  # modular: s0 + x + off
                    for x in range(np.uint64(x_lo), np.uint64(x_hi)):
                        dst[col0 + x] = src[s0 + x + shift - w]
                    for x in range(x_hi, width):
                        dst[col0 + np.uint64(x)] = 0


@numba.njit(cache=True, nogil=True)
def conv_rows_i64(ring, head, incoming, n_out, skip, width, channels, weight, acc, p0):
    """Exact int64 sums of products of ``n_out`` output rows (the datapath for wide operands).

    ``weight`` is ``(c_out, c_in, k, k)`` int64; ``acc[0, o, p0 + j*width + x]`` receives
    ``sum(w * x)`` without the bias (added by :func:`requant_rows`). int64 wraps modulo 2**64
    exactly as the reference's int64 matmul does.
    """
    n_ring = ring.shape[0]
    c_out = weight.shape[0]
    kernel = weight.shape[2]
    half = kernel // 2
    for j in range(n_out):
        for o in range(c_out):
            for x in range(width):
                acc[0, o, p0 + j * width + x] = 0
        for dy in range(kernel):
            t = j + skip + dy
            src = ring[(head + t) % n_ring] if t < n_ring else incoming[t - n_ring]
            for c in range(channels):
                for dx in range(kernel):
                    off = dx - half
                    for o in range(c_out):
                        wv = weight[o, c, dy, dx]
                        for x in range(max(0, -off), min(width, width - off)):
                            acc[0, o, p0 + j * width + x] += wv * np.int64(src[c * width + x + off])


@numba.njit(cache=True, nogil=True)
def ring_push(ring, head, incoming, n_in):
    """Shift ``n_in`` arriving rows into the ring (dropping the oldest); returns the new head."""
    n_ring = ring.shape[0]
    if n_ring == 0:
        return 0
    if n_in >= n_ring:
        for i in range(n_ring):
            for v in range(ring.shape[1]):
                ring[i, v] = incoming[n_in - n_ring + i, v]
        return 0
    for i in range(n_in):
        slot = (head + i) % n_ring
        for v in range(ring.shape[1]):
            ring[slot, v] = incoming[i, v]
    return (head + n_in) % n_ring


@numba.njit(cache=True, nogil=True)
def requant_rows(acc, p0, n_rows, width, bias, shift, relu, acc_bits, overflow_code,
                 rounding_code, out_lo, out_hi, out, stats):
    """Finish ``n_rows`` output rows of a layer: bias, accumulator fit, ReLU, requantization.

    ``acc`` is ``(chunks, c_out, pixels)``: exact partial sums (float32 holding integers below
    2**24, or int64), added here in int64; ``out`` is ``(n_rows, c_out*width)`` codes. Counts
    into ``stats``: the largest |accumulator|, accumulator overflows, and clamped codes.
    """
    acc_lo, acc_hi = signed_range_scalar(acc_bits)
    n_chunks = acc.shape[0]
    c_out = acc.shape[1]
    peak = stats[STAT_PEAK]
    overflows = stats[STAT_OVERFLOWS]
    saturations = stats[STAT_SATURATIONS]
    for j in range(n_rows):
        for o in range(c_out):
            for x in range(width):
                a = bias[o]
                for ch in range(n_chunks):
                    a += np.int64(acc[ch, o, p0 + j * width + x])
                peak = max(peak, -a if a < 0 else a)
                if a < acc_lo or a > acc_hi:
                    overflows += 1
                    a = fit_accumulator_scalar(a, acc_bits, overflow_code)
                if relu and a < 0:
                    a = np.int64(0)
                q = round_shift_scalar(a, shift[o], rounding_code)
                if q < out_lo or q > out_hi:
                    saturations += 1
                    q = clamp_scalar(q, out_lo, out_hi)
                out[j, o * width + x] = q
    stats[STAT_PEAK] = peak
    stats[STAT_OVERFLOWS] = overflows
    stats[STAT_SATURATIONS] = saturations


@numba.njit(cache=True, nogil=True)
def residual_shuffle_rows(conv, n_rows, width, upscale, ring, head, incoming, t0, residual,
                          conv_lshift, in_lshift, out_shift, rounding_code, out, stats):
    """Residual add, output requantization and pixel shuffle of ``n_rows`` conv output rows.

    ``conv[j, (c*r*r + i*r + k)*width + x]`` is the last layer's code for output pixel
    ``(j*r + i, x*r + k)`` of colour ``c``; the input pixel it adds to is window row ``t0 + j``
    of the residual delay line (ring of delayed input rows, then arriving rows), colour plane
    ``c``. Writes ``r`` interleaved-RGB uint8 output rows per conv row and counts clamps.
    """
    n_ring = ring.shape[0]
    rr = upscale * upscale
    saturations = stats[0]
    for j in range(n_rows):
        t = t0 + j
        for i in range(upscale):
            for x in range(width):
                for k in range(upscale):
                    for c in range(3):
                        pix = np.int64(0)
                        if residual:
                            if t < n_ring:
                                pix = np.int64(ring[(head + t) % n_ring, c * width + x])
                            else:
                                pix = np.int64(incoming[t - n_ring, c * width + x])
                        ch = c * rr + i * upscale + k
                        s = (np.int64(conv[j, ch * width + x]) << conv_lshift) + (pix << in_lshift)
                        q = round_shift_scalar(s, out_shift, rounding_code)
                        if q < 0 or q > 255:
                            saturations += 1
                            q = clamp_scalar(q, 0, 255)
                        out[j * upscale + i, (x * upscale + k) * 3 + c] = q
    stats[0] = saturations


# ---- int32 fast paths ---------------------------------------------------------------------
# Used only where the wrappers have proven from the integer weights that every intermediate
# value stays below 2**30 in magnitude and every right shift is at most 30 bits, so int32
# arithmetic is exact and the loops vectorize (AVX2 has no 64-bit arithmetic shift or min).


@numba.njit(cache=True, inline="always")
def _requant_run_i32(src, s0, dst, d0, n, bias, ls, rs, relu, fit_code, acc_h, acc_mask,
                     acc_lo, acc_hi, rounding_code, lo, hi, peak, overflows, saturations):
    """``n`` pixels of one channel, ``src[s0:]`` to ``dst[d0:]`` (flat views); inlined with a
    constant ``fit_code`` per call site, so the loop keeps no invariant branch and vectorizes.
    The run's counts are kept in int32 lanes (a run is one row of one channel, far below 2**31
    pixels) and added to the int64 totals once, so the loop never widens to 64 bits."""
    ovf, sat = np.int32(0), np.int32(0)
    for x in range(np.uint64(n)):
        a = bias + np.int32(src[s0 + x])
        peak = max(peak, np.abs(a))
        if fit_code != FIT_NONE:
            ovf += np.int32((a < acc_lo) | (a > acc_hi))
            if fit_code == FIT_WRAP:
                a = wrap_i32(a, acc_h, acc_mask)
            else:
                a = clamp_i32(a, acc_lo, acc_hi)
        if relu:
            a = max(a, np.int32(0))
        q = round_shift_i32(a << ls, rs, rounding_code)
        sat += np.int32((q < lo) | (q > hi))
        dst[d0 + x] = clamp_i32(q, lo, hi)
    return peak, overflows + np.int64(ovf), saturations + np.int64(sat)


@numba.njit(cache=True, inline="always")
def _acc_limits_i32(acc_bits):
    """``(half, mask, lo, hi)`` of an ``acc_bits`` accumulator as int32 (wrap and clamp
    constants; ``acc_bits > 30`` gives the full int32 range, used only with FIT_NONE)."""
    one = np.int32(1)
    small = acc_bits <= 30
    acc_h = one << np.int32(acc_bits - 1) if small else np.int32(0)
    acc_mask = (one << np.int32(acc_bits)) - one if small else np.int32(0)
    acc_hi = acc_h - one if small else np.int32(2147483647)
    acc_lo = -acc_h if small else np.int32(-2147483648)
    return acc_h, acc_mask, acc_lo, acc_hi


@numba.njit(cache=True, inline="always")
def _requant_fit_i32(src, s0, dst, d0, n, bias, ls, rs, relu, fit_code, acc_h, acc_mask,
                     acc_lo, acc_hi, rounding_code, lo, hi, peak, overflows, saturations):
    """:func:`_requant_run_i32` with ``fit_code`` made a constant at each of its three call
    sites, so each inlined loop keeps no invariant branch and vectorizes."""
    if fit_code == FIT_NONE:
        return _requant_run_i32(src, s0, dst, d0, n, bias, ls, rs, relu, FIT_NONE, acc_h,
                                acc_mask, acc_lo, acc_hi, rounding_code, lo, hi, peak,
                                overflows, saturations)
    if fit_code == FIT_WRAP:
        return _requant_run_i32(src, s0, dst, d0, n, bias, ls, rs, relu, FIT_WRAP, acc_h,
                                acc_mask, acc_lo, acc_hi, rounding_code, lo, hi, peak,
                                overflows, saturations)
    return _requant_run_i32(src, s0, dst, d0, n, bias, ls, rs, relu, FIT_SATURATE, acc_h,
                            acc_mask, acc_lo, acc_hi, rounding_code, lo, hi, peak, overflows,
                            saturations)


@numba.njit(cache=True, nogil=True)
def requant_rows_i32(acc, p0, n_rows, width, bias, lshift, rshift, relu, acc_bits, fit_code,
                     rounding_code, out_lo, out_hi, out, stats):
    """:func:`requant_rows` in int32 for proven-small sums (see the section comment).

    ``acc`` is ``(1, c_out, pixels)`` float32 (one exact chunk); ``bias``, ``lshift`` and
    ``rshift`` are int32 per channel. ``fit_code``: FIT_NONE where the accumulator cannot
    overflow, else FIT_WRAP or FIT_SATURATE (then ``acc_bits <= 30``).
    """
    c_out = acc.shape[1]
    n_pix = np.uint64(acc.shape[2])
    w = np.uint64(width)
    src = acc.reshape(-1)
    dst = out.reshape(-1)
    acc_h, acc_mask, acc_lo, acc_hi = _acc_limits_i32(acc_bits)
    lo, hi = np.int32(out_lo), np.int32(out_hi)
    peak, ovf, sat = np.int32(0), np.int64(0), np.int64(0)
    for j in range(np.uint64(n_rows)):
        for o in range(np.uint64(c_out)):
            s0 = o * n_pix + np.uint64(p0) + j * w
            d0 = (j * np.uint64(c_out) + o) * w
            peak, ovf, sat = _requant_fit_i32(src, s0, dst, d0, w, bias[o], lshift[o],
                                              rshift[o], relu, fit_code, acc_h, acc_mask,
                                              acc_lo, acc_hi, rounding_code, lo, hi, peak, ovf,
                                              sat)
    stats[STAT_PEAK] = max(stats[STAT_PEAK], np.int64(peak))
    stats[STAT_OVERFLOWS] += ovf
    stats[STAT_SATURATIONS] += sat


@numba.njit(cache=True, nogil=True)
def residual_shuffle_rows_i32(conv, n_rows, width, upscale, ring, head, incoming, t0,
                              residual, conv_lshift, in_lshift, out_shift, rounding_code, out,
                              stats):
    """:func:`residual_shuffle_rows` in int32 for proven-small sums (``0 <= out_shift <= 30``).

    Per output row: each of its ``3r`` planes (sub-pixel column ``k``, colour ``c``) is
    computed in a vectorized pass over the columns into a uint8 plane, then the planes are
    interleaved into the row (column, sub-pixel, colour), pixel by pixel: the output row is
    written front to back (a plane at a time, stride-``3r`` byte stores, took twice as long).
    The compiled kernel of :mod:`hwsr.sim.residual` does the same in 32-bit lanes with
    vector shuffles (three to five times faster); this one is its fallback.
    """
    n_ring = ring.shape[0]
    r = np.uint64(upscale)
    rr = r * r
    w = np.uint64(width)
    planes = np.empty((upscale * 3, width), np.uint8)  # one row's planes, reused
    saturations = np.int64(0)
    zero, top = np.int32(0), np.int32(255)
    rs = np.int32(out_shift)
    for j in range(n_rows):
        t = t0 + j if residual else n_ring  # without a residual path no input row is read
        src = ring[(head + t) % n_ring] if t < n_ring else incoming[t - n_ring]
        row = conv[j]
        for i in range(r):
            for k in range(r):
                for c in range(np.uint64(3)):
                    plane = planes[k * np.uint64(3) + c]
                    s0 = (c * rr + i * r + k) * w
                    sat = np.int32(0)  # one plane row's count, far below 2**31
                    if residual:
                        i0 = c * w
                        for x in range(w):
                            s = ((np.int32(row[s0 + x]) << conv_lshift)
                                 + (np.int32(src[i0 + x]) << in_lshift))
                            q = round_shift_i32(s, rs, rounding_code)
                            sat += np.int32((q < zero) | (q > top))
                            plane[x] = np.uint8(clamp_i32(q, zero, top))
                    else:
                        for x in range(w):
                            s = np.int32(row[s0 + x]) << conv_lshift
                            q = round_shift_i32(s, rs, rounding_code)
                            sat += np.int32((q < zero) | (q > top))
                            plane[x] = np.uint8(clamp_i32(q, zero, top))
                    saturations += np.int64(sat)
            dst = out[np.uint64(j) * r + i]
            step = r * np.uint64(3)
            for x in range(w):  # pixel-major: each output pixel's bytes in one run of stores
                b0 = x * step
                for p in range(step):
                    dst[b0 + p] = planes[p, x]
    stats[0] += saturations


# ---- direct convolution: the MAC array and its requantizer in one pass --------------------
# A k×k layer as row-vectorized float32 multiply-adds straight from the line buffer, with no
# im2col matrix and no accumulator matrix: each output row is computed four output channels
# at a time into an L1-resident accumulator strip and requantized at once. Used only where
# the per-layer bound proves every partial sum (in any order) an exact integer below 2**24
# and the int32 requantizer exact (the wrappers in :mod:`hwsr.sim.direct` check both).
DIRECT_GROUP = 4  # output channels per pass over the input strip (accumulator rows)
DIRECT_TAPS = 3  # taps per multiply-add pass (a row and its two neighbours for k = 3)


@numba.njit(cache=True, nogil=True)
def _mac3(acc, ru, rv, rz, wg, n):
    """``acc[g, :n] += wg[g, 0]*ru + wg[g, 1]*rv + wg[g, 2]*rz`` for the four rows ``g``.

    Separate multiplies and adds (no fastmath, so no contraction): exact for integers below
    2**24, and on two multiply and two add pipes as fast as fused multiply-adds."""
    a0, a1, a2, a3 = acc[0], acc[1], acc[2], acc[3]
    p0, q0, s0 = wg[0, 0], wg[0, 1], wg[0, 2]
    p1, q1, s1 = wg[1, 0], wg[1, 1], wg[1, 2]
    p2, q2, s2 = wg[2, 0], wg[2, 1], wg[2, 2]
    p3, q3, s3 = wg[3, 0], wg[3, 1], wg[3, 2]
    for x in range(n):
        u, v, z = ru[x], rv[x], rz[x]
        a0[x] += p0 * u + q0 * v + s0 * z
        a1[x] += p1 * u + q1 * v + s1 * z
        a2[x] += p2 * u + q2 * v + s2 * z
        a3[x] += p3 * u + q3 * v + s3 * z


@numba.njit(cache=True, inline="always")
def _slot_strip(strip, base, channels, kernel):
    """Strip of tap strip ``dy*channels + c`` when window row 0 sits in ring slot ``base``."""
    dy = strip // channels
    return ((base + dy) % kernel) * channels + (strip - dy * channels)


@numba.njit(cache=True, inline="always")
def _window_f32(ring, head, incoming, t, width, channels, kernel, fwin, slot):
    """Window row ``t`` into strips ``fwin[slot*channels + c]`` as float32, with
    ``kernel//2`` zero columns either side (the frame's zero padding)."""
    n_ring = ring.shape[0]
    half = kernel // 2
    src = ring[(head + t) % n_ring] if t < n_ring else incoming[t - n_ring]
    w = np.uint64(width)
    for c in range(channels):
        dst = fwin[slot * channels + c]
        for x in range(half):
            dst[x] = 0
            dst[half + width + x] = 0
        body = dst[half : half + width]
        s0 = np.uint64(c) * w
        for x in range(w):
            body[x] = np.float32(src[s0 + x])


@numba.njit(cache=True, nogil=True)
def conv_requant_rows_f32(ring, head, incoming, n_out, skip, width, channels, kernel, wpack,
                          taps, bias, lshift, rshift, relu, acc_bits, fit_code, rounding_code,
                          out_lo, out_hi, out, fwin, acc, stats):
    """MACs and requantization of ``n_out`` output rows in one pass (see the section comment).

    ``wpack[g, p, i, m]`` (float32) is the weight of output channel ``4g + i`` on tap ``m``
    of pass ``p``; ``taps[p, m] = (strip, column)`` says where that tap reads: ``fwin[strip,
    column + x]`` for output column ``x`` (strip ``dy*channels + c``, column ``dx``). Padding
    taps carry weight zero. ``fwin`` is ``(kernel*channels, width + kernel - 1)`` and ``acc``
    ``(4, width)`` float32 scratch; the requantizer is :func:`requant_rows_i32`'s.
    """
    c_out = bias.shape[0]
    acc_h, acc_mask, acc_lo, acc_hi = _acc_limits_i32(acc_bits)
    lo, hi = np.int32(out_lo), np.int32(out_hi)
    peak, ovf, sat = np.int32(0), np.int64(0), np.int64(0)
    w = np.uint64(width)
    for j in range(n_out):
        # the strips are a ring of k window rows: window row t lives in slot t % k, so each
        # output row converts only the one row it adds (all k at the first row of the call)
        for dy in range(0 if j == 0 else kernel - 1, kernel):
            t = j + skip + dy
            _window_f32(ring, head, incoming, t, width, channels, kernel, fwin, t % kernel)
        base = (j + skip) % kernel
        dst = out[j]
        for g in range(wpack.shape[0]):
            for i in range(DIRECT_GROUP):
                strip = acc[i]
                for x in range(w):
                    strip[x] = 0
            for p in range(wpack.shape[1]):
                su = _slot_strip(taps[p, 0, 0], base, channels, kernel)
                sv = _slot_strip(taps[p, 1, 0], base, channels, kernel)
                sz = _slot_strip(taps[p, 2, 0], base, channels, kernel)
                _mac3(acc, fwin[su, taps[p, 0, 1]:], fwin[sv, taps[p, 1, 1]:],
                      fwin[sz, taps[p, 2, 1]:], wpack[g, p], width)
            for i in range(min(DIRECT_GROUP, c_out - g * DIRECT_GROUP)):
                o = g * DIRECT_GROUP + i
                src = acc[i]
                d0 = np.uint64(o) * w
                peak, ovf, sat = _requant_fit_i32(src, np.uint64(0), dst, d0, w, bias[o],
                                                  lshift[o], rshift[o], relu, fit_code, acc_h,
                                                  acc_mask, acc_lo, acc_hi, rounding_code, lo,
                                                  hi, peak, ovf, sat)
    stats[STAT_PEAK] = max(stats[STAT_PEAK], np.int64(peak))
    stats[STAT_OVERFLOWS] += ovf
    stats[STAT_SATURATIONS] += sat
