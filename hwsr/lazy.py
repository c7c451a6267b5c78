"""Packages whose public names load on first use (PEP 562).

A package's ``__init__`` that imported its modules eagerly would load numpy, numba or torch
for ``hwsr --help``; with :func:`lazy_exports` it names them, and each loads when used.
"""

from __future__ import annotations

import importlib
import sys
import types
from collections.abc import Callable
from typing import Any


class _LazyPackage(types.ModuleType):
    """A package whose exported names win over its submodules of the same name.

    Importing ``hwsr.export.check`` sets the package's attribute ``check`` to that module;
    the name the package exports is the function ``check``, as an eager ``__init__`` had it.
    """

    def __setattr__(self, name: str, value: Any) -> None:
        exports = self.__dict__.get("_EXPORTS", {})
        if (isinstance(value, types.ModuleType) and name in exports
                and value.__name__ == f"{self.__name__}.{name}"):
            return  # the submodule stays reachable through sys.modules
        super().__setattr__(name, value)


def lazy_exports(package: str, exports: dict[str, str]) -> Callable[[str], Any]:
    """The ``__getattr__`` of ``package``: ``name`` comes from module ``exports[name]``."""
    sys.modules[package].__class__ = _LazyPackage

    def __getattr__(name: str) -> Any:
        if name not in exports:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        return getattr(importlib.import_module(exports[name]), name)

    return __getattr__
