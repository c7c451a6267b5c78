"""Tiny generated UHD stand-ins for the data tests: textured stills and a lossless video.

Frames carry smooth gradients, sinusoids and random rectangles, so the codec has edges
and texture to damage and the shift search in the alignment test has a unique minimum.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np
from PIL import Image

from hwsr.data import BuildConfig

HR_HW = (216, 288)  # tiny "UHD": LR is 72x96
PATCH_LR = 32  # HR patches 96x96
VIDEO_FRAMES = 10


def texture(h: int, w: int, seed: int) -> np.ndarray:
    """uint8 RGB HxWx3: gradients + sinusoids + random rectangles."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    img = np.empty((h, w, 3))
    for c in range(3):
        img[..., c] = (
            128
            + 50 * np.sin(xx / rng.uniform(2.5, 8) + rng.uniform(0, 6))
            + 40 * np.cos(yy / rng.uniform(2, 7) + rng.uniform(0, 6))
            + 60 * (xx / w - yy / h)
        )
    for _ in range(16):
        y0, x0 = rng.integers(0, h - 8), rng.integers(0, w - 8)
        img[y0 : y0 + rng.integers(4, 40), x0 : x0 + rng.integers(4, 40)] = rng.uniform(0, 255, 3)
    return np.clip(img, 0, 255).astype(np.uint8)


def write_still(path: Path, seed: int, hw: tuple[int, int] = HR_HW) -> Path:
    Image.fromarray(texture(*hw, seed)).save(path)
    return path


def video_frames(hw: tuple[int, int], n: int, seed: int) -> list[np.ndarray]:
    """A pan (2 px down, 3 px right per frame) over a larger texture."""
    big = texture(hw[0] + 3 * n, hw[1] + 3 * n, seed)
    return [big[2 * i : 2 * i + hw[0], 3 * i : 3 * i + hw[1]].copy() for i in range(n)]


def write_video(path: Path, frames: list[np.ndarray], fps: int = 25) -> Path:
    """Lossless RGB video (FFV1 in Matroska): the decoded frames equal ``frames`` exactly."""
    with av.open(str(path), "w", format="matroska") as container:
        stream = container.add_stream("ffv1", rate=fps)
        stream.height, stream.width = frames[0].shape[:2]
        stream.pix_fmt = "bgr0"
        for i, frame in enumerate(frames):
            vf = av.VideoFrame.from_ndarray(frame, format="rgb24")
            vf.pts, vf.time_base = i, Fraction(1, fps)
            for packet in stream.encode(vf):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    return path


def small_config(sources: list[Path], out: Path, **changes) -> BuildConfig:
    """A fast build of tiny frames with the real x264 encoder (B-frames on)."""
    base = {
        "patch_lr_px": PATCH_LR,
        "patches_per_frame": 4,
        "shard_patches": 20,
        "still_frames": 8,
        "preset": "veryfast",
        "crf": 30.0,
        "val_fraction": 0.0,
        "val_frames_per_source": 2,
    }
    base.update(changes)
    return BuildConfig(sources=tuple(sources), out_dir=out, **base)


def test_generated_media_round_trip(tmp_path: Path) -> None:
    frames = video_frames((60, 90), 3, seed=0)
    path = write_video(tmp_path / "v.mkv", frames)
    with av.open(str(path)) as c:
        back = [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]
    assert len(back) == 3 and all(np.array_equal(a, b) for a, b in zip(frames, back, strict=True))
    assert texture(*HR_HW, seed=1).std() > 30  # real texture, not a flat field
