"""``hwsr data build``: parse flags, call `build_dataset`, print what was built.

Imports nothing heavy at module level: every ``hwsr`` command builds this parser.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from hwsr.data.config import DEFAULT_CRF, BuildConfig

if TYPE_CHECKING:
    from hwsr.data.manifest import Manifest

_D = BuildConfig.__dataclass_fields__  # defaults shown in --help come from the config

# Flags that set one BuildConfig field, in --help order: (flag, field, type, metavar, help).
_Option = tuple[str, str, type | None, str | None, str | None]
_SOURCE_OPTIONS: tuple[_Option, ...] = (
    ("--val-fraction", "val_fraction", float, None, None),
    ("--val-frames", "val_frames_per_source", int, None, "whole frames kept per validation source"),
    ("--codec", "codec", None, None,
     "FFmpeg encoder: libx264, libx265, libvpx-vp9, libsvtav1, mpeg4, ..."),
)
_BUILD_OPTIONS: tuple[_Option, ...] = (
    ("--gop", "gop_frames", int, None, "key-frame interval"),
    ("--preset", "preset", None, None, "encoder preset ('' for none)"),
    ("--threads", "codec_threads", int, None,
     "encoder threads (fixed: the bitstream depends on it)"),
    ("--patch-lr", "patch_lr_px", int, "PX", "LR/dHR patch side; HR patches are 3x"),
    ("--patches-per-frame", "patches_per_frame", int, None, None),
    ("--shard-size", "shard_patches", int, None, "triples per shard file"),
    ("--seed", "seed", int, None, None),
    ("--still-frames", "still_frames", int, None,
     "frames of the clip synthesized from each still image"),
    ("--still-zoom", "still_zoom", float, None,
     "total zoom over a still's clip (0: exact integer-pixel crops)"),
    ("--still-pan", "still_pan", float, None,
     "total pan over a still's clip, fraction of the frame width"),
    ("--max-frames", "max_video_frames", int, None,
     "frames taken from the start of each video (0: all)"),
)


def _add_config_options(p: argparse.ArgumentParser, options: tuple[_Option, ...]) -> None:
    for flag, name, kind, metavar, text in options:
        p.add_argument(flag, type=kind, default=_D[name].default, metavar=metavar, help=text)


def register_cli(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add ``data`` (with its ``build`` subcommand) to the ``hwsr`` command."""
    data = subparsers.add_parser("data", help="build (video-LR, dHR, HR) training data")
    sub = data.add_subparsers(dest="data_command", required=True)
    p = sub.add_parser(
        "build",
        help="build a dataset from UHD videos and still images",
        description="Cut aligned (video-LR, dHR, HR) triples from UHD material; video-LR "
        "goes through a real codec. Bad sources are reported and skipped.",
    )
    p.add_argument(
        "--src",
        nargs="+",
        action="extend",
        required=True,
        type=Path,
        metavar="PATH",
        help="UHD video files, still images or folders of them",
    )
    p.add_argument("--out", required=True, type=Path, metavar="DIR", help="dataset folder")
    p.add_argument(
        "--val-src",
        nargs="+",
        action="extend",
        default=[],
        type=Path,
        metavar="PATH",
        help="validation sources (default: --val-fraction of --src)",
    )
    _add_config_options(p, _SOURCE_OPTIONS)
    rate = p.add_mutually_exclusive_group()
    rate.add_argument("--crf", type=float, help=f"rate factor (default {DEFAULT_CRF:g})")
    rate.add_argument("--bitrate", type=int, metavar="KBPS", help="bit rate of the 720p stream")
    _add_config_options(p, _BUILD_OPTIONS)
    p.add_argument("--strict", action="store_true", help="stop at the first bad source")
    p.add_argument("--overwrite", action="store_true", help="replace an existing --out")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    p.set_defaults(func=run_build)
    _register_pool(sub)
    _register_crop(sub)
    return data


def _register_crop(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "crop",
        help="a copy of a dataset with centre-cropped validation frames (small enough to carry)",
        description="Copy a dataset with its validation frames centre-cropped to --crop-lr LR "
        "pixels (HR and dHR aligned) and its training shards as they are, or left out "
        "(hwsr.data.crop); scoring the copy with the same crop gives the original's pixels.",
    )
    p.add_argument("--src", required=True, type=Path, metavar="DIR", help="dataset folder")
    p.add_argument("--out", required=True, type=Path, metavar="DIR", help="the copy (new)")
    p.add_argument("--crop-lr", required=True, type=int, metavar="PX",
                   help="side of the centre crop in LR pixels")
    p.add_argument("--no-train", action="store_true", help="leave the training shards out")
    p.set_defaults(func=run_crop)


def run_crop(args: argparse.Namespace) -> int:
    from hwsr.atomic import check_output
    from hwsr.data.crop import cropped_copy

    if args.out.exists():
        raise ValueError(f"--out: {args.out}: exists")
    check_output(args.out, "--out", is_dir=True)
    m = cropped_copy(args.src, args.out, args.crop_lr, with_train=not args.no_train)
    print(f"{args.out}: {len(m.val_frames)} validation frames cropped to {args.crop_lr}² LR, "
          f"{m.train_patches} training triples")
    return 0


def _register_pool(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "pool",
        help="choose a training pool from unpacked packages (pHash dedup, data card)",
        description="Hash every picture under PACKAGES/<package>/, keep the largest copy of "
        "each distinct one that is unlike every --exclude source, and write the source list "
        "(one path a line, for data build --src) and a Markdown data card (hwsr.data.pool).",
    )
    p.add_argument("--packages", required=True, type=Path, metavar="DIR",
                   help="one folder per package, as dpkg -x unpacks it")
    p.add_argument("--exclude", nargs="+", action="extend", default=[], type=Path,
                   metavar="PATH", help="validation and held-out sources the pool must not hold")
    p.add_argument("--min-side", type=int, default=1080, metavar="PX",
                   help="smallest short side of a kept picture (default 1080)")
    p.add_argument("--max-bits", type=int, default=10,
                   help="hashes this close (differing bits) are one picture (default 10)")
    p.add_argument("--min-detail", type=float, default=0.5, metavar="CODES",
                   help="least texture (mean |Laplacian| of the 1024-px luma preview) of a "
                   "kept picture: drops flat gradients and stripes (default 0.5)")
    p.add_argument("--list", required=True, type=Path, metavar="FILE", help="source list")
    p.add_argument("--card", required=True, type=Path, metavar="FILE.md", help="data card")
    p.set_defaults(func=run_pool)


def run_pool(args: argparse.Namespace) -> int:
    from hwsr.atomic import atomic_paths, check_distinct, check_output
    from hwsr.data import pool

    if not args.packages.is_dir():
        raise ValueError(f"--packages: {args.packages}: no such folder")
    for src in args.exclude:
        if not src.is_file():
            raise ValueError(f"--exclude: {src}: no such file")
    for flag, path in (("--list", args.list), ("--card", args.card)):
        check_output(path, flag)
    check_distinct({"--list": args.list, "--card": args.card})
    cands = pool.scan(args.packages)
    excluded = pool.hashes_of(args.exclude)
    choice = pool.choose(cands, excluded, args.min_side, args.max_bits, args.min_detail)
    command = (f"hwsr data pool --min-side {args.min_side} --max-bits {args.max_bits} "
               f"--min-detail {args.min_detail:g} --exclude ({len(args.exclude)} files)")
    card = pool.format_card(args.packages, cands, choice, excluded, args.min_side,
                            args.max_bits, args.min_detail, command)
    with atomic_paths([args.list, args.card]) as (tmp_list, tmp_card):
        tmp_list.write_text("".join(f"{c.path}\n" for c in choice.kept), encoding="utf-8")
        tmp_card.write_text(card, encoding="utf-8")
    print(f"{args.list}: {len(choice.kept)} distinct pictures of {len(cands)} files "
          f"({len(choice.same_as)} copies, {len(choice.held_out)} like an excluded source, "
          f"{len(choice.too_small)} too small, {len(choice.flat)} flat dropped); "
          f"card {args.card}")
    return 0


register = register_cli  # the name hwsr.cli looks for


def config_from_args(args: argparse.Namespace) -> BuildConfig:
    """The `BuildConfig` the flags describe."""
    crf = args.crf if args.crf is not None or args.bitrate is not None else DEFAULT_CRF
    return BuildConfig(
        sources=tuple(args.src),
        out_dir=args.out,
        val_sources=tuple(args.val_src),
        val_fraction=args.val_fraction,
        val_frames_per_source=args.val_frames,
        codec=args.codec,
        crf=crf,
        bitrate_kbps=args.bitrate,
        gop_frames=args.gop,
        preset=args.preset or None,
        codec_threads=args.threads,
        patch_lr_px=args.patch_lr,
        patches_per_frame=args.patches_per_frame,
        shard_patches=args.shard_size,
        seed=args.seed,
        still_frames=args.still_frames,
        still_zoom=args.still_zoom,
        still_pan=args.still_pan,
        max_video_frames=args.max_frames or None,
        strict=args.strict,
    )


def run_build(args: argparse.Namespace) -> int:
    from hwsr.atomic import check_output
    from hwsr.data.build import build_dataset  # torch/PyAV only when a build runs

    for option, paths in (("--src", args.src), ("--val-src", args.val_src)):
        for src in paths:
            if not Path(src).exists():
                raise ValueError(f"{option}: {src}: no such file or folder")
    check_output(args.out, "--out", is_dir=True)
    manifest = build_dataset(
        config_from_args(args),
        overwrite=args.overwrite,
        progress=False if args.no_progress else None,
    )
    print(format_summary(manifest, args.out))
    return 0


def format_summary(manifest: Manifest, out: Path) -> str:
    """Per-source lines (split, frames, triples, codec damage) and the totals."""
    lines = []
    for s in manifest.sources:
        if not s.ok:
            lines.append(f"  skipped  {s.path}: {s.reason}")
            continue
        lines.append(
            f"  {s.split:5s}  {s.name}: {s.frames} frames {s.hr_hw[1]}x{s.hr_hw[0]}, "
            f"{s.patches} triples, codec damage {s.codec_psnr_y_db:.2f} dB Y-PSNR "
            f"(worst {s.codec_psnr_y_min_db:.2f}), {s.lr_kbps:.0f} kbit/s"
        )
    damage = manifest.codec_psnr_y_db()
    lines.append(
        f"{out}: {manifest.train_patches} training triples, {len(manifest.val_frames)} "
        f"validation frames, {len(manifest.errors)} sources skipped; mean codec damage "
        + ("n/a" if damage is None else f"{damage:.2f} dB Y-PSNR (video-LR vs dHR)")
    )
    return "\n".join(lines)
