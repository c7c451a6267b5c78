"""End to end: ``hwsr simulate`` as a user runs it, and the library functions behind it."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from hwsr.cli import main as hwsr_main
from hwsr.imageio import read_image
from hwsr.program import save_program
from hwsr.reference import run_program
from hwsr.sim.cli import build_parser
from hwsr.sim.run import simulate_file, simulate_video
from tests.strategies import random_program


def test_frame_check_and_report(program_path: Path, frame_path: Path, tmp_path: Path,
                                capsys: pytest.CaptureFixture[str]) -> None:
    out, rep = tmp_path / "out.png", tmp_path / "r.json"
    rc = hwsr_main(["simulate", "--frame", str(frame_path), "--out", str(out), "--model",
                    str(program_path), "--report", str(rep), "--check", "--quiet", "--ppc", "2"])
    text = capsys.readouterr().out
    assert rc == 0
    assert "bit-exact with the integer reference" in text and "no float weights" in text
    from hwsr.program import load_program

    want, _ = run_program(load_program(program_path), read_image(frame_path), "dual")
    assert np.array_equal(read_image(out), want)
    d = json.loads(rep.read_text())
    assert d["check"]["bit_exact"] is True and d["pixels_per_clock"] == 2
    assert d["out_width"] == 33 and d["out_height"] == 27


@pytest.mark.parametrize("stage", ["net1", "net2"])
def test_single_stage(program_path: Path, frame_path: Path, tmp_path: Path, stage: str) -> None:
    run = simulate_file(frame_path, tmp_path / "o.png", model=program_path, stage=stage,
                        progress=False)
    r = 1 if stage == "net1" else 3
    assert read_image(run.out_path).shape == (9 * r, 11 * r, 3)
    assert [s.stage for s in run.result.report.stages] == [stage]


def test_default_frame_is_the_test_pattern(program_path: Path, tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    """No --frame: the 1280x720 pattern, written to out.png (2160p for dual)."""
    monkeypatch.chdir(tmp_path)
    assert hwsr_main(["simulate", "--model", str(program_path), "--quiet"]) == 0
    assert read_image(tmp_path / "out.png").shape == (2160, 3840, 3)
    assert "line buffers" in capsys.readouterr().out


def test_errors_are_one_line_and_leave_no_output(program_path: Path, tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"not a png at all")
    corrupt = tmp_path / "corrupt.npz"
    corrupt.write_bytes(b"PK\x03\x04 truncated")
    cases = [
        ["--frame", str(bad), "--model", str(program_path)],
        ["--frame", str(tmp_path / "missing.png"), "--model", str(program_path)],
        ["--model", str(tmp_path / "missing.npz")],
        ["--model", str(corrupt)],
        ["--video", str(bad), "--model", str(program_path)],
    ]
    for args in cases:
        out = tmp_path / ("o.mp4" if "--video" in args else "o.png")
        rc = hwsr_main(["simulate", *args, "--out", str(out), "--quiet"])
        err = capsys.readouterr().err.strip()
        assert rc == 1, args
        assert len(err.splitlines()) == 1 and "error" in err, err
        assert not out.exists()
        assert not [p for p in tmp_path.iterdir() if p.name.startswith(".o.")]


def test_video_round_trip(program_path: Path, tmp_path: Path) -> None:
    import av

    src = tmp_path / "in.mp4"
    with av.open(str(src), "w") as c:
        s = c.add_stream("libx264", rate=10)
        s.width, s.height, s.pix_fmt = 16, 8, "yuv420p"
        for i in range(3):
            img = np.full((8, 16, 3), 40 * i, np.uint8)
            for p in s.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
                c.mux(p)
        for p in s.encode(None):
            c.mux(p)
    out, rep = tmp_path / "out.mp4", tmp_path / "v.json"
    run = simulate_video(src, out, model=program_path, report_path=rep, progress=False)
    assert run.frames == 3 and run.report.frames == 3
    with av.open(str(out)) as c:
        frames = [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]
    assert len(frames) == 3 and frames[0].shape == (24, 48, 3)
    assert json.loads(rep.read_text())["frames"] == 3


def test_check_compares_with_the_float_model(tmp_path: Path, frame_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    """A model folder with float weights: --check also prints Y-PSNR vs the float model."""
    import shutil

    from hwsr.arch.engine_net import build_dual
    from hwsr.checkpoint import save_weights
    from hwsr.spec import load_spec

    folder = tmp_path / "m"
    folder.mkdir()
    shutil.copy(Path(__file__).resolve().parents[1] / "models" / "hwsr-s" / "engine.toml",
                folder / "engine.toml")
    spec = load_spec(folder / "engine.toml")
    save_program(random_program(spec, np.random.default_rng(2)), folder / "program.npz")
    save_weights(build_dual(spec), folder / "float.safetensors")
    rc = hwsr_main(["simulate", "--frame", str(frame_path), "--out", str(tmp_path / "o.png"),
                    "--model", str(folder), "--check", "--quiet"])
    text = capsys.readouterr().out
    assert rc == 0 and "Y-PSNR vs the float model" in text


def test_check_failure_exits_non_zero(program_path: Path, frame_path: Path, tmp_path: Path,
                                      monkeypatch: pytest.MonkeyPatch,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    """A simulator that disagreed with the reference makes ``--check`` exit 1."""
    import hwsr.sim.run as run
    from hwsr.sim.run import CheckResult

    monkeypatch.setattr(run, "check_frame",
                        lambda *a: CheckResult(False, 3, True, None, "no float weights"))
    rc = hwsr_main(["simulate", "--frame", str(frame_path), "--out", str(tmp_path / "o.png"),
                    "--model", str(program_path), "--check", "--quiet"])
    assert rc == 1 and "NOT bit-exact: 3 output codes differ" in capsys.readouterr().out


def test_cli_stages_match_the_engine() -> None:
    """``--stage`` offers exactly the stages the engine runs, and refuses any other."""
    from hwsr.spec import STAGES

    parser = build_parser()
    for stage in STAGES:
        assert parser.parse_args(["simulate", "--stage", stage]).stage == stage
    with pytest.raises(SystemExit):
        parser.parse_args(["simulate", "--stage", "net3"])
    sub = next(a for a in parser._actions if a.dest == "command").choices["simulate"]
    offered = next(a for a in sub._actions if a.dest == "stage").choices
    assert tuple(offered) == STAGES
