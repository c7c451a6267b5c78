"""End to end: `hwsr report` as a user runs it."""

from __future__ import annotations

import json
import subprocess
import sys

from hwsr.cli import main


def test_report_table_and_json(capsys) -> None:  # type: ignore[no-untyped-def]
    assert main(["report"]) == 0
    out = capsys.readouterr().out
    assert "237.5 KiB" in out and "net1" in out and "net2" in out
    assert main(["report", "--json", "--width", "1920", "--height", "1080"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["macs_per_pixel"] == 15_280


def test_report_float_only_notice(capsys) -> None:  # type: ignore[no-untyped-def]
    assert main(["report", "--arch", "rcan"]) == 0
    assert "float-only" in capsys.readouterr().out


def test_unknown_model_is_one_line_error() -> None:
    r = subprocess.run([sys.executable, "-m", "hwsr", "report", "--model", "nope"],
                       capture_output=True, text=True, check=False)
    assert r.returncode == 1
    assert r.stderr.count("\n") == 1 and "no such model" in r.stderr


def test_bad_spec_file_is_one_line_error(tmp_path) -> None:  # type: ignore[no-untyped-def]
    p = tmp_path / "engine.toml"
    p.write_text('[engine]\nname = "x"\nupscale = 9\n[[layers]]\nkernel = 3\nc_out = 3\n')
    r = subprocess.run([sys.executable, "-m", "hwsr", "report", "--model", str(p)],
                       capture_output=True, text=True, check=False)
    assert r.returncode == 1 and r.stderr.count("\n") == 1
    assert "engine.upscale" in r.stderr and str(p) in r.stderr
