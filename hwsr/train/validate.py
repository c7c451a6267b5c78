"""Validation during training: Y-PSNR of the network's output on whole validation frames.

Every mode is scored on the real task, video-LR in and HR out (a ``baseline`` net trained
on dHR is still fed video-LR here: that is the paper's point), against the floor of
bicubic ×3 upscaling of video-LR. Frames are uint8 after rounding, as the engine emits.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from hwsr.imageio import tensor_to_frame
from hwsr.metrics import psnr_y
from hwsr.resize import imresize_torch
from hwsr.train.batches import SCALE, Batch


def sr_output(model: nn.Module, lr: torch.Tensor) -> torch.Tensor:
    """HR estimate of a dual pair (Net2(Net1(LR))) or of a single ×3 network."""
    out = model(lr)
    return out[1] if isinstance(out, tuple) else out


def bicubic_up(lr: torch.Tensor) -> torch.Tensor:
    """hwsr's one bicubic resizer, ×3 on an NCHW tensor (the floor to beat)."""
    h, w = lr.shape[-2:]
    return imresize_torch(lr.to(torch.float64), (SCALE * h, SCALE * w))


def mean_psnr(frames: list[tuple[torch.Tensor, torch.Tensor]]) -> float:
    """Mean Y-PSNR (dB, border of 3 shaved) over (estimate, HR) pairs of float tensors."""
    if not frames:
        return math.nan
    values = [psnr_y(tensor_to_frame(a), tensor_to_frame(b), SCALE) for a, b in frames]
    return sum(values) / len(values)


def bicubic_floor(frames: list[Batch]) -> float:
    """Mean Y-PSNR of bicubic ×3 of video-LR against HR over the validation frames."""
    return mean_psnr([(bicubic_up(f.lr), f.hr) for f in frames])


@torch.no_grad()
def validate(model: nn.Module, frames: list[Batch], device: torch.device) -> float:
    """Mean Y-PSNR (dB) of ``model``'s HR estimate from video-LR over ``frames``."""
    was_training = model.training
    model.eval()
    try:
        pairs = [(sr_output(model, f.lr.to(device)).cpu(), f.hr) for f in frames]
    finally:
        model.train(was_training)
    return mean_psnr(pairs)
