"""The quantized engine as standard QuantizeLinear / Clip / DequantizeLinear (QCDQ) ONNX.

uint8 pixel codes in (N×3×H×W), uint8 pixel codes out, every scale a power of two in pixel
units (``2**(8 - frac)``), zero points 0. Per conv::

    DQ(int8 weights, 2**-wf[c], axis 0), DQ(int32 bias, 2**(8-acc_frac[c]), axis 0)
    Conv → Relu → [Clip to the code range] → Q(uint8 / int8 / int16) → DQ

``Clip`` appears only where a code is narrower than its ONNX integer type (the 10-bit last
conv, held in int16: the "C" of QCDQ, applied in float because onnxruntime has no int16
Clip kernel). onnxruntime fuses DQ → Conv → Q groups of 8-bit
tensors into integer convolutions (QLinearConv). QuantizeLinear always rounds half to even:
the graph *is* the engine's half-even twin, and for any other rounding the differing codes
are what :mod:`hwsr.export.check` counts and explains, never hides.
"""

from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto

from hwsr.export.bound import check_exact
from hwsr.export.common import (
    INPUT_NAME,
    OUTPUT_NAME,
    ExportError,
    GraphBuilder,
    make_model,
    pixel_scale,
    stage_body,
)
from hwsr.fixed import FixedType
from hwsr.program import LayerProgram, StageProgram

OPSETS = {"": 21}  # int16 QuantizeLinear and per-axis DequantizeLinear of int32


def code_dtype(t: FixedType, what: str) -> type:
    """Narrowest ONNX integer type that holds every code of ``t``."""
    if t.width <= 8:
        return np.int8 if t.signed else np.uint8
    if t.width <= 16:
        return np.int16 if t.signed else np.uint16
    raise ExportError(f"qcdq: {what}: {t.width}-bit codes exceed QuantizeLinear's 16-bit types")


def _qcdq(g: GraphBuilder, x: str, name: str, t: FixedType, what: str,
          dequantize: bool = True) -> str:
    """[Clip to the code range →] quantize to ``t`` (half to even, saturate) → dequantize.

    onnxruntime has no int16 ``Clip`` kernel, so a code narrower than its ONNX type is
    clipped in float, to ``[min_code, max_code] · scale``, before QuantizeLinear: clipping to
    integer bounds before a rounding that keeps integers equals saturating after it.
    """
    dtype = code_dtype(t, what)
    scale = pixel_scale(t.frac_bits)
    s = g.const(f"{name}.scale", scale)
    z = g.const(f"{name}.zero", np.array(0, dtype))
    if t.width not in (8, 16):
        lo = g.const(f"{name}.min", np.float32(t.min_code) * scale)
        hi = g.const(f"{name}.max", np.float32(t.max_code) * scale)
        x = g.node("Clip", [x, lo, hi], f"{name}.clip")
    q = g.node("QuantizeLinear", [x, s, z], f"{name}.q")
    return g.node("DequantizeLinear", [q, s, z], f"{name}.dq") if dequantize else q


def _conv(g: GraphBuilder, x: str, lp: LayerProgram, sp: StageProgram, n: str,
          dequantize: bool = True) -> str:
    dp = sp.spec.datapath
    if dp.weight_bits > 8 or dp.bias_bits > 32:
        raise ExportError(f"qcdq: {n}: weights above 8 bits or biases above 32 bits")
    k, c_out = lp.weight.shape[2], lp.weight.shape[0]
    w_q = g.const(f"{n}.w.codes", lp.weight.astype(np.int8))
    w_s = g.const(f"{n}.w.scale", pixel_scale(lp.weight_frac + 8))
    w_z = g.const(f"{n}.w.zero", np.zeros(c_out, np.int8))
    w = g.node("DequantizeLinear", [w_q, w_s, w_z], f"{n}.w", axis=0)
    b_q = g.const(f"{n}.b.codes", lp.bias.astype(np.int32))
    b_s = g.const(f"{n}.b.scale", pixel_scale(lp.acc_frac))
    b_z = g.const(f"{n}.b.zero", np.zeros(c_out, np.int32))
    b = g.node("DequantizeLinear", [b_q, b_s, b_z], f"{n}.b", axis=0)
    h = g.conv(x, w, b, k, f"{n}.conv", lp.groups, lp.dilation)
    if lp.relu:
        h = g.node("Relu", [h], f"{n}.relu")
    return _qcdq(g, h, f"{n}.act", lp.out_type, n, dequantize)


def _stage(g: GraphBuilder, sp: StageProgram, x_u8: str, name: str, out: str) -> str:
    """One stage from uint8 pixel codes ``x_u8`` to uint8 pixel codes named ``out``."""
    one = g.const(f"{name}.pixel.scale", np.array(1.0, np.float32))
    zero = g.const(f"{name}.pixel.zero", np.array(0, np.uint8))
    x = g.node("DequantizeLinear", [x_u8, one, zero], f"{name}.in")
    h = stage_body(g, sp, x, name, _conv)
    return g.node("QuantizeLinear", [h, one, zero], out)


def qcdq_model(stages: list[tuple[str, StageProgram]], meta: dict[str, str]) -> onnx.ModelProto:
    """QCDQ graph of the given stages; refuses a program outside the float32 bound."""
    check_exact(stages, "qcdq")
    g = GraphBuilder()
    x = INPUT_NAME
    for j, (name, sp) in enumerate(stages):
        x = _stage(g, sp, x, name, OUTPUT_NAME if j == len(stages) - 1 else f"{name}.pixels")
    model = make_model(g, "hwsr_qcdq", TensorProto.UINT8, OUTPUT_NAME, TensorProto.UINT8,
                       OPSETS, meta)
    onnx.checker.check_model(model)
    return model


def layer_model(sp: StageProgram, index: int) -> onnx.ModelProto:
    """Layer ``index`` of a stage alone: its input codes in, its output codes out.

    Fed with the integer reference's input to that layer, it shows what onnxruntime's
    kernels do to that one layer (a difference here is born in this layer, not inherited).
    """
    lp, t_in = sp.layers[index], sp.in_type(index)
    g = GraphBuilder()
    s = g.const("in.scale", pixel_scale(t_in.frac_bits))
    z = g.const("in.zero", np.array(0, code_dtype(t_in, "input")))
    x = g.node("DequantizeLinear", [INPUT_NAME, s, z], "in")
    out = _conv(g, x, lp, sp, f"layer{index}", dequantize=False)
    out_type = onnx.helper.np_dtype_to_tensor_dtype(np.dtype(code_dtype(lp.out_type, "out")))
    in_type = onnx.helper.np_dtype_to_tensor_dtype(np.dtype(code_dtype(t_in, "input")))
    c_in, c_out = lp.c_in, lp.weight.shape[0]
    graph = onnx.helper.make_graph(
        g.nodes, "hwsr_qcdq_layer",
        [onnx.helper.make_tensor_value_info(INPUT_NAME, in_type, [1, c_in, None, None])],
        [onnx.helper.make_tensor_value_info(out, out_type, [1, c_out, None, None])],
        initializer=g.inits)
    model = onnx.helper.make_model(graph, opset_imports=[onnx.helper.make_opsetid("", 21)])
    model.ir_version = 10
    return model
