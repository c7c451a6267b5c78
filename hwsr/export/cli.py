"""``hwsr export``: parse, call :mod:`hwsr.export.api`, print the check. Nothing else.

Refusals (unknown format or stage, a program the format cannot express, a bad output path,
a failed check) are ``ValueError``s that ``hwsr.cli.main`` turns into one line on stderr and
exit status 1. Library warnings are silenced here so a refusal stays one line.
"""

from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path
from typing import Any

from hwsr.cliutil import require_input

FORMATS = ("onnx", "qonnx", "qcdq")  # as hwsr.export.common.Format (not imported: fast --help)


def register(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add the ``export`` subcommand to the ``hwsr`` parser."""
    p = subparsers.add_parser(
        "export", help="export the engine to ONNX, QONNX or QCDQ, checked by its own runtime",
        description="Export the float network (onnx), the quantized engine as QONNX (exact in "
                    "qonnx's executor) or as QuantizeLinear/DequantizeLinear ONNX (qcdq, "
                    "onnxruntime's integer kernels). Every export is checked before it is "
                    "written; --check FILE re-runs that check.")
    p.add_argument("--model", help="zoo name, model folder, engine.toml or program .npz "
                                   "(default hwsr-s; with --check, the model the file records)")
    p.add_argument("--format", help=f"one of {', '.join(FORMATS)}")
    p.add_argument("--stage", default="dual",
                   help="engine stages to export: the whole engine (dual) or one stage")
    act = p.add_mutually_exclusive_group(required=True)
    act.add_argument("--out", type=Path, help="the .onnx file to write")
    act.add_argument("--check", type=Path, metavar="FILE", help="check an export written before")
    p.add_argument("--frame", type=Path, action="append",
                   help="also check on this image (repeatable)")
    p.set_defaults(func=run_export, checks=check_options)
    return p


def check_options(args: argparse.Namespace) -> None:
    """Refusals before anything loads: format, inputs (hwsr checks --out's folder)."""
    from hwsr.zoo import find_model

    if args.check is None and args.format is not None and args.format not in FORMATS:
        raise ValueError(f"--format: unknown format {args.format!r} (allowed: "
                         f"{', '.join(FORMATS)})")
    if args.check is None and args.format is None:
        raise ValueError(f"--format is required (one of {', '.join(FORMATS)})")
    require_input(args.check, "--check")
    for frame in args.frame or []:
        require_input(frame, "--frame")
    if args.model is not None:
        find_model(args.model)


def run_export(args: argparse.Namespace) -> int:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return _run(args)


def _frames(paths: list[Path] | None) -> dict[str, Any] | None:
    if not paths:
        return None
    from hwsr.export.check import check_frames
    from hwsr.imageio import read_image

    frames = check_frames()
    for path in paths:
        frames[path.name] = read_image(path)
    return frames


def _run(args: argparse.Namespace) -> int:
    from hwsr.export.api import check_file, check_out_path, export_model
    from hwsr.export.common import ExportError, Format, parse_stage

    if args.check is not None:
        if args.format is not None or args.stage != "dual":
            raise ExportError("--check: format and stage come from the file; drop --format "
                              "and --stage")
        report = check_file(args.check, args.model, frames=_frames(args.frame))
        print("\n".join(report.lines()))
        if not report.ok:
            print(f"hwsr export: error: {args.check}: check FAILED", file=sys.stderr)
            return 1
        print(f"{args.check}: check passed")
        return 0
    if args.format is None:
        raise ExportError(f"--format is required (one of {', '.join(FORMATS)})")
    Format.parse(args.format)
    parse_stage(args.stage)
    check_out_path(args.out)
    result = export_model(args.model or "hwsr-s", args.format, args.stage, args.out,
                          frames=_frames(args.frame))
    print("\n".join(result.report.lines()))
    print(f"wrote {result.path} (built in {result.build_s:.2f} s, checked in "
          f"{result.check_s:.2f} s)")
    return 0
