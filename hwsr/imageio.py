"""Frame I/O: reading and writing images, and the engine's pixel convention.

Reading (`read_image`) returns uint8 RGB, HWC, C-contiguous, by these rules, in this order:

1. Accepted: PNG, JPEG, BMP and TIFF files holding one frame (no animation, no multi-page
   file) of 1 to ``max_pixels`` pixels; the size is checked from the header, before decoding.
2. The file is decoded completely inside the error boundary, so a truncated or corrupt file
   is an `ImageError`, never a partly grey frame. Pillow's ``LOAD_TRUNCATED_IMAGES`` must be
   off (a `RuntimeError` says so otherwise).
3. EXIF orientation is applied first (`PIL.ImageOps.exif_transpose`).
4. 16-bit samples (PNG and TIFF grey, RGB, RGBA) are refused unless ``allow_16bit``. Then each
   16-bit sample ``v`` (alpha included) becomes the 8-bit code ``(v*255 + 32767) // 65535``,
   i.e. ``v*255/65535`` rounded half-up (exact, in integers), and the 8-bit rules below apply.
   Deeper, signed or float samples are always refused.
5. Modes: '1' gives 0/255; 'L' is replicated to R = G = B; 'CMYK' and 'YCbCr' go through
   Pillow's ``convert('RGB')``; 'P' goes through ``convert('RGBA')`` (palette, and its
   transparency), then rule 6.
6. Alpha ('RGBA', 'LA', palettes and tRNS colour keys) is composited over black, premultiplied
   with integer rounding: ``out = (c*a + 127) // 255`` per channel (8-bit codes ``c``, ``a``).
   That is ``c*a/255`` rounded to nearest; ties cannot occur (255 is odd), so it is half-up too.

Writing: every file hwsr produces goes through `hwsr.atomic`, so a reader or a crash never
sees half a file. `write_image` is the image case.

Pixel convention: the engine's input is uint8 with scale 2**-8, so a code ``k`` is the value
``k / 256`` (not ``k / 255``); `frame_to_tensor` and `tensor_to_frame` convert between the two.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt
from PIL import Image, ImageFile, ImageOps

from hwsr.atomic import atomic_write

if TYPE_CHECKING:  # torch loads only when a frame becomes a tensor
    import torch

__all__ = [
    "ACCEPTED_FORMATS",
    "CODE_SCALE",
    "DEFAULT_MAX_PIXELS",
    "JPEG_QUALITY",
    "WRITE_FORMATS",
    "ImageError",
    "frame_to_tensor",
    "read_image",
    "tensor_to_frame",
    "write_image",
]

ACCEPTED_FORMATS = ("PNG", "JPEG", "BMP", "TIFF")
DEFAULT_MAX_PIXELS = 8192 * 8192
WRITE_FORMATS = {
    ".png": "PNG",
    ".bmp": "BMP",
    ".tif": "TIFF",
    ".tiff": "TIFF",
    ".jpg": "JPEG",
    ".jpeg": "JPEG",
}
JPEG_QUALITY = 95
CODE_SCALE = 256  # engine value = code / CODE_SCALE: uint8 input with scale 2**-8

PathLike = str | os.PathLike[str]
FrameU8 = npt.NDArray[np.uint8]

_WIDE_MODES = frozenset({"I", "I;16", "I;16B", "I;16L", "I;16N", "F"})
_TIFF_BITS_PER_SAMPLE = 258
_TIFF_SAMPLE_FORMAT = 339  # 1 = unsigned integer
_NATIVE = "L" if sys.byteorder == "little" else "B"
_SWAPPED = {"L": "B", "B": "L", "N": "B" if _NATIVE == "L" else "L"}
# Pillow keeps only the high byte of 16-bit colour samples. Decoding the same tiles again with
# the byte order swapped yields the low byte (the codecs' unfiltering is byte-order blind).
_LOW_BYTE_RAWMODE = {
    f"{base};16{order}": f"{base};16{_SWAPPED[order]}"
    for base in ("RGB", "RGBA")
    for order in ("L", "B", "N")
}


class ImageError(ValueError):
    """A file that cannot be read or written as an hwsr frame; the message is ``path: reason``."""

    def __init__(self, path: PathLike, reason: str) -> None:
        self.path = Path(path)
        self.reason = reason
        super().__init__(f"{path}: {reason}")

    def __reduce__(self) -> tuple[type[ImageError], tuple[Path, str]]:
        return (type(self), (self.path, self.reason))


# ---------------------------------------------------------------------------------- reading


def read_image(
    path: PathLike, *, max_pixels: int = DEFAULT_MAX_PIXELS, allow_16bit: bool = False
) -> FrameU8:
    """Read one image file as a uint8 RGB frame (HWC, C-contiguous) by the module's rules.

    Raises `ImageError` (a `ValueError`) naming the file and the reason for a missing file, a
    directory, a non-image, an unaccepted format, a truncated or corrupt file, too many pixels,
    several frames, zero size, or 16-bit samples without ``allow_16bit``.
    """
    src = Path(path)
    if max_pixels < 1:
        raise ValueError(f"max_pixels must be >= 1, got {max_pixels}")
    if not src.exists():
        raise ImageError(src, "no such file")
    if not src.is_file():
        raise ImageError(src, "not a regular file (a directory?)")
    if ImageFile.LOAD_TRUNCATED_IMAGES:
        raise RuntimeError(
            "PIL.ImageFile.LOAD_TRUNCATED_IMAGES is on; hwsr refuses to read frames that "
            "may be silently truncated"
        )
    try:
        return _read(src, max_pixels, allow_16bit)
    except ImageError:
        raise
    except Image.DecompressionBombError as exc:
        raise ImageError(src, f"too many pixels ({exc})") from exc
    except Image.UnidentifiedImageError as exc:
        raise ImageError(src, "not a recognised image file") from exc
    except Exception as exc:  # decoders of untrusted files raise many types; chain the cause
        raise ImageError(src, f"corrupt or truncated ({type(exc).__name__}: {exc})") from exc


def _read(src: Path, max_pixels: int, allow_16bit: bool) -> FrameU8:
    with Image.open(src) as im:
        bits = _check_header(src, im, max_pixels)
        if bits > 8:
            _check_wide(src, im, bits, allow_16bit)
        im.load()
        ImageOps.exif_transpose(im, in_place=True)
        if bits <= 8:
            color, alpha = _planes_8bit(src, im)
        else:
            samples = _samples_16bit(src, im)
            color, alpha = _planes_16bit(src, samples, im.info.get("transparency"))
    return _composite_over_black(color, alpha)


def _check_header(src: Path, im: ImageFile.ImageFile, max_pixels: int) -> int:
    """Refuse from the header alone; return the bits per sample."""
    if im.format not in ACCEPTED_FORMATS:
        raise ImageError(
            src, f"format {im.format} is not accepted (accepted: {', '.join(ACCEPTED_FORMATS)})"
        )
    width, height = im.size
    if width * height == 0:
        raise ImageError(src, f"zero-size image ({width}x{height})")
    if width * height > max_pixels:
        raise ImageError(src, f"{width}x{height} pixels exceeds max_pixels={max_pixels}")
    frames = getattr(im, "n_frames", 1)
    if frames > 1:
        raise ImageError(src, f"{frames} frames; hwsr reads single-frame images only")
    return _bits_per_sample(im)


def _bits_per_sample(im: ImageFile.ImageFile) -> int:
    if im.mode == "F":
        return 32
    if im.format == "TIFF":
        bits = getattr(im, "tag_v2", {}).get(_TIFF_BITS_PER_SAMPLE, 8)
        return max(bits) if isinstance(bits, tuple) else int(bits)
    # PNG keeps 16-bit grey as 'I;16' and 16-bit colour in a ';16' raw mode. BMP's 'BGR;16'
    # is 5-6-5 packing of 8-bit-or-less channels, hence the format test.
    wide_raw = im.format == "PNG" and any(";16" in _rawmode(t) for t in im.tile)
    return 16 if im.mode in _WIDE_MODES or wide_raw else 8


def _rawmode(tile: ImageFile._Tile) -> str:
    args = tile.args
    return args if isinstance(args, str) else str(args[0]) if args else ""


def _check_wide(src: Path, im: ImageFile.ImageFile, bits: int, allow_16bit: bool) -> None:
    fmt = getattr(im, "tag_v2", {}).get(_TIFF_SAMPLE_FORMAT, 1)
    unsigned = all(f == 1 for f in fmt) if isinstance(fmt, tuple) else fmt == 1
    if bits != 16 or im.mode == "F" or not unsigned:
        raise ImageError(src, f"{bits}-bit samples (mode {im.mode}) are not supported")
    if not allow_16bit:
        raise ImageError(src, "16-bit samples; pass allow_16bit=True to reduce them to 8 bits")
    if im.mode not in _WIDE_MODES:
        _low_byte_tiles(src, im)  # refuse unknown layouts before decoding anything


def _low_byte_tiles(src: Path, im: ImageFile.ImageFile) -> list[ImageFile._Tile]:
    tiles = []
    for tile in im.tile:
        swapped = _LOW_BYTE_RAWMODE.get(_rawmode(tile))
        if swapped is None:
            raise ImageError(src, f"16-bit sample layout {_rawmode(tile)!r} is not supported")
        rest = () if isinstance(tile.args, str) or tile.args is None else tile.args[1:]
        tiles.append(tile._replace(args=(swapped, *rest) if rest else swapped))
    return tiles


def _samples_16bit(src: Path, im: ImageFile.ImageFile) -> npt.NDArray[np.int32]:
    """Full 16-bit samples, HxWxC int32, of an image already loaded and oriented."""
    high = np.asarray(im).astype(np.int32)  # int32 holds v*255 + 32767 for v <= 65535
    if im.mode in _WIDE_MODES:
        if high.min() < 0 or high.max() > 65535:
            raise ImageError(src, f"mode {im.mode} samples outside 0..65535")
        return high[..., None]
    with Image.open(src) as again:
        again.tile = _low_byte_tiles(src, again)
        again.load()
        ImageOps.exif_transpose(again, in_place=True)
        low = np.asarray(again).astype(np.int32)
    if low.shape != high.shape:
        raise ImageError(src, "16-bit decode gave inconsistent shapes")
    return (high << 8) | low


def _planes_16bit(
    src: Path, samples: npt.NDArray[np.int32], transparency: object
) -> tuple[FrameU8, FrameU8 | None]:
    codes = ((samples * 255 + 32767) // 65535).astype(np.uint8)
    channels = samples.shape[-1]
    if channels in (2, 4):
        return codes[..., :-1], codes[..., -1]
    if transparency is None:
        return codes, None
    key = np.atleast_1d(np.asarray(transparency, dtype=np.int64))
    if key.size != channels:
        raise ImageError(src, f"transparency key {transparency!r} does not fit the samples")
    opaque = ~np.all(samples == key, axis=-1)
    return codes, (opaque * 255).astype(np.uint8)


def _planes_8bit(src: Path, im: Image.Image) -> tuple[FrameU8, FrameU8 | None]:
    """Colour planes (HxWx1 or HxWx3) and optional alpha plane of an 8-bit image."""
    if im.mode == "1":
        im = im.convert("L")  # 0/255
    if im.mode in ("P", "PA", "RGBa", "La") or (
        im.mode in ("L", "RGB") and "transparency" in im.info
    ):
        im = im.convert("RGBA")
    if im.mode in ("CMYK", "YCbCr", "RGBX"):
        im = im.convert("RGB")
    arr = np.asarray(im)
    if im.mode in ("L", "RGB"):
        return arr.reshape(arr.shape[0], arr.shape[1], -1), None
    if im.mode in ("LA", "RGBA"):
        return arr[..., :-1], arr[..., -1]
    raise ImageError(src, f"image mode {im.mode} is not supported")


def _composite_over_black(color: FrameU8, alpha: FrameU8 | None) -> FrameU8:
    if alpha is not None:
        premultiplied = (color.astype(np.uint32) * alpha[..., None] + 127) // 255
        color = premultiplied.astype(np.uint8)
    if color.shape[-1] == 1:
        color = np.repeat(color, 3, axis=-1)
    return np.ascontiguousarray(color, dtype=np.uint8)


# ---------------------------------------------------------------------------------- writing


def write_image(path: PathLike, frame_u8_hwc: FrameU8, *, overwrite: bool = True) -> Path:
    """Write a uint8 frame (HxWx3 RGB or HxW grey) atomically; the suffix picks the format.

    Suffixes: .png, .bmp, .tif/.tiff (lossless) and .jpg/.jpeg (quality `JPEG_QUALITY`).
    """
    dest = Path(path)
    fmt = WRITE_FORMATS.get(dest.suffix.lower())
    if fmt is None:
        raise ImageError(dest, f"unknown image suffix (use one of {', '.join(WRITE_FORMATS)})")
    image = Image.fromarray(_checked_frame(dest, frame_u8_hwc))
    options = {"quality": JPEG_QUALITY} if fmt == "JPEG" else {}
    return atomic_write(
        dest, lambda tmp: image.save(tmp, format=fmt, **options), overwrite=overwrite
    )


def _checked_frame(dest: Path, frame: object) -> FrameU8:
    if not isinstance(frame, np.ndarray) or frame.dtype != np.uint8:
        kind = frame.dtype if isinstance(frame, np.ndarray) else type(frame).__name__
        raise ImageError(dest, f"frame must be a uint8 numpy array, got {kind}")
    if not (frame.ndim == 2 or (frame.ndim == 3 and frame.shape[2] == 3)) or frame.size == 0:
        raise ImageError(dest, f"frame must be a non-empty HxWx3 or HxW array, got {frame.shape}")
    return np.ascontiguousarray(frame)


# ------------------------------------------------------------------------- pixel convention


def frame_to_tensor(frame_u8_hwc: FrameU8) -> torch.Tensor:
    """uint8 RGB frame, HxWx3 (or NxHxWx3), to float32 NCHW engine values ``code / 256``.

    The engine's input is uint8 with scale 2**-8, so every code is exact in float32.

    >>> frame_to_tensor(np.array([[[0, 128, 255]]], dtype=np.uint8)).flatten().tolist()
    [0.0, 0.5, 0.99609375]
    """
    import torch

    frame = np.asarray(frame_u8_hwc)
    if frame.dtype != np.uint8 or frame.ndim not in (3, 4) or frame.shape[-1] != 3:
        raise ValueError(f"expected uint8 HxWx3 or NxHxWx3, got {frame.dtype} {frame.shape}")
    if frame.size == 0:
        raise ValueError(f"empty frame {frame.shape}")
    batch = frame[None] if frame.ndim == 3 else frame
    values = torch.from_numpy(batch.astype(np.float32)).permute(0, 3, 1, 2).contiguous()
    return values.mul_(1.0 / CODE_SCALE)


def tensor_to_frame(x: torch.Tensor) -> FrameU8:
    """Float engine values, NCHW or CHW with C = 3, to uint8 codes ``floor(x*256 + 0.5)``.

    Rounds half-up in float64 (exact for float32 input) and saturates to 0..255. Shapes:
    (1,3,H,W) and (3,H,W) give HxWx3; (N,3,H,W) with N > 1 gives NxHxWx3. NaN is refused.

    >>> import torch
    >>> tensor_to_frame(torch.tensor([0.5, 1.5 / 256, -0.01]).view(1, 3, 1, 1)).tolist()
    [[[128, 2, 0]]]
    """
    import torch

    if not isinstance(x, torch.Tensor) or not x.is_floating_point():
        raise ValueError(f"expected a floating-point tensor, got {getattr(x, 'dtype', type(x))}")
    if x.ndim not in (3, 4) or x.shape[-3] != 3 or x.numel() == 0:
        raise ValueError(f"expected a non-empty (N,3,H,W) or (3,H,W) tensor, got {tuple(x.shape)}")
    values = x.detach().to("cpu", torch.float64)
    if torch.isnan(values).any():
        raise ValueError("tensor contains NaN")
    codes = torch.floor(values * CODE_SCALE + 0.5).clamp_(0, 255).to(torch.uint8)
    batch = codes if codes.ndim == 4 else codes[None]
    frames = np.ascontiguousarray(batch.permute(0, 2, 3, 1).numpy())
    return frames[0] if frames.shape[0] == 1 else frames
