"""What every exporter shares: the refusal type, stage selection, a tiny graph builder, metadata.

Every export reads and writes **pixel units**: a tensor value ``v`` means ``v`` uint8 pixel
codes, i.e. the engine value ``v / 256``. An engine tensor with ``frac`` bits below the
binary point therefore has the power-of-two scale ``2**(8 - frac)`` in the graphs.
"""

from __future__ import annotations

import enum
import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import onnx
from onnx import helper, numpy_helper

from hwsr.program import EngineProgram, LayerProgram, StageProgram
from hwsr.spec import INPUT_FRAC_BITS, STAGES, stage_names

INPUT_NAME = "frame"  # N×3×H×W pixel codes
OUTPUT_NAME = "out"  # N×3×(H·r)×(W·r) pixel codes
META_PREFIX = "hwsr."


class ExportError(ValueError):
    """An export that cannot be made or checked; the message is one line naming the cause."""


class Format(enum.Enum):
    ONNX = "onnx"  # float dual-stage network
    QONNX = "qonnx"  # quantized engine, QONNX Quant nodes, exact
    QCDQ = "qcdq"  # quantized engine, QuantizeLinear/Clip/DequantizeLinear, ORT int kernels

    @classmethod
    def parse(cls, text: str) -> Format:
        try:
            return cls(text)
        except ValueError:
            allowed = ", ".join(f.value for f in cls)
            raise ExportError(f"--format: unknown format {text!r} (allowed: {allowed})") from None


def parse_stage(text: str) -> str:
    if text not in STAGES:
        raise ExportError(f"--stage: unknown stage {text!r} (allowed: {', '.join(STAGES)})")
    return text


def stage_programs(program: EngineProgram, stage: str) -> list[tuple[str, StageProgram]]:
    """The stages that run for ``stage``, Net1 first, each with its name."""
    try:
        return [(n, program.stage(n)) for n in stage_names(stage)]
    except ValueError as e:
        raise ExportError(f"--stage {stage}: {e}") from None


def pixel_scale(frac_bits: int | npt.NDArray[np.int64]) -> npt.NDArray[np.float32]:
    """Scale in pixel units of a tensor with ``frac_bits``: ``2**(8 - frac_bits)``, exact."""
    return np.ldexp(np.float32(1.0), INPUT_FRAC_BITS - np.asarray(frac_bits)).astype(np.float32)


def program_fingerprint(program: EngineProgram, stage: str) -> str:
    """SHA-256 over the integer arrays and formats of the exported stages (first 16 hex)."""
    h = hashlib.sha256(stage.encode())
    for name, sp in stage_programs(program, stage):
        h.update(f"{name}:{sp.spec.datapath}".encode())
        for lp in sp.layers:
            h.update(f"{lp.in_frac},{lp.out_frac},{lp.out_type},{lp.relu}".encode())
            for a in (lp.weight, lp.bias, lp.weight_frac):
                h.update(np.ascontiguousarray(a, np.int64).tobytes())
    return h.hexdigest()[:16]


@dataclass
class GraphBuilder:
    """Nodes and initializers of one graph, with unique names under a prefix."""

    nodes: list[onnx.NodeProto] = field(default_factory=list)
    inits: list[onnx.TensorProto] = field(default_factory=list)

    def const(self, name: str, array: npt.ArrayLike) -> str:
        self.inits.append(numpy_helper.from_array(np.asarray(array), name))
        return name

    def node(self, op: str, inputs: list[str], output: str, domain: str = "",
             **attrs: Any) -> str:
        self.nodes.append(helper.make_node(op, inputs, [output], name=output, domain=domain,
                                           **attrs))
        return output

    def conv(self, x: str, w: str, b: str, k: int, name: str, groups: int = 1,
             dilation: int = 1) -> str:
        """A k×k 'same' convolution (zero padding dilation·(k//2)), every attribute explicit
        for tools; ``groups`` and ``dilation`` as the layer's spec."""
        return self.node("Conv", [x, w, b], name, kernel_shape=[k, k],
                         pads=[dilation * (k // 2)] * 4, strides=[1, 1],
                         dilations=[dilation, dilation], group=groups)

    def nearest_up(self, x: str, r: int, name: str) -> str:
        """Nearest-neighbour ×r upsampling (the engine's residual path): out[i] = in[i // r]."""
        if r == 1:
            return x
        scales = self.const(f"{name}.scales", np.array([1, 1, r, r], np.float32))
        return self.node("Resize", [x, "", scales], name, mode="nearest",
                         coordinate_transformation_mode="asymmetric", nearest_mode="floor")

    def shuffle(self, x: str, r: int, name: str) -> str:
        """Pixel shuffle: channel c·r² + i·r + j goes to row offset i, column offset j (CRD)."""
        if r == 1:
            return x
        return self.node("DepthToSpace", [x], name, blocksize=r, mode="CRD")


def make_model(g: GraphBuilder, name: str, in_type: int, out: str, out_type: int,
               opsets: dict[str, int], meta: dict[str, str]) -> onnx.ModelProto:
    """A model with dynamic batch, height and width; ``meta`` lands in metadata_props."""
    graph = helper.make_graph(
        g.nodes, name,
        [helper.make_tensor_value_info(INPUT_NAME, in_type, ["batch", 3, "height", "width"])],
        [helper.make_tensor_value_info(out, out_type, ["batch", 3, "out_height", "out_width"])],
        initializer=g.inits)
    model = helper.make_model(
        graph, opset_imports=[helper.make_opsetid(d, v) for d, v in opsets.items()],
        producer_name="hwsr")
    model.ir_version = 10
    helper.set_model_props(model, {META_PREFIX + k: v for k, v in meta.items()})
    return model


def read_meta(model: onnx.ModelProto) -> dict[str, str]:
    """The ``hwsr.*`` metadata of an exported model, prefix stripped."""
    return {p.key[len(META_PREFIX):]: p.value for p in model.metadata_props
            if p.key.startswith(META_PREFIX)}


ConvBuilder = Callable[["GraphBuilder", str, LayerProgram, StageProgram, str], str]


def stage_body(g: GraphBuilder, sp: StageProgram, x: str, name: str, conv: ConvBuilder) -> str:
    """One stage's conv layers (each built by ``conv``), pixel shuffle and nearest-neighbour
    residual on input ``x``; returns the sum before the final requantization to pixels."""
    h = x
    for i, lp in enumerate(sp.layers):
        h = conv(g, h, lp, sp, f"{name}.{i}")
    r = sp.spec.upscale
    h = g.shuffle(h, r, f"{name}.shuffle")
    if sp.spec.residual:
        h = g.node("Add", [h, g.nearest_up(x, r, f"{name}.up")], f"{name}.res")
    return h
