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
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hwsr.folding import FoldPlan
from hwsr.program import EngineProgram
from hwsr.rom import rom_images
from hwsr.rtl.design import RtlError, conv_parameters, engine_design
from hwsr.rtl.emit import leaf_source
from hwsr.rtl.fold import FoldedUnit


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
    return (f"read_verilog -defer hwsr_window.v hwsr_conv.v\nchparam {sets} hwsr_conv\n"
            "hierarchy -top hwsr_conv\nproc\nopt -fast\nmemory -nomap\n"
            f"tee -o mem.txt dump t:$mem_v2\n{tail}")


def layer_synthesis(program: EngineProgram, stage: str, index: int, width: int = 64,
                    synth: bool = False, timeout_s: float = 900) -> LayerSynthesis:
    """Run yosys on layer ``index`` of ``stage`` at MAXW ``width``; ``synth`` adds cells/FFs."""

    if shutil.which("yosys") is None:
        raise RtlError("yosys not found: install the 'yosys' package (apt-get install yosys)")
    design = engine_design(program, max_width=width)
    ly = next((x for x in design.layers if x.stage == stage and x.index == index), None)
    if ly is None:
        raise RtlError(f"no layer {stage}.layer{index} in this program")
    st = next(s for s in design.stages if s.name == stage)
    params = {**conv_parameters(ly, st), "MAXW": width,
              **{f"{k.upper()}_FILE": f'"rom/{ly.tap}.{k}.hex"' for k in ("weight", "bias", "shift")}}
    with _yosys_run(("hwsr_window.v", "hwsr_conv.v"), rom_images(program),
                    _script(params, synth), ly.tap, timeout_s) as (folder, seconds):
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


# ---- the folded engine: one MAC unit at a time ---------------------------------------------


@dataclass(frozen=True)
class UnitSynthesis:
    """What yosys counts in one ``hwsr_mac`` of the folded engine."""

    name: str  # mac_l<i> (shared) or mac_<stage>_l<i>
    data_multipliers: int  # $mul cells of a weight by an activation (before techmap)
    other_multipliers: int  # $mul cells of index arithmetic (a constant operand)
    cells: int  # cells after proc/opt (before techmap)
    flip_flop_bits: int  # bits of $dff/$sdff/$dffe... cells after proc/opt
    memory_bits: int  # $mem_v2 bits (weight, bias, shift memories, FIFOs)
    levels: int | None  # longest path in gate levels after a generic synth (None: not run)
    seconds: float


def _mul_widths(dump: str) -> list[tuple[int, int]]:
    """(A_WIDTH, B_WIDTH) of every $mul cell in a yosys ``dump``."""
    out, a = [], 0
    for line in dump.splitlines():
        words = line.split()
        if words[:2] == ["parameter", "\\A_WIDTH"]:
            a = int(words[2])
        elif words[:2] == ["parameter", "\\B_WIDTH"]:
            out.append((a, int(words[2])))
    return out


def _unit_script(params: dict[str, object], synth: bool) -> str:
    sets = " ".join(f"-set {k} {v}" for k, v in params.items())
    tail = "synth -top hwsr_mac -flatten\nabc -g AND,NAND,OR,NOR,XOR,XNOR,MUX\n" \
           "tee -o ltp.txt ltp -noff\n" if synth else ""
    return (f"read_verilog -defer hwsr_fifo.v hwsr_mac.v\nchparam {sets} hwsr_mac\n"
            + _flat_script("hwsr_mac") + tail)


def _unit_job(program: EngineProgram, plan: FoldPlan,
              unit: str) -> tuple[FoldedUnit, dict[str, object], dict[str, str]]:
    """One MAC unit of the plan: the unit, its module parameters (accumulator probe off)
    and its memory images (none: RAMs); a missing yosys or unit is a one-line refusal."""
    from hwsr.rtl.fold import folded_units

    if shutil.which("yosys") is None:
        raise RtlError("yosys not found: install the 'yosys' package (apt-get install yosys)")
    units = folded_units(plan, engine_design(program, max_width=8))
    fu = next((u for u in units if u.name == unit), None)
    if fu is None:
        raise RtlError(f"no MAC unit {unit} in this plan")
    params: dict[str, object] = {**fu.parameters(), "PROBE": 0}
    return fu, params, {}  # the unit's memories are RAMs: loaded through the port, no image


def unit_synthesis(program: EngineProgram, plan: FoldPlan, unit: str, *, synth: bool = False,
                   timeout_s: float = 1800) -> UnitSynthesis:
    """yosys on one MAC unit of the folded engine: multipliers by kind, cells, flip-flops,
    memory bits before techmap; with ``synth``, the longest path after a generic synth."""

    fu, params, roms = _unit_job(program, plan, unit)
    with _yosys_run(("hwsr_fifo.v", "hwsr_mac.v"), roms,
                    _unit_script(params, synth), unit, timeout_s) as (folder, seconds):
        muls = _mul_widths((folder / "mul.txt").read_text())
        mems = _memories((folder / "mem.txt").read_text())
        stat = (folder / "stat.txt").read_text()
        ltp = (folder / "ltp.txt").read_text() if synth else ""
    data = (fu.stage.weight_bits, fu.layers[0].in_bits + 1)
    n_data = sum(1 for w in muls if tuple(sorted(w)) == tuple(sorted(data)))
    return UnitSynthesis(fu.name, n_data, len(muls) - n_data,
                         _last_int(r"Number of cells:\s+(\d+)", stat) or 0, _ff_bits(stat),
                         sum(b for _, b in mems), _last_int(r"length=(\d+)", ltp), seconds)


@contextmanager
def _yosys_run(leaves: tuple[str, ...], roms: dict[str, str], script: str, what: str,
               timeout_s: float) -> Iterator[tuple[Path, float]]:
    """Run yosys on ``script`` in a temporary folder holding the ``leaves`` modules and the
    ``roms`` images; yields the folder (still there, for the script's outputs) and the
    seconds yosys took. A failed run is one line naming ``what``."""
    with tempfile.TemporaryDirectory(prefix="hwsr-yosys-") as tmp:
        folder = Path(tmp)
        for name in leaves:
            (folder / name).write_text(leaf_source(name))
        for rel, text in roms.items():
            (folder / rel).parent.mkdir(parents=True, exist_ok=True)
            (folder / rel).write_text(text)
        (folder / "run.ys").write_text(script)
        t0 = time.perf_counter()
        run = subprocess.run(["yosys", "-q", "-s", "run.ys", "-l", "yosys.log"], cwd=folder,
                             capture_output=True, text=True, timeout=timeout_s, check=False)
        seconds = time.perf_counter() - t0
        if run.returncode != 0:
            raise RtlError(f"yosys failed on {what}: {(run.stderr or run.stdout).strip()[:200]}")
        yield folder, seconds


# ---- the whole engine ------------------------------------------------------------------------


@dataclass(frozen=True)
class EngineSynthesis:
    """What yosys counts in the whole emitted ``hwsr_engine`` (both stages, every unit)."""

    max_width: int  # MAXW the engine was emitted at
    data_multipliers: int  # $mul cells of a weight by an activation (before techmap)
    other_multipliers: int  # $mul cells with other operand widths
    cells: int  # cells after proc/flatten/opt (before techmap)
    flip_flop_bits: int  # bits of $dff-type cells
    memory_bits: int  # $mem_v2 bits: line buffers, weight/bias/shift memories, FIFOs, delays
    seconds: float


def engine_synthesis(program: EngineProgram, plan: FoldPlan, max_width: int = 1280,
                     timeout_s: float = 3600) -> EngineSynthesis:
    """yosys on the whole folded engine (``proc; flatten; opt; wreduce; memory -nomap``,
    before techmap, accumulator probes off): multipliers, cells, flip-flops, memory bits."""
    from hwsr.rtl.emit import TOP_FILE, design_files, leaf_modules

    if shutil.which("yosys") is None:
        raise RtlError("yosys not found: install the 'yosys' package (apt-get install yosys)")
    _, files = design_files(program, max_width, plan=plan)
    leaves = leaf_modules(plan)
    extra = {k: v for k, v in files.items() if k.startswith("rom/")}
    # the accumulator probes are testbench wires: every unit instance without them
    extra[TOP_FILE] = files[TOP_FILE].replace("hwsr_mac #(", "hwsr_mac #(.PROBE(0), ")
    script = f"read_verilog -defer {' '.join(leaves)} {TOP_FILE}\n" + _flat_script("hwsr_engine")
    with _yosys_run(leaves, extra, script, "hwsr_engine", timeout_s) as (folder, seconds):
        muls = _mul_widths((folder / "mul.txt").read_text())
        mems = _memories((folder / "mem.txt").read_text())
        stat = (folder / "stat.txt").read_text()
    st = engine_design(program, 8).stages[0]
    data = tuple(sorted((st.weight_bits, st.layers[0].in_bits + 1)))
    n_data = sum(1 for w in muls if tuple(sorted(w)) == data)
    return EngineSynthesis(max_width, n_data, len(muls) - n_data,
                           _last_int(r"Number of cells:\s+(\d+)", stat) or 0, _ff_bits(stat),
                           sum(b for _, b in mems), seconds)


def _flat_script(top: str) -> str:
    """Elaborate ``top`` flat, before techmap, and write the $mul, $mem_v2 and stat reports."""
    return (f"hierarchy -top {top}\nproc\nflatten\nopt_expr\nopt_clean\nwreduce\nopt_clean\n"
            "memory -nomap\n"
            "tee -o mul.txt dump t:$mul\ntee -o mem.txt dump t:$mem_v2\n"
            "tee -o stat.txt stat -width\n")


def _ff_bits(stat: str) -> int:
    return sum(int(w) * int(n) for w, n in re.findall(r"\$\w*dff\w*_(\d+)\s+(\d+)", stat))


# ---- logic depth per pipeline stage of one MAC unit ------------------------------------------

_CLOCK_PORTS = {"C", "CLK"}


def register_depths(netlist: dict[str, Any], top: str) -> dict[str, int]:
    """Longest path in gate levels (every non-flip-flop cell one level, as ``ltp`` counts)
    into each register of a gate-level yosys JSON ``netlist``: register name (its Q net's
    name without the bit index) → the deepest of its bits' D, enable and reset inputs.
    Paths start at flip-flop outputs, module inputs and constants (level 0)."""
    mod = netlist["modules"][top]
    driver: dict[int, dict[str, Any]] = {}
    ffs = []
    for cell in mod["cells"].values():
        outs = [p for p, d in cell["port_directions"].items() if d == "output"]
        if "DFF" in cell["type"]:
            ffs.append(cell)
            continue
        for p in outs:
            for b in cell["connections"][p]:
                if isinstance(b, int):
                    driver[b] = cell
    memo: dict[int, int] = {}

    def level(bit: int | str) -> int:
        if not isinstance(bit, int) or bit not in driver:
            return 0
        stack = [bit]
        while stack:  # iterative depth-first: netlists are deeper than Python's recursion
            b = stack[-1]
            ins = [x for p, d in driver[b]["port_directions"].items() if d == "input"
                   for x in driver[b]["connections"][p] if isinstance(x, int) and x in driver]
            todo = [x for x in ins if x not in memo]
            if todo:
                stack.extend(todo)
                continue
            memo[b] = 1 + max((memo[x] for x in ins), default=0)
            stack.pop()
        return memo[bit]

    # a bit's name: a visible net's where there is one (later entries win), without abc's
    # "$abc$<n>$" prefix
    names = {b: re.sub(r"^\$abc\$\d+\$", "", n) for n, net in sorted(
        mod["netnames"].items(), key=lambda kv: -kv[1].get("hide_name", 0))
        for b in net["bits"] if isinstance(b, int)}
    depth: dict[str, int] = {}
    for ff in ffs:
        d = max((level(x) for p, bits in ff["connections"].items() if p not in _CLOCK_PORTS
                 and ff["port_directions"][p] == "input" for x in bits), default=0)
        for q in ff["connections"]["Q"]:
            name = names.get(q, "?") if isinstance(q, int) else "?"
            key = re.sub(r"\[\d+\]$", "", name)
            depth[key] = max(depth.get(key, 0), d)
    return depth


def unit_register_depths(program: EngineProgram, plan: FoldPlan, unit: str,
                         timeout_s: float = 1800) -> tuple[dict[str, int], int, float]:
    """Generic ``synth`` and ``abc -g`` of one MAC unit, then :func:`register_depths`;
    returns the depths, ``ltp``'s longest path (the largest depth must equal it) and the
    yosys seconds."""
    import json

    _, params, roms = _unit_job(program, plan, unit)
    script = _unit_script(params, True) + "write_json net.json\n"
    with _yosys_run(("hwsr_fifo.v", "hwsr_mac.v"), roms, script, unit,
                    timeout_s) as (folder, seconds):
        netlist = json.loads((folder / "net.json").read_text())
        ltp = _last_int(r"length=(\d+)", (folder / "ltp.txt").read_text())
    return register_depths(netlist, "hwsr_mac"), ltp or 0, seconds
