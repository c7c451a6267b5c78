"""Observed against reported: the RTL's memories and cycles next to ``hwsr report``'s figures.

Line-buffer bits are counted from the emitted top level's instance parameters (every
``hwsr_conv``'s k−1 line memories and every ``hwsr_residual``'s delay line), not from the
design object that generated them; latency is what the testbench measured. Both are printed
beside the static report's formulas (:mod:`hwsr.report`), term by term.
"""

from __future__ import annotations

import re
from dataclasses import asdict
from typing import Any

from hwsr.folding import FoldPlan
from hwsr.program import EngineProgram
from hwsr.report import EngineReport, engine_report
from hwsr.rtl.cosim import CosimResult, FrameResult
from hwsr.rtl.design import EngineDesign
from hwsr.rtl.fold import folded_units
from hwsr.rtl.schedule import design_halos, folded_latency
from hwsr.rtl.top import render_top
from hwsr.rtl.top_fold import FoldedMemory, folded_memory, render_folded_top
from hwsr.video_timing import TIMINGS, fifo_model, fifo_overflow, video_run

_INST = re.compile(r"(hwsr_conv|hwsr_window|hwsr_residual) #\((.*?)\) (\w+) \(")
_PARAM = re.compile(r"\.(\w+)\(([^(){}]*)\)")


def memory_bits_from_verilog(top_text: str, max_width: int) -> dict[str, int]:
    """Line-buffer and delay-line bits of every instance in a generated ``hwsr_engine``."""
    bits: dict[str, int] = {}
    for kind, params, name in _INST.findall(top_text):
        p = {k: v for k, v in _PARAM.findall(params)}
        if kind in ("hwsr_conv", "hwsr_window"):
            k, cin, in_bits = int(p["K"]), int(p["CIN"]), int(p["IN_BITS"])
            span = int(p.get("DIL", 1)) * (k - 1) + 1
            bits[name] = (span - 1) * max_width * cin * in_bits
        elif int(p["RESIDUAL"]):
            bits[name] = int(p["DEPTH"]) * 3 * 8
    return bits


def _engine_report(program: EngineProgram, width: int) -> EngineReport:
    stage = "dual" if program.net1 is not None else "net2"
    return engine_report(program.net2.spec, stage=stage, width=width, height=1)


def report_latency(program: EngineProgram, width: int) -> int:
    """``hwsr report``'s RTL latency of the engine at ``width`` (cycles, 1 px/clock)."""
    return _engine_report(program, width).rtl_latency_cycles


def report_bits(program: EngineProgram, width: int) -> tuple[int, int]:
    """``hwsr report``'s line-buffer bits at ``width`` and the RTL's named overhead term."""
    rep = _engine_report(program, width)
    return rep.linebuffer_bits, rep.rtl_delay_line_extra_bits


def rtl_figures_lines(program: EngineProgram, design: EngineDesign,
                      plan: FoldPlan | None = None) -> list[str]:
    """Line-buffer bits of the emitted RTL and of the report at MAXW, and the latency."""
    if plan is not None and not plan.full:
        return folded_figures_lines(program, design, plan)
    w = design.max_width
    counted = sum(memory_bits_from_verilog(render_top(design), w).values())
    rows, over = report_bits(program, w)
    lat, rep_lat = design.latency_cycles(w), report_latency(program, w)
    return [
        f"line buffers + delay lines at width {w}: RTL memories {counted:,} bits; hwsr report "
        f"{rows:,} + delay-line pipeline overhead {over:,} = {rows + over:,} bits "
        f"({'equal' if counted == rows + over else 'DIFFER'})",
        f"latency at width {w}, 1 px/clock: RTL {lat:,} cycles; hwsr report {rep_lat:,} "
        f"cycles ({'equal' if lat == rep_lat else 'DIFFER'})",
    ]


def cosim_lines(result: CosimResult, stall: float) -> list[str]:
    """Per frame and tap verdicts, cycles, latency (with the report's figure), wall time."""
    lines = [f"cosim on {result.simulator}, design {result.digest[:16]}, stall {stall:g}, "
             f"build {result.build_s:.1f} s"]
    if result.plan is not None and not result.plan.full:
        p = result.plan
        lines.append(f"folded engine: {p.multipliers:,} multipliers, {p.cycles_per_pixel} "
                     f"cycles per LR pixel ({'shared by both stages' if p.shared else 'separate'}"
                     "); latency predicted by its schedule model (hwsr.rtl.schedule)")
    for f in result.frames:
        lines.append(_frame_line(f, result, stall))
        if f.video is not None and result.plan is not None:
            lines.append("  " + video_line(f, result.plan))
        for t in f.taps:
            if t.mismatch is not None:
                m = t.mismatch
                lines.append(f"  MISMATCH {m['tap']} row {m['row']} col {m['col']} channel "
                             f"{m['channel']}: expected {m['expected']}, got {m['got']}")
    n_ok = sum(f.ok for f in result.frames)
    lines.append(f"{n_ok}/{len(result.frames)} frames bit-exact on every tap"
                 + ("" if result.ok else ": FAIL"))
    slow = video_late(result)
    if slow:
        lines.append(f"not real-time at video timing in {len(slow)} frame(s) "
                     f"({', '.join(slow)}): FAIL")
    late = latency_differs(result, stall)
    if late:
        lines.append(f"latency differs from hwsr report's in {len(late)} frame(s) "
                     f"({', '.join(late)}): FAIL")
    return lines


def predicted_latency(result: CosimResult, f: FrameResult) -> int:
    """The latency ``hwsr report`` predicts for frame ``f`` without stalls: its formula for the
    one-pixel-per-clock engine, the schedule model (:mod:`hwsr.rtl.schedule`) for the
    folded one."""
    if result.plan is None or result.plan.full:
        return report_latency(result.program, f.width)
    return folded_latency(result.plan, design_halos(result.design), f.width, f.height,
                          result.design.max_width)


def latency_differs(result: CosimResult, stall: float) -> list[str]:
    """Frames whose latency measured without stalls is not the predicted one: a failure."""
    if stall != 0:
        return []
    return [f.name for f in result.frames if f.video is None and f.latency is not None
            and f.latency != predicted_latency(result, f)]


def cosim_json(result: CosimResult, stall: float) -> dict[str, Any]:
    """Every frame's and tap's verdict, with the report's latency next to the measured one."""
    return {
        "simulator": result.simulator, "design_hash": result.digest, "stall": stall,
        "ok": result.ok, "build_s": result.build_s,
        "frames": [{**{k: v for k, v in asdict(f).items() if k != "taps"}, "ok": f.ok,
                    "latency_report": predicted_latency(result, f),
                    "taps": [{**asdict(t), "ok": t.ok} for t in f.taps]}
                   for f in result.frames],
    }


def _frame_line(f: FrameResult, result: CosimResult, stall: float) -> str:
    taps = sum(t.ok for t in f.taps)
    lat = "-" if f.latency is None else f"{f.latency}"
    if stall == 0 and f.latency is not None and f.video is None:
        want = predicted_latency(result, f)
        lat += f" (report {want}{'' if want == f.latency else ' DIFFERS'})"
    status = "pass" if f.ok else ("INCOMPLETE" if not f.completed else "FAIL")
    if f.framing_error:
        status += " (framing: err_framing set or a wrong m_sof/m_eol)"
    return (f"{f.name:>20} {f.width}x{f.height}: {status}, taps {taps}/{len(f.taps)}, "
            f"cycles {f.cycles if f.cycles is not None else '-'}, latency {lat}, "
            f"{f.wall_s:.2f} s")


def folded_figures_lines(program: EngineProgram, design: EngineDesign,
                         plan: FoldPlan) -> list[str]:
    """The folded engine's memories counted from its emitted top level, against the report."""
    w = design.max_width
    units = folded_units(plan, design)
    bits = memory_bits_from_verilog(render_folded_top(design, units), w)
    lb = sum(b for n, b in bits.items() if n.endswith("_win"))
    delay = sum(b for n, b in bits.items() if not n.endswith("_win"))
    rows, _ = report_bits(program, w)
    res_rows = sum(s.residual_bits for s in _engine_report(program, w).stages)
    fifo = sum(fu.fifo_depth * sum(ly.c_out * (ly.out_bits + s.acc_bits) for ly, s in
                                   zip(fu.layers, (fu.stage,) * len(fu.layers), strict=True))
               for fu in units)
    return [
        f"line buffers at width {w}: RTL windows {lb:,} bits; hwsr report {rows - res_rows:,} "
        f"bits ({'equal' if lb == rows - res_rows else 'DIFFER'})",
        f"residual delay lines: RTL {delay:,} bits (per layer its lag, window register and "
        f"output FIFO); output FIFOs {fifo:,} bits (data and accumulator probe)",
        folded_memory_line(folded_memory(design, units)),
        f"latency at width {w}, no stalls: hwsr report's schedule model "
        f"{folded_latency(plan, design_halos(design), w, plan.budget.height):,} cycles (first "
        "input to first output; hwsr cosim --stall 0 holds the RTL to it)",
    ]


def folded_memory_line(m: FoldedMemory) -> str:
    """Every memory of the folded ``hwsr_engine`` as synthesized, by term (``hwsr rtl``)."""
    return (f"every memory of hwsr_engine at width {m.max_width} (probes off, yosys's count "
            f"before memory mapping): {m.total_bits:,} bits = line buffers "
            f"{m.linebuffer_bits:,} + delay lines {m.residual_bits + m.delay_extra_bits:,} + "
            f"output FIFOs {m.fifo_bits:,} + weight/bias/shift codes {m.weight_bits:,} + RAM "
            f"padding {m.group_padding_bits + m.slice_padding_bits:,} (PE groups "
            f"{m.group_padding_bits:,}, 32-bit slices {m.slice_padding_bits:,})")


def video_line(f: FrameResult, plan: FoldPlan) -> str:
    """A frame fed at video timing: the FIFO's largest fill (or its first overflow) against the
    periodic model, the frame's cycles against the frame period, the last output against the
    next frame's first active pixel."""
    assert f.video is not None
    v, cpp = f.video, plan.cycles_per_pixel
    run = video_run(v["timing"], plan.budget.clock_mhz, f.width, f.height)
    head = (f"video {v['timing']} ({run.h_total}x{run.v_total} ticks, {run.num} per {run.den} "
            f"cycles): input FIFO depth {v['fifo_depth']:,}, ")
    over = v.get("overflow")
    if over is not None:
        model = fifo_overflow(run, cpp, v["fifo_depth"])
        where = ("never" if model is None else f"at pixel {model[0]:,} (row "
                 f"{model[0] // f.width}, col {model[0] % f.width}), tick {model[1]:,}")
        return (head + f"OVERFLOW at pixel {over['pixel']:,} (row {over['row']}, col "
                f"{over['col']}), tick {over['tick']:,}, cycle {over['cycle']:,}; periodic "
                f"model at {cpp} cycles per pixel overflows {where}: not real-time")
    text = (head + f"largest fill {v['max_fill']:,} (periodic model at {cpp} cycles per "
            f"pixel: {fifo_model(run, cpp):,})")
    if f.cycles is None:
        return text
    period, nxt, last = run.frame_cycles, v["next_frame_cycle"], v["last_out_cycle"]
    return (text + f"; {f.cycles:,} cycles first input to last output "
            f"({'within' if f.cycles <= period else 'OVER'} the {float(period):,.0f}-cycle "
            f"frame period); last output at cycle {last:,}, "
            f"{'before' if last < nxt else 'AFTER'} the next frame's first pixel at {nxt:,}")


def video_late(result: CosimResult) -> list[str]:
    """Frames fed at video timing that were not real time: the FIFO overflowed (or the frame
    did not complete), or, on a frame of the timing's own size, the last output came after
    the next frame's first active pixel. A smaller frame's blanking is scaled down with it
    (one line for a few rows), shorter than the engine's flush: its line says AFTER, it does
    not fail."""
    return [f.name for f in result.frames if f.video is not None and (
        f.video.get("overflow") is not None or f.cycles is None
        or (_native(f) and f.video["last_out_cycle"] >= f.video["next_frame_cycle"]))]


def _native(f: FrameResult) -> bool:
    t = TIMINGS[f.video["timing"]] if f.video is not None else None
    return t is not None and (t.width, t.height) == (f.width, f.height)
