"""Unit tests for hwsr.imageio: reading rules, refusals, atomic output, pixel convention."""

import io
import os
import pickle
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image, ImageFile, PngImagePlugin  # noqa: F401  (registers the PNG encoder)

from hwsr import imageio
from hwsr.atomic import atomic_path, atomic_write
from hwsr.imageio import (
    ImageError,
    frame_to_tensor,
    read_image,
    tensor_to_frame,
    write_image,
)

# JPEG is lossy: mean |error| of a smooth gradient at quality 95 stays well under 2 codes.
JPEG_MEAN_ABS_ERROR = 2.0


def _random_frame(shape: tuple[int, ...], seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, shape, dtype=np.uint8)


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def _png_bytes(
    width: int,
    height: int,
    bit_depth: int,
    color_type: int,
    pixels: bytes = b"",
    extra: bytes = b"",
) -> bytes:
    """A PNG built by hand: Pillow cannot write 16-bit colour or zero-size files."""
    header = struct.pack(">IIBBBBB", width, height, bit_depth, color_type, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", header)
        + extra
        + _png_chunk(b"IDAT", zlib.compress(pixels))
        + _png_chunk(b"IEND", b"")
    )


def _png16(samples: np.ndarray, color_type: int, extra: bytes = b"") -> bytes:
    """16-bit PNG (filter 0 on every row) from HxWxC uint16 samples."""
    big_endian = samples.astype(">u2")
    rows = b"".join(b"\x00" + row.tobytes() for row in big_endian)
    return _png_bytes(samples.shape[1], samples.shape[0], 16, color_type, rows, extra)


def _codes_16_to_8(v: np.ndarray) -> np.ndarray:
    return ((v.astype(np.int64) * 255 + 32767) // 65535).astype(np.uint8)


def _over_black(c: np.ndarray, a: np.ndarray) -> np.ndarray:
    return ((c.astype(np.int64) * a + 127) // 255).astype(np.uint8)


# -------------------------------------------------------------------------------- round trip


@pytest.mark.parametrize("suffix", [".png", ".bmp", ".tif", ".tiff"])
def test_lossless_round_trip_is_exact(tmp_path: Path, suffix: str) -> None:
    frame = _random_frame((13, 17, 3))
    write_image(tmp_path / f"f{suffix}", frame)
    back = read_image(tmp_path / f"f{suffix}")
    assert back.dtype == np.uint8 and back.flags.c_contiguous
    np.testing.assert_array_equal(back, frame)


def test_grey_frame_is_written_grey_and_read_replicated(tmp_path: Path) -> None:
    grey = _random_frame((5, 6))
    write_image(tmp_path / "g.png", grey)
    assert Image.open(tmp_path / "g.png").mode == "L"
    np.testing.assert_array_equal(read_image(tmp_path / "g.png"), np.repeat(grey[..., None], 3, 2))


def test_jpeg_reads_close_to_what_was_written(tmp_path: Path) -> None:
    ramp = np.arange(32, dtype=np.uint8) * 8
    frame = np.stack(np.broadcast_arrays(ramp[:, None], ramp[None, :], 128), axis=-1)
    write_image(tmp_path / "f.jpg", np.ascontiguousarray(frame, dtype=np.uint8))
    back = read_image(tmp_path / "f.jpg")
    assert back.shape == (32, 32, 3)
    assert np.abs(back.astype(int) - frame).mean() < JPEG_MEAN_ABS_ERROR


# --------------------------------------------------------------------------------- refusals


def _refused(path: Path, match: str, **kwargs: object) -> ImageError:
    with pytest.raises(ImageError, match=match) as info:
        read_image(path, **kwargs)  # type: ignore[arg-type]
    assert str(path) in str(info.value) and "\n" not in str(info.value)
    return info.value


def test_refuses_missing_file_and_directory(tmp_path: Path) -> None:
    _refused(tmp_path / "nope.png", "no such file")
    _refused(tmp_path, "not a regular file")


def test_refuses_text_file_named_png(tmp_path: Path) -> None:
    (tmp_path / "t.png").write_text("not an image\n")
    _refused(tmp_path / "t.png", "not a recognised image")


@pytest.mark.parametrize("suffix", [".png", ".jpg"])
def test_refuses_truncated_file(tmp_path: Path, suffix: str) -> None:
    write_image(tmp_path / f"f{suffix}", _random_frame((64, 64, 3)))
    data = (tmp_path / f"f{suffix}").read_bytes()
    (tmp_path / f"cut{suffix}").write_bytes(data[: len(data) // 2])
    _refused(tmp_path / f"cut{suffix}", "corrupt or truncated")


def test_refuses_corrupt_png_data(tmp_path: Path) -> None:
    write_image(tmp_path / "f.png", _random_frame((64, 64, 3)))
    data = bytearray((tmp_path / "f.png").read_bytes())
    middle = len(data) // 2
    data[middle : middle + 64] = bytes(64)
    (tmp_path / "bad.png").write_bytes(bytes(data))
    _refused(tmp_path / "bad.png", "corrupt or truncated")


def test_refuses_truncated_even_if_pillow_would_pad(tmp_path: Path, monkeypatch) -> None:
    write_image(tmp_path / "f.png", _random_frame((4, 4, 3)))
    monkeypatch.setattr(ImageFile, "LOAD_TRUNCATED_IMAGES", True)
    with pytest.raises(RuntimeError, match="LOAD_TRUNCATED_IMAGES"):
        read_image(tmp_path / "f.png")


def test_max_pixels_is_checked_from_the_header(tmp_path: Path, monkeypatch) -> None:
    write_image(tmp_path / "f.png", _random_frame((10, 10, 3)))
    assert read_image(tmp_path / "f.png", max_pixels=100).shape == (10, 10, 3)

    def no_decoding(self: object) -> None:
        raise AssertionError("decoded before the size check")

    monkeypatch.setattr(ImageFile.ImageFile, "load", no_decoding)
    _refused(tmp_path / "f.png", "10x10 pixels exceeds max_pixels=99", max_pixels=99)


def test_refuses_decompression_bomb_header(tmp_path: Path) -> None:
    (tmp_path / "bomb.png").write_bytes(_png_bytes(20000, 20000, 8, 2))
    _refused(tmp_path / "bomb.png", "too many pixels")
    _refused(tmp_path / "bomb.png", "too many pixels", max_pixels=10**9)


def test_refuses_other_formats_listing_the_accepted_ones(tmp_path: Path) -> None:
    Image.fromarray(_random_frame((4, 4, 3))).save(tmp_path / "f.gif")
    _refused(tmp_path / "f.gif", "format GIF is not accepted .accepted: PNG, JPEG, BMP, TIFF")


def test_refuses_animated_gif(tmp_path: Path) -> None:
    frames = [Image.fromarray(_random_frame((4, 4, 3), seed)) for seed in (1, 2)]
    frames[0].save(tmp_path / "a.gif", save_all=True, append_images=frames[1:])
    assert Image.open(tmp_path / "a.gif").n_frames == 2
    _refused(tmp_path / "a.gif", "not accepted")


@pytest.mark.parametrize("suffix", [".png", ".tif"])  # APNG and multi-page TIFF
def test_refuses_multi_frame_files(tmp_path: Path, suffix: str) -> None:
    frames = [Image.fromarray(_random_frame((4, 4, 3), seed)) for seed in (1, 2)]
    frames[0].save(tmp_path / f"a{suffix}", save_all=True, append_images=frames[1:])
    _refused(tmp_path / f"a{suffix}", "2 frames")


def test_refuses_zero_size_files(tmp_path: Path) -> None:
    # Pillow itself rejects these headers; whichever layer refuses, the caller gets ImageError.
    (tmp_path / "w0.png").write_bytes(_png_bytes(0, 3, 8, 2))
    _refused(tmp_path / "w0.png", "not a recognised image")
    bmp = io.BytesIO()
    Image.new("RGB", (1, 1)).save(bmp, "BMP")
    data = bytearray(bmp.getvalue())
    struct.pack_into("<i", data, 18, 0)  # BITMAPINFOHEADER width
    (tmp_path / "w0.bmp").write_bytes(bytes(data))
    _refused(tmp_path / "w0.bmp", "not a recognised image")


def test_zero_size_check_of_read_image(tmp_path: Path, monkeypatch) -> None:
    # Reach hwsr's own check with a decoder that does hand out a 0x5 image.
    (tmp_path / "z.png").write_bytes(b"stand-in")

    def zero_size_open(*args: object, **kwargs: object) -> Image.Image:
        image = Image.new("RGB", (0, 5))
        image.format = "PNG"
        return image

    monkeypatch.setattr(imageio.Image, "open", zero_size_open)
    _refused(tmp_path / "z.png", r"zero-size image \(0x5\)")


# -------------------------------------------------------------------------- 16-bit samples


def test_16bit_grey_png_refused_then_reduced_by_the_rule(tmp_path: Path) -> None:
    every_value = np.arange(65536, dtype=np.uint16).reshape(256, 256)
    Image.fromarray(every_value).save(tmp_path / "g16.png")
    assert Image.open(tmp_path / "g16.png").mode == "I;16"
    _refused(tmp_path / "g16.png", "allow_16bit")
    back = read_image(tmp_path / "g16.png", allow_16bit=True)
    v = every_value.astype(np.int64)
    half_up = (2 * v * 255 + 65535) // (2 * 65535)  # floor(v*255/65535 + 1/2), exactly
    np.testing.assert_array_equal(back[..., 0], half_up)
    np.testing.assert_array_equal(back, np.repeat(_codes_16_to_8(v)[..., None], 3, 2))


@pytest.mark.parametrize("color_type, channels", [(2, 3), (6, 4)])
def test_16bit_colour_png_uses_all_16_bits(tmp_path: Path, color_type: int, channels: int) -> None:
    # Values where v*255/65535 sits just either side of .5: dropping the low byte gets them wrong.
    tricky = np.array([0, 1, 128, 129, 255, 256, 385, 386, 32767, 32768, 65407, 65535])
    samples = np.random.default_rng(3).integers(0, 65536, (6, 12, channels))
    samples[0, :, :] = tricky[:, None]
    (tmp_path / "c16.png").write_bytes(_png16(samples, color_type))
    _refused(tmp_path / "c16.png", "allow_16bit")
    back = read_image(tmp_path / "c16.png", allow_16bit=True)
    codes = _codes_16_to_8(samples)
    expected = codes if channels == 3 else _over_black(codes[..., :3], codes[..., 3:])
    np.testing.assert_array_equal(back, expected)


def test_16bit_colour_png_is_oriented_like_8bit(tmp_path: Path) -> None:
    samples = np.random.default_rng(6).integers(0, 65536, (2, 3, 3))
    exif = Image.Exif()
    exif[0x0112] = 6
    raw_exif = exif.tobytes().removeprefix(b"Exif\x00\x00")  # PNG's eXIf holds bare TIFF
    (tmp_path / "o16.png").write_bytes(_png16(samples, 2, extra=_png_chunk(b"eXIf", raw_exif)))
    back = read_image(tmp_path / "o16.png", allow_16bit=True)
    np.testing.assert_array_equal(back, np.rot90(_codes_16_to_8(samples), -1))


def test_16bit_rgb_png_colour_key_is_composited(tmp_path: Path) -> None:
    samples = np.array([[[1000, 2000, 3000], [1000, 2000, 3001]]])
    trns = _png_chunk(b"tRNS", struct.pack(">HHH", 1000, 2000, 3000))
    (tmp_path / "k16.png").write_bytes(_png16(samples, 2, extra=trns))
    back = read_image(tmp_path / "k16.png", allow_16bit=True)
    np.testing.assert_array_equal(back, [[[0, 0, 0], _codes_16_to_8(samples[0, 1])]])


@pytest.mark.parametrize("compression", [None, "zlib"])
def test_16bit_rgb_tiff_uses_all_16_bits(tmp_path: Path, compression: str | None) -> None:
    tifffile = pytest.importorskip("tifffile")  # Pillow cannot write 16-bit RGB
    samples = np.random.default_rng(4).integers(0, 65536, (5, 7, 3)).astype(np.uint16)
    tifffile.imwrite(tmp_path / "c16.tif", samples, photometric="rgb", compression=compression)
    _refused(tmp_path / "c16.tif", "allow_16bit")
    np.testing.assert_array_equal(
        read_image(tmp_path / "c16.tif", allow_16bit=True), _codes_16_to_8(samples)
    )


def test_16bit_grey_tiff_is_reduced_by_the_rule(tmp_path: Path) -> None:
    samples = np.array([[0, 128, 129, 65535]], dtype=np.uint16)
    Image.fromarray(samples).save(tmp_path / "g16.tif")
    back = read_image(tmp_path / "g16.tif", allow_16bit=True)
    np.testing.assert_array_equal(back[..., 1], [[0, 0, 1, 255]])


def test_unsupported_wide_samples_refused_even_when_allowed(tmp_path: Path) -> None:
    Image.fromarray(np.array([[1, 70000]], dtype=np.int32)).save(tmp_path / "i32.tif")
    _refused(tmp_path / "i32.tif", "32-bit samples", allow_16bit=True)
    Image.fromarray(np.array([[0.5]], dtype=np.float32)).save(tmp_path / "f32.tif")
    _refused(tmp_path / "f32.tif", "32-bit samples", allow_16bit=True)
    (tmp_path / "la16.png").write_bytes(_png16(np.zeros((2, 2, 2)), 4))  # grey + alpha
    _refused(tmp_path / "la16.png", "layout 'LA;16B' is not supported", allow_16bit=True)


# ------------------------------------------------------------------------------------ modes


def test_rgba_composites_over_black_for_every_code_and_alpha(tmp_path: Path) -> None:
    c, a = np.meshgrid(np.arange(256), np.arange(256), indexing="ij")
    rgba = np.stack([c, 255 - c, c // 2, a], axis=-1).astype(np.uint8)
    Image.fromarray(rgba, "RGBA").save(tmp_path / "a.png")
    expected = _over_black(rgba[..., :3], rgba[..., 3:])
    # (c*a + 127) // 255 is c*a/255 rounded half-up: floor((2ca + 255) / 510).
    np.testing.assert_array_equal(expected[..., 0], (2 * c * a + 255) // 510)
    np.testing.assert_array_equal(read_image(tmp_path / "a.png"), expected)


def test_la_composites_then_replicates(tmp_path: Path) -> None:
    c, a = np.meshgrid(np.arange(256), np.arange(256), indexing="ij")
    la = np.stack([c, a], axis=-1).astype(np.uint8)
    Image.fromarray(la, "LA").save(tmp_path / "la.png")
    assert Image.open(tmp_path / "la.png").mode == "LA"
    expected = _over_black(la[..., :1], la[..., 1:])
    np.testing.assert_array_equal(read_image(tmp_path / "la.png"), np.repeat(expected, 3, 2))


def test_palette_with_transparent_index(tmp_path: Path) -> None:
    palette = _random_frame((256, 3), seed=5)
    indices = np.arange(24, dtype=np.uint8).reshape(4, 6)
    image = Image.fromarray(indices, "P")
    image.putpalette(palette.tobytes())
    image.save(tmp_path / "p.png")
    np.testing.assert_array_equal(read_image(tmp_path / "p.png"), palette[indices])
    image.save(tmp_path / "pt.png", transparency=7)
    expected = palette[indices].copy()
    expected[indices == 7] = 0
    np.testing.assert_array_equal(read_image(tmp_path / "pt.png"), expected)


def test_grey_colour_key_is_composited(tmp_path: Path) -> None:
    Image.fromarray(np.array([[5, 7, 9]], np.uint8)).save(tmp_path / "k.png", transparency=7)
    np.testing.assert_array_equal(read_image(tmp_path / "k.png")[..., 0], [[5, 0, 9]])


def test_cmyk_goes_through_pillow_convert(tmp_path: Path) -> None:
    image = Image.frombytes("CMYK", (5, 4), _random_frame((4, 5, 4)).tobytes())
    image.save(tmp_path / "c.tif")
    np.testing.assert_array_equal(read_image(tmp_path / "c.tif"), np.asarray(image.convert("RGB")))


def test_bilevel_becomes_0_and_255(tmp_path: Path) -> None:
    bits = _random_frame((5, 9)) > 127
    Image.fromarray(bits).save(tmp_path / "b.png")
    assert Image.open(tmp_path / "b.png").mode == "1"
    np.testing.assert_array_equal(
        read_image(tmp_path / "b.png"), np.repeat(bits[..., None] * 255, 3, 2)
    )


# The EXIF orientation tag, by its definition: how the stored rows map to the displayed frame.
DISPLAYED = {
    1: lambda a: a,
    2: lambda a: a[:, ::-1],
    3: lambda a: a[::-1, ::-1],
    4: lambda a: a[::-1],
    5: lambda a: a.transpose(1, 0, 2),
    6: lambda a: np.rot90(a, -1),  # rotate 90 degrees clockwise to display
    7: lambda a: a.transpose(1, 0, 2)[::-1, ::-1],
    8: lambda a: np.rot90(a, 1),
}


@pytest.mark.parametrize("orientation", sorted(DISPLAYED))
def test_exif_orientation_is_applied_first(tmp_path: Path, orientation: int) -> None:
    rgba = _random_frame((2, 3, 4))
    exif = Image.Exif()
    exif[0x0112] = orientation
    Image.fromarray(rgba, "RGBA").save(tmp_path / "o.png", exif=exif)
    expected = DISPLAYED[orientation](_over_black(rgba[..., :3], rgba[..., 3:]))
    np.testing.assert_array_equal(read_image(tmp_path / "o.png"), expected)


def test_exif_orientation_in_jpeg(tmp_path: Path) -> None:
    ramp = np.linspace(0, 255, 32).astype(np.uint8)
    frame = np.repeat(np.repeat(ramp[None, :, None], 16, 0), 3, 2)  # 16 rows x 32 columns
    exif = Image.Exif()
    exif[0x0112] = 6
    Image.fromarray(frame).save(tmp_path / "o.jpg", exif=exif, quality=95)
    back = read_image(tmp_path / "o.jpg")
    assert back.shape == (32, 16, 3)
    assert np.abs(back.astype(int) - np.rot90(frame, -1)).mean() < JPEG_MEAN_ABS_ERROR


def test_image_error_is_a_picklable_value_error(tmp_path: Path) -> None:
    error = ImageError(tmp_path / "x.png", "broken")
    assert isinstance(error, ValueError)
    again = pickle.loads(pickle.dumps(error))
    assert (str(again), again.path, again.reason) == (str(error), error.path, "broken")


# -------------------------------------------------------------------------------- writing


@pytest.mark.parametrize(
    "frame, match",
    [
        (np.zeros((2, 2, 3), np.float32), "uint8"),
        ([[1, 2]], "uint8 numpy array"),
        (np.zeros((2, 2, 4), np.uint8), "HxWx3 or HxW"),
        (np.zeros((0, 2, 3), np.uint8), "non-empty"),
    ],
)
def test_write_image_validates_the_frame(tmp_path: Path, frame: object, match: str) -> None:
    with pytest.raises(ImageError, match=match):
        write_image(tmp_path / "f.png", frame)  # type: ignore[arg-type]
    assert list(tmp_path.iterdir()) == []


def test_write_image_refuses_unknown_suffix(tmp_path: Path) -> None:
    with pytest.raises(ImageError, match="unknown image suffix"):
        write_image(tmp_path / "f.webp", np.zeros((2, 2, 3), np.uint8))


def test_encoder_failure_leaves_no_file_and_keeps_the_old_one(tmp_path: Path, monkeypatch) -> None:
    old = _random_frame((8, 8, 3), seed=1)
    write_image(tmp_path / "keep.png", old)
    old_bytes = (tmp_path / "keep.png").read_bytes()
    real_save = Image.SAVE["PNG"]

    def save_half_then_fail(image: Image.Image, fp: io.BufferedWriter, *args: object) -> None:
        encoded = io.BytesIO()
        real_save(image, encoded, *args)
        fp.write(encoded.getvalue()[: len(encoded.getvalue()) // 2])
        fp.flush()
        raise OSError("disk full halfway")

    monkeypatch.setitem(Image.SAVE, "PNG", save_half_then_fail)
    new = _random_frame((8, 8, 3), seed=2)
    for name in ("new.png", "keep.png"):
        with pytest.raises(OSError, match="disk full halfway"):
            write_image(tmp_path / name, new)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keep.png"]
    assert (tmp_path / "keep.png").read_bytes() == old_bytes


def test_atomic_write_publishes_only_on_success(tmp_path: Path) -> None:
    seen: list[Path] = []

    def writer(tmp: Path) -> None:
        seen.append(tmp)
        np.savez(tmp, x=np.arange(3))  # np.savez appends .npz unless the path ends with it

    assert atomic_write(tmp_path / "out.npz", writer) == tmp_path / "out.npz"
    assert seen[0].parent == tmp_path and seen[0].name.startswith(".out.npz.")
    assert seen[0].suffix == ".npz" and ".tmp" in seen[0].name
    assert [p.name for p in tmp_path.iterdir()] == ["out.npz"]
    np.testing.assert_array_equal(np.load(tmp_path / "out.npz")["x"], np.arange(3))


@pytest.mark.parametrize("error", [ValueError, KeyboardInterrupt])
def test_atomic_path_cleans_up_on_any_exception(tmp_path: Path, error: type) -> None:
    (tmp_path / "out.json").write_text("old")
    with pytest.raises(error):
        with atomic_path(tmp_path / "out.json") as tmp:
            tmp.write_text("half")
            raise error("stop")
    assert [p.name for p in tmp_path.iterdir()] == ["out.json"]
    assert (tmp_path / "out.json").read_text() == "old"


def test_atomic_path_without_overwrite(tmp_path: Path) -> None:
    with atomic_path(tmp_path / "a.txt", overwrite=False) as tmp:
        tmp.write_text("first")
    with pytest.raises(FileExistsError):
        atomic_write(tmp_path / "a.txt", lambda tmp: tmp.write_text("second"), overwrite=False)
    with pytest.raises(FileExistsError):  # the destination appears while writing
        with atomic_path(tmp_path / "b.txt", overwrite=False) as tmp:
            tmp.write_text("late")
            (tmp_path / "b.txt").write_text("raced")
    assert (tmp_path / "a.txt").read_text() == "first"
    assert (tmp_path / "b.txt").read_text() == "raced"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.txt", "b.txt"]


def test_atomic_output_gets_ordinary_permissions(tmp_path: Path) -> None:
    atomic_write(tmp_path / "a.txt", lambda tmp: tmp.write_text("x"))
    (tmp_path / "b.txt").write_text("x")
    assert os.stat(tmp_path / "a.txt").st_mode == os.stat(tmp_path / "b.txt").st_mode


# ------------------------------------------------------------------------ pixel convention


def test_every_code_round_trips_exactly() -> None:
    codes = np.arange(256, dtype=np.uint8).reshape(16, 16, 1).repeat(3, axis=2)
    codes[..., 1] = 255 - codes[..., 1]
    x = frame_to_tensor(codes)
    assert x.dtype == torch.float32 and x.shape == (1, 3, 16, 16) and x.is_contiguous()
    assert torch.equal(x[0, 0].flatten(), torch.arange(256, dtype=torch.float32) / 256)
    back = tensor_to_frame(x)
    assert back.dtype == np.uint8 and back.flags.c_contiguous
    np.testing.assert_array_equal(back, codes)


def test_batches_keep_their_batch_axis() -> None:
    frames = _random_frame((2, 4, 5, 3))
    x = frame_to_tensor(frames)
    assert x.shape == (2, 3, 4, 5)
    np.testing.assert_array_equal(tensor_to_frame(x), frames)
    np.testing.assert_array_equal(tensor_to_frame(x[1]), frames[1])  # CHW gives HWC


def test_tensor_to_frame_rounds_half_up_and_saturates() -> None:
    k = torch.arange(255, dtype=torch.float32)
    half = (k + 0.5) / 256
    below = torch.nextafter(half, torch.zeros(()))
    values = torch.stack([half, below, (k + 0.5 - 2**-10) / 256]).view(1, 3, 1, 255)
    out = tensor_to_frame(values)[0].T.astype(int)
    np.testing.assert_array_equal(out[0], np.arange(1, 256))  # exactly half: up
    np.testing.assert_array_equal(out[1], np.arange(255))  # one float32 ulp below: down
    np.testing.assert_array_equal(out[2], np.arange(255))
    extremes = torch.tensor([-1.0, float("-inf"), 2.0, float("inf"), 255.5 / 256, -0.5 / 256])
    assert tensor_to_frame(extremes.view(2, 3, 1, 1)).ravel().tolist() == [0, 0, 255, 255, 255, 0]


def test_pixel_conversions_refuse_bad_input() -> None:
    with pytest.raises(ValueError, match="uint8"):
        frame_to_tensor(np.zeros((2, 2, 3), np.float32))
    with pytest.raises(ValueError, match="NaN"):
        tensor_to_frame(torch.full((3, 1, 1), float("nan")))
    with pytest.raises(ValueError, match="floating-point"):
        tensor_to_frame(torch.zeros((3, 1, 1), dtype=torch.uint8))
    with pytest.raises(ValueError, match=r"\(N,3,H,W\)"):
        tensor_to_frame(torch.zeros((1, 1, 2, 2)))
    assert tensor_to_frame(torch.zeros((1, 3, 1, 1), requires_grad=True)).shape == (1, 1, 3)
