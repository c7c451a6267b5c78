"""What defines one training run: a frozen, validated `TrainConfig` read from TOML.

A config file has six tables; every key is optional except ``run.mode`` and ``data.dir``::

    [run]     name, mode, arch, model, seed, out_dir, single_width, init_weights
    [data]    dir, mix, crop_lr_px, batch_size, val_frames, val_crop_lr_px
    [optim]   steps, lr, min_lr, warmup_steps, grad_clip_norm
    [loss]    lambda_net1, lambda_net2, lambda_id, id_route, pixel, id_features, id_distance,
              id_warmup_steps, id_decay_steps, id_teacher_ema
    [schedule] log_every_steps, val_every_steps, ckpt_every_steps, threads
    [qat]     steps, lr, calib_batches, refine_batches, distill_steps, equalize_rounds

Raw dicts stop in :func:`config_from_dict`; everything after it reads typed fields.
Relative paths in a file are resolved against the current directory (the repository root
when run as ``hwsr train --config configs/X.toml``).
"""

from __future__ import annotations

import dataclasses
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hwsr.validate import check_choice, check_keys, read_toml, require

MODES = ("baseline", "hd2uhd", "dual", "dual-id")  # the paper's four rows, in ladder order
ID_ROUTES = ("net1", "both", "net2")  # where L_id's gradient may go (see hwsr.train.losses)
PIXEL_LOSSES = ("l1", "mse")  # distance of the image terms L1 and L2
# Distance of L_id: those two, or L1 normalised by the teacher's mean |F| per signal ("l1n").
ID_DISTANCES = ("l1", "mse", "l1n")
# What L_id compares of Net2 (student on Net1's output, teacher on the true dHR): every hidden
# layer (the paper's reading), the last hidden layer only, or Net2's output image.
ID_FEATURES = ("all", "last", "output")
# The network family: the engine's conv stack, or the paper's float references (float-only).
ARCHS = ("engine", "srcnn", "rcan")


class ConfigError(ValueError):
    """A training config that cannot be run; the message is one line naming the key."""


@dataclass(frozen=True)
class RunConfig:
    """Which network is trained, how, and where its files go."""

    mode: str = "dual-id"  # baseline | hd2uhd | dual | dual-id
    arch: str = "engine"  # engine | srcnn | rcan (float references: hwsr.train.nets)
    name: str = "run"  # run name, written into checkpoints and logs
    model: str = "hwsr-s"  # Net2's spec: zoo name, model folder or engine.toml
    seed: int = 0  # seeds initialisation, batch sampling and crops
    out_dir: Path = Path("runs/run")  # checkpoints, metrics log, trained weights
    single_width: int = 0  # hidden width of the single-stage net; 0: match the dual pair
    init_weights: str = ""  # float.safetensors to start from (hwsr quantize); "": random

    @property
    def dual(self) -> bool:
        """True for the two-stage modes (Net1 then Net2)."""
        return self.mode in ("dual", "dual-id")


@dataclass(frozen=True)
class DataConfig:
    """The dataset and how batches are cut from it."""

    dir: Path = Path("data/train")  # a dataset folder built by `hwsr data build`
    # More dataset folders whose training triples join ``dir``'s in one pool (a mix of codecs
    # and strengths); validation stays on ``dir``'s frames. Same patch size in every folder.
    mix: tuple[Path, ...] = ()
    crop_lr_px: int = 64  # side of the random LR crop taken from each stored patch
    batch_size: int = 16  # triples per optimizer step, over all processes together
    val_frames: int = 4  # whole validation frames scored at each validation
    val_crop_lr_px: int = 192  # centre crop of each validation frame, LR pixels; 0: whole


@dataclass(frozen=True)
class OptimConfig:
    """Adam with linear warm-up then a cosine decay, over the float phase."""

    steps: int = 1000  # optimizer steps of the float phase
    lr: float = 1e-3  # peak learning rate
    min_lr: float = 1e-5  # learning rate at the end of the cosine
    warmup_steps: int = 50  # linear warm-up from 0 to ``lr``
    grad_clip_norm: float = 0.0  # clip the global gradient norm to this; 0: no clipping


@dataclass(frozen=True)
class LossConfig:
    """L_total = λ1·L1 + λ2·L2 + λid·L_id (λ1 and λ2 are ignored by single-stage modes)."""

    lambda_net1: float = 1.0  # λ1: |Net1(LR) − dHR|₁
    lambda_net2: float = 1.0  # λ2: |Net2(Net1(LR)) − HR|₁ (or |net(x) − HR|₁ single-stage)
    lambda_id: float = 0.1  # λid: Σ_l |F_l(student) − F_l(teacher)|₁ (dual-id only)
    # "net1": L_id trains Net1 only (safe); "both": the literal reading; "net2": Net2 only
    # (Net1's output detached: Net2 learns to treat it as it treats dHR)
    id_route: str = "net1"
    pixel: str = "l1"  # distance of L1 and L2: "l1" (the paper) or "mse" (what PSNR measures)
    id_features: str = "all"  # what L_id compares: "all" hidden layers, the "last", the "output"
    id_distance: str = "l1"  # distance of L_id: "l1" (the paper), "mse" or "l1n" (normalised)
    id_warmup_steps: int = 0  # λid ramps linearly from 0 over these first steps (0: off)
    id_decay_steps: int = 0  # λid falls linearly to 0 over the float phase's last steps (0: off)
    # Teacher weights: 0 = Net2's current weights (the paper: copied every step); d in (0, 1)
    # = an exponential moving average of Net2's weights with decay d per step (mean-teacher).
    id_teacher_ema: float = 0.0


@dataclass(frozen=True)
class ScheduleConfig:
    """How often the trainer logs, validates and checkpoints (in optimizer steps)."""

    log_every_steps: int = 25  # JSON-lines metrics record and progress-bar refresh
    val_every_steps: int = 250  # Y-PSNR on the validation frames
    ckpt_every_steps: int = 100  # resumable checkpoint (weights, Adam state, RNG)
    threads: int = 1  # torch intra-op threads per process (leave cores to others)


@dataclass(frozen=True)
class QatConfig:
    """Quantization-aware phase after the float phase: calibrate, fine-tune, export int8."""

    steps: int = 0  # QAT fine-tuning steps; 0: no QAT phase (float model only)
    lr: float = 1e-4  # constant Adam learning rate of the fine-tuning
    calib_batches: int = 16  # training batches the activation scales are calibrated on
    # Before the export, refine the activation scales on this many training batches
    # (hwsr.quant.refine: a power of two finer or coarser where the error against the
    # float model drops); 0: export the QAT scales as they are.
    refine_batches: int = 0
    # With refine_batches > 0: first train the int8 weights this many steps towards the float
    # model's output (hwsr.quant.distill), kept only if the refinement batches say it helps.
    distill_steps: int = 0
    # With refine_batches > 0: before the scales, scale hidden channels by powers of two
    # (float function unchanged; hwsr.quant.equalize), this many rounds over every channel.
    equalize_rounds: int = 0


@dataclass(frozen=True)
class TrainConfig:
    """One training run: every number that changes the trained weights."""

    run: RunConfig = field(default_factory=RunConfig)
    data: DataConfig = field(default_factory=DataConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    schedule: ScheduleConfig = field(default_factory=ScheduleConfig)
    qat: QatConfig = field(default_factory=QatConfig)

    def __post_init__(self) -> None:
        _validate(self)

    @property
    def total_steps(self) -> int:
        """Float steps plus QAT steps: the step counter runs through both phases."""
        return self.optim.steps + self.qat.steps

    def replace(self, **sections: Any) -> TrainConfig:
        """A copy with some fields changed: ``cfg.replace(optim={"steps": 10})``."""
        kwargs = {
            name: dataclasses.replace(getattr(self, name), **changes)
            for name, changes in sections.items()
        }
        return dataclasses.replace(self, **kwargs)

    def to_dict(self) -> dict[str, Any]:
        """JSON-able tables (paths as strings), recorded in checkpoints and model cards."""
        return {
            name: {k: _plain(v) for k, v in dataclasses.asdict(getattr(self, name)).items()}
            for name in _SECTIONS
        }


def _plain(value: Any) -> Any:
    """A field value as JSON holds it: paths as strings, tuples as lists."""
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    return value


def with_defaults(recorded: dict[str, Any]) -> dict[str, Any]:
    """A config recorded by :meth:`TrainConfig.to_dict` with the keys it lacks filled in
    with their defaults: a run recorded before a key existed is the same run as one with
    that key at its default (checkpoint resume and finished-run checks compare these)."""
    defaults = TrainConfig().to_dict()
    return {name: {**defaults.get(name, {}), **table} if isinstance(table, dict) else table
            for name, table in recorded.items()}


_SECTIONS: dict[str, type] = {
    "run": RunConfig, "data": DataConfig, "optim": OptimConfig, "loss": LossConfig,
    "schedule": ScheduleConfig, "qat": QatConfig,
}
_POSITIVE = {
    "data": ("crop_lr_px", "batch_size"),
    "optim": ("lr",),
    "schedule": ("log_every_steps", "val_every_steps", "ckpt_every_steps", "threads"),
    "qat": ("lr", "calib_batches"),
}
_NON_NEGATIVE = {
    "run": ("single_width",),
    "data": ("val_frames", "val_crop_lr_px"),
    "optim": ("steps", "min_lr", "warmup_steps", "grad_clip_norm"),
    "loss": ("lambda_net1", "lambda_net2", "lambda_id", "id_warmup_steps", "id_decay_steps"),
    "qat": ("steps", "refine_batches", "distill_steps", "equalize_rounds"),
}


def _validate(cfg: TrainConfig) -> None:
    check_choice(cfg.run.mode, MODES, "run.mode", ConfigError)
    check_choice(cfg.run.arch, ARCHS, "run.arch", ConfigError)
    check_choice(cfg.loss.id_route, ID_ROUTES, "loss.id_route", ConfigError)
    check_choice(cfg.loss.pixel, PIXEL_LOSSES, "loss.pixel", ConfigError)
    check_choice(cfg.loss.id_features, ID_FEATURES, "loss.id_features", ConfigError)
    check_choice(cfg.loss.id_distance, ID_DISTANCES, "loss.id_distance", ConfigError)
    for table, keys in _POSITIVE.items():
        for key in keys:
            require(getattr(getattr(cfg, table), key) > 0, f"{table}.{key}", "must be > 0",
                    ConfigError)
    for table, keys in _NON_NEGATIVE.items():
        for key in keys:
            require(getattr(getattr(cfg, table), key) >= 0, f"{table}.{key}", "must be >= 0",
                    ConfigError)
    if cfg.qat.steps > 0 and not cfg.run.dual:
        raise ConfigError("qat.steps: the QAT phase exports the dual engine; single-stage "
                          f"mode {cfg.run.mode!r} needs qat.steps = 0")
    pool = [cfg.data.dir, *cfg.data.mix]
    if len({p.resolve() for p in pool}) != len(pool):
        raise ConfigError("data.mix: repeats a folder (data.dir or another mix entry)")
    if cfg.run.arch != "engine" and cfg.qat.steps > 0:
        raise ConfigError(f"qat.steps: run.arch {cfg.run.arch!r} is a float reference the "
                          "engine cannot run; it needs qat.steps = 0")
    if cfg.loss.id_warmup_steps + cfg.loss.id_decay_steps > cfg.optim.steps:
        raise ConfigError("loss.id_decay_steps: warm-up and decay of λid together exceed "
                          f"optim.steps ({cfg.optim.steps})")
    if not 0.0 <= cfg.loss.id_teacher_ema < 1.0:
        raise ConfigError("loss.id_teacher_ema: must be in [0, 1) (0: the current weights)")
    for key in ("distill_steps", "equalize_rounds"):
        if getattr(cfg.qat, key) > 0 and cfg.qat.refine_batches == 0:
            raise ConfigError(f"qat.{key}: needs qat.refine_batches > 0 (the batches that "
                              "judge it)")
    if cfg.total_steps == 0:
        raise ConfigError("optim.steps, qat.steps: at least one must be > 0")
    if cfg.optim.min_lr > cfg.optim.lr:
        raise ConfigError("optim.min_lr: must not exceed optim.lr")
    if cfg.run.dual and cfg.loss.lambda_net1 + cfg.loss.lambda_net2 == 0:
        raise ConfigError("loss.lambda_net1, loss.lambda_net2: at least one must be > 0")


def _coerce(table: str, key: str, value: Any, default: Any) -> Any:
    """TOML value → the field's type; ints are accepted where floats are expected."""
    where = f"{table}.{key}"
    if isinstance(default, Path):
        if not isinstance(value, str) or not value:
            raise ConfigError(f"{where}: must be a non-empty path string, got {value!r}")
        return Path(value)
    if isinstance(default, tuple):  # a list of paths (data.mix)
        if not isinstance(value, list | tuple) or not all(isinstance(v, str) and v
                                                          for v in value):
            raise ConfigError(f"{where}: must be a list of path strings, got {value!r}")
        return tuple(Path(v) for v in value)
    if isinstance(default, bool) or isinstance(value, bool):
        raise ConfigError(f"{where}: booleans are not accepted here, got {value!r}")
    if isinstance(default, float) and isinstance(value, int | float):
        return float(value)
    if type(value) is not type(default):
        kind = type(default).__name__
        raise ConfigError(f"{where}: must be {kind}, got {type(value).__name__} {value!r}")
    return value


def config_from_dict(d: dict[str, Any], source: str = "<dict>") -> TrainConfig:
    """Build a validated config from TOML tables; errors name ``source`` and the key."""
    sections: dict[str, Any] = {}
    for table, value in d.items():
        check_keys([table], list(_SECTIONS), f"{source}: ", ConfigError, what="table")
        require(isinstance(value, dict), f"{source}: {table}", "must be a table", ConfigError)
        cls = _SECTIONS[table]
        defaults = {f.name: f.default for f in dataclasses.fields(cls)}
        kwargs = {}
        for key, v in value.items():
            check_keys([key], list(defaults), f"{source}: {table}.", ConfigError)
            try:
                kwargs[key] = _coerce(table, key, v, defaults[key])
            except ConfigError as e:
                raise ConfigError(f"{source}: {e}") from None
        sections[table] = cls(**kwargs)
    try:
        return TrainConfig(**sections)
    except ConfigError as e:
        raise ConfigError(f"{source}: {e}") from None


def apply_overrides(d: dict[str, Any], overrides: Iterable[str]) -> dict[str, Any]:
    """Config tables with ``TABLE.KEY=VALUE`` overrides applied (``hwsr train --set``).

    VALUE is read as a TOML value (``3``, ``1e-4``, ``"mse"``); a bare word that is not
    one is taken as a string, so ``--set loss.pixel=mse`` works. Keys are checked later,
    by :func:`config_from_dict`, like those of the file.

    >>> apply_overrides({"optim": {"steps": 10}}, ["optim.steps=20", "loss.pixel=mse"])
    {'optim': {'steps': 20}, 'loss': {'pixel': 'mse'}}
    """
    out = {table: dict(value) if isinstance(value, dict) else value
           for table, value in d.items()}
    for item in overrides:
        where, sep, text = item.partition("=")
        table, dot, key = where.strip().partition(".")
        if not (sep and dot and table and key and "." not in key):
            raise ConfigError(f"--set {item!r}: expected TABLE.KEY=VALUE, e.g. optim.steps=2000")
        try:
            value = tomllib.loads(f"v = {text.strip()}")["v"]
        except tomllib.TOMLDecodeError:
            value = text.strip()
        section = out.setdefault(table, {})
        if not isinstance(section, dict):
            raise ConfigError(f"--set {item!r}: {table} is not a table")
        section[key] = value
    return out


def load_config(path: str | Path, overrides: Iterable[str] = ()) -> TrainConfig:
    """Read a training config from a TOML file (see ``configs/*.toml``), then ``overrides``."""
    d = read_toml(path, "config", ConfigError)
    return config_from_dict(apply_overrides(d, overrides), source=str(Path(path)))
