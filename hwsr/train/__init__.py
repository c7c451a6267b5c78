"""Training of the dual-stage engine: the paper's four rows, QAT, evaluation tables.

Public API:

* `TrainConfig`, `load_config`, `config_from_dict`, `ConfigError`: a run's typed config;
* `train` -> `TrainResult`: train or resume a run (float phase, then QAT for dual modes);
* `DualLoss`, `SingleLoss`: the objectives (L1, L2, input distillation with ``id_route``);
* `evaluate`, `format_tables`: paper-style Y-PSNR/SSIM tables (float and int8 program);
* `quantize_model`: ``hwsr quantize`` (calibrate, QAT fine-tune, freeze a float model).

Modules import torch and Brevitas, so this package imports them lazily by name.
"""

from __future__ import annotations

from typing import Any

_EXPORTS = {
    "ConfigError": "hwsr.train.config",
    "TrainConfig": "hwsr.train.config",
    "config_from_dict": "hwsr.train.config",
    "load_config": "hwsr.train.config",
    "DualLoss": "hwsr.train.losses",
    "SingleLoss": "hwsr.train.losses",
    "TrainResult": "hwsr.train.trainer",
    "train": "hwsr.train.trainer",
    "evaluate": "hwsr.train.evaluate",
    "format_tables": "hwsr.train.evaluate",
    "quantize_model": "hwsr.train.quantize",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'hwsr.train' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(_EXPORTS[name]), name)
