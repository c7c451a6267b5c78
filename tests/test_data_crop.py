"""``hwsr data crop``: a dataset cut down to carry, scored with the same crop, is the same."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from hwsr.data import Manifest
from hwsr.data.crop import centre_crop_hwc, cropped_copy
from hwsr.data.shards import open_npz
from hwsr.train.batches import val_triples
from tests.toy_data import make_toy_dataset


@pytest.fixture(scope="module")
def toy(tmp_path_factory) -> Path:
    return make_toy_dataset(tmp_path_factory.mktemp("crop") / "ds", patches=6, patch_lr_px=12,
                            val_frames=3, val_lr_px=25)


@pytest.mark.parametrize("side", [8, 11, 25, 40])
def test_the_copy_holds_exactly_the_crop_the_trainer_and_the_ladder_score(toy, tmp_path, side):
    copy = tmp_path / f"cut{side}"
    m = cropped_copy(toy, copy, side)
    for a, b in zip(val_triples(toy, 0, side), val_triples(copy, 0, side), strict=True):
        for x, y in zip(a, b, strict=True):
            assert x.dtype == y.dtype and np.array_equal(x.numpy(), y.numpy())
    assert m.config["cut"] == {"from": str(toy), "val_centre_crop_lr_px": side, "train": True}
    for name, _ in Manifest.load(toy).shards:  # training shards: byte for byte
        assert (copy / name).read_bytes() == (toy / name).read_bytes()
    assert Manifest.load(copy).train_patches == Manifest.load(toy).train_patches


def test_without_train_the_manifest_lists_only_what_is_there(toy, tmp_path):
    m = cropped_copy(toy, tmp_path / "val-only", 10, with_train=False)
    assert m.shards == () and m.train_patches == 0 and not (tmp_path / "val-only/train").exists()
    hr = open_npz(tmp_path / "val-only" / m.val_frames[0])["hr"]
    assert hr.shape == (30, 30, 3)


def test_the_crop_keeps_lr_and_hr_aligned_on_odd_sizes():
    lr = np.arange(7 * 5).reshape(7, 5, 1)
    hr = np.repeat(np.repeat(lr, 3, axis=0), 3, axis=1)  # nearest x3 of LR
    a, b = centre_crop_hwc(lr, 3, 1), centre_crop_hwc(hr, 3, 3)
    assert np.array_equal(np.repeat(np.repeat(a, 3, axis=0), 3, axis=1), b)


def test_the_command_refuses_an_existing_output_in_one_line(toy, tmp_path):
    (tmp_path / "there").mkdir()
    proc = subprocess.run([sys.executable, "-m", "hwsr", "data", "crop", "--src", str(toy),
                           "--out", str(tmp_path / "there"), "--crop-lr", "8"],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1 and proc.stderr.count("\n") == 1 and "exists" in proc.stderr
