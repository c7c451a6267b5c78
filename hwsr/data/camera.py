"""A virtual camera over a still UHD image, so the codec sees real motion and P/B frames.

A still coded as a static clip would be intra-coded once and then skipped: its video-LR
damage would not look like real video. Instead the camera pans smoothly across the image
and zooms in (or out) slightly: ``still_pan`` of the frame width in a random direction and
``still_zoom`` of scale over ``still_frames`` frames, with a cosine ease (slow start and
stop), so per-frame motion varies from ~0 to ~1.6× its mean and is sub-pixel at LR.

Frames are sampled with `hwsr.resize.crop_zoom`, the same Keys bicubic kernel as every
other resize in hwsr. Sub-pixel resampling softens the finest HR detail a little (a
half-pixel shift removes the Nyquist frequency); with ``still_zoom = 0`` the path is
rounded to whole HR pixels, every HR frame is an exact crop of the image, and the motion is
still sub-pixel (multiples of 1/3 pixel) in the coded 1/3-size stream.

The HR frame is the image less a margin of ``still_pan × width + 4`` pixels per side pair
(for the pan and the kernel's reach), cropped to a multiple of 6.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

import numpy as np

from hwsr.data.config import HR_MULTIPLE, BuildConfig
from hwsr.resize import crop_zoom

_KERNEL_MARGIN_PX = 4  # keep the bicubic taps inside the image (2 px each side)


def camera_path(
    image_hw: tuple[int, int],
    frame_hw: tuple[int, int],
    cfg: BuildConfig,
    rng: np.random.Generator,
) -> list[tuple[float, float, float]]:
    """Per-frame ``(origin_y, origin_x, zoom)`` of a smooth pan + zoom, deterministic in ``rng``.

    ``origin`` is the source position of the frame's top-left pixel edge (`crop_zoom`).
    """
    (img_h, img_w), (out_h, out_w) = image_hw, frame_hw
    pan_px = cfg.still_pan * out_w
    angle = rng.uniform(0.0, 2.0 * math.pi)
    dy, dx = pan_px * math.sin(angle), pan_px * math.cos(angle)
    # Window centre at zoom 1 must stay inside the image along the whole pan.
    cy = _start(rng, img_h, out_h, dy)
    cx = _start(rng, img_w, out_w, dx)
    zoom_in = bool(rng.integers(0, 2))
    path = []
    for i in range(cfg.still_frames):
        s = 0.5 - 0.5 * math.cos(math.pi * i / (cfg.still_frames - 1))  # eased 0 -> 1
        zoom = 1.0 + cfg.still_zoom * (s if zoom_in else 1.0 - s)
        oy = cy + s * dy - out_h / (2.0 * zoom)
        ox = cx + s * dx - out_w / (2.0 * zoom)
        if cfg.still_zoom == 0.0:
            oy, ox = float(round(oy)), float(round(ox))
        path.append((oy, ox, zoom))
    return path


def _start(rng: np.random.Generator, img: int, out: int, delta: float) -> float:
    low = out / 2.0 + _KERNEL_MARGIN_PX / 2 + max(0.0, -delta)
    high = img - out / 2.0 - _KERNEL_MARGIN_PX / 2 - max(0.0, delta)
    return float(rng.uniform(low, high)) if high > low else (low + high) / 2.0


def still_frame_size(image_hw: tuple[int, int], cfg: BuildConfig) -> tuple[int, int]:
    """HR frame size of a still's clip: the image less the pan margin, a multiple of 6."""
    margin = math.ceil(cfg.still_pan * image_hw[1]) + _KERNEL_MARGIN_PX
    h, w = (max(0, (side - margin) // HR_MULTIPLE * HR_MULTIPLE) for side in image_hw)
    return h, w


def still_clip(
    image_u8_hwc: np.ndarray, cfg: BuildConfig, rng: np.random.Generator
) -> tuple[tuple[int, int], Iterator[np.ndarray]]:
    """``(hr_hw, frames)``: the HR frame size and a lazy iterator over the clip's frames."""
    image_hw = (int(image_u8_hwc.shape[0]), int(image_u8_hwc.shape[1]))
    frame_hw = still_frame_size(image_hw, cfg)
    if min(frame_hw) < 1:
        return frame_hw, iter(())
    path = camera_path(image_hw, frame_hw, cfg, rng)

    def frames() -> Iterator[np.ndarray]:
        for oy, ox, zoom in path:
            yield crop_zoom(image_u8_hwc, frame_hw, zoom=zoom, origin_yx=(oy, ox))

    return frame_hw, frames()
