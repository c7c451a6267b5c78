"""EngineSpec: the single source of truth for one network of the engine.

A spec is an ordered list of conv layers, the global residual (the input upsampled by
nearest neighbour and added to the output), the pixel-shuffle factor ``r`` and the datapath
(bit widths, rounding, accumulator overflow, border padding). The float model, the Brevitas
model, the integer program, the simulator and the engine report all read these numbers from
here; nothing else declares them.

Net2 is the spec as written (``r`` = scale); Net1 is derived from it by :meth:`EngineSpec.net1`
(r = 1, last layer c_out = 3), never written twice.
"""

from __future__ import annotations

import dataclasses
import enum
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hwsr.fixed import FixedType, Overflow, Rounding
from hwsr.validate import check_choice, check_keys, read_toml

IMAGE_CHANNELS = 3
INPUT_FRAC_BITS = 8  # pixels enter as uint8 codes with scale 2**-8
# What the engine can run: Net1 then Net2 chained ('dual'), or one stage alone. The one list of
# stages: the report, the integer reference, the simulator and every --stage option read it.
STAGES = ("dual", "net1", "net2")


def stage_names(stage: str) -> tuple[str, ...]:
    """The stages that run for ``stage``, in execution order (Net1 first for 'dual').

    >>> stage_names("dual"), stage_names("net2")
    (('net1', 'net2'), ('net2',))
    """
    if stage not in STAGES:
        raise ValueError(f"stage must be one of {', '.join(STAGES)}, got {stage!r}")
    return ("net1", "net2") if stage == "dual" else (stage,)


class SpecError(ValueError):
    """A spec that the engine cannot be built from; the message is one line."""


class Activation(enum.Enum):
    RELU = "relu"
    NONE = "none"


class Padding(enum.Enum):
    ZERO = "zero"  # pixels outside the frame read as 0 (PyTorch padding=k//2)


class WeightGranularity(enum.Enum):
    PER_TENSOR = "per_tensor"  # one weight shift per layer
    PER_CHANNEL = "per_channel"  # one weight shift per output channel


@dataclass(frozen=True)
class LayerSpec:
    """One k×k convolution of the engine, with its activation.

    ``groups`` splits the channels into that many independent convolutions (output channel
    ``o`` reads input channels ``g·c_in/groups ..`` of its group ``g = o // (c_out/groups)``);
    ``groups == c_in == c_out`` is a depthwise layer. ``dilation`` spreads the k×k taps
    ``dilation`` pixels apart: the window spans ``dilation·(k−1)+1`` pixels and rows, so the
    line buffer holds that many rows less one, while the MACs stay k·k per input of a group.
    """

    kernel: int  # k: odd kernel size, 1 (pointwise) or more
    c_in: int  # input channels
    c_out: int  # output channels
    activation: Activation = Activation.RELU  # applied before the requantization
    groups: int = 1  # channel groups: 1 dense, c_in (= c_out) depthwise
    dilation: int = 1  # tap spacing in pixels (1: a plain k×k window)

    @property
    def span(self) -> int:
        """Pixels (and rows) the window covers: dilation·(k−1)+1 (k for a plain window)."""
        return self.dilation * (self.kernel - 1) + 1

    @property
    def halo_rows(self) -> int:
        """Rows of context above and below an output row: span // 2 (its latency in rows)."""
        return self.span // 2

    @property
    def linebuffer_rows(self) -> int:
        """Rows of this layer's input its line buffer keeps: span − 1."""
        return self.span - 1

    @property
    def depthwise(self) -> bool:
        """One k×k filter per channel: groups = c_in = c_out (> 1)."""
        return self.groups > 1 and self.groups == self.c_in == self.c_out

    @property
    def group_c_in(self) -> int:
        """Input channels each output channel reads: c_in / groups."""
        return self.c_in // self.groups

    @property
    def macs_per_pixel(self) -> int:
        return self.kernel * self.kernel * self.group_c_in * self.c_out

    @property
    def params(self) -> int:
        return self.macs_per_pixel + self.c_out


@dataclass(frozen=True)
class Datapath:
    """Bit widths and arithmetic modes of the engine's fixed-point datapath."""

    act_bits: int = 8  # width of every activation between layers (uint after ReLU)
    weight_bits: int = 8  # signed weight width
    bias_bits: int = 16  # signed bias width, at the accumulator's scale
    acc_bits: int = 32  # signed accumulator width
    out_bits: int = 10  # signed width of the last conv's output, before the residual add
    weight_granularity: WeightGranularity = WeightGranularity.PER_CHANNEL
    rounding: Rounding = Rounding.HALF_UP  # every requantization shift
    acc_overflow: Overflow = Overflow.WRAP  # accumulator behaviour past acc_bits
    padding: Padding = Padding.ZERO  # border handling of every k×k window

    def act_type(self, activation: Activation, frac_bits: int) -> FixedType:
        """Activation format after a layer: unsigned after ReLU, signed otherwise."""
        return FixedType(self.act_bits, frac_bits, signed=activation is not Activation.RELU)

    @property
    def pixel_type(self) -> FixedType:
        """Pixels in and out of the engine: uint8 with scale 2**-8."""
        return FixedType(8, INPUT_FRAC_BITS, signed=False)


@dataclass(frozen=True)
class Budget:
    """What the silicon is given: a multiplier array, a clock and the video it must keep up with.

    The folding plan (:mod:`hwsr.folding`) picks each layer's parallelism within ``macs``
    multipliers so that the engine sustains ``fps`` frames of ``width`` x ``height`` LR
    pixels at ``clock_mhz``. Optional ``[budget]`` table of ``engine.toml``; these defaults
    are the paper's engine (2048 MACs at 600 MHz, 720p60 in).
    """

    macs: int = 2048  # multipliers of the whole engine (both stages)
    clock_mhz: float = 600.0  # engine clock
    width: int = 1280  # LR frame width in pixels (active video)
    height: int = 720  # LR frame height in rows (active video)
    fps: float = 60.0  # frames per second


@dataclass(frozen=True)
class EngineSpec:
    """One network of the engine: layers, residual, pixel shuffle and datapath."""

    name: str  # model name, used in reports and file names
    layers: tuple[LayerSpec, ...]  # in execution order
    upscale: int  # r: pixel-shuffle factor (3 for Net2, 1 for Net1)
    datapath: Datapath = field(default_factory=Datapath)
    residual: bool = True  # add the nearest-upsampled input to the output
    budget: Budget = field(default_factory=Budget)  # the hardware target (not the arithmetic)

    def __post_init__(self) -> None:
        _validate(self, source="<spec>")

    @property
    def stage(self) -> str:
        return "net1" if self.upscale == 1 else "net2"

    def net1(self) -> EngineSpec:
        """Stage 1 of the engine: the same network with r = 1 and 3 output channels."""
        last = dataclasses.replace(self.layers[-1], c_out=IMAGE_CHANNELS)
        return dataclasses.replace(self, upscale=1, layers=(*self.layers[:-1], last))

    def stage_specs(self, stage: str) -> tuple[EngineSpec, ...]:
        """Specs of the stages that run for ``stage`` (see :func:`stage_names`), Net2 = self."""
        return tuple(self.net1() if name == "net1" else self for name in stage_names(stage))

    @property
    def latency_rows(self) -> int:
        """Input rows that must arrive beyond row y before output row y leaves the stack."""
        return sum(layer.halo_rows for layer in self.layers)

    @property
    def macs_per_pixel(self) -> int:
        """MACs per input (LR) pixel."""
        return sum(layer.macs_per_pixel for layer in self.layers)

    @property
    def params(self) -> int:
        return sum(layer.params for layer in self.layers)


# ---- loading and validation -----------------------------------------------------------------

_TOP_KEYS = {"engine", "datapath", "layers", "budget"}
_BUDGET_FIELDS = {f.name: f for f in dataclasses.fields(Budget)}
_ENGINE_KEYS = {"name", "upscale", "residual", "description"}
_LAYER_KEYS = {"kernel", "c_in", "c_out", "activation", "groups", "dilation"}
_DATAPATH_FIELDS = {f.name: f for f in dataclasses.fields(Datapath)}
_ENUMS: dict[str, type[enum.Enum]] = {
    "weight_granularity": WeightGranularity,
    "rounding": Rounding,
    "acc_overflow": Overflow,
    "padding": Padding,
}


def _fail(source: str, key: str, rule: str) -> SpecError:
    return SpecError(f"{source}: {key}: {rule}")


def _check_keys(d: dict[str, Any], allowed: set[str], source: str, where: str) -> None:
    check_keys(d, sorted(allowed), f"{source}: {where}", SpecError)


def _int(value: Any, source: str, key: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise _fail(source, key, f"must be an integer, got {value!r}")
    return value


def _enum(cls: type[enum.Enum], value: Any, source: str, key: str) -> Any:
    try:
        return cls(value)
    except ValueError:
        check_choice(value, [str(m.value) for m in cls], f"{source}: {key}", SpecError)
        raise  # pragma: no cover - check_choice has refused it


def _parse_datapath(d: dict[str, Any], source: str) -> Datapath:
    _check_keys(d, set(_DATAPATH_FIELDS), source, "datapath.")
    kwargs: dict[str, Any] = {}
    for k, v in d.items():
        key = f"datapath.{k}"
        kwargs[k] = _enum(_ENUMS[k], v, source, key) if k in _ENUMS else _int(v, source, key)
    return Datapath(**kwargs)


def _parse_budget(d: Any, source: str) -> Budget:
    """The optional ``[budget]`` table: integers (macs, width, height) and positive numbers."""
    if not isinstance(d, dict):
        raise _fail(source, "budget", "must be a table")
    _check_keys(d, set(_BUDGET_FIELDS), source, "budget.")
    kwargs: dict[str, Any] = {}
    for k, v in d.items():
        key = f"budget.{k}"
        if _BUDGET_FIELDS[k].type == "int":
            kwargs[k] = _int(v, source, key)
        elif isinstance(v, bool) or not isinstance(v, int | float):
            raise _fail(source, key, f"must be a number, got {v!r}")
        else:
            kwargs[k] = float(v)
        if not kwargs[k] > 0:
            raise _fail(source, key, f"must be > 0, got {v!r}")
    return Budget(**kwargs)


def _parse_layers(raw: Any, source: str) -> tuple[LayerSpec, ...]:
    if not isinstance(raw, list) or not raw:
        raise _fail(source, "layers", "must be a non-empty array of [[layers]] tables")
    layers = []
    c_prev = IMAGE_CHANNELS
    for i, d in enumerate(raw):
        where = f"layers[{i}]."
        if not isinstance(d, dict):
            raise _fail(source, f"layers[{i}]", "must be a table")
        _check_keys(d, _LAYER_KEYS, source, where)
        for req in ("kernel", "c_out"):
            if req not in d:
                raise _fail(source, where + req, "is required")
        kernel = _int(d["kernel"], source, where + "kernel")
        c_in = _int(d.get("c_in", c_prev), source, where + "c_in")
        c_out = _int(d["c_out"], source, where + "c_out")
        act = _enum(Activation, d.get("activation", "relu"), source, where + "activation")
        groups = _int(d.get("groups", 1), source, where + "groups")
        dilation = _int(d.get("dilation", 1), source, where + "dilation")
        layers.append(LayerSpec(kernel=kernel, c_in=c_in, c_out=c_out, activation=act,
                                groups=groups, dilation=dilation))
        c_prev = c_out
    return tuple(layers)


def spec_from_dict(d: dict[str, Any], source: str = "<dict>") -> EngineSpec:
    """Build and validate a spec from the TOML tables; errors name ``source`` and the key."""
    _check_keys(d, _TOP_KEYS, source, "")
    eng = d.get("engine")
    if not isinstance(eng, dict):
        raise _fail(source, "engine", "table is required")
    _check_keys(eng, _ENGINE_KEYS, source, "engine.")
    for req in ("name", "upscale"):
        if req not in eng:
            raise _fail(source, f"engine.{req}", "is required")
    if not isinstance(eng["name"], str) or not eng["name"]:
        raise _fail(source, "engine.name", "must be a non-empty string")
    residual = eng.get("residual", True)
    if not isinstance(residual, bool):
        raise _fail(source, "engine.residual", "must be true or false")
    dp = d.get("datapath", {})
    if not isinstance(dp, dict):
        raise _fail(source, "datapath", "must be a table")
    layers = _parse_layers(d.get("layers"), source)
    datapath = _parse_datapath(dp, source)
    upscale = _int(eng["upscale"], source, "engine.upscale")
    budget = _parse_budget(d.get("budget", {}), source)
    try:
        spec = EngineSpec(name=eng["name"], layers=layers, upscale=upscale, datapath=datapath,
                          residual=residual, budget=budget)
    except SpecError as e:
        raise SpecError(str(e).replace("<spec>", source, 1)) from None
    return spec


def load_spec(path: str | Path) -> EngineSpec:
    """Read an engine spec from a TOML file (see ``models/*/engine.toml``)."""
    return spec_from_dict(read_toml(path, "spec", SpecError), source=str(Path(path)))


def spec_to_dict(spec: EngineSpec) -> dict[str, Any]:
    """The TOML tables of a spec (inverse of :func:`spec_from_dict`), for manifests."""
    dp = {
        f.name: (v.value if isinstance(v, enum.Enum) else v)
        for f in dataclasses.fields(Datapath)
        for v in [getattr(spec.datapath, f.name)]
    }
    out: dict[str, Any] = {
        "engine": {"name": spec.name, "upscale": spec.upscale, "residual": spec.residual},
        "datapath": dp,
        "layers": [_layer_dict(ly) for ly in spec.layers],
    }
    if spec.budget != Budget():  # only a non-default budget: every existing file stays as it was
        out["budget"] = dataclasses.asdict(spec.budget)
    return out


def _layer_dict(ly: LayerSpec) -> dict[str, Any]:
    """A layer's TOML table; ``groups`` and ``dilation`` only where they are not 1, so a
    plain layer's table (and every file that embeds it) is as it always was."""
    d: dict[str, Any] = {"kernel": ly.kernel, "c_in": ly.c_in, "c_out": ly.c_out,
                         "activation": ly.activation.value}
    d.update({k: getattr(ly, k) for k in ("groups", "dilation") if getattr(ly, k) != 1})
    return d


def _validate(spec: EngineSpec, source: str) -> None:
    dp = spec.datapath
    for f in dataclasses.fields(Budget):
        if not getattr(spec.budget, f.name) > 0:
            raise _fail(source, f"budget.{f.name}", f"must be > 0, got {getattr(spec.budget, f.name)}")
    for name in ("act_bits", "weight_bits", "bias_bits", "acc_bits", "out_bits"):
        bits = getattr(dp, name)
        if not 2 <= bits <= 32:
            raise _fail(source, f"datapath.{name}", f"bit width must be in 2..32, got {bits}")
    if dp.bias_bits > dp.acc_bits:
        raise _fail(source, "datapath.bias_bits", "must not exceed acc_bits")
    if not 1 <= spec.upscale <= 4:
        raise _fail(source, "engine.upscale", f"r must be in 1..4, got {spec.upscale}")
    if not spec.layers:
        raise _fail(source, "layers", "at least one layer is required")
    c_prev = IMAGE_CHANNELS
    for i, layer in enumerate(spec.layers):
        where = f"layers[{i}]."
        if layer.kernel < 1 or layer.kernel % 2 == 0:
            raise _fail(source, where + "kernel", f"must be odd and >= 1, got {layer.kernel}")
        for ch in ("c_in", "c_out"):
            if getattr(layer, ch) < 1:
                raise _fail(source, where + ch, f"channels must be >= 1, got {getattr(layer, ch)}")
        g = layer.groups
        if g < 1 or layer.c_in % g or layer.c_out % g:
            raise _fail(source, where + "groups", f"must be >= 1 and divide c_in ({layer.c_in}) "
                        f"and c_out ({layer.c_out}), got {g}")
        if layer.dilation < 1 or (layer.dilation > 1 and layer.kernel == 1):
            raise _fail(source, where + "dilation", f"must be >= 1, and 1 for a 1x1 kernel, got "
                        f"{layer.dilation}")
        if layer.c_in != c_prev:
            raise _fail(source, where + "c_in", f"must equal the previous layer's c_out ({c_prev})")
        c_prev = layer.c_out
    if spec.layers[-1].groups != 1:
        raise _fail(source, f"layers[{len(spec.layers) - 1}].groups",
                    "the last layer must be dense (groups = 1): Net1 derives it with 3 outputs")
    want = IMAGE_CHANNELS * spec.upscale**2
    if spec.layers[-1].c_out != want:
        raise _fail(
            source,
            f"layers[{len(spec.layers) - 1}].c_out",
            f"last layer must have 3*r^2 = {want} output channels, got {spec.layers[-1].c_out}",
        )
