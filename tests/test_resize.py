"""hwsr.resize against an independent per-pixel MATLAB-imresize model, and its properties."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from PIL import Image

from hwsr.resize import (
    RESIZER_NAME,
    crop_zoom,
    imresize,
    imresize_torch,
    output_size,
    resize_matrix,
)

# Float64 paths that differ only in summation order (banded numpy vs dense torch, matrix vs
# per-pixel loop) agree to a few ulps of values <= 255: 1e-12 leaves ~20x headroom.
F64_TOL = 1e-12
# PIL's BICUBIC is the same Keys a = -0.5 kernel, antialiased the same way, but computes in
# float32 and clips the kernel at the borders instead of mirroring: compare interiors only.
PIL_F32_TOL = 1e-3


def keys(t: float) -> float:
    """Keys' cubic with a = -0.5, written out piecewise (independent of hwsr.resize.cubic)."""
    t = abs(t)
    if t <= 1:
        return 1.5 * t**3 - 2.5 * t**2 + 1
    if t <= 2:
        return -0.5 * t**3 + 2.5 * t**2 - 4 * t + 2
    return 0.0


def reflect(i: int, n: int) -> int:
    """Half-sample symmetric extension: ... 1 0 | 0 1 ... n-1 | n-1 n-2 ..."""
    while i < 0 or i >= n:
        i = -i - 1 if i < 0 else 2 * n - 1 - i
    return i


def direct_line(line: np.ndarray, out_n: int, scale: float) -> np.ndarray:
    """One axis resized pixel by pixel, 0-based centres: c = (o + 0.5) / scale - 0.5."""
    n = len(line)
    s = min(scale, 1.0)  # kernel stretched by 1/scale when shrinking (antialiasing)
    reach = 2.0 / s
    out = np.zeros(out_n)
    for o in range(out_n):
        c = (o + 0.5) / scale - 0.5
        taps = range(math.floor(c - reach) - 1, math.ceil(c + reach) + 2)
        w = np.array([s * keys((c - t) * s) for t in taps])
        vals = np.array([line[reflect(t, n)] for t in taps])
        out[o] = (w * vals).sum() / w.sum()
    return out


def direct_resize(img: np.ndarray, out_hw: tuple[int, int]) -> np.ndarray:
    h, w = img.shape
    rows = np.stack([direct_line(img[:, j], out_hw[0], out_hw[0] / h) for j in range(w)], 1)
    return np.stack([direct_line(rows[i], out_hw[1], out_hw[1] / w) for i in range(out_hw[0])])


SIZE_PAIRS = [(12, 4), (4, 12), (9, 3), (3, 9), (7, 5), (5, 13), (1, 3), (3, 1), (2, 7), (8, 8)]


@pytest.mark.parametrize(("n_in", "n_out"), SIZE_PAIRS)
def test_matrix_matches_direct_per_pixel_model(n_in: int, n_out: int) -> None:
    eye = np.eye(n_in)
    expected = np.stack([direct_line(eye[:, j], n_out, n_out / n_in) for j in range(n_in)], 1)
    np.testing.assert_allclose(resize_matrix(n_in, n_out), expected, rtol=0, atol=F64_TOL)


@given(
    h=st.integers(1, 10),
    w=st.integers(1, 10),
    out_h=st.integers(1, 14),
    out_w=st.integers(1, 14),
    seed=st.integers(0, 2**16),
)
def test_imresize_matches_direct_model(h: int, w: int, out_h: int, out_w: int, seed: int) -> None:
    img = np.random.default_rng(seed).uniform(0, 255, (h, w))
    got = imresize(img, size=(out_h, out_w))
    np.testing.assert_allclose(got, direct_resize(img, (out_h, out_w)), rtol=0, atol=1e-9)


def test_rows_sum_to_one_and_constant_stays_constant() -> None:
    for n_in, n_out in SIZE_PAIRS + [(2160, 720), (720, 2160)]:
        np.testing.assert_allclose(resize_matrix(n_in, n_out).sum(1), 1.0, rtol=0, atol=1e-14)
    for value in (0, 17, 128, 255):
        frame = np.full((27, 36, 3), value, np.uint8)
        for kw in ({"scale": 1 / 3}, {"scale": 3.0}, {"size": (11, 50)}):
            out = imresize(frame, **kw)
            assert out.dtype == np.uint8 and (out == value).all()


def test_third_of_3x3_blocks_lands_on_block_centres() -> None:
    # 3x3 blocks of a plane: the symmetric ×1/3 kernel centred on each block's middle pixel
    # reproduces the plane exactly, away from the mirrored border (2 LR pixels).
    yy, xx = np.mgrid[0:10, 0:12].astype(np.float64)
    plane = 40.0 + 7.5 * yy - 3.25 * xx
    blocks = np.kron(plane, np.ones((3, 3)))
    small = imresize(blocks, 1 / 3)
    assert small.shape == plane.shape
    np.testing.assert_allclose(small[2:-2, 2:-2], plane[2:-2, 2:-2], rtol=0, atol=1e-11)
    # Constant blocks of uint8 stay themselves when their neighbours agree.
    flat = np.kron(np.full((4, 4, 1), 90, np.uint8), np.ones((3, 3, 3), np.uint8))
    assert (imresize(flat, 1 / 3) == 90).all()


def test_uint8_rounds_half_up_once_and_clips() -> None:
    rng = np.random.default_rng(1)
    frame = rng.integers(0, 256, (18, 24, 3)).astype(np.uint8)
    frame[:, :12] = 0
    frame[:, 12:] = 255  # a hard edge: bicubic overshoots below 0 and above 255
    for kw in ({"scale": 3.0}, {"scale": 1 / 3}, {"size": (7, 31)}):
        as_float = imresize(frame.astype(np.float64), **kw)
        expected = np.clip(np.floor(as_float + 0.5), 0, 255).astype(np.uint8)
        np.testing.assert_array_equal(imresize(frame, **kw), expected)
    overshoot = imresize(frame.astype(np.float64), 3.0)
    assert overshoot.min() < -1 and overshoot.max() > 256  # so the clip above was exercised


def test_float_dtype_kept() -> None:
    img = np.random.default_rng(2).random((9, 9, 3)).astype(np.float32)
    assert imresize(img, 1 / 3).dtype == np.float32
    assert imresize(img[..., 0], size=(5, 4)).shape == (5, 4)


def test_close_to_pil_bicubic_in_the_interior() -> None:
    img = np.random.default_rng(3).uniform(0, 255, (60, 90)).astype(np.float32)
    for out_hw in ((20, 30), (180, 270), (45, 70)):
        ours = imresize(img.astype(np.float64), size=out_hw)
        pil = np.asarray(Image.fromarray(img, mode="F").resize(out_hw[::-1], Image.BICUBIC))
        m = 6  # past the kernel's reach of the border at these scales
        np.testing.assert_allclose(ours[m:-m, m:-m], pil[m:-m, m:-m], rtol=0, atol=PIL_F32_TOL)


@pytest.mark.parametrize("out_hw", [(8, 10), (36, 45), (5, 7), (12, 15)])
def test_torch_path_equals_numpy_path(out_hw: tuple[int, int]) -> None:
    img = np.random.default_rng(4).uniform(0, 255, (2, 12, 15, 3))
    x = torch.from_numpy(img).permute(0, 3, 1, 2)
    got = imresize_torch(x, out_hw).permute(0, 2, 3, 1).numpy()
    for n in range(2):
        np.testing.assert_allclose(got[n], imresize(img[n], size=out_hw), rtol=0, atol=F64_TOL)


def test_torch_path_is_differentiable() -> None:
    x = torch.rand(1, 1, 6, 5, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda t: imresize_torch(t, (4, 9)), (x,))


def test_crop_zoom_integer_origin_is_an_exact_crop_and_shift_moves_content() -> None:
    frame = np.random.default_rng(5).integers(0, 256, (30, 40, 3)).astype(np.uint8)
    np.testing.assert_array_equal(
        crop_zoom(frame, (12, 18), zoom=1.0, origin_yx=(5.0, 7.0)), frame[5:17, 7:25]
    )
    ramp = np.tile(np.arange(40, dtype=np.float64), (30, 1))
    half = crop_zoom(ramp, (10, 10), zoom=1.0, origin_yx=(4.0, 6.5))
    np.testing.assert_allclose(half, ramp[4:14, 6:16] + 0.5, rtol=0, atol=1e-12)


def test_sizes_and_refusals() -> None:
    assert output_size(2160, 1 / 3) == 720 and output_size(3840, 1 / 3) == 1280
    assert output_size(7, 0.5) == 4  # MATLAB: ceil
    assert imresize(np.zeros((7, 7), np.uint8), 0.5).shape == (4, 4)
    assert RESIZER_NAME
    with pytest.raises(ValueError, match="exactly one"):
        imresize(np.zeros((3, 3)), 0.5, size=(2, 2))
    with pytest.raises(TypeError):
        imresize(np.zeros((3, 3), np.int32), 0.5)
    with pytest.raises(ValueError):
        imresize(np.zeros((0, 3)), 0.5)
    with pytest.raises(ValueError):
        imresize_torch(torch.zeros(3, 4, 4), (2, 2))
