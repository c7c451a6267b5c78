"""The one validation path of hwsr's configs: TOML in, one-line refusals out.

Every config of hwsr (the engine spec, :mod:`hwsr.spec`; a training run,
:mod:`hwsr.train.config`; a dataset build, :mod:`hwsr.data.config`) is a frozen dataclass
validated on construction, and raw dicts stop at its loader. Those loaders and validators
read files and check keys, choices and bounds through these functions, so every refusal has
the same shape: ``[source: ]key: rule``, one line, raised as the caller's own ``ValueError``
subclass (``SpecError``, ``ConfigError``, ``DataError``).
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any


def require(ok: bool, key: str, rule: str, error: type[ValueError]) -> None:
    """Refuse with ``error("key: rule")`` unless ``ok``.

    >>> require(3 > 0, "optim.steps", "must be > 0", ValueError)
    >>> require(0 > 0, "optim.steps", "must be > 0", ValueError)
    Traceback (most recent call last):
    ValueError: optim.steps: must be > 0
    """
    if not ok:
        raise error(f"{key}: {rule}")


def check_keys(d: Iterable[str], allowed: Sequence[str], where: str, error: type[ValueError],
               what: str = "key") -> None:
    """Refuse the first key of ``d`` not in ``allowed``, naming it as ``where + key``."""
    for k in d:
        require(k in allowed, f"{where}{k}", f"unknown {what} (allowed: {', '.join(allowed)})",
                error)


def check_choice(value: Any, allowed: Sequence[str], key: str, error: type[ValueError]) -> None:
    """Refuse a value that is not one of ``allowed`` (listed in the message)."""
    require(value in allowed, key, f"must be one of {', '.join(allowed)}, got {value!r}", error)


def read_toml(path: str | Path, kind: str, error: type[ValueError]) -> dict[str, Any]:
    """The tables of a TOML file; a missing, unreadable or malformed file is one line."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise error(f"{p}: {kind} file not found") from None
    except (IsADirectoryError, PermissionError, UnicodeDecodeError) as e:
        raise error(f"{p}: cannot read {kind} file ({type(e).__name__})") from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise error(f"{p}: not valid TOML ({e})") from None
