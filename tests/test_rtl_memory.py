"""Every memory of the folded engine, term by term (hwsr.rtl.top_fold.folded_memory), against
yosys's ``$mem_v2`` bits of the emitted engine and against hwsr report's terms."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from hwsr.folding import fold_plan, plan_of_shapes, rom_bits
from hwsr.program import load_program
from hwsr.report import engine_report
from hwsr.rtl.design import engine_design
from hwsr.rtl.fold import folded_units
from hwsr.rtl.top_fold import folded_memory
from hwsr.rtl.yosys import engine_synthesis
from hwsr.spec import Activation, EngineSpec, LayerSpec
from tests.strategies import random_program

ROOT = Path(__file__).resolve().parents[1]
needs_yosys = pytest.mark.skipif(shutil.which("yosys") is None, reason="needs yosys")


def _tiny():  # type: ignore[no-untyped-def]
    """A dual x2 engine whose RAMs have every kind of padding: PE 3 over c_out 4 and PE 5
    over c_out 3/12 (group padding), a 216-bit weight word (slice padding), 24-bit shift
    words (one slice, allocated as two)."""
    spec = EngineSpec("tiny", (LayerSpec(3, 3, 4), LayerSpec(1, 4, 4),
                               LayerSpec(3, 4, 3 * 4, Activation.NONE)), upscale=2)
    return spec, random_program(spec, np.random.default_rng(5))


@needs_yosys
@pytest.mark.parametrize("shared", [True, False])
def test_yosys_memory_bits_equal_the_model(shared: bool) -> None:
    spec, program = _tiny()
    shapes = [(3, 9), (4, 2), (5, 12)]
    plan = plan_of_shapes(spec, shapes if shared else [s for s in shapes for _ in "12"], shared=shared, dual=True)
    design = engine_design(program, 8)
    mem = folded_memory(design, folded_units(plan, design))
    assert mem.fifo_bits and mem.delay_extra_bits and mem.group_padding_bits \
        and mem.slice_padding_bits
    assert engine_synthesis(program, plan, max_width=8).memory_bits == mem.total_bits


def test_hwsr_s_terms() -> None:
    """hwsr-s, shared 2048-MAC plan: line buffers + residual and the codes are hwsr report's
    and rom_bits; the rest is a constant 16,796 bits (yosys 0.23 counted 192,236 $mem_v2 bits
    at MAXW 32, 240,876 at 64 and 2,089,196 at 1280: the totals below)."""
    program = load_program(ROOT / "golden/hwsr-s/program.npz")
    spec = program.net2.spec
    plan = fold_plan(spec, spec.budget, shared=True, dual=True)
    for width, yosys_bits in ((32, 192_236), (64, 240_876), (1280, 2_089_196)):
        design = engine_design(program, width)
        mem = folded_memory(design, folded_units(plan, design))
        assert mem.linebuffer_bits + mem.residual_bits == \
            engine_report(spec, width=width).linebuffer_bits
        assert mem.weight_bits == rom_bits(spec)
        assert (mem.delay_extra_bits, mem.fifo_bits, mem.group_padding_bits,
                mem.slice_padding_bits) == (1968, 10300, 2928, 1600)
        assert mem.total_bits == yosys_bits


def test_hwsr_rtl_prints_every_memory() -> None:
    """``hwsr rtl``'s figures name the total and each term (hwsr-s at 1280, shared 2048)."""
    from hwsr.rtl.figures import folded_figures_lines

    program = load_program(ROOT / "golden/hwsr-s/program.npz")
    spec = program.net2.spec
    plan = fold_plan(spec, spec.budget, shared=True, dual=True)
    (line,) = [ln for ln in folded_figures_lines(program, engine_design(program, 1280), plan)
               if ln.startswith("every memory")]
    assert ": 2,089,196 bits = line buffers 1,761,280 + delay lines 186,288 + output FIFOs " \
        "10,300 + weight/bias/shift codes 126,800 + RAM padding 4,528" in line
