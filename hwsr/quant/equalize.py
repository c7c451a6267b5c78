"""Equalize the hidden channels of the int8 engine by powers of two, where it pays.

Each hidden activation has one power-of-two scale for all its channels, so a channel whose
values stay below a quarter of the tensor's range uses two bits fewer than its neighbours
(hwsr-s's first layers carry the input picture at half the pixel resolution this way).
Multiplying output channel ``c`` of conv ``l`` (its weights and bias) by ``2**k`` and
column ``c`` of conv ``l+1`` by ``2**-k`` leaves the float function unchanged, bit for bit:
the activation between them (ReLU or none) commutes with a positive power of two, and a
power-of-two factor on both factors of a float product is exact. The integer engine does
change: conv ``l``'s per-channel power-of-two weight scale moves with the row, so its integer
weights and bias stay the same codes, and channel ``c`` reaches ``k`` more bits of the
activation's range (clipping where it overflows); conv ``l+1``'s column ``c`` loses ``k`` bits
of weight resolution where another column sets its row's scale. The engine therefore gets
per-channel activation resolution without a datapath change.

:func:`equalize_channels` decides by measurement, as :func:`hwsr.quant.refine.refine_scales`
does for the activation scales: coordinate descent over every hidden channel of both stages,
each tried ×2 and ×½, a move kept only if the frozen engine's mean squared error against the
float model's output drops on the given batches. Needs per-channel weight scales (with one
scale per tensor, a row's codes would change too).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import cast

import torch
from torch import nn

from hwsr.arch.engine_net import DualStageSR
from hwsr.quant.refine import engine_mse
from hwsr.spec import EngineSpec, WeightGranularity

log = logging.getLogger(__name__)

FACTORS = (1, -1)  # log₂ of the channel factors tried: ×2, then ×½


@dataclass(frozen=True)
class ChannelMove:
    """One kept move: output channel ``channel`` of conv ``layer`` times ``2**log2_factor``."""

    stage: str  # "net1" or "net2"
    layer: int  # the conv whose output channel is scaled (the next conv is compensated)
    channel: int
    log2_factor: int
    mse_before: float
    mse_after: float


@torch.no_grad()
def scale_channel(stage: nn.Module, layer: int, channel: int, log2_factor: int) -> None:
    """Multiply output ``channel`` of conv ``layer`` by ``2**log2_factor`` and the inputs of
    conv ``layer + 1`` that read it by the inverse (only its group's rows when grouped)."""
    spec = cast(EngineSpec, stage.spec)
    convs = cast(nn.ModuleList, stage.convs)
    conv, nxt = cast(nn.Conv2d, convs[layer]), cast(nn.Conv2d, convs[layer + 1])
    nxt_spec = spec.layers[layer + 1]
    factor = 2.0 ** log2_factor
    conv.weight[channel].mul_(factor)
    cast(torch.Tensor, conv.bias)[channel].mul_(factor)
    group_in = nxt_spec.group_c_in
    group = channel // group_in
    rows = slice(group * (nxt_spec.c_out // nxt_spec.groups),
                 (group + 1) * (nxt_spec.c_out // nxt_spec.groups))
    nxt.weight[rows, channel % group_in].mul_(1.0 / factor)


def hidden_channels(qdual: DualStageSR) -> list[tuple[str, nn.Module, int, int]]:
    """Every equalizable channel: (stage name, stage, layer, channel), Net1's first."""
    out = []
    for name in ("net1", "net2"):
        stage = getattr(qdual, name)
        spec = cast(EngineSpec, stage.spec)
        for layer, ls in enumerate(spec.layers[:-1]):
            out += [(name, stage, layer, c) for c in range(ls.c_out)]
    return out


@torch.no_grad()
def equalize_channels(qdual: DualStageSR, batches: Sequence[tuple[torch.Tensor, torch.Tensor]],
                      rounds: int = 2) -> list[ChannelMove]:
    """Coordinate descent on the hidden channels' power-of-two factors (see the module);
    returns the kept moves. ``batches`` are ``(lr, float HR output)`` pairs
    (:func:`hwsr.quant.refine.float_targets`). ``qdual`` is left frozen (eval mode).
    Deterministic: channels in a fixed order, a move must strictly lower the error."""
    if not batches:
        raise ValueError("channel equalization needs at least one batch of (LR, float HR)")
    specs = (cast(EngineSpec, qdual.net1.spec), cast(EngineSpec, qdual.net2.spec))
    if any(s.datapath.weight_granularity is not WeightGranularity.PER_CHANNEL for s in specs):
        raise ValueError("channel equalization needs per-channel weight scales")
    qdual.eval()
    best = engine_mse(qdual, batches)
    kept: list[ChannelMove] = []
    for _ in range(rounds):
        moved = False
        for name, stage, layer, channel in hidden_channels(qdual):
            for k in FACTORS:
                scale_channel(stage, layer, channel, k)
                mse = engine_mse(qdual, batches)
                if mse < best:
                    kept.append(ChannelMove(name, layer, channel, k, best, mse))
                    best, moved = mse, True
                    break
                scale_channel(stage, layer, channel, -k)
        if not moved:
            break
    log.info("equalized %d channels: MSE against float %.3e -> %.3e", len(kept),
             kept[0].mse_before if kept else best, best)
    return kept
