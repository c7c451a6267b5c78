"""The engine: Net1 and Net2 chained back to back without frame memory, or one stage alone.

:class:`EngineSim` is the streaming model (rows in, rows out, O(width) state);
:func:`simulate` runs one whole frame through it and returns the output frame and the report.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from tqdm import tqdm

from hwsr.program import EngineProgram, StageProgram
from hwsr.report import check_format
from hwsr.sim._lanes import default_lanes, single_threaded_blas
from hwsr.sim.layer import F32_EXACT, Workspace
from hwsr.sim.report import SimReport, sim_report
from hwsr.sim.stage import RowSink, StageSim, StageTap
from hwsr.spec import stage_names

BLOCK_PIXELS = 131072  # pixels per block: few host calls per frame, still O(width) memory
MAX_BLOCK_ROWS = 64  # golden frames 66 rows tall span two blocks at narrow widths

FrameU8 = npt.NDArray[np.uint8]
# Receives (tap name '<stage>.layer<i>', '<stage>.layer<i>.acc' or '<stage>.out', rows
# (n, channels, width)) in raster order; views, valid only during the call.
EngineTap = StageTap


def stage_programs(program: EngineProgram, stage: str) -> list[StageProgram]:
    """The stage programs that run for ``stage``, in order (Net1 first for 'dual')."""
    return program.stages(stage)


def default_block_rows(width: int, max_halo: int, lanes: int = 1) -> int:
    """Rows per block: about ``BLOCK_PIXELS`` pixels, at least the largest kernel halo,
    a multiple of the host lanes.

    A function of the line width only, so the engine's memory never depends on the height.

    >>> default_block_rows(1280, 1), default_block_rows(3840, 1, lanes=2), default_block_rows(4, 2)
    (64, 36, 64)
    """
    rows = max(min(MAX_BLOCK_ROWS, math.ceil(BLOCK_PIXELS / width)), max_halo, 1)
    return -(-rows // lanes) * lanes


class EngineSim:
    """Streaming model of the engine for one line width (allocate once, run many frames).

    Feed a frame's rows with :meth:`push` (any number at a time, raster order) between
    :meth:`begin_frame` and :meth:`finish`; output rows leave through the ``sink`` as soon
    as the engine emits them. Nothing here depends on the frame height.
    """

    def __init__(self, program: EngineProgram, stage: str = "dual", *, width: int,
                 block_rows: int | None = None, mac_path: str = "auto",
                 requant_path: str = "auto", f32_limit: int = F32_EXACT,
                 lanes: int | None = None) -> None:
        programs = stage_programs(program, stage)
        max_halo = max(ly.halo_rows for p in programs for ly in p.spec.layers)
        self.lanes = default_lanes() if lanes is None else max(1, lanes)
        self.block_rows = block_rows or default_block_rows(width, max_halo, self.lanes)
        self.program, self.stage, self.width = program, stage, width
        self.workspace = Workspace.empty(self.block_rows * width)
        self.stages = [StageSim(p, width, self.block_rows, self.workspace, mac_path=mac_path,
                                requant_path=requant_path, f32_limit=f32_limit,
                                lanes=self.lanes)
                       for p in programs]
        self.upscale = math.prod(s.upscale for s in self.stages)
        self.rows_in = 0  # rows of the current frame received
        self.stage_names = list(stage_names(stage))

    def set_taps(self, tap: EngineTap | None, *, acc: bool = False) -> None:
        """Stream every layer's rows of every stage to ``tap`` (golden vectors); see
        :meth:`StageSim.set_tap`. Names are prefixed with the stage: ``net2.layer3``."""
        for name, s in zip(self.stage_names, self.stages, strict=True):
            s.set_tap(None if tap is None else functools.partial(_named_tap, tap, name), acc)

    @property
    def buffer_bytes(self) -> int:
        """Host bytes of all state: line buffers, delay lines, stream buffers, workspace."""
        return sum(s.buffer_bytes for s in self.stages) + self.workspace.nbytes

    def begin_frame(self) -> None:
        for s in self.stages:
            s.begin_frame()
        self.rows_in = 0

    def _sinks(self, sink: RowSink) -> list[RowSink]:
        """Sink of each stage: the next stage's input, then the caller's sink."""
        sinks: list[RowSink] = [sink]
        for nxt in reversed(self.stages[1:]):
            sinks.insert(0, functools.partial(_push_into, nxt, sinks[0]))
        return sinks

    def push(self, rows_u8_hwc: FrameU8, sink: RowSink) -> None:
        """Stream rows ``(n, width, 3)`` of the current frame; output rows go to ``sink``."""
        with single_threaded_blas():
            self.stages[0].push(rows_u8_hwc, self._sinks(sink)[0])
        self.rows_in += rows_u8_hwc.shape[0]

    def finish(self, sink: RowSink) -> None:
        """End of frame: every stage drains its rows below the frame, Net1 first."""
        with single_threaded_blas():
            for stage, s_sink in zip(self.stages, self._sinks(sink), strict=True):
                stage.finish(s_sink)

    def run_rows(self, row_blocks: Iterable[FrameU8], sink: RowSink) -> None:
        """One frame from an iterable of row blocks (any sizes), in raster order."""
        self.begin_frame()
        for rows in row_blocks:
            self.push(rows, sink)
        if self.rows_in == 0:
            raise ValueError("a frame needs at least one row")
        self.finish(sink)

    def run_frame(self, frame_u8_hwc: FrameU8, *, progress: bool = False) -> FrameU8:
        """Whole frame in, whole output frame out (the sink writes rows into it)."""
        h, w = _check_frame(frame_u8_hwc, self.width)
        r = self.upscale
        out = np.empty((h * r, w * r, 3), np.uint8)
        filled = 0

        def sink(rows: FrameU8) -> None:
            nonlocal filled
            out[filled : filled + rows.shape[0]] = rows
            filled += rows.shape[0]

        step = self.block_rows
        blocks = (frame_u8_hwc[y : y + step] for y in range(0, h, step))
        bar = tqdm(blocks, total=math.ceil(h / step), unit="block", desc="simulate",
                   disable=not progress, leave=False)
        self.run_rows(bar, sink)
        if filled != h * r:  # pragma: no cover - a broken pipeline, not a user error
            raise RuntimeError(f"engine emitted {filled} rows, expected {h * r}")
        return out

    def report(self, *, height: int, pixels_per_clock: int = 1, clock_mhz: float = 600.0,
               fps: float = 60.0) -> SimReport:
        """What the engine allocated and saw over the frames it ran, of ``height`` rows each."""
        check_format(self.width, height, fps, clock_mhz, pixels_per_clock)
        return sim_report(
            name=self.program.net2.spec.name, stage=self.stage, width=self.width, height=height,
            upscale=self.upscale, frames=self.stages[-1].frames, block_rows=self.block_rows,
            stages=tuple(s.report(pixels_per_clock, fps) for s in self.stages),
            pixels_per_clock=pixels_per_clock, clock_mhz=clock_mhz, fps=fps)


def _named_tap(tap: EngineTap, stage: str, point: str, rows: np.ndarray) -> None:
    tap(f"{stage}.{point}", rows)


def _push_into(stage: StageSim, down: RowSink, rows: FrameU8) -> None:
    """Rows leaving one stage stream straight into the next (no frame memory between)."""
    stage.push(rows, down)


def _check_frame(frame: FrameU8, width: int | None = None) -> tuple[int, int]:
    if not isinstance(frame, np.ndarray) or frame.dtype != np.uint8 or frame.ndim != 3 \
            or frame.shape[2] != 3:
        raise ValueError("frame must be a uint8 array of shape (H, W, 3)")
    h, w = frame.shape[:2]
    if h < 1 or w < 1:
        raise ValueError(f"frame must be at least 1x1, got {w}x{h}")
    if width is not None and w != width:
        raise ValueError(f"frame width {w} != engine line width {width}")
    return h, w


@dataclass(frozen=True, eq=False)
class SimResult:
    """Output frame of a simulation and what the engine saw doing it."""

    frame: FrameU8  # uint8 (H*r, W*r, 3)
    report: SimReport


def simulate(program: EngineProgram, frame_u8_hwc: FrameU8, stage: str = "dual", *,
             pixels_per_clock: int = 1, clock_mhz: float = 600.0, fps: float = 60.0,
             progress: bool = False, block_rows: int | None = None,
             mac_path: str = "auto", requant_path: str = "auto",
             lanes: int | None = None, tap: EngineTap | None = None,
             tap_acc: bool = False) -> SimResult:
    """Run one frame through the line-buffer engine, bit for bit as the silicon computes it.

    ``stage`` is 'dual' (Net1 then Net2), 'net1' or 'net2'. The output equals
    :func:`hwsr.reference.run_program` exactly, and so do the per-layer statistics.
    ``block_rows``, ``mac_path`` ('auto', 'float32', 'blas' or 'int64'), ``requant_path``
    ('auto' or 'int64') and ``lanes`` (host threads) change how the host computes, never the
    result. ``tap`` receives every layer's
    rows as they are computed (:meth:`EngineSim.set_taps`; ``tap_acc`` adds accumulators).
    """
    h, w = _check_frame(frame_u8_hwc)
    check_format(w, h, fps, clock_mhz, pixels_per_clock)  # refuse before any work
    sim = EngineSim(program, stage, width=w, block_rows=block_rows, mac_path=mac_path,
                    requant_path=requant_path, lanes=lanes)
    if tap is not None:
        sim.set_taps(tap, acc=tap_acc)
    out = sim.run_frame(frame_u8_hwc, progress=progress)
    report = sim.report(height=h, pixels_per_clock=pixels_per_clock, clock_mhz=clock_mhz,
                        fps=fps)
    return SimResult(out, report)
