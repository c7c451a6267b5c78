"""cocotb testbench of ``hwsr_top``: every frame of a golden set through its AXI4-Stream ports.

Run by :mod:`hwsr.rtl.cosim` (never imported by hwsr itself); the job (frames, taps, design,
stall rate, seed) comes as JSON in ``$HWSR_COSIM_JOB`` and the result goes back as JSON to
the job's ``results`` path. ``cocotbext-axi`` drives ``s_axis`` (an ``AxiStreamSource``: one
packet per LR row, ``tuser`` on the frame's first pixel) and takes ``m_axis`` (an
``AxiStreamSink``: one packet per HR row, or per LR row of blocks with ``--raster off``),
both with seeded pauses; every packet is compared with the golden set's final output, byte
for byte, with ``tuser`` checked on every beat and ``tlast`` by each packet's length. Inside,
every tap of the core (``hwsr_top.core``) is compared at its handshakes: per clock, in the
read-only phase after the falling edge, every valid/ready pair is sampled, so what is
recorded is exactly what the next rising edge transfers (the AXI models drive at rising
edges). Cycles and latency are the core's (first input to first/last output block).
"""
from __future__ import annotations

import json
import os
import random
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cocotb
import numpy as np
from cocotb.clock import Clock
from cocotb.triggers import FallingEdge, ReadOnly, RisingEdge
from cocotbext.axi import AxiStreamBus, AxiStreamFrame, AxiStreamSink, AxiStreamSource


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


def _expected_rows(frame: dict[str, Any], job: dict[str, Any]) -> list[bytes] | None:
    """The m_axis packets of a frame from its golden ``net2.out``: one per HR row (raster) or
    one per LR row of r x r blocks (``--raster off``); None when the set lacks the file."""
    path = Path(frame["folder"]) / "net2.out.hex"
    if not path.is_file():
        return None
    w, h, r = frame["width"], frame["height"], job["upscale"]
    hr = np.array(read_words(path), dtype=np.uint8).reshape(h * r, w * r, 3)
    if job["raster"]:
        return [row.tobytes() for row in hr]
    blocks = hr.reshape(h, r, w, r, 3).transpose(0, 2, 1, 3, 4)
    return [row.tobytes() for row in blocks]


def _check_packets(got: list[AxiStreamFrame], want: list[bytes], beats_per_row: int,
                   job: dict[str, Any]) -> tuple[dict[str, Any], bool]:
    """Compare the m_axis packets (tlast ends each) with the golden rows: data byte for byte,
    tuser on every beat (the frame's first only); a packet of the wrong length is a tlast
    off its place. Returns the ``m_axis`` tap verdict and whether a marker was wrong."""
    tap: dict[str, Any] = {"transfers": 0, "mismatch": None}
    wrong_marker = len(got) != len(want)
    lanes = len(want[0]) // beats_per_row
    r = job["upscale"]
    for i, (pkt, row) in enumerate(zip(got, want, strict=False)):
        data = bytes(pkt.tdata)
        wrong_marker |= len(data) != len(row)
        users = [pkt.tuser[b * lanes] for b in range(len(data) // lanes)]
        wrong_marker |= users != [int(i == 0 and b == 0) for b in range(len(users))]
        tap["transfers"] += len(users)
        for k, (a, b) in enumerate(zip(row, data, strict=False)):
            if a != b and tap["mismatch"] is None:
                beat, byte = divmod(k, lanes)
                pix, ch = divmod(byte, 3)
                dy, dx = divmod(pix, r) if not job["raster"] else (0, pix)
                hr_row = i * (1 if job["raster"] else r) + dy
                tap["mismatch"] = {"tap": "m_axis", "row": hr_row, "col": beat * r + dx,
                                   "channel": ch, "expected": f"{a:02x}", "got": f"{b:02x}"}
    return tap, wrong_marker


def _drive_video(dut: Any, video: VideoSource, pixels: list[int], w: int) -> None:
    """The FIFO's head on s_axis (the video source never waits)."""
    if video.fifo:
        i = video.fifo[0]
        p = pixels[3 * i: 3 * i + 3]
        dut.s_axis_tdata.value = p[0] | p[1] << 8 | p[2] << 16
        dut.s_axis_tuser.value = int(i == 0)
        dut.s_axis_tlast.value = int(i % w == w - 1)
    dut.s_axis_tvalid.value = int(bool(video.fifo))


async def _run_frame(dut: Any, job: dict[str, Any], frame: dict[str, Any],
                     source: AxiStreamSource | None, sink: AxiStreamSink) -> dict[str, Any]:
    w, h = frame["width"], frame["height"]
    pixels = read_words(Path(frame["folder"]) / "input.hex")
    taps = _taps(job, frame)
    core = getattr(dut, job["core"])
    handles = [(t, getattr(core, f"{t.bus}_valid"), getattr(core, f"{t.bus}_ready"),
                getattr(core, f"{t.bus}_{t.data}")) for t in taps]
    n = w * h
    want = _expected_rows(frame, job)
    rows = h * (job["upscale"] if job["raster"] else 1)
    dut.cfg_width.value, dut.cfg_height.value = w, h
    outs = cycle = core_waits = 0
    wrong_marker = False
    first_in = first_out = last_out = -1
    limit = 50 * (n + job["latency_bound"]) + 1000
    video = VideoSource(frame["video"], w, h) if frame.get("video") else None
    if source is not None:  # one packet per LR row, tuser on the frame's first pixel
        for y in range(h):
            row = bytes(pixels[3 * w * y: 3 * w * (y + 1)])
            source.send_nowait(AxiStreamFrame(row, tuser=[1] * 3 + [0] * (3 * w - 3)
                                              if y == 0 else 0))
    got: list[AxiStreamFrame] = []
    t0 = time.perf_counter()
    while (outs < n or len(got) < rows) and cycle < limit:
        await FallingEdge(dut.clk)
        if video is not None:
            video.tick()
            _drive_video(dut, video, pixels, w)
        await ReadOnly()
        if video is not None and dut.s_axis_tvalid.value == 1 and dut.s_axis_tready.value == 1:
            video.fifo.pop(0)
        if core.s_valid.value == 1 and core.s_ready.value == 1 and first_in < 0:
            first_in = cycle
        for tap, v, rdy, d in handles:
            if v.value == 1 and rdy.value == 1:
                _check(tap, d.value.to_unsigned(), w)
        core_waits += int(core.m_valid.value == 1 and core.m_ready.value == 0)
        if core.m_valid.value == 1 and core.m_ready.value == 1:
            first_out = cycle if first_out < 0 else first_out
            # the core's markers on every block: m_sof on the first, m_eol ending each LR row
            wrong_marker |= (int(core.m_sof.value) != int(outs == 0)
                             or int(core.m_eol.value) != int(outs % w == w - 1))
            last_out, outs = cycle, outs + 1
        while not sink.empty():
            got.append(sink.recv_nowait(compact=False))
        await RisingEdge(dut.clk)
        cycle += 1
    await FallingEdge(dut.clk)
    if video is not None:
        dut.s_axis_tvalid.value = 0
    out_taps = {t.name: {"transfers": t.count, "mismatch": t.mismatch} for t in taps}
    if want is not None:
        out_taps["m_axis"], bad = _check_packets(got, want, w, job)
        wrong_marker |= bad
    return {
        "name": frame["name"], "width": w, "height": h,
        "completed": outs == n and len(got) >= rows,
        "cycles": last_out - first_in + 1 if outs == n else None,
        "latency": first_out - first_in if first_out >= 0 else None,
        "framing_error": int(dut.err_framing.value) == 1 or wrong_marker,
        "wall_s": time.perf_counter() - t0,
        **({} if video is None else {"video": {"max_fill": video.max_fill,
                                               "last_out_cycle": last_out,
                                               # clocks the core's output waited on the
                                               # raster stage or the slice (sink ready)
                                               "core_waits": core_waits,
                                               "timing": frame["video"]["timing"]}}),
        "taps": out_taps,
    }


def _pauses(rng: random.Random, stall: float) -> Iterator[bool]:
    """A seeded pause per clock: a gap on s_axis / m_axis_tready low."""
    while True:
        yield rng.random() < stall


@cocotb.test()
async def golden_set(dut: Any) -> None:
    """Stream every frame of the job's golden set; record every tap's verdict."""
    job = json.loads(Path(os.environ["HWSR_COSIM_JOB"]).read_text())
    rng = random.Random(job["seed"])
    Clock(dut.clk, 10, unit="ns").start()  # cocotb 2: start() schedules the clock task
    dut.rst.value = 1
    dut.cfg_width.value, dut.cfg_height.value = 1, 1
    for name in job.get("tie_low", []):  # core ports passed through, idle here
        getattr(dut, name).value = 0
    video = any(f.get("video") for f in job["frames"])
    if video:  # the video source drives s_axis itself (it never waits)
        source = None
        dut.s_axis_tvalid.value = 0
        dut.s_axis_tdata.value = dut.s_axis_tuser.value = dut.s_axis_tlast.value = 0
    else:
        source = AxiStreamSource(AxiStreamBus.from_prefix(dut, "s_axis"), dut.clk, dut.rst)
    sink = AxiStreamSink(AxiStreamBus.from_prefix(dut, "m_axis"), dut.clk, dut.rst)
    if job["stall"] > 0:
        if source is not None:
            source.set_pause_generator(_pauses(rng, job["stall"]))
        sink.set_pause_generator(_pauses(rng, job["stall"]))
    for _ in range(3):
        await RisingEdge(dut.clk)
    await FallingEdge(dut.clk)
    dut.rst.value = 0
    results = []
    for frame in job["frames"]:
        results.append(await _run_frame(dut, job, frame, source, sink))
        Path(job["results"]).write_text(json.dumps({"frames": results}, indent=1))
    bad = [f["name"] for f in results
           if not f["completed"] or any(t["mismatch"] for t in f["taps"].values())]
    assert not bad, f"frames with a mismatch or incomplete: {', '.join(bad)}"
