"""The engine's network in float: a plain conv stack, global residual, pixel shuffle.

Built from an :class:`~hwsr.spec.EngineSpec`, so Net1 and Net2 come from one description.
Pixels are ``code / 256`` (the engine's uint8 input with scale 2**-8). The Brevitas model in
:mod:`hwsr.quant` subclasses :class:`EngineNet` and only swaps the layer factories.
"""

from __future__ import annotations

import torch
from torch import nn

from hwsr.spec import Activation, EngineSpec, LayerSpec


def upsample_nearest(x: torch.Tensor, r: int) -> torch.Tensor:
    """Nearest-neighbour ×r upsampling of an NCHW tensor (the residual path of the engine)."""
    if r == 1:
        return x
    return x.repeat_interleave(r, dim=2).repeat_interleave(r, dim=3)


def _value(x: object) -> torch.Tensor:
    """Plain tensor of a tensor or a Brevitas QuantTensor."""
    return x.value if hasattr(x, "value") and not isinstance(x, torch.Tensor) else x  # type: ignore[return-value]


class EngineNet(nn.Module):
    """Float network of one engine stage.

    ``forward(x)`` returns the SR output; ``forward(x, return_features=True)`` also returns
    the activations after every hidden layer (the feature maps input distillation compares).
    """

    def __init__(self, spec: EngineSpec) -> None:
        super().__init__()
        self.spec = spec
        self.input_quant = self._make_input_quant()
        self.convs = nn.ModuleList(self._make_conv(i, ly) for i, ly in enumerate(spec.layers))
        self.acts = nn.ModuleList(self._make_act(i, ly) for i, ly in enumerate(spec.layers))
        self.shuffle = nn.PixelShuffle(spec.upscale)
        self.output_quant = self._make_output_quant()

    # -- layer factories: the quantized subclass overrides these only --------------------------
    def _make_input_quant(self) -> nn.Module:
        return nn.Identity()

    def _make_conv(self, index: int, layer: LayerSpec) -> nn.Module:
        return nn.Conv2d(layer.c_in, layer.c_out, layer.kernel, padding=layer.halo_rows,
                         dilation=layer.dilation, groups=layer.groups)

    def _make_act(self, index: int, layer: LayerSpec) -> nn.Module:
        return nn.ReLU() if layer.activation is Activation.RELU else nn.Identity()

    def _make_output_quant(self) -> nn.Module:
        return nn.Identity()

    def _add_residual(self, y: torch.Tensor, x_q: object) -> torch.Tensor:
        return y + upsample_nearest(_value(x_q), self.spec.upscale)

    # -- forward --------------------------------------------------------------------------------
    def forward(
        self, x: torch.Tensor, return_features: bool = False
    ) -> torch.Tensor | tuple[torch.Tensor, list[torch.Tensor]]:
        x_q = self.input_quant(x)
        h: object = x_q
        features: list[torch.Tensor] = []
        last = len(self.convs) - 1
        for i, (conv, act) in enumerate(zip(self.convs, self.acts, strict=True)):
            h = act(conv(h))
            if i < last:
                features.append(_value(h))
        y = self.shuffle(_value(h))
        if self.spec.residual:
            y = self._add_residual(y, x_q)
        out = _value(self.output_quant(y))
        return (out, features) if return_features else out


class DualStageSR(nn.Module):
    """``HR^ = Net2(Net1(LR))``: stage 1 removes codec damage at LR size, stage 2 upscales.

    ``forward(lr)`` returns ``(net1_out, net2_out)``; with ``return_features=True`` it
    returns ``(net1_out, net2_out, net2_features)``. ``net2_on(x)`` runs Net2 alone (the
    teacher branch of input distillation runs it on the true dHR).
    """

    def __init__(self, net1: nn.Module, net2: nn.Module) -> None:
        super().__init__()
        self.net1 = net1
        self.net2 = net2

    def forward(
        self, lr: torch.Tensor, return_features: bool = False
    ) -> tuple[torch.Tensor, ...]:
        y1 = self.net1(lr)
        if return_features:
            y2, feats = self.net2(y1, return_features=True)
            return y1, y2, feats
        return y1, self.net2(y1)

    def net2_on(self, x: torch.Tensor, return_features: bool = False):
        return self.net2(x, return_features=return_features)


def build_dual(spec: EngineSpec) -> DualStageSR:
    """Float dual-stage engine from Net2's spec (Net1 derived by ``spec.net1()``)."""
    return DualStageSR(EngineNet(spec.net1()), EngineNet(spec))
