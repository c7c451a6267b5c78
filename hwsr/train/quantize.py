"""``hwsr quantize``: a trained float engine → calibrated, QAT-fine-tuned, frozen int8 engine.

The QAT phase of `hwsr.train.trainer` run alone: ``optim.steps = 0`` and the float weights
taken from the model folder. The loss settings and crop size of the float run are reused
from the metadata of its ``float.safetensors`` when present. The run's checkpoints live in
a work folder (resumable like any run); the model folder receives only
``quant.safetensors`` and ``program.npz``. :func:`refine_model` (``--refine-only``) brings
an int8 engine that exists closer to its float model, without calibrating: its activation
scales, and with ``--distill-steps`` first its weights.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path
from typing import Any

import torch
from safetensors import safe_open

from hwsr.atomic import atomic_paths, check_output
from hwsr.quant.calibrate import export_engine
from hwsr.quant.distill import DistillResult
from hwsr.quant.finish import DISTILL_STEP0, finish_engine
from hwsr.quant.refine import ScaleChange
from hwsr.train.batches import PatchBatches
from hwsr.train.config import (
    DataConfig,
    LossConfig,
    OptimConfig,
    QatConfig,
    RunConfig,
    TrainConfig,
)
from hwsr.train.trainer import TrainResult, train
from hwsr.zoo import FLOAT_FILE, PROGRAM_FILE, QUANT_FILE, ModelError, load_engine


def _hwsr_meta(path: Path) -> dict[str, Any]:
    """The ``hwsr`` metadata of a weights file (float or quant) written by save_weights."""
    with safe_open(str(path), framework="pt") as f:
        return json.loads((f.metadata() or {}).get("hwsr", "{}"))


def quant_config(model: str, data_dir: Path | str, steps: int, lr: float, calib_batches: int,
                 batch_size: int, work_dir: Path, seed: int = 0) -> TrainConfig:
    """The QAT-only training config for the float weights of ``model``."""
    bundle = load_engine(model)
    if bundle.folder is None or not (bundle.folder / FLOAT_FILE).is_file():
        raise ModelError(f"{model}: no float weights ({FLOAT_FILE}) to quantize")
    float_path = bundle.folder / FLOAT_FILE
    meta = _hwsr_meta(float_path)
    mode = meta.get("mode", "dual-id")
    if mode not in ("dual", "dual-id"):
        raise ModelError(f"{model}: a {mode} model is one network; the engine runs dual pairs")
    past = meta.get("config", {})
    loss = LossConfig(**past.get("loss", {}))
    crop = int(past.get("data", {}).get("crop_lr_px", DataConfig.crop_lr_px))
    return TrainConfig(
        run=RunConfig(mode=mode, name=f"quantize-{Path(bundle.name).name}",
                      model=str(bundle.folder), seed=seed, out_dir=Path(work_dir),
                      init_weights=str(float_path)),
        data=DataConfig(dir=Path(data_dir), crop_lr_px=crop, batch_size=batch_size),
        optim=OptimConfig(steps=0),
        loss=loss,
        qat=QatConfig(steps=steps, lr=lr, calib_batches=calib_batches),
    )


def _publish_pair(work: Path, dest: Path) -> None:
    """The QAT state and its integer program are one product: both replace the old pair, or
    neither does (written beside, then renamed in together)."""
    names = (QUANT_FILE, PROGRAM_FILE)
    with atomic_paths([dest / n for n in names]) as tmps:
        for name, tmp in zip(names, tmps, strict=True):
            shutil.copyfile(work / name, tmp)


def quantize_model(model: str, data_dir: Path | str, steps: int = 500, lr: float = 1e-4,
                   calib_batches: int = 16, batch_size: int = 16, work_dir: Path | None = None,
                   out_dir: Path | None = None, seed: int = 0,
                   progress: bool | None = None) -> TrainResult:
    """Calibrate, fine-tune and freeze ``model``; write its int8 files; return the summary."""
    folder = load_engine(model).folder
    if folder is None:
        raise ModelError(f"{model}: quantize needs a model folder with {FLOAT_FILE}, "
                         "not a program file")
    dest = Path(out_dir) if out_dir is not None else folder
    check_output(dest, "--out", is_dir=True)
    work = work_dir or Path("runs") / f"quantize-{folder.name}"
    cfg = quant_config(model, data_dir, steps, lr, calib_batches, batch_size, work, seed)
    result = train(cfg, progress=progress)
    dest.mkdir(exist_ok=True)
    _publish_pair(Path(work), dest)
    result.out_dir = str(dest)
    return result


REFINE_STEP0 = 2_000_000  # batch index of the first refinement batch (apart from training's)


def refine_model(model: str, data_dir: Path | str, batches: int = 8, batch_size: int = 16,
                 out_dir: Path | None = None, seed: int = 0, distill_steps: int = 0,
                 distill_batch_size: int = 32, equalize_rounds: int = 0,
                 ) -> tuple[DistillResult | None, list[ScaleChange]]:
    """Refine ``model``'s int8 engine against its float model: first, with ``distill_steps``
    > 0, distil its weights (:mod:`hwsr.quant.distill`); with ``equalize_rounds`` > 0,
    equalize its hidden channels by powers of two (:mod:`hwsr.quant.equalize`); then move its
    activation scales (:mod:`hwsr.quant.refine`). All decide on ``batches`` training batches
    of ``data_dir`` (whole stored patches). The new ``quant.safetensors`` and ``program.npz``
    pair is written atomically into ``out_dir`` (default: the model folder), the same pair
    again when nothing helped. Returns the distillation (None when not asked) and the scale
    moves kept."""
    bundle = load_engine(model)
    if bundle.folder is None:
        raise ModelError(f"{model}: refinement needs a model folder, not a program file")
    dest = Path(out_dir) if out_dir is not None else bundle.folder
    check_output(dest, "--out", is_dir=True)
    if batches < 1:
        raise ValueError(f"--refine-batches must be >= 1, got {batches}")
    if distill_steps < 0:
        raise ValueError(f"--distill-steps must be >= 0, got {distill_steps}")
    if equalize_rounds < 0:
        raise ValueError(f"--equalize-rounds must be >= 0, got {equalize_rounds}")
    qdual, fdual = bundle.quant_dual(), bundle.float_dual()
    patch = PatchBatches.patch_size(data_dir)
    pool = PatchBatches(data_dir, batch_size, patch, seed)
    meta = _hwsr_meta(bundle.folder / QUANT_FILE)
    earlier = {k: meta.pop(k) for k in ("distilled", "equalized_channels", "refined_scales")
               if k in meta}
    if earlier:  # a refinement of a refined engine: the record keeps every pass, oldest first
        meta["earlier_refinements"] = [*meta.get("earlier_refinements", []), earlier]
    train_pool = PatchBatches(data_dir, distill_batch_size, patch, seed) if distill_steps else pool

    def inputs(step: int) -> torch.Tensor:  # distillation batch ``step``
        return train_pool.full_batch(DISTILL_STEP0 + step).lr

    distilled, changes, record = finish_engine(
        qdual, fdual, [pool.full_batch(REFINE_STEP0 + i).lr for i in range(batches)],
        distill_steps, inputs, equalize_rounds)
    where = {"data": str(data_dir), "batches": batches, "seed": seed}
    if distilled is not None:
        meta["distilled"] = {**where, "batch_size": distill_batch_size, **record["distilled"]}
    if equalize_rounds:
        meta["equalized_channels"] = {**where, "rounds": equalize_rounds,
                                      "moves": record["equalized_channels"]}
    meta["refined_scales"] = {**where, "moves": record["refined_scales"]}
    dest.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=dest) as work:
        export_engine(qdual, work, meta)
        _publish_pair(Path(work), dest)
    return distilled, changes
