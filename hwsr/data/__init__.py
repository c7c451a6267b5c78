"""HD2UHD-style training data: aligned (video-LR, dHR, HR) triples from one's own UHD material.

HR is a UHD frame (video, or a still turned into a short camera clip); dHR is HR shrunk
×1/3 by `hwsr.resize.imresize`; video-LR is the dHR clip coded by a real encoder (x264 by
default, through PyAV) and decoded again, so Net1 learns to undo real codec damage.

Public API:

* `BuildConfig`, `build_dataset` -> `Manifest`: build a dataset folder atomically;
* `TripletDataset`, `ValFrames`, `make_loader`, `Triple`, `codes_to_values`: read it;
* `DataError`: the one-line refusal of a bad source or setting;
* `register_cli`: the ``hwsr data build`` subcommand.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

# Lazy exports: ``hwsr data --help`` (and every other hwsr command, whose parser registers
# this package's subcommand) must not pay for importing torch and PyAV.
_EXPORTS = {
    "SCALE": "hwsr.data.config",
    "BuildConfig": "hwsr.data.config",
    "DataError": "hwsr.data.config",
    "Manifest": "hwsr.data.manifest",
    "SourceRecord": "hwsr.data.manifest",
    "Triple": "hwsr.data.dataset",
    "TripletDataset": "hwsr.data.dataset",
    "ValFrames": "hwsr.data.dataset",
    "codes_to_values": "hwsr.data.dataset",
    "make_loader": "hwsr.data.dataset",
    "build_dataset": "hwsr.data.build",
    "register_cli": "hwsr.data.cli",
}
__all__ = [
    "SCALE",
    "BuildConfig",
    "DataError",
    "Manifest",
    "SourceRecord",
    "Triple",
    "TripletDataset",
    "ValFrames",
    "build_dataset",
    "codes_to_values",
    "make_loader",
    "register_cli",
]

if TYPE_CHECKING:
    from hwsr.data.build import build_dataset
    from hwsr.data.cli import register_cli
    from hwsr.data.config import SCALE, BuildConfig, DataError
    from hwsr.data.dataset import Triple, TripletDataset, ValFrames, codes_to_values, make_loader
    from hwsr.data.manifest import Manifest, SourceRecord


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module 'hwsr.data' has no attribute {name!r}")
    value = getattr(importlib.import_module(_EXPORTS[name]), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))
