"""The float engine as plain ONNX: both stages in one graph, dynamic height and width.

Built node by node from the float :class:`~hwsr.arch.engine_net.EngineNet` modules
(Conv, Relu, DepthToSpace for the pixel shuffle, Resize for the nearest-neighbour
residual), in pixel units: ``Mul(1/256)`` in front turns pixel codes into the network's
values ``code / 256``, ``Mul(256)`` at the end turns them back. The output is not clamped
or rounded: it is the float network's output, as PyTorch computes it. Building the graph
directly keeps it independent of torch's exporters; the check against PyTorch holds the
two equal within :data:`hwsr.export.check.FLOAT_TOL_PIXELS`.
"""

from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto
from torch import nn

from hwsr.arch.engine_net import EngineNet
from hwsr.export.common import INPUT_NAME, OUTPUT_NAME, ExportError, GraphBuilder, make_model
from hwsr.spec import INPUT_FRAC_BITS

OPSETS = {"": 13}


def _stage(g: GraphBuilder, net: EngineNet, x: str, name: str) -> str:
    """One float stage on values ``code / 256``."""
    h = x
    for i, (conv, act) in enumerate(zip(net.convs, net.acts, strict=True)):
        if not isinstance(conv, nn.Conv2d) or conv.bias is None:
            raise ExportError(f"onnx: {name} layer {i}: {type(conv).__name__} is not a float "
                              "Conv2d with bias")
        k = int(conv.kernel_size[0])
        w = g.const(f"{name}.{i}.w", conv.weight.detach().float().numpy())
        b = g.const(f"{name}.{i}.b", conv.bias.detach().float().numpy())
        h = g.conv(h, w, b, k, f"{name}.{i}.conv")
        if isinstance(act, nn.ReLU):
            h = g.node("Relu", [h], f"{name}.{i}.relu")
        elif not isinstance(act, nn.Identity):
            raise ExportError(f"onnx: {name} layer {i}: unsupported activation "
                              f"{type(act).__name__}")
    r = net.spec.upscale
    h = g.shuffle(h, r, f"{name}.shuffle")
    if net.spec.residual:
        h = g.node("Add", [h, g.nearest_up(x, r, f"{name}.up")], f"{name}.res")
    return h


def float_model(nets: list[tuple[str, nn.Module]], meta: dict[str, str]) -> onnx.ModelProto:
    """ONNX graph of float stages run in order: float32 pixel codes in and out."""
    g = GraphBuilder()
    unit = float(2**INPUT_FRAC_BITS)
    x = g.node("Mul", [INPUT_NAME, g.const("in.scale", np.array(1 / unit, np.float32))], "in")
    for name, net in nets:
        if not isinstance(net, EngineNet):
            raise ExportError(f"onnx: {name} is a {type(net).__name__}, not an EngineNet")
        x = _stage(g, net, x, name)
    g.node("Mul", [x, g.const("out.scale", np.array(unit, np.float32))], OUTPUT_NAME)
    model = make_model(g, "hwsr_float", TensorProto.FLOAT, OUTPUT_NAME, TensorProto.FLOAT,
                       OPSETS, meta)
    onnx.checker.check_model(model)
    return model
