"""An independent reader of golden hex files, written for the tests (not :mod:`hwsr.golden`).

It follows only the published format: ``//`` comment lines, then whitespace-separated hex
words, read in order as ``$readmemh`` does. Nothing from hwsr is imported here, so a bug in
the writer's own parser cannot hide a bug in its files.
"""

from __future__ import annotations

from pathlib import Path


def read_words(path: Path) -> tuple[list[int], list[int]]:
    """(words in file order as unsigned ints, number of words on each data line)."""
    words: list[int] = []
    per_line: list[int] = []
    for line in path.read_text(encoding="ascii").splitlines():
        if line.startswith("//"):
            assert not words, f"{path}: comment after data"
            continue
        parts = line.split()
        per_line.append(len(parts))
        words.extend(int(p, 16) for p in parts)
    return words, per_line


def to_signed(word: int, bits: int) -> int:
    return word - (1 << bits) if word >> (bits - 1) else word


def checksum(words: list[int]) -> int:
    """What a 32-bit testbench accumulator holds after adding every word."""
    return sum(words) % (1 << 32)
