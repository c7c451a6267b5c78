"""Bit-accurate line-buffer simulator of the SR engine (rows in raster order, O(width) state).

Public API:

* :func:`simulate` — one frame through the engine ('dual', 'net1' or 'net2') →
  :class:`SimResult` (output frame and :class:`SimReport`);
* :class:`EngineSim` — the streaming model itself, for row-by-row use and many frames;
* :func:`test_pattern` — the built-in zone plate and colour bars frame;
* :mod:`hwsr.sim.run` — ``simulate_file`` / ``simulate_video``, what ``hwsr simulate`` does
  (:mod:`hwsr.sim.cli` registers the subcommand).

Modules: ``engine`` (Net1 → Net2 chaining, :func:`simulate`), ``stage`` (one stage: layers,
residual delay line, pixel shuffle), ``layer`` (one conv: ring line buffer, MAC path choice,
requantizer), ``ops`` (checked kernel entry points) over ``_kernels`` (numba) and ``_naive``
(their NumPy twins), ``_lanes`` (host threads), ``report``, ``pattern``, ``run``, ``cli``.

The simulator reads only the integer program (:mod:`hwsr.program`) and equals the integer
reference (:mod:`hwsr.reference`) bit for bit, statistics included.
"""

from hwsr.sim.engine import EngineSim, SimResult, simulate
from hwsr.sim.pattern import test_pattern
from hwsr.sim.report import LayerSimReport, SimReport, StageSimReport
from hwsr.spec import STAGES

__all__ = [
    "STAGES",
    "EngineSim",
    "LayerSimReport",
    "SimReport",
    "SimResult",
    "StageSimReport",
    "simulate",
    "test_pattern",
]
