"""The last step before export: bring a QAT engine closer to its float model.

Every pass measures the frozen engine against the float model's output on the same check
batches and keeps only what lowers that error: first (optional) :mod:`hwsr.quant.distill`
on the weights, then (optional) :mod:`hwsr.quant.equalize` on the hidden channels' powers
of two, then :mod:`hwsr.quant.refine` on the activation scales. ``hwsr train``
(``qat.refine_batches``, ``qat.distill_steps``, ``qat.equalize_rounds``) and
``hwsr quantize --refine-only`` both
run it; the record it returns goes into the metadata of ``quant.safetensors``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict
from typing import Any

import torch

from hwsr.arch.engine_net import DualStageSR
from hwsr.quant.distill import DistillResult, distill_weights
from hwsr.quant.equalize import equalize_channels
from hwsr.quant.refine import ScaleChange, float_targets, refine_scales

DISTILL_STEP0 = 3_000_000  # batch index of the first distillation batch (apart from others)


def finish_engine(qdual: DualStageSR, fdual: DualStageSR, check_lrs: Sequence[torch.Tensor],
                  distill_steps: int = 0,
                  distill_inputs: Callable[[int], torch.Tensor] | None = None,
                  equalize_rounds: int = 0,
                  ) -> tuple[DistillResult | None, list[ScaleChange], dict[str, Any]]:
    """Distil (``distill_steps`` > 0, on ``distill_inputs(step)``), equalize the channels
    (``equalize_rounds`` > 0), then refine the scales, all judged on ``check_lrs``. Returns
    the distillation, the kept scale moves and their metadata record ``{"distilled": ...,
    "equalized_channels": [...], "refined_scales": [...]}`` (the first two when run)."""
    check = float_targets(fdual, check_lrs)
    record: dict[str, Any] = {}
    distilled = None
    if distill_steps:
        if distill_inputs is None:
            raise ValueError("distillation needs its training batches (distill_inputs)")
        distilled = distill_weights(qdual, fdual, distill_inputs, distill_steps, check)
        record["distilled"] = asdict(distilled)
    if equalize_rounds:
        moves = equalize_channels(qdual, check, rounds=equalize_rounds)
        record["equalized_channels"] = [asdict(m) for m in moves]
    changes = refine_scales(qdual, check)
    record["refined_scales"] = [asdict(c) for c in changes]
    return distilled, changes, record
