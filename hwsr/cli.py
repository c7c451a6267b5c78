"""The ``hwsr`` command: thin subcommands over library functions.

Each subcommand parses its arguments, calls one library function and reports. Only the module
of the command asked for is imported, and every option, input and output path named in the
tables below is checked before it runs: help and refusals answer at once, before torch, numba
or onnx load. A refusal is one line on stderr and exit status 1; usage errors exit with 2
(argparse's convention), Ctrl-C with 130.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import json
import logging
import re
import signal
import sys
import threading
import traceback
import warnings
from collections.abc import Callable, Sequence

from hwsr import __version__
from hwsr.cliutil import Parser, add_stage, require_input, require_positive
from hwsr.zoo import DEFAULT_MODEL

# (command, module that registers it (None: this one), one-line help), grouped for --help.
_GROUPS: tuple[tuple[str, tuple[tuple[str, str | None, str], ...]], ...] = (
    ("the engine and its RTL", (
        ("simulate", "hwsr.sim.cli",
         "run frames or a video through the bit-accurate line-buffer engine"),
        ("report", None, "engine figures: MACs, line buffers, latency, MAC rate"),
        ("golden", "hwsr.golden.cli", "golden vectors for RTL testbenches: write or replay a set"),
        ("rtl", "hwsr.rtl.cli", "emit the engine as synthesizable Verilog with its ROM images"),
        ("cosim", "hwsr.rtl.cli",
         "co-simulate the RTL against a golden set (Icarus or Verilator)"),
        ("export", "hwsr.export.cli",
         "export the engine to ONNX, QONNX or QCDQ, checked by its own runtime"),
    )),
    ("training and the paper's experiments", (
        ("data", "hwsr.data.cli", "build (video-LR, dHR, HR) training data"),
        ("train", "hwsr.train.cli", "train a model (float phase, then QAT) from a config"),
        ("quantize", "hwsr.train.cli", "calibrate + QAT fine-tune + freeze a float model"),
        ("eval", "hwsr.train.cli", "paper-style Y-PSNR/SSIM tables on held-out frames"),
        ("sweep", "hwsr.train.cli", "gain over bicubic across codecs and rate factors"),
        ("ladder", "hwsr.train.cli", "the ablation ladder with seeds: mean ± std, climbs"),
        ("id-probe", "hwsr.train.cli", "where input distillation pushes Net1, next to the "
         "image losses (gradient norms, cosines)"),
        ("dead", "hwsr.train.cli", "share of each hidden layer's channels that never fire on "
         "held-out frames (float and int8 engine)"),
        ("explore", "hwsr.explore.cli", "train and cost a grid of engine variants; Pareto report"),
    )),
)
INTERRUPTED = 130  # exit status after Ctrl-C (128 + SIGINT, as shells report it)
COMMANDS = {name: module for _, cmds in _GROUPS for name, module, _ in cmds}

# Python modules a command needs beyond the base install: (command, when, modules, extra).
_NEEDS: tuple[tuple[str, Callable[[argparse.Namespace], bool], tuple[str, ...], str], ...] = (
    ("cosim", lambda a: True, ("cocotb", "cocotb_tools"), "rtl"),
    ("cosim", lambda a: a.simulator == "verilator", ("verilator",), "rtl"),
)
# Output paths checked before any command runs: command -> (attribute, option, is a folder).
_OUTPUTS: dict[str, tuple[tuple[str, str, bool], ...]] = {
    "golden": (("out", "--out", True),),
    "rtl": (("out", "--out", True),),
    "cosim": (("json", "--json", False), ("build_dir", "--build-dir", True)),
    "export": (("out", "--out", False),),
    "data": (("out", "--out", True),),
    "train": (("out", "--out", True),),
    "quantize": (("out", "--out", True), ("work", "--work", True)),
    "eval": (("json", "--json", False),),
    "sweep": (("out", "--out", False), ("json", "--json", False), ("work", "--work", True)),
    "explore": (("out", "--out", True), ("runs", "--runs", True)),
}
# Whole-number options that must be >= 1, checked before the work: command -> (attribute, option).
_COUNTS: dict[str, tuple[tuple[str, str], ...]] = {"rtl": (("max_width", "--max-width"),)}
# Commands whose --model names one engine: found (not loaded) before the work.
_MODELS = ("simulate", "report", "golden", "rtl", "cosim", "export")
# Input paths checked before any command runs: command -> (attribute, option) of a path or a
# list of paths, each a file or a folder.
_INPUTS: dict[str, tuple[tuple[str, str], ...]] = {
    "data": (("src", "--src"), ("val_src", "--val-src")),
}
# Golden sets a command reads: command -> (attribute, option; None for a positional).
_SETS: dict[str, tuple[str, str | None]] = {"cosim": ("golden", "--golden"),
                                            "golden": ("set", None)}


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
    folding = folding_doc = None
    if args.macs is not None:
        from hwsr.folding import plan_json
        from hwsr.report import folding_lines, folding_plan

        given = dict(stage=args.stage, macs=args.macs, clock_mhz=args.clock_mhz,
                     width=args.width, height=args.height, fps=args.fps, separate=args.separate)
        from hwsr.rtl.schedule import latency_line

        plan = folding_plan(spec, **given)  # type: ignore[arg-type]
        folding = folding_lines(spec, **given)  # type: ignore[arg-type]
        folding.append(latency_line(spec.net1() if args.stage == "net1" else spec, plan))
        folding_doc = plan_json(plan)
    if args.json:
        doc = report.to_json_dict()
        if bounds is not None:
            doc["accumulators"] = bounds_json(bounds)
        if folding_doc is not None:
            doc["folding"] = folding_doc
        print(json.dumps(doc, indent=2))
    else:
        print(report.format_table(folding))
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


def _add_report(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = sub.add_parser("report", help=_help("report"),
                       description="The engine's static budget per stage and in total.")
    p.add_argument("--model", default=DEFAULT_MODEL, help="zoo name, model folder or engine.toml")
    p.add_argument("--arch", help="float architecture to ask about (srcnn, rcan, engine)")
    add_stage(p, "stages to cost")
    p.add_argument("--width", type=int, default=1280, help="LR line width in pixels")
    p.add_argument("--height", type=int, default=720, help="LR frame height in rows")
    p.add_argument("--fps", type=float, default=60.0, help="frame rate")
    p.add_argument("--clock-mhz", type=float, default=600.0, help="engine clock")
    p.add_argument("--ppc", type=int, default=1,
                   help="LR pixels the engine takes per clock cycle (sets the cycle counts)")
    p.add_argument("--macs", type=int, default=None,
                   help="show the folding plan of a MAC array of this many multipliers "
                        "instead of the MAC-units line")
    p.add_argument("--separate", action="store_true",
                   help="with --macs: two separate engines instead of one array for both stages")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=_cmd_report, checks=_check_report)
    return p


def _check_report(args: argparse.Namespace) -> None:
    for value, option in ((args.fps, "--fps"), (args.clock_mhz, "--clock-mhz")):
        require_positive(value, option)
    require_positive(args.ppc, "--ppc", integer=True)
    if args.macs is not None:
        require_positive(args.macs, "--macs", integer=True)


def _help(command: str) -> str:
    return next(h for _, cmds in _GROUPS for name, _, h in cmds if name == command)


def _command_list() -> str:
    lines = []
    for title, cmds in _GROUPS:
        lines.append(f"{title}:")
        lines += [f"  {name:<10}  {text}" for name, _, text in cmds]
        lines.append("")
    lines.append("hwsr COMMAND --help shows a command's options and their defaults.")
    return "\n".join(lines)


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The ``hwsr`` parser; with ``command``, only that command's module is imported (every
    other command is a bare name, enough to list and to refuse)."""
    parser = Parser(
        prog="hwsr", usage="%(prog)s [-h] [--version] [-v] [-q] COMMAND ...", epilog=_command_list(), formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Dual-stage SR for a line-buffer engine in silicon: simulate it bit for bit,\n"
                    "emit its RTL and golden vectors, train and quantize its network.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true",
                        help="log every stage and show the traceback of an error")
    parser.add_argument("-q", "--quiet", dest="log_quiet", action="store_true",
                        help="no stage log lines (warnings and errors only)")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND", prog="hwsr",
                                help=argparse.SUPPRESS)
    if command is None:
        wanted = set(COMMANDS.values())
    else:
        wanted = {COMMANDS[command]} if command in COMMANDS else set()
    if None in wanted:
        _add_report(sub)
    for module in sorted(m for m in wanted if m is not None):
        importlib.import_module(module).register(sub)
    for name in COMMANDS:
        if name not in sub.choices:
            sub.add_parser(name, add_help=False)  # listed; its module is not loaded
    return parser


def _command_in(argv: Sequence[str]) -> str | None:
    """The subcommand ``argv`` names: its first word that is not an option."""
    return next((a for a in argv if not a.startswith("-")), None)


def main(argv: Sequence[str] | None = None) -> int:
    """Run one subcommand: exit 0, 1 on a refusal (one line), 2 on usage, 130 on Ctrl-C."""
    argv = list(sys.argv[1:] if argv is None else argv)
    command = _command_in(argv)
    args = argparse.Namespace(command=command or "", verbose="-v" in argv or "--verbose" in argv)
    _ctrl_c(signal.default_int_handler)  # Ctrl-C raises KeyboardInterrupt, answered below
    try:
        args = build_parser(command or "").parse_args(argv)
        _setup_logging(args)
        if not args.verbose:
            warnings.filterwarnings("ignore")  # library chatter must not bury the one error
        _check_before_work(args)
        return int(args.func(args) or 0)
    except BrokenPipeError:  # output piped into a pager or head that closed early
        return 0
    except KeyboardInterrupt:
        _ctrl_c(signal.SIG_IGN)  # a second Ctrl-C: no traceback
        print(f"{_who(args)}: interrupted", file=sys.stderr)
        return INTERRUPTED
    except ModuleNotFoundError as e:
        return _refuse(args, f"needs the Python module {e.name}, which is not installed")
    except OSError as e:
        from hwsr.atomic import os_words

        return _refuse(args, os_words(e) if e.errno else user_words(_first_line(e)))
    except ValueError as e:
        return _refuse(args, user_words(_first_line(e)))
    except Exception as e:  # a bug, not bad input: still one line, the traceback with -v
        return _refuse(args, f"internal error: {user_words(_first_line(e))} "
                             "(rerun with -v for the traceback)")


def _ctrl_c(handler: Callable[..., object] | int) -> None:
    if threading.current_thread() is threading.main_thread():  # only there Python allows it
        signal.signal(signal.SIGINT, handler)


def _check_before_work(args: argparse.Namespace) -> None:
    """Everything that can be refused without the work: the command's own option checks,
    the modules it needs, the golden set it reads, the paths it will write."""
    from hwsr.atomic import check_output
    from hwsr.golden.names import require_set

    for command, when, modules, extra in _NEEDS:
        if command == args.command and when(args):
            for module in modules:
                if importlib.util.find_spec(module) is None:
                    raise ValueError(f"needs {module}, which is not installed: install the "
                                     f"{extra} extra (pip install 'hwsr[{extra}]')")
    if args.command in _SETS:
        attr, option = _SETS[args.command]
        if getattr(args, attr, None) is not None:
            require_set(getattr(args, attr), option)
    if args.command in _MODELS and isinstance(getattr(args, "model", None), str):
        from hwsr.zoo import find_model

        find_model(args.model)
    for attr, option in _COUNTS.get(args.command, ()):
        require_positive(getattr(args, attr, None), option, integer=True)
    for attr, option in _INPUTS.get(args.command, ()):
        value = getattr(args, attr, None)
        for path in value if isinstance(value, list) else [value]:
            require_input(path, option, kind="file or folder")
    checks = getattr(args, "checks", None)
    if checks is not None:
        checks(args)
    for attr, option, is_dir in _OUTPUTS.get(args.command, ()):
        if getattr(args, attr, None) is not None:
            check_output(getattr(args, attr), option, is_dir=is_dir, make_parents=is_dir)


_PY_WORDS = {  # Python's names for common failures -> the user's words
    "FileNotFoundError": "no such file", "PermissionError": "permission denied",
    "IsADirectoryError": "is a folder", "NotADirectoryError": "not a folder",
    "JSONDecodeError": "not valid JSON", "UnicodeDecodeError": "not text",
    "KeyError": "a key is missing", "EOFError": "cut short", "BadZipFile": "not a valid npz file",
    "ValueError": "bad value", "OSError": "cannot be read", "UnpicklingError": "not valid data",
    "SafetensorError": "not a valid safetensors file",
}
_ERRNO_TEXT = re.compile(r"\[Errno \d+\] ([^:'\)]+)(?:: '[^']*')?")
_CLASS_NAME = re.compile(r"\b(BadZipFile|\w+(?:Error|Exception))\b")


def user_words(text: str) -> str:
    """``text`` without Python's vocabulary: errno prefixes and exception class names.

    >>> user_words("x: not a readable golden set ([Errno 2] No such file or directory: 'm')")
    'x: not a readable golden set (no such file or directory)'
    >>> user_words("m.json: not a readable golden manifest (FileNotFoundError)")
    'm.json: not a readable golden manifest (no such file)'
    """
    text = _ERRNO_TEXT.sub(lambda m: m.group(1).lower(), text)
    return _CLASS_NAME.sub(lambda m: _PY_WORDS.get(m.group(1), "failed"), text)


def _setup_logging(args: argparse.Namespace) -> None:
    """hwsr's stage lines at the level below; other libraries' only as warnings (with -v,
    everything)."""
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(levelname)s: %(message)s")
    logging.getLogger("hwsr").setLevel(_log_level(args))


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
    return text.splitlines()[0] if text else "failed without a message"


def _refuse(args: argparse.Namespace, msg: str) -> int:
    if args.verbose:
        traceback.print_exc()
    print(f"{_who(args)}: error: {msg}", file=sys.stderr)
    return 1


def _who(args: argparse.Namespace) -> str:
    return f"hwsr {args.command}" if args.command else "hwsr"


if __name__ == "__main__":
    sys.exit(main())
