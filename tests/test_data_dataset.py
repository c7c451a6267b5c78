"""TripletDataset / make_loader / ValFrames over a tiny built dataset."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest
import torch

from hwsr.data import (
    TripletDataset,
    ValFrames,
    build_dataset,
    codes_to_values,
    make_loader,
)
from hwsr.data.dataset import dihedral
from hwsr.data.shards import open_npz
from hwsr.resize import imresize
from tests.test_data_media import PATCH_LR, small_config, write_still


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("ds")
    sources = [write_still(base / f"s{i}.png", seed=10 + i) for i in range(2)]
    out = base / "out"
    build_dataset(small_config(sources, out, val_sources=(sources[1],), still_frames=4))
    return out


def raw_triple(ds: TripletDataset, index: int) -> list[np.ndarray]:
    (name, n), *_ = ds.manifest.shards
    assert index < n
    z = open_npz(ds.root / name)
    return [np.asarray(z[k][index]) for k in ("lr", "dhr", "hr")]


def hwc(x: torch.Tensor) -> np.ndarray:
    return x.permute(1, 2, 0).numpy()


def test_items_are_uint8_chw_triples(root: Path) -> None:
    ds = TripletDataset(root, augment=False)
    assert len(ds) == 16  # 4 frames x 4 patches of the one training source
    lr, dhr, hr = ds[3]
    assert lr.dtype == torch.uint8 and lr.shape == dhr.shape == (3, PATCH_LR, PATCH_LR)
    assert hr.shape == (3, 3 * PATCH_LR, 3 * PATCH_LR)
    for got, want in zip((lr, dhr, hr), raw_triple(ds, 3), strict=True):
        np.testing.assert_array_equal(hwc(got), want)
    with pytest.raises(IndexError):
        ds[16]


def test_augmentation_is_identical_across_the_triple(root: Path) -> None:
    ds = TripletDataset(root, augment=True, seed=5)
    ops = [ds.symmetry(i) for i in range(len(ds))]
    assert len(set(ops)) > 3  # the draw really varies
    for i in range(len(ds)):
        sample = ds[i]
        raw = raw_triple(ds, i)
        for got, want in zip(sample, raw, strict=True):
            np.testing.assert_array_equal(hwc(got), dihedral(want, ops[i]))
        # Still aligned after the symmetry: dHR is HR x1/3 away from the patch border.
        again = imresize(hwc(sample.hr), 1 / 3).astype(np.int16)
        assert np.abs(again[2:-2, 2:-2] - hwc(sample.dhr)[2:-2, 2:-2]).max() <= 1


def test_all_eight_symmetries_are_distinct_and_keep_blocks() -> None:
    hr = np.random.default_rng(0).integers(0, 256, (6, 6, 3)).astype(np.uint8)
    lr = hr[::3, ::3]  # LR pixel (y, x) <-> HR pixel (3y, 3x) of its 3x3 block
    outs = {dihedral(hr, op).tobytes() for op in range(8)}
    assert len(outs) == 8
    block = np.kron(np.arange(4).reshape(2, 2, 1), np.ones((3, 3, 1)))
    for op in range(8):
        np.testing.assert_array_equal(
            dihedral(block, op)[1::3, 1::3], dihedral(block[1::3, 1::3], op)
        )
        assert dihedral(lr, op).shape == (2, 2, 3)


def test_augmentation_is_seeded_and_changes_per_epoch(root: Path) -> None:
    a, b = TripletDataset(root, seed=1), TripletDataset(root, seed=1)
    assert [a.symmetry(i) for i in range(16)] == [b.symmetry(i) for i in range(16)]
    before = [a.symmetry(i) for i in range(16)]
    a.set_epoch(1)
    assert [a.symmetry(i) for i in range(16)] != before


def test_loader_batches_and_pickles_without_memory_maps(root: Path) -> None:
    loader = make_loader(root, batch_size=4, seed=3)
    batches = list(loader)
    assert len(batches) == 4
    lr, dhr, hr = batches[0]
    assert lr.shape == (4, 3, PATCH_LR, PATCH_LR) and hr.shape == (4, 3, 96, 96)
    assert lr.dtype == torch.uint8
    again = [b.lr for b in make_loader(root, batch_size=4, seed=3)]
    assert all(torch.equal(x.lr, y) for x, y in zip(batches, again, strict=True))
    ds = loader.dataset
    state = pickle.loads(pickle.dumps(ds))
    assert state._open == {} and torch.equal(state[0].hr, ds[0].hr)


def test_codes_to_values_is_the_engine_convention() -> None:
    x = torch.tensor([0, 1, 255], dtype=torch.uint8)
    assert codes_to_values(x).tolist() == [0.0, 1 / 256, 255 / 256]


def test_val_frames_are_whole_frames(root: Path) -> None:
    val = ValFrames(root)
    assert len(val) == 2 and all(n.startswith("val/s1.png/") for n in val.names)
    lr, dhr, hr = val[0]
    assert lr.shape == dhr.shape and hr.shape[1:] == (3 * lr.shape[1], 3 * lr.shape[2])
    np.testing.assert_array_equal(imresize(hwc(hr), 1 / 3), hwc(dhr))
