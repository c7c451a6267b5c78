"""Unit tests for hwsr.metrics: hand-computed values, shaving, and independent references."""

import doctest
import math

import numpy as np
import pytest
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from hwsr import metrics
from hwsr.metrics import psnr_y, rgb_to_y, ssim_y

# float64 results computed by different summation orders (matrix product vs hand formula,
# separable numpy filter vs scipy.ndimage vs a direct 2-D sum) differ by ~1e-15 relative.
FLOAT64_REL_TOL = 1e-12
# SSIM against scikit-image: the brief's bar; observed differences are below 1e-13.
SKIMAGE_SSIM_ABS_TOL = 1e-9
SKIMAGE_PSNR_ABS_TOL = 1e-9


def _y_by_hand(r: int, g: int, b: int) -> float:
    return 16 + 65.481 * r / 255 + 128.553 * g / 255 + 24.966 * b / 255


def _pair(shape: tuple[int, int], seed: int, noise: int = 20) -> tuple[np.ndarray, np.ndarray]:
    """A smooth-ish frame and a noisy copy of it, uint8 RGB HWC."""
    rng = np.random.default_rng(seed)
    base = np.cumsum(rng.integers(-8, 9, (*shape, 3)), axis=1) + 128
    a = np.clip(base, 0, 255).astype(np.uint8)
    b = np.clip(a + rng.integers(-noise, noise + 1, a.shape), 0, 255).astype(np.uint8)
    return a, b


def test_doctests_hold() -> None:
    assert doctest.testmod(metrics).failed == 0


def test_rgb_to_y_matches_the_bt601_formula() -> None:
    frame = np.array([[[0, 0, 0], [255, 255, 255], [255, 0, 0], [12, 200, 77]]], np.uint8)
    y = rgb_to_y(frame)
    assert y.dtype == np.float64 and y.shape == (1, 4)
    expected = [_y_by_hand(*map(int, px)) for px in frame[0]]
    np.testing.assert_allclose(y[0], expected, rtol=FLOAT64_REL_TOL)
    assert y[0, 0] == 16.0
    assert abs(y[0, 1] - 235.0) < 1e-12 and abs(y[0, 2] - (16 + 65.481)) < 1e-12
    assert y[0, 3] != round(y[0, 3])  # not rounded to a code


def test_psnr_of_one_differing_pixel_by_hand() -> None:
    a = np.full((4, 4, 3), 100, np.uint8)
    b = a.copy()
    b[2, 1] = (110, 97, 107)
    dy = _y_by_hand(110, 97, 107) - _y_by_hand(100, 100, 100)
    mse = dy**2 / 16
    expected = 10 * math.log10(255**2 / mse)
    assert math.isclose(psnr_y(a, b, 0), expected, rel_tol=FLOAT64_REL_TOL)
    assert math.isclose(
        psnr_y(b, a, 1), expected - 10 * math.log10(16 / 4), rel_tol=FLOAT64_REL_TOL
    )


def test_identical_frames_give_infinite_psnr_and_unit_ssim() -> None:
    a, _ = _pair((16, 16), seed=1)
    assert psnr_y(a, a.copy(), 0) == math.inf
    assert ssim_y(a, a.copy(), 2) == 1.0


def test_shave_drops_the_border() -> None:
    a = np.zeros((14, 14, 3), np.uint8)
    b = a.copy()
    b[0, 5] = b[13, 13] = b[7, 0] = 200  # differences on the 1-pixel border only
    assert psnr_y(a, b, 0) < math.inf
    assert psnr_y(a, b, 1) == math.inf
    assert ssim_y(a, b, 0) < 1.0
    with pytest.raises(ValueError, match="needs at least 11x11"):
        ssim_y(a, b, 2)  # 10x10 left
    assert ssim_y(a, b, 1) == 1.0  # 12x12 left, identical


def test_shave_equals_cropping_first() -> None:
    a, b = _pair((20, 23), seed=2)
    crop = (slice(3, -3), slice(3, -3))
    assert psnr_y(a, b, 3) == psnr_y(a[crop], b[crop], 0)
    assert ssim_y(a, b, 3) == ssim_y(a[crop], b[crop], 0)


@pytest.mark.parametrize("shape, shave", [((11, 11), 0), ((24, 31), 3), ((40, 33), 4)])
def test_psnr_and_ssim_agree_with_scikit_image(shape: tuple[int, int], shave: int) -> None:
    a, b = _pair(shape, seed=sum(shape))
    crop = (slice(shave, shape[0] - shave), slice(shave, shape[1] - shave))
    ya, yb = rgb_to_y(a)[crop], rgb_to_y(b)[crop]
    reference_psnr = peak_signal_noise_ratio(ya, yb, data_range=255)
    assert abs(psnr_y(a, b, shave) - reference_psnr) < SKIMAGE_PSNR_ABS_TOL
    # scikit-image filters the whole image with reflected borders, then averages the map over
    # the interior cropped by (win_size - 1) // 2 = 5: exactly the 'valid' region used here.
    reference_ssim = structural_similarity(
        ya, yb, gaussian_weights=True, sigma=1.5, use_sample_covariance=False, data_range=255
    )
    assert abs(ssim_y(a, b, shave) - reference_ssim) < SKIMAGE_SSIM_ABS_TOL


def _ssim_direct(ya: np.ndarray, yb: np.ndarray) -> float:
    """Wang et al. SSIM summed window by window with the 2-D Gaussian: the slow twin."""
    x = np.arange(11) - 5.0
    window = np.exp(-(x[:, None] ** 2 + x[None, :] ** 2) / (2 * 1.5**2))
    window /= window.sum()
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    values = []
    for i in range(ya.shape[0] - 10):
        for j in range(ya.shape[1] - 10):
            pa, pb = ya[i : i + 11, j : j + 11], yb[i : i + 11, j : j + 11]
            ma, mb = (window * pa).sum(), (window * pb).sum()
            va, vb = (window * (pa - ma) ** 2).sum(), (window * (pb - mb) ** 2).sum()
            cov = (window * (pa - ma) * (pb - mb)).sum()
            values.append(
                (2 * ma * mb + c1) * (2 * cov + c2) / ((ma**2 + mb**2 + c1) * (va + vb + c2))
            )
    return float(np.mean(values))


def test_ssim_matches_a_direct_window_sum() -> None:
    a, b = _pair((15, 17), seed=7, noise=40)
    expected = _ssim_direct(rgb_to_y(a), rgb_to_y(b))
    assert math.isclose(ssim_y(a, b, 0), expected, rel_tol=FLOAT64_REL_TOL)


@pytest.mark.parametrize("metric", [psnr_y, ssim_y])
def test_metrics_refuse_bad_input(metric) -> None:
    a = np.zeros((12, 12, 3), np.uint8)
    with pytest.raises(ValueError, match="shapes differ"):
        metric(a, np.zeros((12, 13, 3), np.uint8), 0)
    with pytest.raises(ValueError, match="uint8"):
        metric(a.astype(np.float64), a.astype(np.float64), 0)
    with pytest.raises(ValueError, match="HxWx3"):
        metric(a[..., 0], a[..., 0], 0)
    for shave in (-1, 1.5, True):
        with pytest.raises(ValueError, match="shave"):
            metric(a, a, shave)
    with pytest.raises(ValueError, match="leaves 0x0"):
        metric(a, a, 6)
