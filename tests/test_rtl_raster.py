"""The HR raster stage (``hwsr_raster.v``) alone against its Python model, in Icarus Verilog.

Random HR frames (several sizes, r = 2 and 3, frames of the same size back to back so one
frame's writes overlap the last one's reads) go in as the core's blocks with random gaps;
every output beat (data, tuser, tlast) is compared with :func:`hwsr.rtl.axis_top.raster_beats`
under random back-pressure. A paced run (one block every r clocks, sink always ready) holds
the claim that the stage never stalls the core.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from hwsr.report import raster_bits
from hwsr.rtl.axis_top import block_words, raster_beats
from hwsr.rtl.emit import leaf_source

pytestmark = pytest.mark.skipif(shutil.which("iverilog") is None, reason="needs iverilog")

_TB = """\
`timescale 1ns/1ps
module tb_raster;
    parameter integer R = 3;
    parameter integer MAXW = 8;
    parameter integer NB = 1;   // blocks in all frames
    parameter integer NF = 1;   // frames
    reg clk = 1'b0, rst = 1'b1;
    always #5 clk = !clk;
    reg [15:0] width = 16'd1, height = 16'd1;
    reg s_valid = 1'b0, m_ready = 1'b0, s_sof = 1'b0, s_eol = 1'b0;
    reg [R*R*24-1:0] s_data = 0;
    wire s_ready, m_valid, m_sof, m_eol, err;
    wire [R*24-1:0] m_data;
    hwsr_raster #(.R(R), .MAXW(MAXW)) dut (
        .clk(clk), .rst(rst), .cfg_width(width), .cfg_height(height),
        .s_valid(s_valid), .s_ready(s_ready), .s_data(s_data), .s_sof(s_sof), .s_eol(s_eol),
        .m_valid(m_valid), .m_ready(m_ready), .m_data(m_data), .m_sof(m_sof), .m_eol(m_eol),
        .err_order(err));
    reg [R*R*24-1:0] blocks [0:NB-1];
    reg [R*24-1:0] beats [0:NB*R-1];
    reg [1:0] marks [0:NB*R-1];
    reg [15:0] sizes [0:2*NF-1];
    integer seed, stall, pace, sent, got, f, fx, fy, wait_n, stalls, cycle, k;
    integer frame_end [0:NF];  // blocks before frame f
    initial begin
        $readmemh("blocks.hex", blocks); $readmemh("beats.hex", beats);
        $readmemh("marks.hex", marks); $readmemh("sizes.hex", sizes);
        if (!$value$plusargs("SEED=%d", seed)) seed = 1;
        if (!$value$plusargs("STALL=%d", stall)) stall = 0;
        if (!$value$plusargs("PACE=%d", pace)) pace = 0;
        frame_end[0] = 0;
        for (k = 0; k < NF; k = k + 1)
            frame_end[k + 1] = frame_end[k] + sizes[2*k] * sizes[2*k + 1];
        sent = 0; got = 0; f = 0; wait_n = 0; stalls = 0; cycle = 0;
        width = sizes[0]; height = sizes[1];
        repeat (3) @(posedge clk);
        rst <= 1'b0;
    end
    always @(posedge clk) cycle <= cycle + 1;
    // input: blocks in LR order, a random gap (or a fixed pace); a new size waits for the
    // previous frame's last beat (cfg is stable while a frame is in flight)
    always @(posedge clk) if (!rst) begin
        if (s_valid && !s_ready && pace > 0) stalls = stalls + 1;
        if (s_valid && s_ready) begin
            sent = sent + 1;
            if (sent == frame_end[f + 1]) f = f + 1;
            wait_n = pace - 1;
        end
        if (!(s_valid && !s_ready)) begin
            if (pace > 0 && wait_n > 0) begin wait_n = wait_n - 1; s_valid <= 1'b0; end
            else if (f < NF && sent < NB && (f == 0 || got >= frame_end[f] * R
                || (sizes[2*f] == sizes[2*f-2] && sizes[2*f+1] == sizes[2*f-1]))
                && (pace > 0 || ($random(seed) & 32'h7fffffff) % 100 >= stall)) begin
                if (sent == frame_end[f]) begin width <= sizes[2*f]; height <= sizes[2*f+1]; end
                fx = (sent - frame_end[f]) % sizes[2*f];
                fy = (sent - frame_end[f]) / sizes[2*f];
                s_valid <= 1'b1; s_data <= blocks[sent];
                s_sof <= fx == 0 && fy == 0; s_eol <= fx == sizes[2*f] - 1;
            end else s_valid <= 1'b0;
        end
        m_ready <= pace > 0 || ($random(seed) & 32'h7fffffff) % 100 >= stall;
    end
    always @(posedge clk) if (!rst && m_valid && m_ready) begin
        if (m_data !== beats[got] || {m_eol, m_sof} !== marks[got]) begin
            $display("MISMATCH beat=%0d data=%h want=%h marks=%b want=%b", got, m_data,
                     beats[got], {m_eol, m_sof}, marks[got]);
            $finish;
        end
        got = got + 1;
        if (got == NB * R) begin
            if (err) $display("MISMATCH err_order set");
            else $display("PASS beats=%0d cycles=%0d stalls=%0d", got, cycle, stalls);
            $finish;
        end
    end
    initial begin #(64'd10 * 2000000); $display("TIMEOUT got=%0d", got); $finish; end
endmodule
"""


def _hex(words: list[int], bits: int) -> str:
    return "".join(f"{w:0{(bits + 3) // 4}x}\n" for w in words)


def _run(tmp: Path, r: int, sizes: list[tuple[int, int]], *, stall: int = 0, pace: int = 0,
         seed: int = 1, maxw: int = 8) -> str:
    rng = np.random.default_rng(seed)
    blocks: list[int] = []
    beats: list[tuple[int, int, int]] = []
    for w, h in sizes:
        hr = rng.integers(0, 256, (h * r, w * r, 3), dtype=np.uint8)
        blocks += block_words(hr, r)
        beats += raster_beats(hr, r)
    (tmp / "blocks.hex").write_text(_hex(blocks, r * r * 24))
    (tmp / "beats.hex").write_text(_hex([d for d, _, _ in beats], r * 24))
    (tmp / "marks.hex").write_text(_hex([u | t << 1 for _, u, t in beats], 2))
    (tmp / "sizes.hex").write_text(_hex([v for s in sizes for v in s], 16))
    (tmp / "tb.v").write_text(_TB)
    (tmp / "hwsr_raster.v").write_text(leaf_source("hwsr_raster.v"))
    subprocess.run(["iverilog", "-g2005", "-s", "tb_raster", "-o", "tb.vvp",
                    f"-Ptb_raster.R={r}", f"-Ptb_raster.MAXW={maxw}",
                    f"-Ptb_raster.NB={len(blocks)}", f"-Ptb_raster.NF={len(sizes)}",
                    "tb.v", "hwsr_raster.v"], cwd=tmp, check=True)
    out = subprocess.run(["vvp", "-n", "tb.vvp", f"+SEED={seed}", f"+STALL={stall}",
                          f"+PACE={pace}"], cwd=tmp, check=True, capture_output=True,
                         text=True).stdout
    return next(ln for ln in out.splitlines() if ln.startswith(("PASS", "MISMATCH", "TIMEOUT")))


SIZES = [(5, 4), (5, 4), (1, 1), (1, 3), (8, 2), (8, 2), (3, 1), (3, 1), (2, 5)]


@pytest.mark.parametrize("r", [2, 3])
@pytest.mark.parametrize("seed", [1, 2])
def test_raster_equals_model_under_backpressure(tmp_path: Path, r: int, seed: int) -> None:
    line = _run(tmp_path, r, SIZES, stall=40, seed=seed)
    assert line.startswith("PASS"), line


def test_raster_never_stalls_a_block_every_r_clocks(tmp_path: Path) -> None:
    """Sink always ready, a block offered every r clocks: not one cycle of s_ready low
    under a waiting block, and the output keeps up (r beats per block)."""
    for r in (2, 3):
        line = _run(tmp_path, r, [(8, 3), (8, 3), (4, 2)], pace=r)
        assert line.startswith("PASS") and line.endswith("stalls=0"), line


def test_raster_catches_a_wrong_beat(tmp_path: Path) -> None:
    """The check can fail: the model's beats with one byte changed are reported."""
    r = 3
    _run(tmp_path, r, [(4, 2)])
    beats = (tmp_path / "beats.hex").read_text().splitlines()
    beats[5] = f"{int(beats[5], 16) ^ 0x100:018x}"
    (tmp_path / "beats.hex").write_text("\n".join(beats) + "\n")
    out = subprocess.run(["vvp", "-n", "tb.vvp"], cwd=tmp_path, check=True,
                         capture_output=True, text=True).stdout
    assert "MISMATCH beat=5" in out


def test_raster_memory_is_r_hr_rows() -> None:
    assert raster_bits(3, 1280) == 3 * 3840 * 24  # three 2160p rows
    assert raster_bits(1, 1280) == 0
