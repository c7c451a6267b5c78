"""Reloadable weights: one built folded engine runs two programs loaded through its port.

The plain testbench writes a load image through ``wr_en/wr_addr/wr_data`` in reset (Icarus
memories start as X: a word the image misses shows up as a mismatch), then streams a golden
frame. The second program is a fine-tune of hwsr-s (weights and biases changed, same shapes
and widths); its expected taps come from the simulator, as every golden set's do.
"""

from __future__ import annotations

import dataclasses
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from hwsr.folding import fold_plan
from hwsr.golden import standard_frames, write_golden
from hwsr.program import EngineProgram, load_program
from hwsr.rtl.design import RtlError, engine_design
from hwsr.rtl.emit import EmittedRtl, emit_rtl
from hwsr.rtl.fold import folded_units
from hwsr.rtl.load import image_for, load_image
from hwsr.sim import simulate

pytestmark = pytest.mark.skipif(shutil.which("iverilog") is None, reason="needs Icarus Verilog")
ROOT = Path(__file__).resolve().parent.parent
GOLDEN = ROOT / "golden/hwsr-s"
FRAMES = ("noise", "tiny2x3")


def _plan(program: EngineProgram):  # type: ignore[no-untyped-def]
    spec = program.net2.spec
    return fold_plan(spec, spec.budget, shared=True, dual=program.net1 is not None)


def _fine_tune(program: EngineProgram, seed: int) -> EngineProgram:
    """Every weight moved by -2..2 and every bias by -40..40 codes (clipped to their widths)."""
    rng = np.random.default_rng(seed)

    def stage(sp):  # type: ignore[no-untyped-def]
        dp = sp.spec.datapath
        wlo, whi = -(1 << (dp.weight_bits - 1)), (1 << (dp.weight_bits - 1)) - 1
        blo, bhi = -(1 << (dp.bias_bits - 1)), (1 << (dp.bias_bits - 1)) - 1
        layers = tuple(dataclasses.replace(
            lp, weight=np.clip(lp.weight + rng.integers(-2, 3, lp.weight.shape), wlo, whi),
            bias=np.clip(lp.bias + rng.integers(-40, 41, lp.bias.shape), blo, bhi))
            for lp in sp.layers)
        return dataclasses.replace(sp, layers=layers)

    return EngineProgram(net2=stage(program.net2), net1=stage(program.net1))


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[EmittedRtl, Path]:
    """hwsr-s's folded engine at the spec's budget, compiled once (tb.vvp)."""
    program = load_program(GOLDEN / "program.npz")
    out = emit_rtl(program, tmp_path_factory.mktemp("reload") / "rtl", max_width=8,
                   plan=_plan(program))
    subprocess.run(["iverilog", "-g2005", "-DHWSR_PACKED_MAC", "-o", "tb.vvp", "-s",
                    "tb_engine", "-c", "files.f", "tb_engine.v"], cwd=out.folder, check=True)
    return out, out.folder / "tb.vvp"


def _run(folder: Path, frame: Path, load: Path) -> str:
    run = subprocess.run(["vvp", "-n", "tb.vvp", f"+FRAME={frame}", f"+LOAD={load}",
                          "+STALL=20"], cwd=folder, capture_output=True, text=True,
                         timeout=300, check=False)
    return run.stdout


def test_two_programs_through_the_load_port_of_one_build(
        built: tuple[EmittedRtl, Path], tmp_path: Path) -> None:
    out, vvp = built
    stamp = vvp.stat().st_mtime_ns
    own = out.folder / "rom/load.hex"
    for name in FRAMES:
        text = _run(out.folder, GOLDEN / name, own)
        assert f"PASS frame={GOLDEN / name}" in text, text[-400:]

    program = load_program(GOLDEN / "program.npz")
    tuned = _fine_tune(program, seed=3)
    frames = standard_frames(7, 5, names=FRAMES)
    assert not np.array_equal(simulate(tuned, frames["noise"], "dual").frame,
                              simulate(program, frames["noise"], "dual").frame)
    tuned_set = tmp_path / "tuned"
    write_golden(tuned, frames, tuned_set, model="hwsr-s fine-tune")
    image = tmp_path / "tuned.hex"
    image.write_text(image_for(out.folder, tuned))
    both = tmp_path / "both.hex"  # hwsr-s's image, then the fine-tune's over it
    both.write_text(own.read_text() + image.read_text())
    for name in FRAMES:
        text = _run(out.folder, tuned_set / name, both)
        assert f"PASS frame={tuned_set / name}" in text, text[-400:]
    # the same frame with hwsr-s's program loaded fails: the image is what changed the output
    assert "MISMATCH tap=net1.layer0" in _run(out.folder, tuned_set / "noise", own)
    assert vvp.stat().st_mtime_ns == stamp  # one build


def _other_shapes() -> EngineProgram:
    """hwsr-s with Net1's and Net2's layer 1 four channels narrower (20 -> 16 -> 20)."""
    from tests.strategies import random_program

    spec = load_program(GOLDEN / "program.npz").net2.spec
    layers = list(spec.layers)
    layers[1] = dataclasses.replace(layers[1], c_out=16)
    layers[2] = dataclasses.replace(layers[2], c_in=16)
    return random_program(dataclasses.replace(spec, layers=tuple(layers)),
                          np.random.default_rng(1))


def test_a_program_of_other_shapes_is_refused(built: tuple[EmittedRtl, Path],
                                             tmp_path: Path) -> None:
    out, _ = built
    other = _other_shapes()
    with pytest.raises(RtlError) as e:
        image_for(out.folder, other)
    assert "does not fit this design" in str(e.value) and "\n" not in str(e.value)
    # an image made for its own engine is refused by this design's testbench
    units = folded_units(_plan(other), engine_design(other, 8))
    image = tmp_path / "other.hex"
    image.write_text(load_image(other, units))
    text = _run(out.folder, GOLDEN / "noise", image)
    assert "not a load image of this design" in text and "PASS" not in text


def test_the_load_image_covers_every_memory_bit(built: tuple[EmittedRtl, Path]) -> None:
    """Every slice of every word of every memory is written once, in address order."""
    import json

    out, _ = built
    load = json.loads((out.folder / "design.json").read_text())["load"]
    lines = (out.folder / "rom/load.hex").read_text().splitlines()
    assert lines[0].startswith(f"// hwsr load image: layout {load['layout']} writes ")
    addresses = [int(ln.split()[0], 16) for ln in lines[1:]]
    assert addresses == sorted(set(addresses))
    assert len(addresses) == sum(m["words"] * m["slices"] for u in load["units"]
                                 for m in u["memories"])
    assert max(addresses) < 1 << load["addr_bits"]
