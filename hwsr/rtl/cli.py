"""``hwsr rtl`` and ``hwsr cosim``: parse, call :mod:`hwsr.rtl`, print. Nothing else.

Refusals (a program the generator cannot express, a missing simulator, a bad set) are
``ValueError``s that ``hwsr.cli.main`` turns into one line on stderr and exit status 1.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the CLI imports the library lazily (keeps --help fast)
    from hwsr.rtl.cosim import PlanMaker

SIMULATORS = ("icarus", "verilator")  # as hwsr.rtl.cosim.SIMULATORS (keeps --help fast)


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``rtl`` and ``cosim`` to the ``hwsr`` parser."""
    p = subparsers.add_parser(
        "rtl", help="emit the engine as synthesizable Verilog with its ROM images",
        description="Write the whole dual-stage engine (Net1 -> Net2) as Verilog: the conv and "
                    "residual modules, the generated top level, ROM images, a file list and "
                    "a plain $readmemh testbench.")
    p.add_argument("--model", default=None,
                   help="zoo name, model folder or program .npz (default: the shipped model)")
    p.add_argument("--out", type=Path, required=True, help="folder to write")
    p.add_argument("--max-width", type=int, default=1280,
                   help="line-buffer depth: the widest frame the RTL takes (default 1280)")
    p.add_argument("--overwrite", action="store_true", help="replace an emitted folder")
    _add_plan_options(p)
    _add_raster_option(p)
    p.set_defaults(func=run_rtl)
    c = subparsers.add_parser(
        "cosim", help="co-simulate the RTL against a golden set (Icarus or Verilator)",
        description="Emit the engine, build it, stream every frame of a golden set with seeded "
                    "stalls and compare every tap bit for bit; exit 1 on any mismatch.")
    c.add_argument("--golden", type=Path, required=True, help="golden set folder")
    c.add_argument("--model", default=None,
                   help="build the RTL from this program instead of the set's")
    c.add_argument("--simulator", choices=SIMULATORS, default="icarus")
    c.add_argument("--stall", type=float, default=None,
                   help="chance per cycle of an input bubble and of back-pressure (default 0.25)")
    c.add_argument("--seed", type=int, default=1, help="seed of the stalls")
    c.add_argument("--frame", action="append", help="only this frame (repeatable)")
    c.add_argument("--build-dir", type=Path, help="build root (default: a temp folder)")
    c.add_argument("--json", type=Path, help="also write every frame's and tap's verdict here")
    c.add_argument("--video", default=None, metavar="TIMING",
                   help="feed the input at this video timing (720p60, 720p50, 1080p30, "
                        "1080p60; blanking scaled to each frame) into a FIFO, no back-pressure "
                        "on the source (the plain tb_video testbench); prints the FIFO's "
                        "largest fill or first overflow next to the model's")
    c.add_argument("--fifo-depth", type=int, default=None,
                   help="with --video: input FIFO words (default: the periodic model's "
                        "largest fill for the plan)")
    _add_plan_options(c)
    _add_raster_option(c)
    c.set_defaults(func=run_cosim)


def _add_raster_option(p: argparse.ArgumentParser) -> None:
    """--raster on|off: the HR raster output stage of hwsr_top (default on)."""
    p.add_argument("--raster", choices=("on", "off"), default="on",
                   help="hwsr_top's output: HR raster rows, one r-pixel row segment per beat "
                        "(on, default), or the core's r x r blocks in LR order (off)")


def _add_plan_options(p: argparse.ArgumentParser) -> None:
    """--macs, --clock-mhz, --separate: the folding plan (defaults: the spec's [budget])."""
    p.add_argument("--macs", default=None,
                   help="multipliers of the folded engine, or 'full' for one multiplier per "
                        "MAC at one pixel per clock (default: the engine spec's budget, 2048 "
                        "for hwsr-s)")
    p.add_argument("--clock-mhz", type=float, default=None,
                   help="engine clock for the real-time check (default: the spec's budget)")
    p.add_argument("--separate", action="store_true",
                   help="two separate engines (a MAC unit per layer of each stage) instead "
                        "of one unit per layer index shared by Net1 and Net2")


def plan_maker(args: argparse.Namespace) -> PlanMaker:
    """The plan function of the options: Net2's spec -> FoldPlan (validated here)."""
    import dataclasses

    from hwsr.folding import FULL, FoldPlan, fold_plan, full_plan
    from hwsr.rtl.design import RtlError
    from hwsr.spec import EngineSpec

    macs: int | None = None
    if args.macs is not None and args.macs != FULL:
        try:
            macs = int(args.macs)
        except ValueError:
            raise RtlError(f"--macs must be a positive integer or 'full', got {args.macs!r}") \
                from None
        if macs < 1:
            raise RtlError(f"--macs must be a positive integer or 'full', got {args.macs!r}")
    if args.clock_mhz is not None and not args.clock_mhz > 0:
        raise RtlError(f"--clock-mhz must be > 0, got {args.clock_mhz}")

    def make(spec: EngineSpec, dual: bool = True) -> FoldPlan:
        budget = spec.budget
        if macs is not None:
            budget = dataclasses.replace(budget, macs=macs)
        if args.clock_mhz is not None:
            budget = dataclasses.replace(budget, clock_mhz=args.clock_mhz)
        if args.macs == FULL:
            return full_plan(spec, budget, dual=dual)
        return fold_plan(spec, budget, shared=not args.separate, dual=dual)

    return make


def run_rtl(args: argparse.Namespace) -> int:
    from hwsr.folding import plan_lines
    from hwsr.rtl.axis_top import TOP_FILE, raster_figures_line
    from hwsr.rtl.emit import emit_rtl
    from hwsr.rtl.figures import rtl_figures_lines
    from hwsr.zoo import DEFAULT_MODEL, load_engine

    make = plan_maker(args)
    model = args.model or DEFAULT_MODEL
    program = load_engine(model).program()
    plan = make(program.net2.spec, program.net1 is not None)
    out = emit_rtl(program, args.out, max_width=args.max_width, source=str(model),
                   overwrite=args.overwrite, plan=plan, raster=args.raster == "on")
    print(f"wrote {out.folder} (design hash {out.digest[:16]}): "
          f"{len(out.design.layers)} conv layers, MAXW {out.design.max_width}")
    print("\n".join(plan_lines(plan, program.net2.spec, program.net1 is not None)))
    print("\n".join(rtl_figures_lines(program, out.design, out.plan)))
    print(raster_figures_line(program, (out.folder / TOP_FILE).read_text(), args.max_width))
    return 0


def run_cosim(args: argparse.Namespace) -> int:
    from hwsr.rtl.cosim import DEFAULT_STALL, cosim
    from hwsr.rtl.figures import cosim_lines, latency_differs, video_late

    program = None
    if args.model is not None:
        from hwsr.zoo import load_engine

        program = load_engine(args.model).program()
    stall = 0.0 if args.video else DEFAULT_STALL if args.stall is None else args.stall
    result = cosim(args.golden, program=program, simulator=args.simulator, stall=stall,
                   seed=args.seed, frames=args.frame, build_root=args.build_dir,
                   plan=plan_maker(args), video=args.video, fifo_depth=args.fifo_depth,
                   raster=args.raster == "on")
    print("\n".join(cosim_lines(result, stall)))
    if args.json is not None:
        from hwsr.atomic import json_text, write_text
        from hwsr.rtl.figures import cosim_json

        write_text(args.json, json_text(cosim_json(result, stall), indent=1) + "\n")
    return 0 if result.ok and not latency_differs(result, stall) and not video_late(result) \
        else 1
