"""The one bicubic resizer of hwsr: MATLAB ``imresize`` bicubic as separable weight matrices.

Everything in hwsr that scales an image goes through this module: the dataset builder
(UHD HR -> dHR, the still-image camera path), SRCNN's input upsampling and the bicubic
baselines of the evaluation. One kernel everywhere keeps "bicubic" a single, reproducible
degradation instead of three slightly different ones.

The recipe is MATLAB's ``imresize(..., 'bicubic')`` (``contributions`` in ``imresize.m``):

* Keys cubic kernel with ``a = -0.5``, support 4 input pixels;
* pixel centres map as ``u = x / scale + 0.5 * (1 - 1 / scale)`` (1-based), i.e. the
  pixel *edges* of input and output line up, so ×1/3 of a 3×3 block lands on the block's
  centre pixel and the HR patch at ``3 * (y, x)`` covers exactly the LR pixel ``(y, x)``;
* when shrinking (``scale < 1``) the kernel is stretched by ``1 / scale`` (antialiasing);
* taps that fall outside the line are folded back by MATLAB's index table
  ``[1..n, n..1]``, i.e. half-sample symmetric extension (the edge pixel is repeated, then
  the image is mirrored);
* each output pixel's weights are normalized to sum to 1 (constant stays constant).

Each axis is one weight matrix ``W`` (out × in, float64); a frame is resized as
``W_h @ frame @ W_w.T``, H first, then W. The numpy path applies the matrices in banded
form (only the ~4/scale non-zero taps per row), the torch path applies them densely and
is differentiable. Unlike MATLAB, a uint8 frame is *not* rounded between the two passes:
it is computed in float64 and rounded once (half up) at the end.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import numpy.typing as npt
import torch

RESIZER_NAME = "matlab-bicubic-aa-v1"  # recorded in dataset manifests; bump if weights change
KEYS_A = -0.5  # Keys' free parameter, as MATLAB and PIL
KERNEL_WIDTH = 4.0  # support of the cubic kernel in input pixels, before antialiasing
_CHUNK_ELEMS = 1 << 17  # output elements per slab of the banded numpy path (1 MiB: in cache)


def cubic(x: npt.ArrayLike) -> np.ndarray:
    """Keys cubic convolution kernel with ``a = -0.5`` (MATLAB's ``cubic``), float64.

    >>> cubic([0.0, 0.5, 1.0, 1.5, 2.0]).tolist()
    [1.0, 0.5625, 0.0, -0.0625, 0.0]
    """
    ax = np.abs(np.asarray(x, dtype=np.float64))
    ax2, ax3 = ax * ax, ax * ax * ax
    near = (KEYS_A + 2.0) * ax3 - (KEYS_A + 3.0) * ax2 + 1.0
    far = KEYS_A * ax3 - 5.0 * KEYS_A * ax2 + 8.0 * KEYS_A * ax - 4.0 * KEYS_A
    return np.where(ax <= 1.0, near, np.where(ax <= 2.0, far, 0.0))


@dataclass(frozen=True)
class _Band:
    """A resize matrix in banded form: row ``o`` is ``weights[o]`` at columns ``first[o] + k``."""

    in_size: int
    first: np.ndarray  # (out,) int64, first input index with a non-zero weight
    weights: np.ndarray  # (out, taps) float64, zero-padded on the right

    @property
    def out_size(self) -> int:
        return int(self.first.shape[0])

    def dense(self) -> np.ndarray:
        mat = np.zeros((self.out_size, self.in_size), dtype=np.float64)
        rows = np.arange(self.out_size)[:, None]
        cols = self.first[:, None] + np.arange(self.weights.shape[1])[None, :]
        valid = cols < self.in_size
        mat[np.broadcast_to(rows, cols.shape)[valid], cols[valid]] = self.weights[valid]
        return mat


def _build_band(in_size: int, out_size: int, scale: float, shift_px: float) -> _Band:
    """MATLAB ``contributions`` for one axis, plus a source shift (used by :func:`crop_zoom`)."""
    if in_size < 1 or out_size < 1:
        raise ValueError(f"resize sizes must be >= 1, got {in_size} -> {out_size}")
    if not (scale > 0 and math.isfinite(scale)):
        raise ValueError(f"resize scale must be a positive finite number, got {scale}")
    width = KERNEL_WIDTH / scale if scale < 1 else KERNEL_WIDTH
    x = np.arange(1, out_size + 1, dtype=np.float64)
    u = x / scale + 0.5 * (1.0 - 1.0 / scale) + shift_px
    left = np.floor(u - width / 2.0).astype(np.int64)
    taps = int(math.ceil(width)) + 2
    idx = left[:, None] + np.arange(taps, dtype=np.int64)[None, :]  # 1-based, unfolded
    dist = u[:, None] - idx
    w = scale * cubic(scale * dist) if scale < 1 else cubic(dist)
    w = w / w.sum(axis=1, keepdims=True)
    # MATLAB's index table [1..n, n..1]: half-sample symmetric extension at both ends.
    period = 2 * in_size
    m = np.mod(idx - 1, period)
    folded = np.where(m < in_size, m, period - 1 - m)  # 0-based
    live = w != 0.0
    first = np.where(live, folded, in_size).min(axis=1)
    last = np.where(live, folded, -1).max(axis=1)
    n_band = int((last - first).max()) + 1
    band = np.zeros((out_size, n_band), dtype=np.float64)
    rows = np.broadcast_to(np.arange(out_size)[:, None], idx.shape)
    np.add.at(band, (rows[live], (folded - first[:, None])[live]), w[live])
    return _Band(in_size=in_size, first=first, weights=band)


@lru_cache(maxsize=64)
def _cached_band(in_size: int, out_size: int, scale: float) -> _Band:
    return _build_band(in_size, out_size, scale, 0.0)


def output_size(in_size: int, scale: float) -> int:
    """Output length for a scale factor, as MATLAB: ``ceil(in_size * scale)``.

    A relative slack of 1e-12 absorbs the float error of factors like 1/3.

    >>> output_size(2160, 1 / 3), output_size(720, 3.0)
    (720, 2160)
    """
    return max(1, math.ceil(in_size * scale * (1.0 - 1e-12)))


def resize_matrix(in_size: int, out_size: int, *, scale: float | None = None) -> np.ndarray:
    """Dense (out_size, in_size) float64 matrix of the bicubic resize of one axis.

    ``scale`` defaults to ``out_size / in_size``; pass it to reproduce MATLAB's
    ``imresize(img, scale)`` when ``in_size * scale`` is not an integer.

    >>> m = resize_matrix(9, 3)
    >>> m.shape, bool(np.allclose(m.sum(axis=1), 1.0))
    ((3, 9), True)
    """
    return _cached_band(int(in_size), int(out_size), _scale(in_size, out_size, scale)).dense()


def _scale(in_size: int, out_size: int, scale: float | None) -> float:
    return float(out_size) / float(in_size) if scale is None else float(scale)


def _apply_band(
    x: np.ndarray, band: _Band, axis: int, out_dtype: npt.DTypeLike = np.float64
) -> np.ndarray:
    """``W @ x`` along ``axis`` in float64, slab by slab over another axis to stay in cache.

    Each slab is converted to ``out_dtype`` as soon as it is summed (see `_store`), so a
    uint8 result never holds a whole float64 frame.
    """
    shape = list(x.shape)
    shape[axis] = band.out_size
    out = np.empty(shape, dtype=out_dtype)
    direct = out.dtype == np.float64
    slab_axis = 1 if axis == 0 else 0
    step = max(1, _CHUNK_ELEMS * shape[slab_axis] // max(1, math.prod(shape)))
    w_shape = [1] * x.ndim
    w_shape[axis] = band.out_size
    # Right-padding taps have weight 0; clamp their index instead of branching.
    cols = [np.minimum(band.first + k, band.in_size - 1) for k in range(band.weights.shape[1])]
    weights = [np.ascontiguousarray(w).reshape(w_shape) for w in band.weights.T]
    for start in range(0, x.shape[slab_axis], step):
        sl = [slice(None)] * x.ndim
        sl[slab_axis] = slice(start, start + step)
        src, dst = x[tuple(sl)], out[tuple(sl)]
        acc = dst if direct else np.empty(dst.shape, dtype=np.float64)
        np.multiply(np.take(src, cols[0], axis=axis), weights[0], out=acc)
        term = np.empty(acc.shape, dtype=np.float64)
        for col, w in zip(cols[1:], weights[1:], strict=True):
            acc += np.multiply(np.take(src, col, axis=axis), w, out=term)
        if not direct:
            _store(acc, dst)
    return out


def _store(acc_f64: np.ndarray, dst: np.ndarray) -> None:
    """Write float64 sums into ``dst``; uint8 rounds half up once and saturates to 0..255."""
    if dst.dtype == np.uint8:
        # MATLAB rounds half away from zero: the same as half up on the saturated range.
        acc_f64 += 0.5
        np.floor(acc_f64, out=acc_f64)
        np.clip(acc_f64, 0.0, 255.0, out=acc_f64)
    dst[...] = acc_f64


def _resize2d(frame: np.ndarray, band_h: _Band, band_w: _Band) -> np.ndarray:
    """H pass to float64, then W pass straight into the frame's dtype."""
    rows = _apply_band(frame, band_h, axis=0)
    return _apply_band(rows, band_w, axis=1, out_dtype=frame.dtype)


def _check_frame(frame: np.ndarray) -> None:
    if frame.ndim not in (2, 3):
        raise ValueError(f"expected an HW or HWC frame, got shape {frame.shape}")
    if frame.dtype != np.uint8 and not np.issubdtype(frame.dtype, np.floating):
        raise TypeError(f"expected a uint8 or float frame, got {frame.dtype}")
    if frame.shape[0] < 1 or frame.shape[1] < 1:
        raise ValueError(f"cannot resize an empty frame of shape {frame.shape}")


def imresize(
    frame: np.ndarray,
    scale: float | None = None,
    size: tuple[int, int] | None = None,
) -> np.ndarray:
    """Bicubic resize of an HW or HWC frame, MATLAB ``imresize`` style (see module doc).

    Give exactly one of ``scale`` (both axes; output ``ceil(in * scale)``) or
    ``size = (out_h, out_w)``. uint8 in -> uint8 out (float64 inside, rounded half up
    once, clipped to 0..255); float in -> the same float dtype out.

    >>> frame_u8_hwc = np.full((6, 9, 3), 200, np.uint8)
    >>> small = imresize(frame_u8_hwc, 1 / 3)
    >>> small.shape, small.dtype.name, int(small.min()), int(small.max())
    ((2, 3, 3), 'uint8', 200, 200)
    """
    frame = np.asarray(frame)
    _check_frame(frame)
    in_h, in_w = frame.shape[:2]
    if (scale is None) == (size is None):
        raise ValueError("give exactly one of scale or size")
    if size is not None:
        out_h, out_w = (int(s) for s in size)
        scale_h, scale_w = out_h / in_h, out_w / in_w
    else:
        if not (scale is not None and scale > 0 and math.isfinite(scale)):
            raise ValueError(f"scale must be a positive finite number, got {scale}")
        out_h, out_w = output_size(in_h, scale), output_size(in_w, scale)
        scale_h = scale_w = float(scale)
    if out_h < 1 or out_w < 1:
        raise ValueError(f"output size must be >= 1x1, got {out_h}x{out_w}")
    return _resize2d(frame, _cached_band(in_h, out_h, scale_h), _cached_band(in_w, out_w, scale_w))


def crop_zoom(
    frame: np.ndarray,
    size: tuple[int, int],
    *,
    zoom: float,
    origin_yx: tuple[float, float],
) -> np.ndarray:
    """Sample a ``size`` window of ``frame`` magnified by ``zoom``, with the bicubic kernel.

    A virtual camera over a still image: output pixel ``(i, j)`` (centre at ``i + 0.5``)
    looks at source position ``origin_yx + ((i + 0.5) / zoom, (j + 0.5) / zoom)`` in
    pixel-edge coordinates. Sub-pixel origins and zoom != 1 resample with the same
    Keys kernel as :func:`imresize`; an integer origin at zoom 1 is an exact crop.

    >>> frame_u8_hwc = np.arange(36, dtype=np.uint8).reshape(6, 6, 1)
    >>> crop = crop_zoom(frame_u8_hwc, (2, 3), zoom=1.0, origin_yx=(1.0, 2.0))
    >>> bool((crop == frame_u8_hwc[1:3, 2:5]).all())
    True
    """
    frame = np.asarray(frame)
    _check_frame(frame)
    if not (zoom > 0 and math.isfinite(zoom)):
        raise ValueError(f"zoom must be a positive finite number, got {zoom}")
    out_h, out_w = (int(s) for s in size)
    band_h = _build_band(frame.shape[0], out_h, float(zoom), float(origin_yx[0]))
    band_w = _build_band(frame.shape[1], out_w, float(zoom), float(origin_yx[1]))
    return _resize2d(frame, band_h, band_w)


def imresize_torch(x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Bicubic resize of an NCHW float tensor to ``size = (out_h, out_w)``, differentiable.

    Applies the same matrices as :func:`imresize` (``W_h @ x @ W_w.T``) in ``x``'s dtype
    and device; in float64 it agrees with the numpy path to ~1e-12. For training-time
    upsampling (SRCNN input) and bicubic baselines on tensors.

    >>> x = torch.ones(1, 3, 4, 4, dtype=torch.float64)
    >>> y = imresize_torch(x, (12, 12))
    >>> tuple(y.shape), bool(torch.allclose(y, torch.ones_like(y)))
    ((1, 3, 12, 12), True)
    """
    if x.ndim != 4 or not torch.is_floating_point(x):
        raise ValueError(f"expected an NCHW float tensor, got {tuple(x.shape)} {x.dtype}")
    in_h, in_w = int(x.shape[-2]), int(x.shape[-1])
    out_h, out_w = (int(s) for s in size)
    m_h = torch.from_numpy(resize_matrix(in_h, out_h)).to(dtype=x.dtype, device=x.device)
    m_w = torch.from_numpy(resize_matrix(in_w, out_w)).to(dtype=x.dtype, device=x.device)
    return torch.matmul(torch.matmul(m_h, x), m_w.transpose(0, 1))


def upscale_torch(x: torch.Tensor, r: int) -> torch.Tensor:
    """Bicubic ×``r`` of an NCHW tensor with :func:`imresize_torch` (identity for r = 1)."""
    if r == 1:
        return x
    h, w = x.shape[-2:]
    return imresize_torch(x, (h * r, w * r))
