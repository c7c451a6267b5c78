"""The hex text of tap files: ``$readmemh``-ready words, one pixel per line.

A tap file is ``//`` comment lines, then one line per pixel in raster order (y, then x), each
line the pixel's channels (channel 0 first) as two's-complement words of the tensor's width,
``ceil(width/4)`` lowercase hex digits, separated by one space. ``$readmemh`` reads the words
in order, so memory index = (y·W + x)·C + c.

Every file's words also have two sums in the manifest: ``checksum`` (the unsigned words
added modulo 2**32, what a testbench can compute with a 32-bit register) and ``weighted``
(the exact sum of (index + 1)·word). A single corrupted word is located by them alone: its
index is Δweighted / Δchecksum, so ``golden check`` names its row, column and channel even in
the input frame, which nothing else could regenerate.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

HEX_DIGITS = frozenset("0123456789abcdefABCDEF")
CHECKSUM_BITS = 32


class HexError(ValueError):
    """A hex file that is not what its manifest entry says (bad digit, count or width)."""


@dataclass(frozen=True)
class WordFormat:
    """How the words of one file are laid out: width, signedness, words per line."""

    bits: int  # word width
    signed: bool  # two's complement when true
    per_line: int  # words on each line (channels of a pixel; 1 for ROM images)

    @property
    def digits(self) -> int:
        return (self.bits + 3) // 4


def tap_text(codes_chw: npt.NDArray[np.integer], fmt: WordFormat, header: list[str]) -> str:
    """Hex text of a (C, H, W) code tensor, after ``//`` header lines.

    >>> print(tap_text(np.array([[[1, -1]]]), WordFormat(8, True, 1), ["t"]), end="")
    // t
    01
    ff
    """
    c = codes_chw.shape[0]
    mask = (1 << fmt.bits) - 1
    flat = codes_chw.reshape(c, -1).T.astype(np.int64) & mask
    spec = f"{{:0{fmt.digits}x}}"
    lines = [f"// {h}" for h in header]
    lines += [" ".join(spec.format(int(v)) for v in px) for px in flat]
    return "\n".join(lines) + "\n"


def parse_text(text: str, fmt: WordFormat, where: str) -> npt.NDArray[np.int64]:
    """Unsigned words of hex text, in file order; refuses anything :func:`tap_text` would not
    write (one line naming the file, line and word).

    >>> parse_text("// x\\n01 ff\\n", WordFormat(8, True, 2), "f").tolist()
    [1, 255]
    """
    words: list[int] = []
    for n, line in enumerate(text.splitlines(), 1):
        if line.startswith("//"):
            if words:
                raise HexError(f"{where}: line {n}: comment after the data")
            continue
        parts = line.split(" ")
        if len(parts) != fmt.per_line:
            raise HexError(f"{where}: line {n}: {len(parts)} words, expected {fmt.per_line}")
        for k, p in enumerate(parts):
            if len(p) != fmt.digits or not set(p) <= HEX_DIGITS:
                raise HexError(f"{where}: line {n}, word {k}: {p[:20]!r} is not a "
                               f"{fmt.digits}-digit hex word")
            v = int(p, 16)
            if v >> fmt.bits:
                raise HexError(f"{where}: line {n}, word {k}: {p} exceeds {fmt.bits} bits")
            words.append(v)
    return np.array(words, dtype=np.int64)


def signed_words(words: npt.NDArray[np.int64], fmt: WordFormat) -> npt.NDArray[np.int64]:
    """Two's-complement values of unsigned words.

    >>> signed_words(np.array([1, 255]), WordFormat(8, True, 1)).tolist()
    [1, -1]
    """
    if not fmt.signed:
        return words
    return np.where(words >> (fmt.bits - 1) != 0, words - (1 << fmt.bits), words)


def word_sums(words: npt.NDArray[np.int64]) -> tuple[int, int]:
    """(checksum, weighted) of unsigned words: Σ word mod 2**32 and exact Σ (i+1)·word.

    >>> word_sums(np.array([1, 255, 2**31]))
    (2147483904, 6442451455)
    """
    vals = [int(v) for v in words]
    total = sum(vals)
    weighted = sum((i + 1) * v for i, v in enumerate(vals))
    return total % (1 << CHECKSUM_BITS), weighted


def locate_word(words: npt.NDArray[np.int64], checksum: int, weighted: int,
                bits: int) -> tuple[int, int] | None:
    """(index, expected unsigned word) of the one word that breaks the two sums, if one does.

    >>> locate_word(np.array([1, 7, 3]), *word_sums(np.array([1, 2, 3])), 8)
    (1, 2)
    """
    have_sum, have_weighted = word_sums(words)
    d_weighted = have_weighted - weighted
    if d_weighted == 0:
        return None
    for d in _deltas(have_sum - checksum, bits):
        if d and d_weighted % d == 0 and 1 <= d_weighted // d <= words.size:
            i = d_weighted // d - 1
            want = int(words[i]) - d
            if 0 <= want < 1 << bits:
                return i, want
    return None


def _deltas(d_mod: int, bits: int) -> list[int]:
    """Candidate exact word changes of a checksum change known modulo 2**32."""
    m = 1 << CHECKSUM_BITS
    d = d_mod % m
    return [d, d - m] if bits >= CHECKSUM_BITS else [x for x in (d, d - m) if abs(x) < 1 << bits]
