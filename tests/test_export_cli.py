"""End to end: ``hwsr export`` as a user runs it, refusals included (one line, exit 1)."""

from __future__ import annotations

from pathlib import Path

import pytest

from hwsr.cli import main


def _refused(argv: list[str], capsys: pytest.CaptureFixture[str], *words: str) -> None:
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert err.startswith("hwsr export: error:") and err.count("\n") == 1, err
    for w in words:
        assert w in err


def test_export_then_check_a_program_file(program_path: Path, tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "tiny.onnx"
    argv = ["export", "--model", str(program_path), "--format", "qonnx", "--out", str(out)]
    assert main(argv) == 0
    text = capsys.readouterr().out
    assert "bit-exact" in text and f"wrote {out}" in text
    assert main(["export", "--check", str(out)]) == 0
    assert "check passed" in capsys.readouterr().out
    assert sorted(p.name for p in tmp_path.iterdir()) == ["tiny.onnx"]  # no temp files left


def test_check_against_another_program_is_refused(program_path: Path, tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "tiny.onnx"
    assert main(["export", "--model", str(program_path), "--format", "qcdq", "--stage", "net2",
                 "--out", str(out)]) == 0
    capsys.readouterr()
    _refused(["export", "--check", str(out), "--model", "hwsr-s"], capsys, "fingerprint")


@pytest.mark.parametrize("argv, words", [
    (["--format", "tflite"], ("--format", "tflite")),
    (["--format", "qonnx", "--stage", "net3"], ("--stage", "net3")),
    (["--stage", "dual"], ("--format is required",)),
])
def test_bad_options_refused_before_work(argv: list[str], words: tuple[str, ...],
                                         tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    _refused(["export", *argv, "--out", str(tmp_path / "x.onnx")], capsys, *words)
    assert list(tmp_path.iterdir()) == []


def test_bad_output_paths_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _refused(["export", "--format", "onnx", "--out", str(tmp_path)], capsys, "is a folder")
    missing = tmp_path / "nope" / "x.onnx"
    _refused(["export", "--format", "onnx", "--out", str(missing)], capsys, "does not exist")
    assert list(tmp_path.iterdir()) == []


def test_float_export_of_a_bare_program_refused(program_path: Path, tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    _refused(["export", "--model", str(program_path), "--format", "onnx", "--out",
              str(tmp_path / "f.onnx")], capsys, "no float weights")
    assert list(tmp_path.iterdir()) == []


def test_check_of_bad_files_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _refused(["export", "--check", str(tmp_path / "missing.onnx")], capsys, "no such file")
    junk = tmp_path / "junk.onnx"
    junk.write_bytes(b"\x00not an onnx file at all\xff" * 10)
    _refused(["export", "--check", str(junk)], capsys, "junk.onnx")
    _refused(["export", "--check", str(junk), "--format", "qonnx"], capsys, "--check")
