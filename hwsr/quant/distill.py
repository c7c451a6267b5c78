"""Distil the int8 engine toward its float model: a short QAT with the float output as target.

The QAT phase trains the Brevitas engine against HR. There the codec's and the network's
errors are about 100x the quantization's, so the gradient hardly sees how the weights
round. After it, :func:`distill_weights` runs a few hundred more steps whose only target is
the float model's HR output (mean squared error), at a small learning rate decaying to 0,
with the activation scales frozen (:mod:`hwsr.quant.refine` owns those). Each step flips
some weights by one LSB, and the frozen engine's error jumps by a few per cent from step to
step; an exponential moving average (EMA) of the conv weights and biases smooths that out,
and the EMA is the result. It is kept only if the frozen engine's error against the float
model, on batches the distillation did not train on, goes down; else every parameter is
put back as it was, bit for bit.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import cast

import torch
from torch import nn

from hwsr.arch.engine_net import DualStageSR
from hwsr.quant.refine import engine_mse

log = logging.getLogger(__name__)

LR = 5e-6  # peak Adam learning rate (cosine to 0): a weight moves ~1 LSB in a few hundred steps
EMA_DECAY = 0.99  # weight of the running average per step (an average over ~100 steps)


@dataclass(frozen=True)
class DistillResult:
    """What a distillation did: its settings, the error before and after, whether it stayed."""

    steps: int
    lr: float
    ema_decay: float
    mse_before: float  # frozen engine vs float model on the check batches
    mse_after: float  # the same with the averaged weights (reported even when not kept)
    kept: bool


def conv_parameters(qdual: DualStageSR) -> list[torch.nn.Parameter]:
    """The weights and biases of every conv of both stages (not the activation scales)."""
    convs = [cast(nn.ModuleList, stage.convs) for stage in (qdual.net1, qdual.net2)]
    return [p for layers in convs for conv in layers for p in conv.parameters()]


def distill_weights(qdual: DualStageSR, fdual: DualStageSR, inputs: Callable[[int], torch.Tensor],
                    steps: int, check: Sequence[tuple[torch.Tensor, torch.Tensor]],
                    lr: float = LR, ema_decay: float = EMA_DECAY) -> DistillResult:
    """Train ``qdual``'s conv weights and biases for ``steps`` steps on ``inputs(step)`` (LR
    batches) towards ``fdual``'s HR output; keep their EMA if it lowers :func:`engine_mse`
    on ``check`` (``(lr, float output)`` pairs, see ``float_targets``).

    ``qdual`` is left frozen (eval mode). Deterministic for deterministic ``inputs``.
    """
    if steps < 1:
        raise ValueError(f"distillation needs at least one step, got {steps}")
    if not check:
        raise ValueError("distillation needs at least one check batch of (LR, float HR)")
    if not (lr > 0 and 0 <= ema_decay < 1):
        raise ValueError(f"distillation needs lr > 0 and 0 <= ema_decay < 1, got {lr}, "
                         f"{ema_decay}")
    params = conv_parameters(qdual)
    trained = {id(p) for p in params}
    frozen = [p for p in qdual.parameters() if id(p) not in trained and p.requires_grad]
    for p in frozen:
        p.requires_grad_(False)
    fdual.eval()
    qdual.eval()
    before = engine_mse(qdual, check)
    start = [p.detach().clone() for p in params]
    average = [p.detach().clone() for p in params]
    optimizer = torch.optim.Adam(params, lr=lr)
    try:
        for step in range(steps):
            for group in optimizer.param_groups:
                group["lr"] = lr * 0.5 * (1 + math.cos(math.pi * step / steps))
            x = inputs(step)
            with torch.no_grad():
                target = fdual(x)[1]
            qdual.train()
            loss = ((qdual(x)[1] - target) ** 2).mean()
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            with torch.no_grad():
                for avg, p in zip(average, params, strict=True):
                    avg.mul_(ema_decay).add_(p, alpha=1 - ema_decay)
        with torch.no_grad():
            for p, avg in zip(params, average, strict=True):
                p.copy_(avg)
        qdual.eval()
        after = engine_mse(qdual, check)
        kept = after < before
        if not kept:
            with torch.no_grad():
                for p, s in zip(params, start, strict=True):
                    p.copy_(s)
    finally:
        for p in frozen:
            p.requires_grad_(True)
        qdual.eval()
    log.info("distillation, %d steps: MSE against float %.3e -> %.3e (%s)", steps, before,
             after, "kept" if kept else "discarded")
    return DistillResult(steps, lr, ema_decay, before, after, kept)
