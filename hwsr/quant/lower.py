"""Lowering: the eval-mode Brevitas engine → the integer program the simulator reads.

Short passes, listed in order in :func:`lower_stage`, each testable alone:

1. ``require_eval``      refuse a model in training mode (its scales are not frozen);
2. ``probe_tensors``     run a 1×1 frame through the model and record, per conv, the
                         quantized input and output tensors (their scales are the formats);
3. ``lower_conv``        per conv: integer weights, integer bias, and the power-of-two
                         formats (refusing any scale that is not a power of two, naming the layer);
4. ``assemble``          the StageProgram, checked against the spec by ``check_stage``.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass

import numpy as np
import torch
from brevitas.nn import QuantConv2d
from brevitas.quant_tensor import IntQuantTensor

from hwsr.fixed import FixedType, frac_bits_of, is_power_of_two
from hwsr.program import EngineProgram, LayerProgram, StageProgram, check_stage
from hwsr.quant.model import QuantEngineNet
from hwsr.spec import Activation


class LoweringError(ValueError):
    """The model holds something the engine cannot run; the message names the layer."""


@dataclass(frozen=True)
class ConvProbe:
    """Quantized tensors seen around one conv during the probe run."""

    inp: IntQuantTensor  # the conv's input (its scale is the input format)
    out: IntQuantTensor  # the activation quantizer's output after the conv


def require_eval(net: QuantEngineNet) -> QuantEngineNet:
    if net.training:
        raise LoweringError("model is in training mode: call .eval() so its scales are frozen")
    return net


def probe_tensors(net: QuantEngineNet) -> list[ConvProbe]:
    """Record each conv's quantized input and its activation's quantized output."""
    seen_in: dict[int, object] = {}
    seen_out: dict[int, object] = {}
    hooks = []
    for i, (conv, act) in enumerate(zip(net.convs, net.acts, strict=True)):
        if not isinstance(conv, QuantConv2d):
            raise LoweringError(f"layer {i}: {type(conv).__name__} is not a QuantConv2d")
        hooks.append(conv.register_forward_pre_hook(lambda m, a, i=i: seen_in.__setitem__(i, a[0])))
        hooks.append(act.register_forward_hook(lambda m, a, o, i=i: seen_out.__setitem__(i, o)))
    try:
        with torch.no_grad():
            net(torch.zeros(1, 3, 1, 1, dtype=torch.float64))
    finally:
        for h in hooks:
            h.remove()
    probes = []
    for i in range(len(net.convs)):
        for what, t in (("input", seen_in.get(i)), ("output", seen_out.get(i))):
            if not isinstance(t, IntQuantTensor):
                raise LoweringError(f"layer {i}: {what} is not an integer-quantized tensor")
        probes.append(ConvProbe(inp=seen_in[i], out=seen_out[i]))  # type: ignore[arg-type]
    return probes


def _frac(scale: torch.Tensor, what: str) -> np.ndarray:
    flat = scale.detach().double().flatten().numpy()
    for s in flat:
        if not is_power_of_two(float(s)):
            raise LoweringError(f"{what}: scale {float(s)!r} is not a power of two")
    return np.array([frac_bits_of(float(s)) for s in flat], dtype=np.int64)


def _codes(value: torch.Tensor, scale: torch.Tensor, what: str) -> np.ndarray:
    q = (value.detach().double() / scale.detach().double()).numpy()
    codes = np.rint(q)
    if not np.array_equal(codes, q):
        raise LoweringError(f"{what}: values are not integer multiples of their scale")
    return codes.astype(np.int64)


def lower_conv(net: QuantEngineNet, index: int, probe: ConvProbe) -> LayerProgram:
    """Integer weights, bias and formats of conv ``index``."""
    name = f"layer {index}"
    conv = net.convs[index]
    layer = net.spec.layers[index]
    in_frac = int(_frac(probe.inp.scale, f"{name} input")[0])
    qw = conv.quant_weight()
    w_frac = _frac(qw.scale, f"{name} weight")
    if w_frac.size == 1:
        w_frac = np.repeat(w_frac, layer.c_out)
    weight = _codes(qw.value, qw.scale, f"{name} weight")
    qb = conv.bias_quant(conv.bias, probe.inp, qw)
    bias = _codes(qb.value, qb.scale.view(-1), f"{name} bias")
    bias_frac = _frac(qb.scale, f"{name} bias")
    if not np.array_equal(np.broadcast_to(bias_frac, w_frac.shape), in_frac + w_frac):
        raise LoweringError(f"{name}: bias scale is not input scale × weight scale")
    out_frac = int(_frac(probe.out.scale, f"{name} output")[0])
    bits = int(probe.out.bit_width.item())
    relu = layer.activation is Activation.RELU
    out_type = FixedType(bits, out_frac, signed=bool(probe.out.signed))
    return LayerProgram(weight, bias, in_frac, w_frac, out_frac, out_type, relu,
                        groups=layer.groups, dilation=layer.dilation)


def assemble(net: QuantEngineNet, layers: list[LayerProgram]) -> StageProgram:
    stage = StageProgram(spec=net.spec, layers=tuple(layers))
    check_stage(stage, net.spec.stage)
    return stage


def lower_stage(net: QuantEngineNet) -> StageProgram:
    """Lower one eval-mode quantized stage to its integer program (the passes in order)."""
    net = copy.deepcopy(require_eval(net)).double()
    probes = probe_tensors(net)
    layers = [lower_conv(net, i, p) for i, p in enumerate(probes)]
    return assemble(net, layers)


def lower_dual(net1: QuantEngineNet, net2: QuantEngineNet) -> EngineProgram:
    """Both stages of the engine; Net1's spec must be Net2's ``net1()``."""
    if net1.spec != net2.spec.net1():
        raise LoweringError("net1's spec is not derived from net2's spec (spec.net1())")
    return EngineProgram(net2=lower_stage(net2), net1=lower_stage(net1))
