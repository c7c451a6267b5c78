"""The quantized engine as a QONNX graph, built from the integer program, exact by construction.

Per conv layer (pixel units, every scale a power of two)::

    w  = Quant(w_codes · 2**-wf, scale 2**-wf[c], weight_bits, signed)        per channel
    b  = Quant(b_codes · s_acc,  scale s_acc[c] = 2**(8-acc_frac[c]), bias_bits, signed)
    y  = Conv(x, w, b) → Relu (ReLU layers) → [Add half] → Quant(scale 2**(8-out_frac))

and per stage ``DepthToSpace(CRD, r)`` then ``Add`` of the input upsampled by ``Resize``
(nearest, floor) then ``Quant(scale 1, 8 bits, unsigned)``: output pixel codes.

QONNX's ``Quant`` clips to the integer range *before* it rounds; since clipping bounds are
integers and rounding is monotone and keeps integers, that equals the engine's
round-then-saturate. Rounding modes: half-even is ``ROUND`` (``np.round``), floor is
``FLOOR``, toward zero is ``DOWN`` (``np.fix``). QONNX's ``HALF_UP`` rounds ties away from
zero, not toward +∞, so the engine's half-up is built as ``FLOOR`` of the value plus half an
LSB of the destination (an ``Add`` per channel, 0 where the shift is not positive: no
rounding happens there). Every value stays on its grid below 2**24 LSBs, checked by
:mod:`hwsr.export.bound`, so qonnx's float32 executor computes the engine bit for bit.
"""

from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto

from hwsr.export.bound import check_exact
from hwsr.export.common import (
    INPUT_NAME,
    OUTPUT_NAME,
    GraphBuilder,
    make_model,
    pixel_scale,
    stage_body,
)
from hwsr.fixed import Rounding
from hwsr.program import LayerProgram, StageProgram

QONNX_DOMAIN = "qonnx.custom_op.general"
OPSETS = {"": 13, QONNX_DOMAIN: 1}

# The QONNX rounding_mode that, after the half-LSB Add where needed, is each engine mode.
ROUNDING_MODES = {
    Rounding.HALF_UP: "FLOOR",  # after + half an LSB
    Rounding.HALF_EVEN: "ROUND",
    Rounding.FLOOR: "FLOOR",
    Rounding.TOWARD_ZERO: "DOWN",
}


def _quant(g: GraphBuilder, x: str, name: str, scale: np.ndarray, bits: int, signed: bool,
           rounding: str, out: str | None = None) -> str:
    """A QONNX ``Quant`` node (zero point 0, full range); its output is ``out`` or ``name``."""
    s = g.const(f"{name}.scale", scale.astype(np.float32))
    z = g.const(f"{name}.zeropt", np.array(0.0, np.float32))
    b = g.const(f"{name}.bits", np.array(bits, np.float32))
    return g.node("Quant", [x, s, z, b], out or name, domain=QONNX_DOMAIN, signed=int(signed),
                  narrow=0, rounding_mode=rounding)


def _requant(g: GraphBuilder, x: str, name: str, shift: np.ndarray, out_frac: int, bits: int,
             signed: bool, rounding: Rounding, out: str | None = None) -> str:
    """Round ``x`` (on the accumulator's grid) to ``bits`` codes at ``out_frac``, saturated."""
    scale = pixel_scale(out_frac)
    if rounding is Rounding.HALF_UP and bool((shift > 0).any()):
        half = np.where(shift > 0, scale / 2, 0).astype(np.float32)
        x = g.node("Add", [x, g.const(f"{name}.half", half.reshape(1, -1, 1, 1))], f"{name}.add")
    return _quant(g, x, name, np.asarray(scale), bits, signed, ROUNDING_MODES[rounding], out)


def _conv(g: GraphBuilder, x: str, lp: LayerProgram, sp: StageProgram, n: str) -> str:
    dp = sp.spec.datapath
    c_out, k = lp.weight.shape[0], lp.weight.shape[2]
    w_scale = pixel_scale(lp.weight_frac + 8)  # 2**-wf: weights are plain numbers
    w_val = g.const(f"{n}.w.value", lp.weight.astype(np.float32) * w_scale[:, None, None, None])
    w = _quant(g, w_val, f"{n}.w", w_scale.reshape(c_out, 1, 1, 1), dp.weight_bits, True,
               "ROUND")
    b_scale = pixel_scale(lp.acc_frac)
    b_val = g.const(f"{n}.b.value", lp.bias.astype(np.float32) * b_scale)
    b = _quant(g, b_val, f"{n}.b", b_scale, dp.bias_bits, True, "ROUND")
    h = g.conv(x, w, b, k, f"{n}.conv", lp.groups, lp.dilation)
    if lp.relu:
        h = g.node("Relu", [h], f"{n}.relu")
    t = lp.out_type
    return _requant(g, h, f"{n}.act", lp.shift, lp.out_frac, t.width, t.signed, dp.rounding)


def _stage(g: GraphBuilder, sp: StageProgram, x: str, name: str, out: str) -> str:
    """One stage from pixel codes ``x`` to pixel codes named ``out``."""
    h = stage_body(g, sp, x, name, _conv)
    shift = np.array([sp.out_shift])
    return _requant(g, h, f"{name}.out", shift, 8, 8, False, sp.spec.datapath.rounding, out)


def qonnx_model(stages: list[tuple[str, StageProgram]], meta: dict[str, str]) -> onnx.ModelProto:
    """QONNX graph of the given stages: float32 pixel codes in, float32 pixel codes out.

    Refuses (``ExportError``) a program outside the float32 exactness bound.
    """
    check_exact(stages, "qonnx")
    g = GraphBuilder()
    x = _quant(g, INPUT_NAME, "input", np.array(1.0, np.float32), 8, False, "ROUND")
    for j, (name, sp) in enumerate(stages):
        out = OUTPUT_NAME if j == len(stages) - 1 else f"{name}.pixels"
        x = _stage(g, sp, x, name, out)
    model = make_model(g, "hwsr_qonnx", TensorProto.FLOAT, OUTPUT_NAME, TensorProto.FLOAT,
                       OPSETS, meta)
    onnx.checker.check_model(model)
    return model
