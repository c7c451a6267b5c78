"""Which network each training mode trains, with the ladder's equal parameter budget.

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

from hwsr.arch.engine_net import EngineNet, build_dual
from hwsr.resize import cubic
from hwsr.spec import EngineSpec, LayerSpec


def dual_params(spec: EngineSpec) -> int:
    """Parameters of the dual pair built from Net2's ``spec``."""
    return spec.net1().params + spec.params


def widened_spec(spec: EngineSpec, width: int) -> EngineSpec:
    """``spec`` with every hidden channel count set to ``width`` (image channels kept)."""
    if width < 1:
        raise ValueError(f"width must be >= 1, got {width}")
    layers: list[LayerSpec] = []
    last = len(spec.layers) - 1
    for i, layer in enumerate(spec.layers):
        c_in = layer.c_in if i == 0 else width
        c_out = layer.c_out if i == last else width
        layers.append(dataclasses.replace(layer, c_in=c_in, c_out=c_out))
    return dataclasses.replace(spec, name=f"{spec.name}-single-w{width}", layers=tuple(layers))


def matched_width(spec: EngineSpec) -> int:
    """Hidden width whose single ×3 net has the parameter count nearest the dual pair's.

    >>> from hwsr.zoo import load_engine
    >>> matched_width(load_engine("hwsr-s").spec)
    27
    """
    target = dual_params(spec)
    widths = range(1, 4 * max(ly.c_out for ly in spec.layers) + 2)
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
            or any(ly.c_out < c for ly in layers[:-1])):
        return zero_last_conv(net)
    r = spec.upscale
    with torch.no_grad():
        for conv, layer in zip(net.convs[:-1], layers[:-1], strict=True):
            k = layer.kernel // 2
            conv.weight[:c].zero_()
            conv.bias[:c].zero_()
            for ch in range(c):
                conv.weight[ch, ch, k, k] = 1.0
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


def build_model(spec: EngineSpec, mode: str, single_width: int = 0) -> nn.Module:
    """Float network trained by ``mode``: a DualStageSR, or one EngineNet for single-stage.

    Net1 starts as the identity (:func:`zero_last_conv`), every ×3 net as bicubic
    upscaling (:func:`bicubic_init`).
    """
    if mode in ("dual", "dual-id"):
        dual = build_dual(spec)
        if dual.net1.spec.residual:
            zero_last_conv(dual.net1)
        bicubic_init(dual.net2)
        return dual
    if mode in ("baseline", "hd2uhd"):
        return bicubic_init(EngineNet(single_spec(spec, single_width)))
    raise ValueError(f"unknown mode {mode!r}")
