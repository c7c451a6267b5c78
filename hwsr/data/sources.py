"""Dataset sources: finding UHD videos and stills, naming them, and reading their HR frames.

A source becomes a *clip*: a sequence of HR frames (uint8 RGB HWC) of one size, cropped
at the bottom and right to a multiple of 6 = 2 × 3, so that the ×1/3 frame is whole (3) and
has even sides (2), which 4:2:0 chroma needs. Videos are decoded with PyAV (first
``max_video_frames`` frames); a still image becomes a short synthetic camera clip
(`hwsr.data.camera`).
"""

from __future__ import annotations

import logging
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from hwsr.data.camera import still_clip
from hwsr.data.config import HR_MULTIPLE, STILL_FPS, BuildConfig, DataError
from hwsr.imageio import ImageError, read_image

log = logging.getLogger(__name__)

STILL_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff"})
VIDEO_SUFFIXES = frozenset(
    ".mp4 .m4v .mkv .mov .webm .avi .ts .m2ts .mts .mxf .y4m .ivf .264 .h264 .265 .h265 .hevc "
    ".mpg .mpeg .nut".split()
)
_MAX_STILL_PIXELS = 16384 * 16384  # 268 Mpixel; bigger files are refused before decoding


@dataclass(frozen=True)
class Source:
    """One input file: ``name`` is unique in the build and keys its RNG stream and folders."""

    path: Path
    name: str
    kind: str  # "video" or "still"

    @property
    def rng_key(self) -> int:
        """Stable 32-bit key of the source's random stream (patch positions, camera path)."""
        return zlib.crc32(self.name.encode("utf-8"))


@dataclass
class Clip:
    """HR frames of one source, read lazily; ``frames`` may raise `DataError` midway."""

    fps: Fraction
    frames_hint: int  # expected frame count (exact for stills, from the header for videos)
    hr_hw: tuple[int, int]  # HR frame size after the crop to a multiple of 6
    frames: Iterator[np.ndarray]


def expand_sources(paths: Iterable[Path]) -> tuple[list[Path], list[tuple[str, str]]]:
    """Files named directly, plus media files found under named folders (sorted, no dups).

    Returns ``(files, errors)``; a missing path is an error ``(path, reason)``. Hidden files
    and files without a known still or video suffix are skipped inside folders; a file named
    directly is always tried.
    """
    files: list[Path] = []
    errors: list[tuple[str, str]] = []
    seen: set[Path] = set()
    for path in paths:
        if path.is_dir():
            found = sorted(
                p
                for p in path.rglob("*")
                if p.is_file()
                and p.suffix.lower() in STILL_SUFFIXES | VIDEO_SUFFIXES
                and not any(part.startswith(".") for part in p.relative_to(path).parts)
            )
            if not found:
                errors.append((str(path), "folder holds no still image or video file"))
        elif path.exists():
            found = [path]
        else:
            errors.append((str(path), "no such file or folder"))
            continue
        for f in found:
            key = f.resolve()
            if key not in seen:
                seen.add(key)
                files.append(f)
    return files, errors


def name_sources(files: list[Path]) -> list[Source]:
    """Give each file a unique, folder-safe name: its path below the files' common folder."""
    resolved = [f.resolve() for f in files]
    if not resolved:
        return []
    common = Path(*_common_parts([r.parent.parts for r in resolved]))
    sources = []
    for f, r in zip(files, resolved, strict=True):
        name = "__".join(r.relative_to(common).parts)
        kind = "still" if f.suffix.lower() in STILL_SUFFIXES else "video"
        sources.append(Source(path=f, name=name, kind=kind))
    return sources


def _common_parts(all_parts: list[tuple[str, ...]]) -> tuple[str, ...]:
    first = all_parts[0]
    n = len(first)
    for parts in all_parts[1:]:
        n = min(n, len(parts))
        n = next((i for i in range(n) if parts[i] != first[i]), n)
    return first[:n]


def crop_hr(frame_u8_hwc: np.ndarray) -> np.ndarray:
    """Crop bottom rows and right columns so both sides are multiples of 6."""
    h, w = frame_u8_hwc.shape[:2]
    return frame_u8_hwc[: h - h % HR_MULTIPLE, : w - w % HR_MULTIPLE]


def check_size(source: Source, hr_hw: tuple[int, int], cfg: BuildConfig) -> None:
    """Refuse a source whose HR frame cannot hold one HR patch."""
    side = cfg.patch_hr_px
    if hr_hw[0] < side or hr_hw[1] < side:
        raise DataError(
            f"{source.path}: HR frame {hr_hw[1]}x{hr_hw[0]} is smaller than one "
            f"{side}x{side} HR patch"
        )


def open_clip(source: Source, cfg: BuildConfig) -> Clip:
    """Open a source as a clip of HR frames; raises `DataError` naming the source."""
    if source.kind == "still":
        try:
            image = read_image(source.path, max_pixels=_MAX_STILL_PIXELS, allow_16bit=True)
        except ImageError as exc:
            raise DataError(str(exc)) from exc
        rng = np.random.default_rng([cfg.seed, source.rng_key, 1])
        hr_hw, frames = still_clip(image, cfg, rng)
        check_size(source, hr_hw, cfg)
        return Clip(Fraction(STILL_FPS), cfg.still_frames, hr_hw, frames)
    return _open_video(source, cfg)


def _open_video(source: Source, cfg: BuildConfig) -> Clip:
    try:
        container = av.open(str(source.path))
    except (av.FFmpegError, OSError) as exc:
        raise DataError(f"{source.path}: not a readable video ({_reason(exc)})") from exc
    try:
        if not container.streams.video:
            raise DataError(f"{source.path}: no video stream")
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"  # frame + slice threads: UHD decoding is the slow part
        ctx = stream.codec_context
        hr_hw = (ctx.height - ctx.height % HR_MULTIPLE, ctx.width - ctx.width % HR_MULTIPLE)
        check_size(source, hr_hw, cfg)
        fps = Fraction(stream.average_rate or stream.guessed_rate or STILL_FPS).limit_denominator(
            1001
        )
        expected = _expected_frames(container, stream, fps)
        limit = cfg.max_video_frames
        hint = expected if limit is None else min(expected or limit, limit)
    except BaseException:
        container.close()
        raise
    return Clip(fps, hint, hr_hw, _video_frames(source, container, expected, limit, hr_hw))


def _expected_frames(container: av.container.InputContainer, stream, fps: Fraction) -> int:
    """Frame count from the header: the stream's count, else duration × rate; 0 if unknown."""
    if stream.frames:
        return int(stream.frames)
    if container.duration:
        return round(container.duration / av.time_base * fps)
    return 0


def _video_frames(
    source: Source,
    container: av.container.InputContainer,
    expected: int,
    limit: int | None,
    hr_hw: tuple[int, int],
) -> Iterator[np.ndarray]:
    count, last_pts = 0, None
    try:
        for frame in container.decode(video=0):
            if frame.pts is not None:
                if last_pts is not None and frame.pts <= last_pts:
                    raise DataError(f"{source.path}: timestamps not increasing at frame {count}")
                last_pts = frame.pts
            rgb = crop_hr(frame.to_ndarray(format="rgb24"))
            if rgb.shape[:2] != hr_hw:
                raise DataError(f"{source.path}: frame size changes at frame {count}")
            yield rgb
            count += 1
            if limit is not None and count >= limit:
                return
    except av.FFmpegError as exc:
        raise DataError(f"{source.path}: decode failed at frame {count} ({_reason(exc)})") from exc
    finally:
        container.close()
    if count == 0:
        raise DataError(f"{source.path}: no decodable video frame")
    # A truncated file decodes cleanly up to the cut; the header still knows the length.
    if expected and count < expected - 1:
        raise DataError(f"{source.path}: truncated: decoded {count} of {expected} frames")


def _reason(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__
