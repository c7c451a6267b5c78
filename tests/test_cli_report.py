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


def test_report_macs_shows_the_folding_plan(capsys) -> None:  # type: ignore[no-untyped-def]
    """`--macs N` prints the folded array's plan; a budget too small for 720p60 says what
    real time would need instead of failing silently."""
    assert main(["report", "--macs", "2048"]) == 0
    out = capsys.readouterr().out
    assert "folding plan" in out and "1,955 multipliers" in out and "NOT real-time" not in out
    assert main(["report", "--macs", "1024"]) == 0
    out = capsys.readouterr().out
    assert "NOT real-time" in out and "needs 1,528 MACs at 600 MHz" in out
    assert main(["report", "--macs", "2048", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)["folding"]
    assert doc["multipliers"] == 1955 and doc["cycles_per_pixel"] == 8 and doc["realtime"]
    assert main(["report", "--macs", "0"]) == 1
