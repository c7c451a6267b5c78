"""The trainer of the paper's four rows: float phase, then (dual modes) a QAT phase.

One step counter runs through both phases: steps ``0 .. optim.steps`` train the float
model with Adam (linear warm-up, cosine decay); at ``optim.steps`` the float weights are
saved, copied into the Brevitas engine (`hwsr.quant.calibrate.quant_from_float`), its
activation scales calibrated on training batches, and ``qat.steps`` more steps fine-tune
it; the frozen result is lowered and exported (``quant.safetensors``, ``program.npz``),
so the shipped engine is the int8 one.

Seeded and reproducible: initialisation comes from ``run.seed``, every batch from
``(seed, step)`` (`hwsr.train.batches`), calibration from fixed batches. A checkpoint
(weights, Adam state, RNG, step) is written atomically every ``ckpt_every_steps``; rerunning
the same command resumes from it and reaches the same weights as an uninterrupted run.
"""

from __future__ import annotations

import logging
import math
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn
from tqdm import tqdm

from hwsr.atomic import json_text
from hwsr.checkpoint import CheckpointError, load_weights, save_weights
from hwsr.quant.calibrate import calibrate, export_engine, quant_from_float
from hwsr.quant.finish import DISTILL_STEP0, finish_engine
from hwsr.spec import spec_to_dict
from hwsr.train import artifacts, ddp
from hwsr.train.batches import PatchBatches, val_frames
from hwsr.train.config import TrainConfig, with_defaults
from hwsr.train.dead import format_shares, last_hidden_dead, probing
from hwsr.train.losses import DualLoss, SingleLoss
from hwsr.train.nets import build_model
from hwsr.train.state import (
    CKPT_FILE,
    TrainMeta,
    load_loss_state,
    load_state,
    read_meta,
    save_state,
)
from hwsr.train.validate import bicubic_floor, validate
from hwsr.zoo import FLOAT_FILE, PROGRAM_FILE, QUANT_FILE, load_engine

log = logging.getLogger(__name__)

CALIB_STEP0 = 1 << 40  # batch ids of calibration: far from every training step
REFINE_STEP0 = CALIB_STEP0 + (1 << 20)  # batch ids of the scale refinement
_RESUME_SECTIONS = ("run", "data", "optim", "loss", "qat")  # must match to resume


def lr_at(step: int, cfg: TrainConfig) -> float:
    """Learning rate of ``step``: warm-up and cosine (float), then a cosine to lr/10 (QAT).

    >>> from hwsr.train.config import TrainConfig, OptimConfig
    >>> cfg = TrainConfig(optim=OptimConfig(steps=100, lr=1e-3, min_lr=0.0, warmup_steps=0))
    >>> lr_at(0, cfg), round(lr_at(50, cfg), 6)
    (0.001, 0.0005)
    """
    o, q = cfg.optim, cfg.qat
    if step < o.steps:
        if step < o.warmup_steps:
            return o.lr * (step + 1) / o.warmup_steps
        t = (step - o.warmup_steps) / max(1, o.steps - o.warmup_steps)
        return o.min_lr + 0.5 * (o.lr - o.min_lr) * (1.0 + math.cos(math.pi * t))
    t = (step - o.steps) / max(1, q.steps)
    low = 0.1 * q.lr
    return low + 0.5 * (q.lr - low) * (1.0 + math.cos(math.pi * t))


def loss_module(model: nn.Module, cfg: TrainConfig) -> nn.Module:
    """The objective of ``cfg.run.mode`` around ``model`` (the module DDP wraps)."""
    mode, loss = cfg.run.mode, cfg.loss
    if cfg.run.dual:
        lam_id = loss.lambda_id if mode == "dual-id" else 0.0
        return DualLoss(model, loss.lambda_net1, loss.lambda_net2, lam_id, loss.id_route,
                        loss.pixel, loss.id_features, loss.id_distance, loss.id_warmup_steps,
                        loss.id_teacher_ema, loss.id_decay_steps, cfg.optim.steps)
    return SingleLoss(model, "dhr" if mode == "baseline" else "lr", loss.pixel)


@dataclass
class TrainResult:
    """Summary of a finished run (also written to ``result.json``)."""

    out_dir: str
    mode: str
    steps: int
    elapsed_s: float
    val_psnr_db: float
    val_bicubic_db: float
    files: list[str] = field(default_factory=list)
    # per engine stage, per hidden ReLU layer: share of channels that never fired on the
    # last validation's frames (hwsr.train.dead); {} before any validation
    dead_channels: dict[str, list[float]] = field(default_factory=dict)

    @property
    def val_gain_db(self) -> float:
        return self.val_psnr_db - self.val_bicubic_db


class Trainer:
    """One run of ``cfg``; :meth:`fit` trains (or resumes) to the end and exports."""

    def __init__(self, cfg: TrainConfig, progress: bool | None = None,
                 info: ddp.DistInfo | None = None) -> None:
        self.cfg = cfg
        self.info = info if info is not None else ddp.init_from_env()
        self.device = ddp.pick_device(self.info)
        self.out = Path(cfg.run.out_dir)
        self.progress = sys.stderr.isatty() if progress is None else progress
        torch.set_num_threads(cfg.schedule.threads)
        self.spec = load_engine(cfg.run.model).spec
        self.batches = PatchBatches(cfg.data.dir, cfg.data.batch_size, cfg.data.crop_lr_px,
                                    cfg.run.seed, self.info.rank, self.info.world,
                                    mix=cfg.data.mix)
        self.val = val_frames(cfg.data.dir, cfg.data.val_frames, cfg.data.val_crop_lr_px)
        self.floor_db = bicubic_floor(self.val) if self.info.is_main else math.nan
        self.step, self.phase, self.elapsed_s = 0, "float", 0.0
        self.last_val_db = math.nan
        self.last_dead: dict[str, list[float]] = {}
        self.model: nn.Module = nn.Identity()
        self.optimizer: torch.optim.Optimizer | None = None
        self.wrapped: nn.Module = nn.Identity()
        self.loss: nn.Module = nn.Identity()

    # -- set-up -----------------------------------------------------------------------------
    def _set_model(self, model: nn.Module, lr: float, load_from: Path | None = None) -> None:
        """Make ``model`` the trained one: its optimizer, its loss, DDP around both.

        With ``load_from``, its weights and optimizer state come from that checkpoint.
        """
        self.model = model.to(self.device)

        def make(m: nn.Module) -> torch.optim.Optimizer:
            return torch.optim.Adam(m.parameters(), lr=lr)

        if load_from is None:
            self.optimizer = make(self.model)
        else:
            _, self.optimizer = load_state(load_from, self.model, make)
        self.loss = loss_module(self.model, self.cfg)
        if load_from is not None and isinstance(self.loss, DualLoss):
            self.loss.load_loss_state(load_loss_state(load_from))
        self.wrapped = ddp.wrap(self.loss, self.info, self.device)

    def _float_model(self) -> nn.Module:
        torch.manual_seed(self.cfg.run.seed)
        run = self.cfg.run
        return build_model(self.spec, run.mode, run.single_width, run.arch)

    def resume_or_init(self) -> None:
        """Load ``ckpt.safetensors`` of ``run.out_dir`` if there is one, else initialise."""
        ckpt = self.out / CKPT_FILE
        model = self._float_model()
        if self.cfg.run.init_weights:
            load_weights(model, self.cfg.run.init_weights)
        if not ckpt.is_file():
            self._set_model(model, self.cfg.optim.lr)
            return
        meta = read_meta(ckpt)
        mine = self.cfg.to_dict()
        for section in _RESUME_SECTIONS:
            recorded = with_defaults(meta.config).get(section, {})
            theirs = {k: v for k, v in recorded.items() if k != "out_dir"}
            if theirs != {k: v for k, v in mine[section].items() if k != "out_dir"}:
                raise CheckpointError(f"{ckpt}: written by a run with a different [{section}] "
                                      "config; delete it or choose another run.out_dir")
        if meta.phase == "qat":
            model = quant_from_float(model)
        self._set_model(model, self.cfg.optim.lr, load_from=ckpt)
        self.step, self.phase, self.elapsed_s = meta.step, meta.phase, meta.elapsed_s
        artifacts.truncate_metrics(self.out, self.step)
        log.info("resumed %s at step %d (%s phase)", ckpt, self.step, self.phase)

    # -- the loop ---------------------------------------------------------------------------
    def train_step(self) -> dict[str, float]:
        """One optimizer step on this rank's share of batch ``self.step``."""
        assert self.optimizer is not None
        for group in self.optimizer.param_groups:
            group["lr"] = lr_at(self.step, self.cfg)
        b = self.batches.batch(self.step).to(self.device)
        loss, parts = self.wrapped(b.lr, b.dhr, b.hr, step=self.step)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if self.cfg.optim.grad_clip_norm > 0:
            nn.utils.clip_grad_norm_(self.model.parameters(), self.cfg.optim.grad_clip_norm)
        self.optimizer.step()
        self.step += 1
        return {k: float(ddp.all_mean(v, self.info)) for k, v in parts.items()}

    def _run_until(self, end: int, bar: tqdm) -> None:
        sched = self.cfg.schedule
        t0 = time.perf_counter()
        while self.step < end:
            parts = self.train_step()
            now = time.perf_counter()
            self.elapsed_s += now - t0
            t0 = now
            bar.update(1)
            record: dict[str, Any] = {}
            if self.step % sched.log_every_steps == 0 or self.step == end:
                record.update(parts)
            if self.step % sched.val_every_steps == 0 or self.step == end:
                record.update(self._validate())
            if record and self.info.is_main:
                record.update(step=self.step, phase=self.phase,
                              lr=lr_at(self.step - 1, self.cfg), elapsed_s=self.elapsed_s)
                artifacts.append_metrics(self.out, record)
                log.info("step %d/%d %s loss %.5f val %.2f dB (bicubic %.2f) %.0f s",
                         self.step, self.cfg.total_steps, self.phase, parts["loss"],
                         self.last_val_db, self.floor_db, self.elapsed_s)
                bar.set_postfix(loss=f"{parts['loss']:.4f}", psnr=f"{self.last_val_db:.2f}")
            if self.step % sched.ckpt_every_steps == 0 or self.step == end:
                self.save_checkpoint()
            t0 = time.perf_counter()

    def _validate(self) -> dict[str, Any]:
        if not self.info.is_main or not self.val:
            return {}
        with probing(self.model) as probe:
            self.last_val_db = validate(self.model, self.val, self.device)
        self.last_dead = probe.dead_shares()
        record: dict[str, Any] = {"val_psnr_db": self.last_val_db,
                                  "val_bicubic_db": self.floor_db,
                                  "val_gain_db": self.last_val_db - self.floor_db}
        if self.last_dead:
            log.info("step %d dead channels per hidden layer: %s", self.step,
                     format_shares(self.last_dead))
            record["dead_channels"] = self.last_dead
        return record

    def save_checkpoint(self) -> None:
        """Atomic resumable checkpoint (rank 0 writes; every rank waits for it)."""
        if self.info.is_main:
            assert self.optimizer is not None
            meta = TrainMeta(self.step, self.phase, self.elapsed_s, self.cfg.to_dict())
            extra = self.loss.loss_state() if isinstance(self.loss, DualLoss) else None
            save_state(self.out / CKPT_FILE, self.model, self.optimizer, meta, extra)
        ddp.barrier(self.info)

    # -- phases -----------------------------------------------------------------------------
    def _metadata(self) -> dict[str, Any]:
        trained = getattr(self.model, "spec", None) or self.spec
        return {"mode": self.cfg.run.mode, "arch": self.cfg.run.arch,
                "spec": spec_to_dict(trained),
                "steps": self.step, "elapsed_s": round(self.elapsed_s, 1),
                "val_psnr_db": self.last_val_db, "val_bicubic_db": self.floor_db,
                "dead_channels": self.last_dead, "config": self.cfg.to_dict()}

    def _write_float(self) -> None:
        if self.info.is_main:
            save_weights(self.model, self.out / FLOAT_FILE, self._metadata())
            trained = getattr(self.model, "spec", None) or self.spec
            what = (f"spec trained by run {self.cfg.run.name} ({self.cfg.run.mode})"
                    if self.cfg.run.arch == "engine" else
                    f"engine spec named by run {self.cfg.run.name}, which trained the float "
                    f"reference {self.cfg.run.arch!r} ({self.cfg.run.mode}), not this network")
            artifacts.write_text(self.out / "engine.toml", artifacts.spec_toml(trained, what))

    def _start_qat(self) -> None:
        """Float weights → Brevitas engine, scales calibrated on fixed training batches."""
        qdual = quant_from_float(self.model)
        calib = (self.batches.full_batch(CALIB_STEP0 + i).lr
                 for i in range(self.cfg.qat.calib_batches))
        calibrate(qdual, calib, max_batches=self.cfg.qat.calib_batches)
        self.phase = "qat"
        self._set_model(qdual, self.cfg.qat.lr)
        log.info("QAT phase: calibrated on %d batches", self.cfg.qat.calib_batches)

    def fit(self, stop_at_step: int | None = None) -> TrainResult:
        """Train both phases to the end (resuming if a checkpoint exists) and export.

        ``stop_at_step`` ends the session early, just after a checkpoint at that step, as
        an interruption would (tests use it; rerunning resumes from there).
        """
        self.out.mkdir(parents=True, exist_ok=True)
        self.resume_or_init()
        cfg = self.cfg
        stop = cfg.total_steps if stop_at_step is None else min(stop_at_step, cfg.total_steps)
        bar = tqdm(total=cfg.total_steps, initial=self.step, desc=cfg.run.name,
                   disable=not (self.progress and self.info.is_main), dynamic_ncols=True)
        with bar:
            if self.phase == "float" and cfg.optim.steps > 0:
                self._run_until(min(cfg.optim.steps, stop), bar)
                if self.step < cfg.optim.steps:
                    return self._result()
                self._write_float()
            if cfg.qat.steps > 0:
                ran = self.step < stop
                if ran:
                    if self.phase == "float":
                        self._start_qat()
                    self._run_until(stop, bar)
                if self.step < cfg.total_steps:
                    return self._result()
                # export at the end, and also on a rerun of a run killed after its last
                # checkpoint but before (or while) the engine was written
                if self.info.is_main and (ran or not self._exported()):
                    meta = self._metadata()
                    meta.update(self._finish_engine())
                    export_engine(self.model, self.out, meta)
        return self._result()

    def _finish_engine(self) -> dict[str, Any]:
        """``qat.refine_batches`` > 0: bring the frozen engine closer to the float model
        (:mod:`hwsr.quant.finish`: ``qat.distill_steps`` of distillation, ``qat.equalize_rounds``
        of channel equalization, then the activation scales); the metadata record of what was
        kept, else {}."""
        n = self.cfg.qat.refine_batches
        if n == 0:
            return {}
        float_model = self._float_model()
        saved = self.out / FLOAT_FILE
        load_weights(float_model, saved if saved.is_file() else self.cfg.run.init_weights)
        lrs = [self.batches.full_batch(REFINE_STEP0 + i).lr.to(self.device) for i in range(n)]
        _, changes, record = finish_engine(
            self.model, float_model.to(self.device), lrs, self.cfg.qat.distill_steps,
            lambda step: self.batches.full_batch(DISTILL_STEP0 + step).lr.to(self.device),
            self.cfg.qat.equalize_rounds)
        log.info("refined %d activation scales on %d batches", len(changes), n)
        return record

    def _exported(self) -> bool:
        return all((self.out / name).is_file() for name in (QUANT_FILE, PROGRAM_FILE))

    def _result(self) -> TrainResult:
        files = sorted(p.name for p in self.out.iterdir() if p.is_file())
        result = TrainResult(str(self.out), self.cfg.run.mode, self.step,
                             round(self.elapsed_s, 1), self.last_val_db, self.floor_db, files,
                             self.last_dead)
        if self.info.is_main:
            worst = last_hidden_dead(self.last_dead)
            doc = {**result.__dict__, "val_gain_db": result.val_gain_db,
                   "last_hidden_dead": worst[1] if worst else None,
                   "last_hidden_dead_stage": worst[0] if worst else None}
            artifacts.write_text(self.out / artifacts.RESULT_FILE, json_text(doc, indent=2))
        return result


def train(cfg: TrainConfig, progress: bool | None = None,
          stop_at_step: int | None = None) -> TrainResult:
    """Run (or resume) ``cfg`` to the end; under torchrun, every process calls this."""
    info = ddp.init_from_env()
    try:
        return Trainer(cfg, progress=progress, info=info).fit(stop_at_step)
    finally:
        ddp.shutdown(info)
