"""Integer reference: a plain whole-frame executor of the integer program.

Written for clarity, not speed; it is the referee the line-buffer simulator and the Brevitas
model are held to. Every tensor is an int64 array; convolutions sum exact integer products
(float64 BLAS is used only when the worst-case sum is proven below 2**53, where it is exact).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from hwsr.fixed import count_saturations, fit_accumulator, requantize, round_shift, saturate
from hwsr.program import EngineProgram, LayerProgram, StageProgram

I64 = npt.NDArray[np.int64]
_F64_EXACT = 2**53


@dataclass
class LayerStats:
    """What one layer's datapath saw over a frame."""

    acc_peak: int = 0  # largest |accumulator| before the overflow rule
    acc_overflows: int = 0  # accumulator results outside acc_bits
    saturations: int = 0  # codes clamped by the requantization


@dataclass
class StageStats:
    layers: list[LayerStats] = field(default_factory=list)
    output_saturations: int = 0  # pixels clamped to 0..255 after the residual add


def conv2d_int(x: I64, w: I64, groups: int = 1, dilation: int = 1) -> I64:
    """Exact 'same' convolution (cross-correlation, zero padding) of int codes.

    ``x`` is (C, H, W), ``w`` is (O, C / groups, k, k); returns (O, H, W) int64. Output
    channel ``o`` reads the input channels of its group ``o // (O / groups)``; tap (dy, dx)
    reads the pixel ``dilation·(dy − k//2)`` rows and ``dilation·(dx − k//2)`` columns away.

    >>> conv2d_int(np.ones((1, 2, 2), np.int64), np.ones((1, 1, 3, 3), np.int64))[0].tolist()
    [[4, 4], [4, 4]]
    >>> conv2d_int(np.ones((2, 3, 3), np.int64), np.ones((2, 1, 3, 3), np.int64), 2, 2)[1].tolist()
    [[4, 2, 4], [2, 1, 2], [4, 2, 4]]
    """
    c, h, wd = x.shape
    o, gc, k, _ = w.shape
    go = o // groups
    p = dilation * (k // 2)
    xp = np.zeros((c, h + 2 * p, wd + 2 * p), dtype=np.int64)
    xp[:, p : p + h, p : p + wd] = x
    bound = int(np.abs(w).sum(axis=(1, 2, 3)).max(initial=0)) * int(np.abs(x).max(initial=0))
    exact_f64 = bound < _F64_EXACT  # every partial sum is an integer below 2**53
    acc = np.zeros((o, h * wd), dtype=np.float64 if exact_f64 else np.int64)
    for g in range(groups):
        outs, ins = slice(g * go, (g + 1) * go), slice(g * gc, (g + 1) * gc)
        for dy in range(k):
            for dx in range(k):
                y0, x0 = dy * dilation, dx * dilation
                win = xp[ins, y0 : y0 + h, x0 : x0 + wd].reshape(gc, -1)
                acc[outs] += w[outs, :, dy, dx].astype(acc.dtype) @ win.astype(acc.dtype)
    return acc.astype(np.int64).reshape(o, h, wd)


def layer_sums(x: I64, lp: LayerProgram) -> I64:
    """The exact accumulator of a layer before the overflow rule: its convolution plus bias."""
    return conv2d_int(x, lp.weight, lp.groups, lp.dilation) + lp.bias[:, None, None]


def run_layer(x: I64, lp: LayerProgram, stage: StageProgram, stats: LayerStats) -> I64:
    """One conv layer: accumulate, fit the accumulator, ReLU, requantize."""
    dp = stage.spec.datapath
    acc = layer_sums(x, lp)
    stats.acc_peak = max(stats.acc_peak, int(np.abs(acc).max(initial=0)))
    stats.acc_overflows += count_saturations(acc, dp.acc_bits, signed=True)
    acc = fit_accumulator(acc, dp.acc_bits, dp.acc_overflow)
    if lp.relu:
        acc = np.maximum(acc, 0)
    rounded = round_shift(acc, lp.shift[:, None, None], dp.rounding)
    stats.saturations += count_saturations(rounded, lp.out_type.width, lp.out_type.signed)
    return saturate(rounded, lp.out_type.width, lp.out_type.signed)


def run_stage(
    stage: StageProgram, frame_u8_hwc: npt.NDArray[np.uint8], trace: list[I64] | None = None
) -> tuple[npt.NDArray[np.uint8], StageStats]:
    """Run one stage on a whole frame: uint8 (H, W, 3) in, uint8 (H·r, W·r, 3) out.

    With ``trace``, every layer's output codes (C, H, W) are appended to it in order.
    """
    if frame_u8_hwc.dtype != np.uint8 or frame_u8_hwc.ndim != 3 or frame_u8_hwc.shape[2] != 3:
        raise ValueError("frame must be uint8 with shape (H, W, 3)")
    r = stage.spec.upscale
    x = frame_u8_hwc.transpose(2, 0, 1).astype(np.int64)
    stats = StageStats()
    h = x
    for lp in stage.layers:
        ls = LayerStats()
        h = run_layer(h, lp, stage, ls)
        stats.layers.append(ls)
        if trace is not None:
            trace.append(h)
    if stage.spec.residual:
        x_rep = np.repeat(x, r * r, axis=0)  # channel c*r*r + k reads input channel c
        s = (h << stage.res_conv_lshift) + (x_rep << stage.res_in_lshift)
    else:
        s = h << stage.res_conv_lshift
    rounded = round_shift(s, stage.out_shift, stage.spec.datapath.rounding)
    stats.output_saturations = count_saturations(rounded, 8, signed=False)
    out = requantize(s, stage.out_shift, stage.spec.datapath.rounding, stage.spec.datapath.pixel_type)
    _, hh, ww = out.shape
    shuffled = out.reshape(3, r, r, hh, ww).transpose(3, 1, 4, 2, 0).reshape(hh * r, ww * r, 3)
    return np.ascontiguousarray(shuffled.astype(np.uint8)), stats


def run_program(
    program: EngineProgram, frame_u8_hwc: npt.NDArray[np.uint8], stage: str = "dual"
) -> tuple[npt.NDArray[np.uint8], list[StageStats]]:
    """Run ``stage`` ('dual', 'net1' or 'net2') of the engine on a whole frame."""
    frame, stats = frame_u8_hwc, []
    for stage_program in program.stages(stage):  # Net1's output frame is Net2's input
        frame, s = run_stage(stage_program, frame)
        stats.append(s)
    return frame, stats
