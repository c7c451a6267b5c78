"""Y-channel PSNR and SSIM: the SR evaluation convention (BT.601 luma, border shaved).

Every image here is uint8 RGB in HWC layout (``frame_u8_hwc``, as `hwsr.imageio.read_image`
returns). Luma is ITU-R BT.601 as MATLAB's ``rgb2ycbcr`` on double input in [0, 1]:
``Y = 16 + 65.481 R + 128.553 G + 24.966 B`` with ``R = code / 255``, giving 16..235 in 0..255
units. Y stays float64 and is never rounded: MATLAB's ``rgb2ycbcr`` on uint8 input, and some
BasicSR paths, round Y to uint8 first, which moves PSNR by a few hundredths of a dB.

Both metrics shave ``shave`` pixels (normally the SR scale) from every border first.
"""

import math

import numpy as np
import numpy.typing as npt
from numpy.lib.stride_tricks import sliding_window_view

__all__ = ["PEAK", "SSIM_SIGMA", "SSIM_WINDOW", "Y_WEIGHTS", "psnr_y", "rgb_to_y", "ssim_y"]

Y_WEIGHTS = (65.481, 128.553, 24.966)  # BT.601 luma rows of MATLAB's rgb2ycbcr, per unit RGB
Y_OFFSET = 16.0
PEAK = 255.0  # data range of Y in PSNR and SSIM
SSIM_WINDOW = 11  # Gaussian window side (Wang et al. 2004)
SSIM_SIGMA = 1.5
SSIM_K1, SSIM_K2 = 0.01, 0.03

FrameU8 = npt.NDArray[np.uint8]
Plane = npt.NDArray[np.float64]


def rgb_to_y(frame_u8_hwc: FrameU8) -> Plane:
    """BT.601 luma of a uint8 RGB HWC frame, float64 HxW in 0..255 units (16..235), unrounded.

    >>> rgb_to_y(np.array([[[0, 0, 0], [255, 255, 255]]], dtype=np.uint8)).round(9).tolist()
    [[16.0, 235.0]]
    """
    frame = _check_rgb(frame_u8_hwc, "rgb_to_y")
    weights = np.asarray(Y_WEIGHTS, dtype=np.float64)
    y: Plane = Y_OFFSET + (frame.astype(np.float64) @ weights) / 255.0
    return y


def psnr_y(a_u8_hwc: FrameU8, b_u8_hwc: FrameU8, shave: int) -> float:
    """PSNR in dB on Y of two uint8 RGB HWC frames, ``shave`` border pixels removed.

    ``10 log10(255**2 / MSE)``; identical frames give ``math.inf``.

    >>> a = np.zeros((4, 4, 3), np.uint8); b = a.copy(); b[1, 2] = 255  # one white pixel
    >>> round(psnr_y(a, b, 0), 6)  # MSE = 219**2 / 16
    13.363121
    >>> psnr_y(a, a, 1)
    inf
    """
    ya, yb = _shaved_y(a_u8_hwc, b_u8_hwc, shave, 1, "psnr_y")
    mse = float(np.mean((ya - yb) ** 2))
    if mse == 0.0:
        return math.inf
    return 10.0 * math.log10(PEAK**2 / mse)


def ssim_y(a_u8_hwc: FrameU8, b_u8_hwc: FrameU8, shave: int) -> float:
    """SSIM (Wang et al. 2004) on Y of two uint8 RGB HWC frames, ``shave`` border pixels removed.

    11x11 Gaussian window (sigma 1.5), 'valid' filtering as MATLAB's ``ssim_index`` and
    BasicSR's ``_ssim``, C1 = (0.01*255)**2, C2 = (0.03*255)**2, float64, mean of the map.
    Needs at least 11x11 pixels after shaving.

    >>> a = np.full((11, 11, 3), 77, np.uint8)
    >>> ssim_y(a, a, 0)
    1.0
    """
    ya, yb = _shaved_y(a_u8_hwc, b_u8_hwc, shave, SSIM_WINDOW, "ssim_y")
    g = _gaussian_taps()
    mu_a, mu_b = _filter_valid(ya, g), _filter_valid(yb, g)
    var_a = _filter_valid(ya * ya, g) - mu_a**2
    var_b = _filter_valid(yb * yb, g) - mu_b**2
    cov = _filter_valid(ya * yb, g) - mu_a * mu_b
    c1, c2 = (SSIM_K1 * PEAK) ** 2, (SSIM_K2 * PEAK) ** 2
    numerator = (2 * mu_a * mu_b + c1) * (2 * cov + c2)
    denominator = (mu_a**2 + mu_b**2 + c1) * (var_a + var_b + c2)
    return float(np.mean(numerator / denominator))


def _gaussian_taps() -> Plane:
    """Normalised 1-D Gaussian; its outer product is MATLAB's fspecial('gaussian', 11, 1.5)."""
    x = np.arange(SSIM_WINDOW, dtype=np.float64) - (SSIM_WINDOW - 1) / 2
    taps: Plane = np.exp(-(x**2) / (2 * SSIM_SIGMA**2))
    return taps / taps.sum()


def _filter_valid(plane: Plane, taps: Plane) -> Plane:
    """Separable 'valid' correlation (the taps are symmetric): rows, then columns."""
    rows = sliding_window_view(plane, taps.size, axis=1) @ taps
    out: Plane = sliding_window_view(rows, taps.size, axis=0) @ taps
    return out


def _check_rgb(frame: object, who: str) -> FrameU8:
    if not isinstance(frame, np.ndarray) or frame.dtype != np.uint8:
        kind = frame.dtype if isinstance(frame, np.ndarray) else type(frame).__name__
        raise ValueError(f"{who}: expected a uint8 RGB HxWx3 array, got {kind}")
    if frame.ndim != 3 or frame.shape[2] != 3:
        raise ValueError(f"{who}: expected a uint8 RGB HxWx3 array, got shape {frame.shape}")
    return frame


def _shaved_y(a: FrameU8, b: FrameU8, shave: int, min_side: int, who: str) -> tuple[Plane, Plane]:
    a, b = _check_rgb(a, who), _check_rgb(b, who)
    if a.shape != b.shape:
        raise ValueError(f"{who}: shapes differ, {a.shape} vs {b.shape}")
    if isinstance(shave, bool) or not isinstance(shave, int | np.integer) or shave < 0:
        raise ValueError(f"{who}: shave must be an integer >= 0, got {shave!r}")
    height, width = a.shape[0] - 2 * shave, a.shape[1] - 2 * shave
    if min(height, width) < min_side:
        raise ValueError(
            f"{who}: {a.shape[0]}x{a.shape[1]} shaved by {shave} leaves {height}x{width}, "
            f"needs at least {min_side}x{min_side}"
        )
    window = (slice(shave, shave + height), slice(shave, shave + width))
    return rgb_to_y(a[window]), rgb_to_y(b[window])
