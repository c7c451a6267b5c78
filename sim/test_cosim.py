"""The cocotb testbench (``hwsr.rtl.cocotb_tb``) on golden sets, through ``hwsr cosim``'s runner.

Every frame of each set streams through the whole dual engine with seeded input bubbles and
output back-pressure; every tap is compared bit for bit, and the first mismatch is reported
as tap, row, column, channel, expected, got.
"""

from __future__ import annotations

import pytest

from hwsr.rtl.cosim import cosim
from hwsr.rtl.figures import cosim_lines


def test_golden_set(golden: str, request: pytest.FixtureRequest) -> None:
    opt = request.config.getoption
    result = cosim(golden, simulator=opt("simulator"), stall=opt("stall"), seed=opt("seed"))
    report = "\n".join(cosim_lines(result, opt("stall")))
    print(report)
    assert result.ok, report
