"""The folded engine's RTL from its plan: unit parameters, ROM images in step order, latency.

:func:`folded_units` binds a :class:`~hwsr.folding.FoldPlan` to an
:class:`~hwsr.rtl.design.EngineDesign`: one :class:`FoldedUnit` per ``hwsr_mac`` instance,
with the layer(s) it serves and the numbers the Verilog and the testbenches read (pipeline
depth, output FIFO depth). :func:`fold_roms` writes each unit's weight, bias and shift
memories in the order the unit reads them (one word per cycle: PE lanes x SIMD products).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from hwsr.folding import FoldPlan, UnitFold
from hwsr.program import EngineProgram
from hwsr.rtl.design import ConvDesign, EngineDesign, RtlError, StageDesign

TREE_K = 2  # a pipeline register every TREE_K adder-tree levels
# Registers of one step outside the adder tree: issue, products, accumulator, fit and ReLU,
# rounding shift, output word; the FIFO's write is the last.
STEP_REGISTERS = 7
ROM_DIR = "rom"


@dataclass(frozen=True)
class FoldedUnit:
    """One ``hwsr_mac`` instance: a plan unit and the layer(s) of the design it runs."""

    fold: UnitFold
    layers: tuple[ConvDesign, ...]  # one per stage served, in stage order
    stage: StageDesign  # the first stage served (datapath scalars: equal for both)

    @property
    def name(self) -> str:
        return f"mac_{self.fold.name}"

    @property
    def tree_levels(self) -> int:
        return math.ceil(math.log2(self.fold.simd)) if self.fold.simd > 1 else 0

    @property
    def pipeline_cycles(self) -> int:
        """Cycles from a step's issue to its pixel's word entering the output FIFO."""
        return STEP_REGISTERS + self.tree_levels // TREE_K

    @property
    def fifo_depth(self) -> int:
        """Output FIFO words per stage: every pixel the pipeline can hold, plus two, so a
        consumer that takes a word every cycle never throttles the unit."""
        fastest = min(self.fold.cycles)
        return math.ceil(self.pipeline_cycles / fastest) + 2

    def parameters(self) -> dict[str, int]:
        ly, st = self.layers[0], self.stage
        return {
            "NS": len(self.layers), "K": ly.kernel, "CIN": ly.c_in, "GROUPS": ly.groups,
            "COUT0": ly.c_out, "COUT1": self.layers[-1].c_out if len(self.layers) > 1 else 1,
            "PE": self.fold.pe, "SIMD": self.fold.simd, "TREE_K": TREE_K,
            "FD": self.fifo_depth, "IN_BITS": ly.in_bits, "IN_SIGNED": int(ly.in_signed),
            "OUT_BITS": ly.out_bits, "OUT_SIGNED": int(ly.out_signed), "RELU": int(ly.relu),
            "W_BITS": st.weight_bits, "B_BITS": st.bias_bits, "ACC_BITS": st.acc_bits,
            "SUM_BITS": max(x.sum_bits for x in self.layers), "ACC_SAT": int(st.acc_saturate),
            "ROUND": st.round_code,
        }

    def rom_paths(self) -> dict[str, str]:
        return {k: f"{ROM_DIR}/{self.name}.{k}.hex" for k in ("weight", "bias", "shift")}


_SAME = ("kernel", "c_in", "groups", "dilation", "in_bits", "in_signed", "out_bits",
         "out_signed", "relu")
_SAME_STAGE = ("round_code", "acc_bits", "acc_saturate", "weight_bits", "bias_bits")


def _check_shared(unit: UnitFold, layers: list[ConvDesign], stages: list[StageDesign]) -> None:
    """Both stages' layers must be one unit's shape; a grouped layer keeps c_out."""
    a, b = layers
    diff = [f for f in _SAME if getattr(a, f) != getattr(b, f)]
    diff += [f for f in _SAME_STAGE if getattr(stages[0], f) != getattr(stages[1], f)]
    if a.groups > 1 and a.c_out != b.c_out:
        diff.append("c_out of a grouped layer")
    if diff:
        raise RtlError(f"layer {unit.index}: Net1 and Net2 differ in {', '.join(diff)}: "
                       "one MAC unit cannot serve both (build separate engines)")


def folded_units(plan: FoldPlan, design: EngineDesign) -> tuple[FoldedUnit, ...]:
    """Every MAC unit of the folded engine, in layer order."""
    stages = {s.name: s for s in design.stages}
    out = []
    for u in plan.units:
        sts = [stages[n] for n in u.stages]
        layers = [s.layers[u.index] for s in sts]
        if len(layers) > 1:
            _check_shared(u, layers, sts)
        out.append(FoldedUnit(u, tuple(layers), sts[0]))
    return tuple(out)


def _words(values: np.ndarray, bits: int) -> list[str]:
    """Rows of signed values packed little-end first into one hex word each."""
    digits = math.ceil(values.shape[1] * bits / 4)
    mask = (1 << bits) - 1
    out = []
    for row in values.tolist():
        word = 0
        for k, v in enumerate(row):
            word |= (int(v) & mask) << (k * bits)
        out.append(f"{word:0{digits}x}")
    return out


def _stage_words(fu: FoldedUnit, weight: np.ndarray, bias: np.ndarray,
                 shift: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(steps x PE·SIMD weights, groups x PE biases, groups x PE shifts) of one stage."""
    u = fu.fold
    c_out = weight.shape[0]
    ng = math.ceil(c_out / u.pe)
    lanes = ng * u.pe
    flat = np.zeros((lanes, u.fan_in), dtype=np.int64)
    # product f of a channel: tap f // gc, channel f % gc (the window's order)
    flat[:c_out] = weight.transpose(0, 2, 3, 1).reshape(c_out, u.fan_in)
    steps = flat.reshape(ng, u.pe, u.chunks, u.simd).transpose(0, 2, 1, 3)
    pad = np.zeros(lanes - c_out, dtype=np.int64)
    return (steps.reshape(ng * u.chunks, u.pe * u.simd),
            np.concatenate([bias, pad]).reshape(ng, u.pe),
            np.concatenate([shift, pad]).reshape(ng, u.pe))


def fold_roms(program: EngineProgram, units: tuple[FoldedUnit, ...]) -> dict[str, str]:
    """Every folded unit's memories: path → ``$readmemh`` text (bank 0, then bank 1)."""
    out: dict[str, str] = {}
    for fu in units:
        parts: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
        for ly in fu.layers:
            lp = program.stage(ly.stage).layers[ly.index]
            parts.append(_stage_words(fu, lp.weight, lp.bias, lp.shift))
        st, paths = fu.stage, fu.rom_paths()
        head = (f"// {fu.name}: {' + '.join(ly.tap for ly in fu.layers)}, PE {fu.fold.pe} x "
                f"SIMD {fu.fold.simd}")
        for k, (kind, bits) in enumerate((("weight", st.weight_bits), ("bias", st.bias_bits),
                                          ("shift", 8))):
            rows = np.concatenate([p[k] for p in parts])
            out[paths[kind]] = "\n".join([f"{head}, {kind} words", *_words(rows, bits)]) + "\n"
    return out
