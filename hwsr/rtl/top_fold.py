"""The folded engine's top level: per stage its windows and residual, per unit one ``hwsr_mac``.

Same interface and the same per-layer stream names as the one-pixel-per-clock engine
(``<stage>_l<i>_m_valid/_ready/_data/_acc``: every tap of a golden set is checked at the
same place), so :mod:`hwsr.rtl.tb` and :mod:`hwsr.rtl.cocotb_tb` run either engine. Between a
window and its MAC unit run ``<stage>_l<i>_w_valid/_ready/_data/_mask``.
"""

from __future__ import annotations

from dataclasses import dataclass

from hwsr.report import linebuffer_bits
from hwsr.rtl.design import PIXEL_BITS, ConvDesign, EngineDesign, StageDesign
from hwsr.rtl.fold import SHIFT_BITS, FoldedUnit
from hwsr.rtl.top import _stage_lines, render_top
from hwsr.spec import IMAGE_CHANNELS


def _declarations(design: EngineDesign) -> list[str]:
    lines = []
    for ly in design.layers:
        n, taps = ly.name, ly.kernel * ly.kernel
        lines += [
            f"    wire {n}_w_valid, {n}_w_ready, {n}_m_valid, {n}_m_ready;",
            f"    wire [{taps * ly.c_in * ly.in_bits - 1}:0] {n}_w_data;",
            f"    wire [{taps - 1}:0] {n}_w_mask;",
            f"    wire [{ly.c_out * ly.out_bits - 1}:0] {n}_m_data;",
        ]
    return lines


def _acc_declarations(design: EngineDesign) -> list[str]:
    """The accumulator probes: nothing in the engine reads them, the testbenches do, through
    the hierarchy (``dut.<layer>_m_acc``); ``verilator public`` says so to Verilator."""
    return [f"    wire [{ly.c_out * st.acc_bits - 1}:0] {ly.name}_m_acc /* verilator public */;"
            "  // accumulator probe" for st in design.stages for ly in st.layers]


def _window(ly: ConvDesign, st: StageDesign, src: str) -> list[str]:
    n = ly.name
    params = {"K": ly.kernel, "CIN": ly.c_in, "DIL": ly.dilation, "IN_BITS": ly.in_bits}
    plist = ", ".join([*(f".{k}({v})" for k, v in params.items()), ".MAXW(MAXW)"])
    return [
        f"    // {ly.tap}: window of {ly.kernel}x{ly.kernel} {ly.c_in}->{ly.c_out}",
        f"    hwsr_window #({plist}) {n}_win (",
        "        .clk(clk), .rst(rst), .cfg_width(cfg_width), .cfg_height(cfg_height),",
        f"        .s_valid({src}_valid), .s_ready({src}_ready), .s_data({src}_data),",
        f"        .w_valid({n}_w_valid), .w_ready({n}_w_ready), .w_data({n}_w_data), "
        f".w_mask({n}_w_mask));",
    ]


def _port_group(port: str, ly: ConvDesign | None, kind: str) -> str:
    """One side of a unit: window ``a``/``b`` or output ``m0``/``m1`` (tied off if unused)."""
    if ly is None:
        return (f".{port}_valid(1'b0), .{port}_ready(), .{port}_data(), .{port}_mask()"
                if kind == "w" else
                f".{port}_valid(), .{port}_ready(1'b0), .{port}_data(), .{port}_acc()")
    n = ly.name
    if kind == "w":
        return (f".{port}_valid({n}_w_valid), .{port}_ready({n}_w_ready), "
                f".{port}_data({n}_w_data), .{port}_mask({n}_w_mask)")
    return (f".{port}_valid({n}_m_valid), .{port}_ready({n}_m_ready), "
            f".{port}_data({n}_m_data), .{port}_acc({n}_m_acc)")


def _unit(fu: FoldedUnit) -> list[str]:
    u = fu.fold
    plist = [f".{k}({v})" for k, v in fu.parameters().items()]
    second = fu.layers[1] if len(fu.layers) > 1 else None
    return [
        f"    // {fu.name}: {' + '.join(ly.tap for ly in fu.layers)}: PE {u.pe} x SIMD {u.simd} "
        f"= {u.multipliers} multipliers, {'+'.join(map(str, u.cycles))} cycles per LR pixel",
        "    hwsr_mac #(" + ", ".join(plist) + f") {fu.name} (",
        "        .clk(clk), .rst(rst), .wr_en(wr_en), .wr_addr(wr_addr), .wr_data(wr_data),",
        f"        {_port_group('a', fu.layers[0], 'w')},",
        f"        {_port_group('b', second, 'w')},",
        f"        {_port_group('m0', fu.layers[0], 'm')},",
        f"        {_port_group('m1', second, 'm')});",
    ]


def delay_depth(st: StageDesign, units: tuple[FoldedUnit, ...], max_width: int) -> int:
    """Pixels of a stage's residual delay line in the folded engine: the most its chain can
    hold in flight (per layer the window's lag and register, and the output FIFO)."""
    fifo = {ly.tap: fu.fifo_depth for fu in units for ly in fu.layers}
    return sum(ly.lag_cycles(max_width) + 1 + fifo[ly.tap] for ly in st.layers)


@dataclass(frozen=True)
class FoldedMemory:
    """Every memory of the folded ``hwsr_engine`` at MAXW, by term, in bits: what yosys
    counts as ``$mem_v2`` before memory mapping (accumulator probes off, as synthesized).

    ``linebuffer_bits + residual_bits`` is ``hwsr report``'s line-buffer total and
    ``weight_bits`` is :func:`hwsr.folding.rom_bits`; the other terms are the folded RTL's
    own: the MAC units' output FIFOs, the delay lines' pixels that cover them, and the RAMs'
    padding. They do not grow with MAXW."""

    max_width: int
    linebuffer_bits: int  # the windows' line buffers: (span-1) x MAXW x c_in x in_bits
    residual_bits: int  # delay lines: latency_rows x MAXW pixels of 3 x 8 bits per stage
    delay_extra_bits: int  # delay lines beyond that: per layer halo + 1 + FIFO depth pixels
    fifo_bits: int  # output FIFOs: per unit and stage served, FIFO depth x c_out x out_bits
    weight_bits: int  # weight, bias and shift codes (c_out x (fan_in x W + B + 8) per layer)
    group_padding_bits: int  # codes of the channels that pad a stage's c_out to PE lanes
    slice_padding_bits: int  # RAM words to whole 32-bit slices (at least two)

    @property
    def total_bits(self) -> int:
        return (self.linebuffer_bits + self.residual_bits + self.delay_extra_bits
                + self.fifo_bits + self.weight_bits + self.group_padding_bits
                + self.slice_padding_bits)


def folded_memory(design: EngineDesign, units: tuple[FoldedUnit, ...]) -> FoldedMemory:
    """The memory bits of the folded engine ``units`` of ``design``, term by term."""
    w = design.max_width
    pixel = IMAGE_CHANNELS * PIXEL_BITS
    lb = sum(linebuffer_bits(ly.span - 1, w, ly.c_in, ly.in_bits) for ly in design.layers)
    res = [s for s in design.stages if s.residual]
    residual = sum(linebuffer_bits(s.latency_rows, w, IMAGE_CHANNELS, PIXEL_BITS) for s in res)
    delay = sum(delay_depth(s, units, w) for s in res) * pixel - residual
    fifo = sum(fu.fifo_depth * ly.c_out * ly.out_bits for fu in units for ly in fu.layers)
    codes = sum(ly.c_out * (ly.kernel ** 2 * (ly.c_in // ly.groups) * fu.stage.weight_bits
                            + fu.stage.bias_bits + SHIFT_BITS)
                for fu in units for ly in fu.layers)
    held = sum(m.code_bits for fu in units for m in fu.memories)
    ram = sum(m.allocated_bits for fu in units for m in fu.memories)
    return FoldedMemory(w, lb, residual, delay, fifo, codes, held - codes, ram - held)


def render_folded_top(design: EngineDesign, units: tuple[FoldedUnit, ...],
                      source: str = "") -> str:
    """Verilog text of the folded ``hwsr_engine``."""
    body = _declarations(design) + _acc_declarations(design)
    prev = "in"
    for st in design.stages:
        body += _stage_lines(st, design, prev, _window,
                             delay_depth(st, units, design.max_width))
        prev = f"{st.name}_out"
    body.append("    // ---- MAC units ----")
    for fu in units:
        body += _unit(fu)
    shared = any(len(fu.layers) > 1 for fu in units)
    what = ("Folded: one MAC unit per layer index serves Net1 and Net2 (two weight banks)."
            if shared else "Folded: one MAC unit per layer of each stage (separate engines).")
    return render_top(design, source, body=body, what=what,
                      wr_addr_bits=units[0].wr.addr_bits)
