"""The ``hwsr`` command: thin subcommands over library functions.

Each subcommand parses its arguments, calls one library function and reports. Any refusal
the library raises (a bad spec, image, model, program or dataset) reaches the user as one
line on stderr and exit status 1; usage errors exit with 2 (argparse's convention).
"""

from __future__ import annotations

import argparse
import importlib
import json
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from hwsr.zoo import DEFAULT_MODEL

# Modules that add their own subcommands: each has ``register(subparsers)``.
_PLUGINS = (
    "hwsr.sim.cli", "hwsr.data.cli", "hwsr.train.cli", "hwsr.export.cli", "hwsr.rtl.cli",
)


def _cmd_report(args: argparse.Namespace) -> int:
    from hwsr.accum import bounds_json, bounds_table
    from hwsr.report import check_budget, engine_report, float_only_notice
    from hwsr.zoo import load_engine

    if args.arch:
        notice = float_only_notice(args.arch)
        if notice:
            print(notice)
            return 0
    bundle = load_engine(args.model)
    spec = bundle.spec
    bounds = _acc_bounds(bundle)
    report = engine_report(
        spec, stage=args.stage, width=args.width, height=args.height, fps=args.fps,
        clock_mhz=args.clock_mhz, pixels_per_clock=args.ppc,
    )
    if args.json:
        doc = report.to_json_dict()
        if bounds is not None:
            doc["accumulators"] = bounds_json(bounds)
        print(json.dumps(doc, indent=2))
    else:
        print(report.format_table())
        for line in check_budget(report):
            print(f"budget: {line}")
        print()
        print(bounds_table(bounds) if bounds is not None else
              "accumulators: no integer program yet (hwsr quantize) - worst cases unknown")
    return 0


def _acc_bounds(bundle):  # type: ignore[no-untyped-def]
    """Worst-case accumulators of the model's integer program, when it has one."""
    from hwsr.accum import program_bounds

    if bundle.program_path is None or not bundle.program_path.is_file():
        return None
    return program_bounds(bundle.program())


def _add_report(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("report", help="engine figures: MACs, line buffers, latency, MAC rate")
    p.add_argument("--model", default=DEFAULT_MODEL, help="zoo name, model folder or engine.toml")
    p.add_argument("--arch", help="float architecture to ask about (srcnn, rcan, engine)")
    p.add_argument("--stage", choices=("dual", "net1", "net2"), default="dual")
    p.add_argument("--width", type=int, default=1280, help="LR line width in pixels")
    p.add_argument("--height", type=int, default=720, help="LR frame height in rows")
    p.add_argument("--fps", type=float, default=60.0, help="frame rate")
    p.add_argument("--clock-mhz", type=float, default=600.0, help="engine clock")
    p.add_argument("--ppc", type=int, default=1, help="pixels per clock")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=_cmd_report)


def _cmd_golden_write(args: argparse.Namespace) -> int:
    from hwsr.golden import standard_frames, write_golden
    from hwsr.imageio import read_image
    from hwsr.zoo import load_engine

    program = load_engine(args.model).program()
    frames = standard_frames(args.width, args.height, args.seed)
    for path in args.frame or []:
        frames[path.stem] = read_image(path)
    m = write_golden(program, frames, args.out, stage=args.stage, model=str(args.model),
                     overwrite=args.overwrite)
    print(f"wrote {len(m['sha256'])} files for {len(frames)} frames to {args.out}")
    return 0


def _cmd_golden_check(args: argparse.Namespace) -> int:
    from hwsr.golden import replay_golden

    result = replay_golden(args.set)
    for rel in result.mismatches:
        print(f"MISMATCH {rel}")
    verdict = "bit-exact" if result.ok else f"{len(result.mismatches)} files differ"
    print(f"{args.set}: {result.files_checked} vector files replayed: {verdict}")
    return 0 if result.ok else 1


def _add_golden(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("golden", help="golden vectors for RTL testbenches: write or replay a set")
    gsub = p.add_subparsers(dest="golden_command", required=True)
    w = gsub.add_parser("write", help="write a vector set (hex + manifest) for the model")
    w.add_argument("--model", default=DEFAULT_MODEL, help="zoo name, model folder or program.npz")
    w.add_argument("--out", type=Path, required=True, help="folder of the new set")
    w.add_argument("--stage", choices=("dual", "net1", "net2"), default="dual")
    w.add_argument("--width", type=int, default=24, help="width of the stock frames")
    w.add_argument("--height", type=int, default=16, help="height of the stock frames")
    w.add_argument("--seed", type=int, default=0, help="seed of the noise frames")
    w.add_argument("--frame", type=Path, action="append", help="add an image (repeatable)")
    w.add_argument("--overwrite", action="store_true", help="replace an existing set")
    w.set_defaults(func=_cmd_golden_write)
    c = gsub.add_parser("check", help="replay a set through the simulator, byte for byte")
    c.add_argument("set", type=Path, help="folder of the set")
    c.set_defaults(func=_cmd_golden_check)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="hwsr",
        description="Dual-stage SR for a line-buffer engine: train, quantize, simulate, report.",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress details")
    sub = parser.add_subparsers(dest="command", required=True)
    _add_report(sub)
    _add_golden(sub)
    for name in _PLUGINS:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as e:
            if e.name and name.startswith(e.name):
                continue  # that part of hwsr is not installed in this build
            raise
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING, format="%(levelname)s: %(message)s"
    )
    try:
        return int(args.func(args) or 0)
    except BrokenPipeError:  # output piped into a pager or head that closed early
        return 0
    except (ValueError, OSError) as e:
        msg = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        print(f"hwsr {args.command}: error: {msg}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"hwsr {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
