"""yosys on the whole folded engine and logic depth per register (hwsr.rtl.yosys)."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from hwsr.folding import plan_of_shapes
from hwsr.rtl.yosys import engine_synthesis, register_depths, unit_register_depths
from hwsr.spec import Activation, EngineSpec, LayerSpec
from tests.strategies import random_program


def _cell(kind: str, ins: dict[str, list[int | str]], outs: dict[str, list[int]]) -> dict:  # type: ignore[type-arg]
    return {"type": kind, "port_directions": {**{p: "input" for p in ins},
                                              **{p: "output" for p in outs}},
            "connections": {**ins, **outs}}


def test_register_depths_counts_gate_levels_between_registers() -> None:
    """a (register) -> NOT -> AND(with input x) -> XOR -> b (register); b -> NOT -> a:
    3 levels into b, 1 into a; a constant input is level 0."""
    netlist = {"modules": {"top": {
        "cells": {
            "ra": _cell("$_DFF_P_", {"C": [1], "D": [10]}, {"Q": [2]}),
            "rb": _cell("$_SDFF_PP0_", {"C": [1], "D": [5], "R": ["0"]}, {"Q": [6]}),
            "n1": _cell("$_NOT_", {"A": [2]}, {"Y": [3]}),
            "a1": _cell("$_AND_", {"A": [3], "B": [7]}, {"Y": [4]}),
            "x1": _cell("$_XOR_", {"A": [4], "B": [3]}, {"Y": [5]}),
            "n2": _cell("$_NOT_", {"A": [6]}, {"Y": [10]}),
        },
        "netnames": {"a": {"bits": [2], "hide_name": 0}, "b[0]": {"bits": [6], "hide_name": 0},
                     "$auto$1": {"bits": [3], "hide_name": 1}, "x": {"bits": [7]}},
    }}}
    assert register_depths(netlist, "top") == {"a": 1, "b": 3}


def _tiny():  # type: ignore[no-untyped-def]
    spec = EngineSpec("tiny", (LayerSpec(3, 3, 4), LayerSpec(1, 4, 4),
                               LayerSpec(3, 4, 3 * 4, Activation.NONE)), upscale=2)
    program = random_program(spec, np.random.default_rng(5))
    return program, plan_of_shapes(spec, [(2, 9), (4, 2), (3, 12)], shared=True, dual=True)


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("yosys") is None, reason="needs yosys")
def test_whole_engine_multipliers_and_a_units_depths() -> None:
    """A tiny dual engine: yosys counts the plan's multipliers in the whole engine; after
    synth, the deepest register of a unit is ltp's longest path."""
    program, plan = _tiny()
    eng = engine_synthesis(program, plan, max_width=8)
    assert eng.data_multipliers == plan.multipliers and eng.memory_bits > 0
    depths, ltp, _ = unit_register_depths(program, plan, f"mac_{plan.units[1].name}")
    assert max(depths.values()) == ltp > 0
