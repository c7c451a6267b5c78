"""Stimulus for golden sets: stock frames, image crops, and the extreme-weights program.

Stock frames (``--stock``): the scaler test pattern, flat white and black (saturation up and
down at the output), a 0/255 checkerboard (the steepest edges both ways), corner impulses,
noise, and the border extremes 1×1, 1×3, 3×1 and 2×3 (height × width), narrower than any
kernel. Small on purpose: every tap of every frame becomes a hex file.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import numpy.typing as npt

from hwsr.fixed import int_range
from hwsr.golden.names import STOCK, VARIANTS
from hwsr.program import EngineProgram, LayerProgram, StageProgram

FrameU8 = npt.NDArray[np.uint8]


class FrameError(ValueError):
    """A frame or stimulus option that cannot be used."""


def standard_frames(width: int = 9, height: int = 5, seed: int = 0,
                    names: tuple[str, ...] = STOCK) -> dict[str, FrameU8]:
    """The stock frames named in ``names`` (``width`` × ``height`` except the tiny ones)."""
    from hwsr.sim import test_pattern

    if width < 1 or height < 1:
        raise FrameError(f"--width/--height must be >= 1, got {width}x{height}")
    unknown = sorted(set(names) - set(STOCK))
    if unknown:
        raise FrameError(f"--stock: unknown frame {unknown[0]!r} (choose from {', '.join(STOCK)})")
    rng = np.random.default_rng(seed)
    yy, xx = np.indices((height, width))
    impulse = np.zeros((height, width, 3), np.uint8)
    impulse[[0, 0, -1, -1], [0, -1, 0, -1]] = 255
    make = {
        "pattern": lambda: test_pattern(width, height),
        "full": lambda: np.full((height, width, 3), 255, np.uint8),
        "zeros": lambda: np.zeros((height, width, 3), np.uint8),
        "checker": lambda: np.repeat((((yy + xx) % 2) * 255).astype(np.uint8)[..., None], 3, 2),
        "impulses": lambda: impulse,
        "noise": lambda: rng.integers(0, 256, (height, width, 3), dtype=np.uint8),
    }
    tiny = {"tiny1x1": (1, 1), "tiny1x3": (1, 3), "tiny3x1": (3, 1), "tiny2x3": (2, 3)}
    frames: dict[str, FrameU8] = {}
    for name in STOCK:  # fixed order: the noise draws do not depend on the selection
        frame = make[name]() if name in make else rng.integers(0, 256, (*tiny[name], 3),
                                                              dtype=np.uint8)
        if name in names:
            frames[name] = frame
    return frames


def parse_crop(text: str) -> tuple[int, int, int, int]:
    """``X,Y,W,H`` → (x, y, width, height), all integers, sizes >= 1.

    >>> parse_crop("10,20,72,70")
    (10, 20, 72, 70)
    """
    try:
        x, y, w, h = (int(v) for v in text.split(","))
    except ValueError:
        raise FrameError(f"--crop: expected X,Y,W,H integers, got {text!r}") from None
    if min(x, y) < 0 or min(w, h) < 1:
        raise FrameError(f"--crop: {text!r} needs X, Y >= 0 and W, H >= 1")
    return x, y, w, h


def crop_frame(frame: FrameU8, crop: tuple[int, int, int, int], where: str) -> FrameU8:
    """The ``crop`` rectangle of ``frame``; refuses one that leaves the image."""
    x, y, w, h = crop
    if y + h > frame.shape[0] or x + w > frame.shape[1]:
        raise FrameError(f"{where}: crop {w}x{h}+{x}+{y} leaves the "
                         f"{frame.shape[1]}x{frame.shape[0]} image")
    return np.ascontiguousarray(frame[y : y + h, x : x + w])


def _extreme_layer(lp: LayerProgram, weight_bits: int, bias_bits: int) -> LayerProgram:
    """Every weight at ±full scale: even output channels mostly +, odd mostly −."""
    c_out, c_in, k, _ = lp.weight.shape
    o, i, ky, kx = np.indices((c_out, c_in, k, k))
    positive = (o % 2 == 0) ^ ((i + ky + kx) % 5 == 4)
    wlo, whi = int_range(weight_bits, signed=True)
    blo, bhi = int_range(bias_bits, signed=True)
    bias = np.where(np.arange(c_out) % 2 == 0, bhi, blo).astype(np.int64)
    return dataclasses.replace(lp, weight=np.where(positive, whi, wlo).astype(np.int64),
                               bias=bias)


def extreme_program(program: EngineProgram) -> EngineProgram:
    """``program`` with every weight and bias at full scale, formats and shifts kept.

    Deterministic (no random numbers), so ``golden check`` rebuilds it from the named model.
    Every layer's requantizer saturates on ordinary frames; the accumulators stay within
    acc_bits for the shipped datapath (the writer refuses a program where they would not).
    """
    stages = {}
    for name in ("net1", "net2"):
        sp: StageProgram | None = getattr(program, name)
        if sp is None:
            continue
        dp = sp.spec.datapath
        layers = tuple(_extreme_layer(lp, dp.weight_bits, dp.bias_bits) for lp in sp.layers)
        stages[name] = dataclasses.replace(sp, layers=layers)
    return EngineProgram(net2=stages["net2"], net1=stages.get("net1"))


def program_variant(program: EngineProgram, variant: str) -> EngineProgram:
    """The program a set is made from: the model's own ('none') or a derived one."""
    if variant == "none":
        return program
    if variant == "extreme":
        return extreme_program(program)
    raise FrameError(f"--variant must be one of {', '.join(VARIANTS)}, got {variant!r}")
