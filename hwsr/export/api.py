"""What ``hwsr export`` does, as library functions: build, check, then write atomically.

:func:`export_model` validates the format, stage and output path before any work, builds the
graph, runs its check (:mod:`hwsr.export.check`) and writes the file only if the check
passes. :func:`check_file` re-runs the same check on a file written earlier. Every refusal
is an :class:`~hwsr.export.common.ExportError` (a ``ValueError``): one line, nothing written.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path

import onnx
from torch import nn

from hwsr.atomic import atomic_write, check_output
from hwsr.export.check import (
    CheckReport,
    FrameU8,
    Item,
    check_float,
    check_frames,
    check_qcdq,
    check_qonnx,
)
from hwsr.export.common import (
    ExportError,
    Format,
    parse_stage,
    program_fingerprint,
    read_meta,
    stage_programs,
)
from hwsr.program import EngineProgram
from hwsr.spec import stage_names

log = logging.getLogger(__name__)


@dataclass(frozen=True, eq=False)
class ExportSource:
    """What an export is built from: the integer program or the float dual-stage network."""

    name: str  # the --model given, recorded in the file
    program: EngineProgram | None = None  # for qonnx and qcdq
    float_dual: nn.Module | None = None  # DualStageSR in eval mode, for onnx

    @classmethod
    def load(cls, model: str | Path, fmt: Format) -> ExportSource:
        from hwsr.zoo import load_engine

        bundle = load_engine(model)
        if fmt is Format.ONNX:
            return cls(str(model), float_dual=bundle.float_dual())
        return cls(str(model), program=bundle.program())

    def need_program(self) -> EngineProgram:
        if self.program is None:
            raise ExportError(f"{self.name}: no integer program to export or check against")
        return self.program

    def nets(self, stage: str) -> list[tuple[str, nn.Module]]:
        if self.float_dual is None:
            raise ExportError(f"{self.name}: no float weights to export or check against")
        return [(n, getattr(self.float_dual, n)) for n in stage_names(stage)]


@dataclass(frozen=True, eq=False)
class ExportResult:
    path: Path  # the file written
    report: CheckReport  # the check it passed
    build_s: float  # seconds to build the graph
    check_s: float  # seconds to check it


def check_out_path(out: str | Path) -> Path:
    """Refuse an output path that is a folder, or whose folder is missing or not writable."""
    try:
        return check_output(out, "--out")
    except ValueError as e:
        raise ExportError(str(e)) from None


def build(fmt: Format, stage: str, source: ExportSource) -> onnx.ModelProto:
    """The graph of ``stage`` in format ``fmt``; refuses what the format cannot express."""
    from hwsr.export.onnx_float import float_model
    from hwsr.export.qcdq import qcdq_model
    from hwsr.export.qonnx import qonnx_model

    meta = {"format": fmt.value, "stage": stage, "model": source.name}
    if fmt is Format.ONNX:
        return float_model(source.nets(stage), meta)
    program = source.need_program()
    stages = stage_programs(program, stage)
    meta["rounding"] = stages[-1][1].spec.datapath.rounding.value
    meta["fingerprint"] = program_fingerprint(program, stage)
    return (qonnx_model if fmt is Format.QONNX else qcdq_model)(stages, meta)


def check(model: onnx.ModelProto, source: ExportSource,
          frames: dict[str, FrameU8] | None = None) -> CheckReport:
    """Run an export's check, as recorded in its metadata, against ``source``."""
    meta = read_meta(model)
    fmt, stage = Format.parse(meta.get("format", "?")), parse_stage(meta.get("stage", "?"))
    frames = check_frames() if frames is None else frames
    items: list[Item]
    if fmt is Format.ONNX:
        items = check_float(model, [net for _, net in source.nets(stage)], frames)
    else:
        program = source.need_program()
        want = program_fingerprint(program, stage)
        if meta.get("fingerprint") != want:
            raise ExportError(f"{source.name}: its program (fingerprint {want}) is not the one "
                              f"exported ({meta.get('fingerprint')}); pass its --model")
        run = check_qonnx if fmt is Format.QONNX else check_qcdq
        items = run(model, program, stage, frames)
    return CheckReport(fmt.value, stage, tuple(items))


def export_model(model: str | Path, fmt: str, stage: str, out: str | Path, *,
                 frames: dict[str, FrameU8] | None = None,
                 source: ExportSource | None = None) -> ExportResult:
    """Build, check and atomically write one export; nothing is written unless it passes."""
    f, st, path = Format.parse(fmt), parse_stage(stage), check_out_path(out)
    src = source if source is not None else ExportSource.load(model, f)
    t0 = time.perf_counter()
    graph = build(f, st, src)
    t1 = time.perf_counter()
    report = check(graph, src, frames)
    t2 = time.perf_counter()
    if not report.ok:
        bad = next(i for i in report.items if not i.ok)
        raise ExportError(f"{path}: not written: the {f.value} export failed its check "
                          f"({bad.line()})")
    atomic_write(path, lambda tmp: onnx.save(graph, str(tmp)))
    log.info("wrote %s", path)
    return ExportResult(path, report, t1 - t0, t2 - t1)


def load_export(path: str | Path) -> onnx.ModelProto:
    """Read an hwsr export; refuses a missing file, a non-ONNX file or a foreign model."""
    p = Path(path)
    if not p.is_file():
        raise ExportError(f"{p}: no such file")
    try:
        model = onnx.load(str(p))
    except Exception as e:  # onnx raises DecodeError and others for a file that is not ONNX
        raise ExportError(f"{p}: not a readable ONNX file ({type(e).__name__})") from None
    if "format" not in read_meta(model):
        raise ExportError(f"{p}: not an hwsr export (no hwsr.format metadata)")
    return model


def check_file(path: str | Path, model: str | Path | None = None, *,
               frames: dict[str, FrameU8] | None = None,
               source: ExportSource | None = None) -> CheckReport:
    """Check an export written earlier against ``model`` (default: the one it records)."""
    graph = load_export(path)
    meta = read_meta(graph)
    fmt = Format.parse(meta["format"])
    src = source if source is not None else ExportSource.load(model or meta["model"], fmt)
    return check(graph, src, frames)
