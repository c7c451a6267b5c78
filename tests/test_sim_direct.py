"""The direct-convolution paths: each kernel equals its twin, and the engine on them equals
the integer reference, the im2col/BLAS path and the int64 path, bit for bit.

The direct paths (``hwsr.sim.direct``) sum a layer's products straight from the line buffer
and requantize in the same pass: in int32 by the AVX-512 VNNI kernel (uint8 codes × int8
weights, where the host has it) or in float32. The float32 path is chosen only where the
per-layer bound proves float32 sums exact, so these tests draw weights up to that bound and
check the choice is refused beyond it; the int8 tests draw the int8 extremes (-128, 127 and
255 codes), channel counts that leave partial four-channel words and partial 28-channel
kernel groups, and widths that leave partial 16-pixel blocks.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hwsr.program import load_program
from hwsr.sim import _naive, direct, simulate, test_pattern, vnni
from hwsr.sim.engine import EngineSim
from hwsr.spec import STAGES, EngineSpec
from tests.strategies import EXACT_CASES, engine_specs, frames, random_program
from tests.test_sim_exact import assert_sim_equals_reference
from tests.test_sim_kernels import windows

F32_EXACT = 2**24


@st.composite
def direct_cases(draw: st.DrawFn) -> dict:
    """A window, weights whose worst-case sum just fits float32, and int32 requant params."""
    w = draw(windows())
    rng = w["rng"]
    k, c = w["kernel"], w["channels"]
    c_out = draw(st.integers(1, 9))
    x_max = int(max(np.abs(w["ring"]).max(initial=0), np.abs(w["incoming"]).max(), 1))
    w_max = max(1, (F32_EXACT - 1) // (x_max * k * k * c))  # sum(|w|) * x_max < 2**24
    if draw(st.booleans()):
        w_max = min(w_max, 7)
    weight = rng.integers(-w_max, w_max + 1, (c_out, c, k, k)).astype(np.int64)
    worst = int(np.abs(weight).reshape(c_out, -1).sum(axis=1).max()) * x_max
    bias = rng.integers(-2**20, 2**20 + 1, c_out)
    worst += int(np.abs(bias).max())
    shift = rng.integers(-4, 31, c_out)
    shift = np.where(worst << np.maximum(-shift, 0) >= 2**30, np.abs(shift), shift)
    acc_bits = draw(st.integers(8, 32))
    fit = 0 if worst < 2 ** (acc_bits - 1) else draw(st.sampled_from([1, 2]))
    if fit and acc_bits > 30:
        acc_bits = 30
    signed = draw(st.booleans())
    bits = draw(st.integers(2, 15))
    out_lo, out_hi = (-(1 << (bits - 1)), (1 << (bits - 1)) - 1) if signed else (0, (1 << bits) - 1)
    n_out = w["n_in"] - w["skip"]
    return dict(w=w, weight=weight, bias=bias.astype(np.int32),
                lshift=np.maximum(-shift, 0).astype(np.int32),
                rshift=np.maximum(shift, 0).astype(np.int32), relu=draw(st.booleans()),
                acc_bits=acc_bits, fit=fit, rounding=draw(st.integers(0, 3)), out_lo=out_lo,
                out_hi=out_hi, out=np.full((max(n_out, 1) + 1, c_out * w["width"]), 3, np.int16),
                n_out=n_out)


@given(case=direct_cases())
def test_direct_kernel_equals_twin(case: dict) -> None:
    w = case["w"]
    k, c, width = w["kernel"], w["channels"], w["width"]
    wpack, taps = direct.pack_weights(case["weight"])
    results = []
    for fn in (direct.conv_requant_f32, _naive.conv_requant_f32):
        out, stats = case["out"].copy(), np.zeros(3, np.int64)
        fwin = np.full((k * c, width + k - 1), np.nan, np.float32)  # stale scratch is ignored
        acc = np.full((direct.DIRECT_GROUP, width), np.nan, np.float32)
        fn(w["ring"], w["head"], w["incoming"], case["n_out"], w["skip"], width, c, k, wpack,
           taps, case["bias"], case["lshift"], case["rshift"], case["relu"], case["acc_bits"],
           case["fit"], case["rounding"], case["out_lo"], case["out_hi"], out, fwin, acc, stats)
        results.append((out, stats))
    assert np.array_equal(results[0][0], results[1][0])  # rows past n_out untouched too
    assert results[0][1].tolist() == results[1][1].tolist()
    EXACT_CASES["kernel == twin: conv_requant_f32 (direct)"] += 1


@given(weight=st.integers(0, 2**32 - 1), c_out=st.integers(1, 9), c_in=st.integers(1, 7),
       k=st.sampled_from([1, 3, 5]))
def test_packing_holds_every_weight_once(weight: int, c_out: int, c_in: int, k: int) -> None:
    w = np.random.default_rng(weight).integers(-127, 128, (c_out, c_in, k, k))
    wpack, taps = direct.pack_weights(w)
    rebuilt = np.zeros_like(w)
    for p in range(taps.shape[0]):
        for m in range(taps.shape[1]):
            dy, c = divmod(int(taps[p, m, 0]), c_in)
            col = wpack[:, p, :, m].reshape(-1)[:c_out]
            rebuilt[:, c, dy, int(taps[p, m, 1])] += col.astype(np.int64)
    assert np.array_equal(rebuilt, w)


# a direct path is 'auto'; these host configurations must equal it and the reference
DIRECT_CONFIGS = (
    ("direct", {}),
    ("im2col/BLAS", {"mac_path": "blas"}),
    ("direct, two lanes, one-row blocks", {"block_rows": 1, "lanes": 2}),
    ("direct, one lane, 5-row blocks", {"block_rows": 5, "lanes": 1}),
    ("float32 direct, two lanes", {"mac_path": "float32", "lanes": 2}),
)
needs_vnni = pytest.mark.skipif(not vnni.available(),
                                reason="this CPU has no AVX-512 VNNI (the int8 path is off)")


@st.composite
def int8_cases(draw: st.DrawFn) -> dict:
    """A uint8 window, int8 weights (extremes likely) and int32 requant parameters."""
    kernel = draw(st.sampled_from([1, 3, 5]))
    width = draw(st.integers(1, 40))
    channels = draw(st.integers(1, 9))
    n_in = draw(st.integers(0, 5))
    skip = draw(st.integers(0, n_in))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    codes = np.array([0, 1, 254, 255], np.uint8)
    pick = draw(st.booleans())
    def rows(n: int) -> np.ndarray:  # noqa: E306
        shape = (n, width * channels)
        return rng.choice(codes, shape) if pick else rng.integers(0, 256, shape, np.uint8)
    c_out = draw(st.sampled_from([1, 3, 4, 20, 27, 28, 29, 57]))
    weight = (rng.choice(np.array([-128, -1, 0, 1, 127]), (c_out, channels, kernel, kernel))
              if draw(st.booleans()) else rng.integers(-128, 128, (c_out, channels, kernel,
                                                                   kernel)))
    worst = kernel * kernel * channels * 128 * 255
    bias = rng.integers(-2**20, 2**20 + 1, c_out)
    shift = rng.integers(0, 31, c_out)
    acc_bits = draw(st.integers(8, 32))
    fit = 0 if worst + 2**20 < 2 ** (acc_bits - 1) else draw(st.sampled_from([1, 2]))
    if fit and acc_bits > 30:
        acc_bits = 30
    n_out = n_in - skip
    return dict(ring=rows(kernel - 1), head=draw(st.integers(0, max(kernel - 2, 0))),
                incoming=rows(max(n_in, 1)), skip=skip, width=width, channels=channels,
                kernel=kernel, weight=weight.astype(np.int64), bias=bias.astype(np.int32),
                lshift=np.zeros(c_out, np.int32), rshift=shift.astype(np.int32),
                relu=draw(st.booleans()), acc_bits=acc_bits, fit=fit,
                rounding=draw(st.integers(0, 3)), n_out=n_out,
                out=np.full((max(n_out, 1) + 1, c_out * width), 3, np.int16))


@needs_vnni
@given(case=int8_cases())
def test_int8_kernel_equals_twin(case: dict) -> None:
    k, c, width, c_out = case["kernel"], case["channels"], case["width"], len(case["bias"])
    wq, fns = vnni.pack_weights(case["weight"]), vnni.kernel_table(c_out)
    s_shape, a_shape, n_taps = direct.i8_scratch_shapes(width, c, k, c_out)
    results = []
    for fn in (direct.conv_requant_i8, _naive.conv_requant_i8):
        out, stats = case["out"].copy(), np.zeros(3, np.int64)
        strips = np.full(s_shape, 0xDEADBEEF, np.uint32)  # stale scratch is overwritten
        acc = np.full(a_shape, -7, np.int32)
        fn(case["ring"], case["head"], case["incoming"], case["n_out"], case["skip"], width, c,
           k, wq, fns, case["bias"], case["lshift"], case["rshift"], case["relu"],
           case["acc_bits"], case["fit"], case["rounding"], -512, 511, out, strips,
           np.zeros(n_taps, np.int64), acc, stats)
        results.append((out, stats))
    assert np.array_equal(results[0][0], results[1][0])  # rows past n_out untouched too
    assert results[0][1].tolist() == results[1][1].tolist()
    EXACT_CASES["kernel == twin: conv_requant_i8 (VNNI)"] += 1


@given(seed=st.integers(0, 2**32 - 1), c_out=st.integers(1, 9), c_in=st.integers(1, 9),
       k=st.sampled_from([1, 3, 5]))
def test_int8_packing_holds_every_weight_once(seed: int, c_out: int, c_in: int, k: int) -> None:
    w = np.random.default_rng(seed).integers(-128, 128, (c_out, c_in, k, k))
    wq = vnni.pack_weights(w)
    groups = -(-c_in // 4)
    assert wq.shape == (k * k * groups, c_out)
    b = wq.view(np.int8).reshape(k, k, groups, c_out, 4)  # (dy, dx, g, o, i)
    rebuilt = b.transpose(3, 2, 4, 0, 1).reshape(c_out, groups * 4, k, k)
    assert np.array_equal(rebuilt[:, :c_in], w) and not rebuilt[:, c_in:].any()


def test_int8_refusals() -> None:
    """Weights outside int8 are refused by the packer, and a layer that cannot run int8
    says why when ``mac_path='int8'`` demands it."""
    with pytest.raises(ValueError, match="int8"):
        vnni.pack_weights(np.full((1, 1, 1, 1), 128))
    program = load_program("models/hwsr-s/program.npz")
    with pytest.raises(ValueError, match="int8 MACs cannot run this layer"):
        EngineSim(program, "dual", width=8, mac_path="int8", requant_path="int64")


def test_int8_mac_ir_uses_vnni() -> None:
    """The kernel's IR calls the VNNI dot product once per output channel of the group."""
    text = vnni.mac_ir(20)
    assert text.count("call <16 x i32> @\"llvm.x86.avx512.vpdpbusd.512\"") == 20
    with pytest.raises(ValueError):
        vnni.mac_ir(vnni.GROUP_MAX + 1)


@given(spec=engine_specs(), frame=frames(), seed=st.integers(0, 2**32 - 1),
       extreme=st.booleans(), stage=st.sampled_from(STAGES))
@settings(max_examples=60)
def test_direct_and_blas_paths_match_reference(spec: EngineSpec, frame: np.ndarray, seed: int,
                                               extreme: bool, stage: str) -> None:
    program = random_program(spec, np.random.default_rng(seed), extreme)
    assert_sim_equals_reference(program, frame, stage, DIRECT_CONFIGS)
    for s in EngineSim(program, stage, width=frame.shape[1]).stages:
        for u in s.units:  # how often each datapath was exercised
            EXACT_CASES[f"  ... of which layers on the {u.mac_path} path"] += 1


def _without_mac_path(report: object) -> dict:
    d = report.to_json_dict()  # type: ignore[attr-defined]
    for stage in d["stages"]:
        for layer in stage["layers"]:
            layer.pop("mac_path")
    return d


def test_default_model_runs_direct_and_equals_blas() -> None:
    """Every layer of the shipped engine takes a direct path (int8 where the host has VNNI,
    else float32); the frame, statistics and taps equal the im2col/BLAS path's (a wide
    frame, odd height, both lane counts, both direct datapaths)."""
    program = load_program("models/hwsr-s/program.npz")
    frame = test_pattern(203, 37)
    sim = EngineSim(program, "dual", width=203)
    int8 = vnni.available()
    assert all((u.int8 if int8 else u.direct) for s in sim.stages for u in s.units)
    assert all(u.mac_path == ("int8" if int8 else "float32") for s in sim.stages
               for u in s.units)
    want = simulate(program, frame, "dual", mac_path="blas", lanes=1)
    for lanes, mac_path in ((1, "auto"), (2, "auto"), (2, "float32")):
        got = simulate(program, frame, "dual", lanes=lanes, mac_path=mac_path)
        assert np.array_equal(got.frame, want.frame)
        assert _without_mac_path(got.report) == _without_mac_path(want.report)
    taps: dict[str, list[np.ndarray]] = {"direct": [], "blas": []}
    for name, mp in (("direct", "auto"), ("blas", "blas")):
        simulate(program, frame, "dual", mac_path=mp,
                 tap=lambda point, rows, n=name: taps[n].append((point, rows.copy())))
    assert [p for p, _ in taps["direct"]] == [p for p, _ in taps["blas"]]
    assert all(np.array_equal(a, b) for (_, a), (_, b) in zip(taps["direct"], taps["blas"],
                                                              strict=True))
    EXACT_CASES["simulator direct == im2col/BLAS (hwsr-s frame, taps)"] += 1


def test_direct_path_refused_beyond_the_bound(monkeypatch: pytest.MonkeyPatch) -> None:
    """A float32 bound too small for one chunk: without the int8 kernel (as on a CPU
    without VNNI) the layer leaves the direct path."""
    monkeypatch.setattr(vnni, "available", lambda: False)
    program = load_program("models/hwsr-s/program.npz")
    sim = EngineSim(program, "dual", width=16, f32_limit=2**12)
    assert not any(u.direct for s in sim.stages for u in s.units)
    frame = test_pattern(16, 9)
    assert np.array_equal(sim.run_frame(frame), simulate(program, frame, "dual").frame)
