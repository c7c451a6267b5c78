"""What the simulated engine allocated and saw: per layer, per stage and in total.

Figures come from the simulator's own state, not from the spec: line-buffer bits are the
rings it allocated (rows × width × channels × the code width the silicon stores), MACs are the
products it executed, latency is the rows in flight it measured. The static budget of
:mod:`hwsr.report` predicts the same line-buffer bits, MACs and latency, with the same cost
formulas; the tests hold the two equal.

This module holds plain data only (the report model of :mod:`hwsr.report_model`) and never
sees the simulator: each part of the engine describes itself (``ConvUnit.report``,
``StageSim.report``, ``EngineSim.report``) and :func:`stage_sim_report` and
:func:`sim_report` add the parts up.
"""

from __future__ import annotations

from dataclasses import dataclass

from hwsr.report import check_format, kernel_label, latency_cycles, mac_rate_gmacs
from hwsr.report_model import BITS_PER_KIB, Columns, ReportNode, peak, total


@dataclass(frozen=True)
class LayerSimReport(ReportNode):
    """One conv layer as simulated."""

    index: int  # position in the stage
    kernel: int  # k
    c_in: int  # input channels
    c_out: int  # output channels
    in_bits: int  # width of one input code held in the line buffer
    linebuffer_rows: int  # rows the ring holds: span - 1 (k - 1 undilated)
    linebuffer_bits: int  # rows × width × c_in × in_bits, as allocated
    latency_rows: int  # span // 2: rows below an output row that must arrive before it leaves
    macs_per_pixel: int  # k·k·(c_in/groups)·c_out per LR pixel: the engine's MACs
    macs_per_frame: int  # the engine's products per frame
    mac_path: str  # host datapath: int8, float32 (proven exact), float32xN (chunked) or int64
    acc_bound: int  # worst-case |accumulator| over every input, from the integer weights
    acc_peak: int  # largest |accumulator| seen, before the overflow rule
    acc_overflows: int  # accumulator results outside acc_bits
    saturations: int  # codes clamped by the layer's requantization
    groups: int = 1  # channel groups (c_in: depthwise)
    dilation: int = 1  # tap spacing
    # the simulator's host code that summed the products (not the engine's datapath, which is
    # always the integer one): 'int8 <variant>', 'float32 (exact by bound)', 'int64', ...
    host_kernel: str = ""


@dataclass(frozen=True)
class StageSimReport(ReportNode):
    """One stage (Net1 or Net2) as simulated."""

    CHILDREN = {"layers": LayerSimReport}

    name: str  # spec name
    stage: str  # 'net1' or 'net2'
    upscale: int  # r of this stage
    layers: tuple[LayerSimReport, ...]  # in execution order
    residual_rows: int  # rows in the residual delay line (0 without residual)
    residual_bits: int  # residual_rows × width × 3 × 8, as allocated
    linebuffer_bits: int  # every line buffer of the stage plus its delay line
    macs_per_pixel: int  # per LR pixel
    macs_per_frame: int  # executed per frame
    latency_rows: int  # input rows in flight between a row entering and its output leaving
    latency_cycles: int  # latency_rows × ceil(width / pixels_per_clock)
    mac_rate_gmacs: float  # macs_per_frame × fps / 1e9
    acc_peak: int  # largest |accumulator| of any layer
    acc_overflows: int  # sum over the layers
    saturations: int  # sum over the layers' requantizations
    output_saturations: int  # output pixels clamped to 0..255 after the residual add
    output_kernel: str = ""  # host code of the residual add + pixel shuffle (not the engine's)


@dataclass(frozen=True)
class SimReport(ReportNode):
    """The engine as simulated: one stage or Net1 → Net2, with totals."""

    CHILDREN = {"stages": StageSimReport}

    name: str  # Net2's spec name
    stage: str  # 'dual', 'net1' or 'net2'
    width: int  # LR line width, pixels
    height: int  # LR frame height, rows
    out_width: int  # output frame width
    out_height: int  # output frame height
    frames: int  # frames simulated (statistics add over them)
    fps: float  # frame rate the MAC rate is given for
    clock_mhz: float  # engine clock
    pixels_per_clock: int  # LR pixels per clock
    block_rows: int  # rows per simulator step (a host choice; the result does not depend on it)
    linebuffer_bits: int  # all stages
    linebuffer_kib: float  # linebuffer_bits / 8 / 1024
    macs_per_pixel: int  # per LR pixel, all stages
    macs_per_frame: int  # all stages
    latency_rows: int  # LR rows, all stages
    latency_out_rows: int  # the same in output rows
    latency_cycles: int  # all stages
    mac_rate_gmacs: float  # needed for fps
    macs_per_clock: float  # mac rate / clock
    acc_peak: int  # largest |accumulator| of any layer
    acc_overflows: int  # all layers
    saturations: int  # all requantizations
    output_saturations: int  # all stages' output clamps
    stages: tuple[StageSimReport, ...]  # in execution order (last: the JSON lists it last)

    def format_table(self) -> str:
        """Plain-text table: each stage's layers and delay line, then the engine totals."""
        lines = [f"simulated {self.name}: {self.stage}, {self.width}x{self.height} -> "
                 f"{self.out_width}x{self.out_height}, {self.frames} frame(s)"]
        for s in self.stages:
            lines += ["", *_stage_lines(s, self.fps)]
        lines += [
            "",
            f"total: line buffers {self.linebuffer_bits:,} bits = {self.linebuffer_kib:g} KiB; "
            f"{self.macs_per_pixel:,} MACs/px = {self.macs_per_frame:,} MACs/frame",
            f"  latency  {self.latency_rows} LR rows = {self.latency_out_rows} output rows = "
            f"{self.latency_cycles:,} cycles at {self.pixels_per_clock} px/clock",
            f"  MAC rate the engine needs: {self.mac_rate_gmacs:.3f} GMAC/s at {self.fps:g} fps = "
            f"{self.macs_per_clock:.2f} MACs/clock at {self.clock_mhz:g} MHz",
            f"  events   accumulator peak {self.acc_peak:,}, {self.acc_overflows:,} overflows; "
            f"{self.saturations:,} requant saturations, {self.output_saturations:,} output "
            "saturations",
        ]
        return "\n".join(lines)


_TABLE = Columns(("layer", "k", "c_in", "c_out", "LB bits", "MACs/px", "host kernel",
                  "acc bound", "acc peak", "acc ovf", "sat"),
                 (8, 6, 5, 6, 11, 8, 26, 12, 12, 9, 9))
_row = _TABLE.row


def _stage_lines(s: StageSimReport, fps: float) -> list[str]:
    lines = [f"{s.stage} ({s.name}, x{s.upscale}): latency {s.latency_rows} rows = "
             f"{s.latency_cycles:,} cycles; the engine needs {s.mac_rate_gmacs:.3f} GMAC/s "
             f"at {fps:g} fps", _TABLE.header()]
    for ly in s.layers:
        lines.append(_row((str(ly.index), kernel_label(ly.kernel, ly.c_in, ly.groups, ly.dilation),
                           str(ly.c_in), str(ly.c_out),
                           f"{ly.linebuffer_bits:,}", f"{ly.macs_per_pixel:,}",
                           ly.host_kernel or ly.mac_path,
                           f"{ly.acc_bound:,}", f"{ly.acc_peak:,}", f"{ly.acc_overflows:,}",
                           f"{ly.saturations:,}")))
    if s.residual_rows:
        lines.append(_row(("residual", "", "3", "3", f"{s.residual_bits:,}", "",
                           s.output_kernel, "", "", "", f"{s.output_saturations:,}")))
    lines.append(_row(("total", "", "", "", f"{s.linebuffer_bits:,}", f"{s.macs_per_pixel:,}",
                       "", "", f"{s.acc_peak:,}", f"{s.acc_overflows:,}",
                       f"{s.saturations + s.output_saturations:,}")))
    return lines


# ---- adding up the parts ----------------------------------------------------------------------


def stage_sim_report(*, name: str, stage: str, upscale: int, width: int,
                     layers: tuple[LayerSimReport, ...], residual_rows: int, residual_bits: int,
                     latency_rows: int, output_saturations: int, pixels_per_clock: int,
                     fps: float, output_kernel: str = "") -> StageSimReport:
    """One stage's report from its layers' and its delay line's figures."""
    macs_per_frame = total(layers, "macs_per_frame")
    return StageSimReport(
        name=name, stage=stage, upscale=upscale, layers=layers, residual_rows=residual_rows,
        residual_bits=residual_bits,
        linebuffer_bits=total(layers, "linebuffer_bits") + residual_bits,
        macs_per_pixel=total(layers, "macs_per_pixel"), macs_per_frame=macs_per_frame,
        latency_rows=latency_rows,
        latency_cycles=latency_cycles(latency_rows, width, pixels_per_clock),
        mac_rate_gmacs=mac_rate_gmacs(macs_per_frame, fps), acc_peak=peak(layers, "acc_peak"),
        acc_overflows=total(layers, "acc_overflows"), saturations=total(layers, "saturations"),
        output_saturations=output_saturations, output_kernel=output_kernel,
    )


def sim_report(*, name: str, stage: str, width: int, height: int, upscale: int, frames: int,
               block_rows: int, stages: tuple[StageSimReport, ...], pixels_per_clock: int,
               clock_mhz: float, fps: float) -> SimReport:
    """The engine's report from its stages' reports (Net1 first): the totals add up."""
    check_format(width, height, fps, clock_mhz, pixels_per_clock)
    lb_bits = total(stages, "linebuffer_bits")
    macs_per_frame = total(stages, "macs_per_frame")
    latency = total(stages, "latency_rows")
    rate = mac_rate_gmacs(macs_per_frame, fps)
    return SimReport(
        name=name, stage=stage, width=width, height=height, out_width=width * upscale,
        out_height=height * upscale, frames=frames, fps=fps, clock_mhz=clock_mhz,
        pixels_per_clock=pixels_per_clock, block_rows=block_rows, stages=stages,
        linebuffer_bits=lb_bits, linebuffer_kib=lb_bits / BITS_PER_KIB,
        macs_per_pixel=total(stages, "macs_per_pixel"), macs_per_frame=macs_per_frame,
        latency_rows=latency, latency_out_rows=latency * upscale,
        latency_cycles=total(stages, "latency_cycles"), mac_rate_gmacs=rate,
        macs_per_clock=rate * 1e3 / clock_mhz, acc_peak=peak(stages, "acc_peak"),
        acc_overflows=total(stages, "acc_overflows"), saturations=total(stages, "saturations"),
        output_saturations=total(stages, "output_saturations"),
    )
