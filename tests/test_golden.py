"""Golden sets: committed sets replay; taps come from the simulator; tampering is located."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hwsr.cli import main
from hwsr.golden import (
    GoldenCheckError,
    GoldenError,
    check_golden,
    reference_taps,
    sim_taps,
    standard_frames,
    tap_formats,
    write_golden,
)
from hwsr.golden.frames import extreme_program
from hwsr.program import save_program
from hwsr.sim.engine import default_block_rows
from hwsr.zoo import load_engine
from tests.hexread import checksum, read_words
from tests.strategies import EXACT_CASES, frames, narrow_engine_specs, random_program

ROOT = Path(__file__).resolve().parents[1]
COMMITTED = sorted(p.parent for p in (ROOT / "golden").glob("*/manifest.json"))
PROGRAM = load_engine("hwsr-s").program()


def _manifest(set_dir: Path) -> dict:  # type: ignore[type-arg]
    return json.loads((set_dir / "manifest.json").read_text())


@pytest.fixture(scope="module")
def small_set(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small set of the shipped model: one 5x3 noise frame, every tap."""
    out = tmp_path_factory.mktemp("golden") / "set"
    write_golden(PROGRAM, standard_frames(5, 3, names=("noise",)), out, model="hwsr-s",
                 taps="acc")
    return out


@pytest.mark.parametrize("set_dir", COMMITTED, ids=[p.name for p in COMMITTED])
def test_committed_sets_check(set_dir: Path) -> None:
    result = check_golden(set_dir)
    assert result.taps > 0 and result.model == "hwsr-s"
    EXACT_CASES["golden taps replayed (simulator and reference)"] += result.taps


@pytest.mark.parametrize("set_dir", COMMITTED, ids=[p.name for p in COMMITTED])
def test_committed_hex_files_read_with_an_independent_reader(set_dir: Path) -> None:
    m = _manifest(set_dir)
    upscale = {n: s["upscale"] for n, s in m["rom"]["stages"].items()}
    for rel, e in m["files"].items():
        if not rel.endswith(".hex"):
            continue
        words, per_line = read_words(set_dir / rel)
        assert len(words) == e["words"] and checksum(words) == e["checksum"], rel
        assert all(0 <= w < 1 << e["word_bits"] for w in words), rel
        assert set(per_line) == {e["per_line"]}, rel
        if e["kind"] == "rom":
            continue
        fr = next(f for f in m["frames"] if f["name"] == rel.split("/")[0])
        tap = rel.split("/")[1][:-4]
        r = upscale.get(tap.split(".")[0], 1) if tap.endswith(".out") else 1
        pixels = fr["height"] * fr["width"] * r * r
        assert len(words) == pixels * m["tap_formats"][tap]["channels"], rel


def test_committed_frames_exercise_the_hardware() -> None:
    m = _manifest(ROOT / "golden" / "hwsr-s")
    sizes = {(f["height"], f["width"]) for f in m["frames"]}
    assert {(1, 1), (1, 3), (3, 1), (23, 37)} <= sizes
    crop = [f for f in m["frames"] if f["source"].startswith("image")]
    halo = max(ly.halo_rows for ly in PROGRAM.net2.spec.layers)
    assert any(f["height"] > default_block_rows(f["width"], halo) and f["width"] > 3
               for f in crop), "no real-image frame spans two simulator blocks"
    stats = {f["name"]: f["stats"] for f in m["frames"]}
    for name, clamp_to in (("full", 255), ("zeros", 0)):  # the output clamps up and down
        assert stats[name]["net2.out"]["saturations"] > 0, name
        words, _ = read_words(ROOT / "golden" / "hwsr-s" / name / "net2.out.hex")
        assert clamp_to in words, name
    ext = _manifest(ROOT / "golden" / "hwsr-s-extreme")
    assert ext["variant"] == "extreme" and ext["taps"] == "acc"
    for tap in ext["frames"][0]["stats"]:
        assert any(f["stats"][tap]["saturations"] for f in ext["frames"]), tap


def test_extreme_saturates_both_ways_at_the_output() -> None:
    frame = standard_frames(4, 3, names=("noise",))["noise"]
    out = reference_taps(extreme_program(PROGRAM), "dual", frame, "io")["net2.out"]
    assert out.min() == 0 and out.max() == 255


@settings(max_examples=25)
@given(spec=narrow_engine_specs(max_layers=3, max_channels=8, grouped=True),
       frame=frames(max_h=9, max_w=7),
       seed=st.integers(0, 2**32 - 1), block_rows=st.sampled_from([None, 1, 2, 5]))
def test_simulator_taps_equal_reference_taps(spec, frame, seed, block_rows) -> None:  # type: ignore[no-untyped-def]
    """Every tap, accumulators included, wrap and saturate, any block height; grouped and
    dilated layers among them."""
    program = random_program(spec, np.random.default_rng(seed))
    halo = max(ly.halo_rows for ly in spec.layers)
    rows = None if block_rows is None else max(block_rows, halo)
    got = sim_taps(program, "dual", frame, "acc", block_rows=rows).taps
    want = reference_taps(program, "dual", frame, "acc")
    assert set(got) == set(want) == {f.name for f in tap_formats(program, "dual", "acc")}
    for name, codes in want.items():
        assert codes.dtype == got[name].dtype == np.int64
        assert np.array_equal(codes, got[name]), name
    EXACT_CASES["simulator taps vs reference taps"] += len(want)


def _flip(path: Path, line_no: int, col: int) -> None:
    lines = path.read_text().splitlines()
    c = lines[line_no][col]
    lines[line_no] = lines[line_no][:col] + ("0" if c != "0" else "1") + lines[line_no][col + 1:]
    path.write_text("\n".join(lines) + "\n")


def _check_fails(set_dir: Path, capsys: pytest.CaptureFixture[str], **kw: str) -> str:
    """``hwsr golden check`` exits 1 with one line; returns it."""
    argv = ["golden", "check", str(set_dir), *(f"--{k}={v}" for k, v in kw.items())]
    assert main(argv) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    return err


def test_flipped_digits_are_located(small_set: Path, tmp_path: Path,
                                    capsys: pytest.CaptureFixture[str]) -> None:
    cases = [  # (file, data line, column of the digit, what the one line must say)
        ("noise/input.hex", 7, 4, "noise/input.hex: tap input, row 1, column 2, channel 1:"),
        ("noise/net2.layer3.hex", 12, 9, "noise/net2.layer3.hex: tap net2.layer3, row 2, "
                                         "column 2, channel 3:"),
        ("noise/net1.layer2.acc.hex", 0, 0, "tap net1.layer2.acc, row 0, column 0, channel 0"),
        ("noise/net2.out.hex", 46, 3, "tap net2.out, row 3, column 1, channel 1:"),
        ("rom/net2.layer0.weight.hex", 37, 1, "rom/net2.layer0.weight.hex: ROM word 37 "
                                              "(index 1, 1, 0, 1):"),
    ]
    for rel, line, col, want in cases:
        work = tmp_path / rel.replace("/", "_")
        shutil.copytree(small_set, work)
        comments = sum(1 for x in (work / rel).read_text().splitlines() if x.startswith("//"))
        _flip(work / rel, comments + line, col)
        err = _check_fails(work, capsys)
        assert want in err and "expected" in err, err
    work = tmp_path / "manifest"
    shutil.copytree(small_set, work)
    m = _manifest(work)
    h = m["files"]["noise/net1.layer1.hex"]["sha256"]
    m["files"]["noise/net1.layer1.hex"]["sha256"] = ("0" if h[0] != "0" else "1") + h[1:]
    (work / "manifest.json").write_text(json.dumps(m))
    assert "files['noise/net1.layer1.hex'].sha256" in _check_fails(work, capsys)


def _reseal(set_dir: Path, program) -> None:  # type: ignore[no-untyped-def]
    """Put ``program`` (and its ROM images) in a set and fix the manifest's sums to match."""
    from hwsr.golden.write import _file_entry, _sha
    from hwsr.rom import rom_images, rom_manifest

    m = _manifest(set_dir)
    save_program(program, set_dir / "program.npz")
    m["files"]["program.npz"]["sha256"] = _sha((set_dir / "program.npz").read_bytes())
    for rel, text in rom_images(program).items():
        (set_dir / rel).write_text(text)
        m["files"][rel] = _file_entry("rom", text, m["files"][rel]["word_bits"], True, 1, rel)
    m["rom"] = rom_manifest(program)
    (set_dir / "manifest.json").write_text(json.dumps(m))


def test_one_weight_lsb_is_caught(small_set: Path, tmp_path: Path,
                                  capsys: pytest.CaptureFixture[str]) -> None:
    import dataclasses

    lp = PROGRAM.net1.layers[0]
    w = lp.weight.copy()
    w[4, 1, 1, 1] += 1 if w[4, 1, 1, 1] < 127 else -1
    layers = (dataclasses.replace(lp, weight=w), *PROGRAM.net1.layers[1:])
    changed = dataclasses.replace(PROGRAM, net1=dataclasses.replace(PROGRAM.net1, layers=layers))
    model = tmp_path / "changed.npz"
    save_program(changed, model)
    with pytest.raises(GoldenCheckError, match=r"differs from model .*changed\.npz.*"
                                               r"net1\.layer0\.weight\[4, 1, 1, 1\]"):
        check_golden(small_set, model=str(model))  # the model moved on since the set
    work = tmp_path / "set"
    shutil.copytree(small_set, work)
    _reseal(work, changed)  # a consistent set claiming the changed program
    err = _check_fails(work, capsys, model=str(model))
    assert re.search(r"simulator re-run differs: noise/net1\.layer0\.acc\.hex: tap "
                     r"net1\.layer0\.acc, row \d, column \d, channel 4: expected", err), err


def test_disagreeing_simulator_writes_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import hwsr.golden.write as gw

    real = gw.sim_taps

    def broken(*args, **kw):  # type: ignore[no-untyped-def]
        run = real(*args, **kw)
        run.taps["net2.layer2"][3, 1, 2] ^= 1
        return run

    monkeypatch.setattr(gw, "sim_taps", broken)
    with pytest.raises(GoldenError, match=r"differ, not writing: noise/net2\.layer2\.hex: tap "
                                          r"net2\.layer2, row 1, column 2, channel 3"):
        write_golden(PROGRAM, standard_frames(4, 3, names=("noise",)), tmp_path / "set")
    assert list(tmp_path.iterdir()) == []


def test_existing_set_is_not_replaced_without_overwrite(small_set: Path) -> None:
    before = (small_set / "manifest.json").read_bytes()
    with pytest.raises(GoldenError, match="already exists"):
        write_golden(PROGRAM, {"f": np.zeros((2, 2, 3), np.uint8)}, small_set)
    assert (small_set / "manifest.json").read_bytes() == before


def test_overflowing_accumulators_are_refused(tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    import dataclasses

    sp = PROGRAM.net2
    dp = dataclasses.replace(sp.spec.datapath, acc_bits=16)
    spec = dataclasses.replace(sp.spec, datapath=dp)
    narrow = dataclasses.replace(PROGRAM, net2=dataclasses.replace(sp, spec=spec))
    with pytest.raises(GoldenError, match=r"net2\.layer0: worst-case accumulator .* acc_bits "
                                          r"is 16"):
        write_golden(narrow, {"f": np.zeros((2, 2, 3), np.uint8)}, tmp_path / "set")
    assert list(tmp_path.iterdir()) == []
    save_program(narrow, tmp_path / "narrow.npz")
    argv = ["golden", "write", "--model", str(tmp_path / "narrow.npz"), "--out",
            str(tmp_path / "set"), "--stock", "zeros"]
    assert main(argv) == 1
    assert "acc_bits is 16" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["narrow.npz"]
