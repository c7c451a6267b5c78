"""The folded engine's schedule, cycle by cycle: its latency predicted, not measured.

No closed formula gives the folded engine's latency: a shared MAC unit alternates between
Net1 and Net2 only while both have a window ready, so Net1 runs alone (and faster) until
Net2's first rows exist, and every unit's credit (its output FIFO's free words) and every
window's hand-shake shape the first output's cycle. :func:`folded_latency` therefore runs a
control-only model of the emitted engine, one clock at a time, with the RTL's own rules and
no data: ``hwsr_window`` (slot counters, the window register's hand-shake, the bottom-halo
flush), ``hwsr_mac`` (the arbiter, credit, busy/step counters, the pipeline from issue to
the FIFO write), ``hwsr_fifo`` (count, registered valid), ``hwsr_residual`` (delay-line
count, output register, ``px_full``) and the stages' wiring. The source offers a pixel every
cycle and the sink always takes one (``hwsr cosim --stall 0``); the latency is the cycles
from the first input transfer to the first output transfer, as the testbenches count it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import cast

from hwsr.folding import FoldPlan, UnitFold
from hwsr.rtl.design import EngineDesign, StageDesign
from hwsr.rtl.fold import TREE_K, FoldedUnit
from hwsr.spec import EngineSpec

# hwsr_mac: cycles from a pixel's last issue to its word being pushed (the push register
# visible): issue, products, accumulator, fit (+ rounding addend), shift, output word, + tree
# registers
PUSH_AFTER_ISSUE = 6


@dataclass
class _Window:
    """``hwsr_window``'s control: slot counters and the window register's valid."""

    pad: int  # P: the window's half span
    width: int
    height: int
    in_x: int = 0
    in_y: int = 0
    in_done: bool = False
    lag: int = 0
    out_x: int = 0
    out_y: int = 0
    valid: bool = False  # s1_valid: a window held for the MAC unit

    def step(self, w_ready: bool, s_valid: bool) -> None:
        """One clock edge: the window moves on when free and fed (or flushing)."""
        free = not self.valid or w_ready
        adv = free and (self.in_done or s_valid)
        if self.valid and w_ready:
            self.valid = False
        if not adv:
            return
        w, h = self.width, self.height
        last = (self.lag == self.pad * w + self.pad and self.out_x == w - 1
                and self.out_y == h - 1)
        if not self.in_done:
            self.in_done = self.in_x == w - 1 and self.in_y == h - 1
            self.in_y += self.in_x == w - 1
            self.in_x = 0 if self.in_x == w - 1 else self.in_x + 1
        if self.lag == self.pad * w + self.pad:
            self.valid = True
            self.out_y += self.out_x == w - 1
            self.out_x = 0 if self.out_x == w - 1 else self.out_x + 1
        else:
            self.lag += 1
        if last:  # the frame is out: ready for the next one
            self.in_x = self.in_y = self.lag = self.out_x = self.out_y = 0
            self.in_done = False

    def s_ready(self, w_ready: bool) -> bool:
        return (not self.valid or w_ready) and not self.in_done


@dataclass
class _Unit:
    """``hwsr_mac``'s control: the arbiter, credit and step counters, the pipeline."""

    groups: tuple[int, ...]  # NG per stage served
    chunks: int  # NCH
    fifo_depth: int  # FD
    push_delay: int  # cycles from the pixel's last issue to its push
    busy: bool = False
    sel: int = 0
    turn: int = 0
    g: int = 0
    j: int = 0
    fly: list[int] = field(default_factory=lambda: [0, 0])
    count: list[int] = field(default_factory=lambda: [0, 0])  # output FIFO words
    pushes: dict[int, list[int]] = field(default_factory=dict)  # cycle -> stages pushed
    pops: list[bool] = field(default_factory=lambda: [False, False])  # this cycle's FIFO pops
    windows: list[_Window] = field(default_factory=list)  # per stage served, its window

    def decide(self, valid: list[bool]) -> tuple[bool, int, bool]:
        """This cycle's (issue, stage, last step of the pixel) from the registers."""
        ok = [valid[s] and self.count[s] + self.fly[s] < self.fifo_depth
              for s in range(len(self.groups))]
        pick = 1 if len(ok) > 1 and ok[1] and (not ok[0] or self.turn) else 0
        issue = self.busy or any(ok)
        cur = self.sel if self.busy else pick
        g, j = (self.g, self.j) if self.busy else (0, 0)
        return issue, cur, j == self.chunks - 1 and g == self.groups[cur] - 1

    def step(self, cycle: int, issue: bool, cur: int, last: bool, pops: list[bool]) -> None:
        done = self.pushes.pop(cycle, [])
        start = not self.busy and issue
        if issue:
            g, j = (self.g, self.j) if self.busy else (0, 0)
            self.busy, self.sel = not last, cur
            self.g = g + 1 if j == self.chunks - 1 else g
            self.j = 0 if j == self.chunks - 1 else j + 1
            if last:
                self.turn = 1 - cur
                self.pushes.setdefault(cycle + self.push_delay, []).append(cur)
        for s in range(len(self.groups)):
            pushed = s in done
            self.fly[s] += (start and cur == s) - pushed
            self.count[s] += pushed - pops[s]


@dataclass
class _Residual:
    """``hwsr_residual``'s control: the delay line's count and the output register."""

    depth: int
    count: int = 0
    valid: bool = False


def _fold_figures(u: UnitFold) -> FoldedUnit:
    """The emitted unit's pipeline and FIFO figures (they read only the plan's unit)."""
    return FoldedUnit(u, (), cast(StageDesign, None))


def _units(plan: FoldPlan) -> tuple[list[_Unit], dict[tuple[str, int], tuple[int, int]]]:
    """The units' models and, per (stage, layer index), (unit, its stage slot in the unit)."""
    units, where = [], {}
    for k, u in enumerate(plan.units):
        fu = _fold_figures(u)
        units.append(_Unit(tuple(u.stage_cycles(c) // u.chunks for c in u.c_out), u.chunks,
                           fu.fifo_depth, PUSH_AFTER_ISSUE + fu.tree_levels // TREE_K))
        for slot, stage in enumerate(u.stages):
            where[(stage, u.index)] = (k, slot)
    return units, where


def spec_halos(spec: EngineSpec, plan: FoldPlan) -> tuple[tuple[str, tuple[int, ...]], ...]:
    """Per stage of ``plan`` (in order), its layers' halos (span // 2) from Net2's ``spec``."""
    names = list(dict.fromkeys(n for u in plan.units for n in u.stages))
    nets = {"net1": spec.net1(), "net2": spec} if len(names) > 1 else {names[0]: spec}
    return tuple((n, tuple(ly.halo_rows for ly in nets[n].layers)) for n in names)


def design_halos(design: EngineDesign) -> tuple[tuple[str, tuple[int, ...]], ...]:
    """Per stage of an emitted ``design``, its layers' halos."""
    return tuple((st.name, tuple(ly.halo for ly in st.layers)) for st in design.stages)


def folded_latency(plan: FoldPlan, halos: tuple[tuple[str, tuple[int, ...]], ...],
                   width: int, height: int, max_width: int | None = None) -> int:
    """Cycles from the first input transfer to the first output transfer of the engine
    folded by ``plan`` (``halos``: :func:`spec_halos` or :func:`design_halos`) on a
    ``width`` x ``height`` frame, no stalls; ``max_width`` (MAXW, default ``width``) sizes
    the residual delay lines."""
    units, where = _units(plan)
    maxw = max_width or width
    stages = []
    for name, hs in halos:
        taps = [(name, i) for i in range(len(hs))]
        # the residual's depth as the emitted top level sizes it (top_fold.delay_depth):
        # per layer its window's lag and register and its unit's output FIFO
        depth = sum(h * maxw + h + 1 + units[where[t][0]].fifo_depth
                    for h, t in zip(hs, taps, strict=True))
        wins = [_Window(h, width, height) for h in hs]
        for t, win in zip(taps, wins, strict=True):
            units[where[t][0]].windows.append(win)  # stages in order: slot order
        stages.append((taps, wins, _Residual(max(depth, 1))))
    sent, first_in, limit = 0, -1, (width * height + width * 64) * 4 * plan.cycles_per_pixel
    for cycle in range(limit):
        decisions = [u.decide([w.valid for w in u.windows] + [False]) for u in units]
        out_ready, src_ready = True, [False] * len(stages)
        for s in reversed(range(len(stages))):  # Net2's input ready feeds Net1's output
            taps, wins, res = stages[s]
            w_ready = [_w_ready(decisions, where[t]) for t in taps]
            last_valid = _fifo_valid(units, where[taps[-1]])
            fire = last_valid and res.count != 0 and (not res.valid or out_ready)
            full = res.count == res.depth and not fire
            src_ready[s] = wins[0].s_ready(w_ready[0]) and not full
            src_valid = (sent < width * height) if s == 0 else stages[s - 1][2].valid
            if s == len(stages) - 1 and res.valid:
                return cycle - first_in
            _stage_step(units, [where[t] for t in taps], wins, w_ready, src_valid and not full,
                        res.count != 0 and (not res.valid or out_ready))
            push = src_valid and src_ready[s]
            res.count += push - fire
            res.valid = fire or (res.valid and not out_ready)
            out_ready = src_ready[s]
        if sent < width * height and src_ready[0]:
            first_in = cycle if first_in < 0 else first_in
            sent += 1
        for u, (issue, cur, last) in zip(units, decisions, strict=True):
            u.step(cycle, issue, cur, last, u.pops)
    raise RuntimeError(f"no output within {limit} cycles: the schedule model is stuck")


def _w_ready(decisions: list[tuple[bool, int, bool]], at: tuple[int, int]) -> bool:
    issue, cur, last = decisions[at[0]]
    return issue and last and cur == at[1]


def _fifo_valid(units: list[_Unit], at: tuple[int, int]) -> bool:
    return units[at[0]].count[at[1]] != 0


def _stage_step(units: list[_Unit], at: list[tuple[int, int]], wins: list[_Window],
                w_ready: list[bool], in_valid: bool, res_ready: bool) -> None:
    """The windows of one stage move; each unit FIFO's pop is its consumer's ready."""
    for i, win in enumerate(wins):
        k, slot = at[i]
        s_valid = in_valid if i == 0 else _fifo_valid(units, at[i - 1])
        nxt = wins[i + 1].s_ready(w_ready[i + 1]) if i + 1 < len(wins) else res_ready
        units[k].pops[slot] = _fifo_valid(units, at[i]) and nxt
        win.step(w_ready[i], s_valid)


def latency_line(net: EngineSpec, plan: FoldPlan) -> str:
    """``hwsr report --macs``: the folded engine's latency at the budget's frame size, from
    the schedule model (``net``: the spec of the plan's last stage; Net2's for a dual plan)."""
    b = plan.budget
    if plan.full:
        return "  latency: the one-pixel-per-clock engine's (RTL latency above)"
    cycles = folded_latency(plan, spec_halos(net, plan), b.width, b.height)
    return (f"  latency {cycles:,} cycles from the first input pixel to the first output block "
            f"at {b.width} wide, no stalls (the emitted engine's cycle-level schedule model; "
            "hwsr cosim --stall 0 observes it)")
