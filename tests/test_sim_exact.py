"""Equivalence: the line-buffer simulator equals the integer reference, bit for bit.

Every case compares output pixels and every per-layer statistic (accumulator peak, overflows,
requantization saturations, output saturations) with exact equality, under several host
configurations of the simulator (MAC path, requantizer path, block size, float32 chunking);
none of them may change a single bit.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hwsr.program import EngineProgram
from hwsr.reference import StageStats, run_program
from hwsr.sim import SimReport, simulate
from hwsr.spec import STAGES, EngineSpec
from tests.strategies import (
    EXACT_CASES,
    engine_specs,
    frames,
    narrow_engine_specs,
    random_program,
)

# Host configurations that must not change the result: (label, simulate() keyword arguments)
HOST_CONFIGS = (
    ("auto", {}),
    ("int64 MACs and requant", {"mac_path": "int64", "requant_path": "int64"}),
    ("one lane, one-row blocks", {"block_rows": 1, "lanes": 1}),
)


def stats_of(report: SimReport) -> list[tuple[list[tuple[int, int, int]], int]]:
    return [([(ly.acc_peak, ly.acc_overflows, ly.saturations) for ly in s.layers],
             s.output_saturations) for s in report.stages]


def ref_stats(stats: list[StageStats]) -> list[tuple[list[tuple[int, int, int]], int]]:
    return [([(ly.acc_peak, ly.acc_overflows, ly.saturations) for ly in s.layers],
             s.output_saturations) for s in stats]


def assert_sim_equals_reference(program: EngineProgram, frame: np.ndarray, stage: str,
                                configs: tuple[tuple[str, dict], ...] = HOST_CONFIGS) -> None:
    want, want_stats = run_program(program, frame, stage)
    for label, kwargs in configs:
        kw = dict(kwargs)
        if kw.get("block_rows") == 1:  # at least the largest halo
            halos = [ly.halo_rows for s in (program.net1, program.net2) if s is not None
                     for ly in s.spec.layers]
            kw["block_rows"] = max(1, *halos)
        got = simulate(program, frame, stage, **kw)
        assert got.frame.shape == want.shape, label
        diff = int(np.count_nonzero(got.frame != want))
        assert diff == 0, f"{label}: {diff} output codes differ from the reference"
        assert stats_of(got.report) == ref_stats(want_stats), f"{label}: statistics differ"
        EXACT_CASES[f"simulator == integer reference ({label})"] += 1


@given(spec=engine_specs(), frame=frames(), seed=st.integers(0, 2**32 - 1),
       extreme=st.booleans(), stage=st.sampled_from(STAGES))
def test_random_engines_match_reference(spec: EngineSpec, frame: np.ndarray, seed: int,
                                        extreme: bool, stage: str) -> None:
    program = random_program(spec, np.random.default_rng(seed), extreme)
    assert_sim_equals_reference(program, frame, stage)


@given(spec=engine_specs(grouped=True), frame=frames(), seed=st.integers(0, 2**32 - 1),
       extreme=st.booleans(), stage=st.sampled_from(STAGES))
def test_grouped_dilated_engines_match_reference(spec: EngineSpec, frame: np.ndarray, seed: int,
                                                 extreme: bool, stage: str) -> None:
    """Grouped (depthwise included) and dilated layers: the simulator runs their dense
    equivalent, the reference convolves group by group with spaced taps; same codes."""
    program = random_program(spec, np.random.default_rng(seed), extreme)
    assert_sim_equals_reference(program, frame, stage)


@given(spec=narrow_engine_specs(), frame=frames(), seed=st.integers(0, 2**32 - 1),
       extreme=st.booleans(), stage=st.sampled_from(STAGES))
def test_narrow_accumulators_match_reference(spec: EngineSpec, frame: np.ndarray, seed: int,
                                             extreme: bool, stage: str) -> None:
    """acc_bits 12..20: overflows happen, wrapped or saturated, and are counted exactly."""
    program = random_program(spec, np.random.default_rng(seed), extreme)
    assert_sim_equals_reference(program, frame, stage)


@given(spec=engine_specs(max_layers=3, max_channels=12), frame=frames(max_h=8, max_w=8),
       seed=st.integers(0, 2**32 - 1), limit_bits=st.integers(10, 20))
@settings(max_examples=40)
def test_float32_chunking_matches_reference(spec: EngineSpec, frame: np.ndarray, seed: int,
                                            limit_bits: int) -> None:
    """A lowered float32 bound splits reductions into chunks: still exact (or int64)."""
    from hwsr.sim.engine import EngineSim

    program = random_program(spec, np.random.default_rng(seed))
    want, _ = run_program(program, frame, "dual")
    sim = EngineSim(program, "dual", width=frame.shape[1], f32_limit=2**limit_bits)
    got = sim.run_frame(frame)
    assert np.array_equal(got, want)
    EXACT_CASES["simulator == integer reference (float32 chunks)"] += 1


def test_overflow_is_exercised() -> None:
    """The narrow-accumulator strategy really overflows: counts are non-zero and exact."""
    from hwsr.fixed import Overflow
    from hwsr.spec import Activation, Datapath, LayerSpec

    for overflow in Overflow:
        dp = Datapath(acc_bits=12, bias_bits=12, acc_overflow=overflow)
        spec = EngineSpec("ovf", (LayerSpec(3, 3, 8), LayerSpec(3, 8, 27, Activation.NONE)),
                          upscale=3, datapath=dp)
        program = random_program(spec, np.random.default_rng(1), extreme=True)
        frame = np.full((5, 6, 3), 255, np.uint8)
        assert_sim_equals_reference(program, frame, "net2")
        assert simulate(program, frame, "net2").report.acc_overflows > 0


@pytest.mark.parametrize("shape", [(1, 1), (1, 7), (7, 1), (2, 2), (4, 3)])
def test_frames_smaller_than_the_kernel(shape: tuple[int, int]) -> None:
    from hwsr.spec import LayerSpec

    spec = EngineSpec("k5", (LayerSpec(5, 3, 6), LayerSpec(5, 6, 27)), upscale=3)
    program = random_program(spec, np.random.default_rng(7))
    frame = np.random.default_rng(3).integers(0, 256, (*shape, 3), dtype=np.uint8)
    for stage in STAGES:
        assert_sim_equals_reference(program, frame, stage)
