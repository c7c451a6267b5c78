"""The engine in Verilog: emit it from the integer program, co-simulate it against golden sets.

Modules: ``fold`` (the folded units' parameters and memories, from the folding plan of
:mod:`hwsr.folding`), ``top_fold`` (the folded top level), ``design``
(what the generator builds, its limits and figures), ``top`` (the
generated top level and its streaming interface), ``tb`` (the plain ``$readmemh``
testbench), ``emit`` (``hwsr rtl``: the folder), ``cosim`` (``hwsr cosim``: build and run
with cocotb on Icarus or Verilator), ``cocotb_tb`` (the cocotb testbench), ``figures``
(observed against ``hwsr report``), ``yosys`` (one layer's, one MAC unit's or the whole engine's memories,
multipliers, cells, flip-flops, logic depth), ``load`` (the load port's address map and
write images), ``lint`` (Verilator ``-Wall`` and yosys ``check``), ``axis_top`` and
``tb_top`` (``hwsr_top``: AXI4-Stream ports, the HR raster stage, its plain testbench),
``tb_video`` (the plain video-timing testbench and its runner), ``schedule`` (the folded
engine's cycle-level control model: its latency), ``fusesoc`` (the FuseSoC core file),
``cli``. The leaf modules (``hwsr_conv.v``,
``hwsr_residual.v``, ``hwsr_window.v``, ``hwsr_mac.v``, ``hwsr_fifo.v``) are package data
under ``verilog/``. See ``docs/rtl.md``.
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
