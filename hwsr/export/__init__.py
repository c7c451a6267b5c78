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


from __future__ import annotations

from hwsr.lazy import lazy_exports

# Loaded by name on first use: ``hwsr --help`` must not pay for numpy, numba or torch.
_EXPORTS = {
    "ExportResult": "hwsr.export.api",
    "ExportSource": "hwsr.export.api",
    "build": "hwsr.export.api",
    "check": "hwsr.export.api",
    "check_file": "hwsr.export.api",
    "export_model": "hwsr.export.api",
    "F32_EXACT_LSBS": "hwsr.export.bound",
    "LayerBound": "hwsr.export.bound",
    "check_exact": "hwsr.export.bound",
    "FLOAT_TOL_PIXELS": "hwsr.export.check",
    "CheckReport": "hwsr.export.check",
    "check_frames": "hwsr.export.check",
    "half_even_twin": "hwsr.export.check",
    "STAGES": "hwsr.export.common",
    "ExportError": "hwsr.export.common",
    "Format": "hwsr.export.common",
    "float_model": "hwsr.export.onnx_float",
    "qcdq_model": "hwsr.export.qcdq",
    "qonnx_model": "hwsr.export.qonnx",
}
__all__ = sorted(_EXPORTS)

__getattr__ = lazy_exports(__name__, _EXPORTS)
