"""The folding plan: the worked example of hwsr-s, real-time verdicts, and the search's rules."""

from __future__ import annotations

import math
from fractions import Fraction
from pathlib import Path

import pytest

from hwsr.cli import main
from hwsr.folding import (
    cycles_per_pixel_available,
    fold_plan,
    full_plan,
    macs_needed,
    plan_lines,
)
from hwsr.program import load_program
from hwsr.spec import Activation, Budget, EngineSpec, LayerSpec

GOLDEN = Path(__file__).resolve().parent.parent / "golden" / "hwsr-s"


@pytest.fixture(scope="module")
def spec() -> EngineSpec:
    return load_program(GOLDEN / "program.npz").net2.spec


def test_hwsr_s_at_2048_macs_is_the_worked_example(spec: EngineSpec) -> None:
    plan = fold_plan(spec, Budget())
    assert [(u.pe, u.simd) for u in plan.units] == [(5, 27), (5, 20), (5, 180), (5, 20),
                                                    (4, 180)]
    assert [u.multipliers for u in plan.units] == [135, 100, 900, 100, 720]
    assert plan.multipliers == 1955 and plan.cycles_per_pixel == 8 and plan.realtime
    last = plan.units[-1]
    assert last.cycles == (1, 7) and last.idle_multiplier_cycles == (180, 180)
    assert math.isclose(last.utilisation, 30 * 180 / (720 * 8))


def test_available_cycles_follow_the_video_timing() -> None:
    # 720p60: 1650 x 750 total at 74.25 MHz; the line period is 13,333.3 cycles at 600 MHz
    assert cycles_per_pixel_available(Budget()) == Fraction(600_000_000, 60 * 750 * 1280)
    # a format without a standard timing: the frame period over its active pixels
    odd = Budget(width=1000, height=500, fps=10, clock_mhz=100)
    assert cycles_per_pixel_available(odd) == 20


def test_too_few_macs_says_what_it_would_need(spec: EngineSpec) -> None:
    plan = fold_plan(spec, Budget(macs=1024))
    assert plan.multipliers <= 1024 and not plan.realtime and plan.cycles_per_pixel == 16
    assert macs_needed(spec, plan.budget) == 1528
    lines = "\n".join(plan_lines(plan, spec))
    assert "NOT real-time: 16 cycles per LR pixel > 10.42 available" in lines
    assert "needs 1,528 MACs at 600 MHz, or 921.6 MHz with these 991 multipliers" in lines
    # and 1528 is enough: its plan keeps up
    assert fold_plan(spec, Budget(macs=1528)).realtime


@pytest.mark.parametrize("macs", [1, 30, 100, 427, 1000, 2048, 4096, 20000])
@pytest.mark.parametrize("shared", [True, False])
def test_plan_rules(spec: EngineSpec, macs: int, shared: bool) -> None:
    """SIMD divides the fan-in, PE never exceeds c_out, the budget holds where it can, and
    no unit could lose a multiplier without slowing the engine."""
    plan = fold_plan(spec, Budget(macs=macs), shared=shared)
    floor = len(plan.units)
    assert plan.multipliers <= max(macs, floor)
    for u in plan.units:
        assert u.fan_in % u.simd == 0 and 1 <= u.pe <= max(u.c_out)
        assert u.cycles_per_pixel <= plan.cycles_per_pixel
        cheaper = [(pe, s) for s in range(1, u.fan_in + 1) if u.fan_in % s == 0
                   for pe in range(1, max(u.c_out) + 1) if pe * s < u.multipliers]
        assert all(sum(math.ceil(c / pe) for c in u.c_out) * (u.fan_in // s)
                   > plan.cycles_per_pixel for pe, s in cheaper)
    faster = fold_plan(spec, Budget(macs=macs * 2), shared=shared)
    assert faster.cycles_per_pixel <= plan.cycles_per_pixel


def test_shared_and_separate_and_full(spec: EngineSpec) -> None:
    sep = fold_plan(spec, Budget(), shared=False)
    assert len(sep.units) == 10 and sep.multipliers <= 2048 and sep.cycles_per_pixel == 8
    full = full_plan(spec)
    assert full.multipliers == 15280 and full.cycles_per_pixel == 1 and full.full


def test_single_stage_program_plan() -> None:
    spec = EngineSpec("t", (LayerSpec(3, 3, 8), LayerSpec(3, 8, 12, Activation.NONE)),
                      upscale=2)
    plan = fold_plan(spec, Budget(macs=100), dual=False)
    assert [u.stages for u in plan.units] == [("net2",), ("net2",)]
    assert not plan.shared and plan.multipliers <= 100


def test_design_json_carries_the_plan(tmp_path: Path) -> None:
    import json

    assert main(["rtl", "--model", str(GOLDEN / "program.npz"), "--out", str(tmp_path / "o"),
                 "--max-width", "16", "--macs", "4096", "--clock-mhz", "300"]) == 0
    plan = json.loads((tmp_path / "o/design.json").read_text())["plan"]
    assert plan["budget"]["macs"] == 4096 and plan["budget"]["clock_mhz"] == 300
    assert plan["cycles_per_pixel"] == 4 and plan["realtime"]
    assert sum(u["multipliers"] for u in plan["units"]) == plan["multipliers"]
