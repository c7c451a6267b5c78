"""The host's CPU features, as LLVM names them (kept under this name for the callers that
asked whether the host has VNNI; the int8 kernels themselves live in :mod:`hwsr.sim.int8`)."""

from __future__ import annotations

from hwsr.sim._objcache import host_cpu_features

__all__ = ["host_cpu_features"]
