"""The engine in Verilog: emit it from the integer program, co-simulate it against golden sets.

Modules: ``design`` (what the generator builds, its limits and figures), ``top`` (the
generated top level and its streaming interface), ``tb`` (the plain ``$readmemh``
testbench), ``emit`` (``hwsr rtl``: the folder), ``cosim`` (``hwsr cosim``: build and run
with cocotb on Icarus or Verilator), ``cocotb_tb`` (the cocotb testbench), ``figures``
(observed against ``hwsr report``), ``yosys`` (one layer's memories, cells, flip-flops),
``cli``. The leaf modules ``hwsr_conv.v`` and ``hwsr_residual.v`` are package data under
``verilog/``. See ``docs/rtl.md``.
"""


from __future__ import annotations

from hwsr.lazy import lazy_exports

# Loaded by name on first use: ``hwsr --help`` must not pay for numpy, numba or torch.
_EXPORTS = {
    "CosimResult": "hwsr.rtl.cosim",
    "FrameResult": "hwsr.rtl.cosim",
    "TapResult": "hwsr.rtl.cosim",
    "cosim": "hwsr.rtl.cosim",
    "EngineDesign": "hwsr.rtl.design",
    "RtlError": "hwsr.rtl.design",
    "engine_design": "hwsr.rtl.design",
    "EmittedRtl": "hwsr.rtl.emit",
    "emit_rtl": "hwsr.rtl.emit",
}
__all__ = sorted(_EXPORTS)

__getattr__ = lazy_exports(__name__, _EXPORTS)
