"""The integer program: the contract between the PyTorch side and the engine simulator.

An integer program holds, for each stage of the engine, the integer weights and biases of
every layer and the power-of-two formats of every tensor, from which each requantization
shift follows. It is what lowering produces from the Brevitas model and the only thing the
integer reference and the line-buffer simulator read. It is stored as one ``.npz`` file of
plain integer arrays plus a JSON header (no pickle) and loads without torch.

Arithmetic of one layer (all integers; ``frac`` = bits below the binary point)::

    acc   = sum(w * x) + b            # at frac in_frac + weight_frac[c], exact
    acc   = fit(acc, acc_bits)        # wrap or saturate the finished sum (overflow counted)
    acc   = max(acc, 0)               # ReLU layers only
    y     = sat(round_shift(acc, shift[c]))   # shift = in_frac + weight_frac[c] - out_frac

and of the residual add after the last layer, at the common frac ``F = max(out_frac, 8)``::

    s     = (y << res_conv_lshift) + (x_nearest << res_in_lshift)
    pixel = sat_u8(round_shift(s, out_shift))      # out_shift = F - 8
"""

from __future__ import annotations

import json
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from hwsr.fixed import FixedType, int_range
from hwsr.spec import (
    INPUT_FRAC_BITS,
    Activation,
    EngineSpec,
    SpecError,
    spec_from_dict,
    spec_to_dict,
    stage_names,
)

SCHEMA = "hwsr.program"
SCHEMA_VERSION = 1
ACC_LIMIT_BITS = 62  # every worst-case sum stays below 2**62: exact in int64 with headroom
I64 = npt.NDArray[np.int64]


class ProgramError(ValueError):
    """An integer program that is missing, corrupt, of another schema, or off its spec."""


@dataclass(frozen=True, eq=False)
class LayerProgram:
    """Integer weights and formats of one conv layer."""

    weight: I64  # (c_out, c_in / groups, k, k) signed codes of weight_bits
    bias: I64  # (c_out,) signed codes of bias_bits, at the accumulator's frac
    in_frac: int  # frac bits of the layer's input codes
    weight_frac: I64  # (c_out,) frac bits of each output channel's weights
    out_frac: int  # frac bits of the output codes
    out_type: FixedType  # format of the output codes (width, frac, signed)
    relu: bool  # ReLU before the requantization
    groups: int = 1  # channel groups (the spec's); output channel o reads group o // (c_out/g)
    dilation: int = 1  # tap spacing (the spec's)

    @property
    def c_in(self) -> int:
        """Input channels of the layer (all groups)."""
        return int(self.weight.shape[1]) * self.groups

    def dense_weight(self) -> I64:
        """The same layer as one dense, undilated window: (c_out, c_in, span, span) with the
        taps at multiples of ``dilation`` and zeros off each output channel's group. Every
        sum it makes equals the layer's own, bit for bit (a zero weight adds nothing, so
        even a wrapping accumulator sees the same value); the line-buffer simulator runs it.
        """
        c_out, gc, k, _ = self.weight.shape
        if self.groups == 1 and self.dilation == 1:
            return self.weight
        span = self.dilation * (k - 1) + 1
        dense = np.zeros((c_out, gc * self.groups, span, span), np.int64)
        go = c_out // self.groups
        for o in range(c_out):
            g = o // go
            dense[o, g * gc:(g + 1) * gc, ::self.dilation, ::self.dilation] = self.weight[o]
        return dense

    @property
    def shift(self) -> I64:
        """Right shift of each output channel's accumulator (negative: left shift)."""
        return (self.in_frac + self.weight_frac - self.out_frac).astype(np.int64)

    @property
    def acc_frac(self) -> I64:
        return (self.in_frac + self.weight_frac).astype(np.int64)

    def worst_case_acc(self, in_type: FixedType) -> I64:
        """Largest |accumulator| per output channel over every input of ``in_type``."""
        lim = max(abs(in_type.min_code), abs(in_type.max_code))
        return np.abs(self.weight).reshape(self.weight.shape[0], -1).sum(1) * lim + np.abs(
            self.bias
        )


@dataclass(frozen=True, eq=False)
class StageProgram:
    """One stage (Net1 or Net2) of the engine as integers."""

    spec: EngineSpec
    layers: tuple[LayerProgram, ...]

    @property
    def res_frac(self) -> int:
        """Common frac of the residual add: the finer of the last layer's and the pixel's."""
        return max(self.layers[-1].out_frac, INPUT_FRAC_BITS)

    @property
    def res_conv_lshift(self) -> int:
        return self.res_frac - self.layers[-1].out_frac

    @property
    def res_in_lshift(self) -> int:
        return self.res_frac - INPUT_FRAC_BITS

    @property
    def out_shift(self) -> int:
        return self.res_frac - INPUT_FRAC_BITS

    def in_type(self, index: int) -> FixedType:
        """Format of layer ``index``'s input codes."""
        if index == 0:
            return self.spec.datapath.pixel_type
        return self.layers[index - 1].out_type


@dataclass(frozen=True, eq=False)
class EngineProgram:
    """Both stages of the engine; ``net1`` is None for a single-stage program."""

    net2: StageProgram
    net1: StageProgram | None = None

    def stage(self, name: str) -> StageProgram:
        if name == "net2":
            return self.net2
        if name == "net1" and self.net1 is not None:
            return self.net1
        raise ProgramError(f"this program has no stage {name!r}")

    def stages(self, stage: str) -> list[StageProgram]:
        """The stage programs that run for ``stage`` ('dual', 'net1' or 'net2'), in order."""
        return [self.stage(name) for name in stage_names(stage)]


# ---- validation ---------------------------------------------------------------------------


def check_stage(stage: StageProgram, where: str = "program") -> None:
    """Refuse a stage whose arrays do not match its spec or leave their bit widths."""
    spec, dp = stage.spec, stage.spec.datapath
    if len(stage.layers) != len(spec.layers):
        raise ProgramError(f"{where}: {len(stage.layers)} layers, spec has {len(spec.layers)}")
    frac = INPUT_FRAC_BITS
    for i, (lp, ls) in enumerate(zip(stage.layers, spec.layers, strict=True)):
        name = f"{where}: layer {i}"
        want = (ls.c_out, ls.group_c_in, ls.kernel, ls.kernel)
        if lp.weight.shape != want:
            raise ProgramError(f"{name}: weight shape {lp.weight.shape} != spec {want}")
        if (lp.groups, lp.dilation) != (ls.groups, ls.dilation):
            raise ProgramError(f"{name}: groups/dilation {lp.groups}/{lp.dilation} != spec "
                               f"{ls.groups}/{ls.dilation}")
        for arr, n in ((lp.weight, "weight"), (lp.bias, "bias"), (lp.weight_frac, "weight_frac")):
            if arr.dtype != np.int64:
                raise ProgramError(f"{name}: {n} must be int64, got {arr.dtype}")
        if lp.bias.shape != (ls.c_out,) or lp.weight_frac.shape != (ls.c_out,):
            raise ProgramError(f"{name}: bias/weight_frac must have shape ({ls.c_out},)")
        _check_range(lp.weight, dp.weight_bits, f"{name}: weight")
        _check_range(lp.bias, dp.bias_bits, f"{name}: bias")
        if lp.in_frac != frac:
            raise ProgramError(f"{name}: in_frac {lp.in_frac} != previous out_frac {frac}")
        last = i == len(spec.layers) - 1
        bits = dp.out_bits if last else dp.act_bits
        relu = ls.activation is Activation.RELU
        want_type = FixedType(bits, lp.out_frac, signed=not relu)
        if lp.out_type != want_type or lp.relu != relu:
            raise ProgramError(f"{name}: output format {lp.out_type} != spec {want_type}")
        if np.abs(lp.in_frac + lp.weight_frac - lp.out_frac).max() > 62:
            raise ProgramError(f"{name}: requantization shift beyond 62 bits")
        _check_acc_bound(lp, stage.in_type(i), name)
        frac = lp.out_frac


def _check_acc_bound(lp: LayerProgram, in_type: FixedType, name: str) -> None:
    """Refuse a layer whose worst-case sum reaches 2**62: the int64 executors would wrap.

    The bound is computed in Python integers (exact at any size): the fan-in sum of |w| fits
    int64 for any 32-bit weights, its product with the largest input code may not.
    """
    lim = max(abs(in_type.min_code), abs(in_type.max_code))
    w_abs = int(np.abs(lp.weight).reshape(lp.weight.shape[0], -1).sum(1).max(initial=0))
    worst = w_abs * lim + int(np.abs(lp.bias).max(initial=0))
    if worst >= 1 << ACC_LIMIT_BITS:
        raise ProgramError(f"{name}: worst-case accumulator {worst:.3e} reaches 2**"
                           f"{ACC_LIMIT_BITS}; the int64 executors would wrap silently")


def _check_range(a: I64, bits: int, name: str) -> None:
    lo, hi = int_range(bits, signed=True)
    if a.size and (int(a.min()) < lo or int(a.max()) > hi):
        raise ProgramError(f"{name} codes leave the {bits}-bit signed range")


# ---- storage ------------------------------------------------------------------------------


def _stage_arrays(prefix: str, stage: StageProgram) -> tuple[dict[str, Any], dict[str, I64]]:
    meta: dict[str, Any] = {"spec": spec_to_dict(stage.spec), "layers": []}
    arrays: dict[str, I64] = {}
    for i, lp in enumerate(stage.layers):
        meta["layers"].append(
            {"in_frac": lp.in_frac, "out_frac": lp.out_frac, "relu": lp.relu,
             "out_bits": lp.out_type.width, "out_signed": lp.out_type.signed}
        )
        arrays[f"{prefix}.{i}.weight"] = lp.weight
        arrays[f"{prefix}.{i}.bias"] = lp.bias
        arrays[f"{prefix}.{i}.weight_frac"] = lp.weight_frac
    return meta, arrays


def save_program(program: EngineProgram, path: str | Path) -> None:
    """Write ``program`` to ``path`` (.npz, no pickle) atomically."""
    from hwsr.atomic import atomic_write

    header: dict[str, Any] = {"schema": SCHEMA, "version": SCHEMA_VERSION, "stages": {}}
    arrays: dict[str, Any] = {}
    for name in ("net1", "net2"):
        stage = getattr(program, name)
        if stage is None:
            continue
        check_stage(stage, name)
        meta, arr = _stage_arrays(name, stage)
        header["stages"][name] = meta
        arrays.update(arr)
    arrays["header"] = np.frombuffer(json.dumps(header).encode(), dtype=np.uint8)

    def _write(tmp: Path) -> None:
        with open(tmp, "wb") as f:
            np.savez_compressed(f, **arrays)

    atomic_write(Path(path), _write)


def load_program(path: str | Path) -> EngineProgram:
    """Read and validate an integer program; any defect is one ``ProgramError`` line."""
    p = Path(path)
    if not p.is_file():
        raise ProgramError(f"{p}: program file not found")
    try:
        with np.load(p, allow_pickle=False) as z:
            data = {k: z[k] for k in z.files}
        header = json.loads(bytes(data.pop("header")).decode())
    except (OSError, ValueError, KeyError, zipfile.BadZipFile, UnicodeDecodeError) as e:
        raise ProgramError(f"{p}: not a readable hwsr program ({type(e).__name__})") from None
    if header.get("schema") != SCHEMA:
        raise ProgramError(f"{p}: not an hwsr program (schema {header.get('schema')!r})")
    if header.get("version") != SCHEMA_VERSION:
        raise ProgramError(
            f"{p}: program schema version {header.get('version')} is not the supported "
            f"{SCHEMA_VERSION}; re-export it with this hwsr"
        )
    stages = {}
    try:
        for name, meta in header["stages"].items():
            stages[name] = _stage_from(name, meta, data, str(p))
    except SpecError as e:
        raise ProgramError(f"{p}: embedded spec refused ({e})") from None
    except KeyError as e:
        raise ProgramError(f"{p}: missing entry {e}") from None
    if "net2" not in stages:
        raise ProgramError(f"{p}: program has no net2 stage")
    return EngineProgram(net2=stages["net2"], net1=stages.get("net1"))


def _stage_from(name: str, meta: dict[str, Any], data: dict[str, Any], src: str) -> StageProgram:
    spec = spec_from_dict(meta["spec"], source=f"{src}[{name}]")
    layers = []
    for i, m in enumerate(meta["layers"]):
        arr = {k: data[f"{name}.{i}.{k}"] for k in ("weight", "bias", "weight_frac")}
        ls = spec.layers[i] if i < len(spec.layers) else None
        layers.append(
            LayerProgram(
                weight=arr["weight"], bias=arr["bias"], in_frac=int(m["in_frac"]),
                weight_frac=arr["weight_frac"], out_frac=int(m["out_frac"]),
                out_type=FixedType(int(m["out_bits"]), int(m["out_frac"]), bool(m["out_signed"])),
                relu=bool(m["relu"]), groups=ls.groups if ls else 1,
                dilation=ls.dilation if ls else 1,
            )
        )
    stage = StageProgram(spec=spec, layers=tuple(layers))
    check_stage(stage, f"{src}[{name}]")
    return stage
