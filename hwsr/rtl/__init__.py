"""The engine in Verilog: emit it from the integer program, co-simulate it against golden sets.

Modules: ``fold`` (the folded units' parameters and memories, from the folding plan of
:mod:`hwsr.folding`), ``top_fold`` (the folded top level), ``design``
(what the generator builds, its limits and figures), ``top`` (the
generated top level and its streaming interface), ``tb`` (the plain ``$readmemh``
testbench), ``emit`` (``hwsr rtl``: the folder), ``cosim`` (``hwsr cosim``: build and run
with cocotb on Icarus or Verilator), ``cocotb_tb`` (the cocotb testbench), ``figures``
(observed against ``hwsr report``), ``yosys`` (one layer's or one MAC unit's memories,
multipliers, cells, flip-flops), ``cli``. The leaf modules (``hwsr_conv.v``,
``hwsr_residual.v``, ``hwsr_window.v``, ``hwsr_mac.v``, ``hwsr_fifo.v``) are package data
under ``verilog/``. See ``docs/rtl.md``.
"""

from hwsr.rtl.cosim import CosimResult, FrameResult, TapResult, cosim
from hwsr.rtl.design import EngineDesign, RtlError, engine_design
from hwsr.rtl.emit import EmittedRtl, emit_rtl

__all__ = ["CosimResult", "EmittedRtl", "EngineDesign", "FrameResult", "RtlError", "TapResult",
           "cosim", "emit_rtl", "engine_design"]
