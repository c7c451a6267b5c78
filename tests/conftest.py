"""Test configuration: the shared hypothesis profile and the exactness case report."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from hwsr.imageio import write_image
from hwsr.program import save_program
from hwsr.spec import EngineSpec, LayerSpec
from tests.strategies import (
    EXACT_CASES,  # also registers and loads the hypothesis profile
    random_program,
)

# A small random engine for the command-line tests: fast to run, any layer shape.
SMALL_SPEC = EngineSpec("tiny", (LayerSpec(3, 3, 6), LayerSpec(1, 6, 27)), upscale=3)


@pytest.fixture(scope="module")
def program_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``program.npz`` of a random program of ``SMALL_SPEC`` (seed 0)."""
    path = tmp_path_factory.mktemp("model") / "program.npz"
    save_program(random_program(SMALL_SPEC, np.random.default_rng(0)), path)
    return path


@pytest.fixture
def frame_path(tmp_path: Path) -> Path:
    """A random 11×9 RGB frame written as ``in.png`` in the test's folder."""
    frame = np.random.default_rng(1).integers(0, 256, (9, 11, 3), dtype=np.uint8)
    return write_image(tmp_path / "in.png", frame)


def exactness_title(failed: int, exitstatus: int) -> str:
    """Heading of the case counts: "all bit-exact" only for a session that passed.

    >>> exactness_title(0, 0)
    'exactness cases (all bit-exact, zero mismatches)'
    >>> exactness_title(2, 1)
    'exactness cases that matched (2 tests failed or errored: the session is not bit-exact)'
    """
    if failed == 0 and exitstatus == 0:
        return "exactness cases (all bit-exact, zero mismatches)"
    if failed == 0:
        return f"exactness cases that matched (session exit status {exitstatus}: not verified)"
    return (f"exactness cases that matched ({failed} tests failed or errored: the session is "
            "not bit-exact)")


def pytest_terminal_summary(terminalreporter, exitstatus) -> None:  # type: ignore[no-untyped-def]
    """Print how many exact-equality cases each differential comparison ran and matched, and
    which int8 kernel variant the simulator ran on this host (the tests that force the
    others name theirs in their case lines)."""
    if not EXACT_CASES:
        return
    from hwsr.sim import int8

    stats = terminalreporter.stats
    failed = len(stats.get("failed", ())) + len(stats.get("error", ()))
    terminalreporter.section(exactness_title(failed, int(exitstatus)))
    terminalreporter.write_line(f"simulator: {int8.describe_host()}")
    for name, n in sorted(EXACT_CASES.items()):
        terminalreporter.write_line(f"{n:6d}  {name}")
