"""``hwsr simulate``: parse, call :mod:`hwsr.sim.run`, print the report. Nothing else.

Refusals (bad image, missing or corrupt model) are ``ValueError``s that ``hwsr.cli.main``
turns into one line on stderr and exit status 1.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from hwsr.cliutil import HelpFormatter, Parser, add_stage, require_input, require_positive
from hwsr.zoo import DEFAULT_MODEL

if TYPE_CHECKING:
    from hwsr.sim.run import CheckResult

DEFAULT_FRAME_OUT = "out.png"
DEFAULT_VIDEO_OUT = "out.mp4"


def register(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add the ``simulate`` subcommand to the ``hwsr`` parser."""
    p = subparsers.add_parser(
        "simulate", help="run frames or a video through the bit-accurate line-buffer engine",
        description="Simulate the SR engine bit for bit, row by row through its line buffers. "
                    "Without --frame or --video it runs the built-in 1280x720 test pattern "
                    "(zone plate and colour bars).",
        epilog=_REPORT_COLUMNS, formatter_class=_Formatter)
    src = p.add_mutually_exclusive_group()
    src.add_argument("--frame", help="input image (PNG, JPEG, BMP, TIFF)")
    src.add_argument("--video", help="input video; the output (--out) is encoded with H.264")
    p.add_argument("--out", help=f"output file (default {DEFAULT_FRAME_OUT}, or "
                                 f"{DEFAULT_VIDEO_OUT} with --video)")
    p.add_argument("--model", default=DEFAULT_MODEL,
                   help="zoo name, model folder, engine.toml or program .npz")
    add_stage(p)
    p.add_argument("--report", help="also write the report as JSON here")
    p.add_argument("--check", action="store_true",
                   help="compare with the integer reference (and the float model); exit 1 "
                        "unless bit-exact")
    p.add_argument("--ppc", type=int, default=1,
                   help="LR pixels the engine takes per clock cycle; sets the latency in cycles")
    p.add_argument("--fps", type=float, help="frame rate for the MAC rate (default 60, or "
                                             "the video's rate)")
    p.add_argument("--clock-mhz", type=float, default=600.0,
                   help="engine clock, for the latency in microseconds")
    p.add_argument("--quiet", action="store_true",
                   help="no progress bars (they show only when stderr is a terminal)")
    p.set_defaults(func=run_simulate, checks=check_options)
    return p


def check_options(args: argparse.Namespace) -> None:
    """Every refusal that needs no model and no simulator: numbers, input, output paths."""
    from hwsr.atomic import check_distinct, check_output

    require_positive(args.ppc, "--ppc", integer=True)
    require_positive(args.fps, "--fps")
    require_positive(args.clock_mhz, "--clock-mhz")
    require_input(args.frame, "--frame")
    require_input(args.video, "--video")
    out = args.out or (DEFAULT_VIDEO_OUT if args.video else DEFAULT_FRAME_OUT)
    check_output(out, "--out")
    if args.report is not None:
        check_output(args.report, "--report")
    check_distinct({"--out": out, "--report": args.report, "input": args.frame or args.video})
    if args.video is None:
        from hwsr.imageio import WRITE_FORMATS

        if Path(out).suffix.lower() not in WRITE_FORMATS:
            raise ValueError(f"--out: {out}: unknown image suffix "
                             f"(use one of {', '.join(WRITE_FORMATS)})")


class _Formatter(HelpFormatter):
    """Options wrapped as usual, the epilog's table kept as written."""

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        return text if text is _REPORT_COLUMNS else super()._fill_text(text, width, indent)


_REPORT_COLUMNS = """\
the report: one table per stage, then the totals.
  LB bits    line-buffer bits the layer keeps: k-1 rows of its input (residual: the delay line)
  MACs/px    multiply-accumulates per LR pixel
  MAC path   how this simulator sums the integer products (int8 lanes, or float32 chunks
             proven exact below 2**24): a simulator detail, the hardware adds integers
  acc bound  worst-case accumulator magnitude, from the integer weights
  acc peak   largest accumulator magnitude seen on this frame; acc ovf: overflows of its width
  sat        outputs clipped by the requantizer (saturations)
  latency    LR rows, and cycles at --ppc pixels per clock, from first pixel in to first out
  GMAC/s     the MAC rate the engine needs at --fps for this frame size: what the silicon
             must sustain (MACs per clock at --clock-mhz), not this simulator's speed"""


def run_simulate(args: argparse.Namespace) -> int:
    """The subcommand: one library call, then the report table."""
    from hwsr.sim.run import simulate_file, simulate_video  # imports numba, torch: only now

    progress = not args.quiet and sys.stderr.isatty()  # no bar noise in logs

    if args.video:
        if args.check:
            print("hwsr simulate: --check works on frames, not on --video", file=sys.stderr)
            return 2
        run = simulate_video(args.video, args.out or DEFAULT_VIDEO_OUT, model=args.model,
                             stage=args.stage, report_path=args.report,
                             pixels_per_clock=args.ppc, fps=args.fps,
                             clock_mhz=args.clock_mhz, progress=progress)
        print(run.report.format_table())
        print(f"\nwrote {run.out_path} ({run.frames} frames, {run.seconds:.1f} s)")
        return 0
    frame_run = simulate_file(args.frame, args.out or DEFAULT_FRAME_OUT, model=args.model,
                              stage=args.stage, report_path=args.report, check=args.check,
                              pixels_per_clock=args.ppc, fps=60.0 if args.fps is None else args.fps,
                              clock_mhz=args.clock_mhz, progress=progress)
    rep = frame_run.result.report
    print(rep.format_table())
    print(f"\nwrote {frame_run.out_path} ({rep.out_width}x{rep.out_height}) in "
          f"{frame_run.seconds:.2f} s of simulation")
    if frame_run.check is not None:
        return _print_check(frame_run.check)
    return 0


def _print_check(check: CheckResult) -> int:
    if check.bit_exact:
        print("check: bit-exact with the integer reference (pixels and statistics)")
    else:
        print(f"check: NOT bit-exact: {check.mismatched_codes} output codes differ, "
              f"statistics {'equal' if check.stats_equal else 'differ'}")
    if check.psnr_vs_float_db is None:
        print(f"check: {check.float_note}")
    else:
        print(f"check: Y-PSNR vs the float model {check.psnr_vs_float_db:.2f} dB")
    return 0 if check.bit_exact else 1


def build_parser() -> argparse.ArgumentParser:
    """A stand-alone parser holding only ``simulate`` (for tests and embedding)."""
    parser = Parser(prog="hwsr")
    register(parser.add_subparsers(dest="command", required=True))
    return parser
