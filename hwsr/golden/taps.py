"""The taps of a frame: what the engine holds at every point of its datapath, two ways.

Tap names, in dataflow order (``S`` = net1, net2; ``i`` = layer)::

    input          the uint8 frame entering the engine                       (level io)
    S.layer<i>.acc accumulator of layer i, as the requantizer shifts it:     (level acc)
                   sum(w*x) + bias, fitted to acc_bits (wrap or saturate),
                   ReLU applied on ReLU layers; acc_bits-wide signed
    S.layer<i>     requantized output codes of layer i                       (level layers)
    S.out          the stage's output pixels after residual add and shuffle  (level io)

:func:`sim_taps` takes every tap from the line-buffer simulator as it streams (its tap sinks,
no second code path); :func:`reference_taps` recomputes them with the whole-frame integer
reference. :func:`first_difference` names the first word where two disagree.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from hwsr.fixed import fit_accumulator
from hwsr.golden.hexfmt import WordFormat
from hwsr.golden.names import LEVELS
from hwsr.program import EngineProgram, StageProgram
from hwsr.reference import layer_sums, run_stage
from hwsr.sim import EngineSim
from hwsr.spec import IMAGE_CHANNELS, stage_names

I64 = npt.NDArray[np.int64]
Taps = dict[str, I64]  # tap name -> codes (C, H, W)


class TapMismatch(ValueError):
    """Two executors (or a file and an executor) disagree on a tap."""


@dataclass(frozen=True)
class TapFormat:
    """Words of one tap: width, signedness, channels, and the frac they carry."""

    name: str
    bits: int
    signed: bool
    channels: int
    frac: str  # frac bits, or a per-channel note for accumulators
    level: str  # the smallest --taps level that writes it

    @property
    def words(self) -> WordFormat:
        return WordFormat(self.bits, self.signed, self.channels)


def stage_list(stage: str) -> list[str]:
    return list(stage_names(stage))


def _stage_formats(name: str, sp: StageProgram) -> list[TapFormat]:
    dp = sp.spec.datapath
    out: list[TapFormat] = []
    for i, lp in enumerate(sp.layers):
        c = lp.weight.shape[0]
        out.append(TapFormat(f"{name}.layer{i}.acc", dp.acc_bits, True, c,
                             "in_frac + weight_frac[c] (per channel)", "acc"))
        t = lp.out_type
        out.append(TapFormat(f"{name}.layer{i}", t.width, t.signed, c, str(t.frac_bits),
                             "layers"))
    out.append(TapFormat(f"{name}.out", 8, False, IMAGE_CHANNELS, "8", "io"))
    return out


def tap_formats(program: EngineProgram, stage: str, level: str) -> list[TapFormat]:
    """Every tap written at ``level`` ('io', 'layers', 'acc'), in dataflow order."""
    if level not in LEVELS:
        raise ValueError(f"--taps must be one of {', '.join(LEVELS)}, got {level!r}")
    keep = LEVELS[: LEVELS.index(level) + 1]
    fmts = [TapFormat("input", 8, False, IMAGE_CHANNELS, "8", "io")]
    for name in stage_list(stage):
        fmts += _stage_formats(name, program.stage(name))
    return [f for f in fmts if f.level in keep]


@dataclass
class SimRun:
    """Taps of one frame from the simulator, and its per-layer counters."""

    taps: Taps
    stats: dict[str, dict[str, int]]


def sim_taps(program: EngineProgram, stage: str, frame_u8_hwc: npt.NDArray[np.uint8],
             level: str, block_rows: int | None = None) -> SimRun:
    """Every tap of ``level`` for one frame, streamed out of the line-buffer simulator."""
    wanted = {f.name for f in tap_formats(program, stage, level)}
    rows: dict[str, list[I64]] = defaultdict(list)

    def sink(name: str, r: np.ndarray) -> None:
        if name in wanted:
            rows[name].append(np.array(r, dtype=np.int64))

    sim = EngineSim(program, stage, width=frame_u8_hwc.shape[1], block_rows=block_rows)
    sim.set_taps(sink, acc=level == "acc")
    sim.run_frame(frame_u8_hwc)
    taps = {"input": frame_u8_hwc.transpose(2, 0, 1).astype(np.int64)}
    taps.update({n: np.concatenate(r).transpose(1, 0, 2) for n, r in rows.items()})
    return SimRun(taps, _sim_stats(sim))


def _sim_stats(sim: EngineSim) -> dict[str, dict[str, int]]:
    """Accumulator peaks, overflows and saturations the simulator counted, per tap."""
    stats: dict[str, dict[str, int]] = {}
    for name, s in zip(sim.stage_names, sim.stages, strict=True):
        for u in s.units:
            peak, over, sat = (int(v) for v in u.stats)
            stats[f"{name}.layer{u.index}"] = {"acc_peak": peak, "acc_overflows": over,
                                               "saturations": sat}
        stats[f"{name}.out"] = {"saturations": int(s.out_stats[0])}
    return stats


def reference_taps(program: EngineProgram, stage: str, frame_u8_hwc: npt.NDArray[np.uint8],
                   level: str) -> Taps:
    """Every tap of ``level`` for one frame, from the whole-frame integer reference."""
    wanted = {f.name for f in tap_formats(program, stage, level)}
    taps = {"input": frame_u8_hwc.transpose(2, 0, 1).astype(np.int64)}
    x = frame_u8_hwc
    for name in stage_list(stage):
        sp = program.stage(name)
        trace: list[I64] = []
        out, _ = run_stage(sp, x, trace)
        layer_in = [x.transpose(2, 0, 1).astype(np.int64), *trace[:-1]]
        for i, (codes, lp) in enumerate(zip(trace, sp.layers, strict=True)):
            taps[f"{name}.layer{i}"] = codes
            if f"{name}.layer{i}.acc" in wanted:
                dp = sp.spec.datapath
                acc = fit_accumulator(layer_sums(layer_in[i], lp), dp.acc_bits, dp.acc_overflow)
                taps[f"{name}.layer{i}.acc"] = np.maximum(acc, 0) if lp.relu else acc
        taps[f"{name}.out"] = out.transpose(2, 0, 1).astype(np.int64)
        x = out
    return {k: v for k, v in taps.items() if k in wanted}


def first_difference(fmt: TapFormat, want: I64, got: I64, where: str) -> str | None:
    """One line naming the first (raster order) word where ``got`` differs from ``want``."""
    if want.shape != got.shape:
        return f"{where}: tap {fmt.name}: shape {got.shape} (C, H, W), expected {want.shape}"
    diff = np.argwhere((want != got).transpose(1, 2, 0))  # raster order: y, x, then c
    if not diff.size:
        return None
    y, x, c = (int(v) for v in diff[0])
    return position_line(where, fmt, y, x, c, int(want[c, y, x]), int(got[c, y, x]))


def position_line(where: str, fmt: TapFormat, y: int, x: int, c: int, want: int,
                  got: int) -> str:
    """The one-line report of a wrong word: file, tap, row, column, channel, values."""
    digits = (fmt.bits + 3) // 4
    mask = (1 << fmt.bits) - 1
    return (f"{where}: tap {fmt.name}, row {y}, column {x}, channel {c}: expected "
            f"{want} (0x{want & mask:0{digits}x}), got {got} (0x{got & mask:0{digits}x})")
