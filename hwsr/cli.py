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
import traceback
import warnings
from collections.abc import Sequence

from hwsr.spec import STAGES
from hwsr.zoo import DEFAULT_MODEL

# Modules that add their own subcommands: each has ``register(subparsers)``.
_PLUGINS = (
    "hwsr.sim.cli", "hwsr.data.cli", "hwsr.train.cli", "hwsr.export.cli", "hwsr.rtl.cli",
    "hwsr.golden.cli", "hwsr.explore.cli",
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
    p.add_argument("--stage", choices=STAGES, default="dual")
    p.add_argument("--width", type=int, default=1280, help="LR line width in pixels")
    p.add_argument("--height", type=int, default=720, help="LR frame height in rows")
    p.add_argument("--fps", type=float, default=60.0, help="frame rate")
    p.add_argument("--clock-mhz", type=float, default=600.0, help="engine clock")
    p.add_argument("--ppc", type=int, default=1, help="pixels per clock")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=_cmd_report)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="hwsr",
        description="Dual-stage SR for a line-buffer engine: train, quantize, simulate, report.",
    )
    parser.add_argument("-v", "--verbose", action="store_true",
                        help="log every stage and show the traceback of an error")
    parser.add_argument("-q", "--quiet", dest="log_quiet", action="store_true",
                        help="no stage log lines (warnings and errors only)")
    sub = parser.add_subparsers(dest="command", required=True)
    _add_report(sub)
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
    """Run one subcommand: exit 0, 1 on a refusal (one line), 2 on usage, 130 on Ctrl-C."""
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=_log_level(args), format="%(levelname)s: %(message)s"
    )
    if not args.verbose:
        warnings.filterwarnings("ignore")  # library chatter must not bury the one-line error
    try:
        return int(args.func(args) or 0)
    except BrokenPipeError:  # output piped into a pager or head that closed early
        return 0
    except KeyboardInterrupt:
        print(f"hwsr {args.command}: interrupted", file=sys.stderr)
        return 130
    except (ValueError, OSError) as e:
        return _refuse(args, _first_line(e))
    except Exception as e:  # a bug, not bad input: still one line, the traceback with -v
        return _refuse(args, f"internal error {type(e).__name__}: {_first_line(e)} "
                             "(rerun with -v for the traceback)")


def _log_level(args: argparse.Namespace) -> int:
    """A log line per stage where progress bars cannot show (stderr is not a terminal, e.g.
    a log file), none with ``-q``; ``-v`` always logs."""
    if args.verbose:
        return logging.INFO
    if args.log_quiet or sys.stderr.isatty():
        return logging.WARNING
    return logging.INFO


def _first_line(e: BaseException) -> str:
    text = str(e).strip()
    return text.splitlines()[0] if text else type(e).__name__


def _refuse(args: argparse.Namespace, msg: str) -> int:
    if args.verbose:
        traceback.print_exc()
    print(f"hwsr {args.command}: error: {msg}", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
