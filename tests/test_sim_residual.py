"""The compiled output stage (residual add, pixel requantization, pixel shuffle), every
target this host runs.

The kernel of each int8 variant's target (AVX-512, the 256-bit AVX2-only target, generic
vector IR) is held equal to the numba kernels (int32 and int64) and the NumPy twin on rows
with extreme codes and pixels, every rounding mode, every conv code type, ``r`` = 1, 2 and 3,
residual on and off, widths that leave partial vector blocks; the stage picks it, and falls
back to the numba kernel where no variant is active or the kernel does not pass its
self-test.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from hwsr.program import load_program
from hwsr.sim import _naive, _objcache, int8, ops, residual, simulate, test_pattern
from hwsr.sim._residual_ir import ResidualKind, residual_ir
from hwsr.sim.engine import EngineSim
from tests.strategies import EXACT_CASES
from tests.test_sim_int8 import VARIANTS
from tests.test_sim_int8 import _run as run_python

WIDTHS = [1, 2, 7, 8, 9, 15, 16, 17, 31, 33, 47, 70]  # partial 8- and 16-pixel blocks


@st.composite
def output_cases(draw: st.DrawFn) -> dict:
    """Conv rows of any code type (extremes likely) inside the int32 proof, their window of
    input pixels (delay line, then arriving rows), shifts and a rounding mode."""
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    dt = draw(st.sampled_from(residual.CONV_DTYPES))
    width, r = draw(st.sampled_from(WIDTHS)), draw(st.sampled_from([1, 2, 3]))
    res = draw(st.booleans())
    delay_rows, n_in = (draw(st.integers(0, 3)), draw(st.integers(0, 3))) if res else (0, 0)
    n_rows = draw(st.integers(0, delay_rows + n_in))
    t0 = draw(st.integers(0, delay_rows + n_in - n_rows))
    cls, ils, rs = draw(st.integers(0, 8)), draw(st.integers(0, 12)), draw(st.integers(0, 30))
    room = (residual.PROVEN_BOUND - 1 - (255 << ils)) >> cls
    lo, hi = max(int(np.iinfo(dt).min), -room), min(int(np.iinfo(dt).max), room)
    shape = (max(n_rows, 1), 3 * r * r * width)
    extremes = np.array([lo, hi, 0, 1, max(lo, -1), hi >> 1, lo >> 1, 255 << rs, -(1 << rs)])
    conv = (rng.choice(np.clip(extremes, lo, hi), shape) if draw(st.booleans())
            else rng.integers(lo, hi + 1, shape)).astype(dt)
    pixels = np.array([0, 1, 127, 128, 254, 255], np.uint8)
    return dict(conv=conv, n_rows=n_rows, width=width, upscale=r,
                ring=rng.choice(pixels, (delay_rows, 3 * width)),
                head=draw(st.integers(0, max(delay_rows - 1, 0))),
                incoming=rng.integers(0, 256, (max(n_in, 1), 3 * width), np.uint8), t0=t0,
                residual=res, conv_lshift=cls, in_lshift=ils, out_shift=rs,
                rounding=draw(st.integers(0, 3)))


def _run(kernel: object, case: dict, **kw: object) -> tuple[np.ndarray, int]:
    r = case["upscale"]
    out = np.full((max(case["n_rows"], 1) * r + 1, case["width"] * r * 3), 7, np.uint8)
    stats = np.full(1, 5, np.int64)  # counts are added to what is there
    kernel(case["conv"], case["n_rows"], case["width"], r, case["ring"], case["head"],  # type: ignore[operator]
           case["incoming"], case["t0"], case["residual"], case["conv_lshift"],
           case["in_lshift"], case["out_shift"], case["rounding"], out, stats, **kw)
    return out, int(stats[0])


@pytest.mark.parametrize("isa", VARIANTS)
@given(case=output_cases())
def test_compiled_output_stage_equals_numba_and_twin(isa: int8.Isa, case: dict) -> None:
    fn = residual.residual_address(isa, case["rounding"], case["conv"].dtype, case["upscale"],
                                   case["residual"])
    assert fn != 0
    got = _run(ops.residual_shuffle_i32, case, fn=fn)
    for other in (ops.residual_shuffle_i32, ops.residual_shuffle, _naive.residual_shuffle):
        want = _run(other, case)
        assert np.array_equal(got[0], want[0]) and got[1] == want[1]  # rows past n_rows too
    EXACT_CASES[f"kernel == twin: compiled residual + shuffle ({isa.name})"] += 1


@pytest.mark.parametrize("isa", VARIANTS)
def test_every_kernel_passes_its_self_test(isa: int8.Isa) -> None:
    """Every rounding mode, code type, r and residual flag gets the compiled kernel here."""
    for rounding in range(4):
        for dt in residual.CONV_DTYPES:
            for r in (1, 3):
                for res in (False, True):
                    assert residual.residual_address(isa, rounding, dt, r, res) != 0


@pytest.mark.parametrize("isa", VARIANTS)
def test_self_test_catches_a_wrong_kernel(isa: int8.Isa) -> None:
    """A kernel of other constants (rounding mode, residual flag, r) fails the self-test of
    these, so a miscompiled kernel would never be used."""
    kind = residual.kind_for(isa, 0, np.dtype(np.int16), 3, True)
    ok = residual.residual_address(isa, 0, np.dtype(np.int16), 3, True)
    assert residual._self_test(ok, kind)
    for wrong in ((2, 3, True), (0, 3, False), (0, 1, True)):
        addr = residual.residual_address(isa, wrong[0], np.dtype(np.int16), *wrong[1:])
        assert not residual._self_test(addr, kind)


@pytest.mark.parametrize("isa", VARIANTS)
def test_assembly_keeps_to_the_variants_registers(isa: int8.Isa) -> None:
    """A 256-bit target's kernel (forced here) uses no zmm register, so it runs on a CPU
    without AVX-512; the AVX-512 one uses zmm."""
    kind = residual.kind_for(isa, 1, np.dtype(np.int16), 3, True)
    asm = _objcache.assembly(residual_ir(kind), isa.target)
    assert ("%zmm" in asm) == (isa.vector_bits == 512) and "%ymm" in asm


def test_failed_kernel_falls_back_to_numba(monkeypatch: pytest.MonkeyPatch) -> None:
    isa = int8.VARIANTS[-1]  # generic: any host compiles it
    args = (isa, 0, np.dtype(np.int16), 3, True)
    monkeypatch.setattr(residual, "_self_test", lambda addr, kind: False)
    assert residual.residual_address.__wrapped__(*args) == 0

    def broken(kind: ResidualKind) -> str:
        raise RuntimeError("no backend")
    monkeypatch.setattr(residual, "residual_ir", broken)
    assert residual.residual_address.__wrapped__(*args) == 0
    assert residual.residual_address.__wrapped__(None, *args[1:]) == 0
    with pytest.raises(ValueError, match="no output-stage kernel"):
        residual.kind_for(isa, 0, np.dtype(np.int8), 3, True)


@pytest.mark.parametrize("isa", VARIANTS)
def test_default_model_output_stage_on_each_variant(isa: int8.Isa) -> None:
    """hwsr-s forced onto each variant runs both stages' output on the compiled kernel and
    equals the numba int64 output stage; with the int8 kernels off the stage keeps numba."""
    program = load_program("models/hwsr-s/program.npz")
    frame = test_pattern(67, 13)
    want = simulate(program, frame, "dual", requant_path="int64", lanes=1)
    with int8.forced(isa.name):
        sim = EngineSim(program, "dual", width=frame.shape[1], lanes=2)
        got = simulate(program, frame, "dual", lanes=2)
    assert all(s.residual_fn != 0 for s in sim.stages)
    assert np.array_equal(got.frame, want.frame)
    assert [s.output_saturations for s in got.report.stages] == \
        [s.output_saturations for s in want.report.stages]
    with int8.forced("0"):
        assert all(s.residual_fn == 0 for s in EngineSim(program, "dual", width=8).stages)
    EXACT_CASES[f"simulator, compiled output stage ({isa.name}) == numba int64"] += 1


_COUNTS = ("import json, numpy as np; from hwsr.sim import int8, residual, _objcache; "
           "isa = int8.active(); "
           "assert residual.residual_address(isa, 0, np.dtype(np.int16), 3, True); "
           "print(json.dumps(_objcache.COUNTS))")


def test_kernel_object_cached_across_processes(tmp_path: Path) -> None:
    """A second process loads the output-stage kernel's host object instead of compiling."""
    if not int8.available():
        pytest.skip(int8.unavailable_reason())
    cache = str(tmp_path / "kernels")
    first = json.loads(run_python(_COUNTS, HWSR_KERNEL_CACHE=cache))
    assert first["compiled"] >= 1
    second = json.loads(run_python(_COUNTS, HWSR_KERNEL_CACHE=cache))
    assert second["compiled"] == 0 and second["loaded"] == first["compiled"]
