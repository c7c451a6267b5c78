"""The error contract under attack: bad input is refused in one line, before any work, and
nothing is left half-written.

Each refusal must: exit 1 (2 for argparse usage errors), print exactly one line on stderr that
names the file or option, start no simulation, and leave the output folder as it was.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import hwsr.sim.run as sim_run
from hwsr.cli import main
from hwsr.imageio import write_image


@pytest.fixture
def no_simulation(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any simulation started fails the test: refusals must come before the work."""
    def forbidden(*args: object, **kwargs: object) -> None:
        raise AssertionError("the simulation started before the options were checked")

    monkeypatch.setattr(sim_run, "simulate", forbidden)
    monkeypatch.setattr(sim_run, "_transcode", forbidden)


def refused(argv: list[str], capsys: pytest.CaptureFixture[str], *words: str) -> str:
    """Run the CLI; assert exit 1 with one stderr line holding ``words``; return it."""
    rc = main(argv)
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 1, err
    assert len(err) == 1, err
    for w in words:
        assert w in err[0], err[0]
    return err[0]


def listing(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


@pytest.mark.usefixtures("no_simulation")
@pytest.mark.parametrize(("extra", "words"), [
    (["--ppc", "0"], ("--ppc",)),
    (["--fps", "0"], ("--fps",)),
    (["--fps", "nan"], ("--fps",)),
    (["--clock-mhz", "-5"], ("--clock-mhz",)),
    (["--clock-mhz", "inf"], ("--clock-mhz",)),
    (["--out", "OUT/missing/o.png"], ("--out", "does not exist")),
    (["--out", "OUT"], ("--out", "is a folder")),
    (["--out", "OUT/o.txt"], ("--out", "unknown image suffix")),
    (["--report", "OUT/missing/r.json"], ("--report", "does not exist")),
    (["--report", "OUT"], ("--report", "is a folder")),
    (["--report", "OUT/same.png", "--out", "OUT/same.png"], ("same file",)),
    (["--out", "IN"], ("same file",)),
    (["--video", "IN", "--out", "OUT/o.png"], ("--out", "unknown video suffix")),
])
def test_simulate_refuses_before_any_work(extra: list[str], words: tuple[str, ...],
                                          program_path: Path, frame_path: Path, tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    source = [] if "--video" in extra else ["--frame", str(frame_path)]
    argv = ["simulate", *source, "--model", str(program_path),
            *[a.replace("OUT", str(tmp_path)).replace("IN", str(frame_path)) for a in extra]]
    if "--out" not in argv:
        argv += ["--out", str(tmp_path / "o.png")]
    before = listing(tmp_path)
    refused(argv, capsys, *words)
    assert listing(tmp_path) == before


@pytest.mark.usefixtures("no_simulation")
@pytest.mark.parametrize(("content", "words"), [
    (None, ("no such",)),
    (b"", ("in.png",)),
    (b"\x89PNG\r\n\x1a\n garbage", ("in.png",)),
    ("dir", ("in.png",)),
])
def test_simulate_refuses_bad_frames(content: bytes | str | None, words: tuple[str, ...],
                                     program_path: Path, tmp_path: Path,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    src = tmp_path / "in.png"
    if content == "dir":
        src.mkdir()
    elif isinstance(content, bytes):
        src.write_bytes(content)
    refused(["simulate", "--frame", str(src), "--model", str(program_path), "--out",
             str(tmp_path / "o.png")], capsys, *words)
    assert not (tmp_path / "o.png").exists()


@pytest.mark.usefixtures("no_simulation")
def test_simulate_refuses_tampered_models(program_path: Path, frame_path: Path, tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    cut = tmp_path / "cut.npz"
    cut.write_bytes(program_path.read_bytes()[:200])
    refused(["simulate", "--frame", str(frame_path), "--model", str(cut), "--out",
             str(tmp_path / "o.png")], capsys, "cut.npz")
    refused(["simulate", "--frame", str(frame_path), "--model", "no-such-model", "--out",
             str(tmp_path / "o.png")], capsys, "no-such-model")
    assert not (tmp_path / "o.png").exists()


def test_image_and_report_are_one_product(program_path: Path, frame_path: Path, tmp_path: Path,
                                          monkeypatch: pytest.MonkeyPatch,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    """A failure while writing the report leaves no output image either (and no temporary)."""
    def broken(*args: object, **kwargs: object) -> str:
        raise OSError("disk full")

    monkeypatch.setattr(sim_run, "report_json", broken)
    out = tmp_path / "out"
    out.mkdir()
    refused(["simulate", "--frame", str(frame_path), "--model", str(program_path), "--out",
             str(out / "o.png"), "--report", str(out / "r.json")], capsys, "disk full")
    assert listing(out) == []


def test_a_bug_is_one_line_and_v_shows_the_traceback(monkeypatch: pytest.MonkeyPatch,
                                                     program_path: Path, frame_path: Path,
                                                     tmp_path: Path,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    def bug(*args: object, **kwargs: object) -> None:
        raise KeyError("sha256")

    monkeypatch.setattr(sim_run, "simulate", bug)
    argv = ["simulate", "--frame", str(frame_path), "--model", str(program_path), "--out",
            str(tmp_path / "o.png")]
    line = refused(argv, capsys, "internal error", "sha256", "-v")
    assert "KeyError" not in line  # Python's class names only with -v
    assert main(["-v", *argv]) == 1
    assert "Traceback" in capsys.readouterr().err


def test_usage_errors_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as e:
        main(["simulate", "--stage", "net9"])
    assert e.value.code == 2
    with pytest.raises(SystemExit) as e:
        main(["no-such-command"])
    assert e.value.code == 2


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGKILL])
def test_interrupted_simulate_keeps_the_previous_output(sig: signal.Signals, tmp_path: Path,
                                                        program_path: Path) -> None:
    """Ctrl-C (exit 130) or a kill during a long simulation: the old output survives intact
    and no temporary is left beside it (SIGKILL's temporary is cleared as stale)."""
    from hwsr.atomic import remove_stale

    big = write_image(tmp_path / "big.png", np.random.default_rng(2).integers(
        0, 256, (720, 640, 3), dtype=np.uint8))
    out = tmp_path / "o.png"
    out.write_bytes(b"previous output")
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "hwsr", "-v", "simulate", "--frame",
                             str(big), "--out", str(out), "--check"], env=env,
                            stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)
    assert proc.stderr is not None
    for line in proc.stderr:  # wait until the work has started (the -v log line)
        if "simulate:" in line:
            break
    time.sleep(0.5)  # inside the simulation or the reference check
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=120)
    if proc.returncode == 0:
        pytest.skip("the run finished before the signal: machine too fast for this test")
    if sig == signal.SIGINT:
        assert proc.returncode == 130 and err.strip().endswith("interrupted"), err
    remove_stale(out, max_age_s=0)
    assert out.read_bytes() == b"previous output"
    assert listing(tmp_path) == ["big.png", "o.png"]


@pytest.mark.parametrize(("argv", "words"), [
    (["report", "--width", "0"], ("0x720",)),
    (["report", "--fps", "0"], ("fps",)),
    (["report", "--model", "NOPE"], ("NOPE", "no such model")),
    (["data", "build", "--src", "NOPE", "--out", "OUT/d"], ("--src", "NOPE")),
    (["data", "build", "--src", "IN", "--out", "OUT/missing/d"], ("--out", "does not exist")),
    (["train", "--config", "NOPE.toml"], ("NOPE.toml",)),
    (["quantize", "--model", "NOPE.npz", "--data", "OUT"], ("NOPE.npz",)),
    (["eval", "--model", "hwsr-s", "--data", "NOPE"], ("NOPE",)),
    (["eval", "--model", "hwsr-s", "--data", "OUT", "--json", "OUT/missing/r.json"],
     ("--json", "does not exist")),
    (["quantize", "--model", "hwsr-s", "--data", "OUT", "--out", "IN"], ("--out", "is a file")),
])
def test_other_commands_refuse_in_one_line(argv: list[str], words: tuple[str, ...],
                                           frame_path: Path, tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    work = tmp_path / "work"
    work.mkdir()
    subst = {"OUT": str(work), "IN": str(frame_path), "NOPE": str(tmp_path / "nope")}
    args = list(argv)
    for key, value in subst.items():
        args = [a.replace(key, value) for a in args]
    refused(args, capsys, *[w.replace("NOPE", "nope") for w in words])
    assert listing(work) == []


def test_quantized_pair_is_published_together(tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """A crash while copying the second file of the pair leaves the old pair untouched."""
    import shutil

    from hwsr.train import quantize
    from hwsr.zoo import PROGRAM_FILE, QUANT_FILE

    work, dest = tmp_path / "work", tmp_path / "model"
    work.mkdir()
    dest.mkdir()
    for name in (QUANT_FILE, PROGRAM_FILE):
        (work / name).write_text(f"new {name}")
        (dest / name).write_text(f"old {name}")
    calls = []

    def flaky(src: Path, dst: Path) -> None:
        calls.append(src)
        if len(calls) == 2:
            raise OSError("disk full")
        shutil.copyfile(src, dst)

    monkeypatch.setattr(quantize.shutil, "copyfile", flaky)
    with pytest.raises(OSError, match="disk full"):
        quantize._publish_pair(work, dest)
    assert listing(dest) == sorted([QUANT_FILE, PROGRAM_FILE])
    assert all((dest / n).read_text() == f"old {n}" for n in (QUANT_FILE, PROGRAM_FILE))
    monkeypatch.undo()
    quantize._publish_pair(work, dest)
    assert all((dest / n).read_text() == f"new {n}" for n in (QUANT_FILE, PROGRAM_FILE))


@pytest.mark.parametrize(("manifest", "words"), [
    ("{not json", ("malformed dataset manifest",)),
    ('{"format": "hwsr.hd2uhd/1"}', ("malformed dataset manifest",)),
    ("[]", ("unknown dataset format",)),
])
def test_tampered_dataset_manifests_are_refused(manifest: str, words: tuple[str, ...],
                                                tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    from hwsr.data.manifest import FORMAT

    (tmp_path / "manifest.json").write_text(manifest.replace("hwsr.hd2uhd/1", FORMAT))
    refused(["eval", "--model", "hwsr-s", "--data", str(tmp_path)], capsys,
            "manifest.json", *words)


def test_dataset_manifest_cannot_point_outside_its_folder(tmp_path: Path) -> None:
    import json

    from hwsr.data.manifest import FORMAT, Manifest

    src = {"path": "a.png", "name": "a", "kind": "image", "split": "train", "ok": True,
           "reason": "", "frames": 1, "hr_hw": [6, 6], "patches": 1, "lr_kbps": 1.0,
           "codec_psnr_y_db": 30.0, "codec_psnr_y_min_db": 30.0,
           "shards": [["../../etc/passwd", 1]], "val_frames": []}
    (tmp_path / "manifest.json").write_text(json.dumps(
        {"format": FORMAT, "config": {}, "sources": [src]}))
    with pytest.raises(ValueError, match="lies outside the dataset folder"):
        Manifest.load(tmp_path)


@pytest.mark.usefixtures("no_simulation")
def test_check_refuses_broken_float_weights_before_simulating(frame_path: Path, tmp_path: Path,
                                                              capsys: pytest.CaptureFixture[str]
                                                              ) -> None:
    import shutil

    from hwsr.zoo import models_dir

    model = tmp_path / "m"
    shutil.copytree(models_dir() / "hwsr-s", model)
    data = (model / "float.safetensors").read_bytes()
    (model / "float.safetensors").write_bytes(data[: len(data) // 3])
    refused(["simulate", "--frame", str(frame_path), "--model", str(model), "--out",
             str(tmp_path / "o.png"), "--check"], capsys, "float.safetensors")
    assert not (tmp_path / "o.png").exists()


def test_logs_are_stage_lines_not_progress_bars(program_path: Path, frame_path: Path,
                                                tmp_path: Path) -> None:
    """stderr not a terminal (a log file): one INFO line per stage, no bar; -q: nothing."""
    argv = [sys.executable, "-m", "hwsr", "simulate", "--frame", str(frame_path), "--model",
            str(program_path), "--out", str(tmp_path / "o.png")]
    logged = subprocess.run(argv, capture_output=True, text=True, timeout=300)
    assert logged.returncode == 0, logged.stderr
    assert logged.stderr.splitlines() == [
        "INFO: simulate: 11x9 frame, stage dual, phases simulate, write"]
    quiet = subprocess.run([*argv[:3], "-q", *argv[3:]], capture_output=True, text=True,
                           timeout=300)
    assert quiet.returncode == 0 and quiet.stderr == ""


# Ctrl-C at a chosen moment: the script wraps one function so that calling it first sends
# SIGINT to its own process (a real signal, delivered where that moment is), then runs hwsr.
_AT_MOMENT = """
import os, signal, sys
def ctrl_c(*args):
    os.kill(os.getpid(), signal.SIGINT)
moment = sys.argv.pop(1)
if moment == "start-up":  # while hwsr's modules import
    sys.addaudithook(lambda event, args: ctrl_c() if event == "import" and args[0] ==
                     "hwsr.cli" and "hwsr.cli" not in sys.modules else None)
else:
    import importlib
    module, _, name = moment.rpartition(".")
    owner = importlib.import_module(module.rsplit(":", 1)[0])
    if ":" in module:
        owner = getattr(owner, module.rsplit(":", 1)[1])
    fn = getattr(owner, name)
    def wrapped(*args, **kwargs):
        ctrl_c()
        return fn(*args, **kwargs)
    setattr(owner, name, wrapped)
sys.argv[0] = "hwsr"
from hwsr.__main__ import run
run()
"""
MOMENTS = {
    "start-up": "start-up",
    "option checks": "hwsr.cli._check_before_work",
    "compilation": "numba.core.dispatcher:Dispatcher.compile",
    "simulation": "hwsr.sim.run.simulate",
    "writing": "hwsr.atomic._fsync",
}


@pytest.mark.parametrize("moment", sorted(MOMENTS))
def test_ctrl_c_at_any_moment_is_130_and_one_line(moment: str, tmp_path: Path,
                                                  program_path: Path, frame_path: Path) -> None:
    out = tmp_path / "o.png"
    out.write_bytes(b"previous output")
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_DISABLE_JIT"}
    env["NUMBA_CACHE_DIR"] = str(tmp_path / "numba-cache")  # compiles afresh
    done = subprocess.run(
        [sys.executable, "-c", _AT_MOMENT, MOMENTS[moment], "-q", "simulate", "--frame",
         str(frame_path), "--model", str(program_path), "--out", str(out)],
        capture_output=True, text=True, timeout=300, env=env)
    assert done.returncode == 130, done.stderr
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert done.stderr.strip().endswith("interrupted"), done.stderr
    assert out.read_bytes() == b"previous output"
    assert sorted(p.name for p in tmp_path.iterdir() if p.name != "numba-cache") == [
        "in.png", "o.png"]


_KILL_AT_SWAP = """
import os, signal, sys
import hwsr.atomic as atomic
exchange = atomic._exchange
def killed_after(a, b):
    done = exchange(a, b)
    os.kill(os.getpid(), signal.SIGKILL)  # the new set is in; the old one not yet removed
    return done
atomic._exchange = killed_after
from hwsr.cli import main
sys.exit(main(sys.argv[1:]))
"""


def test_a_set_killed_at_its_swap_is_cleaned_by_the_next_write(tmp_path: Path) -> None:
    """SIGKILL between the swap and the removal of the old set leaves ``.g.partial-*``; the
    next write of the same set removes it (its writer is gone), however young it is."""
    target = tmp_path / "g"
    argv = ["golden", "write", "--out", str(target), "--stock", "tiny1x1", "--taps", "io",
            "--overwrite"]
    assert main(argv) == 0
    killed = subprocess.run([sys.executable, "-c", _KILL_AT_SWAP, *argv], capture_output=True,
                            text=True, timeout=300)
    if killed.returncode == 0:
        pytest.skip("renameat2 unavailable: the two-rename fallback has its own test")
    assert killed.returncode == -signal.SIGKILL
    assert [p.name for p in tmp_path.glob(".g.partial-*")]  # the leftover
    assert main(argv) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["g"]
    assert main(["golden", "check", str(target)]) == 0
