"""Test configuration: the shared hypothesis profile and the exactness case report."""

from __future__ import annotations

from tests.strategies import EXACT_CASES  # also registers and loads the hypothesis profile


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
    """Print how many exact-equality cases each differential comparison ran and matched."""
    if not EXACT_CASES:
        return
    stats = terminalreporter.stats
    failed = len(stats.get("failed", ())) + len(stats.get("error", ()))
    terminalreporter.section(exactness_title(failed, int(exitstatus)))
    for name, n in sorted(EXACT_CASES.items()):
        terminalreporter.write_line(f"{n:6d}  {name}")
