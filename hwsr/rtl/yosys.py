"""yosys on one conv layer of the emitted RTL: memory bits before mapping, cells and flip-flops.

Only one layer, never the whole engine (a generic ``synth`` of one 3×3 layer at width 64
takes minutes). Line-buffer bits are the ``$mem_v2`` cells of the line memories
(``g_lb[j].mem``) after ``proc; memory -nomap`` (before memory mapping, where they would
otherwise dissolve into flip-flops); the ROMs are counted apart.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from hwsr.program import EngineProgram
from hwsr.rom import rom_images
from hwsr.rtl.design import RtlError, conv_parameters, engine_design
from hwsr.rtl.emit import leaf_source


def _memories(dump: str) -> list[tuple[str, int]]:
    """(name, bits) of every ``$mem_v2`` cell in a yosys ``dump``."""
    out, name, size = [], "", 0
    for line in dump.splitlines():
        words = line.split()
        if words[:2] == ["cell", "$mem_v2"]:
            name = words[2]
        elif words[:2] == ["parameter", "\\SIZE"]:
            size = int(words[2])
        elif words[:2] == ["parameter", "\\WIDTH"] and name:
            out.append((name, size * int(words[2])))
            name = ""
    return out


@dataclass(frozen=True)
class LayerSynthesis:
    """What yosys counts for one ``hwsr_conv`` instance."""

    tap: str  # the layer, e.g. net1.layer0
    width: int  # MAXW
    linebuffer_bits: int  # line memories before memory mapping
    rom_bits: int  # weight, bias and shift ROMs
    cells: int | None  # cells after a generic synth (None: not run)
    flip_flops: int | None  # flip-flop bits after a generic synth
    seconds: float  # yosys wall time


def _script(design_params: dict[str, object], synth: bool) -> str:
    sets = " ".join(f"-set {k} {v}" for k, v in design_params.items())
    tail = "synth -top hwsr_conv\nstat -width\n" if synth else ""
    return (f"read_verilog -defer hwsr_conv.v\nchparam {sets} hwsr_conv\n"
            "hierarchy -top hwsr_conv\nproc\nopt -fast\nmemory -nomap\n"
            f"tee -o mem.txt dump t:$mem_v2\n{tail}")


def layer_synthesis(program: EngineProgram, stage: str, index: int, width: int = 64,
                    synth: bool = False, timeout_s: float = 900) -> LayerSynthesis:
    """Run yosys on layer ``index`` of ``stage`` at MAXW ``width``; ``synth`` adds cells/FFs."""
    import time

    if shutil.which("yosys") is None:
        raise RtlError("yosys not found: install the 'yosys' package (apt-get install yosys)")
    design = engine_design(program, max_width=width)
    ly = next((x for x in design.layers if x.stage == stage and x.index == index), None)
    if ly is None:
        raise RtlError(f"no layer {stage}.layer{index} in this program")
    st = next(s for s in design.stages if s.name == stage)
    params = {**conv_parameters(ly, st), "MAXW": width,
              **{f"{k.upper()}_FILE": f'"rom/{ly.tap}.{k}.hex"' for k in ("weight", "bias", "shift")}}
    with tempfile.TemporaryDirectory(prefix="hwsr-yosys-") as tmp:
        folder = Path(tmp)
        (folder / "hwsr_conv.v").write_text(leaf_source("hwsr_conv.v"))
        for rel, text in rom_images(program).items():
            (folder / rel).parent.mkdir(parents=True, exist_ok=True)
            (folder / rel).write_text(text)
        (folder / "run.ys").write_text(_script(params, synth))
        t0 = time.perf_counter()
        run = subprocess.run(["yosys", "-q", "-s", "run.ys", "-l", "yosys.log"], cwd=folder,
                             capture_output=True, text=True, timeout=timeout_s, check=False)
        seconds = time.perf_counter() - t0
        if run.returncode != 0:
            raise RtlError(f"yosys failed on {ly.tap}: {(run.stderr or run.stdout).strip()[:200]}")
        mems = _memories((folder / "mem.txt").read_text())
        log = (folder / "yosys.log").read_text() if synth else ""
    lb = sum(b for n, b in mems if "g_lb" in n)
    cells = _last_int(r"Number of cells:\s+(\d+)", log)
    ffs = sum(int(n) for n in re.findall(r"\$_S?DFFE?_\w+\s+(\d+)", log.rsplit("===", 1)[-1]))
    return LayerSynthesis(ly.tap, width, lb, sum(b for n, b in mems if "g_lb" not in n), cells,
                          ffs if synth else None, seconds)


def _last_int(pattern: str, text: str) -> int | None:
    found = re.findall(pattern, text)
    return int(found[-1]) if found else None
