"""A tiny synthetic dataset in the `hwsr data build` format: the trainer tests' fixture data.

No codec: video-LR is dHR with a blocky 4×4 "codec" (each block pulled halfway to its mean)
and a little noise, which is enough for Net1 to have something to learn. HR is smooth
random texture with a few hard edges; dHR is HR shrunk ×1/3 by hwsr's bicubic resizer.
Real training data comes from `hwsr.data.build_dataset` with a real encoder.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from hwsr.data import Manifest, SourceRecord
from hwsr.resize import imresize

_SCALE = 3
_BLOCK = 4  # side of the fake codec's blocks, LR pixels


def _hr_image(rng: np.random.Generator, side_hr: int) -> np.ndarray:
    coarse = rng.uniform(0, 255, size=(side_hr // 12 + 2, side_hr // 12 + 2, 3))
    img = imresize(coarse, size=(side_hr, side_hr))
    for _ in range(3):  # hard edges: what SR must not blur
        y, x = rng.integers(0, side_hr, size=2)
        img[y:, x:] = 0.5 * img[y:, x:] + 0.5 * rng.uniform(0, 255, size=3)
    return np.clip(np.rint(img), 0, 255).astype(np.uint8)


def fake_codec(dhr_u8: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Blocky damage: each 4×4 block pulled halfway to its mean, plus ±2 codes of noise."""
    x = dhr_u8.astype(np.float64)
    h, w = (s - s % _BLOCK for s in x.shape[:2])
    blocks = x[:h, :w].reshape(h // _BLOCK, _BLOCK, w // _BLOCK, _BLOCK, 3)
    means = blocks.mean(axis=(1, 3), keepdims=True)
    x[:h, :w] = (0.5 * blocks + 0.5 * means).reshape(h, w, 3)
    x += rng.uniform(-2, 2, size=x.shape)
    return np.clip(np.rint(x), 0, 255).astype(np.uint8)


def _triple(rng: np.random.Generator, side_lr: int) -> tuple[np.ndarray, ...]:
    hr = _hr_image(rng, _SCALE * side_lr)
    dhr = imresize(hr, 1 / _SCALE)
    return fake_codec(dhr, rng), dhr, hr


def make_toy_dataset(root: Path | str, patches: int = 32, patch_lr_px: int = 16,
                     val_frames: int = 2, val_lr_px: int = 24, seed: int = 0) -> Path:
    """Write a finished dataset folder (manifest last) and return its path."""
    root = Path(root)
    (root / "train").mkdir(parents=True, exist_ok=True)
    (root / "val").mkdir(exist_ok=True)
    rng = np.random.default_rng(seed)
    lrs, dhrs, hrs = zip(*(_triple(rng, patch_lr_px) for _ in range(patches)), strict=True)
    shard = "train/toy-0000.npz"
    np.savez(root / shard, lr=np.stack(lrs), dhr=np.stack(dhrs), hr=np.stack(hrs))
    names = []
    for i in range(val_frames):
        lr, dhr, hr = _triple(rng, val_lr_px)
        names.append(f"val/frame-{i:05d}.npz")
        np.savez(root / names[-1], lr=lr, dhr=dhr, hr=hr)
    side = _SCALE * patch_lr_px
    records = (
        SourceRecord(name="toy", path="toy", kind="still", split="train", ok=True,
                     frames=patches, hr_hw=(side, side), patches=patches,
                     shards=((shard, patches),)),
        SourceRecord(name="toy-val", path="toy-val", kind="still", split="val", ok=True,
                     frames=val_frames, hr_hw=(_SCALE * val_lr_px,) * 2,
                     val_frames=tuple(names)),
    )
    Manifest(config={"synthetic": True, "seed": seed}, sources=records).save(root)
    return root
