"""ROM images: the program rebuilt from the ROM files alone, exactly; the documented order."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from hwsr.program import EngineProgram, load_program
from hwsr.rom import RomError, program_from_roms, rom_images, rom_manifest, write_roms
from tests.hexread import read_words, to_signed
from tests.strategies import EXACT_CASES, engine_specs, random_program

ROOT = Path(__file__).resolve().parents[1]
COMMITTED = sorted(p.parent for p in (ROOT / "golden").glob("*/manifest.json"))


def assert_same_program(a: EngineProgram, b: EngineProgram) -> None:
    for name in ("net1", "net2"):
        sa, sb = getattr(a, name), getattr(b, name)
        assert (sa is None) == (sb is None)
        if sa is None:
            continue
        assert sa.spec == sb.spec
        for la, lb in zip(sa.layers, sb.layers, strict=True):
            for key in ("weight", "bias", "weight_frac"):
                x, y = getattr(la, key), getattr(lb, key)
                assert x.dtype == y.dtype == np.int64 and np.array_equal(x, y), key
            assert (la.in_frac, la.out_frac, la.out_type, la.relu, la.groups, la.dilation) == \
                (lb.in_frac, lb.out_frac, lb.out_type, lb.relu, lb.groups, lb.dilation)


@pytest.mark.parametrize("set_dir", COMMITTED, ids=[p.name for p in COMMITTED])
def test_committed_program_rebuilds_from_the_rom_files_alone(set_dir: Path, tmp_path: Path) -> None:
    manifest = json.loads((set_dir / "manifest.json").read_text())
    shutil.copytree(set_dir / "rom", tmp_path / "rom")  # nothing else of the set is there
    rebuilt = program_from_roms(tmp_path, manifest["rom"])
    assert_same_program(load_program(set_dir / "program.npz"), rebuilt)
    EXACT_CASES["programs rebuilt from ROM images"] += 1


@pytest.mark.parametrize("set_dir", COMMITTED, ids=[p.name for p in COMMITTED])
def test_rom_words_follow_the_documented_order(set_dir: Path) -> None:
    """Rebuild every weight, bias and shift with tests/hexread and the manifest's order."""
    manifest = json.loads((set_dir / "manifest.json").read_text())
    program = load_program(set_dir / "program.npz")
    files = manifest["rom"]["files"]
    for name, stage in manifest["rom"]["stages"].items():
        for i, layer in enumerate(stage["layers"]):
            lp = program.stage(name).layers[i]
            k, c_in, c_out = layer["kernel"], layer["c_in"], layer["c_out"]
            w, _ = read_words(set_dir / layer["weight"])
            bits = files[layer["weight"]]["word_bits"]
            assert files[layer["weight"]]["order"] == "c_out,c_in,ky,kx"
            for o, ci, ky, kx in np.ndindex(c_out, c_in, k, k):
                addr = ((o * c_in + ci) * k + ky) * k + kx
                assert to_signed(w[addr], bits) == lp.weight[o, ci, ky, kx]
            b, _ = read_words(set_dir / layer["bias"])
            s, _ = read_words(set_dir / layer["shift"])
            assert [to_signed(v, files[layer["bias"]]["word_bits"]) for v in b] == lp.bias.tolist()
            assert [to_signed(v, 8) for v in s] == lp.shift.tolist()
            wf = [to_signed(v, 8) - layer["in_frac"] + layer["out_frac"] for v in s]
            assert wf == lp.weight_frac.tolist()  # the manifest's formula


@given(spec=engine_specs(max_layers=3, max_channels=8, grouped=True),
       seed=st.integers(0, 2**32 - 1))
def test_random_programs_round_trip_through_roms(spec, seed, tmp_path_factory) -> None:  # type: ignore[no-untyped-def]
    program = random_program(spec, np.random.default_rng(seed))
    folder = tmp_path_factory.mktemp("rom")
    manifest = write_roms(program, folder)
    assert manifest == rom_manifest(program)
    assert json.loads(json.dumps(manifest)) == manifest  # plain JSON
    assert_same_program(program, program_from_roms(folder, manifest))
    EXACT_CASES["programs rebuilt from ROM images"] += 1


def test_bad_rom_files_are_refused_naming_the_file(tmp_path: Path) -> None:
    from hwsr.zoo import load_engine

    program = load_engine("hwsr-s").program()
    manifest = write_roms(program, tmp_path)
    bias = tmp_path / "rom" / "net2.layer1.bias.hex"
    good = bias.read_text()
    bias.write_text(good.rsplit("\n", 2)[0] + "\n")  # last word dropped
    with pytest.raises(RomError, match=r"net2\.layer1\.bias\.hex: 19 words, manifest says 20"):
        program_from_roms(tmp_path, manifest)
    lines = good.splitlines()
    bias.write_text("\n".join([lines[0], "zz11", *lines[1:]]) + "\n")
    with pytest.raises(RomError, match=r"net2\.layer1\.bias\.hex: line 2: 'zz11'"):
        program_from_roms(tmp_path, manifest)
    bias.write_text(good)
    del manifest["stages"]["net2"]["layers"][0]["out_frac"]
    with pytest.raises(RomError, match="missing key 'out_frac'"):
        program_from_roms(tmp_path, manifest)


def test_rom_images_are_readmemh_text() -> None:
    from hwsr.zoo import load_engine

    images = rom_images(load_engine("hwsr-s").program())
    assert len(images) == 2 * 5 * 3
    text = images["rom/net1.layer0.weight.hex"]
    lines = text.splitlines()
    assert lines[0].startswith("//") and all(len(x) == 2 for x in lines[1:])
    assert len(lines) - 1 == 20 * 3 * 3 * 3
