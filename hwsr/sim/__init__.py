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
requantizer), ``ops`` and ``direct`` (checked kernel entry points) over ``_kernels`` and
``_kernels_i8`` (numba) and ``_naive`` (their NumPy twins), ``int8`` (the int8 MAC kernel
variants of this host, ``HWSR_SIM_INT8``) over ``_mac_ir`` and ``_requant_ir`` (their LLVM IR)
and ``_objcache`` (compiling it, host objects cached on disk), ``probes`` (measured peaks),
``_lanes`` (host threads), ``report``, ``pattern``, ``run``, ``cli``.

The simulator reads only the integer program (:mod:`hwsr.program`) and equals the integer
reference (:mod:`hwsr.reference`) bit for bit, statistics included.
"""


from __future__ import annotations

from hwsr.lazy import lazy_exports

# Loaded by name on first use: ``hwsr --help`` must not pay for numpy, numba or torch.
_EXPORTS = {
    "EngineSim": "hwsr.sim.engine",
    "SimResult": "hwsr.sim.engine",
    "simulate": "hwsr.sim.engine",
    "test_pattern": "hwsr.sim.pattern",
    "LayerSimReport": "hwsr.sim.report",
    "SimReport": "hwsr.sim.report",
    "StageSimReport": "hwsr.sim.report",
    "STAGES": "hwsr.spec",
}
__all__ = sorted(_EXPORTS)

__getattr__ = lazy_exports(__name__, _EXPORTS)
