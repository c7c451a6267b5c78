"""Unit tests of the data builder's pieces: config, sources, camera, codec, shards, CLI."""

from __future__ import annotations

import argparse
import hashlib
import zipfile
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from hwsr.data import BuildConfig, DataError, Manifest, codec
from hwsr.data.build import plan_sources
from hwsr.data.camera import camera_path, still_clip, still_frame_size
from hwsr.data.cli import config_from_args, register_cli
from hwsr.data.codec import X264_CPU_AVX2, LrEncoder, decode_lr, to_rgb, to_yuv420
from hwsr.data.shards import open_npz, write_npz
from hwsr.data.sources import crop_hr, expand_sources, name_sources
from hwsr.data.triples import draw_positions, val_indices
from tests.test_data_media import small_config, texture, write_still


def cfg(**changes) -> BuildConfig:
    return BuildConfig(sources=(Path("x.png"),), out_dir=Path("out"), **changes)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"codec": "no-such-codec"}, "unknown codec"),
        ({"codec": "pcm_s16le", "crf": None, "bitrate_kbps": 100}, "not a video encoder"),
        ({"crf": 70.0}, "outside libx264's range"),
        ({"codec": "mpeg4"}, "no CRF mode"),
        ({"crf": None, "bitrate_kbps": 0}, "bitrate_kbps"),
        ({"crf": None}, "exactly one"),
        ({"bitrate_kbps": 500}, "exactly one"),
        ({"patches_per_frame": 0}, "patches_per_frame"),
        ({"val_fraction": 1.0}, "val_fraction"),
        ({"still_zoom": -0.1}, "still_zoom"),
    ],
)
def test_config_refuses_bad_settings(changes: dict, message: str) -> None:
    with pytest.raises(DataError, match=message):
        cfg(**changes)


def test_config_defaults_are_the_papers_patch_sizes() -> None:
    c = cfg()
    assert (c.patch_lr_px, c.patch_hr_px, c.scale) == (128, 384, 3)
    assert c.codec_summary() == "libx264 crf 23 gop 30"
    assert cfg(codec="mpeg4", crf=None, bitrate_kbps=800).codec_summary().endswith("kbit/s gop 30")


def test_crop_is_bottom_right_to_multiples_of_six() -> None:
    frame = np.arange(17 * 23 * 3, dtype=np.uint8).reshape(17, 23, 3)
    np.testing.assert_array_equal(crop_hr(frame), frame[:12, :18])


def test_sources_expand_folders_and_get_unique_names(tmp_path: Path) -> None:
    for d in ("a", "b"):
        (tmp_path / d).mkdir()
        write_still(tmp_path / d / "2160.png", seed=0, hw=(12, 12))
    (tmp_path / "a" / "notes.txt").write_text("skip me")
    (tmp_path / "a" / ".hidden.png").write_text("skip me")
    files, errors = expand_sources([tmp_path, tmp_path / "a" / "2160.png", tmp_path / "nope"])
    assert [f.relative_to(tmp_path).as_posix() for f in files] == ["a/2160.png", "b/2160.png"]
    assert errors == [(str(tmp_path / "nope"), "no such file or folder")]
    names = [s.name for s in name_sources(files)]
    assert names == ["a__2160.png", "b__2160.png"]


def test_val_split_by_fraction_is_seeded_and_disjoint(tmp_path: Path) -> None:
    files = [write_still(tmp_path / f"{i}.png", seed=i, hw=(12, 12)) for i in range(10)]
    c = small_config(files, tmp_path / "out", val_fraction=0.2, seed=4)
    plan, failed = plan_sources(c)
    val = [s.name for s, split in plan if split == "val"]
    assert len(val) == 2 and not failed and len(plan) == 10
    assert [s.name for s, sp in plan_sources(c)[0] if sp == "val"] == val
    explicit = small_config(files, tmp_path / "out", val_sources=(files[3],))
    plan, _ = plan_sources(explicit)
    assert [s.name for s, sp in plan if sp == "val"] == ["3.png"] and len(plan) == 10


def test_camera_path_is_smooth_seeded_and_inside_the_image() -> None:
    c = cfg(still_frames=12, still_zoom=0.03, still_pan=0.05)
    image_hw = (400, 600)
    frame_hw = still_frame_size(image_hw, c)
    assert frame_hw == (366, 564) and all(s % 6 == 0 for s in frame_hw)
    path = camera_path(image_hw, frame_hw, c, np.random.default_rng(0))
    assert path == camera_path(image_hw, frame_hw, c, np.random.default_rng(0))
    zooms = [z for *_, z in path]
    assert min(zooms) == pytest.approx(1.0) and max(zooms) == pytest.approx(1.03)
    steps = np.diff(np.array([(oy, ox) for oy, ox, _ in path]), axis=0)
    assert np.abs(steps).max() < 0.05 * 564 / 11 * 1.7 + 3  # no jumps
    assert np.abs(steps).sum() > 5  # it does move
    for oy, ox, z in path:
        assert oy >= 0 and ox >= 0
        assert oy + frame_hw[0] / z <= image_hw[0] and ox + frame_hw[1] / z <= image_hw[1]


def test_zero_zoom_gives_exact_integer_crops() -> None:
    image = texture(120, 150, seed=2)
    c = cfg(still_frames=6, still_zoom=0.0, still_pan=0.1)
    hw, frames = still_clip(image, c, np.random.default_rng(1))
    frames = list(frames)
    path = camera_path(image.shape[:2], hw, c, np.random.default_rng(1))
    for frame, (oy, ox, _) in zip(frames, path, strict=True):
        y, x = int(oy), int(ox)
        np.testing.assert_array_equal(frame, image[y : y + hw[0], x : x + hw[1]])
    assert len({f.tobytes() for f in frames}) > 1


def test_codec_at_crf0_is_exactly_the_420_round_trip(tmp_path: Path) -> None:
    # Chroma siting regression: coded-and-decoded must equal the plain conversion round trip.
    frames = [texture(48, 64, seed=s) for s in range(5)]
    enc = LrEncoder(tmp_path / "lr.mkv", (48, 64), Fraction(24), cfg(crf=0.0, preset="veryfast"))
    for f in frames:
        enc.encode(f)
    assert enc.close() > 0
    decoded = list(decode_lr(tmp_path / "lr.mkv", 5, Fraction(24), "t"))
    for got, f in zip(decoded, frames, strict=True):
        np.testing.assert_array_equal(got, to_rgb(to_yuv420(f)))


def test_decode_refuses_dropped_frames(tmp_path: Path) -> None:
    enc = LrEncoder(tmp_path / "lr.mkv", (16, 16), Fraction(24), cfg(preset="veryfast"))
    for s in range(3):
        enc.encode(texture(16, 16, seed=s))
    enc.close()
    with pytest.raises(DataError, match="codec returned 3 frames for 4 encoded"):
        list(decode_lr(tmp_path / "lr.mkv", 4, Fraction(24), "t"))
    with pytest.raises(DataError, match="frame order broken"):
        list(decode_lr(tmp_path / "lr.mkv", 3, Fraction(12), "t"))  # wrong clock: pts skip


def test_x264_codes_one_clip_to_one_stream_every_time(tmp_path: Path) -> None:
    """400 codings of one 8-frame clip in one process give one bitstream. x264's AVX-512
    paths gave about 1 stream in 300 different (``X264_CPU_AVX2``), so on an AVX-512 CPU
    this fails in 3 runs of 4 without the pin."""
    rng = np.random.default_rng(0)
    blocks = rng.integers(0, 256, (40, 64, 3), dtype=np.uint8)
    still = np.kron(blocks, np.ones((3, 3, 1), np.uint8))[:110, :170]
    clip = [np.ascontiguousarray(np.roll(still, i, axis=1)) for i in range(8)]
    config = small_config([Path("x.png")], tmp_path)
    streams = set()
    for _ in range(400):
        enc = LrEncoder(tmp_path / "lr.mkv", (110, 170), Fraction(25), config)
        for frame in clip:
            enc.encode(frame)
        enc.close()
        with av.open(str(tmp_path / "lr.mkv")) as c:
            streams.add(hashlib.sha1(b"".join(bytes(p) for p in c.demux(video=0))).digest())
    assert len(streams) == 1


@pytest.mark.parametrize("avx512", [True, False])
def test_x264_is_kept_off_avx512_only_where_the_cpu_has_it(monkeypatch: pytest.MonkeyPatch,
                                                           avx512: bool) -> None:
    monkeypatch.setattr(codec, "cpu_has_avx512", lambda: avx512)
    x264 = codec.encoder_options(cfg())
    assert x264.get("x264-params") == (f"asm={X264_CPU_AVX2}" if avx512 else None)
    assert "AVX512" not in X264_CPU_AVX2 and "AVX2" in X264_CPU_AVX2.split(",")
    x265 = codec.encoder_options(cfg(codec="libx265", crf=28.0))
    assert "asm" not in x265["x265-params"]


def test_patch_positions_and_val_frames() -> None:
    pos = draw_positions(np.random.default_rng(0), (40, 50), 32, 100)
    assert pos.shape == (100, 2) and pos[:, 0].max() <= 8 and pos[:, 1].max() <= 18
    assert pos.min() >= 0 and len({tuple(p) for p in pos}) > 20
    assert val_indices(12, 4) == [1, 4, 7, 10] and val_indices(3, 8) == [0, 1, 2]


def test_shards_are_plain_npz_memory_mapped(tmp_path: Path) -> None:
    arrays = {"lr": np.arange(24, dtype=np.uint8).reshape(2, 2, 2, 3), "hr": np.ones((2, 6, 6, 3))}
    write_npz(tmp_path / "s.npz", arrays)
    loaded = np.load(tmp_path / "s.npz")
    mapped = open_npz(tmp_path / "s.npz")
    for k, v in arrays.items():
        np.testing.assert_array_equal(loaded[k], v)
        np.testing.assert_array_equal(mapped[k], v)
        assert isinstance(mapped[k], np.memmap)
    with zipfile.ZipFile(tmp_path / "s.npz") as zf:
        assert {i.date_time for i in zf.infolist()} == {(1980, 1, 1, 0, 0, 0)}


def test_cli_flags_map_onto_the_config(tmp_path: Path) -> None:
    parser = argparse.ArgumentParser(prog="hwsr")
    register_cli(parser.add_subparsers(dest="command"))
    args = parser.parse_args(
        ["data", "build", "--src", "a.png", "b", "--src", "c.mp4", "--out", str(tmp_path / "o"),
         "--codec", "libx265", "--bitrate", "800", "--gop", "12", "--patch-lr", "64",
         "--max-frames", "0", "--strict", "--preset", ""]
    )  # fmt: skip
    c = config_from_args(args)
    assert [p.name for p in c.sources] == ["a.png", "b", "c.mp4"]
    assert (c.codec, c.crf, c.bitrate_kbps, c.gop_frames) == ("libx265", None, 800, 12)
    assert (c.patch_hr_px, c.max_video_frames, c.strict, c.preset) == (192, None, True, None)
    assert (
        config_from_args(parser.parse_args(["data", "build", "--src", "x", "--out", "o"])).crf == 23
    )
    with pytest.raises(SystemExit):
        parser.parse_args(
            ["data", "build", "--src", "x", "--out", "o", "--crf", "1", "--bitrate", "9"]
        )


def test_cli_end_to_end(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from hwsr.cli import main

    src = write_still(tmp_path / "s.png", seed=1)
    bad = tmp_path / "bad.png"
    bad.write_text("x")
    out = tmp_path / "ds"
    argv = ["data", "build", "--src", str(src), str(bad), "--out", str(out), "--patch-lr", "32",
            "--still-frames", "4", "--patches-per-frame", "2", "--preset", "ultrafast",
            "--no-progress"]  # fmt: skip
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert "codec damage" in printed and "skipped" in printed and "8 training triples" in printed
    assert Manifest.load(out).train_patches == 8
    assert main([*argv, "--codec", "nope"]) == 1
    assert "unknown codec" in capsys.readouterr().err
