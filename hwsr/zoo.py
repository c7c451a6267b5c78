"""Model zoo: engine specs and trained checkpoints under ``models/<name>/``.

A model folder holds::

    engine.toml          the EngineSpec of Net2 (Net1 is derived from it)
    CARD.md              the model card: data, training, measured quality
    float.safetensors    float weights of the dual-stage engine (optional)
    quant.safetensors    Brevitas QAT state of the dual-stage engine (optional)
    program.npz          the lowered integer program the simulator runs (optional)

``--model`` accepts a zoo name (``hwsr-s``), a model folder, a ``program.npz`` file or an
``engine.toml`` file. The zoo folder is ``$HWSR_MODELS`` or the repository's ``models/``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the loaders import numba and torch: only when a model is loaded
    from hwsr.arch.engine_net import DualStageSR
    from hwsr.program import EngineProgram
    from hwsr.spec import EngineSpec

DEFAULT_MODEL = "hwsr-s"
SPEC_FILE = "engine.toml"
PROGRAM_FILE = "program.npz"
FLOAT_FILE = "float.safetensors"
QUANT_FILE = "quant.safetensors"


class ModelError(ValueError):
    """A model that cannot be found or does not hold what was asked of it."""


def models_dir() -> Path:
    env = os.environ.get("HWSR_MODELS")
    return Path(env) if env else Path(__file__).resolve().parent / "models"


def list_models() -> list[str]:
    d = models_dir()
    return sorted(p.name for p in d.iterdir() if (p / SPEC_FILE).is_file()) if d.is_dir() else []


@dataclass(frozen=True)
class EngineBundle:
    """What is known of one engine model: its spec and where its artefacts lie."""

    name: str  # zoo name or the path given
    spec: EngineSpec  # Net2's spec
    folder: Path | None  # model folder, when there is one
    program_path: Path | None  # integer program, when there is one

    def _file(self, name: str) -> Path | None:
        return self.folder / name if self.folder is not None else None

    def program(self) -> EngineProgram:
        """The integer program; refuses one whose spec differs from the model's spec."""
        from hwsr.program import ProgramError, load_program

        if self.program_path is None or not self.program_path.is_file():
            raise ModelError(
                f"{self.name}: no integer program ({PROGRAM_FILE}); train or quantize it first "
                "(hwsr train / hwsr quantize)"
            )
        prog = load_program(self.program_path)
        if prog.net2.spec != self.spec:
            raise ProgramError(f"{self.program_path}: program's spec does not match {SPEC_FILE}")
        return prog

    def has(self, what: str) -> bool:
        p = self._file({"float": FLOAT_FILE, "quant": QUANT_FILE}[what])
        return p is not None and p.is_file()

    def _loaded(self, model: DualStageSR, file: str, what: str) -> DualStageSR:
        from hwsr.checkpoint import load_weights

        path = self._file(file)
        if path is None or not path.is_file():
            raise ModelError(f"{self.name}: no {what} weights ({file})")
        load_weights(model, path)
        return model.eval()

    def float_dual(self) -> DualStageSR:
        """Float dual-stage engine with trained weights."""
        from hwsr.arch.engine_net import build_dual

        return self._loaded(build_dual(self.spec), FLOAT_FILE, "float")

    def quant_dual(self) -> DualStageSR:
        """Brevitas dual-stage engine with its QAT state, in eval mode."""
        from hwsr.quant import build_quant_dual

        return self._loaded(build_quant_dual(self.spec), QUANT_FILE, "quantized")


def load_engine(name_or_path: str | Path = DEFAULT_MODEL) -> EngineBundle:
    """Resolve ``--model``: a zoo name, a model folder, a program .npz or an engine.toml."""
    from hwsr.program import load_program
    from hwsr.spec import load_spec

    p = find_model(name_or_path)
    if p.suffix == ".npz":
        prog = load_program(p)
        return EngineBundle(str(p), prog.net2.spec, None, p)
    if p.suffix == ".toml":
        return EngineBundle(str(p), load_spec(p), p.parent, p.parent / PROGRAM_FILE)
    return EngineBundle(str(name_or_path), load_spec(p / SPEC_FILE), p, p / PROGRAM_FILE)


def find_model(name_or_path: str | Path = DEFAULT_MODEL) -> Path:
    """Where ``--model`` points (a program .npz, an engine.toml or a model folder), checked
    to exist without loading anything: the refusal comes before any work.

    >>> find_model("no-such-model-xyz")
    Traceback (most recent call last):
    ...
    hwsr.zoo.ModelError: no-such-model-xyz: no such model (known models: hwsr-s)
    """
    p = Path(name_or_path)
    if p.suffix == ".npz":
        if not p.is_file():
            raise ModelError(f"{p}: program file not found")
        return p
    if p.suffix == ".toml":
        if not p.is_file():
            raise ModelError(f"{p}: engine spec not found")
        return p
    folder = p if p.is_dir() else models_dir() / str(name_or_path)
    if not (folder / SPEC_FILE).is_file():
        known = ", ".join(list_models()) or "none"
        raise ModelError(f"{name_or_path}: no such model (known models: {known})")
    return folder
