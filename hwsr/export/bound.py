"""The float32 exactness bound the quantized exports rely on, checked from the integer weights.

QONNX's executor and onnxruntime's reference path compute every Conv, Add and Quant in
float32. In the exported graphs every tensor is an integer times a power of two: a conv
accumulates products ``w·x`` of weight codes (``weight_bits``) and activation codes
(``act_bits``), all on the grid of the accumulator's LSB ``2**-(in_frac + weight_frac[c])``.
A float32 sum of such terms is exact, in any order, whenever every partial sum stays below
``2**24`` LSBs. The worst case of any partial sum is ``Σ|w|·max|x| + |b|`` (plus the half LSB
of the destination that half-up rounding adds before its FLOOR), known per output channel
from the integer program, so the bound is *checked*, never assumed. For hwsr-s the largest
fan-in is 3·3·20 = 180 taps: 180·127·255 + 2**15 < 2**23, inside the bound for any weights.

The graphs do not model the accumulator's wrap or saturation either: a program whose worst
case can leave ``acc_bits`` is refused too (the engine would wrap where the graph cannot).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from hwsr.export.common import ExportError
from hwsr.fixed import Rounding
from hwsr.program import StageProgram

F32_EXACT_LSBS = 2**24  # float32 holds every integer of magnitude <= 2**24 exactly
MAX_SCALE_EXP = 100  # |exponent| of every scale: far from float32 subnormals and infinity


@dataclass(frozen=True)
class LayerBound:
    """The worst-case float32 magnitude of one layer (or the residual add), in LSBs."""

    stage: str  # 'net1' or 'net2'
    layer: str  # '0'..'n-1' or 'residual'
    worst_lsbs: int  # largest |partial sum| (plus the half-up offset) over all inputs
    acc_limit: int  # largest magnitude the engine's accumulator holds (2**(acc_bits-1) - 1)

    @property
    def exact(self) -> bool:
        return self.worst_lsbs < F32_EXACT_LSBS and self.worst_lsbs <= self.acc_limit


def _half_lsbs(shift: np.ndarray, rounding: Rounding) -> np.ndarray:
    """The half-LSB offset half-up rounding adds before FLOOR, in accumulator LSBs."""
    if rounding is not Rounding.HALF_UP:
        return np.zeros_like(shift)
    return np.where(shift > 0, np.left_shift(1, np.maximum(shift - 1, 0)), 0)


def stage_bounds(name: str, stage: StageProgram) -> list[LayerBound]:
    """Worst-case magnitudes of every conv and of the residual add of one stage."""
    dp = stage.spec.datapath
    acc_limit = (1 << (dp.acc_bits - 1)) - 1
    out: list[LayerBound] = []
    for i, lp in enumerate(stage.layers):
        worst = lp.worst_case_acc(stage.in_type(i)) + _half_lsbs(lp.shift, dp.rounding)
        out.append(LayerBound(name, str(i), int(worst.max(initial=0)), acc_limit))
    last = stage.layers[-1].out_type
    h = max(abs(last.min_code), abs(last.max_code)) << stage.res_conv_lshift
    x = (255 << stage.res_in_lshift) if stage.spec.residual else 0
    half = int(_half_lsbs(np.array([stage.out_shift]), dp.rounding)[0])
    out.append(LayerBound(name, "residual", h + x + half, 2**62))
    return out


def check_exact(stages: list[tuple[str, StageProgram]], fmt: str) -> list[LayerBound]:
    """Refuse a program whose float32 graph could differ from the engine; return the bounds."""
    bounds: list[LayerBound] = []
    for name, sp in stages:
        _check_scales(name, sp, fmt)
        bounds.extend(stage_bounds(name, sp))
    for b in bounds:
        if b.worst_lsbs > b.acc_limit:
            raise ExportError(
                f"{fmt}: {b.stage} layer {b.layer}: worst-case accumulator {b.worst_lsbs} "
                f"exceeds acc_bits (limit {b.acc_limit}); the graph cannot wrap or saturate it")
        if b.worst_lsbs >= F32_EXACT_LSBS:
            raise ExportError(
                f"{fmt}: {b.stage} layer {b.layer}: worst-case sum {b.worst_lsbs} LSBs is not "
                f"below 2**24, so float32 execution is not provably exact")
    return bounds


def _check_scales(name: str, sp: StageProgram, fmt: str) -> None:
    for i, lp in enumerate(sp.layers):
        fracs = np.concatenate([lp.acc_frac, [lp.in_frac, lp.out_frac]])
        if np.abs(8 - fracs).max() > MAX_SCALE_EXP:
            raise ExportError(f"{fmt}: {name} layer {i}: a scale exponent beyond ±"
                              f"{MAX_SCALE_EXP} is outside float32's exact range")
