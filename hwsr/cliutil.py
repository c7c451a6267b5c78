"""What every ``hwsr`` subcommand shares before any work: help layout, lazy choices, checks.

This module imports nothing heavy (no numpy, numba, torch or onnx): ``hwsr --help``, ``hwsr
CMD --help`` and every refusal of an option or a path answer before any of those would load.
"""

from __future__ import annotations

import argparse
import ast
import importlib
import importlib.util
import math
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, overload

_NO_DEFAULT: tuple[object, ...] = (None, False, [], (), "", argparse.SUPPRESS)


class HelpFormatter(argparse.HelpFormatter):
    """argparse's layout, with each option's default shown where its help does not say it."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        text = action.help or ""
        if "default" in text or not action.option_strings or _no_default(action.default):
            return text
        return f"{text} (default: %(default)s)" if text else "default: %(default)s"


def _no_default(value: object) -> bool:
    return any(value is d or (type(value) is type(d) and value == d) for d in _NO_DEFAULT)


class Parser(argparse.ArgumentParser):
    """The parser of ``hwsr`` and every subcommand: defaults shown in every help."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", HelpFormatter)
        super().__init__(*args, **kwargs)

    def add_argument(self, *args: Any, **kwargs: Any) -> argparse.Action:
        """As argparse's, but an option without help still shows its default."""
        if kwargs.get("help") is None and not _no_default(kwargs.get("default")):
            kwargs["help"] = "default: %(default)s"
        return super().add_argument(*args, **kwargs)


class LazyChoices(Sequence[str]):
    """The choices of an option: ``module.name``, read only when argparse needs them.

    The stage list lives in :mod:`hwsr.spec`, which loads numba (0.2 s). While that module is
    not loaded, the list is read from its source (the literal assigned to ``name``), so
    neither a refusal nor ``--help`` pays for numba; once it is loaded, from the module.
    """

    def __init__(self, module: str, name: str) -> None:
        self._where = (module, name)
        self._values: tuple[str, ...] | None = None

    def _load(self) -> tuple[str, ...]:
        if self._values is None:
            module, name = self._where
            loaded = sys.modules.get(module)
            value = getattr(loaded, name) if loaded else _source_literal(module, name)
            if value is None:
                value = getattr(importlib.import_module(module), name)
            self._values = tuple(value)
        return self._values

    @overload
    def __getitem__(self, i: int) -> str: ...
    @overload
    def __getitem__(self, i: slice) -> Sequence[str]: ...
    def __getitem__(self, i: int | slice) -> str | Sequence[str]:
        return self._load()[i]

    def __len__(self) -> int:
        return len(self._load())

    def __iter__(self) -> Iterator[str]:
        return iter(self._load())

    def __contains__(self, value: object) -> bool:
        return value in self._load()


def _source_literal(module: str, name: str) -> Any:
    """The literal ``module`` assigns to ``name`` at its top level, read without running it;
    None when there is none."""
    spec = importlib.util.find_spec(module)
    if spec is None or spec.origin is None or not spec.origin.endswith(".py"):
        return None
    for node in ast.parse(Path(spec.origin).read_text(encoding="utf-8")).body:
        if (isinstance(node, ast.Assign) and len(node.targets) == 1
                and isinstance(node.targets[0], ast.Name) and node.targets[0].id == name):
            try:
                return ast.literal_eval(node.value)
            except ValueError:
                return None
    return None


def add_stage(p: argparse.ArgumentParser, text: str = "engine stages to run") -> None:
    """``--stage``, its choices :data:`hwsr.spec.STAGES` loaded only when needed (a fixed
    metavar: argparse formats the metavar of every option it adds)."""
    p.add_argument("--stage", choices=LazyChoices("hwsr.spec", "STAGES"), default="dual",
                   metavar="STAGE", help=f"{text}: %(choices)s")


def require_positive(value: float | None, option: str, *, integer: bool = False) -> None:
    """Refuse a value that is not a finite positive number (``None``: option not given).

    >>> require_positive(-5.0, "--fps")
    Traceback (most recent call last):
    ...
    ValueError: --fps: must be a positive number, got -5.0
    """
    if value is None:
        return
    if integer and value < 1:
        raise ValueError(f"{option}: must be >= 1, got {value}")
    if not (math.isfinite(value) and value > 0):
        raise ValueError(f"{option}: must be a positive number, got {value}")


def require_input(path: str | Path | None, option: str, *, kind: str = "file") -> None:
    """Refuse an input path that does not exist or is not of ``kind`` ("file", "folder" or
    "file or folder"), in one wording for every command (``None``: option not given).

    >>> require_input("/nonexistent.png", "--frame")
    Traceback (most recent call last):
    ...
    ValueError: --frame: /nonexistent.png: no such file
    """
    if path is None:
        return
    p = Path(path)
    if not p.exists():
        raise ValueError(f"{option}: {p}: no such {kind}")
    if kind == "folder" and not p.is_dir():
        raise ValueError(f"{option}: {p}: is a file, not a folder")
    if kind == "file" and p.is_dir():
        raise ValueError(f"{option}: {p}: is a folder, not a file")
