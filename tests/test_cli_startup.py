"""Help and refusals answer before anything heavy loads (timed in benchmarks/bench_startup.py).

Each case runs ``hwsr`` in a fresh interpreter and lists the heavy modules it imported:
``--version``, help and a refusal of an option or a path load none of torch, numba, brevitas
or onnx. Timing is the benchmark's job; this is the cause of the time, checked exactly.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from hwsr.cli import COMMANDS, build_parser

HEAVY = ("torch", "numba", "brevitas", "onnx", "onnxruntime", "qonnx", "av", "cocotb")
_PROBE = """
import contextlib, io, json, sys
from hwsr.cli import main
err = io.StringIO()
with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(err):
    try:
        rc = main(sys.argv[1:])
    except SystemExit as e:
        rc = e.code
print(json.dumps({"rc": rc, "err": err.getvalue(), "heavy": sorted(
    m for m in sys.modules if m.split(".")[0] in HEAVY)}))
""".replace("HEAVY", repr(HEAVY))

# (argv, exit status): help of the command and of each subcommand, then refusals.
CASES = [(["--help"], 0), (["--version"], 0), (["nope"], 2)] + [
    ([cmd, "--help"], 0) for cmd in COMMANDS] + [
    (["simulate", "--fps", "-5"], 1), (["simulate", "--ppc", "0"], 1),
    (["simulate", "--out", "/proc/x.png"], 1), (["simulate", "--frame", "NOPE.png"], 1),
    (["simulate", "--model", "NOPE"], 1), (["simulate", "--out", "x.txt"], 1),
    (["report", "--fps", "-5"], 1), (["report", "--model", "NOPE"], 1),
    (["golden", "write", "--out", "/proc/g"], 1), (["golden", "check", "NOPE"], 1),
    (["export", "--format", "onnx", "--out", "/proc/x.onnx"], 1),
    (["export", "--format", "nope", "--out", "x.onnx"], 1), (["export", "--check", "NOPE"], 1),
    (["rtl", "--out", "/proc/rtl"], 1), (["rtl", "--out", "r", "--max-width", "0"], 1),
    (["cosim", "--golden", "NOPE"], 1),
    (["data", "build", "--src", "NOPE", "--out", "d"], 1),
    (["train", "--config", "c.toml", "--out", "/proc/run"], 1),
    (["eval", "--model", "m", "--data", "d", "--json", "/proc/x.json"], 1),
    (["explore", "--config", "c.toml", "--out", "/proc/e"], 1),
]


def probe(argv: list[str], cwd: Path) -> dict[str, object]:
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    done = subprocess.run([sys.executable, "-c", _PROBE, *argv], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return dict(json.loads(done.stdout.splitlines()[-1]))


@pytest.mark.parametrize(("argv", "status"), CASES, ids=[" ".join(a) for a, _ in CASES])
def test_answers_without_heavy_imports(argv: list[str], status: int, tmp_path: Path) -> None:
    argv = [a.replace("NOPE", str(tmp_path / "nope")) for a in argv]
    got = probe(argv, tmp_path)
    assert got["rc"] == status, got["err"]
    assert got["heavy"] == [], f"hwsr {' '.join(argv)} imported {got['heavy']}"
    if status == 1:
        assert len(str(got["err"]).strip().splitlines()) == 1, got["err"]


def test_every_command_is_listed_in_its_group() -> None:
    """The top-level table names exactly the commands the modules register, with the same
    one-line help, and lists the engine and RTL commands before the training commands."""
    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    registered = {c.dest: c.help for c in sub._choices_actions}  # type: ignore[attr-defined]
    from hwsr.cli import _GROUPS

    table = {name: text for _, cmds in _GROUPS for name, _, text in cmds}
    assert table == registered
    lines = [line.split()[0] for line in parser.format_help().splitlines()
             if line.startswith("  ") and line.split()[0] in table | {"": ""}]
    assert lines[:6] == ["simulate", "report", "golden", "rtl", "cosim", "export"]
    assert set(lines[6:]) == set(table) - set(lines[:6])  # training commands after


def test_the_stage_choices_read_from_source_are_the_engine_stages() -> None:
    """``--stage`` lists :data:`hwsr.spec.STAGES` read from its source, before the module
    loads; the same tuple as the module's, and a wrong name falls back to the import."""
    from hwsr.cliutil import LazyChoices, _source_literal
    from hwsr.spec import STAGES

    assert _source_literal("hwsr.spec", "STAGES") == STAGES
    assert _source_literal("hwsr.spec", "NO_SUCH_NAME") is None
    assert tuple(LazyChoices("hwsr.spec", "STAGES")) == STAGES


def test_lazy_packages_export_their_functions_over_same_named_modules() -> None:
    """``hwsr.export.check`` and ``hwsr.rtl.cosim`` are the functions, as eager packages had
    them, also after the submodules of those names were imported."""
    import importlib

    for package, name in (("hwsr.export", "check"), ("hwsr.rtl", "cosim")):
        importlib.import_module(f"{package}.{name}")
        assert callable(getattr(importlib.import_module(package), name))
