"""Perceptual hash (pHash) of a picture: the same picture at another size, or re-encoded,
lands within a few bits; two different pictures differ in about half of the 64.

The hash is the sign pattern of the lowest 8×8 DCT-II coefficients of the picture's luma
shrunk to 32×32, against their median (the construction of Zauner's pHash). It decides
which files of a pool are the same source, and keeps every picture that looks like a
held-out one out of training (`hwsr.data.pool`).
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

import numpy as np
from PIL import Image

HASH_SIDE = 32  # luma is shrunk to this square before the DCT
LOW_SIDE = 8  # the kept low-frequency block: 8×8 = 64 bits
SAME_PICTURE_BITS = 10  # at most this many differing bits: the same picture


@cache
def dct_matrix(n: int) -> np.ndarray:
    """Orthonormal DCT-II matrix ``D`` (float64, n×n): ``D @ x`` is the DCT of ``x``.

    >>> d = dct_matrix(4)
    >>> bool(np.allclose(d @ d.T, np.eye(4)))
    True
    """
    k = np.arange(n)[:, None]
    i = np.arange(n)[None, :]
    d = np.sqrt(2.0 / n) * np.cos(np.pi * (2 * i + 1) * k / (2 * n))
    d[0] /= np.sqrt(2.0)
    return d


def phash_luma(luma_32: np.ndarray) -> int:
    """The 64-bit pHash of a 32×32 luma array (any real dtype), bit 63 first.

    >>> phash_luma(np.zeros((32, 32)))
    0
    """
    if luma_32.shape != (HASH_SIDE, HASH_SIDE):
        raise ValueError(f"expected a {HASH_SIDE}x{HASH_SIDE} array, got {luma_32.shape}")
    d = dct_matrix(HASH_SIDE)
    low = (d @ luma_32.astype(np.float64) @ d.T)[:LOW_SIDE, :LOW_SIDE]
    bits = (low > np.median(low)).ravel()
    return int.from_bytes(np.packbits(bits).tobytes(), "big")


PREVIEW_SIDE = 1024  # long side of the luma preview that hashes and texture are taken from


def luma_preview(path: Path | str, long_side: int = PREVIEW_SIDE
                 ) -> tuple[np.ndarray, tuple[int, int]]:
    """BT.601 luma of an image file shrunk (box filter) to ``long_side`` pixels on its long
    side, as float64, and the file's (width, height); a JPEG is decoded at a reduced size."""
    with Image.open(path) as img:
        size = img.size
        img.draft("RGB", (long_side, long_side))  # JPEG: decode at the smallest scale >= this
        luma = img.convert("L")
    scale = long_side / max(luma.size)
    if scale < 1:
        w, h = (max(1, round(v * scale)) for v in luma.size)
        luma = luma.resize((w, h), Image.Resampling.BOX)
    return np.asarray(luma, dtype=np.float64), size


def phash_array(luma: np.ndarray) -> int:
    """pHash of a luma array of any size (shrunk to 32×32 with Lanczos first)."""
    img = Image.fromarray(np.clip(np.rint(luma), 0, 255).astype(np.uint8))
    small = img.resize((HASH_SIDE, HASH_SIDE), Image.Resampling.LANCZOS)
    return phash_luma(np.asarray(small))


def phash_file(path: Path | str) -> tuple[int, tuple[int, int]]:
    """(pHash, (width, height)) of an image file, from its :func:`luma_preview`."""
    luma, size = luma_preview(path)
    return phash_array(luma), size


def hamming(a: int, b: int) -> int:
    """Bits in which two hashes differ.

    >>> hamming(0b1011, 0b0001)
    2
    """
    return (a ^ b).bit_count()
