"""The direct-convolution paths: each kernel equals its twin, and the engine on them equals
the integer reference, the im2col/BLAS path and the int64 path, bit for bit.

The direct paths (``hwsr.sim.direct``) sum a layer's products straight from the line buffer
and requantize in the same pass: in int32 by the host's int8 kernel variant (uint8 codes ×
int8 weights; its own tests are in ``test_sim_int8.py``) or in float32. The float32 path is
chosen only where the per-layer bound proves float32 sums exact, so these tests draw weights
up to that bound and check the choice is refused beyond it.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hwsr.program import load_program
from hwsr.sim import _naive, direct, int8, simulate, test_pattern
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
            layer.pop("host_kernel")
    return d


def test_default_model_runs_direct_and_equals_blas() -> None:
    """Every layer of the shipped engine takes a direct path (int8 where the host has an int8
    kernel, else float32); the frame, statistics and taps equal the im2col/BLAS path's (a wide
    frame, odd height, both lane counts, both direct datapaths)."""
    program = load_program("models/hwsr-s/program.npz")
    frame = test_pattern(203, 37)
    sim = EngineSim(program, "dual", width=203)
    on_int8 = int8.available()
    assert all((u.int8 if on_int8 else u.direct) for s in sim.stages for u in s.units)
    assert all(u.mac_path == ("int8" if on_int8 else "float32") for s in sim.stages
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
    """A float32 bound too small for one chunk: without the int8 kernels (``HWSR_SIM_INT8=0``,
    or a host with none) the layer leaves the direct path."""
    monkeypatch.setenv(int8.ENV_SWITCH, "0")
    program = load_program("models/hwsr-s/program.npz")
    sim = EngineSim(program, "dual", width=16, f32_limit=2**12)
    assert not any(u.direct for s in sim.stages for u in s.units)
    frame = test_pattern(16, 9)
    assert np.array_equal(sim.run_frame(frame), simulate(program, frame, "dual").frame)
