"""Resumable training state on disk: one safetensors file, written atomically.

``ckpt.safetensors`` holds the model's state dict (``model.*``), Adam's per-parameter
state (``optim.<index>.<name>``), the torch RNG states (``rng.*``), the loss's own state
(``loss.*``: the EMA teacher of input distillation, when used) and, as JSON metadata,
the step, the phase (``float`` or ``qat``), Adam's param groups and the run's config. No
pickle. A kill at any moment leaves either the previous checkpoint or the new one.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import load_file, save_file
from torch import nn

from hwsr.atomic import atomic_write
from hwsr.checkpoint import CheckpointError, state_to_tensors

CKPT_FILE = "ckpt.safetensors"


@dataclass(frozen=True)
class TrainMeta:
    """Where a checkpointed run stands."""

    step: int  # optimizer steps done, over both phases
    phase: str  # "float" or "qat": which model the weights belong to
    elapsed_s: float  # wall time of the training steps so far (all sessions; no val, no ckpt)
    config: dict[str, Any]  # TrainConfig.to_dict() of the run that wrote it


def _rng_tensors() -> dict[str, torch.Tensor]:
    out = {"rng.torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        for i, s in enumerate(torch.cuda.get_rng_state_all()):
            out[f"rng.cuda.{i}"] = s
    return out


def save_state(path: Path, model: nn.Module, optimizer: torch.optim.Optimizer,
               meta: TrainMeta, loss_state: dict[str, torch.Tensor] | None = None) -> None:
    """Write model, optimizer, RNG and loss state with ``meta`` atomically to ``path``."""
    tensors = {f"model.{k}": v.detach().contiguous().cpu()
               for k, v in model.state_dict().items()}
    tensors.update({f"loss.{k}": v.detach().contiguous().cpu()
                    for k, v in (loss_state or {}).items()})
    opt_state = optimizer.state_dict()
    tensors.update(state_to_tensors(opt_state["state"], "optim."))
    tensors.update(_rng_tensors())
    doc = {"step": meta.step, "phase": meta.phase, "elapsed_s": meta.elapsed_s,
           "config": meta.config, "param_groups": opt_state["param_groups"]}
    atomic_write(Path(path), lambda tmp: save_file(tensors, str(tmp),
                                                   metadata={"hwsr_train": json.dumps(doc)}))


def _read_doc(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise CheckpointError(f"{path}: checkpoint not found")
    try:
        with safe_open(str(path), framework="pt") as f:
            return json.loads((f.metadata() or {})["hwsr_train"])
    except (SafetensorError, OSError, ValueError, KeyError) as e:
        raise CheckpointError(f"{path}: not a training checkpoint ({e})") from None


def read_meta(path: Path) -> TrainMeta:
    """Step, phase and config of a checkpoint, without loading its tensors."""
    doc = _read_doc(Path(path))
    return TrainMeta(int(doc["step"]), str(doc["phase"]), float(doc["elapsed_s"]),
                     doc["config"])


def _optimizer_state(tensors: dict[str, torch.Tensor],
                     param_groups: list[dict[str, Any]]) -> dict[str, Any]:
    state: dict[int, dict[str, torch.Tensor]] = {}
    for name, value in tensors.items():
        if name.startswith("optim."):
            index, key = name.removeprefix("optim.").split(".", 1)
            state.setdefault(int(index), {})[key] = value
    return {"state": state, "param_groups": param_groups}


def load_state(path: Path, model: nn.Module,
               make_optimizer: Callable[[nn.Module], torch.optim.Optimizer]
               ) -> tuple[TrainMeta, torch.optim.Optimizer]:
    """Restore model, optimizer and RNG state saved by :func:`save_state`; returns both.

    The optimizer is made by ``make_optimizer(model)`` *after* the weights are loaded:
    Brevitas may register a fresh ``Parameter`` for a scale while loading, and an optimizer
    built before would keep stepping the stale one.
    """
    path = Path(path)
    doc = _read_doc(path)
    tensors = load_file(str(path))
    weights = {k.removeprefix("model."): v for k, v in tensors.items() if k.startswith("model.")}
    try:
        model.load_state_dict(weights, strict=True)
        optimizer = make_optimizer(model)
        optimizer.load_state_dict(_optimizer_state(tensors, doc["param_groups"]))
    except (RuntimeError, ValueError, KeyError) as e:
        first = str(e).strip().splitlines()[0]
        raise CheckpointError(f"{path}: does not fit this run ({first})") from None
    torch.set_rng_state(tensors["rng.torch"])
    cuda = [tensors[k] for k in sorted(tensors) if k.startswith("rng.cuda.")]
    if cuda and torch.cuda.is_available() and len(cuda) == torch.cuda.device_count():
        torch.cuda.set_rng_state_all(cuda)
    return read_meta(path), optimizer


def load_loss_state(path: Path) -> dict[str, torch.Tensor]:
    """The loss's own state saved by :func:`save_state` (empty when it had none)."""
    return {k.removeprefix("loss."): v for k, v in load_file(str(path)).items()
            if k.startswith("loss.")}
