"""The training pool: pHash, the choice of distinct pictures, licences, the card, the CLI."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from hwsr.data.phash import (
    HASH_SIDE,
    SAME_PICTURE_BITS,
    dct_matrix,
    hamming,
    phash_file,
    phash_luma,
)
from hwsr.data.pool import choose, licence, scan


def _picture(seed: int, hw: tuple[int, int] = (600, 900)) -> np.ndarray:
    """A smooth random RGB picture (uint8): blobs of a few sizes, like a photograph's."""
    rng = np.random.default_rng(seed)
    small = rng.integers(0, 256, size=(6, 9, 3), dtype=np.uint8)
    img = Image.fromarray(small).resize((hw[1], hw[0]), Image.Resampling.BICUBIC)
    noise = rng.normal(0, 6, size=(hw[0], hw[1], 3))
    return np.clip(np.asarray(img, dtype=np.float64) + noise, 0, 255).astype(np.uint8)


def _save(path: Path, rgb: np.ndarray, size: tuple[int, int] | None = None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    img = Image.fromarray(rgb)
    if size is not None:
        img = img.resize(size, Image.Resampling.LANCZOS)
    img.save(path, quality=90) if path.suffix == ".jpg" else img.save(path, compress_level=1)
    return path


# The pHash DCT is float64 arithmetic on picture luma (choosing training pictures, not an
# engine integer path): the matrix product and the 32-term sum differ only in summation
# order, a few ulps of values of order 10, so 1e-12 absolute is ample and still catches any
# wrong coefficient.
DCT_SUM_ORDER_ATOL = 1e-12


def test_dct_matches_the_sum_definition():
    n = HASH_SIDE
    x = np.random.default_rng(0).normal(size=n)
    k, i = np.arange(n)[:, None], np.arange(n)[None, :]
    scale = np.where(np.arange(n) == 0, np.sqrt(1 / n), np.sqrt(2 / n))
    by_sum = scale * (x * np.cos(np.pi * (2 * i + 1) * k / (2 * n))).sum(axis=1)
    assert np.abs(dct_matrix(n) @ x - by_sum).max() <= DCT_SUM_ORDER_ATOL


def test_phash_is_64_bits_and_sees_the_low_frequencies_only():
    luma = np.asarray(Image.fromarray(_picture(3)).convert("L").resize((32, 32)), np.float64)
    h = phash_luma(luma)
    assert 0 <= h < 1 << 64 and h == phash_luma(luma * 2)  # contrast: the same hash
    fine = luma + 20 * (np.indices((32, 32)).sum(axis=0) % 2)  # a checkerboard on top
    assert h == phash_luma(fine)  # the highest frequency is not in the hash
    with pytest.raises(ValueError, match="32x32"):
        phash_luma(np.zeros((16, 16)))


def test_the_same_picture_at_other_sizes_and_codecs_is_near_others_are_far(tmp_path):
    a, b = _picture(1), _picture(2)
    ha = phash_file(_save(tmp_path / "a.png", a))[0]
    copies = [_save(tmp_path / "a-small.jpg", a, (450, 300)),
              _save(tmp_path / "a-big.png", a, (1800, 1200))]
    for p in copies:
        assert hamming(phash_file(p)[0], ha) <= SAME_PICTURE_BITS // 2, p
    assert hamming(phash_file(_save(tmp_path / "b.png", b))[0], ha) > 2 * SAME_PICTURE_BITS
    assert phash_file(copies[1])[1] == (1800, 1200)


@pytest.fixture(scope="module")
def packages(tmp_path_factory) -> Path:
    """Two fake unpacked packages: one picture at two sizes, a picture in both packages,
    a copy of a held-out picture, a small one, an icon and a symbolic link."""
    root = tmp_path_factory.mktemp("pkgs")
    one, two = root / "walls-one", root / "walls-two"
    share = "usr/share/backgrounds"
    _save(one / share / "sea/3840x2160.png", _picture(10), (1920, 1280))
    _save(one / share / "sea/1920x1080.jpg", _picture(10), (1200, 800))
    _save(one / share / "hill.jpg", _picture(11), (1500, 1000))
    _save(one / "usr/share/icons/x.png", _picture(12), (1500, 1000))
    (one / share / "sea/link.png").symlink_to(one / share / "sea/3840x2160.png")
    _save(two / share / "hill-copy.png", _picture(11), (1800, 1200))
    _save(two / share / "heldout-copy.png", _picture(13), (1600, 1000))
    _save(two / share / "tiny.png", _picture(14), (500, 400))
    _save(two / share / "forest.jpg", _picture(15), (1300, 1100))
    _save(root / "heldout.png", _picture(13))
    kde = one / "usr/share/wallpapers"  # KDE's format: one folder per picture
    _save(kde / "Kay/contents/images/3000x2000.png", _picture(16), (2100, 1400))
    _save(kde / "Kay/contents/images/1200x1800.png", _picture(16)[:, 300:700], (800, 1200))
    _save(kde / "Kay/contents/images_dark/3000x2000.png", _picture(16) // 3, (2100, 1400))
    honey = _save(kde / "Honey/contents/images/2400x1600.png", _picture(17), (1200, 800))
    _save(kde / "Honey/contents/images/1100x1700.png", _picture(17)[:, 200:600], (550, 850))
    ramp = np.repeat(np.linspace(0, 255, 1600)[None, :, None], 1200, axis=0).repeat(3, axis=2)
    _save(two / share / "gradient.png", ramp.astype(np.uint8))
    (root / "honey-path.txt").write_text(str(honey), encoding="utf-8")
    (one / "usr/share/doc/walls-one").mkdir(parents=True)
    (one / "usr/share/doc/walls-one/copyright").write_text(
        "Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/\n\n"
        "Files: *\nCopyright: someone\nLicense: GPL-2+\n\n"
        "Files: sea/*.png\nCopyright: someone else\nLicense: CC-BY-SA-4.0\n\n"
        "Files: debian/*\nCopyright: packager\nLicense: Expat\n", encoding="utf-8")
    (two / "usr/share/doc/walls-two").mkdir(parents=True)
    (two / "usr/share/doc/walls-two/copyright").write_text(
        "Images by several authors.\n Licensed under Creative Commons Attribution-ShareAlike "
        "3.0 License.\n", encoding="utf-8")
    (root / "not-a-package.txt").write_text("x", encoding="utf-8")
    return root


def _names(cands) -> list[str]:
    return [c.rel.rsplit("/", 1)[-1] if "contents" not in c.rel else
            "/".join(c.rel.split("/")[-4::3]) for c in cands]


def test_the_pool_keeps_the_largest_copy_of_each_picture_and_none_like_a_held_out_one(
        packages):
    cands = scan(packages)
    assert sorted(_names(cands)) == sorted(
        ["3840x2160.png", "1920x1080.jpg", "hill.jpg", "hill-copy.png", "heldout-copy.png",
         "tiny.png", "forest.jpg", "gradient.png", "Kay/3000x2000.png", "Kay/1200x1800.png",
         "Kay/3000x2000.png", "Honey/2400x1600.png", "Honey/1100x1700.png"])
    # no icon, no link, no file outside a package folder
    honey = Path((packages / "honey-path.txt").read_text(encoding="utf-8"))
    held = {str(p): phash_file(p)[0] for p in (packages / "heldout.png", honey)}
    choice = choose(cands, held, min_side_px=720, min_detail=0.5)
    assert [(c.package, n) for c, n in zip(choice.kept, _names(choice.kept), strict=True)] == [
        ("walls-one", "3840x2160.png"), ("walls-one", "Kay/3000x2000.png"),
        ("walls-two", "forest.jpg"), ("walls-two", "hill-copy.png")]
    assert sorted((_names([c])[0], _names([k])[0]) for c, k, _ in choice.same_as) == [
        ("1920x1080.jpg", "3840x2160.png"), ("Kay/1200x1800.png", "Kay/3000x2000.png"),
        ("Kay/3000x2000.png", "Kay/3000x2000.png"), ("hill.jpg", "hill-copy.png")]
    assert sorted((_names([c])[0], Path(name).name) for c, name, _ in choice.held_out) == [
        ("Honey/1100x1700.png", "2400x1600.png"),  # a crop: the same folder, not the hash
        ("Honey/2400x1600.png", "2400x1600.png"), ("heldout-copy.png", "heldout.png")]
    assert _names(choice.too_small) == ["tiny.png"] and _names(choice.flat) == ["gradient.png"]
    assert all(c.detail > 1 for c in choice.kept)


def test_a_file_gets_the_licence_of_the_last_matching_stanza(packages):
    one, two = packages / "walls-one", packages / "walls-two"
    bg = "usr/share/backgrounds"
    assert licence(one, "walls-one", f"{bg}/sea/3840x2160.png") == "CC-BY-SA-4.0"
    assert licence(one, "walls-one", f"{bg}/hill.jpg") == "GPL-2+"
    assert licence(two, "walls-two", f"{bg}/forest.jpg") == (
        "free-form copyright file: Creative Commons Attribution-ShareAlike 3.0")
    assert licence(packages, "nothing", "x.png") == "no copyright file"


def test_the_pool_command_writes_the_list_and_the_card_or_refuses_in_one_line(packages,
                                                                              tmp_path):
    def run(*argv: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "hwsr", "data", "pool", *argv],
                              capture_output=True, text=True, timeout=120)

    out_list, card = tmp_path / "sources.txt", tmp_path / "card.md"
    ok = run("--packages", str(packages), "--exclude", str(packages / "heldout.png"),
             "--min-side", "720", "--list", str(out_list), "--card", str(card))
    assert ok.returncode == 0, ok.stderr
    assert ("5 distinct pictures of 13 files (5 copies, 1 like an excluded source, 1 too "
            "small, 1 flat dropped)") in ok.stdout  # Honey is not excluded here
    listed = out_list.read_text(encoding="utf-8").splitlines()
    assert len(listed) == 5 and all(Path(p).is_file() for p in listed)
    text = card.read_text(encoding="utf-8")
    assert "**Kept: 5 distinct pictures.**" in text
    assert "| walls-one | ? | 8 | 3 | CC-BY-SA-4.0, GPL-2+ |" in text
    assert "Dropped as flat (texture under 0.5: gradients, stripes): 1: " in text
    assert "`usr/share/backgrounds/heldout-copy.png` |" in text
    bad = run("--packages", str(packages / "nowhere"), "--list", str(tmp_path / "l.txt"),
              "--card", str(tmp_path / "c.md"))
    assert bad.returncode == 1 and bad.stderr.count("\n") == 1 and "--packages" in bad.stderr
    assert not (tmp_path / "l.txt").exists()
