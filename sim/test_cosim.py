"""The cocotb testbench (``hwsr.rtl.cocotb_tb``) on golden sets, through ``hwsr cosim``'s runner.

Every frame of each set streams through ``hwsr_top``'s AXI4-Stream ports (cocotbext-axi's
source and sink) with seeded input gaps and output back-pressure; every tap of the core and
every output beat are compared bit for bit, and the first mismatch is reported as tap, row,
column, channel, expected, got.
"""

from __future__ import annotations

import pytest

from hwsr.rtl.cosim import cosim
from hwsr.rtl.figures import cosim_lines


def test_golden_set(golden: str, request: pytest.FixtureRequest) -> None:
    opt = request.config.getoption
    result = cosim(golden, simulator=opt("simulator"), stall=opt("stall"), seed=opt("seed"),
                   raster=opt("raster") == "on")
    report = "\n".join(cosim_lines(result, opt("stall")))
    print(report)
    assert result.ok, report
