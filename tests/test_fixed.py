"""Fixed-point core: every rounding tie, extreme accumulators, saturation, numba twins."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from hwsr.fixed import (
    FixedType,
    Overflow,
    Rounding,
    bits_for,
    clamp_i32,
    clamp_scalar,
    count_saturations,
    fit_accumulator,
    fit_accumulator_scalar,
    frac_bits_of,
    int_range,
    is_power_of_two,
    requantize,
    round_shift,
    round_shift_scalar,
    saturate,
    signed_range_scalar,
    wrap,
    wrap_i32,
    wrap_scalar,
)

INT32_MIN, INT32_MAX = -(2**31), 2**31 - 1
acc32 = st.integers(INT32_MIN, INT32_MAX)
shifts = st.integers(0, 31)


def exact_round(a: int, s: int, mode: Rounding) -> int:
    """Rounding of a / 2**s by its definition, on exact rationals."""
    q = Fraction(a, 2**s)
    fl = q.numerator // q.denominator
    frac = q - fl
    if mode is Rounding.FLOOR:
        return fl
    if mode is Rounding.TOWARD_ZERO:
        return fl if q >= 0 or frac == 0 else fl + 1
    if frac > Fraction(1, 2):
        return fl + 1
    if frac < Fraction(1, 2):
        return fl
    if mode is Rounding.HALF_UP:
        return fl + 1
    return fl + (fl & 1)  # half even


@pytest.mark.parametrize("mode", list(Rounding))
@given(a=acc32, s=shifts)
def test_round_shift_matches_definition(mode: Rounding, a: int, s: int) -> None:
    assert int(round_shift(np.array([a]), s, mode)[0]) == exact_round(a, s, mode)
    assert round_shift_scalar(np.int64(a), s, mode.code) == exact_round(a, s, mode)


@pytest.mark.parametrize("mode", list(Rounding))
@given(q=st.integers(-(2**20), 2**20), s=st.integers(1, 31))
def test_every_tie(mode: Rounding, q: int, s: int) -> None:
    """acc = (q + 1/2) · 2**s and (q - 1/2) · 2**s: exact ±0.5 LSB ties in each mode."""
    for a in (q * 2**s + 2 ** (s - 1), q * 2**s - 2 ** (s - 1)):
        if INT32_MIN <= a <= INT32_MAX:
            got = int(round_shift(np.array([a]), s, mode)[0])
            assert got == exact_round(a, s, mode)
            assert round_shift_scalar(np.int64(a), s, mode.code) == got


def test_tie_table() -> None:
    a = np.array([-3, -1, 1, 3])  # ±0.5 and ±1.5 LSB after a 1-bit shift
    assert round_shift(a, 1, Rounding.HALF_UP).tolist() == [-1, 0, 1, 2]
    assert round_shift(a, 1, Rounding.HALF_EVEN).tolist() == [-2, 0, 0, 2]
    assert round_shift(a, 1, Rounding.FLOOR).tolist() == [-2, -1, 0, 1]
    assert round_shift(a, 1, Rounding.TOWARD_ZERO).tolist() == [-1, 0, 0, 1]


@pytest.mark.parametrize("mode", list(Rounding))
def test_int32_extremes_all_shifts(mode: Rounding) -> None:
    a = np.array([INT32_MIN, INT32_MIN + 1, -1, 0, 1, INT32_MAX - 1, INT32_MAX])
    for s in range(32):
        got = round_shift(a, s, mode)
        assert got.tolist() == [exact_round(int(v), s, mode) for v in a]


@pytest.mark.parametrize("mode", list(Rounding))
@given(a=acc32, b=acc32, s=shifts)
def test_monotonic(mode: Rounding, a: int, b: int, s: int) -> None:
    lo, hi = min(a, b), max(a, b)
    r = round_shift(np.array([lo, hi]), s, mode)
    assert r[0] <= r[1]


def test_negative_shift_is_exact_left_shift() -> None:
    assert round_shift(np.array([3, -3]), -2, Rounding.HALF_UP).tolist() == [12, -12]
    assert round_shift_scalar(np.int64(-3), -2, 0) == -12


def test_per_channel_shift_broadcasts() -> None:
    acc = np.arange(12).reshape(3, 2, 2)
    got = round_shift(acc, np.array([0, 1, 2])[:, None, None], Rounding.FLOOR)
    assert got.tolist() == [[[0, 1], [2, 3]], [[2, 2], [3, 3]], [[2, 2], [2, 2]]]


@given(x=st.integers(-(2**40), 2**40), width=st.integers(2, 32), signed=st.booleans())
def test_saturation_both_ends(x: int, width: int, signed: bool) -> None:
    t = FixedType(width, 0, signed)
    got = int(saturate(np.array([x]), width, signed)[0])
    assert got == min(max(x, t.min_code), t.max_code)
    assert count_saturations(np.array([x]), width, signed) == int(got != x)
    assert clamp_scalar(np.int64(x), t.min_code, t.max_code) == got


@given(x=st.integers(-(2**40), 2**40), width=st.integers(2, 32))
def test_wrap_is_twos_complement(x: int, width: int) -> None:
    m = 2**width
    want = ((x + m // 2) % m) - m // 2
    assert int(wrap(np.array([x]), width)[0]) == want
    assert wrap_scalar(np.int64(x), width) == want
    assert int(fit_accumulator(np.array([x]), width, Overflow.WRAP)[0]) == want


@given(x=st.integers(-(2**40), 2**40), width=st.integers(2, 32), overflow=st.sampled_from(Overflow))
def test_accumulator_fit_scalar_twin(x: int, width: int, overflow: Overflow) -> None:
    want = int(fit_accumulator(np.array([x]), width, overflow)[0])
    assert fit_accumulator_scalar(np.int64(x), width, overflow.code) == want
    assert signed_range_scalar(width) == int_range(width, True)


@given(x=st.integers(-(2**30), 2**30 - 1), width=st.integers(2, 30))
def test_int32_wrap_and_clamp_twins(x: int, width: int) -> None:
    """The int32 kernels' wrap and clamp equal the array versions on their proven range."""
    half, mask = np.int32(1 << (width - 1)), np.int32((1 << width) - 1)
    assert wrap_i32(np.int32(x), half, mask) == int(wrap(np.array([x]), width)[0])
    lo, hi = (np.int32(v) for v in (-(1 << (width - 1)), (1 << (width - 1)) - 1))
    assert clamp_i32(np.int32(x), lo, hi) == int(saturate(np.array([x]), width, True)[0])


def test_requantize_saturates_after_rounding() -> None:
    u8 = FixedType(8, 8, False)
    assert requantize(np.array([1021, 1022, -2]), 2, Rounding.HALF_UP, u8).tolist() == [255, 255, 0]
    s8 = FixedType(8, 0, True)
    assert requantize(np.array([-1000, 1000]), 0, Rounding.FLOOR, s8).tolist() == [-128, 127]


def test_refuses_float_input() -> None:
    with pytest.raises(TypeError):
        round_shift(np.array([0.5]), 1, Rounding.HALF_UP)


def test_power_of_two_scales() -> None:
    assert is_power_of_two(2.0**-13) and is_power_of_two(4.0)
    assert not is_power_of_two(0.3) and not is_power_of_two(0.0) and not is_power_of_two(-0.5)
    assert frac_bits_of(2.0**-13) == 13 and frac_bits_of(4.0) == -2
    with pytest.raises(ValueError):
        frac_bits_of(0.003)
    assert bits_for(2**31 - 1) == 32 and bits_for(2**31) == 33
