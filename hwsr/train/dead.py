"""Dead channels: hidden channels of the engine whose ReLU never fires on validation frames.

A channel that outputs 0 on every pixel of every validation crop costs its multipliers and
its line buffer and contributes nothing. A dual pair whose Net2 lost most of its last
hidden layer has fallen back to its residual path (nearest ×3 plus a constant), the failure
input distillation can cause (docs/ladder.md). The check rides on the validation forward:
a forward hook after each hidden ReLU keeps every channel's running maximum, and a channel
is dead if that maximum is still 0 (exactly: ReLU outputs are >= 0; an int8 engine's
quantized activations count as firing only from their first nonzero code up).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import torch
from torch import nn

from hwsr.arch.engine_net import EngineNet
from hwsr.spec import Activation


def engine_nets(model: nn.Module) -> list[tuple[str, EngineNet]]:
    """The engine stages of ``model`` by name: ``net`` for one EngineNet, else its
    EngineNet children (``net1``, ``net2`` of a dual pair); [] for other architectures."""
    if isinstance(model, EngineNet):
        return [("net", model)]
    return [(name, m) for name, m in model.named_children() if isinstance(m, EngineNet)]


def _relu_layers(net: EngineNet) -> list[int]:
    """Indices of the hidden layers (all but the last) whose activation is ReLU."""
    layers = net.spec.layers
    return [i for i in range(len(layers) - 1) if layers[i].activation is Activation.RELU]


class FiringProbe:
    """Running per-channel maximum after every hidden ReLU of ``model``'s engine stages."""

    def __init__(self, model: nn.Module) -> None:
        self.nets = engine_nets(model)
        self.peak: dict[tuple[str, int], torch.Tensor] = {}
        self._handles: list[Any] = []

    def _hook(self, key: tuple[str, int]) -> Any:
        def record(_module: nn.Module, _inputs: Any, output: Any) -> None:
            plain = output if isinstance(output, torch.Tensor) else output.value  # QuantTensor
            peak = plain.detach().amax(dim=(0, 2, 3)).cpu()
            old = self.peak.get(key)
            self.peak[key] = peak if old is None else torch.maximum(old, peak)

        return record

    def attach(self) -> FiringProbe:
        for name, net in self.nets:
            for i in _relu_layers(net):
                self._handles.append(net.acts[i].register_forward_hook(self._hook((name, i))))
        return self

    def detach(self) -> None:
        for h in self._handles:
            h.remove()
        self._handles.clear()

    def dead_shares(self) -> dict[str, list[float]]:
        """Per stage, per hidden ReLU layer in order: the share of channels never above 0."""
        out: dict[str, list[float]] = {}
        for name, net in self.nets:
            shares = []
            for i in _relu_layers(net):
                peak = self.peak.get((name, i))
                if peak is None:  # the stage did not run: nothing measured
                    break
                shares.append(int((peak <= 0).sum()) / peak.numel())
            if shares:
                out[name] = shares
        return out


@contextmanager
def probing(model: nn.Module) -> Iterator[FiringProbe]:
    """Attach a :class:`FiringProbe` for the forwards inside the ``with`` block."""
    probe = FiringProbe(model).attach()
    try:
        yield probe
    finally:
        probe.detach()


@torch.no_grad()
def dead_channels(model: nn.Module, lrs: list[torch.Tensor],
                  device: torch.device | None = None) -> dict[str, list[float]]:
    """Dead-channel shares of ``model`` (eval mode) over the video-LR frames ``lrs``.

    >>> from hwsr.zoo import load_engine
    >>> from hwsr.arch.engine_net import build_dual
    >>> pair = build_dual(load_engine("hwsr-s").spec)
    >>> for conv in pair.net2.convs[:-1]:
    ...     _ = torch.nn.init.constant_(conv.bias, -1.0)
    >>> _ = torch.nn.init.zeros_(pair.net2.convs[0].weight)
    >>> dead_channels(pair, [torch.rand(1, 3, 8, 8)])["net2"][0]
    1.0
    """
    was_training = model.training
    model.eval()
    try:
        with probing(model) as probe:
            for lr in lrs:
                model(lr if device is None else lr.to(device))
    finally:
        model.train(was_training)
    return probe.dead_shares()


def model_dead_channels(model: str, data_dir: Path | str, frames: int = 0,
                        crop_lr_px: int = 0) -> dict[str, dict[str, list[float]]]:
    """Dead-channel shares of a dual model's float pair and (if it has one) its Brevitas
    int8 pair, on ``data_dir``'s validation frames: {"float": ..., "int8": ...}."""
    from hwsr.train.batches import val_frames
    from hwsr.zoo import load_engine

    lrs = [f.lr for f in val_frames(data_dir, frames, crop_lr_px)]
    if not lrs:
        raise ValueError(f"{data_dir}: the dataset has no validation frames")
    bundle = load_engine(model)
    out = {"float": dead_channels(bundle.float_dual(), lrs)}
    if bundle.has("quant"):
        out["int8"] = dead_channels(bundle.quant_dual(), lrs)
    return out


def last_hidden_dead(shares: dict[str, list[float]]) -> tuple[str, float] | None:
    """(stage, share) of the stage whose last hidden ReLU layer lost the largest share of
    its channels (None if nothing was measured).

    >>> last_hidden_dead({"net1": [0.0, 0.25], "net2": [0.0, 0.75]})
    ('net2', 0.75)
    """
    last = [(s[-1], name) for name, s in shares.items() if s]
    if not last:
        return None
    share, name = max(last)
    return name, share


def format_shares(shares: dict[str, list[float]], width: int = 0) -> str:
    """One line: per stage, the dead share of each hidden layer in percent (and, given the
    layers' common ``width``, in channels).

    >>> format_shares({"net1": [0.0, 0.5], "net2": [0.25]})
    'net1 0 % / 50 %; net2 25 %'
    >>> format_shares({"net2": [0.05, 0.25]}, width=20)
    'net2 1/20 / 5/20'
    """
    def one(v: float) -> str:
        return f"{round(v * width)}/{width}" if width else f"{100 * v:.0f} %"

    return "; ".join(f"{name} " + " / ".join(one(v) for v in s) for name, s in shares.items())
