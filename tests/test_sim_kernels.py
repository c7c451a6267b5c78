"""Kernels and their twins: each numba kernel equals its plain NumPy twin, exactly.

The twins (``hwsr.sim._naive``) are written from the array arithmetic of ``hwsr.fixed``, the
kernels from its scalar twins or the int32 fast-path helpers; the inputs here are random
codes, windows and shifts, including the int32 fast paths' extremes.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from hwsr.fixed import Rounding, round_shift
from hwsr.sim import _kernels, _naive, ops
from tests.strategies import EXACT_CASES

CODE_DTYPES = [np.uint8, np.int16, np.int32, np.int64]


@st.composite
def windows(draw: st.DrawFn, max_width: int = 9, max_channels: int = 5) -> dict:
    """A ring line buffer, its head and arriving rows, for a k×k kernel."""
    kernel = draw(st.sampled_from([1, 3, 5]))
    width = draw(st.integers(1, max_width))
    channels = draw(st.integers(1, max_channels))
    n_in = draw(st.integers(0, 6))
    skip = draw(st.integers(0, n_in))
    dtype = draw(st.sampled_from(CODE_DTYPES))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    hi = 255 if dtype == np.uint8 else 2000
    lo = 0 if dtype == np.uint8 else -2000
    ring = rng.integers(lo, hi + 1, (kernel - 1, width * channels)).astype(dtype)
    incoming = rng.integers(lo, hi + 1, (max(n_in, 1), width * channels)).astype(dtype)
    head = draw(st.integers(0, max(kernel - 2, 0)))
    return dict(ring=ring, head=head, incoming=incoming, n_in=n_in, skip=skip, width=width,
                channels=channels, kernel=kernel, rng=rng)


@given(w=windows(), acc_dtype=st.sampled_from([np.float32, np.int64]), p0=st.integers(0, 3))
def test_im2col_equals_twin(w: dict, acc_dtype: type, p0: int) -> None:
    n_out = w["n_in"] - w["skip"]
    k, c = w["kernel"], w["channels"]
    got = np.full((c * k * k, p0 + max(n_out, 1) * w["width"] + 2), -7, acc_dtype)
    want = got.copy()
    args = (w["ring"], w["head"], w["incoming"], n_out, w["skip"], w["width"], c, k)
    ops.im2col(*args, got, p0)
    _naive.im2col(*args, want, p0)
    assert np.array_equal(got, want)  # columns outside [p0, p0 + n_out*width) untouched too
    EXACT_CASES["kernel == twin: im2col"] += 1


@given(w=windows(), c_out=st.integers(1, 4), p0=st.integers(0, 3))
def test_conv_i64_equals_twin(w: dict, c_out: int, p0: int) -> None:
    n_out = w["n_in"] - w["skip"]
    k, c = w["kernel"], w["channels"]
    weight = w["rng"].integers(-2**20, 2**20, (c_out, c, k, k)).astype(np.int64)
    got = np.full((1, c_out, p0 + max(n_out, 1) * w["width"]), 5, np.int64)
    want = got.copy()
    args = (w["ring"], w["head"], w["incoming"], n_out, w["skip"], w["width"], c, weight)
    ops.conv_i64(*args, got, p0)
    _naive.conv_i64(*args, want, p0)
    assert np.array_equal(got, want)
    EXACT_CASES["kernel == twin: conv_i64"] += 1


@given(w=windows())
def test_ring_push_equals_twin(w: dict) -> None:
    ring_a, ring_b = w["ring"].copy(), w["ring"].copy()
    head_a = ops.ring_push(ring_a, w["head"], w["incoming"], w["n_in"])
    head_b = _naive.ring_push(ring_b, w["head"], w["incoming"], w["n_in"])
    n = ring_a.shape[0]
    assert np.array_equal(_naive.window_rows(ring_a, head_a, ring_a[:0], n),
                          _naive.window_rows(ring_b, head_b, ring_b[:0], n))
    EXACT_CASES["kernel == twin: ring_push"] += 1


@st.composite
def requant_cases(draw: st.DrawFn, small: bool = False) -> dict:
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    n_rows, width, c_out = draw(st.integers(1, 4)), draw(st.integers(1, 5)), draw(st.integers(1, 5))
    p0 = draw(st.integers(0, 3))
    acc_bits = draw(st.integers(8, 32))
    mag = 2**23 - 1 if small else 2**40
    chunks = 1 if small else draw(st.integers(1, 3))
    acc = rng.integers(-mag, mag + 1, (chunks, c_out, p0 + n_rows * width + 1))
    if small:  # every |acc + bias| below 2**30 with room for the left shift
        bias = rng.integers(-2**20, 2**20 + 1, c_out)
        shift = rng.integers(-5, 31, c_out)
    else:
        bias = rng.integers(-2**31, 2**31, c_out)
        shift = rng.integers(-20, 63, c_out)
    signed = draw(st.booleans())
    bits = draw(st.integers(2, 16))
    out_lo, out_hi = (-(1 << (bits - 1)), (1 << (bits - 1)) - 1) if signed else (0, (1 << bits) - 1)
    out = np.zeros((n_rows, c_out * width), np.int16 if signed or bits < 16 else np.int32)
    return dict(acc=acc, p0=p0, n_rows=n_rows, width=width, bias=bias.astype(np.int64),
                shift=shift.astype(np.int64), relu=draw(st.booleans()), acc_bits=acc_bits,
                overflow=draw(st.integers(0, 1)), rounding=draw(st.integers(0, 3)),
                out_lo=out_lo, out_hi=out_hi, out=out)


@given(case=requant_cases(), float_acc=st.booleans())
def test_requant_equals_twin(case: dict, float_acc: bool) -> None:
    acc = case["acc"]
    if float_acc:  # the float32 MAC path only hands over integers below 2**24
        acc = np.clip(acc, -(2**24 - 1), 2**24 - 1).astype(np.float32)
    results = []
    for fn in (ops.requant, _naive.requant):
        out, stats = case["out"].copy(), np.zeros(3, np.int64)
        fn(acc, case["p0"], case["n_rows"], case["width"], case["bias"], case["shift"],
           case["relu"], case["acc_bits"], case["overflow"], case["rounding"], case["out_lo"],
           case["out_hi"], out, stats)
        results.append((out, stats))
    assert np.array_equal(results[0][0], results[1][0])
    assert results[0][1].tolist() == results[1][1].tolist()
    EXACT_CASES["kernel == twin: requant"] += 1


@given(case=requant_cases(small=True))
def test_requant_i32_equals_twin(case: dict) -> None:
    """The int32 fast path equals the general twin wherever its preconditions hold."""
    acc = case["acc"].astype(np.float32)
    shift, bias = case["shift"], case["bias"]
    worst = int(np.abs(case["acc"]).max() + np.abs(bias).max())
    shift = np.where(worst << np.maximum(-shift, 0) >= 2**30, 0, shift)
    acc_bits = case["acc_bits"]
    fit = 0 if worst < 2 ** (acc_bits - 1) else (1 + case["overflow"])
    if fit and acc_bits > 30:
        acc_bits = 30
    params = (bias.astype(np.int32), np.maximum(-shift, 0).astype(np.int32),
              np.maximum(shift, 0).astype(np.int32))
    head = (acc, case["p0"], case["n_rows"], case["width"], *params, case["relu"], acc_bits,
            fit, case["rounding"], case["out_lo"], case["out_hi"])
    got_out, got_stats = case["out"].copy(), np.zeros(3, np.int64)
    ops.requant_i32(*head, got_out, got_stats)
    want_out, want_stats = case["out"].copy(), np.zeros(3, np.int64)
    _naive.requant(acc, case["p0"], case["n_rows"], case["width"], bias, shift, case["relu"],
                   acc_bits, case["overflow"], case["rounding"], case["out_lo"],
                   case["out_hi"], want_out, want_stats)
    twin_out, twin_stats = case["out"].copy(), np.zeros(3, np.int64)
    _naive.requant_i32(*head, twin_out, twin_stats)
    if fit == 0:
        assert want_stats[1] == 0
    assert np.array_equal(got_out, want_out) and np.array_equal(twin_out, want_out)
    assert got_stats.tolist() == want_stats.tolist() == twin_stats.tolist()
    EXACT_CASES["kernel == twin: requant_i32"] += 1


@st.composite
def residual_cases(draw: st.DrawFn) -> dict:
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    width, r = draw(st.integers(1, 6)), draw(st.integers(1, 3))
    delay_rows, n_in = draw(st.integers(0, 4)), draw(st.integers(0, 4))
    n_rows = draw(st.integers(0, delay_rows + n_in))
    t0 = draw(st.integers(0, delay_rows + n_in - n_rows))
    residual = draw(st.booleans())
    if not residual:
        delay_rows, t0 = 0, 0
    return dict(
        conv=rng.integers(-512, 512, (max(n_rows, 1), 3 * r * r * width)).astype(np.int16),
        n_rows=n_rows, width=width, upscale=r,
        ring=rng.integers(0, 256, (delay_rows, width * 3)).astype(np.uint8),
        head=draw(st.integers(0, max(delay_rows - 1, 0))),
        incoming=rng.integers(0, 256, (max(n_in, 1), width * 3)).astype(np.uint8),
        t0=t0, residual=residual, conv_lshift=draw(st.integers(0, 6)),
        in_lshift=draw(st.integers(0, 6)), out_shift=draw(st.integers(0, 8)),
        rounding=draw(st.integers(0, 3)))


@pytest.mark.parametrize("kernel", [ops.residual_shuffle, ops.residual_shuffle_i32])
@given(case=residual_cases())
def test_residual_shuffle_equals_twin(kernel, case: dict) -> None:  # type: ignore[no-untyped-def]
    results = []
    for fn in (kernel, _naive.residual_shuffle):
        out = np.zeros((max(case["n_rows"], 1) * case["upscale"],
                        case["width"] * case["upscale"] * 3), np.uint8)
        stats = np.zeros(1, np.int64)
        fn(case["conv"], case["n_rows"], case["width"], case["upscale"], case["ring"],
           case["head"], case["incoming"], case["t0"], case["residual"], case["conv_lshift"],
           case["in_lshift"], case["out_shift"], case["rounding"], out, stats)
        results.append((out, int(stats[0])))
    assert np.array_equal(results[0][0], results[1][0])
    assert results[0][1] == results[1][1]
    EXACT_CASES[f"kernel == twin: {kernel.__name__}"] += 1


@given(a=st.integers(-(2**30) + 1, 2**30 - 1), rs=st.integers(0, 30),
       rounding=st.sampled_from(list(Rounding)))
def test_round_shift_i32_equals_fixed(a: int, rs: int, rounding: Rounding) -> None:
    got = int(_kernels.round_shift_i32(np.int32(a), np.int32(rs), rounding.code))
    assert got == int(round_shift([a], rs, rounding)[0])


def test_wrappers_refuse_bad_arrays() -> None:
    ring = np.zeros((2, 6), np.uint8)
    cols = np.zeros((18, 9), np.float32)
    with pytest.raises(ValueError, match="dtype"):
        ops.im2col(ring, 0, np.zeros((3, 6), np.int16), 1, 0, 3, 2, 3, cols)
    with pytest.raises(ValueError, match="C-contiguous"):
        ops.im2col(ring, 0, np.zeros((3, 12), np.uint8)[:, ::2], 1, 0, 3, 2, 3, cols)
    with pytest.raises(ValueError, match="hold codes"):
        ops.ring_push(np.zeros((2, 6), np.float64), 0, np.zeros((1, 6), np.float64), 1)
    with pytest.raises(ValueError, match="window needs"):
        ops.im2col(ring, 0, np.zeros((1, 6), np.uint8), 3, 0, 3, 2, 3, cols)
    with pytest.raises(ValueError, match="too few pixel columns"):
        ops.im2col(ring, 0, np.zeros((3, 6), np.uint8), 3, 0, 3, 2, 3, cols, p0=1)
