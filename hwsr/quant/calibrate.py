"""From a float engine to a frozen int8 engine: copy, calibrate, (fine-tune), export.

``quant_from_float`` builds the Brevitas twin and copies the float weights; ``calibrate``
sets every activation's power-of-two scale from statistics of real frames; QAT fine-tuning
is ordinary training of that model (see ``hwsr.train``); ``export_engine`` freezes it (eval
mode), lowers both stages to the integer program and writes the model folder's files.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import torch
from brevitas.graph.calibrate import calibration_mode

from hwsr.arch.engine_net import DualStageSR
from hwsr.checkpoint import save_weights
from hwsr.program import EngineProgram, save_program
from hwsr.quant.lower import lower_dual
from hwsr.quant.model import QuantEngineNet, build_quant_dual

log = logging.getLogger(__name__)


def quant_from_float(float_dual: DualStageSR) -> DualStageSR:
    """The Brevitas dual engine with the float model's weights (scales still uncalibrated)."""
    spec = float_dual.net2.spec
    qdual = build_quant_dual(spec)
    for qnet, fnet in ((qdual.net1, float_dual.net1), (qdual.net2, float_dual.net2)):
        for qc, fc in zip(qnet.convs, fnet.convs, strict=True):
            with torch.no_grad():
                qc.weight.copy_(fc.weight)
                qc.bias.copy_(fc.bias)
    return qdual


def calibrate(qdual: DualStageSR, batches: Iterable[torch.Tensor], max_batches: int = 16) -> int:
    """Set activation scales from statistics of LR batches (NCHW, code/256); returns count.

    Runs the dual engine with quantization disabled while Brevitas collects each
    activation's statistics, then leaves the model in training mode for QAT.
    """
    n = 0
    qdual.train()
    with torch.no_grad(), calibration_mode(qdual):
        for lr in batches:
            qdual(lr)
            n += 1
            if n >= max_batches:
                break
    if n == 0:
        raise ValueError("calibration needs at least one batch of frames")
    log.info("calibrated activation scales on %d batches", n)
    return n


def freeze(qdual: DualStageSR) -> DualStageSR:
    """Eval mode: every scale fixed at its power of two, ready for lowering."""
    return qdual.eval()


def export_engine(
    qdual: DualStageSR, folder: str | Path, metadata: dict[str, Any] | None = None
) -> EngineProgram:
    """Freeze, lower and write ``quant.safetensors`` and ``program.npz`` into ``folder``."""
    from hwsr.zoo import PROGRAM_FILE, QUANT_FILE

    qdual = freeze(qdual)
    assert isinstance(qdual.net1, QuantEngineNet) and isinstance(qdual.net2, QuantEngineNet)
    program = lower_dual(qdual.net1, qdual.net2)
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    save_weights(qdual, out / QUANT_FILE, metadata)
    save_program(program, out / PROGRAM_FILE)
    return program
