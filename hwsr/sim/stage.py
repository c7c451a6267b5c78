"""One stage of the engine (Net1 or Net2) as a row-streaming pipeline.

Rows enter in raster order, a block of at most ``block_rows`` at a time (the result does not
depend on the block size: each layer sees its input rows in order). Each block runs down the
conv layers; the rows leaving the last layer meet their input pixels, delayed by the residual
delay line (``latency_rows`` rows of uint8 pixels), are requantized to uint8 and pixel-shuffled
into ``r`` output rows per input row, and go to the ``sink``. At the end of the frame each
layer in turn is fed its zero rows below the frame, so every row leaves.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import numpy as np
import numpy.typing as npt

from hwsr.fixed import FixedType
from hwsr.program import StageProgram
from hwsr.report import linebuffer_bits
from hwsr.sim import int8, ops, residual
from hwsr.sim._lanes import run_split
from hwsr.sim.layer import F32_EXACT, I32_SAFE, ConvUnit, Workspace, storage_dtype
from hwsr.sim.report import StageSimReport, stage_sim_report
from hwsr.spec import IMAGE_CHANNELS

RowSink = Callable[[npt.NDArray[np.uint8]], None]  # receives (rows, width*r, 3) uint8
# Receives (point, rows (n, channels, width)): point 'layer<i>' (output codes), 'layer<i>.acc'
# (accumulators, int64) or 'out' (output pixels after residual and shuffle, uint8); views,
# valid only during the call.
StageTap = Callable[[str, np.ndarray], None]


def residual_fits_i32(stage: StageProgram) -> bool:
    """True when the residual add and output shift are exact in int32 for every input."""
    t = stage.layers[-1].out_type
    y_max = max(abs(t.min_code), abs(t.max_code))
    worst = (y_max << stage.res_conv_lshift) + (255 << stage.res_in_lshift)
    return worst < I32_SAFE and 0 <= stage.out_shift <= 30


class StageSim:
    """Line-buffer model of one stage; all state is allocated here, once per line width."""

    def __init__(self, stage: StageProgram, width: int, block_rows: int, workspace: Workspace,
                 *, mac_path: str = "auto", requant_path: str = "auto",
                 f32_limit: int = F32_EXACT, lanes: int = 1) -> None:
        spec = stage.spec
        if width < 1:
            raise ValueError(f"line width must be >= 1, got {width}")
        if block_rows < max(ly.halo_rows for ly in spec.layers):
            raise ValueError("block_rows must cover the largest kernel halo")
        self.program, self.spec, self.width, self.block_rows = stage, spec, width, block_rows
        self.upscale = spec.upscale
        types = [stage.in_type(i) for i in range(len(stage.layers))] + [stage.layers[-1].out_type]
        channels = [IMAGE_CHANNELS] + [lp.weight.shape[0] for lp in stage.layers]
        # stream buffers between layers: buffer i is layer i's input, layer i-1's output;
        # a row holds its channels as planes (c*width + x), as the line buffers do
        self.buffers = [np.zeros((block_rows, c * width), storage_dtype(t))
                        for t, c in zip(types, channels, strict=True)]
        self.units = [
            ConvUnit(i, lp, types[i], spec.datapath, width, self.buffers[i], self.buffers[i + 1],
                     workspace, mac_path=mac_path, requant_path=requant_path, f32_limit=f32_limit,
                     lanes=lanes)
            for i, lp in enumerate(stage.layers)
        ]
        self.residual_i32 = requant_path != "int64" and residual_fits_i32(stage)
        # the compiled output-stage kernel for the int8 variant's target, or 0 (numba)
        self.residual_isa = int8.active()
        self.residual_fn = residual.residual_address(
            self.residual_isa, spec.datapath.rounding.code, self.buffers[-1].dtype, spec.upscale,
            spec.residual) if self.residual_i32 else 0
        # the residual delay line: latency_rows rows of input pixels
        delay_rows = spec.latency_rows if spec.residual else 0
        self.delay = np.zeros((delay_rows, width * IMAGE_CHANNELS), np.uint8)
        self.delay_head = 0
        r = self.upscale
        self.out_rows = np.zeros((block_rows * r, width * r * IMAGE_CHANNELS), np.uint8)
        self.out_stats = np.zeros(1, np.int64)  # pixels clamped to 0..255
        self.lanes = lanes  # host threads of the residual add and shuffle (rows split)
        self.lane_stats = np.zeros((max(lanes, 1), 1), np.int64)
        self.rows_in = 0  # stage input rows received in this frame
        self.rows_out = 0  # conv rows that left the stage in this frame
        self._warm = False  # the residual kernel has run once (on the calling thread)
        self.frames = 0
        self.latency_rows: int | None = None  # measured: input rows in flight per output row
        self.tap: StageTap | None = None  # golden-vector sink of every layer's rows

    def set_tap(self, tap: StageTap | None, acc: bool = False) -> None:
        """Stream every layer's output rows (with ``acc`` its accumulators) and the stage's
        output rows to ``tap`` as the engine emits them; None switches the taps off."""
        self.tap = tap
        layer_tap = None if tap is None else functools.partial(_layer_rows, tap)
        for unit in self.units:
            unit.set_tap(layer_tap, acc)

    @property
    def pixel_type(self) -> FixedType:
        return self.spec.datapath.pixel_type

    @property
    def residual_bits(self) -> int:
        """Bits of the residual delay line as allocated: rows × width × 3 × pixel width."""
        return linebuffer_bits(self.delay.shape[0], self.width, IMAGE_CHANNELS,
                               self.pixel_type.width)

    def report(self, pixels_per_clock: int, fps: float) -> StageSimReport:
        """This stage as allocated and measured over the frames it ran."""
        latency = self.latency_rows
        if latency is None:  # the frame ended before any row left during streaming
            latency = sum(u.halo for u in self.units)
        frames = max(self.frames, 1)
        return stage_sim_report(
            name=self.spec.name, stage=self.spec.stage, upscale=self.upscale, width=self.width,
            layers=tuple(u.report(frames) for u in self.units),
            residual_rows=self.delay.shape[0], residual_bits=self.residual_bits,
            latency_rows=latency, output_saturations=int(self.out_stats[0]),
            pixels_per_clock=pixels_per_clock, fps=fps, output_kernel=self.output_kernel)

    @property
    def output_kernel(self) -> str:
        """The host code of the residual add and pixel shuffle, as the report names it."""
        if self.residual_fn and self.residual_isa is not None:
            return f"int32 lanes {self.residual_isa.name}"
        return "numba int32" if self.residual_i32 else "numba int64"

    @property
    def buffer_bytes(self) -> int:
        """Host bytes of every buffer this stage owns (line buffers, delay line, streams)."""
        arrays = [*self.buffers, self.delay, self.out_rows, *(u.ring for u in self.units)]
        return sum(a.nbytes for a in arrays)

    def begin_frame(self) -> None:
        for unit in self.units:
            unit.begin_frame()
        self.delay.fill(0)
        self.delay_head = 0
        self.rows_in = self.rows_out = 0

    def push(self, rows_u8_hwc: npt.NDArray[np.uint8], sink: RowSink) -> None:
        """Stream input rows ``(n, width, 3)`` uint8 through the stage."""
        if rows_u8_hwc.dtype != np.uint8 or rows_u8_hwc.shape[1:] != (self.width, 3):
            raise ValueError(f"rows must be uint8 (n, {self.width}, 3), got "
                             f"{rows_u8_hwc.dtype} {rows_u8_hwc.shape}")
        staging = self.buffers[0]
        for start in range(0, rows_u8_hwc.shape[0], self.block_rows):
            block = rows_u8_hwc[start : start + self.block_rows]
            n_in = block.shape[0]
            # pixels arrive interleaved (RGB per pixel) and are held as colour planes per row
            np.copyto(staging[:n_in].reshape(n_in, IMAGE_CHANNELS, self.width),
                      block.transpose(0, 2, 1))
            n_out = self._run_layers(0, n_in)
            if n_out and self.latency_rows is None:
                self.latency_rows = (self.rows_in + n_in) - (self.rows_out + n_out)
            self._emit(n_out, n_in, sink)
            if self.delay.shape[0]:
                self.delay_head = ops.ring_push(self.delay, self.delay_head, staging, n_in)
            self.rows_in += n_in

    def finish(self, sink: RowSink) -> None:
        """End of frame: flush every layer's zero rows below the frame, in order."""
        for i, unit in enumerate(self.units):
            n = unit.flush()
            if n:
                self._emit(self._run_layers(i + 1, n), 0, sink)
        self.frames += 1

    def _run_layers(self, first: int, n: int) -> int:
        for unit in self.units[first:]:
            if n == 0:
                return 0
            n = unit.process(n)
        return n

    def _emit(self, n_out: int, n_in: int, sink: RowSink) -> None:
        """Residual add, requantization and pixel shuffle of the rows that left the stack."""
        if n_out == 0:
            return
        prog, r = self.program, self.upscale
        # window row of the delay line (its rows, then this block's) holding the input pixels
        t0 = self.rows_out - (self.rows_in - self.delay.shape[0]) if self.spec.residual else 0
        kernel = (functools.partial(ops.residual_shuffle_i32, fn=self.residual_fn)
                  if self.residual_i32 else ops.residual_shuffle)
        conv, out_rows, lane_stats = self.buffers[-1], self.out_rows, self.lane_stats
        lane_stats[:] = 0

        def lane_rows(lane: int, j0: int, j1: int) -> None:  # conv rows [j0, j1), one lane
            kernel(conv[j0:], j1 - j0, self.width, r, self.delay, self.delay_head,
                   self.buffers[0], t0 + j0, self.spec.residual, prog.res_conv_lshift,
                   prog.res_in_lshift, prog.out_shift, self.spec.datapath.rounding.code,
                   out_rows[j0 * r :], lane_stats[lane])

        # the first block on the calling thread alone (see ConvUnit._macs)
        run_split(n_out, self.lanes if self._warm else 1, lane_rows)
        self._warm = True
        self.out_stats += lane_stats.sum(axis=0)
        self.rows_out += n_out
        rows = self.out_rows[: n_out * r].reshape(n_out * r, self.width * r, IMAGE_CHANNELS)
        if self.tap is not None:
            self.tap("out", rows.transpose(0, 2, 1))
        sink(rows)


def _layer_rows(tap: StageTap, index: int, codes: np.ndarray, acc: np.ndarray | None) -> None:
    tap(f"layer{index}", codes)
    if acc is not None:
        tap(f"layer{index}.acc", acc)
