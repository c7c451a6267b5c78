"""The generated top level ``hwsr_engine``: the stages' module instances and their wiring.

The leaf modules (``hwsr_conv``, ``hwsr_residual``) are fixed Verilog kept as package data;
only this top level is text generated from an :class:`~hwsr.rtl.design.EngineDesign`.

Interface (one LR pixel in, one LR position's r x r block of HR pixels out, per handshake)::

    cfg_width, cfg_height   16-bit frame size, 1..MAXW wide; stable while a frame is in flight
    s_valid/s_ready/s_data  input pixel, 3 x 8 bits, channel 0 (R) in bits 7:0, raster order
    s_sof, s_eol            first pixel of the frame / last pixel of a row (checked only:
                            a marker off the configured size, or a size of 0 or over MAXW,
                            sets the sticky err_framing)
    m_valid/m_ready/m_data  output block of LR position (y, x): HR pixel (y*r+dy, x*r+dx)
                            channel c in bits ((dy*r + dx)*3 + c)*8 +: 8
    m_sof, m_eol            the block of LR position (0, 0) / of the last LR column

A transfer happens on a rising clock edge where valid and ready are both high.
"""

from __future__ import annotations

from collections.abc import Callable

from hwsr.rtl.design import ConvDesign, EngineDesign, StageDesign, conv_parameters

LayerLines = Callable[[ConvDesign, StageDesign, str], list[str]]


def _conv_instance(ly: ConvDesign, st: StageDesign, src: str) -> list[str]:
    rom = f"{ly.stage}.layer{ly.index}"
    params = conv_parameters(ly, st)
    plist = [f".{k}({v})" for k, v in params.items()] + ["MAXW"]
    plist[-1] = ".MAXW(MAXW)"
    plist += [f'.{k}_FILE({{ROM_DIR, "{rom}.{k.lower()}.hex"}})'
              for k in ("WEIGHT", "BIAS", "SHIFT")]
    n = ly.name
    return [
        f"    // {ly.tap}: {ly.kernel}x{ly.kernel}"
        + (f" groups {ly.groups}" if ly.groups > 1 else "")
        + (f" dilation {ly.dilation}" if ly.dilation > 1 else "")
        + f" {ly.c_in}->{ly.c_out}, "
        f"{'relu' if ly.relu else 'no relu'}, out {ly.out_bits}-bit "
        f"{'signed' if ly.out_signed else 'unsigned'}",
        f"    wire {n}_m_valid, {n}_m_ready;",
        f"    wire [{ly.c_out * ly.out_bits - 1}:0] {n}_m_data;",
        f"    wire [{ly.c_out * st.acc_bits - 1}:0] {n}_m_acc;  // accumulator probe",
        "    hwsr_conv #(" + ", ".join(plist) + f") {n} (",
        "        .clk(clk), .rst(rst), .cfg_width(cfg_width), .cfg_height(cfg_height),",
        f"        .s_valid({src}_valid), .s_ready({src}_ready), .s_data({src}_data),",
        f"        .m_valid({n}_m_valid), .m_ready({n}_m_ready), .m_data({n}_m_data), "
        f".m_acc({n}_m_acc));",
    ]


def _stage_lines(st: StageDesign, design: EngineDesign, src: str,
                 layer_lines: LayerLines = _conv_instance,
                 delay_depth: int | None = None) -> list[str]:
    """Instances of one stage reading stream ``src`` and driving stream ``<name>_out``;
    ``layer_lines`` writes one layer's instance (the folded engine: its window)."""
    s = st.name
    lines = [
        f"    // ---- {s}: {len(st.layers)} conv layers, residual "
        f"{'on' if st.residual else 'off'}, pixel shuffle x{st.upscale} ----",
        f"    wire {s}_px_full, {s}_in_valid, {s}_in_ready;",
        f"    wire [23:0] {s}_in_data = {src}_data;",
        f"    assign {s}_in_valid = {src}_valid && !{s}_px_full;",
        f"    assign {src}_ready = {s}_in_ready && !{s}_px_full;",
    ]
    prev = f"{s}_in"
    for ly in st.layers:
        lines += layer_lines(ly, st, prev)
        prev = f"{ly.name}_m"
    last = st.layers[-1]
    width = 3 * st.upscale**2 * 8
    res = {"R": st.upscale, "CONV_BITS": last.out_bits, "CONV_SIGNED": int(last.out_signed),
           "RESIDUAL": int(st.residual), "LC": st.res_conv_lshift, "LI": st.res_in_lshift,
           "OS": st.out_shift, "ROUND": st.round_code,
           "DEPTH": max(st.delay_depth(design.max_width) if delay_depth is None
                        else delay_depth, 1)}
    lines += [
        f"    wire {s}_out_valid, {s}_out_ready;",
        f"    wire [{width - 1}:0] {s}_out_data;",
        "    hwsr_residual #(" + ", ".join(f".{k}({v})" for k, v in res.items()) + f") {s}_res (",
        f"        .clk(clk), .rst(rst), .px_push({src}_valid && {src}_ready),",
        f"        .px_data({src}_data), .px_full({s}_px_full),",
        f"        .s_valid({prev}_valid), .s_ready({prev}_ready), .s_data({prev}_data),",
        f"        .m_valid({s}_out_valid), .m_ready({s}_out_ready), .m_data({s}_out_data));",
    ]
    return lines


_MARKERS = """\
    // Frame markers: checked on the input, generated on the output.
    reg [15:0] in_x, in_y, out_x, out_y;
    assign m_sof = out_x == 0 && out_y == 0;
    assign m_eol = out_x == cfg_width - 1;
    always @(posedge clk) begin
        if (rst) begin
            in_x <= 0; in_y <= 0; out_x <= 0; out_y <= 0; err_framing <= 1'b0;
        end else begin
            if (s_valid && s_ready) begin
                if (s_sof != (in_x == 0 && in_y == 0) || s_eol != (in_x == cfg_width - 1) ||
                    cfg_width == 0 || {16'd0, cfg_width} > MAXW || cfg_height == 0)
                    err_framing <= 1'b1;
                in_x <= (in_x == cfg_width - 1) ? 16'd0 : in_x + 16'd1;
                if (in_x == cfg_width - 1) in_y <= (in_y == cfg_height - 1) ? 16'd0 : in_y + 16'd1;
            end
            if (m_valid && m_ready) begin
                out_x <= (out_x == cfg_width - 1) ? 16'd0 : out_x + 16'd1;
                if (out_x == cfg_width - 1)
                    out_y <= (out_y == cfg_height - 1) ? 16'd0 : out_y + 16'd1;
            end
        end
    end
"""


LOAD_PORTS = [
    "    input  wire wr_en,  // load port: one 32-bit slice of a memory word per clock",
    "    input  wire [WR_ADDR_BITS-1:0] wr_addr,  // {unit, memory, word, slice}",
    "    input  wire [31:0] wr_data,",
]


def render_top(design: EngineDesign, source: str = "", body: list[str] | None = None,
               what: str = "", wr_addr_bits: int | None = None) -> str:
    """Verilog text of ``hwsr_engine`` for ``design`` (``source`` names the program);
    ``body`` replaces the one-pixel-per-clock stages (the folded engine's, ``what`` says);
    ``wr_addr_bits`` adds the memories' load port (the folded engine) in place of ROM_DIR."""
    r = design.upscale
    params = ('parameter ROM_DIR = "rom/"' if wr_addr_bits is None else
              f"parameter integer WR_ADDR_BITS = {wr_addr_bits}")
    head = [
        "// hwsr_engine: the whole hwsr engine, generated by `hwsr rtl` from the integer program",
        f"// {source}" if source else "//",
        f"// {what}" if what else
        "// Net1 streams into Net2 through two instances of the same modules (no time sharing).",
        *("// " + ln if ln else "//" for ln in (__doc__ or "").split("Interface", 1)[1]
          .split("\n", 1)[1].rstrip().splitlines()),
        *([] if wr_addr_bits is None else [
            "// Load port (WR_ADDR_BITS is fixed by the design: the map is in design.json)."]),
        "`default_nettype none",
        f"module hwsr_engine #(parameter integer MAXW = {design.max_width}, {params}) (",
        "    input  wire clk,",
        "    input  wire rst,",
        *([] if wr_addr_bits is None else LOAD_PORTS),
        "    input  wire [15:0] cfg_width,",
        "    input  wire [15:0] cfg_height,",
        "    input  wire s_valid,",
        "    output wire s_ready,",
        "    input  wire [23:0] s_data,",
        "    input  wire s_sof,",
        "    input  wire s_eol,",
        "    output wire m_valid,",
        "    input  wire m_ready,",
        f"    output wire [{r * r * 24 - 1}:0] m_data,",
        "    output wire m_sof,",
        "    output wire m_eol,",
        "    output reg  err_framing",
        ");",
        "    wire in_valid = s_valid;",
        "    wire in_ready;",
        "    wire [23:0] in_data = s_data;",
        "    assign s_ready = in_ready;",
    ]
    src = f"{design.stages[-1].name}_out"
    if body is None:
        body, prev = [], "in"
        for st in design.stages:
            body += _stage_lines(st, design, prev)
            prev = f"{st.name}_out"
    tail = [
        f"    assign m_valid = {src}_valid;",
        f"    assign {src}_ready = m_ready;",
        f"    assign m_data = {src}_data;",
        _MARKERS.rstrip("\n"),
        "endmodule",
        "`default_nettype wire",
    ]
    return "\n".join(head + body + tail) + "\n"
