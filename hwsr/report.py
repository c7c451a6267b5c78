"""Engine report: what a hardware engineer budgets for an engine spec, as a pure function of it.

For every layer of a stage: parameters, MACs per LR pixel and per frame, line-buffer bits and
latency rows; for the stage: the residual delay line, totals, latency in rows and cycles and
the MAC rate a frame rate needs at a clock. No torch, no weights: only the
:class:`~hwsr.spec.EngineSpec` and the video format.

This module is the one home of the cost formulas (:func:`linebuffer_bits`,
:func:`latency_cycles`, :func:`mac_rate_gmacs`, :func:`check_format`): the simulator's report
(:mod:`hwsr.sim.report`) computes its measured figures with the same functions, and both
reports are trees of :mod:`hwsr.report_model`.

Conventions (what the figures mean):

* Both stages run on the LR grid (Net1 maps LR→LR, Net2 maps LR→×r by pixel shuffle), so
  ``width``/``height`` are the LR frame and every "per pixel" figure is per LR pixel.
* A k×k layer holds k−1 rows of its input: ``(k−1) × width × c_in × in_bits`` bits, where
  ``in_bits`` is the pixel width (8) for the first layer and ``act_bits`` for the others.
  A 1×1 layer holds none. Its latency is k // 2 rows.
* The residual delay line (when ``spec.residual``) holds the stage's input pixels from the
  row entering to the output row leaving: ``latency_rows × width × 3 × 8`` bits. It is
  counted apart from layer 1's line buffer, which holds some of the same rows: an upper
  bound a designer may shrink by sharing them.
* Latency in cycles is ``latency_rows × ceil(width / pixels_per_clock)``:
  ``pixels_per_clock`` counts the stage's input (LR) pixels; horizontal and vertical
  blanking are ignored (they only add slack).
* The emitted RTL (``hwsr rtl``, 1 px/clock) adds named terms, which its co-simulation
  measures exactly: :func:`streaming_latency_cycles` = ``latency_cycles`` +
  :func:`column_halo_cycles` + :func:`pipeline_cycles`, and its residual delay line holds
  :func:`delay_line_overhead_pixels` more than ``latency_rows × width``.
* The HR raster output stage (``hwsr rtl``'s default, ``hwsr_top``) reorders the last
  stage's r×r blocks into HR rows in one memory of r HR rows: :func:`raster_bits` =
  ``r × width × r × 3 × 8`` bits (none for r = 1 or without the stage). It is counted apart
  from the line buffers, and the memory total adds both.
* Dual: Net1 then Net2, chained without frame memory, so both stages' line buffers exist
  at once and the totals add; latency adds; each stage has its own MAC array, so MAC
  units add per stage (rounded up per stage).
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from fractions import Fraction
from typing import TYPE_CHECKING

from hwsr.report_model import BITS_PER_KIB, Columns, ReportNode, total
from hwsr.spec import IMAGE_CHANNELS, EngineSpec

if TYPE_CHECKING:  # the plan lives with the RTL; imported when a report asks for it
    from hwsr.folding import FoldPlan

# ---- the cost formulas: the one home of each (the simulator's report uses them too) ---------


def linebuffer_bits(rows: int, width: int, channels: int, bits: int) -> int:
    """Bits of a line buffer (or delay line) holding ``rows`` rows of ``channels`` codes.

    >>> linebuffer_bits(2, 1280, 20, 8)
    409600
    """
    return rows * width * channels * bits


def latency_cycles(latency_rows: int, width: int, pixels_per_clock: int) -> int:
    """Clock cycles of ``latency_rows`` LR rows at ``pixels_per_clock`` (blanking ignored).

    >>> latency_cycles(5, 1280, 2)
    3200
    """
    return latency_rows * math.ceil(width / pixels_per_clock)


# The streaming RTL (hwsr rtl) at 1 LR pixel per clock, term by term beyond the row latency:
RTL_CONV_REGISTERS = 2  # pipeline registers of each conv layer: its window and its output
RTL_STAGE_REGISTERS = 1  # the residual/pixel-shuffle output register of each stage


def column_halo_cycles(spec: EngineSpec) -> int:
    """A k×k window's centre lags its newest pixel by k//2 pixels too: Σ k//2 cycles."""
    return spec.latency_rows


def pipeline_cycles(spec: EngineSpec) -> int:
    """Pipeline registers an input pixel crosses in one stage of the RTL."""
    return RTL_CONV_REGISTERS * len(spec.layers) + RTL_STAGE_REGISTERS


def streaming_latency_cycles(spec: EngineSpec, width: int) -> int:
    """First input pixel to first output pixel of one RTL stage, no stalls:
    ``latency_cycles`` (rows) + :func:`column_halo_cycles` + :func:`pipeline_cycles`.

    >>> from hwsr.spec import EngineSpec, LayerSpec
    >>> streaming_latency_cycles(EngineSpec("t", (LayerSpec(3, 3, 3),), upscale=1), 100)
    104
    """
    return latency_cycles(spec.latency_rows, width, 1) + column_halo_cycles(spec) + \
        pipeline_cycles(spec)


def delay_line_overhead_pixels(spec: EngineSpec) -> int:
    """Pixels the RTL's residual delay line holds beyond ``latency_rows × width``: the
    column halo and each conv layer's two pipeline registers (0 without residual)."""
    if not spec.residual:
        return 0
    return column_halo_cycles(spec) + RTL_CONV_REGISTERS * len(spec.layers)


def raster_bits(upscale: int, width: int, pixel_bits: int = 8) -> int:
    """Bits of the HR raster stage's memory: r HR rows of ``width × r`` pixels (``r·width``
    segments of r pixels); 0 for r = 1 (the output is raster already).

    >>> raster_bits(3, 1280)  # three 2160p rows
    276480
    """
    return 0 if upscale == 1 else upscale * width * upscale * IMAGE_CHANNELS * pixel_bits


def mac_rate_gmacs(macs_per_frame: int, fps: float) -> float:
    """MACs per second a frame rate needs, in GMAC/s."""
    return macs_per_frame * fps / 1e9


def check_format(width: int, height: int, fps: float, clock_mhz: float, ppc: int) -> None:
    """Refuse a video format or clock the figures cannot be given for (one line each)."""
    if width < 1 or height < 1:
        raise ValueError(f"frame must be at least 1x1, got {width}x{height}")
    if not (fps > 0 and clock_mhz > 0):
        raise ValueError(f"fps and clock_mhz must be > 0, got {fps}, {clock_mhz}")
    if ppc < 1:
        raise ValueError(f"pixels_per_clock must be >= 1, got {ppc}")


# ---- the report tree --------------------------------------------------------------------------


@dataclass(frozen=True)
class LayerReport(ReportNode):
    """Budget of one k×k conv layer of a stage."""

    index: int  # position in the stage's layer list
    kernel: int  # k
    c_in: int  # input channels
    c_out: int  # output channels
    in_bits: int  # width of one input sample held in the line buffer
    params: int  # k·k·(c_in/groups)·c_out weights + c_out biases
    macs_per_pixel: int  # k·k·(c_in/groups)·c_out per LR pixel
    macs_per_frame: int  # macs_per_pixel × width × height
    linebuffer_rows: int  # span − 1 rows of the layer's input (span = dilation·(k−1)+1)
    linebuffer_bits: int  # linebuffer_rows × width × c_in × in_bits
    latency_rows: int  # span // 2
    groups: int = 1  # channel groups (c_in: depthwise)
    dilation: int = 1  # tap spacing


@dataclass(frozen=True, kw_only=True)
class _Totals:
    """Figures shared by a stage and a whole engine (fields of both reports)."""

    params: int  # weights + biases
    macs_per_pixel: int  # MACs per LR pixel
    macs_per_frame: int  # MACs per LR frame
    linebuffer_bits: int  # every line buffer and residual delay line
    linebuffer_kib: float  # linebuffer_bits / 8 / 1024
    latency_rows: int  # LR rows between a row entering and its output leaving
    latency_out_rows: int  # the same in output rows (× r of the last stage)
    latency_cycles: int  # latency_rows × ceil(width / pixels_per_clock)
    rtl_latency_cycles: int  # the emitted RTL at 1 px/clock: rows + column halo + registers
    rtl_delay_line_extra_bits: int  # the RTL's delay lines beyond latency_rows × width pixels
    mac_rate_gmacs: float  # MACs per frame × fps, in GMAC/s
    macs_per_clock: float  # MAC rate / clock
    mac_units: int  # MAC units needed at this clock


@dataclass(frozen=True, kw_only=True)
class StageReport(_Totals, ReportNode):
    """Budget of one stage (Net1 or Net2) of the engine at a video format and clock."""

    CHILDREN = {"layers": LayerReport}

    name: str  # spec name
    stage: str  # "net1" or "net2"
    upscale: int  # r of this stage
    width: int  # LR frame width, pixels
    height: int  # LR frame height, pixels
    fps: float  # frames per second
    clock_mhz: float  # engine clock
    pixels_per_clock: int  # LR pixels consumed per clock
    layers: tuple[LayerReport, ...]  # in execution order
    residual_rows: int  # rows in the residual delay line (0 without residual)
    residual_bits: int  # residual_rows × width × 3 × 8

    def format_table(self) -> str:
        """Plain-text table: one line per layer, the residual delay line, the totals."""
        return "\n".join(_stage_lines(self) + _summary_lines(self, self.upscale))


@dataclass(frozen=True, kw_only=True)
class EngineReport(_Totals, ReportNode):
    """Budget of the engine: one stage, or Net1 and Net2 chained (``stage == "dual"``)."""

    CHILDREN = {"stages": StageReport}

    name: str  # spec name (Net2's)
    stage: str  # "dual", "net1" or "net2"
    upscale: int  # overall scale: r of the last stage
    width: int  # LR frame width, pixels
    height: int  # LR frame height, pixels
    fps: float  # frames per second
    clock_mhz: float  # engine clock
    pixels_per_clock: int  # LR pixels consumed per clock
    raster_bits: int = 0  # the HR raster output stage's memory (r HR rows; 0: none)
    memory_bits: int = 0  # linebuffer_bits + raster_bits: every memory of the engine
    memory_kib: float = 0.0  # memory_bits / 8 / 1024
    stages: tuple[StageReport, ...]  # in execution order (Net1 first)

    def format_table(self, folding: list[str] | None = None) -> str:
        """Plain-text table of every stage, then the engine's totals; ``folding`` (the lines
        of :func:`folding_lines`) replaces the abstract "MAC units" line with the folded
        array's plan."""
        lines = [f"engine {self.name}: {self.stage}, {self.width}x{self.height} LR @ "
                 f"{self.fps:g} fps, {self.clock_mhz:g} MHz, {self.pixels_per_clock} px/clock"]
        units = folding is None
        for s in self.stages:
            lines += ["", *_stage_lines(s), *_summary_lines(s, s.upscale, units)]
        lines += ["", f"engine total ({self.stage})", *_summary_lines(self, self.upscale, units)]
        if self.raster_bits:
            lines += [f"  raster output  {self.raster_bits:,} bits = "
                      f"{self.raster_bits / BITS_PER_KIB:g} KiB ({self.upscale} HR rows of the "
                      "raster stage; hwsr rtl --raster off: none)",
                      f"  memory total   {self.memory_bits:,} bits = {self.memory_kib:g} KiB "
                      "(line buffers + raster output)"]
        return "\n".join(lines + ([] if folding is None else ["", *folding]))


# ---- construction ---------------------------------------------------------------------------


def _macs_per_clock(macs_per_frame: int, fps: float, clock_mhz: float) -> Fraction:
    """Exact rational MACs per clock, so the ceiling of an exact integer stays that integer."""
    return Fraction(macs_per_frame) * Fraction(fps) / (Fraction(clock_mhz) * 10**6)


def _layer_reports(spec: EngineSpec, width: int, height: int) -> tuple[LayerReport, ...]:
    out = []
    for i, ly in enumerate(spec.layers):
        in_bits = spec.datapath.pixel_type.width if i == 0 else spec.datapath.act_bits
        rows = ly.linebuffer_rows
        out.append(LayerReport(
            index=i, kernel=ly.kernel, c_in=ly.c_in, c_out=ly.c_out, in_bits=in_bits,
            params=ly.params, macs_per_pixel=ly.macs_per_pixel,
            macs_per_frame=ly.macs_per_pixel * width * height,
            linebuffer_rows=rows, linebuffer_bits=linebuffer_bits(rows, width, ly.c_in, in_bits),
            latency_rows=ly.halo_rows, groups=ly.groups, dilation=ly.dilation,
        ))
    return tuple(out)


def stage_report(
    spec: EngineSpec, width: int, height: int, fps: float, clock_mhz: float,
    pixels_per_clock: int,
) -> StageReport:
    """Budget of one stage running ``spec`` on a ``width``×``height`` LR frame.

    >>> from hwsr.spec import EngineSpec, LayerSpec
    >>> spec = EngineSpec("tiny", (LayerSpec(3, 3, 3),), upscale=1)
    >>> r = stage_report(spec, 100, 10, fps=1.0, clock_mhz=1.0, pixels_per_clock=1)
    >>> r.macs_per_pixel, r.linebuffer_bits, r.latency_rows, r.latency_cycles
    (81, 7200, 1, 100)
    """
    check_format(width, height, fps, clock_mhz, pixels_per_clock)
    layers = _layer_reports(spec, width, height)
    residual_rows = spec.latency_rows if spec.residual else 0
    pixel_bits = spec.datapath.pixel_type.width
    residual_bits = linebuffer_bits(residual_rows, width, IMAGE_CHANNELS, pixel_bits)
    lb_bits = total(layers, "linebuffer_bits") + residual_bits
    macs_per_frame = spec.macs_per_pixel * width * height
    per_clock = _macs_per_clock(macs_per_frame, fps, clock_mhz)
    return StageReport(
        params=spec.params, macs_per_pixel=spec.macs_per_pixel, macs_per_frame=macs_per_frame,
        linebuffer_bits=lb_bits, linebuffer_kib=lb_bits / BITS_PER_KIB,
        latency_rows=spec.latency_rows, latency_out_rows=spec.latency_rows * spec.upscale,
        latency_cycles=latency_cycles(spec.latency_rows, width, pixels_per_clock),
        rtl_latency_cycles=streaming_latency_cycles(spec, width),
        rtl_delay_line_extra_bits=delay_line_overhead_pixels(spec) * IMAGE_CHANNELS * pixel_bits,
        mac_rate_gmacs=mac_rate_gmacs(macs_per_frame, fps), macs_per_clock=float(per_clock),
        mac_units=math.ceil(per_clock),
        name=spec.name, stage=spec.stage, upscale=spec.upscale, width=width, height=height,
        fps=fps, clock_mhz=clock_mhz, pixels_per_clock=pixels_per_clock, layers=layers,
        residual_rows=residual_rows, residual_bits=residual_bits,
    )


def engine_report(
    net2_spec: EngineSpec, *, stage: str = "dual", width: int = 1280, height: int = 720,
    fps: float = 60.0, clock_mhz: float = 600.0, pixels_per_clock: int = 1,
    raster: bool = True,
) -> EngineReport:
    """Budget of the engine built from Net2's spec: ``"dual"`` (Net1 → Net2), ``"net1"`` or ``"net2"``.

    Defaults: 720p LR in, 60 fps, 600 MHz, one LR pixel per clock, the HR raster output
    stage (``raster``) after the last stage.
    """
    stages = tuple(stage_report(s, width, height, fps, clock_mhz, pixels_per_clock)
                   for s in net2_spec.stage_specs(stage))
    lb_bits = total(stages, "linebuffer_bits")
    macs_per_frame = total(stages, "macs_per_frame")
    latency_rows = total(stages, "latency_rows")
    upscale = stages[-1].upscale  # Net1 is ×1: the engine's scale is the last stage's
    out_bits = raster_bits(upscale, width, net2_spec.datapath.pixel_type.width) if raster else 0
    return EngineReport(
        params=total(stages, "params"),
        macs_per_pixel=total(stages, "macs_per_pixel"), macs_per_frame=macs_per_frame,
        linebuffer_bits=lb_bits, linebuffer_kib=lb_bits / BITS_PER_KIB,
        latency_rows=latency_rows, latency_out_rows=latency_rows * upscale,
        latency_cycles=total(stages, "latency_cycles"),
        rtl_latency_cycles=total(stages, "rtl_latency_cycles"),
        rtl_delay_line_extra_bits=total(stages, "rtl_delay_line_extra_bits"),
        mac_rate_gmacs=mac_rate_gmacs(macs_per_frame, fps),
        macs_per_clock=float(_macs_per_clock(macs_per_frame, fps, clock_mhz)),
        mac_units=total(stages, "mac_units"),
        name=net2_spec.name, stage=stage, upscale=upscale, width=width, height=height,
        fps=fps, clock_mhz=clock_mhz, pixels_per_clock=pixels_per_clock, stages=stages,
        raster_bits=out_bits, memory_bits=lb_bits + out_bits,
        memory_kib=(lb_bits + out_bits) / BITS_PER_KIB,
    )


# ---- budget and notices ---------------------------------------------------------------------


def check_budget(
    report: StageReport | EngineReport, max_macs_per_pixel: int = 22000,
    max_linebuffer_kib: float = 256,
) -> list[str]:
    """Violations of an area budget (empty when it fits): MACs per LR pixel and line-buffer KiB.

    >>> from hwsr.spec import EngineSpec, LayerSpec
    >>> spec = EngineSpec("tiny", (LayerSpec(3, 3, 3),), upscale=1)
    >>> check_budget(engine_report(spec, stage="net1"), max_macs_per_pixel=80)
    ['MACs per LR pixel: 81 > budget 80']
    """
    violations = []
    if report.macs_per_pixel > max_macs_per_pixel:
        violations.append(
            f"MACs per LR pixel: {report.macs_per_pixel} > budget {max_macs_per_pixel}")
    if report.linebuffer_kib > max_linebuffer_kib:
        violations.append(
            f"line buffers: {report.linebuffer_kib:g} KiB > budget {max_linebuffer_kib:g} KiB")
    return violations


def float_only_notice(arch_name: str) -> str | None:
    """Why ``arch_name`` has no engine report (None when the engine can run it).

    >>> float_only_notice("engine") is None
    True
    """
    # Imported here so that `import hwsr.report` never pulls in the hwsr.arch package.
    from hwsr.arch.registry import get_arch

    info = get_arch(arch_name)
    if info.engine_runnable:
        return None
    return f"{info.name}: no engine report, {info.reason}"


# ---- text table -----------------------------------------------------------------------------


def kernel_label(kernel: int, c_in: int, groups: int = 1, dilation: int = 1) -> str:
    """A layer's kernel as the tables print it: ``3``, ``dw3`` (groups = c_in), ``3g4``
    (4 groups), ``3d2`` (dilation 2), ``dw3d2``.

    >>> [kernel_label(3, 20), kernel_label(3, 20, 20), kernel_label(3, 8, 4, 2)]
    ['3', 'dw3', '3g4d2']
    """
    head = f"dw{kernel}" if groups > 1 and groups == c_in else (
        f"{kernel}g{groups}" if groups > 1 else str(kernel))
    return head + (f"d{dilation}" if dilation > 1 else "")


_TABLE = Columns(("layer", "k", "c_in", "c_out", "in bits", "params", "MACs/px", "MACs/frame",
                  "LB rows", "LB bits", "lat rows"), (8, 6, 5, 6, 8, 9, 9, 16, 8, 12, 9))
_row = _TABLE.row


def _stage_lines(s: StageReport) -> list[str]:
    lines = [f"{s.stage} ({s.name}, x{s.upscale}): {s.width}x{s.height} LR", _TABLE.header()]
    for ly in s.layers:
        lines.append(_row((
            str(ly.index), kernel_label(ly.kernel, ly.c_in, ly.groups, ly.dilation),
            str(ly.c_in), str(ly.c_out), str(ly.in_bits),
            f"{ly.params:,}", f"{ly.macs_per_pixel:,}", f"{ly.macs_per_frame:,}",
            str(ly.linebuffer_rows), f"{ly.linebuffer_bits:,}", str(ly.latency_rows))))
    if s.residual_rows:
        bits = s.residual_bits // (s.residual_rows * s.width * IMAGE_CHANNELS)
        ch = str(IMAGE_CHANNELS)
        lines.append(_row(("residual", "", ch, ch, str(bits), "", "", "", str(s.residual_rows),
                           f"{s.residual_bits:,}", "")))
    lines.append(_row(("total", "", "", "", "", f"{s.params:,}", f"{s.macs_per_pixel:,}",
                       f"{s.macs_per_frame:,}", "", f"{s.linebuffer_bits:,}",
                       str(s.latency_rows))))
    return lines


def _summary_lines(t: _Totals, upscale: int, mac_units: bool = True) -> list[str]:
    lines = [
        f"  line buffers   {t.linebuffer_bits:,} bits = {t.linebuffer_kib:g} KiB",
        f"  latency        {t.latency_rows} LR rows = {t.latency_out_rows} output rows "
        f"(x{upscale}) = {t.latency_cycles:,} cycles",
        f"  RTL (hwsr rtl) latency {t.rtl_latency_cycles:,} cycles at 1 px/clock (rows + column "
        f"halo + pipeline registers); delay lines +{t.rtl_delay_line_extra_bits:,} bits",
        f"  MAC rate       {t.mac_rate_gmacs:.3f} GMAC/s = {t.macs_per_clock:.2f} MACs/clock "
        + (f"-> {t.mac_units:,} MAC units" if mac_units else "(the folded array: below)"),
    ]
    return lines


def folding_plan(spec: EngineSpec, *, stage: str = "dual", macs: int | None = None,
                 clock_mhz: float | None = None, width: int | None = None,
                 height: int | None = None, fps: float | None = None,
                 separate: bool = False) -> FoldPlan:
    """The folding plan (:mod:`hwsr.folding`) of the engine at the spec's budget with any
    figure overridden (``hwsr report --macs``)."""
    from hwsr.folding import fold_plan

    b = spec.budget
    budget = dataclasses.replace(
        b, macs=b.macs if macs is None else macs,
        clock_mhz=b.clock_mhz if clock_mhz is None else clock_mhz,
        width=b.width if width is None else width, height=b.height if height is None else height,
        fps=b.fps if fps is None else fps)
    if budget.macs < 1:
        raise ValueError(f"--macs must be >= 1, got {budget.macs}")
    check_format(budget.width, budget.height, budget.fps, budget.clock_mhz, 1)
    net = spec.net1() if stage == "net1" else spec
    return fold_plan(net, budget, shared=not separate, dual=stage == "dual")


def folding_lines(spec: EngineSpec, *, stage: str = "dual", separate: bool = False,
                  **budget: float | None) -> list[str]:
    """``hwsr report --macs``: the folding plan's lines (``budget``: :func:`folding_plan`'s
    overrides), and for a dual engine the shared array next to two separate engines
    (multipliers, cycles per LR pixel, memory bits)."""
    from hwsr.folding import compare_lines, plan_lines

    plan = folding_plan(spec, stage=stage, separate=separate, **budget)  # type: ignore[arg-type]
    dual = stage == "dual"
    lines = plan_lines(plan, spec.net1() if stage == "net1" else spec, dual)
    if dual:
        b = plan.budget
        lb = engine_report(spec, width=b.width, height=b.height).linebuffer_bits
        lines += ["", "shared array against separate engines at this budget:",
                  *compare_lines(spec, b, lb)]
    return lines
