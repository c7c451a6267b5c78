"""The folded engine's RTL from its plan: unit parameters, memory images in step order.

:func:`folded_units` binds a :class:`~hwsr.folding.FoldPlan` to an
:class:`~hwsr.rtl.design.EngineDesign`: one :class:`FoldedUnit` per ``hwsr_mac`` instance,
with the layer(s) it serves and the numbers the Verilog and the testbenches read (pipeline
depth, output FIFO depth, its weight/bias/shift RAMs and their place in the write-address
map). :func:`unit_rows` lays out each memory in the order the unit reads it (one weight word
per cycle: PE lanes x SIMD products); :func:`fold_roms` writes those rows as the
``$readmemh`` preload images, :mod:`hwsr.rtl.load` as the write sequence of the load port.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import ClassVar

import numpy as np

from hwsr.folding import FoldPlan, UnitFold
from hwsr.program import EngineProgram
from hwsr.rtl.design import ConvDesign, EngineDesign, RtlError, StageDesign

TREE_K = 2  # a pipeline register every TREE_K adder-tree levels
# Registers of one step outside the adder tree: issue, products, accumulator, fit with ReLU
# and the rounding addend, shift, output word; the FIFO's write is the last.
STEP_REGISTERS = 7
ROM_DIR = "rom"
WR_DATA_BITS = 32  # the load port's data word: one 32-bit slice of a memory word per write
MEMORIES = ("weight", "bias", "shift")  # a write address's memory field: 0, 1, 2
SHIFT_BITS = 8  # one requantizer shift (two's complement)
MAX_UNITS = 100  # preload image names carry the unit number in two digits


def field_bits(n: int) -> int:
    """Bits of an index over ``n`` values (at least 1).

    >>> [field_bits(n) for n in (1, 2, 3, 225)]
    [1, 1, 2, 8]
    """
    return max(1, (n - 1).bit_length())


@dataclass(frozen=True)
class UnitMemory:
    """One RAM of a MAC unit: ``words`` words of ``word_bits``, written in 32-bit slices."""

    kind: str  # "weight", "bias" or "shift"
    words: int  # depth: both banks (Net1's words, then Net2's)
    word_bits: int  # weight: PE*SIMD*W_BITS, bias: PE*B_BITS, shift: PE*8

    @property
    def slices(self) -> int:
        """32-bit writes per word; slice s is bits [32s +: 32] of the word."""
        return math.ceil(self.word_bits / WR_DATA_BITS)

    @property
    def code_bits(self) -> int:
        """The codes it holds: ``words × word_bits`` (PE-group padding included)."""
        return self.words * self.word_bits

    @property
    def allocated_bits(self) -> int:
        """What ``hwsr_mac`` declares: every word whole 32-bit slices, at least two (its
        slice index is never zero bits wide), read or not."""
        return self.words * max(self.slices, 2) * WR_DATA_BITS


@dataclass(frozen=True)
class WriteFields:
    """The write address ``{unit, memory, word, slice}`` (most significant first): its field
    widths, the same for every unit of an engine (the widest unit's)."""

    unit_bits: int
    word_bits: int
    slice_bits: int
    MEMORY_BITS: ClassVar[int] = 2

    @property
    def addr_bits(self) -> int:
        return self.unit_bits + self.MEMORY_BITS + self.word_bits + self.slice_bits

    def address(self, unit: int, memory: int, word: int, slice_: int) -> int:
        """The write address of one 32-bit slice.

        >>> WriteFields(3, 4, 8).address(2, 1, 3, 5)  # unit 2, bias, word 3, slice 5
        82693
        """
        a = (unit << self.MEMORY_BITS) | memory
        return (((a << self.word_bits) | word) << self.slice_bits) | slice_


def unit_memories(fold: UnitFold, weight_bits: int, bias_bits: int) -> tuple[UnitMemory, ...]:
    """A unit's weight, bias and shift RAMs (in ``MEMORIES`` order)."""
    groups = sum(math.ceil(c / fold.pe) for c in fold.c_out)
    return (UnitMemory("weight", groups * fold.chunks, fold.pe * fold.simd * weight_bits),
            UnitMemory("bias", groups, fold.pe * bias_bits),
            UnitMemory("shift", groups, fold.pe * SHIFT_BITS))


@dataclass(frozen=True)
class FoldedUnit:
    """One ``hwsr_mac`` instance: a plan unit and the layer(s) of the design it runs."""

    fold: UnitFold
    layers: tuple[ConvDesign, ...]  # one per stage served, in stage order
    stage: StageDesign  # the first stage served (datapath scalars: equal for both)
    unit: int = 0  # its number: the unit field of its write addresses
    wr: WriteFields = WriteFields(1, 1, 1)  # the engine's write-address fields

    @property
    def name(self) -> str:
        return f"mac_{self.fold.name}"

    @property
    def memories(self) -> tuple[UnitMemory, ...]:
        return unit_memories(self.fold, self.stage.weight_bits, self.stage.bias_bits)

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
            "ROUND": st.round_code, "UNIT": self.unit, "WR_UNIT_BITS": self.wr.unit_bits,
            "WR_WORD_BITS": self.wr.word_bits, "WR_SLICE_BITS": self.wr.slice_bits,
        }

    def rom_paths(self) -> dict[str, str]:
        """The preload images (``hwsr_preload.v`` names them by unit number)."""
        return {k: f"{ROM_DIR}/unit{self.unit:02d}.{k}.hex" for k in MEMORIES}


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
    out: list[FoldedUnit] = []
    for u in plan.units:
        sts = [stages[n] for n in u.stages]
        layers = [s.layers[u.index] for s in sts]
        if len(layers) > 1:
            _check_shared(u, layers, sts)
        out.append(FoldedUnit(u, tuple(layers), sts[0], unit=len(out)))
    if len(out) > MAX_UNITS:
        raise RtlError(f"{len(out)} MAC units: the RTL generator numbers at most {MAX_UNITS}")
    mems = [m for fu in out for m in fu.memories]
    wr = WriteFields(field_bits(len(out)), field_bits(max(m.words for m in mems)),
                     field_bits(max(m.slices for m in mems)))
    return tuple(replace(fu, wr=wr) for fu in out)


def word_values(values: np.ndarray, bits: int) -> list[int]:
    """Rows of signed values packed little end first (two's complement ``bits`` each) into one
    unsigned word per row.

    >>> word_values(np.array([[1, -1], [-2, 3]]), 4)
    [241, 62]
    """
    mask = (1 << bits) - 1
    out = []
    for row in values.tolist():
        word = 0
        for k, v in enumerate(row):
            word |= (int(v) & mask) << (k * bits)
        out.append(word)
    return out


def _words(values: np.ndarray, bits: int) -> list[str]:
    """:func:`word_values` as hex words of the row's width."""
    digits = math.ceil(values.shape[1] * bits / 4)
    return [f"{w:0{digits}x}" for w in word_values(values, bits)]


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


def unit_rows(program: EngineProgram, fu: FoldedUnit) -> dict[str, tuple[np.ndarray, int]]:
    """Each memory of a unit as rows of signed values (one row per word, lane-packed little
    end first) and the bits of one value: bank 0 (Net1), then bank 1 (Net2)."""
    parts: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
    for ly in fu.layers:
        lp = program.stage(ly.stage).layers[ly.index]
        parts.append(_stage_words(fu, lp.weight, lp.bias, lp.shift))
    bits = (fu.stage.weight_bits, fu.stage.bias_bits, SHIFT_BITS)
    return {kind: (np.concatenate([p[k] for p in parts]), bits[k])
            for k, kind in enumerate(MEMORIES)}


def fold_roms(program: EngineProgram, units: tuple[FoldedUnit, ...]) -> dict[str, str]:
    """Every folded unit's memories as preload images: path → ``$readmemh`` text."""
    out: dict[str, str] = {}
    for fu in units:
        paths = fu.rom_paths()
        head = (f"// {fu.name}: {' + '.join(ly.tap for ly in fu.layers)}, PE {fu.fold.pe} x "
                f"SIMD {fu.fold.simd}")
        for kind, (rows, bits) in unit_rows(program, fu).items():
            out[paths[kind]] = "\n".join([f"{head}, {kind} words", *_words(rows, bits)]) + "\n"
    return out
