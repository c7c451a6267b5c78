"""The variants of a grid: their engine specs and what each costs in silicon.

A variant is one point of the axes: a hidden width, a depth and a kernel pattern cycled
over the layers (``(3, 1)`` at depth 5 is 3, 1, 3, 1, 3: hwsr-s's shape), and an
activation width. A pattern's layers may be depthwise (``"dw3"``: one 3×3 filter per
channel, so the layer keeps its width) or dilated (``"3d2"``: taps 2 pixels apart, a 5×5
reach for 3×3 MACs and 4 rows of line buffer instead of 2). Its spec is Net2's, on the
base model's datapath; Net1 is derived from it as for every engine. Costs come from :func:`hwsr.report.engine_report` (the one home of the
formulas) for the dual engine, Net1 and Net2 together.
"""

from __future__ import annotations

import dataclasses
import itertools
from dataclasses import dataclass
from typing import Any

from hwsr.explore.config import AxesConfig, BudgetConfig, layer_shape
from hwsr.report import check_budget, engine_report
from hwsr.spec import IMAGE_CHANNELS, Activation, EngineSpec, LayerSpec


@dataclass(frozen=True)
class Variant:
    """One engine shape of the grid."""

    channels: int  # hidden width: c_out of every layer but the last
    kernels: tuple[int | str, ...]  # each layer's token in order; its length is the depth
    act_bits: int  # width of every activation code between layers

    @property
    def id(self) -> str:
        """Name of the variant, its run folder and its row: width, kernels, activation bits.
        Layers are run together when all are plain kernels, else joined by ``_``.

        >>> Variant(20, (3, 1, 3, 1, 3), 8).id, Variant(16, ("3d2", 1, "dw3", 1, 3), 8).id
        ('c20-k31313-a8', 'c16-k3d2_1_dw3_1_3-a8')
        """
        plain = all(isinstance(k, int) for k in self.kernels)
        layers = ("" if plain else "_").join(map(str, self.kernels))
        return f"c{self.channels}-k{layers}-a{self.act_bits}"

    def spec(self, base: EngineSpec) -> EngineSpec:
        """Net2's spec: ReLU hidden layers, a linear last layer of 3·r² channels, the base
        model's residual, scale and datapath with this variant's activation width."""
        last = IMAGE_CHANNELS * base.upscale**2
        layers, c_in = [], IMAGE_CHANNELS
        for i, token in enumerate(self.kernels):
            final = i == len(self.kernels) - 1
            c_out = last if final else self.channels
            act = Activation.NONE if final else Activation.RELU
            shape = layer_shape(token)
            layers.append(LayerSpec(kernel=shape.kernel, c_in=c_in, c_out=c_out, activation=act,
                                    groups=c_in if shape.depthwise else 1,
                                    dilation=shape.dilation))
            c_in = c_out
        datapath = dataclasses.replace(base.datapath, act_bits=self.act_bits)
        return dataclasses.replace(base, name=f"explore-{self.id}", layers=tuple(layers),
                                   datapath=datapath)


def cycled(pattern: tuple[int | str, ...], depth: int) -> tuple[int | str, ...]:
    """The kernel of each of ``depth`` layers: ``pattern`` repeated and cut.

    >>> cycled((3, 1), 5), cycled((3, 1, 1), 2)
    ((3, 1, 3, 1, 3), (3, 1))
    """
    return tuple(itertools.islice(itertools.cycle(pattern), depth))


def variants(axes: AxesConfig) -> list[Variant]:
    """Every combination of the axes, in axis order, each shape once (two patterns that
    give the same layers at a depth are one variant). A combination whose first or last
    layer would be depthwise is left out: those layers change the channel count (3 → width,
    width → 3·r²), which one filter per channel cannot."""
    seen: dict[str, Variant] = {}
    for ch, depth, mix, bits in itertools.product(axes.channels, axes.depth, axes.kernel_mixes,
                                                  axes.act_bits):
        kernels = cycled(mix, depth)
        if any(layer_shape(kernels[i]).depthwise for i in {0, depth - 1}):
            continue
        v = Variant(ch, kernels, bits)
        seen.setdefault(v.id, v)
    return list(seen.values())


def costs(spec: EngineSpec, budget: BudgetConfig) -> dict[str, Any]:
    """What the dual engine of ``spec`` costs: MACs and parameters, and at each recorded
    line width its line buffers (KiB) and latency (LR rows, cycles at 1 px/clock)."""
    reports = {w: engine_report(spec, width=w) for w in budget.widths_px}
    first = next(iter(reports.values()))
    return {
        "macs_per_lr_px": first.macs_per_pixel,
        "params": first.params,
        "latency_rows": first.latency_rows,
        "latency_out_rows": first.latency_out_rows,
        "linebuffer_kib": {str(w): r.linebuffer_kib for w, r in reports.items()},
        "latency_cycles": {str(w): r.latency_cycles for w, r in reports.items()},
    }


def over_budget(spec: EngineSpec, budget: BudgetConfig) -> list[str]:
    """The budget lines the dual engine of ``spec`` breaks (empty when it fits)."""
    report = engine_report(spec, width=budget.budget_width_px)
    return [f"{v} at {budget.budget_width_px} px" if v.startswith("line buffers") else v
            for v in check_budget(report, budget.max_macs_per_lr_px, budget.max_linebuffer_kib)]
