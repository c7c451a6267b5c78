"""Exports: each format built from the default model and refereed by its own runtime.

Integer outputs compare with exact equality only; the one tolerance is the float ONNX vs
PyTorch check's named ``FLOAT_TOL_PIXELS``.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import numpy_helper

from hwsr.export import (
    F32_EXACT_LSBS,
    FLOAT_TOL_PIXELS,
    ExportError,
    ExportResult,
    ExportSource,
    Format,
    build,
    check,
    check_file,
    export_model,
    half_even_twin,
    qcdq_model,
    qonnx_model,
)
from hwsr.export.bound import stage_bounds
from hwsr.export.check import CheckReport, ExactFrameCheck, FloatFrameCheck, QcdqStageCount
from hwsr.export.common import read_meta, stage_programs
from hwsr.export.runtimes import codes_of, hwc, ort_session, ort_u8s8_saturates, run_ort, run_qonnx
from hwsr.fixed import Rounding
from hwsr.program import EngineProgram, StageProgram
from hwsr.reference import run_program
from hwsr.sim import simulate, test_pattern
from hwsr.spec import Activation, Datapath, EngineSpec, LayerSpec
from hwsr.zoo import load_engine
from tests.strategies import EXACT_CASES, random_program

FORMATS = ("onnx", "qonnx", "qcdq")


@pytest.fixture(scope="module")
def program() -> EngineProgram:
    return load_engine("hwsr-s").program()


@pytest.fixture(scope="module")
def exports(tmp_path_factory: pytest.TempPathFactory) -> dict[str, ExportResult]:
    """The default model exported in every format (each export runs its own check)."""
    folder = tmp_path_factory.mktemp("exports")
    return {f: export_model("hwsr-s", f, "dual", folder / f"{f}.onnx") for f in FORMATS}


def _count(report: CheckReport, name: str) -> None:
    for item in report.items:
        EXACT_CASES[name] += getattr(item, "codes", 0)



def tampered(path: Path, name: str, edit, tmp_path: Path) -> Path:  # type: ignore[no-untyped-def]
    """A copy of the ONNX file at ``path`` whose initializer ``name`` went through ``edit``
    (given the array and every initializer), saved as ``bad.onnx``."""
    model = onnx.load(str(path))
    inits = {t.name: t for t in model.graph.initializer}
    w = numpy_helper.to_array(inits[name]).copy()
    edit(w, inits)
    inits[name].CopyFrom(numpy_helper.from_array(w, name))
    bad = tmp_path / "bad.onnx"
    onnx.save(model, str(bad))
    return bad

def test_float_export_matches_pytorch_and_has_dynamic_size(
        exports: dict[str, ExportResult]) -> None:
    res = exports["onnx"]
    items = res.report.items
    assert res.report.ok and len(items) == 2
    assert all(isinstance(i, FloatFrameCheck) and i.max_abs_err <= FLOAT_TOL_PIXELS
               for i in items)
    model = onnx.load(str(res.path))
    assert read_meta(model)["format"] == "onnx"
    out = run_ort(ort_session(model), test_pattern(7, 5), np.float32)[0]
    assert out.shape == (1, 3, 15, 21)  # another size than the check frames: dynamic H, W
    assert check_file(res.path).ok


def test_qonnx_export_is_bit_exact_half_up(exports: dict[str, ExportResult]) -> None:
    res = exports["qonnx"]
    assert res.report.ok
    assert all(isinstance(i, ExactFrameCheck) and i.mismatched == 0 and i.codes > 0
               for i in res.report.items)
    _count(res.report, "export: qonnx executor vs simulate (half up)")
    model = onnx.load(str(res.path))
    quants = [n for n in model.graph.node if n.op_type == "Quant"]
    modes = {a.s.decode() for n in quants for a in n.attribute if a.name == "rounding_mode"}
    assert modes == {"ROUND", "FLOOR"}  # weights/bias/input exact; requants floor after + half
    assert read_meta(model)["rounding"] == "half_up"
    assert check_file(res.path).ok


def test_qonnx_half_even_variant_is_bit_exact(program: EngineProgram, tmp_path: Path) -> None:
    twin = half_even_twin(program)
    res = export_model("twin", "qonnx", "dual", tmp_path / "he.onnx",
                       source=ExportSource("twin", program=twin))
    assert res.report.ok
    _count(res.report, "export: qonnx executor vs simulate (half even)")
    # the two modes really differ on these frames: half-even codes are not the half-up ones
    frame = test_pattern(24, 16)
    got, _ = codes_of(hwc(run_qonnx(onnx.load(str(res.path)), frame)))
    assert np.count_nonzero(got != simulate(program, frame, "dual").frame) > 0


def test_perturbed_qonnx_weight_fails_the_exact_check(
        exports: dict[str, ExportResult], program: EngineProgram, tmp_path: Path) -> None:
    def one_lsb(w: np.ndarray, inits: dict) -> None:  # type: ignore[type-arg]
        w[0, 0, 1, 1] += numpy_helper.to_array(inits["net2.4.w.scale"])[0, 0, 0, 0]

    bad = tampered(exports["qonnx"].path, "net2.4.w.value", one_lsb, tmp_path)
    report = check_file(bad)  # one weight, one LSB: still a legal code
    assert not report.ok
    assert all(isinstance(i, ExactFrameCheck) and i.mismatched > 0 for i in report.items)


def test_qcdq_export_counts_every_difference(exports: dict[str, ExportResult]) -> None:
    res = exports["qcdq"]
    assert res.report.ok
    items = res.report.items
    assert [i.stage for i in items if isinstance(i, QcdqStageCount)] == ["net1", "net2"] * 2
    for i in items:
        assert isinstance(i, QcdqStageCount)
        assert i.off_vs_twin == 0  # the graph as written is the half-even twin, bit for bit
        assert i.ort_off == i.ties > 0  # so its differences are exactly the rounding ties
        assert 0 <= i.ort_on <= i.codes and len(i.born_on) == 5
    _count(res.report, "export: onnxruntime QCDQ (opt off) vs half-even twin")


def test_qcdq_half_even_variant_differs_nowhere_as_written(
        program: EngineProgram) -> None:
    twin = half_even_twin(program)
    source = ExportSource("twin", program=twin)
    model = build(Format.QCDQ, "dual", source)
    frame = test_pattern(24, 16)
    want = simulate(twin, frame, "dual").frame
    assert np.array_equal(hwc(run_ort(ort_session(model, optimize=False), frame, np.uint8)[0]),
                          want)
    report = check(model, source, {"pattern": frame})
    assert report.ok
    assert all(isinstance(i, QcdqStageCount) and i.ties == 0 and i.ort_off == 0
               for i in report.items)


@pytest.mark.parametrize("fmt", ["qonnx", "qcdq", "onnx"])
@pytest.mark.parametrize("stage", ["net1", "net2"])
def test_single_stage_exports(fmt: str, stage: str, tmp_path: Path) -> None:
    frames = {"pattern": test_pattern(12, 8)}
    res = export_model("hwsr-s", fmt, stage, tmp_path / "s.onnx", frames=frames)
    assert res.report.ok and read_meta(onnx.load(str(res.path)))["stage"] == stage
    r = 3 if stage == "net2" else 1
    model = onnx.load(str(res.path))
    if fmt == "qonnx":  # custom Quant ops: qonnx's executor, not plain onnxruntime
        out = run_qonnx(model, frames["pattern"])
    else:
        dtype = np.uint8 if fmt == "qcdq" else np.float32
        out = run_ort(ort_session(model), frames["pattern"], dtype)[0]
    assert out.shape == (1, 3, 8 * r, 12 * r)


# ---- random programs: every rounding mode, odd widths, negative shifts ------------------------


def _random_spec(rounding: Rounding, residual: bool) -> EngineSpec:
    dp = Datapath(act_bits=6, out_bits=12, rounding=rounding)
    layers = (LayerSpec(3, 3, 6), LayerSpec(1, 6, 5), LayerSpec(3, 5, 12, Activation.NONE))
    return EngineSpec("rand", layers, upscale=2, datapath=dp, residual=residual)


@pytest.mark.parametrize("rounding", list(Rounding))
@pytest.mark.parametrize("residual", [True, False])
def test_random_program_qonnx_exact_every_rounding(rounding: Rounding, residual: bool) -> None:
    program = random_program(_random_spec(rounding, residual), np.random.default_rng(7))
    model = qonnx_model(stage_programs(program, "dual"), {})
    rng = np.random.default_rng(3)
    for frame in (rng.integers(0, 256, (7, 9, 3), dtype=np.uint8),
                  np.full((3, 4, 3), 255, np.uint8), np.zeros((1, 1, 3), np.uint8)):
        want, _ = run_program(program, frame, "dual")
        got, non_codes = codes_of(hwc(run_qonnx(model, frame)))
        assert non_codes == 0 and np.array_equal(got, want)
        EXACT_CASES[f"export: qonnx vs reference, random program, {rounding.value}"] += want.size


def test_random_program_qcdq_as_written_is_the_half_even_twin() -> None:
    program = random_program(_random_spec(Rounding.HALF_UP, True), np.random.default_rng(8))
    model = qcdq_model(stage_programs(program, "dual"), {})
    frame = np.random.default_rng(4).integers(0, 256, (6, 10, 3), dtype=np.uint8)
    got = hwc(run_ort(ort_session(model, optimize=False), frame, np.uint8)[0])
    want, _ = run_program(half_even_twin(program), frame, "dual")
    assert np.array_equal(got, want)


def test_grouped_dilated_program_exports_exactly() -> None:
    """Depthwise, grouped and dilated layers carry their ``group``/``dilations``/``pads``:
    qonnx's executor equals the reference, and so does onnxruntime on the QCDQ graph of the
    half-even twin (the QCDQ graph rounds half to even, as written)."""
    dp = Datapath(act_bits=6, out_bits=12, rounding=Rounding.HALF_EVEN)
    layers = (LayerSpec(3, 3, 6, groups=3, dilation=2), LayerSpec(3, 6, 6, groups=6),
              LayerSpec(1, 6, 4, groups=2), LayerSpec(3, 4, 12, Activation.NONE, dilation=3))
    program = random_program(EngineSpec("grouped", layers, upscale=2, datapath=dp),
                             np.random.default_rng(0))  # a seed inside the float32 bound
    frame = np.random.default_rng(5).integers(0, 256, (9, 11, 3), dtype=np.uint8)
    want, _ = run_program(program, frame, "dual")
    got, non_codes = codes_of(hwc(run_qonnx(qonnx_model(stage_programs(program, "dual"), {}),
                                            frame)))
    assert non_codes == 0 and np.array_equal(got, want)
    qcdq = qcdq_model(stage_programs(program, "dual"), {})
    assert np.array_equal(hwc(run_ort(ort_session(qcdq, optimize=False), frame, np.uint8)[0]),
                          want)
    EXACT_CASES["export: qonnx and qcdq vs reference, grouped and dilated"] += 2 * want.size


# ---- the float32 bound and refusals --------------------------------------------------------------


def test_bound_by_hand_for_the_first_layer(program: EngineProgram) -> None:
    net1 = program.stage("net1")
    lp = net1.layers[0]
    half = np.where(lp.shift > 0, 2 ** np.maximum(lp.shift - 1, 0), 0)
    want = int((np.abs(lp.weight).sum(axis=(1, 2, 3)) * 255 + np.abs(lp.bias) + half).max())
    bounds = stage_bounds("net1", net1)
    assert bounds[0].worst_lsbs == want and bounds[0].exact
    assert all(b.worst_lsbs < 2**23 for b in bounds)  # hwsr-s: a factor 2 of headroom


def test_narrow_accumulator_is_refused(program: EngineProgram, tmp_path: Path) -> None:
    def narrow(sp: StageProgram) -> StageProgram:
        dp = dataclasses.replace(sp.spec.datapath, acc_bits=20)
        return dataclasses.replace(sp, spec=dataclasses.replace(sp.spec, datapath=dp))

    prog = EngineProgram(net2=narrow(program.net2), net1=narrow(program.stage("net1")))
    for fmt in ("qonnx", "qcdq"):
        with pytest.raises(ExportError, match="exceeds acc_bits"):
            export_model("n", fmt, "dual", tmp_path / "n.onnx",
                         source=ExportSource("n", program=prog))
    assert list(tmp_path.iterdir()) == []


def test_sum_beyond_float32_is_refused(tmp_path: Path) -> None:
    # fan-in 3·3·64 = 576 taps of ±127 against 255: 576·127·255 > 2**24
    spec = EngineSpec("wide", (LayerSpec(1, 3, 64), LayerSpec(3, 64, 3, Activation.NONE)),
                      upscale=1)
    prog = random_program(spec, np.random.default_rng(0), extreme=True)
    assert max(b.worst_lsbs for b in stage_bounds("net2", prog.net2)) >= F32_EXACT_LSBS
    with pytest.raises(ExportError, match=r"2\*\*24"):
        export_model("w", "qonnx", "net2", tmp_path / "w.onnx",
                     source=ExportSource("w", program=prog))
    assert list(tmp_path.iterdir()) == []


def test_failed_check_writes_nothing(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import hwsr.export.api as api

    failing = CheckReport("qcdq", "dual", (ExactFrameCheck("f", 10, 1),))
    monkeypatch.setattr(api, "check", lambda *a, **k: failing)
    with pytest.raises(ExportError, match="not written"):
        export_model("hwsr-s", "qcdq", "dual", tmp_path / "x.onnx")
    assert list(tmp_path.iterdir()) == []


def test_codes_of_counts_values_that_are_not_codes() -> None:
    codes, bad = codes_of(np.array([0.0, 255.0, 3.5, -1.0, 256.0, 17.0], np.float32))
    assert codes.tolist() == [0, 255, -1, -1, -1, 17] and bad == 3


def test_format_and_stage_parsing() -> None:
    assert Format.parse("qcdq") is Format.QCDQ
    with pytest.raises(ExportError, match="--format"):
        Format.parse("tflite")


def test_qcdq_check_catches_a_perturbed_weight(exports: dict[str, ExportResult],
                                               tmp_path: Path) -> None:
    def one_code(w: np.ndarray, inits: dict) -> None:  # type: ignore[type-arg]
        w[0, 0, 1, 1] += 1 if w[0, 0, 1, 1] < 127 else -1

    report = check_file(tampered(exports["qcdq"].path, "net1.0.w.codes", one_code, tmp_path))
    assert not report.ok
    assert any(isinstance(i, QcdqStageCount) and i.off_vs_twin > 0 for i in report.items)


def test_qcdq_line_names_saturation_only_where_fusion_differs() -> None:
    def item(on_vs_twin: int, saturating: bool) -> QcdqStageCount:
        return QcdqStageCount("f", "net1", 10, 0, 0, on_vs_twin, 0, on_vs_twin,
                              (on_vs_twin, 0), saturating)

    assert "saturating int16" in item(3, True).line()
    assert "saturating int16" not in item(0, True).line()
    assert "saturating int16" not in item(3, False).line()


def test_per_layer_attribution_counts_real_differences(program: EngineProgram) -> None:
    from hwsr.export.check import _born
    from hwsr.export.qcdq import layer_model

    twin = half_even_twin(program).stage("net1")
    sessions = [ort_session(layer_model(twin, i)) for i in range(len(twin.layers))]
    frame = test_pattern(24, 16)
    # pixel codes <= 127: layer 0's u8 x s8 pairs stay inside int16 on any CPU (and the
    # hidden codes this frame makes stay clear of the limit too: measured on an AVX2 host)
    assert _born(sessions, twin, frame >> 1) == (0,) * len(twin.layers)
    born = _born(sessions, twin, frame)
    if ort_u8s8_saturates():  # full-range pixels saturate pairs in the first layer only
        assert born[1:] == (0,) * (len(twin.layers) - 1)
    else:  # VNNI sums every product in int32: fusion changes nothing
        assert born == (0,) * len(twin.layers)
    # against the half-up stage the same fused layers differ where its requantizers tie
    born = _born(sessions, program.stage("net1"), frame)
    assert sum(born) > 0 and all(n >= 0 for n in born)
