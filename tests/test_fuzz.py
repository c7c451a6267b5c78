"""Differential fuzzing at scale: simulator == integer reference (== Brevitas on a subset).

Each CI run draws ``HWSR_FUZZ_CASES`` (default 1,200) random cases from one seed
(``HWSR_FUZZ_SEED``, random unless set; printed in the session summary). A case is a random
program (kernels 1/3/5, some layers grouped or depthwise and some dilated, 1–4 layers, every
rounding mode, wrap or saturate, accumulators from 10 bits up, weights at their extremes on
a third of the cases) and a frame whose size sweeps
every height and width from 1 to the simulator's row block + 1, plus frames several blocks
tall (the block is forced small so that several blocks stay cheap; a quarter of the cases use
the simulator's own default block). Every output code and every per-layer statistic must be
equal. A failure is shrunk (the frame cropped while it still fails) and printed as a
reproducer: seed, case index, program file, frame shape and the call that fails.
"""

from __future__ import annotations

import dataclasses
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import torch

from hwsr.accum import stage_bounds
from hwsr.fixed import Overflow, Rounding
from hwsr.program import EngineProgram, save_program
from hwsr.quant.lower import lower_stage
from hwsr.reference import run_program, run_stage
from hwsr.sim import simulate
from hwsr.spec import STAGES, Activation, Datapath, EngineSpec, LayerSpec
from tests.strategies import EXACT_CASES, frame_of_kind, random_program
from tests.test_quant_exact import brevitas_codes, calibrated_net
from tests.test_sim_exact import ref_stats, stats_of

CASES = int(os.environ.get("HWSR_FUZZ_CASES", "1200"))
SEED = int(os.environ.get("HWSR_FUZZ_SEED", str(np.random.SeedSequence().entropy % 2**32)))
BREVITAS_CASES = 24  # Brevitas forwards are ~100x slower than the integer executors


@dataclass(frozen=True, eq=False)
class Case:
    index: int
    program: EngineProgram
    frame: np.ndarray  # uint8 HWC
    stage: str
    block_rows: int | None  # None: the simulator's default
    lanes: int


def random_spec(rng: np.random.Generator) -> EngineSpec:
    """A small random engine: the datapath corners matter here, not the network's size."""
    r = int(rng.choice([1, 2, 3]))
    n = int(rng.integers(1, 5))
    layers, c_in = [], 3
    for i in range(n):
        last = i == n - 1
        c_out = 3 * r * r if last else int(rng.integers(1, 9))
        act = Activation.NONE if last or rng.random() < 0.3 else Activation.RELU
        k = int(rng.choice([1, 3, 5]))
        groups = dilation = 1
        if not last and rng.random() < 0.3:  # grouped, depthwise where c_in = c_out
            common = [g for g in range(2, min(c_in, c_out) + 1) if c_in % g == 0 == c_out % g]
            groups = int(rng.choice(common)) if common else 1
        if k > 1 and rng.random() < 0.3:
            dilation = int(rng.choice([2, 3]))
        layers.append(LayerSpec(k, c_in, c_out, act, groups=groups, dilation=dilation))
        c_in = c_out
    acc_bits = 32 if rng.random() < 0.5 else int(rng.integers(10, 21))
    dp = Datapath(
        act_bits=int(rng.choice([4, 6, 8])), weight_bits=int(rng.choice([4, 8])),
        bias_bits=min(16, acc_bits), acc_bits=acc_bits, out_bits=int(rng.choice([8, 10, 12])),
        rounding=Rounding(rng.choice([m.value for m in Rounding])),
        acc_overflow=Overflow(rng.choice([m.value for m in Overflow])),
    )
    return EngineSpec(name="fuzz", layers=tuple(layers), upscale=r, datapath=dp,
                      residual=bool(rng.random() < 0.8))


def random_frame(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """Random pixels twice as often as each flat or checkered extreme."""
    kind = str(rng.choice(["random", "random", "zeros", "full", "checker"]))
    return frame_of_kind(kind, h, w, seed=int(rng.integers(0, 2**32)))


def draw_case(index: int, seed: int) -> Case:
    """Case ``index`` of the run: sizes sweep 1..block+1 in turn, then multi-block frames."""
    rng = np.random.default_rng([seed, index])
    program = random_program(random_spec(rng), rng, extreme=bool(rng.random() < 0.3))
    halo = max(ly.halo_rows for s in (program.net1, program.net2) for ly in s.spec.layers)
    if index % 4 == 3:  # the simulator's own block (64 rows at these widths): go past it
        block, h, w = None, int(rng.integers(60, 140)), int(rng.integers(1, 6))
    else:
        block = max(1, halo) + int(rng.integers(0, 4))
        sweep = index // 4 % (block + 1) + 1  # 1 .. block+1, in turn
        tall = int(rng.integers(block + 2, 4 * block + 4))
        h, w = (sweep, int(rng.integers(1, 3 * block + 4))) if index % 2 else \
            (tall if rng.random() < 0.5 else sweep, sweep)
    return Case(index, program, random_frame(rng, h, w), str(rng.choice(STAGES)), block,
                int(rng.choice([1, 2])))


def mismatch(case: Case, frame: np.ndarray) -> str | None:
    """Why the simulator differs from the reference on ``frame``, or None when equal."""
    want, want_stats = run_program(case.program, frame, case.stage)
    got = simulate(case.program, frame, case.stage, block_rows=case.block_rows, lanes=case.lanes)
    if got.frame.shape != want.shape:
        return f"output shape {got.frame.shape} != reference {want.shape}"
    diff = int(np.count_nonzero(got.frame != want))
    if diff:
        return f"{diff} output codes differ"
    if stats_of(got.report) != ref_stats(want_stats):
        return "per-layer statistics differ"
    return None


def shrink(case: Case, frame: np.ndarray) -> np.ndarray:
    """Crop the failing frame (bottom, right, top, left) while it still fails."""
    changed = True
    while changed:
        changed = False
        for cut in (np.s_[:-1], np.s_[:, :-1], np.s_[1:], np.s_[:, 1:]):
            smaller = frame[cut]
            if smaller.shape[0] and smaller.shape[1] and mismatch(case, smaller):
                frame, changed = smaller, True
    return frame


def reproducer(case: Case, why: str) -> str:
    frame = shrink(case, case.frame)
    folder = Path(tempfile.mkdtemp(prefix="hwsr-fuzz-"))
    save_program(case.program, folder / "program.npz")
    np.save(folder / "frame.npy", frame)
    return (f"fuzz case {case.index} of seed {SEED}: {why}\n"
            f"  replay: HWSR_FUZZ_SEED={SEED} pytest tests/test_fuzz.py\n"
            f"  minimal: simulate(load_program('{folder}/program.npz'), "
            f"np.load('{folder}/frame.npy'), {case.stage!r}, block_rows={case.block_rows}, "
            f"lanes={case.lanes}) vs run_program(...)  frame {frame.shape[1]}x{frame.shape[0]}")


@pytest.mark.parametrize("part", range(4))
def test_simulator_equals_reference_fuzz(part: int) -> None:
    """A quarter of the run's cases per part (four parts keep each test short)."""
    for index in range(part, CASES, 4):
        case = draw_case(index, SEED)
        why = mismatch(case, case.frame)
        if why:
            pytest.fail(reproducer(case, why), pytrace=False)
        EXACT_CASES[f"fuzz, seed {SEED}: simulator == integer reference"] += 1


def narrowed(spec: EngineSpec, seed: int) -> tuple[object, object]:
    """A calibrated Brevitas net whose accumulators are narrowed to what the analysis proves
    sufficient for its own weights, and that net's program."""
    wide = calibrated_net(spec, seed, extreme=False)
    bits = max(b.bits_needed for b in stage_bounds(lower_stage(wide)))
    bits = max(bits, spec.datapath.bias_bits)
    dp = dataclasses.replace(spec.datapath, acc_bits=bits, acc_overflow=Overflow.WRAP)
    tight = calibrated_net(dataclasses.replace(spec, datapath=dp), seed, extreme=False)
    tight.load_state_dict(wide.state_dict())
    return tight.eval(), lower_stage(tight.eval())


@pytest.mark.parametrize("index", range(BREVITAS_CASES))
def test_brevitas_equals_reference_with_narrowed_accumulators(index: int) -> None:
    """Accumulators exactly as wide as the worst case: Brevitas == reference, and no overflow
    happens even on all-255 frames."""
    rng = np.random.default_rng([SEED, 10_000 + index])
    spec = dataclasses.replace(random_spec(rng), residual=True)
    spec = dataclasses.replace(spec, datapath=dataclasses.replace(
        spec.datapath, acc_bits=32, bias_bits=16, weight_bits=8))
    torch.manual_seed(index)
    net, stage = narrowed(spec, seed=int(rng.integers(0, 2**31)))
    for frame in (random_frame(rng, int(rng.integers(1, 12)), int(rng.integers(1, 12))),
                  np.full((5, 7, 3), 255, np.uint8)):
        ref, stats = run_stage(stage, frame)
        assert np.array_equal(brevitas_codes(net, frame), ref), f"seed {SEED} case {index}"
        assert sum(ly.acc_overflows for ly in stats.layers) == 0
        EXACT_CASES[f"fuzz, seed {SEED}: brevitas == reference (narrowed accumulators)"] += 1


def test_a_difference_is_caught_shrunk_and_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    """The harness itself: a reference that differs from 3 rows up is caught, the frame is
    cropped to 3×1, and the reproducer names the seed and the case."""
    import tests.test_fuzz as fuzz

    case = next(c for c in (draw_case(i, 5) for i in range(3, 400, 4)) if c.frame.shape[0] >= 6)
    original = fuzz.run_program

    def broken(program: EngineProgram, frame: np.ndarray, stage: str):  # type: ignore[no-untyped-def]
        out, stats = original(program, frame, stage)
        if frame.shape[0] >= 3:
            out = out.copy()
            out[0, 0, 0] ^= 1
        return out, stats

    monkeypatch.setattr(fuzz, "run_program", broken)
    assert mismatch(case, case.frame) == "1 output codes differ"
    assert shrink(case, case.frame).shape[:2] == (3, 1)
    text = reproducer(case, "1 output codes differ")
    assert f"fuzz case {case.index} of seed {SEED}" in text and "frame 1x3" in text
