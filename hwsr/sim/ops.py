"""Checked entry points of the simulator's numba kernels.

Each function checks dtypes, shapes and contiguity, then calls the kernel of the same name in
:mod:`hwsr.sim._kernels`. :mod:`hwsr.sim._naive` holds a plain NumPy twin with the same
signature; the tests hold the two equal. Window rows, planar row layout and the ``cols`` /
``acc`` matrices are described in :mod:`hwsr.sim._kernels`.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from hwsr.sim import _kernels
from hwsr.sim.residual import residual_shuffle_rows_ir

CODE_DTYPES = (np.dtype(np.uint8), np.dtype(np.int16), np.dtype(np.int32), np.dtype(np.int64))
ACC_DTYPES = (np.dtype(np.float32), np.dtype(np.int64))
_CODE_DTYPE_NAMES = ", ".join(map(str, CODE_DTYPES))

Codes = np.ndarray


def _need(ok: bool, what: str) -> None:
    if not ok:
        raise ValueError(f"simulator kernel: {what}")


def _check_codes(a: np.ndarray, name: str, ndim: int = 2) -> None:
    _need(isinstance(a, np.ndarray) and a.ndim == ndim, f"{name} must be a {ndim}-D array")
    _need(a.dtype in CODE_DTYPES, f"{name} must hold codes ({_CODE_DTYPE_NAMES})")
    _need(a.flags.c_contiguous, f"{name} must be C-contiguous")


def _check_window(ring: Codes, head: int, incoming: Codes, rows_needed: int,
                  row_len: int) -> None:
    _check_codes(ring, "ring")
    _check_codes(incoming, "incoming")
    _need(ring.dtype == incoming.dtype, "ring and incoming rows must share a dtype")
    _need(ring.shape[1] == row_len and incoming.shape[1] == row_len,
          f"rows must hold channels*width = {row_len} codes")
    _need(0 <= head < max(ring.shape[0], 1), f"ring head {head} out of range")
    _need(rows_needed <= ring.shape[0] + incoming.shape[0],
          f"window needs {rows_needed} rows, ring and incoming hold "
          f"{ring.shape[0] + incoming.shape[0]}")


def _check_matrix(a: np.ndarray, name: str, dtypes: tuple[np.dtype, ...], ndim: int,
                  p0: int, n_pix: int) -> None:
    if not (isinstance(a, np.ndarray) and a.ndim == ndim and a.dtype in dtypes
            and a.flags.c_contiguous):
        kinds = " or ".join(map(str, dtypes))
        raise ValueError(f"simulator kernel: {name} must be a C-contiguous {ndim}-D {kinds} array")
    _need(p0 >= 0 and p0 + n_pix <= a.shape[-1], f"{name} holds too few pixel columns")


def im2col(ring: Codes, head: int, incoming: Codes, n_out: int, skip: int, width: int,
           channels: int, kernel: int, cols: np.ndarray, p0: int = 0) -> None:
    """Fill ``cols[:, p0 : p0 + n_out*width]`` with the k×k taps of ``n_out`` output rows."""
    _need(n_out >= 0 and skip >= 0 and kernel >= 1 and kernel % 2 == 1, "bad row counts")
    _check_window(ring, head, incoming, n_out + skip + kernel - 1, width * channels)
    _check_matrix(cols, "cols", ACC_DTYPES, 2, p0, n_out * width)
    _need(cols.shape[0] == kernel * kernel * channels, "cols must have c*k*k rows")
    _kernels.im2col_rows(ring, head, incoming, n_out, skip, width, channels, kernel, cols, p0)


def conv_i64(ring: Codes, head: int, incoming: Codes, n_out: int, skip: int, width: int,
             channels: int, weight: npt.NDArray[np.int64], acc: npt.NDArray[np.int64],
             p0: int = 0) -> None:
    """Exact int64 sums of products (no bias) of ``n_out`` output rows into ``acc[0]``."""
    _need(weight.ndim == 4 and weight.dtype == np.int64 and weight.flags.c_contiguous,
          "weight must be C-contiguous int64 (c_out, c_in, k, k)")
    c_out, c_in, kernel, _ = weight.shape
    _need(c_in == channels and weight.shape[3] == kernel, "weight shape mismatch")
    _need(n_out >= 0 and skip >= 0, "bad row counts")
    _check_window(ring, head, incoming, n_out + skip + kernel - 1, width * channels)
    _check_matrix(acc, "acc", (np.dtype(np.int64),), 3, p0, n_out * width)
    _need(acc.shape[:2] == (1, c_out), "acc must be (1, c_out, pixels)")
    _kernels.conv_rows_i64(ring, head, incoming, n_out, skip, width, channels, weight, acc, p0)


def ring_push(ring: Codes, head: int, incoming: Codes, n_in: int) -> int:
    """Shift ``n_in`` arriving rows into the ring line buffer; returns the new head."""
    _check_window(ring, head, incoming, 0, ring.shape[1])
    _need(0 <= n_in <= incoming.shape[0], f"n_in {n_in} exceeds the incoming rows")
    return int(_kernels.ring_push(ring, head, incoming, n_in))


def _check_requant(acc: np.ndarray, p0: int, n_rows: int, width: int, out: Codes,
                   stats: np.ndarray, out_lo: int, out_hi: int) -> int:
    _check_matrix(acc, "acc", ACC_DTYPES, 3, p0, n_rows * width)
    _check_codes(out, "out")
    c_out = acc.shape[1]
    _need(out.shape[0] >= n_rows and out.shape[1] == c_out * width, "out shape mismatch")
    _need(stats.dtype == np.int64 and stats.shape == (3,), "stats must be int64 (3,)")
    info = np.iinfo(out.dtype)
    _need(info.min <= out_lo <= out_hi <= info.max, f"output range does not fit {out.dtype}")
    return int(c_out)


def requant(acc: np.ndarray, p0: int, n_rows: int, width: int, bias: npt.NDArray[np.int64],
            shift: npt.NDArray[np.int64], relu: bool, acc_bits: int, overflow_code: int,
            rounding_code: int, out_lo: int, out_hi: int, out: Codes,
            stats: npt.NDArray[np.int64]) -> None:
    """Bias, accumulator fit, ReLU and requantization of ``n_rows`` rows into ``out``."""
    c_out = _check_requant(acc, p0, n_rows, width, out, stats, out_lo, out_hi)
    for a, name in ((bias, "bias"), (shift, "shift")):
        _need(a.dtype == np.int64 and a.shape == (c_out,), f"{name} must be int64 ({c_out},)")
    _need(2 <= acc_bits <= 62 and overflow_code in (0, 1) and 0 <= rounding_code <= 3,
          "bad datapath codes")
    _kernels.requant_rows(acc, p0, n_rows, width, bias, shift, bool(relu), acc_bits,
                          overflow_code, rounding_code, out_lo, out_hi, out, stats)


def requant_i32(acc: np.ndarray, p0: int, n_rows: int, width: int,
                bias: npt.NDArray[np.int32], lshift: npt.NDArray[np.int32],
                rshift: npt.NDArray[np.int32], relu: bool, acc_bits: int, fit_code: int,
                rounding_code: int, out_lo: int, out_hi: int, out: Codes,
                stats: npt.NDArray[np.int64]) -> None:
    """int32 twin of :func:`requant` for layers proven small (see ``_kernels`` fast paths)."""
    c_out = _check_requant(acc, p0, n_rows, width, out, stats, out_lo, out_hi)
    _need(acc.shape[0] == 1 and acc.dtype == np.float32, "acc must be float32 (1, c, pixels)")
    for a in (bias, lshift, rshift):
        _need(a.dtype == np.int32 and a.shape == (c_out,), "parameters must be int32 per channel")
    _need(int(rshift.max(initial=0)) <= 30 and int(lshift.min(initial=0)) >= 0, "bad shifts")
    _need(-(2**31) <= out_lo and out_hi < 2**31 and 2 <= acc_bits <= 32, "bad ranges")
    _need(fit_code in (0, 1, 2) and (fit_code == 0 or acc_bits <= 30), "bad fit code")
    _kernels.requant_rows_i32(acc, p0, n_rows, width, bias, lshift, rshift, bool(relu),
                              acc_bits, fit_code, rounding_code, out_lo, out_hi, out, stats)


def _check_residual(conv: Codes, n_rows: int, width: int, upscale: int, ring: Codes, head: int,
                    incoming: Codes, t0: int, residual: bool, out: np.ndarray,
                    stats: np.ndarray) -> None:
    _check_codes(conv, "conv")
    _need(conv.shape[0] >= n_rows and conv.shape[1] == 3 * upscale * upscale * width,
          "conv rows shape mismatch")
    _need(n_rows >= 0 and t0 >= 0, "bad row counts")
    _check_window(ring, head, incoming, t0 + n_rows if residual else 1, width * 3)
    _need(ring.dtype == np.uint8, "the residual delay line holds uint8 pixels")
    _need(out.dtype == np.uint8 and out.ndim == 2 and out.flags.c_contiguous,
          "out must be C-contiguous uint8 (rows, width*r*3)")
    _need(out.shape[0] >= n_rows * upscale and out.shape[1] == width * upscale * 3,
          "out too small")
    _need(stats.dtype == np.int64 and stats.shape == (1,), "stats must be int64 (1,)")


def residual_shuffle(conv: Codes, n_rows: int, width: int, upscale: int, ring: Codes,
                     head: int, incoming: Codes, t0: int, residual: bool, conv_lshift: int,
                     in_lshift: int, out_shift: int, rounding_code: int,
                     out: npt.NDArray[np.uint8], stats: npt.NDArray[np.int64]) -> None:
    """Residual add, pixel requantization and pixel shuffle of ``n_rows`` conv rows."""
    _need(min(conv_lshift, in_lshift) >= 0 and abs(out_shift) <= 62, "bad shifts")
    _check_residual(conv, n_rows, width, upscale, ring, head, incoming, t0, residual, out,
                    stats)
    _kernels.residual_shuffle_rows(conv, n_rows, width, upscale, ring, head, incoming, t0,
                                   bool(residual), conv_lshift, in_lshift, out_shift,
                                   rounding_code, out, stats)


def residual_shuffle_i32(conv: Codes, n_rows: int, width: int, upscale: int, ring: Codes,
                         head: int, incoming: Codes, t0: int, residual: bool, conv_lshift: int,
                         in_lshift: int, out_shift: int, rounding_code: int,
                         out: npt.NDArray[np.uint8], stats: npt.NDArray[np.int64],
                         fn: int = 0) -> None:
    """int32 twin of :func:`residual_shuffle` for proven-small sums.

    ``fn``: address of the compiled kernel of these constants
    (:func:`hwsr.sim.residual.residual_address`, its rounding mode, conv dtype, ``upscale``
    and residual flag), or 0 for the numba kernel."""
    _need(0 <= out_shift <= 30 and min(conv_lshift, in_lshift) >= 0, "bad shifts")
    _check_residual(conv, n_rows, width, upscale, ring, head, incoming, t0, residual, out,
                    stats)
    if fn:
        residual_shuffle_rows_ir(fn, conv, n_rows, width, upscale, ring, head, incoming, t0,
                                 bool(residual), conv_lshift, in_lshift, out_shift, out, stats)
        return
    _kernels.residual_shuffle_rows_i32(conv, n_rows, width, upscale, ring, head, incoming, t0,
                                       bool(residual), conv_lshift, in_lshift, out_shift,
                                       rounding_code, out, stats)
