"""Benchmark of ``hwsr data build``: training triples per second on this machine.

Default: a small build from generated textured stills (no input files needed)::

    python benchmarks/bench_data.py                       # 4 stills, HR 720x1280
    python benchmarks/bench_data.py --hr 2160x3840 --stills 1
    python benchmarks/bench_data.py --src /usr/share/wallpapers/Kokkini/contents/images/3840x2160.png

Prints one Markdown table row per run (for ``benchmarks/results/data.md``). The cost is
per frame (decode or camera warp, ×1/3 resize, encode, decode), so triples/s scales with
``--patches-per-frame``; frames/s is the number that carries over between settings.
"""

from __future__ import annotations

import argparse
import os
import platform
import tempfile
import time
from datetime import date
from pathlib import Path

import numpy as np
from PIL import Image

from hwsr.data import BuildConfig, build_dataset


def synthetic_still(hw: tuple[int, int], seed: int) -> np.ndarray:
    """Textured uint8 RGB frame: gradients, sinusoids of several periods, random boxes."""
    rng = np.random.default_rng(seed)
    h, w = hw
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    img = np.empty((h, w, 3), np.float32)
    for c in range(3):
        img[..., c] = (
            128
            + 45 * np.sin(xx / rng.uniform(2, 9) + yy / rng.uniform(20, 60))
            + 35 * np.cos(yy / rng.uniform(2, 9))
            + 50 * (xx / w - yy / h)
        )
    for _ in range(200):
        y0, x0 = rng.integers(0, h - 8), rng.integers(0, w - 8)
        size = rng.integers(4, max(8, min(h, w) // 8), 2)
        img[y0 : y0 + size[0], x0 : x0 + size[1]] = rng.uniform(0, 255, 3)
    return np.clip(img, 0, 255).astype(np.uint8)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--src", nargs="+", type=Path, help="real sources (default: generated stills)")
    p.add_argument("--hr", default="720x1280", help="generated still size HxW")
    p.add_argument("--stills", type=int, default=4, help="generated stills")
    p.add_argument("--frames", type=int, default=12, help="frames per still clip")
    p.add_argument("--patch-lr", type=int, default=128)
    p.add_argument("--patches-per-frame", type=int, default=8)
    p.add_argument("--codec", default="libx264")
    p.add_argument("--crf", type=float, default=23.0)
    p.add_argument("--preset", default="medium")
    args = p.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        sources = args.src
        if not sources:
            hw = tuple(int(v) for v in args.hr.lower().split("x"))
            sources = []
            for i in range(args.stills):
                path = root / f"still{i}.png"
                Image.fromarray(synthetic_still(hw, i)).save(path, compress_level=1)
                sources.append(path)
        cfg = BuildConfig(
            sources=tuple(sources), out_dir=root / "out", val_fraction=0.0,
            codec=args.codec, crf=args.crf, preset=args.preset, patch_lr_px=args.patch_lr,
            patches_per_frame=args.patches_per_frame, still_frames=args.frames,
        )  # fmt: skip
        start = time.perf_counter()
        manifest = build_dataset(cfg, progress=False)
        seconds = time.perf_counter() - start

    frames = sum(s.frames for s in manifest.sources if s.ok)
    hr = manifest.sources[0].hr_hw
    what = "generated stills" if not args.src else ", ".join(p.name for p in args.src)
    print(
        "| date | machine | input | HR frame | codec | frames | triples | s | triples/s "
        "| frames/s | codec damage dB |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    print(
        f"| {date.today()} | {platform.machine()}, {os.cpu_count()} cores | "
        f"{len(manifest.sources)} × {what} | {hr[1]}x{hr[0]} | {cfg.codec_summary()} "
        f"{args.preset} | {frames} | {manifest.train_patches} | {seconds:.1f} | "
        f"{manifest.train_patches / seconds:.2f} | {frames / seconds:.2f} | "
        f"{manifest.codec_psnr_y_db():.2f} |"
    )


if __name__ == "__main__":
    main()
