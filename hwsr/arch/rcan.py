"""RCAN (Zhang et al. 2018): the paper's strong float baseline, residual-in-residual with channel attention.

Structure, as published::

    shallow conv 3×3 ─┬─ num_group × ResidualGroup ── conv 3×3 ─(+)─ upsampler ─ conv 3×3 ─► SR
                      └──────────────── long skip ───────────────┘

    ResidualGroup = num_block × RCAB ── conv 3×3, plus the group skip
    RCAB          = conv 3×3 ─ ReLU ─ conv 3×3 ─ channel attention, plus the block skip
    attention     = global average pool ─ 1×1 conv (÷ reduction) ─ ReLU ─ 1×1 conv ─ sigmoid,
                    the result scales each channel of the block's features

The upsampler is conv 3×3 to ``num_feat * r²`` channels + PixelShuffle(r) (for r = 2ⁿ, n
stages of ×2, as the published code); for ``upscale == 1`` (Net1 of a dual-stage pair) there
is no upsampler and the final conv maps straight to ``num_out_ch``.

Pixels are ``code / 256`` (uint8 codes with scale 2**-8); the published mean shift is left
out (its only role is centring 0..255 inputs; a conv bias absorbs it). No global residual of
the input is added: hwsr keeps RCAN as published.

The global average pool needs a statistic of the *whole frame* before the first output pixel
of the block can be scaled, so RCAN cannot run on a line-buffer engine without frame memory:
it is float-only (see :mod:`hwsr.arch.registry`).
"""

from __future__ import annotations

import torch
from torch import nn


def _conv3(c_in: int, c_out: int) -> nn.Conv2d:
    return nn.Conv2d(c_in, c_out, 3, padding=1)


class ChannelAttention(nn.Module):
    """Squeeze (frame mean per channel) → excite (two 1×1 convs) → sigmoid gate per channel."""

    def __init__(self, num_feat: int, reduction: int) -> None:
        super().__init__()
        squeezed = max(num_feat // reduction, 1)
        self.attention = nn.Sequential(
            nn.AdaptiveAvgPool2d(1),
            nn.Conv2d(num_feat, squeezed, 1),
            nn.ReLU(),
            nn.Conv2d(squeezed, num_feat, 1),
            nn.Sigmoid(),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.attention(x)


class RCAB(nn.Module):
    """Residual channel-attention block: ``x + res_scale · CA(conv(ReLU(conv(x))))``."""

    def __init__(self, num_feat: int, reduction: int, res_scale: float = 1.0) -> None:
        super().__init__()
        self.res_scale = res_scale
        self.rcab = nn.Sequential(
            _conv3(num_feat, num_feat),
            nn.ReLU(),
            _conv3(num_feat, num_feat),
            ChannelAttention(num_feat, reduction),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.res_scale * self.rcab(x)


class ResidualGroup(nn.Module):
    """``num_block`` RCABs, a 3×3 conv, and the group skip."""

    def __init__(self, num_feat: int, num_block: int, reduction: int, res_scale: float) -> None:
        super().__init__()
        self.residual_group = nn.Sequential(
            *(RCAB(num_feat, reduction, res_scale) for _ in range(num_block))
        )
        self.conv = _conv3(num_feat, num_feat)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv(self.residual_group(x))


class Upsample(nn.Sequential):
    """Sub-pixel upsampler: conv to ``num_feat·r²`` + PixelShuffle(r); 2ⁿ as n ×2 stages."""

    def __init__(self, upscale: int, num_feat: int) -> None:
        layers: list[nn.Module] = []
        if upscale & (upscale - 1) == 0:  # power of two
            for _ in range(upscale.bit_length() - 1):
                layers += [_conv3(num_feat, 4 * num_feat), nn.PixelShuffle(2)]
        elif upscale == 3:
            layers += [_conv3(num_feat, 9 * num_feat), nn.PixelShuffle(3)]
        else:
            raise ValueError(f"upscale must be 1, 3 or a power of two, got {upscale}")
        super().__init__(*layers)


class RCAN(nn.Module):
    """RCAN as published, sizes configurable.

    Args:
        num_in_ch: channels of the LR input (3: RGB).
        num_out_ch: channels of the SR output (3: RGB).
        num_feat: channels of every feature map (published: 64).
        num_group: residual groups (published: 10).
        num_block: RCABs per group (published: 20; the dual-stage paper compares 10×6
            single-stage against 5×6 per stage, hence the default 6).
        reduction: channel reduction of the attention's bottleneck (published: 16).
        upscale: r; 1 gives a same-size restoration net (Net1 of a dual pair).
        res_scale: scale of each RCAB's residual branch (published: 1).

    ``forward(x)`` maps ``(N, num_in_ch, h, w)`` to ``(N, num_out_ch, h·r, w·r)``;
    ``forward(x, return_features=True)`` returns ``(out, feats)`` with the output of every
    residual group (``num_group`` maps on the LR grid), the features input distillation
    compares.
    """

    def __init__(
        self,
        num_in_ch: int = 3,
        num_out_ch: int = 3,
        num_feat: int = 64,
        num_group: int = 10,
        num_block: int = 6,
        reduction: int = 16,
        upscale: int = 3,
        res_scale: float = 1.0,
    ) -> None:
        super().__init__()
        for key, value in (("num_feat", num_feat), ("num_group", num_group),
                           ("num_block", num_block), ("reduction", reduction),
                           ("upscale", upscale)):
            if value < 1:
                raise ValueError(f"{key} must be >= 1, got {value}")
        self.upscale = upscale
        self.conv_first = _conv3(num_in_ch, num_feat)
        self.body = nn.ModuleList(
            ResidualGroup(num_feat, num_block, reduction, res_scale) for _ in range(num_group)
        )
        self.conv_after_body = _conv3(num_feat, num_feat)
        self.upsample: nn.Module = (
            nn.Identity() if upscale == 1 else Upsample(upscale, num_feat)
        )
        self.conv_last = _conv3(num_feat, num_out_ch)

    def forward(
        self, x: torch.Tensor, return_features: bool = False
    ) -> torch.Tensor | tuple[torch.Tensor, list[torch.Tensor]]:
        shallow = self.conv_first(x)
        h = shallow
        features: list[torch.Tensor] = []
        for group in self.body:
            h = group(h)
            features.append(h)
        h = self.conv_after_body(h) + shallow
        out = self.conv_last(self.upsample(h))
        return (out, features) if return_features else out
