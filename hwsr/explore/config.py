"""What defines one exploration: a frozen, validated `ExploreConfig` read from TOML.

A grid file has five tables (see ``configs/explore/grid.toml``)::

    [explore]   base_model, out_dir, runs_dir
    [axes]      channels, depth, kernel_mixes, act_bits
    [budget]    max_macs_per_lr_px, max_linebuffer_kib, budget_width_px, widths_px
    [train]     config, steps, qat_steps, batch_size, seed, data_dir, set
    [eval]      frames, crop_lr_px, and the sub-table [eval.dirs] (name = dataset folder)

Raw dicts stop in :func:`explore_config_from_dict`; every refusal is one line naming the key
(``hwsr.validate``). Relative paths are resolved against the current directory.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hwsr.validate import check_keys, read_toml, require

# Kernel sizes a variant's layers may use. A layer of a kernel mix is one token: an integer k
# (a dense k×k layer) or a string "dw3" (depthwise 3×3), "3d2" (3×3 dilated by 2) or "dw3d2"
# (both); docs/explore.md says what each costs.
KERNELS = (1, 3)
DILATIONS = (2, 3, 4)
_TOKEN = re.compile(r"(dw)?([0-9]+)(?:d([0-9]+))?")


@dataclass(frozen=True)
class LayerShape:
    """What one token of a kernel mix asks for."""

    kernel: int
    depthwise: bool = False  # groups = c_in (the layer must keep its channel count)
    dilation: int = 1

    @property
    def token(self) -> str | int:
        """The token back: an int for a dense undilated layer (as grids have always written)."""
        if not self.depthwise and self.dilation == 1:
            return self.kernel
        return f"{'dw' if self.depthwise else ''}{self.kernel}" + (
            f"d{self.dilation}" if self.dilation > 1 else "")


def layer_shape(token: int | str, where: str = "axes.kernel_mixes") -> LayerShape:
    """Parse one token of a kernel mix (see ``KERNELS``); refusals are one line.

    >>> layer_shape(3), layer_shape("dw3d2").token
    (LayerShape(kernel=3, depthwise=False, dilation=1), 'dw3d2')
    """
    m = _TOKEN.fullmatch(token) if isinstance(token, str) else None
    if isinstance(token, int) and not isinstance(token, bool):
        shape = LayerShape(token)
    elif m is not None:
        shape = LayerShape(int(m[2]), m[1] is not None, int(m[3] or 1))
    else:
        shape = LayerShape(0)
    ok = shape.kernel in KERNELS and (shape.dilation == 1 or (
        shape.dilation in DILATIONS and shape.kernel > 1)) and not (
        shape.depthwise and shape.kernel == 1)
    require(ok, where, f"a layer is a kernel {' or '.join(map(str, KERNELS))}, or a string "
            f"'dw3' (depthwise), '3d2' (dilation {'/'.join(map(str, DILATIONS))}) or 'dw3d2'; "
            f"got {token!r}", ExploreError)
    return shape
_NAME = re.compile(r"[a-z0-9][a-z0-9_-]*")  # an evaluation set's name: a JSON key, a column


class ExploreError(ValueError):
    """A grid config or rows file that cannot be run; the message is one line."""


@dataclass(frozen=True)
class AxesConfig:
    """The grid's axes: every combination is one engine variant (Net1 and Net2 alike)."""

    channels: tuple[int, ...] = (20,)  # hidden width: c_out of every layer but the last
    depth: tuple[int, ...] = (5,)  # conv layers per stage
    kernel_mixes: tuple[tuple[int | str, ...], ...] = ((3, 1),)  # layer tokens, cycled to depth
    act_bits: tuple[int, ...] = (8,)  # width of every activation code between layers


@dataclass(frozen=True)
class BudgetConfig:
    """The silicon budget of the whole engine (Net1 + Net2) and the line widths costed."""

    max_macs_per_lr_px: int = 22000  # MACs per LR pixel, both stages together
    max_linebuffer_kib: float = 256.0  # line buffers and delay lines at budget_width_px
    budget_width_px: int = 1280  # LR line width the line-buffer budget is checked at
    widths_px: tuple[int, ...] = (1280, 1920)  # LR line widths each row records costs at


@dataclass(frozen=True)
class TrainBudget:
    """The one training budget every variant gets: same recipe, steps, batches and seed."""

    config: Path = Path("configs/hwsr-s.toml")  # base training config (mode, loss, crops)
    steps: int = 1500  # float-phase optimizer steps (> 0: the float model is scored)
    qat_steps: int = 300  # QAT steps: > 0, so every variant ends as an integer program
    batch_size: int = 16  # triples per step
    seed: int = 0  # initialisation and batches (hwsr.train is seeded end to end)
    data_dir: str = ""  # training dataset; "": the base config's data.dir
    set: tuple[str, ...] = ()  # further TABLE.KEY=VALUE overrides of the base config


@dataclass(frozen=True)
class EvalConfig:
    """Where the gain over bicubic is measured: held-out frames of each dataset."""

    dirs: tuple[tuple[str, Path], ...] = (("crf24", Path("data/wallpapers-crf24")),
                                          ("crf30", Path("data/wallpapers-crf30")))
    frames: int = 0  # first N validation frames of each dataset (0: all)
    crop_lr_px: int = 256  # centre crop of each frame, LR pixels (0: whole frames)


@dataclass(frozen=True)
class ExploreConfig:
    """One exploration: the base engine, the axes, the budget, training and scoring."""

    base_model: str = "hwsr-s"  # Net2 spec whose datapath (widths, rounding) variants keep
    out_dir: Path = Path("reports/explore")  # rows.jsonl, the report and its plot
    runs_dir: Path = Path("runs/explore")  # one run folder per variant, named by its id
    axes: AxesConfig = field(default_factory=AxesConfig)
    budget: BudgetConfig = field(default_factory=BudgetConfig)
    train: TrainBudget = field(default_factory=TrainBudget)
    eval: EvalConfig = field(default_factory=EvalConfig)

    def __post_init__(self) -> None:
        _validate(self)


def _validate(cfg: ExploreConfig) -> None:
    ax, b, t, e = cfg.axes, cfg.budget, cfg.train, cfg.eval
    for key, values, low in (("channels", ax.channels, 1), ("depth", ax.depth, 1),
                             ("act_bits", ax.act_bits, 2)):
        require(bool(values), f"axes.{key}", "must list at least one value", ExploreError)
        require(min(values) >= low, f"axes.{key}", f"every value must be >= {low}", ExploreError)
        require(len(set(values)) == len(values), f"axes.{key}", "lists a value twice",
                ExploreError)
    require(bool(ax.kernel_mixes), "axes.kernel_mixes", "must list at least one pattern",
            ExploreError)
    for mix in ax.kernel_mixes:
        require(bool(mix), "axes.kernel_mixes", "a pattern must list at least one layer",
                ExploreError)
        for token in mix:
            layer_shape(token)
    require(b.max_macs_per_lr_px > 0, "budget.max_macs_per_lr_px", "must be > 0", ExploreError)
    require(b.max_linebuffer_kib > 0, "budget.max_linebuffer_kib", "must be > 0", ExploreError)
    require(b.budget_width_px > 0 and bool(b.widths_px) and min(b.widths_px) > 0,
            "budget.widths_px", "line widths must be > 0", ExploreError)
    require(b.budget_width_px in b.widths_px, "budget.budget_width_px",
            f"must be one of widths_px {list(b.widths_px)} (rows record costs there)",
            ExploreError)
    require(t.steps > 0, "train.steps", "must be > 0: the float model is scored too",
            ExploreError)
    require(t.qat_steps > 0, "train.qat_steps",
            "must be > 0: a variant is scored as the integer program QAT exports", ExploreError)
    require(t.batch_size > 0, "train.batch_size", "must be > 0", ExploreError)
    require(t.seed >= 0, "train.seed", "must be >= 0", ExploreError)
    require(bool(e.dirs), "eval.dirs", "must name at least one dataset", ExploreError)
    for name, _ in e.dirs:
        require(bool(_NAME.fullmatch(name)), f"eval.dirs.{name}",
                "names are lower-case letters, digits, '-' and '_'", ExploreError)
    require(e.frames >= 0 and e.crop_lr_px >= 0, "eval.frames, eval.crop_lr_px", "must be >= 0",
            ExploreError)


# ---- loading ----------------------------------------------------------------------------------


def _ints(value: Any, key: str) -> tuple[int, ...]:
    ok = isinstance(value, list) and all(
        isinstance(v, int) and not isinstance(v, bool) for v in value)
    require(ok, key, f"must be an array of integers, got {value!r}", ExploreError)
    return tuple(value)


def _scalar(value: Any, key: str, kind: type) -> Any:
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    require(isinstance(value, kind) and not isinstance(value, bool), key,
            f"must be {kind.__name__}, got {value!r}", ExploreError)
    return value


def _table(d: dict[str, Any], name: str, kinds: dict[str, Any]) -> dict[str, Any]:
    """Typed keyword arguments of one table; ``kinds`` maps each key to its type (int,
    float, str, Path) or to a shape: "ints", "mixes" (arrays of layer tokens), "strs",
    "dirs"."""
    raw = d.get(name, {})
    require(isinstance(raw, dict), name, "must be a table", ExploreError)
    check_keys(raw, sorted(kinds), f"{name}.", ExploreError)
    out: dict[str, Any] = {}
    for key, value in raw.items():
        where, kind = f"{name}.{key}", kinds[key]
        if kind == "ints":
            out[key] = _ints(value, where)
        elif kind == "mixes":
            require(isinstance(value, list) and all(isinstance(v, list) for v in value), where,
                    "must be an array of arrays of layer tokens", ExploreError)
            out[key] = tuple(tuple(layer_shape(t, where).token for t in v) for v in value)
        elif kind == "strs":
            require(isinstance(value, list) and all(isinstance(v, str) for v in value), where,
                    "must be an array of strings", ExploreError)
            out[key] = tuple(value)
        elif kind == "dirs":
            require(isinstance(value, dict) and all(isinstance(v, str) and v
                                                    for v in value.values()),
                    where, "must be a table of name = dataset folder", ExploreError)
            out[key] = tuple((k, Path(v)) for k, v in value.items())
        elif kind is Path:
            require(isinstance(value, str) and bool(value), where, "must be a non-empty path",
                    ExploreError)
            out[key] = Path(value)
        else:
            out[key] = _scalar(value, where, kind)
    return out


def explore_config_from_dict(d: dict[str, Any], source: str = "<dict>") -> ExploreConfig:
    """Build a validated config from TOML tables; errors name ``source`` and the key."""
    try:
        check_keys(d, ["axes", "budget", "eval", "explore", "train"], "", ExploreError,
                   what="table")
        top = _table(d, "explore", {"base_model": str, "out_dir": Path, "runs_dir": Path})
        return ExploreConfig(
            **top,
            axes=AxesConfig(**_table(d, "axes", {"channels": "ints", "depth": "ints",
                                                 "kernel_mixes": "mixes", "act_bits": "ints"})),
            budget=BudgetConfig(**_table(d, "budget", {
                "max_macs_per_lr_px": int, "max_linebuffer_kib": float, "budget_width_px": int,
                "widths_px": "ints"})),
            train=TrainBudget(**_table(d, "train", {
                "config": Path, "steps": int, "qat_steps": int, "batch_size": int, "seed": int,
                "data_dir": str, "set": "strs"})),
            eval=EvalConfig(**_table(d, "eval", {"dirs": "dirs", "frames": int,
                                                 "crop_lr_px": int})),
        )
    except ExploreError as e:
        raise ExploreError(f"{source}: {e}") from None


def load_explore_config(path: str | Path) -> ExploreConfig:
    """Read a grid config from a TOML file (see ``configs/explore/grid.toml``)."""
    return explore_config_from_dict(read_toml(path, "explore config", ExploreError),
                                    source=str(Path(path)))


def settings_dict(cfg: ExploreConfig) -> dict[str, Any]:
    """The settings that decide a row's numbers besides its variant (JSON-able); rows written
    under other settings cannot be mixed with new ones."""
    t, b, e = cfg.train, cfg.budget, cfg.eval
    return {
        "base_model": cfg.base_model,
        "budget": {"max_macs_per_lr_px": b.max_macs_per_lr_px,
                   "max_linebuffer_kib": b.max_linebuffer_kib,
                   "budget_width_px": b.budget_width_px, "widths_px": list(b.widths_px)},
        "train": {"config": str(t.config), "steps": t.steps, "qat_steps": t.qat_steps,
                  "batch_size": t.batch_size, "seed": t.seed, "data_dir": t.data_dir,
                  "set": list(t.set)},
        "eval": {"dirs": {name: str(p) for name, p in e.dirs}, "frames": e.frames,
                 "crop_lr_px": e.crop_lr_px},
    }
