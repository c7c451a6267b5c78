"""Fixed-point arithmetic of the engine datapath: the one home of every shift, rounding and clamp.

Every tensor between two layers of the engine is an integer *code* with a power-of-two
scale: ``value = code * 2**-frac_bits``. A requantization is therefore an arithmetic right
shift with a rounding mode, followed by saturation to the destination range. The
accumulator has a declared width; what happens when a sum leaves it (two's-complement wrap
or saturation) is part of the datapath too.

All array functions here work on integer numpy arrays and compute in int64, so they are
exact for accumulators up to 62 bits and shifts up to 62. The scalar twins at the bottom
(``round_shift_scalar`` and friends) are numba-compiled and used inside the simulator's
kernels; tests hold them equal to the array versions.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

import numba
import numpy as np
import numpy.typing as npt

IntArray = npt.NDArray[np.integer]


class Rounding(enum.Enum):
    """How a right shift by ``s`` bits rounds ``acc / 2**s`` to an integer."""

    HALF_UP = "half_up"  # floor(x + 1/2): add half an LSB, then shift (usual RTL)
    HALF_EVEN = "half_even"  # ties to even (torch.round, Brevitas's default)
    FLOOR = "floor"  # plain arithmetic shift, toward -inf
    TOWARD_ZERO = "toward_zero"  # truncate the magnitude (sign-magnitude datapaths)

    @property
    def code(self) -> int:
        """Small integer id passed to numba kernels."""
        return _ROUNDING_CODES[self]


_ROUNDING_CODES = {
    Rounding.HALF_UP: 0,
    Rounding.HALF_EVEN: 1,
    Rounding.FLOOR: 2,
    Rounding.TOWARD_ZERO: 3,
}


class Overflow(enum.Enum):
    """What the accumulator does with a sum outside its declared width."""

    WRAP = "wrap"  # two's-complement wrap-around, as a plain adder does
    SATURATE = "saturate"  # clamp to the accumulator's range

    @property
    def code(self) -> int:
        return 0 if self is Overflow.WRAP else 1


@dataclass(frozen=True)
class FixedType:
    """A fixed-point number format: ``width`` bits, ``frac_bits`` below the binary point.

    >>> u8 = FixedType(width=8, frac_bits=8, signed=False)
    >>> u8.min_code, u8.max_code, u8.lsb
    (0, 255, 0.00390625)
    """

    width: int  # total bits, sign included
    frac_bits: int  # bits below the binary point (may be negative: scale above 1)
    signed: bool  # two's complement when true

    def __post_init__(self) -> None:
        if not 1 <= self.width <= 62:
            raise ValueError(f"fixed-point width must be in 1..62, got {self.width}")
        if self.signed and self.width < 2:
            raise ValueError("a signed fixed-point type needs at least 2 bits")

    @property
    def min_code(self) -> int:
        return -(1 << (self.width - 1)) if self.signed else 0

    @property
    def max_code(self) -> int:
        return (1 << (self.width - 1)) - 1 if self.signed else (1 << self.width) - 1

    @property
    def lsb(self) -> float:
        """Value of one code step, ``2**-frac_bits``."""
        return float(2.0**-self.frac_bits)


def int_range(width: int, signed: bool) -> tuple[int, int]:
    """Code range of a ``width``-bit integer.

    >>> int_range(8, True), int_range(8, False)
    ((-128, 127), (0, 255))
    """
    t = FixedType(width, 0, signed)
    return t.min_code, t.max_code


def _as_i64(x: npt.ArrayLike) -> npt.NDArray[np.int64]:
    a = np.asarray(x)
    if a.dtype.kind not in "iu":
        raise TypeError(f"fixed-point arithmetic takes integer arrays, got dtype {a.dtype}")
    if a.dtype == np.uint64 and a.size and int(a.max()) > np.iinfo(np.int64).max:
        raise OverflowError("uint64 value does not fit the int64 arithmetic")
    return a.astype(np.int64, copy=False)


def round_shift(acc: npt.ArrayLike, shift: npt.ArrayLike, rounding: Rounding) -> npt.NDArray[np.int64]:
    """``acc / 2**shift`` rounded by ``rounding``; a negative shift is an exact left shift.

    ``shift`` broadcasts against ``acc`` (per-channel shifts: shape ``(C, 1, 1)``).

    >>> round_shift([5, 6, 7, -5, -6, -7], 2, Rounding.HALF_UP).tolist()
    [1, 2, 2, -1, -1, -2]
    >>> round_shift([2, 6, -2, -6], 2, Rounding.HALF_EVEN).tolist()
    [0, 2, 0, -2]
    >>> round_shift([-5, 5], 1, Rounding.FLOOR).tolist(), round_shift([-5, 5], 1, Rounding.TOWARD_ZERO).tolist()
    ([-3, 2], [-2, 2])
    """
    a = _as_i64(acc)
    s = _as_i64(shift)
    if s.size and (int(s.max()) > 62 or int(s.min()) < -62):
        raise ValueError("shift must be within -62..62")
    a, s = np.broadcast_arrays(a, s)
    left = np.left_shift(a, np.maximum(-s, 0))
    rs = np.maximum(s, 0)
    floor_q = np.right_shift(a, rs)
    if rounding is Rounding.FLOOR:
        q = floor_q
    elif rounding is Rounding.HALF_UP:
        half = np.where(rs > 0, np.left_shift(np.int64(1), np.maximum(rs - 1, 0)), 0)
        q = np.right_shift(a + half, rs)
    elif rounding is Rounding.HALF_EVEN:
        rem = a - np.left_shift(floor_q, rs)
        half = np.where(rs > 0, np.left_shift(np.int64(1), np.maximum(rs - 1, 0)), 0)
        up = (rem > half) | ((rem == half) & (rs > 0) & ((floor_q & 1) == 1))
        q = floor_q + up.astype(np.int64)
    elif rounding is Rounding.TOWARD_ZERO:
        q = np.where(a < 0, -np.right_shift(-a, rs), floor_q)
    else:  # pragma: no cover - enum is closed
        raise ValueError(f"unknown rounding {rounding!r}")
    return np.where(s < 0, left, q).astype(np.int64)


def saturate(x: npt.ArrayLike, width: int, signed: bool) -> npt.NDArray[np.int64]:
    """Clamp integer codes to the range of a ``width``-bit integer.

    >>> saturate([-300, 5, 300], 8, False).tolist()
    [0, 5, 255]
    """
    lo, hi = int_range(width, signed)
    return np.clip(_as_i64(x), lo, hi)


def count_saturations(x: npt.ArrayLike, width: int, signed: bool) -> int:
    """How many codes of ``x`` lie outside the ``width``-bit range (would be clamped)."""
    lo, hi = int_range(width, signed)
    a = _as_i64(x)
    return int(np.count_nonzero((a < lo) | (a > hi)))


def wrap(x: npt.ArrayLike, width: int) -> npt.NDArray[np.int64]:
    """Two's-complement wrap-around of signed codes to ``width`` bits.

    >>> wrap([127, 128, -129, 256], 8).tolist()
    [127, -128, 127, 0]
    """
    a = _as_i64(x)
    m = np.int64(1) << np.int64(width)
    h = np.int64(1) << np.int64(width - 1)
    return ((a + h) & (m - 1)) - h


def fit_accumulator(acc: npt.ArrayLike, width: int, overflow: Overflow) -> npt.NDArray[np.int64]:
    """What a ``width``-bit signed accumulator holds for the exact sum ``acc``."""
    if overflow is Overflow.WRAP:
        return wrap(acc, width)
    return saturate(acc, width, signed=True)


def requantize(
    acc: npt.ArrayLike, shift: npt.ArrayLike, rounding: Rounding, dst: FixedType
) -> npt.NDArray[np.int64]:
    """Shift an accumulator down to the destination format and saturate: one engine requant.

    >>> u8 = FixedType(8, 8, False)
    >>> requantize([-40, 37, 38, 100000], 2, Rounding.HALF_UP, u8).tolist()
    [0, 9, 10, 255]
    """
    return saturate(round_shift(acc, shift, rounding), dst.width, dst.signed)


def bits_for(max_abs: int) -> int:
    """Signed bits needed to hold every value in ``[-max_abs, max_abs]``.

    >>> bits_for(127), bits_for(128), bits_for(0)
    (8, 9, 1)
    """
    return int(max_abs).bit_length() + 1


def is_power_of_two(x: float) -> bool:
    """True when ``x`` is exactly ``2**n`` for an integer ``n`` (an engine-legal scale)."""
    if not np.isfinite(x) or x <= 0:
        return False
    m, _ = np.frexp(x)
    return bool(m == 0.5)


def frac_bits_of(scale: float) -> int:
    """``n`` such that ``scale == 2**-n``; refuses scales that are not powers of two.

    >>> frac_bits_of(0.0078125)
    7
    """
    if not is_power_of_two(scale):
        raise ValueError(f"scale {scale!r} is not a power of two")
    _, e = np.frexp(scale)
    return int(1 - e)


# ---- numba scalar twins, used inside the simulator's kernels --------------------------------


@numba.njit(cache=True, inline="always")
def round_shift_scalar(a: np.int64, s: int, rounding_code: int) -> np.int64:
    """Scalar ``round_shift`` for kernels (``rounding_code`` is ``Rounding.code``)."""
    if s <= 0:
        return a << (-s)
    if rounding_code == 0:  # half up
        return (a + (np.int64(1) << (s - 1))) >> s
    q = a >> s
    if rounding_code == 1:  # half even
        rem = a - (q << s)
        half = np.int64(1) << (s - 1)
        if rem > half or (rem == half and (q & 1) == 1):
            q += 1
        return q
    if rounding_code == 2:  # floor
        return q
    if a < 0:  # toward zero
        return -((-a) >> s)
    return q


@numba.njit(cache=True, inline="always")
def wrap_scalar(a: np.int64, width: int) -> np.int64:
    m = np.int64(1) << width
    h = np.int64(1) << (width - 1)
    return ((a + h) & (m - 1)) - h


@numba.njit(cache=True, inline="always")
def clamp_scalar(a: np.int64, lo: np.int64, hi: np.int64) -> np.int64:
    if a < lo:
        return lo
    if a > hi:
        return hi
    return a


@numba.njit(cache=True, inline="always")
def signed_range_scalar(width: int) -> tuple[np.int64, np.int64]:
    """Scalar ``int_range(width, signed=True)`` for kernels: the accumulator's code range."""
    hi = (np.int64(1) << (width - 1)) - 1
    return -hi - 1, hi


@numba.njit(cache=True, inline="always")
def fit_accumulator_scalar(a: np.int64, width: int, overflow_code: int) -> np.int64:
    """Scalar ``fit_accumulator`` (``overflow_code`` is ``Overflow.code``) for kernels."""
    if overflow_code == 0:  # wrap
        return wrap_scalar(a, width)
    lo, hi = signed_range_scalar(width)
    return clamp_scalar(a, lo, hi)


@numba.njit(cache=True, inline="always")
def wrap_i32(a, half, mask):
    """``wrap`` of an int32 code to ``width`` bits, branch-free so the requantization loops
    vectorize; the caller hoists ``half = 1 << (width - 1)`` and ``mask = (1 << width) - 1``."""
    return ((a + half) & mask) - half


@numba.njit(cache=True, inline="always")
def clamp_i32(a, lo, hi):
    """``saturate`` of one int32 code to ``[lo, hi]``, branch-free (min/max) so loops vectorize."""
    return min(max(a, lo), hi)


@numba.njit(cache=True, inline="always")
def round_shift_i32(a, rs, rounding_code):
    """``round_shift`` of an int32 by ``0 <= rs <= 30`` bits (``Rounding.code``), branch-free
    per mode so the simulator's requantization loops vectorize; tested equal to ``round_shift``."""
    one = np.int32(1)
    half = (one << rs) >> one
    if rounding_code == 0:  # half up
        return (a + half) >> rs
    q = a >> rs
    if rounding_code == 1:  # half even
        rem = a - (q << rs)
        up = (rem > half) | ((rem == half) & ((q & one) == one) & (rs > 0))
        return q + np.int32(up)
    if rounding_code == 2:  # floor
        return q
    return (a + ((a >> np.int32(31)) & ((one << rs) - one))) >> rs  # toward zero
