"""SRCNN (Dong et al. 2014): the paper's first float baseline, 9-5-5 on a bicubic-upscaled input.

SRCNN does not upscale by itself: the LR frame is first resized to the HR grid with hwsr's
one bicubic resizer (:func:`hwsr.resize.imresize_torch`, MATLAB-compatible), then three
convolutions (patch extraction, non-linear mapping, reconstruction) refine it. Every conv
keeps the size (``padding = k // 2``, zero border like the engine), so the output is the HR
grid.

Pixels are ``code / 256`` (uint8 codes with scale 2**-8, as the engine's input); no mean
shift. SRCNN is float-only for the engine (see :mod:`hwsr.arch.registry`): its 9×9 and 5×5
kernels at 64 channels would run on the UHD grid, ×r² the pixels of the LR grid.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from hwsr.resize import upscale_torch


class SRCNN(nn.Module):
    """SRCNN: bicubic ×``upscale``, then conv k0 → ReLU → conv k1 → ReLU → conv k2.

    Args:
        num_in_ch: channels of the LR input (3: RGB).
        num_out_ch: channels of the SR output (3: RGB).
        upscale: integer scale of the bicubic pre-upscaling (1: no resize, a restoration net).
        kernels: the three odd kernel sizes (published: 9, 5, 5).
        num_feat: channels of the two hidden feature maps (published: 64, 32).

    ``forward(x)`` takes the LR tensor ``(N, num_in_ch, h, w)`` and returns
    ``(N, num_out_ch, h * upscale, w * upscale)``; ``forward(x, return_features=True)``
    returns ``(out, [relu1, relu2])``, the two post-ReLU feature maps (on the HR grid) that
    input distillation compares.
    """

    def __init__(
        self,
        num_in_ch: int = 3,
        num_out_ch: int = 3,
        upscale: int = 3,
        kernels: Sequence[int] = (9, 5, 5),
        num_feat: Sequence[int] = (64, 32),
    ) -> None:
        super().__init__()
        kernels = tuple(kernels)
        num_feat = tuple(num_feat)
        if len(kernels) != 3 or any(k < 1 or k % 2 == 0 for k in kernels):
            raise ValueError(f"kernels must be three odd sizes >= 1, got {kernels}")
        if len(num_feat) != 2 or any(c < 1 for c in num_feat):
            raise ValueError(f"num_feat must be two channel counts >= 1, got {num_feat}")
        if upscale < 1:
            raise ValueError(f"upscale must be >= 1, got {upscale}")
        self.upscale = upscale
        self.kernels = kernels
        chans = (num_in_ch, *num_feat, num_out_ch)
        self.conv1 = nn.Conv2d(chans[0], chans[1], kernels[0], padding=kernels[0] // 2)
        self.conv2 = nn.Conv2d(chans[1], chans[2], kernels[1], padding=kernels[1] // 2)
        self.conv3 = nn.Conv2d(chans[2], chans[3], kernels[2], padding=kernels[2] // 2)
        self.relu = nn.ReLU(inplace=False)

    @property
    def receptive_field(self) -> int:
        """Side of the output pixel's window on the upscaled grid: Σk − 2 (17 for 9-5-5)."""
        return sum(self.kernels) - len(self.kernels) + 1

    def upsample(self, x: torch.Tensor) -> torch.Tensor:
        """Bicubic LR → HR grid (identity for ``upscale == 1``)."""
        return upscale_torch(x, self.upscale)

    def forward(
        self, x: torch.Tensor, return_features: bool = False
    ) -> torch.Tensor | tuple[torch.Tensor, list[torch.Tensor]]:
        f1 = self.relu(self.conv1(self.upsample(x)))
        f2 = self.relu(self.conv2(f1))
        out = self.conv3(f2)
        return (out, [f1, f2]) if return_features else out
