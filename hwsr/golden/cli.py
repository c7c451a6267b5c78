"""``hwsr golden write`` and ``hwsr golden check``: thin wrappers over :mod:`hwsr.golden`."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path
from typing import Any

from hwsr.cliutil import add_stage, require_input, require_positive
from hwsr.golden.names import LEVELS, STOCK, VARIANTS
from hwsr.zoo import DEFAULT_MODEL

log = logging.getLogger(__name__)


def _stock(text: str) -> tuple[str, ...]:
    if text == "none":
        return ()
    if text == "all":
        return STOCK
    return tuple(t for t in text.split(",") if t)


def _frames(args: argparse.Namespace) -> tuple[dict[str, Any], dict[str, str]]:
    from hwsr.golden.frames import FrameError, crop_frame, parse_crop, standard_frames
    from hwsr.imageio import read_image

    frames = standard_frames(args.width, args.height, args.seed, _stock(args.stock))
    sources: dict[str, str] = {}
    for arg in args.frame or []:
        path_text, _, crop_text = arg.partition(":")
        path = Path(path_text)
        crop = parse_crop(crop_text) if crop_text else None
        name = path.stem if crop is None else f"{path.stem}-{crop[2]}x{crop[3]}"
        if name in frames:
            raise FrameError(f"--frame {arg}: a frame named {name!r} is already in the set")
        image = read_image(path)
        frames[name] = image if crop is None else crop_frame(image, crop, str(path))
        sources[name] = f"image {path.name}" + (
            "" if crop is None else f", crop x={crop[0]} y={crop[1]} w={crop[2]} h={crop[3]}")
    return frames, sources


def _cmd_write(args: argparse.Namespace) -> int:
    from hwsr.golden.frames import program_variant
    from hwsr.golden.write import write_golden
    from hwsr.zoo import load_engine

    frames, sources = _frames(args)
    frame_taps = {name: args.frame_taps or args.taps for name in sources}
    program = program_variant(load_engine(args.model).program(), args.variant)
    m = write_golden(program, frames, args.out, stage=args.stage, model=str(args.model),
                     variant=args.variant, taps=args.taps, overwrite=args.overwrite,
                     frame_taps=frame_taps, sources=sources)
    print(f"wrote {len(m['files'])} files for {len(frames)} frames (taps {args.taps}) "
          f"to {args.out}")
    return 0


def _check_write(args: argparse.Namespace) -> None:
    """Refusals before the model loads: sizes, images, the output folder (checked by hwsr)."""
    from hwsr.zoo import find_model

    require_positive(args.width, "--width", integer=True)
    require_positive(args.height, "--height", integer=True)
    for arg in args.frame or []:
        require_input(arg.partition(":")[0], "--frame")
    find_model(args.model)


def _cmd_check(args: argparse.Namespace) -> int:
    from hwsr.golden.check import check_golden

    result = check_golden(args.set, model=args.model)
    print(f"{args.set}: {result.files} files, {result.taps} taps replayed by the simulator and "
          f"the reference, program equal to model {result.model!r}: bit-exact")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("golden", help="golden vectors for RTL testbenches: write or replay a set")
    gsub = p.add_subparsers(dest="golden_command", required=True)
    w = gsub.add_parser("write", help="write a vector set (hex taps, ROM images, manifest)")
    w.add_argument("--model", default=DEFAULT_MODEL, help="zoo name, model folder or program.npz")
    w.add_argument("--out", type=Path, required=True, help="folder of the new set")
    add_stage(w, "engine stages the set covers")
    w.add_argument("--taps", choices=LEVELS, default="layers",
                   help="io: input and stage outputs; layers: + every layer's output codes; "
                        "acc: + every layer's accumulator")
    w.add_argument("--variant", choices=VARIANTS, default="none",
                   help="extreme: every weight and bias at full scale (saturates every layer)")
    w.add_argument("--stock", default="all",
                   help=f"stock frames, comma-separated, 'all' or 'none' ({', '.join(STOCK)})")
    w.add_argument("--width", type=int, default=9, help="width of the stock frames")
    w.add_argument("--height", type=int, default=5, help="height of the stock frames")
    w.add_argument("--seed", type=int, default=0, help="seed of the noise frames")
    w.add_argument("--frame", action="append", metavar="IMAGE[:X,Y,W,H]",
                   help="add an image, or the W x H rectangle of it at X,Y (repeatable)")
    w.add_argument("--frame-taps", choices=LEVELS,
                   help="tap level of the --frame images (default: --taps); io keeps large "
                        "frames small")
    w.add_argument("--overwrite", action="store_true",
                   help="replace an existing set (built beside it, swapped in whole)")
    w.set_defaults(func=_cmd_write, checks=_check_write)
    c = gsub.add_parser("check", help="replay a set: files, program, simulator, reference")
    c.add_argument("set", type=Path, help="folder of the set")
    c.add_argument("--model", help="compare program.npz with this model instead of the "
                                   "one the manifest names")
    c.set_defaults(func=_cmd_check)
