"""Test configuration: load the shared hypothesis profile (see tests/strategies.py)."""

import tests.strategies  # noqa: F401  (registers and loads the hypothesis profile)
