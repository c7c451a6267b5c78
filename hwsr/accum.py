"""Accumulator analysis: the worst-case sum each layer can reach, from its integer weights.

For output channel c of a layer, ``|acc| <= sum(|w[c]|) * max|x| + |b[c]|`` over every input
the layer's input format can hold. The bits this needs, next to the spec's accumulator width,
tell whether the layer can overflow at all; the simulator counts the overflows that happen.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from hwsr.fixed import bits_for
from hwsr.program import EngineProgram, StageProgram


@dataclass(frozen=True)
class AccBound:
    """Worst-case accumulator of one layer."""

    stage: str  # net1 or net2
    layer: int  # index in the stage
    worst_abs: int  # largest |acc| any input can produce
    bits_needed: int  # signed bits that hold every such sum
    acc_bits: int  # the spec's accumulator width
    f32_exact: bool  # every partial sum below 2**24: float32 summation is exact

    @property
    def can_overflow(self) -> bool:
        return self.bits_needed > self.acc_bits


def stage_bounds(stage: StageProgram) -> list[AccBound]:
    out = []
    for i, lp in enumerate(stage.layers):
        worst = int(lp.worst_case_acc(stage.in_type(i)).max())
        out.append(AccBound(stage.spec.stage, i, worst, bits_for(worst),
                            stage.spec.datapath.acc_bits, worst < 2**24))
    return out


def program_bounds(program: EngineProgram) -> list[AccBound]:
    """Bounds of every layer of both stages (Net1 first)."""
    stages = [s for s in (program.net1, program.net2) if s is not None]
    return [b for s in stages for b in stage_bounds(s)]


def bounds_table(bounds: list[AccBound]) -> str:
    """Plain-text table for people; overflow-capable layers are flagged."""
    lines = ["accumulators (worst case over every input, from the integer weights)",
             f"{'stage':>6} {'layer':>5} {'worst |acc|':>14} {'bits':>5} {'acc_bits':>8}  note"]
    for b in bounds:
        note = "CAN OVERFLOW" if b.can_overflow else "ok"
        lines.append(f"{b.stage:>6} {b.layer:>5} {b.worst_abs:>14,} {b.bits_needed:>5} "
                     f"{b.acc_bits:>8}  {note}")
    return "\n".join(lines)


def bounds_json(bounds: list[AccBound]) -> list[dict[str, Any]]:
    return [{**asdict(b), "can_overflow": b.can_overflow} for b in bounds]
