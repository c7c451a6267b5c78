"""cocotb testbench of ``hwsr_engine``: every frame of a golden set, every tap, bit for bit.

Run by :mod:`hwsr.rtl.cosim` (never imported by hwsr itself); the job (frames, taps, design,
stall rate, seed) comes as JSON in ``$HWSR_COSIM_JOB`` and the result goes back as JSON to
the job's ``results`` path. Timing discipline, per clock: inputs change just after the
falling edge; in the read-only phase before the rising edge every valid/ready pair is
sampled, so what is recorded is exactly what the rising edge transfers. Input bubbles and
output back-pressure come from one seeded generator.
"""

from __future__ import annotations

import json
import os
import random
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import FallingEdge, ReadOnly, RisingEdge


@dataclass
class Tap:
    """One compared stream: a layer output or a stage output."""

    name: str  # golden tap name, e.g. net1.layer2
    bus: str  # signal prefix in hwsr_engine (<bus>_valid/_ready/_<data>)
    data: str  # data signal suffix: data, or acc for an accumulator probe
    channels: int  # words per LR position in the golden file (per HR pixel for net2.out)
    bits: int  # word width
    r: int  # >1: the bus carries an r x r block of HR pixels
    want: list[int] = field(default_factory=list)  # golden words, unsigned bit patterns
    count: int = 0  # transfers seen
    mismatch: dict[str, Any] | None = None  # the first one


def read_words(path: Path) -> list[int]:
    """Every hex word of a golden file, in file order (comment lines skipped)."""
    out: list[int] = []
    for line in path.read_text().splitlines():
        if line.strip() and not line.startswith("//"):
            out.extend(int(w, 16) for w in line.split())
    return out


def _check(tap: Tap, got_bus: int, width: int) -> None:
    """Compare one transfer of ``tap`` with the golden words; keep the first mismatch."""
    y, x = divmod(tap.count, width)
    mask = (1 << tap.bits) - 1
    for k in range(tap.r * tap.r):
        dy, dx = divmod(k, tap.r)
        row, col = y * tap.r + dy, x * tap.r + dx
        base = (row * width * tap.r + col) * tap.channels
        for c in range(tap.channels):
            got = (got_bus >> ((k * tap.channels + c) * tap.bits)) & mask
            want = tap.want[base + c]
            if got != want and tap.mismatch is None:
                tap.mismatch = {"tap": tap.name, "row": row, "col": col, "channel": c,
                                "expected": f"{want:0{(tap.bits + 3) // 4}x}",
                                "got": f"{got:0{(tap.bits + 3) // 4}x}"}
    tap.count += 1


def _taps(job: dict[str, Any], frame: dict[str, Any]) -> list[Tap]:
    taps = []
    for t in job["taps"]:
        if t["name"] in frame["taps"]:
            tap = Tap(t["name"], t["bus"], t["data"], t["channels"], t["bits"], t["r"])
            tap.want = read_words(Path(frame["folder"]) / f"{t['name']}.hex")
            taps.append(tap)
    return taps


class VideoSource:
    """A video source at a fixed timing: one pixel per pixel-clock tick of the active area,
    ticks at ``num/den`` of the engine clock, never waiting (no back-pressure), into a FIFO
    whose fill the testbench observes; the engine takes pixels from the FIFO's head."""

    def __init__(self, video: dict[str, Any], width: int, height: int) -> None:
        self.num, self.den = video["num"], video["den"]
        self.h_total, self.v_total = video["h_total"], video["v_total"]
        self.width, self.height = width, height
        self.phase = self.hx = self.vy = self.next = 0
        self.fifo: list[int] = []
        self.max_fill = 0

    def tick(self) -> None:
        """One engine cycle: a pixel-clock tick when the phase wraps, a pixel if active."""
        self.phase += self.num
        if self.phase < self.den:
            return
        self.phase -= self.den
        if self.hx < self.width and self.vy < self.height:
            self.fifo.append(self.next)
            self.next += 1
            self.max_fill = max(self.max_fill, len(self.fifo))
        self.hx += 1
        if self.hx == self.h_total:
            self.hx, self.vy = 0, self.vy + 1


async def _run_frame(dut: Any, job: dict[str, Any], frame: dict[str, Any],
                     rng: random.Random) -> dict[str, Any]:
    w, h = frame["width"], frame["height"]
    pixels = read_words(Path(frame["folder"]) / "input.hex")
    taps = _taps(job, frame)
    handles = [(t, getattr(dut, f"{t.bus}_valid"), getattr(dut, f"{t.bus}_ready"),
                getattr(dut, f"{t.bus}_{t.data}")) for t in taps]
    stall, n = job["stall"], w * h
    dut.cfg_width.value, dut.cfg_height.value = w, h
    sent = outs = cycle = 0
    holding = wrong_marker = False
    first_in = first_out = last_out = -1
    limit = 50 * (n + job["latency_bound"]) + 1000
    video = VideoSource(frame["video"], w, h) if frame.get("video") else None
    t0 = time.perf_counter()
    while outs < n and cycle < limit:
        await FallingEdge(dut.clk)
        if video is not None:  # the FIFO's head is on the bus; the sink never waits
            video.tick()
            if video.fifo:
                p = pixels[3 * video.fifo[0]: 3 * video.fifo[0] + 3]
                dut.s_data.value = p[0] | p[1] << 8 | p[2] << 16
                dut.s_sof.value = int(video.fifo[0] == 0)
                dut.s_eol.value = int(video.fifo[0] % w == w - 1)
            dut.s_valid.value = int(bool(video.fifo))
            dut.m_ready.value = 1
        elif not holding:  # a pixel offered and not yet taken stays on the bus
            if sent < n and rng.random() >= stall:
                p = pixels[3 * sent: 3 * sent + 3]
                dut.s_data.value = p[0] | p[1] << 8 | p[2] << 16
                dut.s_sof.value, dut.s_eol.value = int(sent == 0), int(sent % w == w - 1)
                dut.s_valid.value = 1
            else:
                dut.s_valid.value = 0
        if video is None:
            dut.m_ready.value = int(rng.random() >= stall)
        await ReadOnly()
        holding = dut.s_valid.value == 1
        if holding and dut.s_ready.value == 1:
            first_in = cycle if first_in < 0 else first_in
            sent, holding = sent + 1, False
            if video is not None:
                video.fifo.pop(0)
        for tap, v, r, d in handles:
            if v.value == 1 and r.value == 1:
                _check(tap, d.value.to_unsigned(), w)
        if dut.m_valid.value == 1 and dut.m_ready.value == 1:
            first_out = cycle if first_out < 0 else first_out
            # markers on every output block: m_sof on the first, m_eol ending each LR row
            wrong_marker |= (int(dut.m_sof.value) != int(outs == 0)
                             or int(dut.m_eol.value) != int(outs % w == w - 1))
            last_out, outs = cycle, outs + 1
        await RisingEdge(dut.clk)
        cycle += 1
    await FallingEdge(dut.clk)
    dut.s_valid.value = 0
    return {
        "name": frame["name"], "width": w, "height": h, "completed": outs == n,
        "cycles": last_out - first_in + 1 if outs == n else None,
        "latency": first_out - first_in if first_out >= 0 else None,
        "framing_error": int(dut.err_framing.value) == 1 or wrong_marker,
        "wall_s": time.perf_counter() - t0,
        **({} if video is None else {"video": {"max_fill": video.max_fill,
                                               "last_out_cycle": last_out,
                                               "timing": frame["video"]["timing"]}}),
        "taps": {t.name: {"transfers": t.count, "mismatch": t.mismatch} for t in taps},
    }


@cocotb.test()
async def golden_set(dut: Any) -> None:
    """Stream every frame of the job's golden set; record every tap's verdict."""
    job = json.loads(Path(os.environ["HWSR_COSIM_JOB"]).read_text())
    rng = random.Random(job["seed"])
    Clock(dut.clk, 10, unit="ns").start()  # cocotb 2: start() schedules the clock task
    dut.rst.value, dut.s_valid.value, dut.m_ready.value = 1, 0, 0
    dut.s_sof.value = dut.s_eol.value = dut.s_data.value = 0
    dut.cfg_width.value, dut.cfg_height.value = 1, 1
    for _ in range(3):
        await RisingEdge(dut.clk)
    await FallingEdge(dut.clk)
    dut.rst.value = 0
    results = []
    for frame in job["frames"]:
        results.append(await _run_frame(dut, job, frame, rng))
        Path(job["results"]).write_text(json.dumps({"frames": results}, indent=1))
    bad = [f["name"] for f in results
           if not f["completed"] or any(t["mismatch"] for t in f["taps"].values())]
    assert not bad, f"frames with a mismatch or incomplete: {', '.join(bad)}"
