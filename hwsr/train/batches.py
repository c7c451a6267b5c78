"""Training batches and validation frames from a dataset built by `hwsr data build`.

Every step's batch is a pure function of ``(seed, step)``: the triples it holds, their
augmentation (the dataset's dihedral symmetry, drawn from ``(seed, epoch=step, index)``)
and the crop inside each stored patch. So a resumed run sees exactly the batches the
uninterrupted run would have seen, with no sampler state to save, and the processes of a
DDP run each take their own share of one global batch (rank ``r`` takes items ``r::world``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from hwsr.data import TripletDataset, ValFrames, codes_to_values
from hwsr.data.dataset import Triple

SCALE = 3  # HR side / LR side of every triple


@dataclass(frozen=True)
class Batch:
    """One batch of aligned float triples, NCHW, values ``code / 256``."""

    lr: torch.Tensor  # video-LR (N, 3, p, p)
    dhr: torch.Tensor  # downscaled HR without codec (N, 3, p, p)
    hr: torch.Tensor  # UHD target (N, 3, 3p, 3p)

    def to(self, device: torch.device) -> Batch:
        return Batch(self.lr.to(device), self.dhr.to(device), self.hr.to(device))


class PatchBatches:
    """Random crops of the dataset's triples; ``batch(step)`` is this rank's share.

    ``mix`` adds more dataset folders: their triples join ``root``'s in one pool that every
    batch draws from uniformly (a folder's share of a batch is its share of the pool), so a
    mix of codecs and rate factors trains one engine. Index ``i`` of the pool is triple ``i``
    of ``root``, then of each ``mix`` folder in order.
    """

    def __init__(self, root: Path | str, batch_size: int, crop_lr_px: int, seed: int,
                 rank: int = 0, world: int = 1, mix: Sequence[Path | str] = ()) -> None:
        if batch_size % world:
            raise ValueError(f"batch_size {batch_size} must be a multiple of the {world} "
                             "processes")
        self.parts = [TripletDataset(r, augment=True, seed=seed) for r in (root, *mix)]
        self.starts = np.cumsum([0] + [len(d) for d in self.parts])
        total = int(self.starts[-1])
        where = root if not mix else f"{root} + {len(mix)} mix folders"
        if total < batch_size:
            raise ValueError(f"{where}: {total} training triples, fewer than one batch of "
                             f"{batch_size}")
        patches = {int(d[0].lr.shape[-1]) for d in self.parts if len(d)}
        if len(patches) != 1:
            raise ValueError(f"{where}: the folders' patches differ in size {sorted(patches)}")
        patch = patches.pop()
        if crop_lr_px > patch:
            raise ValueError(f"crop_lr_px {crop_lr_px} exceeds the dataset's {patch} px patches")
        self.total = total
        self.batch_size, self.crop, self.patch = batch_size, crop_lr_px, patch
        self.seed, self.rank, self.world = seed, rank, world

    @staticmethod
    def patch_size(root: Path | str) -> int:
        """LR side of the dataset's stored patches (the largest crop it allows)."""
        return int(TripletDataset(root, augment=False)[0].lr.shape[-1])

    def full_batch(self, step: int) -> Batch:
        """All items of global batch ``step`` (every rank gets the same: calibration)."""
        return self._items(step, 0, 1)

    def batch(self, step: int) -> Batch:
        """This rank's items of global batch ``step`` (deterministic for a seed)."""
        return self._items(step, self.rank, self.world)

    def _items(self, step: int, rank: int, world: int) -> Batch:
        rng = np.random.default_rng([self.seed, step])
        index = rng.choice(self.total, size=self.batch_size, replace=False)
        corner = rng.integers(0, self.patch - self.crop + 1, size=(self.batch_size, 2))
        for part in self.parts:
            part.set_epoch(step)
        lrs, dhrs, hrs = [], [], []
        for i in range(rank, self.batch_size, world):
            t = self.triple(int(index[i]))
            y, x = (int(v) for v in corner[i])
            c = self.crop
            lrs.append(t.lr[:, y:y + c, x:x + c])
            dhrs.append(t.dhr[:, y:y + c, x:x + c])
            hrs.append(t.hr[:, SCALE * y:SCALE * (y + c), SCALE * x:SCALE * (x + c)])
        return Batch(*(codes_to_values(torch.stack(v)) for v in (lrs, dhrs, hrs)))


    def triple(self, index: int) -> Triple:
        """Triple ``index`` of the pool (``root``'s first, then each mix folder's)."""
        k = int(np.searchsorted(self.starts, index, side="right")) - 1
        return self.parts[k][index - int(self.starts[k])]


def centre_crop(frame_chw: torch.Tensor, side_lr_px: int, scale: int) -> torch.Tensor:
    """The centre ``side·scale`` square of a CHW frame whose LR twin is cropped to ``side``.

    LR, dHR and HR of a triple are cropped at the same LR corner, so they stay aligned.
    """
    h, w = (int(s) // scale for s in frame_chw.shape[-2:])
    side_h, side_w = min(side_lr_px, h), min(side_lr_px, w)
    y, x = (h - side_h) // 2, (w - side_w) // 2
    return frame_chw[:, scale * y:scale * (y + side_h), scale * x:scale * (x + side_w)]


def val_triples(root: Path | str, count: int, crop_lr_px: int) -> list:  # type: ignore[type-arg]
    """The first ``count`` validation triples (0: all), uint8 CHW, centre-cropped if > 0."""
    frames = ValFrames(root)
    n = len(frames) if count == 0 else min(count, len(frames))
    out = []
    for i in range(n):
        t = frames[i]
        if crop_lr_px:
            t = type(t)(centre_crop(t.lr, crop_lr_px, 1), centre_crop(t.dhr, crop_lr_px, 1),
                        centre_crop(t.hr, crop_lr_px, SCALE))
        out.append(t)
    return out


def val_frames(root: Path | str, count: int, crop_lr_px: int) -> list[Batch]:
    """The first ``count`` validation frames (0: all), each a batch of one; cropped if >0."""
    return [Batch(*(codes_to_values(v[None]) for v in t))
            for t in val_triples(root, count, crop_lr_px)]
