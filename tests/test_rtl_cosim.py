"""The emitted engine in Icarus Verilog against golden sets: every tap, bit for bit.

cocotb (through ``hwsr cosim``) and the plain ``$readmemh`` testbench both run; seeded input
bubbles and output back-pressure change no bit; one weight changed by one LSB fails at the
first tap it reaches; the measured latency equals ``hwsr report``'s.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from hwsr.cli import main
from hwsr.golden import standard_frames, write_golden
from hwsr.program import EngineProgram, load_program, save_program
from hwsr.rtl.cosim import cosim
from hwsr.rtl.emit import emit_rtl
from hwsr.rtl.figures import report_latency
from tests.test_rtl import OTHER_PROGRAMS

pytestmark = pytest.mark.skipif(shutil.which("iverilog") is None, reason="needs Icarus Verilog")
ROOT = Path(__file__).resolve().parent.parent
SETS = sorted(p.parent for p in (ROOT / "golden").glob("*/manifest.json"))
SMALL = ["pattern", "tiny1x1", "tiny1x3", "tiny3x1"]


@pytest.fixture(scope="module")
def build_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("rtl-builds")


@pytest.mark.parametrize("golden", SETS, ids=[p.name for p in SETS])
def test_every_committed_set_bit_exact_with_stalls(golden: Path, build_root: Path) -> None:
    result = cosim(golden, simulator="icarus", stall=0.3, seed=7, build_root=build_root)
    assert result.frames, "no frame ran"
    for f in result.frames:
        bad = [t.mismatch for t in f.taps if not t.ok]
        assert f.completed and not bad, f"{f.name}: {bad[:1]}"
        assert len(f.taps) >= 2 and all(t.transfers == f.width * f.height
                                        for t in f.taps if t.name != "m_axis")
    if golden.name == "hwsr-s-extreme":  # written at --taps acc: the accumulator probes too
        assert sum(t.name.endswith(".acc") for t in result.frames[0].taps) == 10


def test_stalls_change_no_bit_and_only_add_cycles(build_root: Path) -> None:
    runs = [cosim(ROOT / "golden/hwsr-s", stall=s, seed=seed, frames=["noise", "tiny2x3"],
                  build_root=build_root)
            for s, seed in ((0.0, 1), (0.5, 3), (0.5, 4))]
    assert all(r.ok for r in runs)
    cycles = [[f.cycles for f in r.frames] for r in runs]
    assert all(a < b for a, b in zip(cycles[0], cycles[1], strict=True))


def _with_weight(program: EngineProgram, stage: str, layer: int, delta: int,
                 rank: int = 0) -> EngineProgram:
    """``program`` with the ``rank``-th largest weight of one layer moved ``delta`` LSBs
    toward zero."""
    sp = program.stage(stage)
    lp = sp.layers[layer]
    w = lp.weight.copy()
    flat = w.reshape(-1)
    i = np.argsort(-np.abs(flat), kind="stable")[rank]
    flat[i] -= delta * np.sign(flat[i])
    layers = (*sp.layers[:layer], dataclasses.replace(lp, weight=w), *sp.layers[layer + 1:])
    return dataclasses.replace(program, **{stage: dataclasses.replace(sp, layers=layers)})


def _visible_lsb(program: EngineProgram, stage: str, layer: int, frame: str) -> EngineProgram:
    """One weight of the layer one LSB off, the largest whose change reaches the engine's
    output on the golden frame (a change that rounding absorbs cannot fail a tap)."""
    from hwsr.sim import simulate

    x = standard_frames(7, 5)[frame]
    want = simulate(program, x, "dual").frame
    for rank in range(program.stage(stage).layers[layer].weight.size):
        changed = _with_weight(program, stage, layer, 1, rank)
        if not np.array_equal(simulate(changed, x, "dual").frame, want):
            return changed
    raise AssertionError(f"no one-LSB change of {stage}.layer{layer} shows on {frame!r}")


@pytest.mark.parametrize(("stage", "layer"), [("net1", 2), ("net2", 0)])
def test_one_weight_lsb_fails_at_the_first_affected_tap(stage: str, layer: int,
                                                        build_root: Path) -> None:
    golden = ROOT / "golden/hwsr-s"
    changed = _visible_lsb(load_program(golden / "program.npz"), stage, layer, "noise")
    result = cosim(golden, program=changed, stall=0.2, frames=["noise"], build_root=build_root)
    assert not result.ok
    taps = result.frames[0].taps
    first_bad = next(i for i, t in enumerate(taps) if not t.ok)
    assert taps[first_bad].name == f"{stage}.layer{layer}"
    assert all(t.ok for t in taps[:first_bad])
    m = taps[first_bad].mismatch
    assert m is not None and set(m) == {"tap", "row", "col", "channel", "expected", "got"}


def test_cli_cosim_exit_codes(build_root: Path, tmp_path: Path,
                              capsys: pytest.CaptureFixture[str]) -> None:
    golden = ROOT / "golden/hwsr-s"
    args = ["cosim", "--golden", str(golden), "--frame", "tiny2x3", "--build-dir", str(build_root)]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "1/1 frames bit-exact on every tap" in out
    save_program(_with_weight(load_program(golden / "program.npz"), "net2", 4, 1),
                 tmp_path / "changed.npz")
    assert main([*args, "--model", str(tmp_path / "changed.npz")]) == 1
    assert "MISMATCH net2.layer4" in capsys.readouterr().out


@pytest.mark.parametrize("name", ["hwsr-s", *OTHER_PROGRAMS])
def test_measured_latency_equals_report(name: str, tmp_path: Path, build_root: Path) -> None:
    """No stalls: first input pixel to first output pixel, as hwsr report predicts."""
    if name == "hwsr-s":
        golden = ROOT / "golden/hwsr-s"
        program = load_program(golden / "program.npz")
    else:
        program = OTHER_PROGRAMS[name]()
        frames = standard_frames(9, 5, names=("pattern", "noise", "tiny1x1", "tiny1x3"))
        golden = tmp_path / "set"
        write_golden(program, frames, golden, model=name)
    # the blocks as they are: this core gives one every clock, the HR raster stage takes one
    # per r clocks (one r-pixel beat a clock out), which would slow the stream, not the latency
    result = cosim(golden, stall=0.0, frames=SMALL + ["noise"], build_root=build_root,
                   raster=False)
    assert result.ok and result.frames
    for f in result.frames:
        assert f.latency == report_latency(program, f.width), f.name
        assert f.cycles == f.latency + f.width * f.height  # full rate once streaming


def _plain_tb(folder: Path, frame: Path, *plusargs: str) -> str:
    run = subprocess.run(["vvp", "-n", str(folder / "tb.vvp"), f"+FRAME={frame}", *plusargs],
                         cwd=folder, capture_output=True, text=True, timeout=120, check=False)
    return run.stdout


def test_plain_verilog_testbench(tmp_path: Path) -> None:
    golden = ROOT / "golden/hwsr-s"
    out = emit_rtl(load_program(golden / "program.npz"), tmp_path / "rtl", max_width=64)
    subprocess.run(["iverilog", "-g2005", "-DHWSR_PACKED_MAC", "-o", "tb.vvp", "-s",
                    "tb_engine", "-c", "files.f", "tb_engine.v"], cwd=out.folder, check=True)
    for frame, args in (("noise", ("+STALL=30", "+SEED=5")), ("tiny3x1", ())):
        text = _plain_tb(out.folder, golden / frame, *args)
        assert f"PASS frame={golden / frame}" in text, text[-500:]
    rom = out.folder / "rom/net2.layer1.bias.hex"  # channel 0's bias to the top of its range
    lines = rom.read_text().splitlines()
    first = next(i for i, ln in enumerate(lines) if not ln.startswith("//"))
    lines[first] = "7fff"
    rom.write_text("\n".join(lines) + "\n")
    text = _plain_tb(out.folder, golden / "noise")
    assert "MISMATCH tap=net2.layer1" in text and "PASS" not in text


def test_plain_testbench_compares_accumulator_taps(tmp_path: Path) -> None:
    """The extreme-weights set taps every accumulator: the plain testbench checks them too."""
    golden = ROOT / "golden/hwsr-s-extreme"
    out = emit_rtl(load_program(golden / "program.npz"), tmp_path / "rtl", max_width=8)
    subprocess.run(["iverilog", "-g2005", "-DHWSR_PACKED_MAC", "-o", "tb.vvp", "-s",
                    "tb_engine", "-c", "files.f", "tb_engine.v"], cwd=out.folder, check=True)
    assert f"PASS frame={golden / 'noise'}" in _plain_tb(out.folder, golden / "noise", "+STALL=20")
    # One accumulator word changed in a copy of the frame: caught at that tap, no PASS.
    frame = tmp_path / "noise"
    shutil.copytree(golden / "noise", frame)
    acc = frame / "net2.layer2.acc.hex"
    lines = acc.read_text().splitlines()
    i = next(k for k, ln in enumerate(lines) if not ln.startswith("//"))
    words = lines[i].split()
    words[0] = f"{(int(words[0], 16) ^ 1):0{len(words[0])}x}"
    lines[i] = " ".join(words)
    acc.write_text("\n".join(lines) + "\n")
    text = _plain_tb(out.folder, frame)
    assert "MISMATCH tap=net2.layer2.acc row=0 col=0 channel=0" in text and "PASS" not in text


def test_a_corrupt_golden_file_is_named_before_any_build(tmp_path: Path) -> None:
    """A flipped digit in a golden file is the set's fault, not the RTL's: cosim checks every
    file's sha256 first and names that file, exit 1, with nothing built."""
    copy = tmp_path / "set"
    shutil.copytree(ROOT / "golden/hwsr-s", copy)
    tap = copy / "tiny1x1/net2.layer2.hex"
    text = tap.read_text()
    i = next(k for k, c in enumerate(text) if c in "0123456789abcdef")
    tap.write_text(text[:i] + ("1" if text[i] != "1" else "2") + text[i + 1:])
    with pytest.raises(ValueError, match=r"corrupt golden set, not an RTL result: .*"
                                         r"tiny1x1/net2\.layer2\.hex"):
        cosim(copy, simulator="icarus", build_root=tmp_path / "builds")
    assert not (tmp_path / "builds").exists() or not any((tmp_path / "builds").iterdir())
    assert main(["cosim", "--golden", str(copy), "--build-dir", str(tmp_path / "b2")]) == 1


def test_a_latency_other_than_the_report_fails_cosim(monkeypatch: pytest.MonkeyPatch,
                                                    build_root: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    """The one-pixel-per-clock engine's latency is a prediction of hwsr report: measured
    without stalls and different, cosim exits 1 (it used to print DIFFERS and exit 0)."""
    import hwsr.rtl.figures as figures

    args = ["cosim", "--golden", str(ROOT / "golden/hwsr-s"), "--frame", "tiny1x3",
            "--stall", "0", "--macs", "full", "--build-dir", str(build_root)]
    assert main(args) == 0
    assert "DIFFERS" not in capsys.readouterr().out
    real = figures.report_latency
    monkeypatch.setattr(figures, "report_latency", lambda p, w: real(p, w) + 1)
    assert main(args) == 1
    out = capsys.readouterr().out
    assert "DIFFERS" in out and "latency differs from hwsr report's in 1 frame(s) (tiny1x3)" in out


@pytest.mark.parametrize("wrong", ["assign m_eol = 1'b0;", "err_framing <= 1'b1;"])
def test_a_framing_error_fails_the_plain_testbench_and_make(wrong: str, tmp_path: Path) -> None:
    """A wrong output marker (m_eol stuck low) or the engine's err_framing flag: the plain
    testbench prints MISMATCH tap=framing and no PASS, and `make icarus` exits non-zero (it
    used to print PASS after the framing line, and make only looked for PASS)."""
    golden = ROOT / "golden/hwsr-s"
    out = emit_rtl(load_program(golden / "program.npz"), tmp_path / "rtl", max_width=8,
                   plan=None)
    top = out.folder / "hwsr_engine.v"
    text = top.read_text()
    if wrong.startswith("assign"):
        right = "assign m_eol = out_x == cfg_width - 1;"
    else:  # the sticky flag set at reset instead of cleared
        right = "err_framing <= 1'b0;"
    assert right in text
    top.write_text(text.replace(right, wrong, 1))
    make = subprocess.run(["make", "-C", str(ROOT / "sim"), "icarus", f"RTL={out.folder}",
                           f"GOLDEN={golden}", "FRAMES=tiny1x3", "STALL=0"],
                          capture_output=True, text=True, timeout=300, check=False)
    assert make.returncode != 0, make.stdout[-500:]
    assert "MISMATCH tap=framing" in make.stdout and "PASS" not in make.stdout, make.stdout


def test_a_wrong_output_marker_fails_cocotb(tmp_path: Path) -> None:
    """cocotb checks m_sof/m_eol on every output block: the same engine with m_eol stuck low
    (every tap still right) fails the frame as a framing error."""
    from hwsr.rtl.cosim import emitted_for

    golden = ROOT / "golden/hwsr-s"
    program = load_program(golden / "program.npz")
    frames = json.loads((golden / "manifest.json").read_text())["frames"]
    max_width = max(int(f["width"]) for f in frames)
    rtl = emitted_for(program, max_width, tmp_path)  # the folder cosim will find and reuse
    top = rtl.folder / "hwsr_engine.v"
    top.write_text(top.read_text().replace("assign m_eol = out_x == cfg_width - 1;",
                                           "assign m_eol = 1'b0;", 1))
    result = cosim(golden, stall=0.0, frames=["tiny1x3"], build_root=tmp_path)
    f = result.frames[0]
    assert f.framing_error and not f.ok and not result.ok
    assert all(t.ok for t in f.taps)  # only the marker is wrong
