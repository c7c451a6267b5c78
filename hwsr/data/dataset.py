"""PyTorch access to a built dataset: training triples with shared augmentation, val frames.

Items are uint8 CHW tensors (RGB codes, 4× smaller than float32 in host memory and in the
DataLoader's queues). The training side converts them to engine values with
`codes_to_values` (``code / 256``, the engine's uint8 input with scale 2**-8) after moving
the batch to its device.

Augmentation is one of the 8 symmetries of the square (0-3 quarter turns, then an optional
left-right flip), drawn per item from ``(seed, epoch, index)`` and applied identically to
LR, dHR and HR, so a triple stays aligned (LR pixel ``(y, x)`` still covers HR pixels
``3y..3y+2, 3x..3x+2``). The draw does not depend on worker count or order.
"""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from hwsr.data.manifest import Manifest
from hwsr.data.shards import open_npz
from hwsr.imageio import CODE_SCALE

N_SYMMETRIES = 8


class Triple(NamedTuple):
    """One aligned sample; uint8 tensors 3×H×W (a batch adds a leading N)."""

    lr: torch.Tensor  # video-LR: coded and decoded 1/3-size frame, Net1's input
    dhr: torch.Tensor  # downscaled HR without codec: Net1's target, the teacher's input
    hr: torch.Tensor  # UHD target of Net2, 3× the side of lr


def codes_to_values(x_u8: torch.Tensor) -> torch.Tensor:
    """uint8 codes -> float32 engine values ``code / 256`` (exact in float32).

    >>> codes_to_values(torch.tensor([0, 128, 255], dtype=torch.uint8)).tolist()
    [0.0, 0.5, 0.99609375]
    """
    return x_u8.to(torch.float32) * (1.0 / CODE_SCALE)


def dihedral(frame_hwc: np.ndarray, op: int) -> np.ndarray:
    """Symmetry ``op`` (0..7) of an HWC frame: ``op % 4`` quarter turns, then a flip if >= 4.

    >>> a = np.arange(4).reshape(2, 2, 1)
    >>> dihedral(a, 1)[..., 0].tolist(), dihedral(a, 4)[..., 0].tolist()
    ([[1, 3], [0, 2]], [[1, 0], [3, 2]])
    """
    out = np.rot90(frame_hwc, k=op % 4, axes=(0, 1))
    return out[:, ::-1] if op >= 4 else out


def _chw(frame_hwc: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(np.transpose(frame_hwc, (2, 0, 1))))


class TripletDataset(Dataset[Triple]):
    """Training triples of a dataset folder, read from memory-mapped shards on demand."""

    def __init__(self, root: Path | str, *, augment: bool = True, seed: int = 0) -> None:
        self.root = Path(root)
        self.manifest = Manifest.load(self.root)
        self.files = [self.root / name for name, _ in self.manifest.shards]
        counts = np.array([n for _, n in self.manifest.shards], dtype=np.int64)
        self._ends = np.cumsum(counts)
        self.augment, self.seed, self.epoch = augment, seed, 0
        self._open: dict[int, dict[str, np.ndarray]] = {}

    def __len__(self) -> int:
        return int(self._ends[-1]) if len(self._ends) else 0

    def set_epoch(self, epoch: int) -> None:
        """Draw a fresh set of augmentations (call before iterating each epoch)."""
        self.epoch = int(epoch)

    def symmetry(self, index: int) -> int:
        """The augmentation op of item ``index`` this epoch (0 when augment is off)."""
        if not self.augment:
            return 0
        return int(np.random.default_rng([self.seed, self.epoch, index]).integers(N_SYMMETRIES))

    def __getitem__(self, index: int) -> Triple:
        if not 0 <= index < len(self):
            raise IndexError(f"index {index} out of range for {len(self)} triples")
        shard = int(np.searchsorted(self._ends, index, side="right"))
        row = index - (int(self._ends[shard - 1]) if shard else 0)
        arrays = self._open.get(shard)
        if arrays is None:
            arrays = self._open[shard] = open_npz(self.files[shard])
        op = self.symmetry(index)
        return Triple(*(_chw(dihedral(arrays[k][row], op)) for k in ("lr", "dhr", "hr")))

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        state["_open"] = {}  # memory maps are reopened in each worker, never pickled
        return state


class ValFrames(Dataset[Triple]):
    """Whole validation frames (no augmentation); ``names[i]`` is the file of item ``i``."""

    def __init__(self, root: Path | str) -> None:
        self.root = Path(root)
        self.names = list(Manifest.load(self.root).val_frames)

    def __len__(self) -> int:
        return len(self.names)

    def __getitem__(self, index: int) -> Triple:
        with np.load(self.root / self.names[index]) as z:
            return Triple(*(_chw(z[k]) for k in ("lr", "dhr", "hr")))


def make_loader(
    root: Path | str,
    batch_size: int,
    *,
    shuffle: bool = True,
    augment: bool = True,
    seed: int = 0,
    num_workers: int = 0,
    drop_last: bool = True,
) -> DataLoader:
    """DataLoader of `Triple` batches (uint8 N×3×H×W), shuffled and augmented from ``seed``.

    Call ``loader.dataset.set_epoch(e)`` before each epoch for new augmentations; the
    shuffle order already changes every epoch (seeded generator).
    """
    dataset = TripletDataset(root, augment=augment, seed=seed)
    generator = torch.Generator().manual_seed(seed)
    return DataLoader(
        dataset,
        batch_size=batch_size,
        shuffle=shuffle,
        drop_last=drop_last,
        num_workers=num_workers,
        generator=generator,
        persistent_workers=False,
    )
