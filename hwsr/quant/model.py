"""The engine's network quantized with Brevitas: the float EngineNet with its layers swapped.

Power-of-two scales everywhere; pixels in and out as uint8 with scale 2**-8; biases at the
accumulator's scale; the last conv's output is a signed ``out_bits`` tensor added to the
nearest-upsampled input, then saturated to uint8. In eval mode this model, converted to
integer codes, equals the integer program that lowering extracts from it, bit for bit.
"""

from __future__ import annotations

from brevitas.nn import QuantConv2d, QuantIdentity, QuantReLU
from torch import nn

from hwsr.arch.engine_net import DualStageSR, EngineNet
from hwsr.quant.quantizers import act_quant, bias_quant, pixel_quant, weight_quant
from hwsr.spec import Activation, EngineSpec, LayerSpec


class QuantEngineNet(EngineNet):
    """Brevitas twin of :class:`EngineNet`: same structure, quantized layer factories."""

    def _make_input_quant(self) -> nn.Module:
        return QuantIdentity(act_quant=pixel_quant(self.spec.datapath), return_quant_tensor=True)

    def _make_conv(self, index: int, layer: LayerSpec) -> nn.Module:
        dp = self.spec.datapath
        return QuantConv2d(
            layer.c_in, layer.c_out, layer.kernel, padding=layer.halo_rows,
            dilation=layer.dilation, groups=layer.groups, bias=True,
            weight_quant=weight_quant(dp), bias_quant=bias_quant(dp), return_quant_tensor=False,
        )

    def _make_act(self, index: int, layer: LayerSpec) -> nn.Module:
        dp = self.spec.datapath
        last = index == len(self.spec.layers) - 1
        bits = dp.out_bits if last else dp.act_bits
        if layer.activation is Activation.RELU:
            return QuantReLU(act_quant=act_quant(dp, signed=False, bits=bits),
                             return_quant_tensor=True)
        return QuantIdentity(act_quant=act_quant(dp, signed=True, bits=bits),
                             return_quant_tensor=True)

    def _make_output_quant(self) -> nn.Module:
        return QuantIdentity(act_quant=pixel_quant(self.spec.datapath), return_quant_tensor=False)


def build_quant_dual(spec: EngineSpec) -> DualStageSR:
    """Quantized dual-stage engine from Net2's spec (Net1 derived by ``spec.net1()``)."""
    return DualStageSR(QuantEngineNet(spec.net1()), QuantEngineNet(spec))
