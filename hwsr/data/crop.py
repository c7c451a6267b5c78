"""A dataset cut down to travel: validation frames centre-cropped, training shards optional.

A GPU lease carries at most 64 MiB of files, and one whole held-out 5K frame is 52 MB of
uint8 (LR, dHR and HR). Scoring on centre crops of ``crop_lr_px`` LR pixels (the trainer's
validation protocol) needs only those crops, so the copy keeps just them: evaluated with
the same ``crop_lr_px``, the copy gives exactly the pixels the original gives. Its
manifest says what was cut (``config["cut"]``) and lists only the files it holds.
"""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path

import numpy as np

from hwsr.atomic import atomic_dir
from hwsr.data.manifest import Manifest
from hwsr.data.shards import open_npz, write_npz

SCALE = 3  # HR is three times LR


def centre_crop_hwc(frame: np.ndarray, side_lr_px: int, scale: int) -> np.ndarray:
    """The centre ``side·scale`` square of an HWC frame whose LR twin is cropped to ``side``
    (LR, dHR and HR of one triple stay aligned: the corner is chosen on the LR grid).

    >>> centre_crop_hwc(np.arange(36).reshape(6, 6, 1), 2, 1)[..., 0]
    array([[14, 15],
           [20, 21]])
    """
    h, w = frame.shape[0] // scale, frame.shape[1] // scale
    side_h, side_w = min(side_lr_px, h), min(side_lr_px, w)
    y, x = (h - side_h) // 2, (w - side_w) // 2
    return frame[scale * y:scale * (y + side_h), scale * x:scale * (x + side_w)]


def cropped_copy(src: Path, dst: Path, crop_lr_px: int, with_train: bool = True) -> Manifest:
    """Write ``dst``: ``src``'s validation frames centre-cropped to ``crop_lr_px`` LR pixels,
    and its training shards copied as they are (``with_train``) or left out."""
    if crop_lr_px < 1:
        raise ValueError(f"crop_lr_px must be >= 1, got {crop_lr_px}")
    manifest = Manifest.load(src)
    sources = tuple(s if with_train else dataclasses.replace(s, shards=(), patches=0)
                    for s in manifest.sources)
    cut = {"from": str(src), "val_centre_crop_lr_px": crop_lr_px, "train": with_train}
    out = dataclasses.replace(manifest, config={**manifest.config, "cut": cut},
                              sources=sources)
    with atomic_dir(dst) as tmp:
        for name in out.val_frames:
            arrays = open_npz(src / name)
            (tmp / name).parent.mkdir(parents=True, exist_ok=True)
            write_npz(tmp / name, {k: centre_crop_hwc(v, crop_lr_px, SCALE if k == "hr" else 1)
                                   for k, v in arrays.items()})
        for name, _ in out.shards:
            (tmp / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(src / name, tmp / name)
        out.save(tmp)
    return out
