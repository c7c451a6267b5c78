"""Brevitas quantizer recipes of the engine datapath, configured from an EngineSpec.

Every scale is a power of two (fixed point), so each requantization of the engine is a shift.
Rounding of activations follows the spec's :class:`~hwsr.fixed.Rounding`: Brevitas rounds
half to even by default (``torch.round``), most RTL rounds half up (add half an LSB, shift);
both are offered, and the integer side executes the same enum.
"""

from __future__ import annotations

import torch
from brevitas.core.scaling import ScalingImplType
from brevitas.quant.fixed_point import (
    Int8ActPerTensorFixedPoint,
    Int8WeightPerChannelFixedPoint,
    Int8WeightPerTensorFixedPoint,
    Uint8ActPerTensorFixedPoint,
)
from brevitas.quant.scaled_int import IntBias
from torch import nn

from hwsr.fixed import Rounding
from hwsr.spec import Datapath, WeightGranularity


def _ste(rounded: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """Straight-through estimator: forward ``rounded``, gradient of identity."""
    return x + (rounded - x).detach()


class _RoundingSte(nn.Module):
    """Base of the rounding modules (an explicit ``__init__`` for Brevitas's injector)."""

    def __init__(self) -> None:
        super().__init__()


class RoundHalfUpSte(_RoundingSte):
    """floor(x + 1/2): the RTL's add-half-then-shift, with a straight-through gradient."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return _ste(torch.floor(x + 0.5), x)


class RoundHalfEvenSte(_RoundingSte):
    """torch.round (ties to even), Brevitas's default, with a straight-through gradient."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return _ste(torch.round(x), x)


class FloorSte(_RoundingSte):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return _ste(torch.floor(x), x)


class TowardZeroSte(_RoundingSte):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return _ste(torch.trunc(x), x)


# Floor of every learned scale. Brevitas clamps a scale after restricting it to a power of
# two, so the floor must itself be a power of two or a dead channel (all-zero statistics)
# would get a scale the engine's shifter cannot apply.
SCALE_FLOOR = 2.0**-24

ROUNDING_IMPLS: dict[Rounding, type[nn.Module]] = {
    Rounding.HALF_UP: RoundHalfUpSte,
    Rounding.HALF_EVEN: RoundHalfEvenSte,
    Rounding.FLOOR: FloorSte,
    Rounding.TOWARD_ZERO: TowardZeroSte,
}


def weight_quant(dp: Datapath):
    """Signed narrow-range weights of ``weight_bits``, power-of-two scale per tensor or channel."""
    base = (
        Int8WeightPerChannelFixedPoint
        if dp.weight_granularity is WeightGranularity.PER_CHANNEL
        else Int8WeightPerTensorFixedPoint
    )
    return base.let(bit_width=dp.weight_bits, scaling_min_val=SCALE_FLOOR)


def bias_quant(dp: Datapath):
    """Signed biases of ``bias_bits`` at the accumulator's scale (input scale × weight scale)."""
    return IntBias.let(bit_width=dp.bias_bits)


def act_quant(dp: Datapath, signed: bool, bits: int | None = None):
    """Activations: uint after ReLU, signed otherwise; learned power-of-two scale."""
    base = Int8ActPerTensorFixedPoint if signed else Uint8ActPerTensorFixedPoint
    return base.let(
        bit_width=bits if bits is not None else dp.act_bits,
        float_to_int_impl=ROUNDING_IMPLS[dp.rounding],
        scaling_min_val=SCALE_FLOOR,
    )


def pixel_quant(dp: Datapath):
    """Engine input and output pixels: uint8 codes with the fixed scale 2**-8."""
    return Uint8ActPerTensorFixedPoint.let(
        bit_width=8,
        scaling_impl_type=ScalingImplType.CONST,
        scaling_const=1.0,  # threshold 1.0 over 2**8 codes: scale 2**-8
        max_val=1.0,
        float_to_int_impl=ROUNDING_IMPLS[dp.rounding],
    )
