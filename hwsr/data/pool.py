"""A training pool from unpacked packages: every distinct picture once, none like a
held-out one, each with its package, file and licence.

Wallpaper packages ship one picture at several sizes, and packages share pictures. So the
pool is chosen by perceptual hash (:mod:`hwsr.data.phash`): candidates are taken largest
first, and one is kept only if its hash is more than ``SAME_PICTURE_BITS`` bits from every
picture already kept and from every excluded (validation or held-out) source. The result is
a source list for ``hwsr data build --src`` and a Markdown data card.

Layout read: ``<packages>/<package>/...`` (one folder per package, as ``dpkg -x`` unpacks
it), the package's Debian copyright file at ``usr/share/doc/<package>/copyright``.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

from hwsr.data.phash import SAME_PICTURE_BITS, hamming, luma_preview, phash_array, phash_file

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")  # what the pool takes (and hwsr data build reads)
SKIPPED_PARTS = ("icons", "doc", "plymouth", "pixmaps", "previews")  # icons, screenshots


@dataclass(frozen=True)
class Candidate:
    """One image file of one package."""

    package: str  # the package folder's name
    path: Path  # the file
    rel: str  # path inside the package (as installed)
    width: int
    height: int
    phash: int
    detail: float = 0.0  # texture: mean |Laplacian| of the 1024-px luma preview (codes)

    @property
    def area(self) -> int:
        return self.width * self.height


@dataclass
class PoolChoice:
    """What :func:`choose` kept, and why each other candidate went."""

    kept: list[Candidate] = field(default_factory=list)
    same_as: list[tuple[Candidate, Candidate, int]] = field(default_factory=list)  # kept twin
    held_out: list[tuple[Candidate, str, int]] = field(default_factory=list)  # excluded match
    too_small: list[Candidate] = field(default_factory=list)
    flat: list[Candidate] = field(default_factory=list)  # below the detail threshold


def detail(luma: np.ndarray) -> float:
    """Mean absolute 4-neighbour Laplacian of a luma array (codes): ~0 for flat gradients
    and stripes, a few codes for soft pictures, tens for dense texture.

    >>> detail(np.zeros((8, 8)))
    0.0
    """
    if min(luma.shape) < 3:
        return 0.0
    lap = (4 * luma[1:-1, 1:-1] - luma[:-2, 1:-1] - luma[2:, 1:-1] - luma[1:-1, :-2]
           - luma[1:-1, 2:])
    return float(np.abs(lap).mean())


def picture_folder(path: Path) -> Path:
    """The folder that is one picture, in the KDE wallpaper package format
    (``<Name>/contents/images*/<W>x<H>.<ext>``: sizes, portrait crops and dark variants of
    one picture); else the file itself.

    >>> picture_folder(Path("w/Kay/contents/images_dark/1080x1920.png"))
    PosixPath('w/Kay')
    >>> picture_folder(Path("b/mate/nature/Wood.jpg"))
    PosixPath('b/mate/nature/Wood.jpg')
    """
    parts = path.parts
    return Path(*parts[:parts.index("contents")]) if "contents" in parts[:-1] else path


def scan(packages: Path) -> list[Candidate]:
    """Every readable picture under ``packages/<package>/``, hashed, in path order
    (symbolic links, which packages use for one picture under several size names, skipped)."""
    out = []
    for pkg in sorted(p for p in packages.iterdir() if p.is_dir()):
        for path in sorted(pkg.rglob("*")):
            rel = path.relative_to(pkg)
            if (path.suffix.lower() not in IMAGE_SUFFIXES or path.is_symlink()
                    or not path.is_file() or set(rel.parts[:-1]) & set(SKIPPED_PARTS)):
                continue
            try:
                luma, (w, h) = luma_preview(path)
            except (OSError, ValueError, Image.DecompressionBombError):
                continue  # not a picture Pillow reads: not a candidate
            out.append(Candidate(pkg.name, path, rel.as_posix(), w, h, phash_array(luma),
                                 detail(luma)))
    return out


def choose(cands: Sequence[Candidate], excluded: dict[str, int], min_side_px: int,
           max_bits: int = SAME_PICTURE_BITS, min_detail: float = 0.0) -> PoolChoice:
    """Keep the largest copy of every distinct picture whose short side is at least
    ``min_side_px`` and whose :func:`detail` is at least ``min_detail``, unless it is within
    ``max_bits`` of an ``excluded`` hash (path: hash) or in an excluded picture's folder.

    Two files are one picture if their hashes are within ``max_bits`` or they share a
    :func:`picture_folder` (a crop or a dark variant hashes far from the original)."""
    choice = PoolChoice()
    held = {picture_folder(Path(name)): name for name in excluded}
    for c in sorted(cands, key=lambda c: (-c.area, c.package, c.rel)):
        folder = picture_folder(c.path)
        near = min(((hamming(c.phash, h), name) for name, h in excluded.items()), default=None)
        name = held.get(folder) or (near[1] if near is not None and near[0] <= max_bits
                                    else None)
        if name is not None:
            choice.held_out.append((c, name, hamming(c.phash, excluded[name])))
            continue
        nearest = min(choice.kept, key=lambda k: hamming(c.phash, k.phash), default=None)
        twin = next((k for k in choice.kept if picture_folder(k.path) == folder), None) or (
            nearest if nearest is not None and hamming(c.phash, nearest.phash) <= max_bits
            else None)
        if twin is not None:
            choice.same_as.append((c, twin, hamming(c.phash, twin.phash)))
        elif min(c.width, c.height) < min_side_px:
            choice.too_small.append(c)
        elif c.detail < min_detail:
            choice.flat.append(c)
        else:
            choice.kept.append(c)
    choice.kept.sort(key=lambda c: (c.package, c.rel))
    return choice


# ---- licences ---------------------------------------------------------------------------------

def _stanzas(text: str) -> list[tuple[list[str], str]]:
    """(Files patterns, License short name) of each DEP-5 files stanza, in order."""
    out = []
    for block in re.split(r"\n\s*\n", text):
        files = re.search(r"^Files:(.*(?:\n[ \t].*)*)", block, re.M)
        lic = re.search(r"^License:[ \t]*(\S.*)$", block, re.M)
        if files and lic:
            out.append((files.group(1).split(), lic.group(1).strip()))
    return out


def licence(package_dir: Path, package: str, rel: str) -> str:
    """The licence of one installed file from its package's copyright file: the last DEP-5
    stanza whose pattern matches the file (by its tail, as upstream paths differ from
    installed ones); for a free-form file, the licences it names."""
    path = package_dir / "usr" / "share" / "doc" / package / "copyright"
    if not path.is_file():
        return "no copyright file"
    text = path.read_text(encoding="utf-8", errors="replace")
    stanzas = _stanzas(text)
    if stanzas:
        own = [([p for p in pats if not p.startswith("debian/")], lic) for pats, lic in stanzas]
        found = [lic for pats, lic in own if any(_matches(rel, p) for p in pats if p != "*")]
        # packages move files (upstream 16.04/x.jpg installed as backgrounds/x.jpg): a
        # specific stanza naming the same file name, before the catch-all "*"
        found = found or [lic for pats, lic in own
                          if any(Path(p).name == Path(rel).name for p in pats)]
        found = found or [lic for pats, lic in own if "*" in pats]
        return found[-1] if found else "unmatched in copyright file"
    named = sorted(set(re.findall(r"(?:Creative Commons [A-Za-z-]+(?: [A-Za-z-]+)*"
                                  r" \d\.\d|GPL-?\d\+?|CC[- ]BY[-A-Z]*[- ]\d\.\d)", text)))
    return "free-form copyright file: " + (", ".join(named) or "see it")


def _matches(rel: str, pattern: str) -> bool:
    """A DEP-5 pattern (an upstream path) against an installed path, by its tail.

    >>> _matches("usr/share/backgrounds/mate/abstract/Silk.png", "abstract/Silk.png")
    True
    >>> _matches("usr/share/backgrounds/mate/nature/Silk.png", "abstract/Silk.png")
    False
    """
    if pattern == "*":
        return True
    if "/" not in pattern:
        return fnmatch.fnmatch(Path(rel).name, pattern)
    return fnmatch.fnmatch(rel, "*/" + pattern.lstrip("*/")) or fnmatch.fnmatch(rel, pattern)


def hashes_of(paths: Iterable[Path]) -> dict[str, int]:
    """pHash of each excluded source, by its path."""
    return {str(p): phash_file(p)[0] for p in paths}


# ---- the card ---------------------------------------------------------------------------------

def _version(package_dir: Path) -> str:
    v = package_dir / ".version"  # written by configs/data/pool.sh from the .deb
    return v.read_text(encoding="utf-8").strip() if v.is_file() else "?"


def _short(packages: Path, name: str) -> str:
    """An excluded source's path, as ``<package>/<path in it>`` when it lies in the pool."""
    try:
        return Path(name).relative_to(packages).as_posix()
    except ValueError:
        return name


def _hex(h: int) -> str:
    return f"{h:016x}"


def format_card(packages: Path, cands: Sequence[Candidate], choice: PoolChoice,
                excluded: dict[str, int], min_side_px: int, max_bits: int, min_detail: float,
                command: str) -> str:
    """The pool's data card (Markdown): counts, per package, every source, every drop."""
    pkgs = sorted({c.package for c in cands})
    lic = {c.rel: licence(packages / c.package, c.package, c.rel) for c in choice.kept}
    lines = [
        "# The training pool: its sources", "",
        f"Made by `{command}`. Every picture of the packages below that Pillow reads was "
        f"hashed (pHash, 64 bits, of a 1024-px luma preview; `hwsr/data/phash.py`). Largest "
        f"first, a picture was kept if its short side is at least {min_side_px} px, its "
        f"texture (mean |Laplacian| of the preview) at least {min_detail:g} codes, and its "
        f"hash differs in more than {max_bits} bits from every picture kept before it and "
        "from every excluded (validation or held-out) source. Files of one KDE picture "
        "folder (`<Name>/contents/images*/`: sizes, portrait crops, dark variants) count as "
        "one picture, since a crop hashes far from its original.", "",
        f"* Candidates: {len(cands)} image files in {len(pkgs)} packages.",
        f"* **Kept: {len(choice.kept)} distinct pictures.**",
        f"* Dropped as another copy (size) of a kept picture: {len(choice.same_as)}.",
        f"* Dropped as like an excluded source: {len(choice.held_out)}.",
        f"* Dropped as smaller than {min_side_px} px (short side): {len(choice.too_small)}.",
        f"* Dropped as flat (texture under {min_detail:g}: gradients, stripes): "
        f"{len(choice.flat)}" + (": " + ", ".join(f"`{c.rel}`" for c in choice.flat)
                                 if choice.flat else "") + ".",
        "", "| package | version | files | kept | licences of the kept files |",
        "|---|---|---:|---:|---|"]
    for p in pkgs:
        mine = [c for c in choice.kept if c.package == p]
        lics = ", ".join(sorted({lic[c.rel] for c in mine})) or "—"
        lines.append(f"| {p} | {_version(packages / p)} | "
                     f"{sum(c.package == p for c in cands)} | {len(mine)} | {lics} |")
    lines += ["", "## Kept sources", "",
              "| # | package | file | size | texture | licence | pHash |",
              "|---:|---|---|---|---:|---|---|"]
    lines += [f"| {i} | {c.package} | `{c.rel}` | {c.width}×{c.height} | {c.detail:.1f} | "
              f"{lic[c.rel]} | `{_hex(c.phash)}` |" for i, c in enumerate(choice.kept, 1)]
    lines += ["", "## Excluded sources (validation and held-out)", "",
              "| file | pHash |", "|---|---|"]
    lines += [f"| `{_short(packages, name)}` | `{_hex(h)}` |" for name, h in excluded.items()]
    lines += ["", "## Dropped: like an excluded source", "",
              "| package | file | excluded source | bits |", "|---|---|---|---:|"]
    lines += [f"| {c.package} | `{c.rel}` | `{_short(packages, name)}` | {d} |"
              for c, name, d in choice.held_out]
    lines += ["", "## Dropped: another copy of a kept picture", "",
              "| package | file | size | copy of | bits |", "|---|---|---|---|---:|"]
    lines += [f"| {c.package} | `{c.rel}` | {c.width}×{c.height} | {k.package} `{k.rel}` | {d} |"
              for c, k, d in choice.same_as]
    return "\n".join(lines) + "\n"
