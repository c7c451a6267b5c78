"""Explicit registry of hwsr's architectures: which can run on the engine, and why not.

One dict literal, no folder scanning: adding an architecture means adding one line here.
Builders import their module lazily, so this registry (and :mod:`hwsr.report`, which asks it
for float-only notices) loads without torch.

>>> list_archs()
['engine', 'srcnn', 'rcan']
>>> ARCHS["rcan"].engine_runnable
False
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from torch import nn

    from hwsr.spec import EngineSpec


@dataclass(frozen=True)
class ArchInfo:
    """One architecture: its builder and whether the line-buffer engine can run it."""

    name: str  # registry key, as given to build_arch
    builder: Callable[..., nn.Module]  # keyword arguments → float torch module
    engine_runnable: bool  # true when the engine's datapath can execute it as built
    reason: str  # why it is float-only (empty when engine_runnable)


def _build_engine(spec: EngineSpec) -> nn.Module:
    """The engine's own float network for one stage (pass ``spec.net1()`` for Net1)."""
    from hwsr.arch.engine_net import EngineNet

    return EngineNet(spec)


def _build_srcnn(**kwargs: Any) -> nn.Module:
    from hwsr.arch.srcnn import SRCNN

    return SRCNN(**kwargs)


def _build_rcan(**kwargs: Any) -> nn.Module:
    from hwsr.arch.rcan import RCAN

    return RCAN(**kwargs)


ARCHS: dict[str, ArchInfo] = {
    "engine": ArchInfo(
        name="engine",
        builder=_build_engine,
        engine_runnable=True,
        reason="",
    ),
    "srcnn": ArchInfo(
        name="srcnn",
        builder=_build_srcnn,
        engine_runnable=False,
        reason=(
            "9x9 + 5x5 kernels at 64 channels on the bicubic-upscaled UHD grid need x9 the MACs "
            "and line buffers at 3840 px width; it is a float reference: float-only"
        ),
    ),
    "rcan": ArchInfo(
        name="rcan",
        builder=_build_rcan,
        engine_runnable=False,
        reason=(
            "channel attention needs a whole-frame statistic (global average pool); a "
            "line-buffer engine without frame memory cannot compute it: float-only"
        ),
    ),
}


def list_archs() -> list[str]:
    """Names of the registered architectures, in registry order."""
    return list(ARCHS)


def get_arch(name: str) -> ArchInfo:
    """The registry entry of ``name``; an unknown name is a ValueError listing the known ones."""
    try:
        return ARCHS[name]
    except KeyError:
        known = ", ".join(ARCHS)
        raise ValueError(f"unknown architecture {name!r} (known: {known})") from None


def build_arch(name: str, **kwargs: Any) -> nn.Module:
    """Build the float module of ``name`` with the builder's keyword arguments.

    ``build_arch("engine", spec=spec)`` gives the engine's network for that spec;
    ``build_arch("rcan", num_group=5, num_block=6, upscale=1)`` a Net1-sized RCAN.
    """
    return get_arch(name).builder(**kwargs)
