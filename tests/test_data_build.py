"""End-to-end dataset builds through the real x264 encoder, on tiny generated frames."""

from __future__ import annotations

import logging
import math
from pathlib import Path

import numpy as np
import pytest

from hwsr.data import DataError, Manifest, build_dataset
from hwsr.data import build as build_module
from hwsr.data.shards import open_npz
from hwsr.metrics import psnr_y
from hwsr.resize import imresize
from tests.test_data_media import (
    HR_HW,
    PATCH_LR,
    VIDEO_FRAMES,
    small_config,
    video_frames,
    write_still,
    write_video,
)


@pytest.fixture(scope="module")
def media(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("media")
    src = root / "src"
    src.mkdir()
    for i in range(2):
        write_still(src / f"still{i}.png", seed=i)
    # Odd size: the build must crop bottom/right to 216x288 (multiples of 6).
    frames = video_frames((HR_HW[0] + 5, HR_HW[1] + 4), VIDEO_FRAMES, seed=7)
    write_video(src / "clip.mkv", frames)
    np.save(root / "clip_frames.npy", np.stack(frames))
    return {"root": root, "src": src, "frames": root / "clip_frames.npy"}


@pytest.fixture(scope="module")
def built(media: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("built") / "ds"
    build_dataset(small_config([media["src"]], out, val_sources=(media["src"] / "clip.mkv",)))
    return out


def best_shift(a: np.ndarray, b: np.ndarray, reach: int = 2) -> tuple[int, int]:
    """Integer (dy, dx) in -reach..reach minimizing the MSE of a shifted against b."""
    h, w = a.shape[:2]
    core = b[reach : h - reach, reach : w - reach].astype(np.float64)
    errors = {
        (dy, dx): np.mean((a[reach + dy : h - reach + dy, reach + dx : w - reach + dx] - core) ** 2)
        for dy in range(-reach, reach + 1)
        for dx in range(-reach, reach + 1)
    }
    return min(errors, key=errors.__getitem__)


def all_triples(root: Path) -> dict[str, np.ndarray]:
    manifest = Manifest.load(root)
    parts = [open_npz(root / f) for f, _ in manifest.shards]
    return {k: np.concatenate([p[k] for p in parts]) for k in ("lr", "dhr", "hr")}


def test_layout_counts_and_shapes(built: Path) -> None:
    manifest = Manifest.load(built)
    assert (built / "manifest.json").is_file()
    assert [s.split for s in manifest.sources] == ["train", "train", "val"]
    assert all(s.ok for s in manifest.sources)
    train = [s for s in manifest.sources if s.split == "train"]
    assert [s.frames for s in train] == [8, 8] and all(s.patches == 32 for s in train)
    assert manifest.train_patches == 64 and [n for _, n in manifest.shards] == [20, 12] * 2
    t = all_triples(built)
    assert t["lr"].shape == t["dhr"].shape == (64, PATCH_LR, PATCH_LR, 3)
    assert t["hr"].shape == (64, 3 * PATCH_LR, 3 * PATCH_LR, 3)
    assert all(a.dtype == np.uint8 for a in t.values())
    cfg = manifest.config
    assert cfg["codec"] == "libx264" and cfg["crf"] == 30 and cfg["resizer"]
    assert not any(p.name.startswith(".") for p in built.parent.iterdir())  # no leftovers


def test_triples_are_aligned(built: Path) -> None:
    t = all_triples(built)
    for lr, dhr, hr in zip(t["lr"], t["dhr"], t["hr"], strict=True):
        assert best_shift(lr.astype(np.float64), dhr) == (0, 0)
        # dHR is HR ×1/3: the patch interior (past the kernel's 2-pixel reach) recomputes.
        again = imresize(hr, 1 / 3).astype(np.int16)
        assert np.abs(again[2:-2, 2:-2] - dhr[2:-2, 2:-2]).max() <= 1


def test_video_source_cropped_bottom_right_and_frames_in_order(
    built: Path, media: dict[str, Path]
) -> None:
    manifest = Manifest.load(built)
    (clip,) = [s for s in manifest.sources if s.kind == "video"]
    assert clip.split == "val" and clip.frames == VIDEO_FRAMES and clip.hr_hw == HR_HW
    frames = np.load(media["frames"])
    assert len(clip.val_frames) == 2
    for rel in clip.val_frames:
        index = int(rel.rsplit("-", 1)[1].split(".")[0])
        z = open_npz(built / rel)
        np.testing.assert_array_equal(z["hr"], frames[index][: HR_HW[0], : HR_HW[1]])
        np.testing.assert_array_equal(z["dhr"], imresize(z["hr"], 1 / 3))
        assert z["lr"].shape == z["dhr"].shape and best_shift(z["lr"] * 1.0, z["dhr"]) == (0, 0)


def test_video_lr_is_measurably_worse_than_dhr(media: dict[str, Path], tmp_path: Path) -> None:
    still = [media["src"] / "still0.png"]
    lossy = build_dataset(small_config(still, tmp_path / "lossy"))
    near_lossless = build_dataset(small_config(still, tmp_path / "ref", crf=0.0))
    damage = lossy.sources[0].codec_psnr_y_db
    reference = near_lossless.sources[0].codec_psnr_y_db
    # crf 0 is lossless in Y'CbCr; what remains is 4:2:0 chroma and RGB rounding.
    assert math.isfinite(damage) and damage < reference - 6.0, (damage, reference)
    t = all_triples(tmp_path / "lossy")
    assert np.mean([psnr_y(a, b, 0) for a, b in zip(t["lr"], t["dhr"], strict=True)]) < 40


@pytest.fixture(scope="module")
def twin_builds(media: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Three builds of the same sources: a and b with one seed, c with another."""
    root = tmp_path_factory.mktemp("twins")
    sources = [media["src"] / "still1.png", media["src"] / "clip.mkv"]
    for name, seed in (("a", 0), ("b", 0), ("c", 1)):
        build_dataset(small_config(sources, root / name, seed=seed))
    return root


def test_same_seed_gives_identical_hr_dhr_and_patch_layout(twin_builds: Path) -> None:
    a, b, c = (Manifest.load(twin_builds / n) for n in "abc")
    assert a.shards == b.shards
    ta, tb = all_triples(twin_builds / "a"), all_triples(twin_builds / "b")
    for key in ("hr", "dhr"):
        assert np.array_equal(ta[key], tb[key]), key
    assert not np.array_equal(ta["hr"], all_triples(twin_builds / "c")["hr"])
    assert c.train_patches == a.train_patches


def test_same_seed_gives_byte_identical_shards(twin_builds: Path) -> None:
    for rel, _ in Manifest.load(twin_builds / "a").shards:
        assert (twin_builds / "a" / rel).read_bytes() == (twin_builds / "b" / rel).read_bytes()
    assert (twin_builds / "a" / "manifest.json").read_bytes() == (
        twin_builds / "b" / "manifest.json"
    ).read_bytes()


@pytest.fixture()
def bad_sources(media: dict[str, Path], tmp_path: Path) -> list[Path]:
    (tmp_path / "text.png").write_text("not an image")
    (tmp_path / "notes.xyz").write_text("not a video either")
    data = (media["src"] / "clip.mkv").read_bytes()
    (tmp_path / "cut.mkv").write_bytes(data[: len(data) // 2])
    write_still(tmp_path / "tiny.png", seed=3, hw=(90, 120))  # < one 96x96 HR patch after crop
    return [tmp_path / n for n in ("text.png", "notes.xyz", "cut.mkv", "tiny.png", "missing.mp4")]


def test_bad_sources_reported_and_skipped(
    media: dict[str, Path], bad_sources: list[Path], tmp_path: Path, caplog
) -> None:
    good = media["src"] / "still0.png"
    with caplog.at_level(logging.ERROR, logger="hwsr.data"):
        manifest = build_dataset(small_config([*bad_sources, good], tmp_path / "out"))
    reasons = dict(manifest.errors)
    assert set(reasons) == {str(p) for p in bad_sources}
    assert "not a recognised image" in reasons[str(bad_sources[0])]
    assert "not a readable video" in reasons[str(bad_sources[1])]
    assert "truncated" in reasons[str(bad_sources[2])]
    assert "smaller than one 96x96 HR patch" in reasons[str(bad_sources[3])]
    assert "no such file" in reasons[str(bad_sources[4])]
    logged = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert len(logged) == 5 and all("\n" not in m for m in logged)
    assert all(any(str(p) in m for m in logged) for p in bad_sources)
    assert manifest.train_patches == 32  # the good source was still built
    assert not list((tmp_path / "out" / "train").glob("cut.mkv*"))  # nothing of a failed one


def test_strict_stops_at_first_bad_source(
    media: dict[str, Path], bad_sources: list[Path], tmp_path: Path
) -> None:
    cfg = small_config([media["src"] / "still0.png", bad_sources[2]], tmp_path / "out", strict=True)
    with pytest.raises(DataError, match="cut.mkv: truncated"):
        build_dataset(cfg)
    assert not (tmp_path / "out").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no partial folder


def test_interrupted_build_leaves_nothing_finished(
    media: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = build_module.build_source
    calls = []

    def dies_on_second(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt  # Ctrl-C in the middle of the build
        return real(*args, **kwargs)

    monkeypatch.setattr(build_module, "build_source", dies_on_second)
    out = tmp_path / "ds"
    with pytest.raises(KeyboardInterrupt):
        build_dataset(small_config([media["src"]], out))
    assert len(calls) == 2
    assert not out.exists() and not list(tmp_path.glob(".out*"))  # nor a partial folder


def test_existing_output_needs_overwrite(media: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "ds"
    out.mkdir()
    (out / "keep.txt").write_text("x")
    cfg = small_config([media["src"] / "still0.png"], out)
    with pytest.raises(DataError, match="exists"):
        build_dataset(cfg)
    assert (out / "keep.txt").exists()
    build_dataset(cfg, overwrite=True)
    assert (out / "manifest.json").exists() and not (out / "keep.txt").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ds"]


def test_all_sources_failing_is_an_error(bad_sources: list[Path], tmp_path: Path) -> None:
    with pytest.raises(DataError, match="no usable training source; 2 unusable: ") as err:
        build_dataset(small_config(bad_sources[:2], tmp_path / "out"))
    assert all(str(p) in str(err.value) for p in bad_sources[:2]) and "\n" not in str(err.value)
    assert not (tmp_path / "out").exists()


def test_only_unusable_sources_is_one_line_naming_them(bad_sources: list[Path],
                                                        tmp_path: Path) -> None:
    """Issue 30: the command printed each source's line and then the refusal, 3 lines."""
    import subprocess
    import sys

    out = tmp_path / "out"
    proc = subprocess.run([sys.executable, "-m", "hwsr", "data", "build", "--no-progress",
                           "--src", *map(str, bad_sources[:3]), "--out", str(out)],
                          capture_output=True, text=True, timeout=120)
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 1 and len(lines) == 1, proc.stderr
    assert "no usable training source; 3 unusable" in lines[0]
    assert all(str(p) in lines[0] for p in bad_sources[:3]) and proc.stdout == ""
    assert not out.exists() and not list(tmp_path.glob(".out*"))  # nor a partial folder


def test_other_codec_and_bitrate_mode(media: dict[str, Path], tmp_path: Path) -> None:
    still = [media["src"] / "still1.png"]
    hevc = build_dataset(small_config(still, tmp_path / "hevc", codec="libx265", preset="fast"))
    low = build_dataset(small_config(still, tmp_path / "low", crf=None, bitrate_kbps=30))
    high = build_dataset(small_config(still, tmp_path / "high", crf=None, bitrate_kbps=600))
    assert math.isfinite(hevc.sources[0].codec_psnr_y_db)
    assert low.sources[0].codec_psnr_y_db < high.sources[0].codec_psnr_y_db
    assert low.sources[0].lr_kbps < high.sources[0].lr_kbps
