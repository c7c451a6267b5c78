"""Exports of the engine, each refereed by a runtime hwsr did not write.

Public API:

* :func:`export_model` — build, check and atomically write one export (what ``hwsr export``
  does); :func:`check_file` — re-run the check of a file written earlier;
* :func:`build` / :func:`check` with an :class:`ExportSource` — the same on objects in memory;
* :func:`qonnx_model`, :func:`qcdq_model`, :func:`float_model` — the graph builders.

Modules: ``common`` (refusals, stage selection, graph builder, pixel units), ``bound`` (the
float32 exactness bound), ``onnx_float``, ``qonnx``, ``qcdq`` (builders), ``runtimes``
(onnxruntime and qonnx's executor), ``check`` (the checks), ``api``, ``cli``.
"""

from hwsr.export.api import ExportResult, ExportSource, build, check, check_file, export_model
from hwsr.export.bound import F32_EXACT_LSBS, LayerBound, check_exact
from hwsr.export.check import FLOAT_TOL_PIXELS, CheckReport, check_frames, half_even_twin
from hwsr.export.common import STAGES, ExportError, Format
from hwsr.export.onnx_float import float_model
from hwsr.export.qcdq import qcdq_model
from hwsr.export.qonnx import qonnx_model

__all__ = [
    "F32_EXACT_LSBS",
    "FLOAT_TOL_PIXELS",
    "STAGES",
    "CheckReport",
    "ExportError",
    "ExportResult",
    "ExportSource",
    "Format",
    "LayerBound",
    "build",
    "check",
    "check_exact",
    "check_file",
    "check_frames",
    "export_model",
    "float_model",
    "half_even_twin",
    "qcdq_model",
    "qonnx_model",
]
