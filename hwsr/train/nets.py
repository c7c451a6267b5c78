"""Which network each training mode trains, with the ladder's equal parameter budget.

``run.arch`` picks the family: the engine's own conv stack (below), or the paper's float
references SRCNN and RCAN (:func:`build_float_arch`), which train the same four modes.

The dual modes train the engine's pair (Net1 = Net2 with r = 1) built from Net2's spec.
The single-stage modes (``baseline``, ``hd2uhd``) train one ×3 network of the same layer
structure whose hidden width is scaled until its parameter count matches the dual pair's
(the paper halves each stage of the dual pair instead; here the engine's pair is fixed, so
the single net grows). For hwsr-s: the pair has 5,563 + 9,907 = 15,470 parameters and
15,280 MACs per LR pixel; the width-27 single net has 15,444 parameters and 15,309 MACs.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import torch
from torch import nn

from hwsr.arch.engine_net import DualStageSR, EngineNet, build_dual
from hwsr.arch.rcan import RCAN
from hwsr.arch.srcnn import SRCNN
from hwsr.resize import cubic, upscale_torch
from hwsr.spec import EngineSpec, LayerSpec


def dual_params(spec: EngineSpec) -> int:
    """Parameters of the dual pair built from Net2's ``spec``."""
    return spec.net1().params + spec.params


def widened_spec(spec: EngineSpec, width: int) -> EngineSpec:
    """``spec`` with every hidden channel count set to ``width`` (image channels kept); a
    depthwise layer stays depthwise, another grouped layer keeps its group count."""
    if width < 1:
        raise ValueError(f"width must be >= 1, got {width}")
    layers: list[LayerSpec] = []
    last = len(spec.layers) - 1
    for i, layer in enumerate(spec.layers):
        c_in = layer.c_in if i == 0 else width
        c_out = layer.c_out if i == last else width
        groups = width if layer.depthwise else layer.groups
        layers.append(dataclasses.replace(layer, c_in=c_in, c_out=c_out, groups=groups))
    return dataclasses.replace(spec, name=f"{spec.name}-single-w{width}", layers=tuple(layers))


def matched_width(spec: EngineSpec) -> int:
    """Hidden width whose single ×3 net has the parameter count nearest the dual pair's.

    >>> from hwsr.zoo import load_engine
    >>> matched_width(load_engine("hwsr-s").spec)
    27
    """
    target = dual_params(spec)
    widths = [w for w in range(1, 4 * max(ly.c_out for ly in spec.layers) + 2)
              if all(w % ly.groups == 0 for ly in spec.layers[1:-1] if not ly.depthwise)]
    return min(widths, key=lambda w: abs(widened_spec(spec, w).params - target))


def single_spec(spec: EngineSpec, width: int = 0) -> EngineSpec:
    """The single-stage net of the ladder: ``width`` 0 means :func:`matched_width`."""
    return widened_spec(spec, width or matched_width(spec))


def zero_last_conv(net: EngineNet) -> EngineNet:
    """Start a residual stage at its residual path: last conv's weights and bias set to 0.

    Net1 then begins as the exact identity and Net2 as nearest ×3 upsampling, instead of
    those plus the noise of a random last layer that training must first learn to cancel
    (with PyTorch's default init, Net1 was still worse than the identity after 1,000 steps).
    The last layer's gradient is not zero (its inputs are not), so training starts at once.
    """
    last = net.convs[-1]
    with torch.no_grad():
        last.weight.zero_()
        last.bias.zero_()
    return net


# Distances from an HR sub-pixel 1/3 LR pixel right of a centre to the LR pixels x-1, x, x+1.
# hwsr's one bicubic kernel (hwsr.resize.cubic) is taken there; the fourth tap (at 5/3, -0.037)
# is dropped and the three renormalised: a 3x3 last layer sees only x-1, x, x+1. The taps are
# rounded to 4 decimals, as they were first tabulated, so initial weights stay byte-identical.
_THIRD_DISTANCES = (4 / 3, 1 / 3, 2 / 3)
_TAP_DECIMALS = 4


def _cubic_taps(phase: int, r: int) -> torch.Tensor:
    """1-D taps over LR offsets (-1, 0, +1) for sub-pixel ``phase`` of ``r`` (r = 3 only)."""
    if r != 3:
        raise ValueError("bicubic initialisation is tabulated for r = 3 only")
    third = torch.from_numpy(np.round(cubic(_THIRD_DISTANCES), _TAP_DECIMALS))
    third = third / third.sum()
    taps = {0: third.flip(0), 1: torch.tensor([0.0, 1.0, 0.0], dtype=torch.float64), 2: third}
    return taps[phase]


def _passes_through(layer: LayerSpec, c: int) -> bool:
    """Whether channels 0..c-1 of ``layer``'s output can each read the same input channel
    (its group holds it): always for a dense layer, and for a grouped one of c_in = c_out."""
    go = layer.c_out // layer.groups
    return all(ch // go == ch // layer.group_c_in for ch in range(c))


def bicubic_init(net: EngineNet) -> EngineNet:
    """Start a ×3 residual stage at (nearly) bicubic upscaling instead of nearest.

    Channels 0..2 of every hidden layer carry the input unchanged (centre tap 1, zero bias:
    pixels are >= 0, so ReLU passes them), and the last layer maps them to
    ``bicubic − nearest`` for each of the r² sub-pixels (3-tap Keys cubic), the residual
    adding ``nearest`` back. Every other weight into the last layer is zero, so the
    random hidden channels start silent and training begins from bicubic quality
    (from nearest, a 15k-parameter pair spent ~3,000 steps just reaching bicubic).
    Falls back to :func:`zero_last_conv` where the spec cannot carry the identity path.
    """
    spec = net.spec
    layers = spec.layers
    c = 3  # image channels
    if (spec.upscale != 3 or not spec.residual or layers[-1].kernel < 3
            or (layers[-1].groups, layers[-1].dilation) != (1, 1)
            or any(ly.c_out < c or not _passes_through(ly, c) for ly in layers[:-1])):
        return zero_last_conv(net)
    r = spec.upscale
    with torch.no_grad():
        for conv, layer in zip(net.convs[:-1], layers[:-1], strict=True):
            k = layer.kernel // 2
            conv.weight[:c].zero_()
            conv.bias[:c].zero_()
            for ch in range(c):
                conv.weight[ch, ch % layer.group_c_in, k, k] = 1.0
        last = net.convs[-1]
        last.weight.zero_()
        last.bias.zero_()
        k = layers[-1].kernel // 2
        for ch in range(c):
            for i in range(r):
                for j in range(r):
                    kernel = torch.outer(_cubic_taps(i, r), _cubic_taps(j, r))
                    kernel[1, 1] -= 1.0  # the residual adds the nearest pixel back
                    last.weight[ch * r * r + i * r + j, ch, k - 1:k + 2, k - 1:k + 2] = kernel
    return net


def build_model(spec: EngineSpec, mode: str, single_width: int = 0,
                arch: str = "engine") -> nn.Module:
    """Float network trained by ``mode``: a DualStageSR, or one EngineNet for single-stage.

    Net1 starts as the identity (:func:`zero_last_conv`), every ×3 net as bicubic
    upscaling (:func:`bicubic_init`). ``arch`` other than ``"engine"``: the float
    reference of :func:`build_float_arch` (``spec`` and ``single_width`` unused).
    """
    if arch != "engine":
        return build_float_arch(arch, mode)
    if mode in ("dual", "dual-id"):
        dual = build_dual(spec)
        if dual.net1.spec.residual:
            zero_last_conv(dual.net1)
        bicubic_init(dual.net2)
        return dual
    if mode in ("baseline", "hd2uhd"):
        return bicubic_init(EngineNet(single_spec(spec, single_width)))
    raise ValueError(f"unknown mode {mode!r}")


# -- the paper's float references, at the size one CPU core trains in minutes ----------------
# SRCNN: the base network of Dong et al. (ECCV 2014), 9-1-5 with 64 and 32 channels (20,099
# parameters); its 9-5-5 successor costs 2.4x the time a step for the same ladder.
SRCNN_KERNELS = (9, 1, 5)
SRCNN_FEAT = (64, 32)
# RCAN at 32 channels, 2 residual groups of 2 RCABs, attention bottleneck 32/8 (187k
# parameters) instead of the published 64 channels, 10 groups of 20 (15.6M parameters).
RCAN_FEAT, RCAN_GROUPS, RCAN_BLOCKS, RCAN_REDUCTION = 32, 2, 2, 8
FLOAT_ARCHS = ("srcnn", "rcan")


class BicubicResidual(nn.Module):
    """``net(x) + bicubic ×r of x``, the network's last conv zeroed: it starts at bicubic.

    The engine's stages start at (nearly) bicubic too (:func:`bicubic_init`); SRCNN and RCAN
    as published learn the whole image, which a budget of a few thousand steps never
    recovers from (their first steps are far below bicubic). The global skip is VDSR's.
    """

    def __init__(self, net: nn.Module, upscale: int) -> None:
        super().__init__()
        self.net = net
        self.upscale = upscale
        last = [m for m in net.modules() if isinstance(m, nn.Conv2d)][-1]
        with torch.no_grad():
            last.weight.zero_()
            if last.bias is not None:
                last.bias.zero_()

    def forward(
        self, x: torch.Tensor, return_features: bool = False
    ) -> torch.Tensor | tuple[torch.Tensor, list[torch.Tensor]]:
        if return_features:
            out, feats = self.net(x, return_features=True)
            return out + upscale_torch(x, self.upscale), feats
        return self.net(x) + upscale_torch(x, self.upscale)


def _srcnn(upscale: int, feat: tuple[int, int]) -> nn.Module:
    return BicubicResidual(SRCNN(upscale=upscale, kernels=SRCNN_KERNELS, num_feat=feat), upscale)


def _rcan(upscale: int, groups: int) -> nn.Module:
    net = RCAN(num_feat=RCAN_FEAT, num_group=groups, num_block=RCAN_BLOCKS,
               reduction=RCAN_REDUCTION, upscale=upscale)
    return BicubicResidual(net, upscale)


def _params(net: nn.Module) -> int:
    return sum(p.numel() for p in net.parameters())


def srcnn_stage_feat() -> tuple[int, int]:
    """Hidden widths (f, f/2) of each SRCNN stage whose pair has the single net's parameters.

    >>> srcnn_stage_feat()
    (34, 17)
    """
    target = _params(_srcnn(3, SRCNN_FEAT))
    widths = range(2, SRCNN_FEAT[0] + 1)
    f = min(widths, key=lambda w: abs(_params(_srcnn(1, (w, w // 2)))
                                      + _params(_srcnn(3, (w, w // 2))) - target))
    return f, f // 2


def build_float_arch(arch: str, mode: str) -> nn.Module:
    """SRCNN or RCAN for ``mode``, the dual pair with (about) the single net's parameters.

    Single-stage: one ×3 net. Dual: Net1 is the same family at r = 1 (no resize, no
    upsampler), Net2 at r = 3; the paper's halving (RCAN: 10 groups single, 5 per stage):
    RCAN stages get half the groups, SRCNN stages the widths of :func:`srcnn_stage_feat`.
    Every net starts at bicubic (:class:`BicubicResidual`).
    """
    if arch not in FLOAT_ARCHS:
        raise ValueError(f"unknown float architecture {arch!r} (known: {FLOAT_ARCHS})")
    dual = mode in ("dual", "dual-id")
    if mode not in ("baseline", "hd2uhd", "dual", "dual-id"):
        raise ValueError(f"unknown mode {mode!r}")
    if arch == "srcnn":
        if not dual:
            return _srcnn(3, SRCNN_FEAT)
        feat = srcnn_stage_feat()
        return DualStageSR(_srcnn(1, feat), _srcnn(3, feat))
    if not dual:
        return _rcan(3, RCAN_GROUPS)
    half = max(RCAN_GROUPS // 2, 1)
    return DualStageSR(_rcan(1, half), _rcan(3, half))
