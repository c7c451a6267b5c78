"""Options of the RTL testbench run: ``python3 -m pytest sim [--golden SET] [--simulator S]``."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--golden", action="append", default=None,
                     help="golden set folder (repeatable; default: every set under golden/)")
    parser.addoption("--simulator", default="icarus", choices=("icarus", "verilator"))
    parser.addoption("--stall", type=float, default=0.25, help="bubble/back-pressure chance")
    parser.addoption("--seed", type=int, default=1)
    parser.addoption("--raster", default="on", choices=("on", "off"),
                     help="hwsr_top's HR raster output stage (off: the r x r blocks)")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "golden" in metafunc.fixturenames:
        sets = metafunc.config.getoption("golden") or sorted(
            str(p.parent) for p in (ROOT / "golden").glob("*/manifest.json"))
        metafunc.parametrize("golden", sets, ids=[Path(s).name for s in sets])
