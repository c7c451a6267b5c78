"""The session's closing summary claims bit-exactness only when every test passed."""

from __future__ import annotations

from tests.conftest import exactness_title


def test_a_passing_session_is_all_bit_exact() -> None:
    assert exactness_title(0, 0) == "exactness cases (all bit-exact, zero mismatches)"


def test_a_failing_session_never_claims_all_bit_exact() -> None:
    for failed, status in ((1, 1), (3, 1), (0, 2), (0, 1)):
        title = exactness_title(failed, status)
        assert "all bit-exact" not in title and "matched" in title
    assert "3 tests failed" in exactness_title(3, 1)
