"""What defines an HD2UHD dataset build: one frozen, validated `BuildConfig`.

Every field that changes the bytes of the dataset lives here (and is recorded in the
manifest); run-time knobs that do not (progress bar, overwrite) are arguments of
`hwsr.data.build_dataset` instead.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

from hwsr.validate import require

SCALE = 3  # the engine's SR factor: 720p video-LR / dHR -> 2160p HR
HR_MULTIPLE = 2 * SCALE  # HR sides: whole ×1/3 frame (3) with even sides for 4:2:0 (2)
STILL_FPS = 24  # frame rate given to clips synthesized from still images
DEFAULT_CRF = 23.0  # x264/x265's own default rate factor
LR_PIX_FMT = "yuv420p"  # chroma format of the coded HD stream, as broadcast and streaming
# FFmpeg encoders that take a constant rate factor, with the CRF range of their 8-bit mode.
CRF_RANGE: dict[str, tuple[float, float]] = {
    "libx264": (0, 51),
    "libx265": (0, 51),
    "libvpx-vp9": (0, 63),
    "libaom-av1": (0, 63),
    "libsvtav1": (1, 63),
}


class DataError(ValueError):
    """A refused dataset input or setting; the message is one line naming the culprit."""


@dataclass(frozen=True)
class BuildConfig:
    """Recipe of one (video-LR, dHR, HR) dataset build; validated on construction.

    HR is the UHD frame; dHR is HR shrunk ×1/3 by `hwsr.resize.imresize`; video-LR is the
    dHR clip coded by ``codec`` at ``crf`` (or ``bitrate_kbps``) and decoded again.
    """

    sources: tuple[Path, ...]  # UHD video files, still images, or folders of them
    out_dir: Path  # final dataset folder; built in a hidden sibling and renamed into place
    val_sources: tuple[Path, ...] = ()  # explicit validation sources (never trained on)
    val_fraction: float = 0.1  # else this share of ``sources`` (>= 1 if >= 2 sources) is val
    val_frames_per_source: int = 4  # whole frames kept per validation source
    codec: str = "libx264"  # FFmpeg encoder: libx264, libx265, libvpx-vp9, libsvtav1, ...
    crf: float | None = DEFAULT_CRF  # constant rate factor; None when bitrate_kbps is used
    bitrate_kbps: int | None = None  # average bit rate of the 1/3-size stream, kbit/s
    gop_frames: int = 30  # distance between key frames (I frames), in frames
    preset: str | None = "medium"  # encoder speed preset; None leaves the encoder's default
    codec_threads: int = 2  # fixed, as x264/x265 output depends on the thread count
    patch_lr_px: int = 128  # side of the video-LR and dHR patches; HR patches are 3x
    patches_per_frame: int = 8  # random aligned triples cut from every training frame
    shard_patches: int = 256  # triples per shard file (256 × 128² LR ≈ 140 MB uncompressed)
    seed: int = 0  # seeds patch positions, still-image camera paths and the val split
    still_frames: int = 12  # length of the clip synthesized from one still image, frames
    still_zoom: float = 0.02  # total zoom over a still clip; 0 gives exact integer-pixel crops
    still_pan: float = 0.02  # total pan over a still clip, as a fraction of the frame width
    max_video_frames: int | None = 120  # frames taken from the start of each video; None: all
    strict: bool = False  # stop at the first bad source instead of logging and skipping it
    scale: int = field(default=SCALE, init=False)  # fixed ×3; recorded in the manifest

    def __post_init__(self) -> None:
        object.__setattr__(self, "sources", tuple(Path(p) for p in self.sources))
        object.__setattr__(self, "val_sources", tuple(Path(p) for p in self.val_sources))
        object.__setattr__(self, "out_dir", Path(self.out_dir))
        if not self.sources and not self.val_sources:
            raise DataError("no sources given")
        _check_rate(self)
        _check_ints(self)
        require(0.0 <= self.val_fraction < 1.0, "val_fraction",
                f"must be in [0, 1), got {self.val_fraction}", DataError)
        require(0.0 <= self.still_zoom <= 0.5 and 0.0 <= self.still_pan <= 0.5,
                "still_zoom, still_pan",
                f"must be in [0, 0.5], got {self.still_zoom}, {self.still_pan}", DataError)

    @property
    def patch_hr_px(self) -> int:
        """Side of the HR patches: ``3 * patch_lr_px``."""
        return self.scale * self.patch_lr_px

    def codec_summary(self) -> str:
        """Short human-readable rate setting, e.g. ``libx264 crf 23 gop 30``."""
        rate = f"crf {self.crf:g}" if self.crf is not None else f"{self.bitrate_kbps} kbit/s"
        return f"{self.codec} {rate} gop {self.gop_frames}"


def _check_ints(cfg: BuildConfig) -> None:
    minimum = {
        "val_frames_per_source": 0,
        "gop_frames": 1,
        "codec_threads": 1,
        "patch_lr_px": 8,
        "patches_per_frame": 1,
        "shard_patches": 1,
        "still_frames": 2,
    }
    for name, low in minimum.items():
        value = getattr(cfg, name)
        require(isinstance(value, int) and value >= low, name,
                f"must be an integer >= {low}, got {value!r}", DataError)
    require(cfg.max_video_frames is None or cfg.max_video_frames >= 1, "max_video_frames",
            f"must be >= 1 or None, got {cfg.max_video_frames}", DataError)


def _check_rate(cfg: BuildConfig) -> None:
    """Unknown codec or impossible rate: refuse before any source is touched."""
    import av  # here, not at the top: the CLI imports this module to build its parser

    try:
        codec = av.codec.Codec(cfg.codec, "w")
    except Exception as exc:  # PyAV raises UnknownCodecError or ValueError by version
        raise DataError(f"unknown codec {cfg.codec!r}: not an FFmpeg encoder here") from exc
    if codec.type != "video":
        raise DataError(f"codec {cfg.codec!r} is not a video encoder")
    if (cfg.crf is None) == (cfg.bitrate_kbps is None):
        raise DataError("give exactly one of crf and bitrate_kbps")
    if cfg.crf is not None:
        if cfg.codec not in CRF_RANGE:
            raise DataError(f"codec {cfg.codec!r} has no CRF mode here; give bitrate_kbps")
        low, high = CRF_RANGE[cfg.codec]
        if not (math.isfinite(cfg.crf) and low <= cfg.crf <= high):
            raise DataError(f"crf {cfg.crf:g} is outside {cfg.codec}'s range {low:g}..{high:g}")
    else:
        require(isinstance(cfg.bitrate_kbps, int) and 1 <= cfg.bitrate_kbps <= 1_000_000,
                "bitrate_kbps", f"must be an integer in 1..1000000, got {cfg.bitrate_kbps}",
                DataError)
