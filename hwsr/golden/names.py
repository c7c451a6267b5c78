"""The names a golden set is made of, and the one test that a folder is a set at all.

Light on purpose (no numpy): ``hwsr golden`` and ``hwsr cosim`` build their options and
refuse a folder that is not a set before anything heavy loads.
"""

from __future__ import annotations

from pathlib import Path

MANIFEST = "manifest.json"
LEVELS = ("io", "layers", "acc")  # tap levels: stage ends; + every layer; + accumulators
STOCK = ("pattern", "full", "zeros", "checker", "impulses", "noise",
         "tiny1x1", "tiny1x3", "tiny3x1", "tiny2x3")  # the built-in frames
VARIANTS = ("none", "extreme")  # program variants: as trained; full-scale weights


def require_set(folder: str | Path, option: str | None = None) -> Path:
    """Refuse a folder that holds no golden set, in the one wording every command uses.

    >>> require_set("/nonexistent", "--golden")
    Traceback (most recent call last):
    ...
    ValueError: --golden: /nonexistent: no such folder
    """
    root = Path(folder)
    where = f"{option}: {root}" if option else str(root)
    if not root.is_dir():
        raise ValueError(f"{where}: {'is a file, not a folder' if root.exists() else 'no such folder'}")
    if not (root / MANIFEST).is_file():
        raise ValueError(f"{where}: not a golden set (no {MANIFEST}; write one with "
                         "hwsr golden write)")
    return root
