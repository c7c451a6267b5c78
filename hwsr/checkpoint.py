"""Weights and training state on disk: safetensors, written atomically, no pickle."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from torch import nn

from hwsr.atomic import atomic_write


class CheckpointError(ValueError):
    """A checkpoint that is missing, corrupt or does not fit the model."""


def save_weights(model: nn.Module, path: str | Path, metadata: dict[str, Any] | None = None) -> None:
    """Save a model's state dict (every tensor, Brevitas scale parameters included)."""
    state = {k: v.detach().contiguous().cpu() for k, v in model.state_dict().items()}
    meta = {"hwsr": json.dumps(metadata or {})}
    atomic_write(Path(path), lambda tmp: save_file(state, str(tmp), metadata=meta))


def load_weights(model: nn.Module, path: str | Path) -> dict[str, Any]:
    """Load weights saved by :func:`save_weights`; returns their metadata."""
    p = Path(path)
    if not p.is_file():
        raise CheckpointError(f"{p}: checkpoint not found")
    try:
        state = load_file(str(p))
        from safetensors import safe_open

        with safe_open(str(p), framework="pt") as f:
            meta = json.loads((f.metadata() or {}).get("hwsr", "{}"))
    except (SafetensorError, OSError, ValueError) as e:
        raise CheckpointError(f"{p}: not a readable checkpoint ({e})") from None
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as e:
        first = str(e).strip().splitlines()[0]
        raise CheckpointError(f"{p}: does not fit the model ({first})") from None
    return meta


def state_to_tensors(state: dict[str, Any], prefix: str) -> dict[str, torch.Tensor]:
    """Flatten a nested optimizer state into named tensors for safetensors."""
    out: dict[str, torch.Tensor] = {}
    for k, v in state.items():
        name = f"{prefix}{k}"
        if isinstance(v, dict):
            out.update(state_to_tensors(v, name + "."))
        elif isinstance(v, torch.Tensor):
            out[name] = v.detach().contiguous().cpu()
    return out
