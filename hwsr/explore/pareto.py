"""The Pareto front of gain against silicon cost, and its plot as hand-written SVG.

A variant is on the front when no other variant costs no more (MACs per LR pixel, or
line-buffer KiB) and gains no less over bicubic, one of the two strictly. The plot has one
panel per evaluation dataset and cost: every trained variant a dot coloured by its
activation width, the front joined and labelled, the budget drawn as a dashed line and the
bicubic floor (0 dB) as a grey one.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from hwsr.explore.rows import DONE

Row = dict[str, Any]
_COLORS = {6: "#c63", 8: "#2a7", 10: "#36c"}  # activation width -> dot colour
_OTHER = "#888"
_W, _H = 440, 300  # one panel
_L, _R, _T, _B = 60, 16, 30, 44  # panel margins: axis labels left and below


def pareto_front(points: Sequence[tuple[float, float]]) -> list[int]:
    """Indices of the (cost, gain) points no other point dominates, by rising cost.

    >>> pareto_front([(1, 0.1), (2, 0.3), (3, 0.2), (2, 0.1), (1, 0.1)])
    [0, 1]
    """
    order = sorted(range(len(points)), key=lambda i: (points[i][0], -points[i][1], i))
    front, best = [], -math.inf
    for i in order:
        if points[i][1] > best:
            front.append(i)
            best = points[i][1]
    return front


@dataclass(frozen=True)
class CostAxis:
    """One cost a gain is plotted against."""

    label: str  # axis title
    value: Callable[[Row], float]  # the cost of a row
    limit: float  # the budget on it


def cost_axes(settings: dict[str, Any]) -> list[CostAxis]:
    """MACs per LR pixel and line-buffer KiB at the budget's width, with their budgets."""
    b = settings["budget"]
    width = str(b["budget_width_px"])
    return [
        CostAxis("MACs per LR pixel (Net1 + Net2)", lambda r: float(r["macs_per_lr_px"]),
                 float(b["max_macs_per_lr_px"])),
        CostAxis(f"line buffers at {width} px (KiB)",
                 lambda r: float(r["linebuffer_kib"][width]), float(b["max_linebuffer_kib"])),
    ]


def _ticks(lo: float, hi: float, n: int = 5) -> list[float]:
    """About ``n`` round values (1, 2, 2.5 or 5 × 10^k apart) between ``lo`` and ``hi``.

    >>> _ticks(0, 22000)
    [0.0, 5000.0, 10000.0, 15000.0, 20000.0]
    """
    raw = (hi - lo) / n if hi > lo else 1.0
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw)
    first = math.ceil(lo / step)
    return [float(round(k * step, 10)) for k in range(first, math.floor(hi / step) + 1)]


@dataclass(frozen=True)
class _Frame:
    """Where one panel lies and the data ranges it maps: cost from 0 to ``x_hi``, gain from
    ``y_lo`` to ``y_hi`` (dB)."""

    x0: float  # left edge of the panel
    y0: float  # top edge of the panel
    x_hi: float
    y_lo: float
    y_hi: float
    pw: float = _W - _L - _R  # plot area
    ph: float = _H - _T - _B

    def px(self, x: float) -> float:
        return self.x0 + _L + self.pw * x / self.x_hi

    def py(self, y: float) -> float:
        return self.y0 + _T + self.ph * (self.y_hi - y) / (self.y_hi - self.y_lo)


def _axes(f: _Frame, axis: CostAxis, title: str) -> list[str]:
    """Box, title, ticks, the bicubic floor (0 dB) and the budget line of one panel."""
    left, top, bottom = f.x0 + _L, f.y0 + _T, f.y0 + _T + f.ph
    out = [f'<text x="{left}" y="{f.y0 + 18}" font-weight="bold">{title}</text>',
           f'<rect x="{left}" y="{top}" width="{f.pw}" height="{f.ph}" fill="none" '
           'stroke="#444"/>',
           f'<text x="{left + f.pw / 2:.1f}" y="{f.y0 + _H - 6}" text-anchor="middle">'
           f'{axis.label}</text>']
    out += [f'<text x="{f.px(t):.1f}" y="{bottom + 14}" text-anchor="middle">{t:g}</text>'
            for t in _ticks(0.0, f.x_hi)]
    out += [f'<text x="{left - 4}" y="{f.py(t) + 4:.1f}" text-anchor="end">{t:+.2f}</text>'
            for t in _ticks(f.y_lo, f.y_hi)]
    x_lim = f.px(axis.limit)
    return out + [
        f'<line x1="{left}" x2="{left + f.pw}" y1="{f.py(0):.1f}" y2="{f.py(0):.1f}" '
        'stroke="#aaa"/>',
        f'<line x1="{x_lim:.1f}" x2="{x_lim:.1f}" y1="{top}" y2="{bottom}" stroke="#c33" '
        'stroke-dasharray="6,3"/>',
        f'<text x="{x_lim - 4:.1f}" y="{top + 12}" text-anchor="end" fill="#c33">budget</text>']


def _panel(x0: float, y0: float, rows: Sequence[Row], gain: Callable[[Row], float],
           axis: CostAxis, title: str) -> list[str]:
    """SVG elements of one panel whose top-left corner is (x0, y0): every row a dot, the
    front a line with its variants named (alternately above and below, so close
    neighbours stay readable)."""
    xs, ys = [axis.value(r) for r in rows], [gain(r) for r in rows]
    y_lo, y_hi = min([*ys, 0.0]), max([*ys, 0.0])
    pad = max(0.05, 0.1 * (y_hi - y_lo))
    f = _Frame(x0, y0, max([*xs, axis.limit]) * 1.08, y_lo - pad, y_hi + pad)
    out = _axes(f, axis, title)
    front = pareto_front(list(zip(xs, ys, strict=True)))
    line = " ".join(f"{f.px(xs[i]):.1f},{f.py(ys[i]):.1f}" for i in front)
    out.append(f'<polyline points="{line}" fill="none" stroke="#222" stroke-width="1.2"/>')
    for i, r in enumerate(rows):
        color = _COLORS.get(int(r["act_bits"]), _OTHER)
        out.append(f'<circle cx="{f.px(xs[i]):.1f}" cy="{f.py(ys[i]):.1f}" r="4" '
                   f'fill="{color}"><title>{r["id"]}: {xs[i]:g}, {ys[i]:+.3f} dB</title>'
                   '</circle>')
    for n, i in enumerate(front):
        dy = -6 if n % 2 == 0 else 14
        out.append(f'<text x="{f.px(xs[i]) + 6:.1f}" y="{f.py(ys[i]) + dy:.1f}" '
                   f'font-size="9">{rows[i]["id"]}</text>')
    return out


def _int_gain(dataset: str) -> Callable[[Row], float]:
    """The integer program's gain over bicubic (dB) on ``dataset``, of a row."""
    return lambda r: float(r["gain_db"][dataset]["int"])


def pareto_svg(rows: Sequence[Row]) -> str:
    """The plot of every trained row: integer-program gain (dB) against each cost, one row
    of panels per evaluation dataset."""
    done = [r for r in rows if r.get("status") == DONE]
    head = '<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" ' \
           'font-family="sans-serif" font-size="11">'
    if not done:
        return "\n".join([head.format(w=_W, h=60),
                          '<text x="10" y="30">no trained variant yet</text>', "</svg>"]) + "\n"
    sets = list(done[0]["gain_db"])
    axes = cost_axes(done[0]["settings"])
    parts = [head.format(w=_W * len(axes), h=_H * len(sets) + 24)]
    for bits, color in _COLORS.items():
        x = 10 + 130 * list(_COLORS).index(bits)
        parts.append(f'<circle cx="{x}" cy="12" r="4" fill="{color}"/>'
                     f'<text x="{x + 8}" y="16">{bits}-bit activations</text>')
    parts.append(f'<text x="{10 + 130 * len(_COLORS)}" y="16">line: Pareto front</text>')
    for j, name in enumerate(sets):
        for k, axis in enumerate(axes):
            parts += _panel(_W * k, 24 + _H * j, done, _int_gain(name), axis,
                            f"{name}: int gain over bicubic (dB)")
    return "\n".join([*parts, "</svg>"]) + "\n"
