"""The engine's output stage on the host: the compiled residual + pixel-shuffle kernel.

Each conv row leaving a stage's last layer is added to its delayed input pixels, shifted
to the output's fixed point, clamped to uint8 and pixel-shuffled into ``r`` RGB rows. Where
the sums are proven to fit int32 (``hwsr.sim.stage.residual_fits_i32``) that runs in a
kernel of :mod:`hwsr.sim._residual_ir`, compiled for the host with the int8 variant's target
(:mod:`hwsr.sim.int8`: AVX-512, 256-bit AVX2, or generic vector IR), its object cached like
the MAC kernels' (:mod:`hwsr.sim._objcache`) and held equal to the NumPy twin by a self-test
before use. Where no int8 variant is active (``HWSR_SIM_INT8=0``, or no variant passed) or
the kernel fails to compile or to pass, the stage keeps the numba kernel
(:func:`hwsr.sim._kernels.residual_shuffle_rows_i32`).
"""

from __future__ import annotations

import functools

import numba
import numpy as np
import numpy.typing as npt
from numba import types
from numba.extending import intrinsic

from hwsr.sim._kernels_i8 import _codegen
from hwsr.sim._mac_ir import Isa
from hwsr.sim._objcache import checked_address
from hwsr.sim._residual_ir import ResidualKind, residual_ir

CONV_DTYPES = (np.dtype(np.uint8), np.dtype(np.int16), np.dtype(np.int32), np.dtype(np.int64))
PROVEN_BOUND = 2**30  # |sum| below this, as residual_fits_i32 proves for the stage
COLOUR_PLANES = 3


@intrinsic
def _call_residual(typingctx, fn, conv, src, out, ostride, width, cls, ils, rs, stats):  # noqa: ARG001
    """Call the compiled output-stage kernel at address ``fn`` (nine int64 arguments)."""
    return types.void(*[types.int64] * 10), _codegen(9)


@numba.njit(cache=True, nogil=True)
def residual_shuffle_rows_ir(fn, conv, n_rows, width, upscale, ring, head, incoming, t0,
                             residual, conv_lshift, in_lshift, out_shift, out, stats):
    """:func:`hwsr.sim._kernels.residual_shuffle_rows_i32` with each conv row's arithmetic
    and shuffle done by the compiled kernel at ``fn`` (its rounding mode, conv code type,
    ``r`` and residual flag are the kernel's constants); this loop finds the input row."""
    n_ring = ring.shape[0]
    conv_at, conv_stride = np.int64(conv.ctypes.data), np.int64(conv.strides[0])
    ring_at, ring_stride = np.int64(ring.ctypes.data), np.int64(ring.strides[0])
    inc_at, inc_stride = np.int64(incoming.ctypes.data), np.int64(incoming.strides[0])
    out_at, out_stride = np.int64(out.ctypes.data), np.int64(out.strides[0])
    stats_at = np.int64(stats.ctypes.data)
    for j in range(n_rows):
        t = t0 + j if residual else n_ring  # without a residual path no input row is read
        if t < n_ring:
            src = ring_at + np.int64((head + t) % n_ring) * ring_stride
        else:
            src = inc_at + np.int64(t - n_ring) * inc_stride
        _call_residual(fn, conv_at + np.int64(j) * conv_stride, src,
                       out_at + np.int64(j * upscale) * out_stride, out_stride,
                       np.int64(width), np.int64(conv_lshift), np.int64(in_lshift),
                       np.int64(out_shift), stats_at)


def kind_for(isa: Isa, rounding: int, conv_dtype: np.dtype, upscale: int,
             residual: bool) -> ResidualKind:
    """The kernel a stage with these constants runs on ``isa``'s host."""
    dt = np.dtype(conv_dtype)
    if dt not in CONV_DTYPES:
        raise ValueError(f"no output-stage kernel for {dt} codes")
    return ResidualKind(isa.lanes, rounding, dt.itemsize * 8, dt.kind == "i", upscale,
                        bool(residual))


@functools.cache
def residual_address(isa: Isa | None, rounding: int, conv_dtype: np.dtype, upscale: int,
                     residual: bool) -> int:
    """Address of the compiled output-stage kernel for a stage's constants on ``isa``'s
    host, or 0 (keep the numba kernel) where ``isa`` is None or the kernel did not compile
    or failed its self-test against the NumPy twin."""
    if isa is None:
        return 0
    kind = kind_for(isa, rounding, conv_dtype, upscale, residual)
    return checked_address(lambda: residual_ir(kind), kind.name, isa.target,
                           lambda addr: _self_test(addr, kind), "output-stage kernel")


def self_test_case(kind: ResidualKind, seed: int, width: int, conv_lshift: int,
                   in_lshift: int, out_shift: int) -> dict:
    """Random rows for ``kind`` with extreme codes and pixels, every sum inside the proven
    bound: two conv rows whose input rows come from a one-row ring and an arriving row."""
    r = kind.upscale
    dt = np.dtype(f"{'i' if kind.conv_signed else 'u'}{kind.conv_bits // 8}")
    room = (PROVEN_BOUND - 1 - (255 << in_lshift if kind.residual else 0)) >> conv_lshift
    lo, hi = max(int(np.iinfo(dt).min), -room), min(int(np.iinfo(dt).max), room)
    rng = np.random.default_rng(seed)
    conv = rng.integers(lo, hi + 1, (2, COLOUR_PLANES * r * r * width)).astype(dt)
    conv[:, :4] = [lo, hi, 0, -1 if lo < 0 else 1]
    pixels = rng.choice(np.array([0, 1, 127, 128, 254, 255], np.uint8), (2, 3 * width))
    return dict(conv=conv, n_rows=2, width=width, upscale=r, ring=pixels[:1].copy(), head=0,
                incoming=pixels[1:].copy(), t0=0, residual=kind.residual,
                conv_lshift=conv_lshift, in_lshift=in_lshift, out_shift=out_shift,
                rounding=kind.rounding)


# (conv_lshift, in_lshift, out_shift): a plain shift, no shift at all, and the largest ones
_SELF_TEST_SHIFTS = ((0, 2, 2), (1, 0, 0), (3, 12, 30))


def run_case(fn: int, case: dict) -> tuple[npt.NDArray[np.uint8], int]:
    """Output rows and clamp count of ``case`` through the kernel at ``fn`` (0: the twin)."""
    from hwsr.sim import _naive

    r, n = case["upscale"], case["n_rows"]
    out = np.zeros((max(n, 1) * r, case["width"] * r * 3), np.uint8)
    stats = np.zeros(1, np.int64)
    args = (case["conv"], n, case["width"], r, case["ring"], case["head"], case["incoming"],
            case["t0"], case["residual"], case["conv_lshift"], case["in_lshift"],
            case["out_shift"])
    if fn:
        residual_shuffle_rows_ir(fn, *args, out, stats)
    else:
        _naive.residual_shuffle(*args, case["rounding"], out, stats)
    return out, int(stats[0])


def _self_test(addr: int, kind: ResidualKind) -> bool:
    """The compiled kernel equals the NumPy twin on extreme rows with partial blocks."""
    for n, shifts in enumerate(_SELF_TEST_SHIFTS):
        case = self_test_case(kind, n, 2 * kind.lanes + 5, *shifts)
        got, want = run_case(addr, case), run_case(0, case)
        if not (np.array_equal(got[0], want[0]) and got[1] == want[1]):
            return False
    return True
