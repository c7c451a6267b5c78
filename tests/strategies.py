"""Shared hypothesis strategies and random engine programs for the exactness tests.

Profiles: ``ci`` (default) and ``thorough`` (``HYPOTHESIS_PROFILE=thorough``). Failing
examples print their seed (``print_blob``) so a failure can be replayed.
"""

from __future__ import annotations

import dataclasses
import os
from collections import Counter

import numpy as np
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from hwsr.fixed import FixedType, Overflow, Rounding, int_range
from hwsr.program import EngineProgram, LayerProgram, StageProgram
from hwsr.spec import Activation, Datapath, EngineSpec, LayerSpec

settings.register_profile(
    "ci", max_examples=100, deadline=None, print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.register_profile("thorough", parent=settings.get_profile("ci"), max_examples=2000)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

ROUNDINGS = list(Rounding)

# Exactness cases that ran and matched, by comparison name; conftest prints them at the end.
EXACT_CASES: Counter[str] = Counter()


@st.composite
def engine_specs(
    draw: st.DrawFn,
    kernels: tuple[int, ...] = (1, 3, 5),
    max_layers: int = 6,
    max_channels: int = 32,
    upscales: tuple[int, ...] = (1, 2, 3),
    acc_bits: st.SearchStrategy[int] | None = None,
    grouped: bool = False,
) -> EngineSpec:
    """Random engine specs: kernel 1/3/5, 1–6 layers, 1–32 channels, r = 1..3; with
    ``grouped``, also channel groups (any common divisor of c_in and c_out, depthwise
    included) and dilations 1–3."""
    n = draw(st.integers(1, max_layers))
    r = draw(st.sampled_from(upscales))
    layers = []
    c_in = 3
    for i in range(n):
        last = i == n - 1
        c_out = 3 * r * r if last else draw(st.integers(1, max_channels))
        act = Activation.NONE if last else draw(st.sampled_from([Activation.RELU, Activation.NONE]))
        k = draw(st.sampled_from(kernels))
        groups = dilation = 1
        if grouped and not last:
            divisors = [g for g in range(1, min(c_in, c_out) + 1) if c_in % g == 0 == c_out % g]
            groups = draw(st.sampled_from(divisors))
        if grouped:
            dilation = draw(st.integers(1, 3)) if k > 1 else 1
        layers.append(LayerSpec(k, c_in, c_out, act, groups=groups, dilation=dilation))
        c_in = c_out
    dp = Datapath(
        act_bits=draw(st.sampled_from([4, 6, 8])),
        weight_bits=draw(st.sampled_from([4, 8])),
        bias_bits=16,
        acc_bits=draw(acc_bits) if acc_bits is not None else 32,
        out_bits=draw(st.sampled_from([8, 10, 12])),
        rounding=draw(st.sampled_from(ROUNDINGS)),
        acc_overflow=draw(st.sampled_from(list(Overflow))),
    )
    return EngineSpec(name="rand", layers=tuple(layers), upscale=r, datapath=dp,
                      residual=draw(st.booleans()))


def random_stage(spec: EngineSpec, rng: np.random.Generator, extreme: bool = False) -> StageProgram:
    """A random integer program for ``spec``; ``extreme`` puts every weight at ±max."""
    dp = spec.datapath
    wlo, whi = int_range(dp.weight_bits, True)
    blo, bhi = int_range(dp.bias_bits, True)
    layers = []
    in_frac = 8
    for i, ls in enumerate(spec.layers):
        shape = (ls.c_out, ls.group_c_in, ls.kernel, ls.kernel)
        if extreme:
            w = rng.choice(np.array([wlo, whi], dtype=np.int64), size=shape)
        else:
            w = rng.integers(wlo, whi + 1, size=shape, dtype=np.int64)
        b = rng.integers(blo // 4, bhi // 4 + 1, size=ls.c_out, dtype=np.int64)
        w_frac = rng.integers(dp.weight_bits - 2, dp.weight_bits + 3, size=ls.c_out).astype(np.int64)
        last = i == len(spec.layers) - 1
        bits = dp.out_bits if last else dp.act_bits
        relu = ls.activation is Activation.RELU
        # choose out_frac so that the shift is mostly positive with some 0 and negative shifts
        out_frac = int(in_frac + int(w_frac.min()) - rng.integers(-1, 8))
        layers.append(LayerProgram(w, b, in_frac, w_frac, out_frac,
                                   FixedType(bits, out_frac, signed=not relu), relu,
                                   groups=ls.groups, dilation=ls.dilation))
        in_frac = out_frac
    return StageProgram(spec=spec, layers=tuple(layers))


def random_program(spec: EngineSpec, rng: np.random.Generator, extreme: bool = False) -> EngineProgram:
    """A random dual program: Net2 from ``spec`` (forced to r >= 1) and Net1 derived."""
    return EngineProgram(net2=random_stage(spec, rng, extreme), net1=random_stage(spec.net1(), rng, extreme))


FRAME_KINDS = ("random", "zeros", "full", "checker", "impulse")


def frame_of_kind(kind: str, h: int, w: int, seed: int = 0,
                  corner: tuple[int, int] = (0, 0)) -> np.ndarray:
    """One uint8 RGB test frame: random (from ``seed``), all-0, all-255, checkerboard, or a
    single white pixel at ``corner`` ("impulse")."""
    if kind == "zeros":
        return np.zeros((h, w, 3), np.uint8)
    if kind == "full":
        return np.full((h, w, 3), 255, np.uint8)
    if kind == "checker":
        yy, xx = np.indices((h, w))
        return np.repeat((((yy + xx) % 2) * 255).astype(np.uint8)[..., None], 3, axis=2)
    if kind == "impulse":
        f = np.zeros((h, w, 3), np.uint8)
        f[corner] = 255
        return f
    return np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)


@st.composite
def frames(draw: st.DrawFn, max_h: int = 12, max_w: int = 12) -> np.ndarray:
    """uint8 RGB frames from 1×1 up: random, all-0, all-255, checkerboard, corner impulses."""
    h = draw(st.integers(1, max_h))
    w = draw(st.integers(1, max_w))
    kind = draw(st.sampled_from(FRAME_KINDS))
    corner = draw(st.sampled_from([(0, 0), (0, w - 1), (h - 1, 0), (h - 1, w - 1)]))
    return frame_of_kind(kind, h, w, draw(st.integers(0, 2**32 - 1)), corner)


@st.composite
def narrow_engine_specs(draw: st.DrawFn, max_layers: int = 6, max_channels: int = 32,
                        acc_bits: tuple[int, int] = (12, 20), grouped: bool = False) -> EngineSpec:
    """:func:`engine_specs` with a narrow accumulator (and biases no wider), so it overflows.

    Wrap and saturate, every rounding mode; ``bias_bits`` is lowered to ``acc_bits`` where
    the spec's 16 would not fit (a spec requires ``bias_bits <= acc_bits``).
    """
    spec = draw(engine_specs(max_layers=max_layers, max_channels=max_channels, grouped=grouped))
    bits = draw(st.integers(*acc_bits))
    bias_bits = min(spec.datapath.bias_bits, bits)
    dp = dataclasses.replace(spec.datapath, acc_bits=bits, bias_bits=bias_bits)
    return dataclasses.replace(spec, datapath=dp)
