"""Test configuration: the shared hypothesis profile and the exactness case report."""

from __future__ import annotations

from tests.strategies import EXACT_CASES  # also registers and loads the hypothesis profile


def pytest_terminal_summary(terminalreporter) -> None:  # type: ignore[no-untyped-def]
    """Print how many exact-equality cases each differential comparison ran."""
    if not EXACT_CASES:
        return
    terminalreporter.section("exactness cases (all bit-exact, zero mismatches)")
    for name, n in sorted(EXACT_CASES.items()):
        terminalreporter.write_line(f"{n:6d}  {name}")
