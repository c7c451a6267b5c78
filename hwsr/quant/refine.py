"""Refine the calibrated activation scales: one power of two finer or coarser where it pays.

Calibration takes each activation's scale from its maximum, rounded *up* to a power of two:
a layer whose largest value on the calibration frames is 1.4 gets the range [0, 2) and a
step of 2⁻⁷, though 99.9 % of its values lie below 0.7. Halving the scale doubles the
resolution of every value and clips the few above 1; for hwsr-s that trade wins on three
of its ten activations (Net1's first layer, Net2's first and third: these carry the input
picture through at 2⁻⁸ when they can). QAT does not find it: the learned log₂ threshold
moves by gradient and the power-of-two step is a ceiling, so it rarely crosses one.

:func:`refine_scales` settles it by measurement: coordinate descent over the activation
quantizers of both stages (not the fixed pixel quantizers), each tried one power of two
finer and one coarser, a change kept only when the engine's mean squared error against a
target on the given training batches goes down. The target is the float model's output
(:func:`float_targets`): the error is then the quantization error alone, not the codec's
and the network's, which on training patches are 100x larger and drown a 0.01 dB change.
The model is evaluated frozen (eval mode), which is bit for bit the integer program.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import nn

from hwsr.arch.engine_net import DualStageSR

log = logging.getLogger(__name__)

STEPS = (-1.0, 1.0)  # log₂ threshold moves tried: one power of two finer, one coarser


@dataclass(frozen=True)
class ScaleChange:
    """One kept move: which activation, by how many powers of two (−1: finer), the error."""

    stage: str  # "net1" or "net2"
    layer: int  # index of the conv whose activation it is
    log2_step: float  # change of the log₂ threshold (−1 halves the scale)
    mse_before: float
    mse_after: float


def _threshold(act: nn.Module) -> nn.Parameter | None:
    """The learned log₂ threshold of an activation quantizer (None for a plain ReLU)."""
    quant = getattr(act, "act_quant", None)
    if quant is None:
        return None
    impl = quant.fused_activation_quant_proxy.tensor_quant.scaling_impl
    value = getattr(impl, "value", None)
    return value if isinstance(value, nn.Parameter) else None


def activation_thresholds(qdual: DualStageSR) -> list[tuple[str, int, nn.Parameter]]:
    """Every refinable activation threshold: (stage, layer, parameter), Net1's first."""
    out = []
    for stage in ("net1", "net2"):
        for i, act in enumerate(getattr(qdual, stage).acts):
            p = _threshold(act)
            if p is not None:
                out.append((stage, i, p))
    return out


@torch.no_grad()
def float_targets(float_dual: DualStageSR, lrs: Sequence[torch.Tensor]
                  ) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """``(lr, float HR output)`` pairs: the targets that make the error the quantization's."""
    float_dual.eval()
    return [(lr, float_dual(lr)[1]) for lr in lrs]


@torch.no_grad()
def engine_mse(qdual: DualStageSR, batches: Sequence[tuple[torch.Tensor, torch.Tensor]]) -> float:
    """Mean squared error of the frozen engine's HR output over ``(lr, target)`` batches."""
    total = 0.0
    for lr, hr in batches:
        total += float(((qdual(lr)[1] - hr) ** 2).mean())
    return total / len(batches)


@torch.no_grad()
def refine_scales(qdual: DualStageSR, batches: Sequence[tuple[torch.Tensor, torch.Tensor]],
                  rounds: int = 3) -> list[ScaleChange]:
    """Coordinate descent on the activation scales (see the module); returns the kept moves.

    ``qdual`` is left frozen (eval mode) with the refined thresholds. Deterministic: the
    quantizers are visited in a fixed order and a move must strictly lower the error.
    """
    if not batches:
        raise ValueError("scale refinement needs at least one batch of (LR, HR) frames")
    qdual.eval()
    best = engine_mse(qdual, batches)
    kept: list[ScaleChange] = []
    for _ in range(rounds):
        moved = False
        for stage, layer, p in activation_thresholds(qdual):
            for step in STEPS:
                p.add_(step)
                mse = engine_mse(qdual, batches)
                if mse < best:
                    kept.append(ScaleChange(stage, layer, step, best, mse))
                    log.info("scale of %s layer %d: log2 %+g, MSE %.3e -> %.3e",
                             stage, layer, step, best, mse)
                    best, moved = mse, True
                    break
                p.sub_(step)
        if not moved:
            break
    return kept
