"""What the simulated engine allocated and saw: per layer, per stage and in total.

Figures come from the simulator's own state, not from the spec: line-buffer bits are the
rings it allocated (rows × width × channels × the code width the silicon stores), MACs are the
products it executed, latency is the rows in flight it measured. The static budget of
:mod:`hwsr.report` predicts the same line-buffer bits, MACs and latency; the tests hold the two
equal.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from hwsr.sim.engine import EngineSim
    from hwsr.sim.stage import StageSim

BITS_PER_KIB = 8 * 1024


@dataclass(frozen=True)
class LayerSimReport:
    """One conv layer as simulated."""

    index: int  # position in the stage
    kernel: int  # k
    c_in: int  # input channels
    c_out: int  # output channels
    in_bits: int  # width of one input code held in the line buffer
    linebuffer_rows: int  # rows the ring holds: k - 1
    linebuffer_bits: int  # rows × width × c_in × in_bits, as allocated
    latency_rows: int  # k // 2: rows below an output row that must arrive before it leaves
    macs_per_pixel: int  # k·k·c_in·c_out per LR pixel
    macs_per_frame: int  # products executed per frame
    mac_path: str  # host datapath: float32 (proven exact), float32xN (chunked) or int64
    acc_bound: int  # worst-case |accumulator| over every input, from the integer weights
    acc_peak: int  # largest |accumulator| seen, before the overflow rule
    acc_overflows: int  # accumulator results outside acc_bits
    saturations: int  # codes clamped by the layer's requantization


@dataclass(frozen=True)
class StageSimReport:
    """One stage (Net1 or Net2) as simulated."""

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


@dataclass(frozen=True)
class SimReport:
    """The engine as simulated: one stage or Net1 → Net2, with totals."""

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
    stages: tuple[StageSimReport, ...]  # in execution order
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

    def to_json_dict(self) -> dict[str, Any]:
        """Plain dict of lists and numbers (``json.dumps`` takes it as it is)."""
        d = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "stages"}
        d["stages"] = [{**asdict(s), "layers": [asdict(ly) for ly in s.layers]}
                       for s in self.stages]
        return d

    @classmethod
    def from_json_dict(cls, d: dict[str, Any]) -> SimReport:
        stages = tuple(
            StageSimReport(**{**s, "layers": tuple(LayerSimReport(**ly) for ly in s["layers"])})
            for s in d["stages"])
        return cls(**{**d, "stages": stages})

    def format_table(self) -> str:
        """Plain-text table: each stage's layers and delay line, then the engine totals."""
        lines = [f"simulated {self.name}: {self.stage}, {self.width}x{self.height} -> "
                 f"{self.out_width}x{self.out_height}, {self.frames} frame(s)"]
        for s in self.stages:
            lines += ["", *_stage_lines(s)]
        lines += [
            "",
            f"total: line buffers {self.linebuffer_bits:,} bits = {self.linebuffer_kib:g} KiB; "
            f"{self.macs_per_pixel:,} MACs/px = {self.macs_per_frame:,} MACs/frame",
            f"  latency  {self.latency_rows} LR rows = {self.latency_out_rows} output rows = "
            f"{self.latency_cycles:,} cycles at {self.pixels_per_clock} px/clock",
            f"  MAC rate {self.mac_rate_gmacs:.3f} GMAC/s at {self.fps:g} fps = "
            f"{self.macs_per_clock:.2f} MACs/clock at {self.clock_mhz:g} MHz",
            f"  events   accumulator peak {self.acc_peak:,}, {self.acc_overflows:,} overflows; "
            f"{self.saturations:,} requant saturations, {self.output_saturations:,} output "
            "saturations",
        ]
        return "\n".join(lines)


_COLUMNS = ("layer", "k", "c_in", "c_out", "LB bits", "MACs/px", "MAC path", "acc bound",
            "acc peak", "acc ovf", "sat")
_WIDTHS = (8, 3, 5, 6, 11, 8, 10, 12, 12, 9, 9)


def _row(cells: tuple[str, ...]) -> str:
    return "  ".join(c.rjust(w) for c, w in zip(cells, _WIDTHS, strict=True)).rstrip()


def _stage_lines(s: StageSimReport) -> list[str]:
    lines = [f"{s.stage} ({s.name}, x{s.upscale}): latency {s.latency_rows} rows = "
             f"{s.latency_cycles:,} cycles, {s.mac_rate_gmacs:.3f} GMAC/s", _row(_COLUMNS)]
    for ly in s.layers:
        lines.append(_row((str(ly.index), str(ly.kernel), str(ly.c_in), str(ly.c_out),
                           f"{ly.linebuffer_bits:,}", f"{ly.macs_per_pixel:,}", ly.mac_path,
                           f"{ly.acc_bound:,}", f"{ly.acc_peak:,}", f"{ly.acc_overflows:,}",
                           f"{ly.saturations:,}")))
    if s.residual_rows:
        lines.append(_row(("residual", "", "3", "3", f"{s.residual_bits:,}", "", "", "", "",
                           "", f"{s.output_saturations:,}")))
    lines.append(_row(("total", "", "", "", f"{s.linebuffer_bits:,}", f"{s.macs_per_pixel:,}",
                       "", "", f"{s.acc_peak:,}", f"{s.acc_overflows:,}",
                       f"{s.saturations + s.output_saturations:,}")))
    return lines


# ---- construction from a simulator's state ----------------------------------------------------


def _layer_reports(stage: StageSim) -> tuple[LayerSimReport, ...]:
    frames = max(stage.frames, 1)
    out = []
    for u in stage.units:
        mpp = u.kernel * u.kernel * u.c_in * u.c_out
        out.append(LayerSimReport(
            index=u.index, kernel=u.kernel, c_in=u.c_in, c_out=u.c_out, in_bits=u.in_type.width,
            linebuffer_rows=u.ring.shape[0], linebuffer_bits=u.linebuffer_bits,
            latency_rows=u.halo, macs_per_pixel=mpp, macs_per_frame=u.rows_out * u.width * mpp // frames,
            mac_path=u.mac_path, acc_bound=u.acc_bound, acc_peak=int(u.stats[0]),
            acc_overflows=int(u.stats[1]), saturations=int(u.stats[2]),
        ))
    return tuple(out)


def _stage_report(stage: StageSim, ppc: int, fps: float) -> StageSimReport:
    layers = _layer_reports(stage)
    latency = stage.latency_rows
    if latency is None:  # the frame ended before any row left during streaming
        latency = sum(u.halo for u in stage.units)
    macs_per_frame = sum(ly.macs_per_frame for ly in layers)
    return StageSimReport(
        name=stage.spec.name, stage=stage.spec.stage, upscale=stage.upscale, layers=layers,
        residual_rows=stage.delay.shape[0], residual_bits=stage.residual_bits,
        linebuffer_bits=sum(ly.linebuffer_bits for ly in layers) + stage.residual_bits,
        macs_per_pixel=sum(ly.macs_per_pixel for ly in layers), macs_per_frame=macs_per_frame,
        latency_rows=latency, latency_cycles=latency * math.ceil(stage.width / ppc),
        mac_rate_gmacs=macs_per_frame * fps / 1e9,
        acc_peak=max(ly.acc_peak for ly in layers),
        acc_overflows=sum(ly.acc_overflows for ly in layers),
        saturations=sum(ly.saturations for ly in layers),
        output_saturations=int(stage.out_stats[0]),
    )


def build_report(sim: EngineSim, *, height: int, pixels_per_clock: int = 1,
                 clock_mhz: float = 600.0, fps: float = 60.0) -> SimReport:
    """Report of ``sim`` after it ran frames of ``height`` rows."""
    if pixels_per_clock < 1 or not (fps > 0 and clock_mhz > 0):
        raise ValueError("pixels_per_clock must be >= 1, fps and clock_mhz > 0")
    stages = tuple(_stage_report(s, pixels_per_clock, fps) for s in sim.stages)
    lb_bits = sum(s.linebuffer_bits for s in stages)
    macs_per_frame = sum(s.macs_per_frame for s in stages)
    latency = sum(s.latency_rows for s in stages)
    rate = macs_per_frame * fps / 1e9
    return SimReport(
        name=sim.program.net2.spec.name, stage=sim.stage, width=sim.width, height=height,
        out_width=sim.width * sim.upscale, out_height=height * sim.upscale,
        frames=sim.stages[-1].frames, fps=fps, clock_mhz=clock_mhz,
        pixels_per_clock=pixels_per_clock, block_rows=sim.block_rows, stages=stages,
        linebuffer_bits=lb_bits, linebuffer_kib=lb_bits / BITS_PER_KIB,
        macs_per_pixel=sum(s.macs_per_pixel for s in stages), macs_per_frame=macs_per_frame,
        latency_rows=latency, latency_out_rows=latency * sim.upscale,
        latency_cycles=sum(s.latency_cycles for s in stages), mac_rate_gmacs=rate,
        macs_per_clock=rate * 1e3 / clock_mhz,
        acc_peak=max(s.acc_peak for s in stages),
        acc_overflows=sum(s.acc_overflows for s in stages),
        saturations=sum(s.saturations for s in stages),
        output_saturations=sum(s.output_saturations for s in stages),
    )
