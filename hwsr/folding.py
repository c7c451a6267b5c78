"""The folding plan: how many multipliers each layer's MAC unit gets, and what that buys.

A folded MAC unit computes ``PE`` output channels of one pixel per cycle, each from ``SIMD``
of its ``fan_in = k·k·c_in/groups`` products (FINN's PE x SIMD): ``PE·SIMD`` multipliers
and ``ceil(c_out/PE) · fan_in/SIMD`` cycles per pixel. With hardware reuse (the default)
one unit per layer index serves both stages: Net1's and Net2's layer i run on the same
multipliers, so per LR pixel the unit spends the sum of both stages' cycles. The units of
different layers work at once, so the engine's rate is that of its slowest unit.

:func:`fold_plan` picks, for every unit, the fewest multipliers that meet a cycle target,
and the smallest target whose units fit in the budget's ``macs`` (FINN's ``set_folding``
idea, over the Pareto front of each unit). The plan is made once from the integer
program's shapes and read by ``hwsr rtl`` (design.json, the emitted parameters),
``hwsr report --macs`` and the tests: a cost the report prints is a cost the Verilog has.

Real time: LR video arrives at its video timing (720p60: 1650 x 750 total at 74.25 MHz), so
the engine must finish a line's pixels within one line period, ``clock / (fps · v_total)``
cycles: at 600 MHz, 13,333 cycles for 1,280 pixels = 10.42 cycles per pixel. A format
without a known timing gets the frame period over its active pixels (no blanking).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction

from hwsr.spec import Budget, EngineSpec
from hwsr.video_timing import timing_for

FULL = "full"  # --macs full: one multiplier per MAC (today's one-pixel-per-clock engine)


def cycles_per_pixel_available(budget: Budget) -> Fraction:
    """Engine cycles per LR pixel the input rate leaves: line period over active width
    (frame period over active pixels when the format has no standard timing).

    >>> float(cycles_per_pixel_available(Budget()))  # 720p60 at 600 MHz: 13,333.3 / 1,280
    10.416666666666666
    """
    clock = Fraction(budget.clock_mhz) * 10**6
    t = timing_for(budget.width, budget.height, budget.fps)
    if t is None:
        return clock / (Fraction(budget.fps) * budget.width * budget.height)
    return clock / (Fraction(t.fps) * t.v_total * t.width)


@dataclass(frozen=True)
class UnitFold:
    """One MAC unit: a layer index's PE x SIMD array and the stages it serves."""

    index: int  # layer index
    stages: tuple[str, ...]  # ("net1", "net2") shared, or one stage
    fan_in: int  # products per output channel: k·k·c_in/groups
    c_out: tuple[int, ...]  # output channels, per stage served
    pe: int  # output channels per cycle
    simd: int  # products per output channel per cycle (divides fan_in)

    @property
    def name(self) -> str:
        return f"l{self.index}" if len(self.stages) > 1 else f"{self.stages[0]}_l{self.index}"

    @property
    def multipliers(self) -> int:
        return self.pe * self.simd

    @property
    def chunks(self) -> int:
        """Cycles one output channel group takes: fan_in / SIMD."""
        return self.fan_in // self.simd

    def stage_cycles(self, c_out: int) -> int:
        """Cycles per pixel of one stage: ceil(c_out / PE) groups x fan_in / SIMD chunks."""
        return math.ceil(c_out / self.pe) * self.chunks

    @property
    def cycles(self) -> tuple[int, ...]:
        """Cycles per LR pixel, per stage served."""
        return tuple(self.stage_cycles(c) for c in self.c_out)

    @property
    def cycles_per_pixel(self) -> int:
        """Cycles the unit spends per LR pixel (both stages' when shared)."""
        return sum(self.cycles)

    @property
    def utilisation(self) -> float:
        """Useful products over multiplier-cycles."""
        return sum(self.c_out) * self.fan_in / (self.multipliers * self.cycles_per_pixel)

    @property
    def idle_multiplier_cycles(self) -> tuple[int, ...]:
        """Multiplier-cycles per LR pixel each stage leaves idle (lanes past its c_out)."""
        return tuple(self.multipliers * cy - c * self.fan_in
                     for c, cy in zip(self.c_out, self.cycles, strict=True))


@dataclass(frozen=True)
class FoldPlan:
    """The engine's folding: its units, what they cost and whether they keep up."""

    budget: Budget
    shared: bool  # one unit per layer index for both stages
    units: tuple[UnitFold, ...]
    full: bool = False  # --macs full: one multiplier per MAC, 1 cycle per pixel

    @property
    def multipliers(self) -> int:
        return sum(u.multipliers for u in self.units)

    @property
    def cycles_per_pixel(self) -> int:
        """Cycles per LR pixel of the slowest unit: the engine's rate."""
        return max(u.cycles_per_pixel for u in self.units)

    @property
    def bottleneck(self) -> UnitFold:
        return max(self.units, key=lambda u: u.cycles_per_pixel)

    @property
    def available(self) -> Fraction:
        return cycles_per_pixel_available(self.budget)

    @property
    def realtime(self) -> bool:
        return self.cycles_per_pixel <= self.available

    @property
    def clock_needed_mhz(self) -> float:
        """The clock at which this plan keeps up: cycles per pixel over the available."""
        return float(Fraction(self.budget.clock_mhz) * self.cycles_per_pixel / self.available)

    def cycles_per_frame(self) -> int:
        """Engine cycles the slowest unit spends on one frame's LR pixels (no halo, no fill)."""
        return self.cycles_per_pixel * self.budget.width * self.budget.height


def _units(specs: tuple[EngineSpec, ...], shared: bool) -> list[tuple[int, tuple[str, ...],
                                                                        int, tuple[int, ...]]]:
    """(index, stages, fan_in, c_out per stage) of every unit."""
    names = ("net1", "net2")[-len(specs):]  # stage order (a ×1 Net2 is still net2)
    out = []
    for i, ly in enumerate(specs[-1].layers):
        fan_in = ly.kernel * ly.kernel * ly.group_c_in
        if shared:
            out.append((i, names, fan_in, tuple(s.layers[i].c_out for s in specs)))
        else:
            out += [(i, (n,), fan_in, (s.layers[i].c_out,)) for n, s in zip(names, specs,
                                                                             strict=True)]
    return out


def _divisors(n: int) -> list[int]:
    return [d for d in range(1, n + 1) if n % d == 0]


def _front(fan_in: int, c_out: tuple[int, ...]) -> list[tuple[int, int, int, int]]:
    """Every unit shape as (cycles, multipliers, pe, simd), no shape dominated by another of
    equal cycles (fewest multipliers first, then the widest SIMD: no accumulation)."""
    best: dict[int, tuple[int, int, int, int]] = {}
    for simd in _divisors(fan_in):
        for pe in range(1, max(c_out) + 1):
            cyc = sum(math.ceil(c / pe) for c in c_out) * (fan_in // simd)
            cand = (cyc, pe * simd, -simd, pe)
            if cyc not in best or cand < best[cyc]:
                best[cyc] = cand
    return sorted((c, m, pe, -s) for c, m, s, pe in best.values())


def _cheapest(front: list[tuple[int, int, int, int]], target: int) -> tuple[int, int, int, int]:
    """The fewest multipliers among the shapes within ``target`` cycles."""
    ok = [f for f in front if f[0] <= target]
    return min(ok, key=lambda f: (f[1], f[0], -f[3]))


def stage_specs(net2: EngineSpec, dual: bool = True) -> tuple[EngineSpec, ...]:
    return net2.stage_specs("dual" if dual else "net2")


def fold_plan(net2: EngineSpec, budget: Budget | None = None, *, shared: bool = True,
              dual: bool = True) -> FoldPlan:
    """The fastest folding of the engine within ``budget.macs`` multipliers.

    A budget below one multiplier per unit cannot be met: the plan then has every unit at
    one multiplier (and says so: ``multipliers > budget.macs``).

    >>> from hwsr.spec import LayerSpec
    >>> spec = EngineSpec("t", (LayerSpec(3, 3, 4), LayerSpec(1, 4, 27)), upscale=3)
    >>> p = fold_plan(spec, Budget(macs=200))
    >>> [(u.pe, u.simd, u.cycles) for u in p.units], p.multipliers, p.cycles_per_pixel
    ([(4, 27, (1, 1)), (14, 4, (1, 2))], 164, 3)
    """
    budget = budget or net2.budget
    specs = stage_specs(net2, dual)
    shared = shared and len(specs) > 1
    units = _units(specs, shared)
    fronts = [_front(fan_in, c_out) for _, _, fan_in, c_out in units]
    targets = sorted({f[0] for fr in fronts for f in fr})
    pick = targets[-1]
    for t in targets:
        if t >= max(fr[0][0] for fr in fronts) and \
                sum(_cheapest(fr, t)[1] for fr in fronts) <= budget.macs:
            pick = t
            break
    folds = []
    for (i, stages, fan_in, c_out), fr in zip(units, fronts, strict=True):
        _, _, pe, simd = _cheapest(fr, pick)
        folds.append(UnitFold(i, stages, fan_in, c_out, pe, simd))
    return FoldPlan(budget, shared, tuple(folds))


def plan_of_shapes(net2: EngineSpec, shapes: list[tuple[int, int]], budget: Budget | None = None,
                   *, shared: bool = True, dual: bool = True) -> FoldPlan:
    """A plan with the given (PE, SIMD) per unit, in unit order (tests, hand folding);
    SIMD must divide the unit's fan-in.

    >>> from hwsr.spec import LayerSpec
    >>> spec = EngineSpec("t", (LayerSpec(3, 3, 4), LayerSpec(1, 4, 27)), upscale=3)
    >>> plan_of_shapes(spec, [(1, 9), (3, 2)]).cycles_per_pixel  # (4+4)*3 and (1+9)*2
    24
    """
    specs = stage_specs(net2, dual)
    units = _units(specs, shared and len(specs) > 1)
    if len(shapes) != len(units):
        raise ValueError(f"{len(units)} units, {len(shapes)} shapes given")
    folds = []
    for (i, stages, fan_in, c_out), (pe, simd) in zip(units, shapes, strict=True):
        if pe < 1 or simd < 1 or fan_in % simd:
            raise ValueError(f"unit {i}: PE {pe} x SIMD {simd} (SIMD must divide {fan_in})")
        folds.append(UnitFold(i, stages, fan_in, c_out, pe, simd))
    return FoldPlan(budget or net2.budget, shared and len(specs) > 1, tuple(folds))


def unit_shapes(net2: EngineSpec, *, shared: bool = True,
                dual: bool = True) -> list[tuple[int, tuple[int, ...]]]:
    """(fan_in, c_out per stage) of every unit, in unit order."""
    specs = stage_specs(net2, dual)
    return [(fan_in, c_out) for _, _, fan_in, c_out in _units(specs, shared and len(specs) > 1)]


def full_plan(net2: EngineSpec, budget: Budget | None = None, dual: bool = True) -> FoldPlan:
    """``--macs full``: two separate engines, one multiplier per MAC, 1 cycle per pixel."""
    units = [UnitFold(i, stages, fan_in, c_out, max(c_out), fan_in)
             for i, stages, fan_in, c_out in _units(stage_specs(net2, dual), shared=False)]
    return FoldPlan(budget or net2.budget, False, tuple(units), full=True)


def macs_needed(net2: EngineSpec, budget: Budget, *, shared: bool = True,
                dual: bool = True) -> int | None:
    """The fewest multipliers whose plan keeps up at ``budget``'s clock (None: none does)."""
    specs = stage_specs(net2, dual)
    units = _units(specs, shared and len(specs) > 1)
    fronts = [_front(fan_in, c_out) for _, _, fan_in, c_out in units]
    limit = math.floor(cycles_per_pixel_available(budget))
    if any(fr[0][0] > limit for fr in fronts):
        return None
    return sum(_cheapest(fr, limit)[1] for fr in fronts)


# ---- the plan as text and JSON (hwsr rtl, hwsr report --macs, design.json) -----------------


def rom_bits(net2: EngineSpec, dual: bool = True) -> int:
    """Weight, bias and shift memory bits of every layer of every stage (both banks)."""
    bits = 0
    for s in stage_specs(net2, dual):
        dp = s.datapath
        for ly in s.layers:
            fan_in = ly.kernel * ly.kernel * ly.group_c_in
            bits += ly.c_out * (fan_in * dp.weight_bits + dp.bias_bits + 8)
    return bits


def plan_json(plan: FoldPlan) -> dict[str, object]:
    """design.json's ``plan``: the budget, every unit's shape and cost, the verdict."""
    return {
        "budget": {"macs": plan.budget.macs, "clock_mhz": plan.budget.clock_mhz,
                   "width": plan.budget.width, "height": plan.budget.height,
                   "fps": plan.budget.fps},
        "shared": plan.shared, "full": plan.full, "multipliers": plan.multipliers,
        "cycles_per_pixel": plan.cycles_per_pixel,
        "cycles_per_pixel_available": float(plan.available), "realtime": plan.realtime,
        "units": [{"name": u.name, "index": u.index, "stages": list(u.stages),
                   "fan_in": u.fan_in, "c_out": list(u.c_out), "pe": u.pe, "simd": u.simd,
                   "multipliers": u.multipliers, "cycles": list(u.cycles),
                   "cycles_per_pixel": u.cycles_per_pixel,
                   "utilisation": round(u.utilisation, 4),
                   "idle_multiplier_cycles": list(u.idle_multiplier_cycles)}
                  for u in plan.units],
    }


def _unit_row(u: UnitFold) -> str:
    stages = "+".join(u.stages)
    c_out = "+".join(str(c) for c in u.c_out)
    cyc = "+".join(str(c) for c in u.cycles) + (f"={u.cycles_per_pixel}" if len(u.cycles) > 1
                                                 else "")
    idle = "+".join(f"{i:,}" for i in u.idle_multiplier_cycles)
    return (f"  {u.name:>8} {stages:>10} {u.fan_in:>6} {c_out:>7} {u.pe:>4} {u.simd:>5} "
            f"{u.multipliers:>6,} {cyc:>10} {u.utilisation:>6.0%} {idle:>12}")


def verdict(plan: FoldPlan, net2: EngineSpec, dual: bool = True) -> str:
    """One line: real-time or not, and what a plan that is not would need."""
    avail = float(plan.available)
    if plan.realtime:
        return (f"real-time: {plan.cycles_per_pixel} cycles per LR pixel <= {avail:.2f} "
                f"available at {plan.budget.clock_mhz:g} MHz")
    need = macs_needed(net2, plan.budget, shared=plan.shared, dual=dual)
    macs = f"{need:,} MACs at {plan.budget.clock_mhz:g} MHz" if need else "no MAC count"
    return (f"NOT real-time: {plan.cycles_per_pixel} cycles per LR pixel > {avail:.2f} "
            f"available; needs {macs}, or {plan.clock_needed_mhz:.1f} MHz with these "
            f"{plan.multipliers:,} multipliers")


def plan_lines(plan: FoldPlan, net2: EngineSpec, dual: bool = True) -> list[str]:
    """The plan as ``hwsr rtl`` and ``hwsr report --macs`` print it."""
    b = plan.budget
    t = timing_for(b.width, b.height, b.fps)
    rate = (f"{t.name} timing, {t.h_total}x{t.v_total} total" if t else "no blanking")
    single = len({n for u in plan.units for n in u.stages}) == 1
    kind = ("one multiplier per MAC" if plan.full else "one stage" if single else
            "one unit per layer shared by both stages" if plan.shared else "separate engines")
    lines = [f"folding plan ({kind}): budget {b.macs:,} MACs at {b.clock_mhz:g} MHz, "
             f"{b.width}x{b.height} @ {b.fps:g} fps ({rate}: "
             f"{float(plan.available):.2f} cycles per LR pixel)",
             f"  {'unit':>8} {'stages':>10} {'fan-in':>6} {'c_out':>7} {'PE':>4} {'SIMD':>5} "
             f"{'mults':>6} {'cycles/px':>10} {'util':>6} {'idle mult-cyc':>12}"]
    lines += [_unit_row(u) for u in plan.units]
    lines.append(f"  total {plan.multipliers:,} multipliers"
                 f"{'' if plan.multipliers <= b.macs else ' (OVER BUDGET)'}, "
                 f"{plan.cycles_per_pixel} cycles per LR pixel (bottleneck "
                 f"{plan.bottleneck.name}), {plan.cycles_per_frame():,} cycles per frame")
    lines.append("  " + verdict(plan, net2, dual))
    return lines


def compare_lines(net2: EngineSpec, budget: Budget, linebuffer_bits: int) -> list[str]:
    """Shared array against two separate engines at one budget, side by side."""
    mem = linebuffer_bits + rom_bits(net2)
    lines = [f"  {'engine':>22} {'multipliers':>12} {'cycles/px':>10} {'memory bits':>12}"]
    for label, p in (("shared (one array)", fold_plan(net2, budget, shared=True)),
                     ("separate (two arrays)", fold_plan(net2, budget, shared=False)),
                     ("full (1 px/clock)", full_plan(net2, budget))):
        lines.append(f"  {label:>22} {p.multipliers:>12,} {p.cycles_per_pixel:>10} {mem:>12,}")
    lines.append("  memory: line buffers and delay lines as hwsr report counts them + weight, "
                 "bias and shift memories (two banks or two copies: the same bits)")
    return lines
