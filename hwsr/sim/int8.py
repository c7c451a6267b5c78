"""The int8 MAC array on the host CPU: one kernel generator, a variant per instruction set.

The engine multiplies uint8 activations by int8 weights and sums in an int32 accumulator.
The kernels of :mod:`hwsr.sim._mac_ir` do exactly that, in LLVM IR compiled at run time for
the host (numba's auto-vectorizer does not emit these instructions from a convolution's
loops). Variants, best first:

* ``avx512vnni``: 512-bit ``vpdpbusd``, 64 MACs per instruction, 28 channels per call.
* ``avxvnni``: the 256-bit VEX ``vpdpbusd`` of Intel client CPUs (Alder Lake on), 32 MACs.
* ``avx2``: exact u8 × s8 through 16-bit lanes and ``vpmaddwd``, 16 MACs (any x86-64 of the
  last decade, AMD Zen included).
* ``generic``: the same 16-bit arithmetic in plain vector IR, lowered by LLVM for any host.

A variant runs only where the host has its instructions and its compiled kernel passed a
self-test against int64 sums. ``HWSR_SIM_INT8`` picks one: unset, ``1`` or ``auto`` the
best the host passes, a variant's name forces it, ``0`` keeps the simulator off the int8
path. The switch is read on every call, so setting it in a running process takes effect
for engines built after it.
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import logging
import os
from collections.abc import Callable, Iterator

import numpy as np
import numpy.typing as npt

from hwsr.sim._mac_ir import (
    CHANNELS,
    VARIANTS,
    Isa,
    kernel_name,
    mac_ir,
    peak_ir,
    peak_name,
)
from hwsr.sim._objcache import checked_address, compile_ir, host_cpu_features
from hwsr.sim._requant_ir import RequantKind, requant_ir

log = logging.getLogger(__name__)

ENV_SWITCH = "HWSR_SIM_INT8"  # auto | 0 | avx512vnni | avxvnni | avx2 | generic
BLOCK_ALIGN = 16  # sums rows are padded to a multiple of every variant's pixel block
_OFF = ("0", "off", "no", "false", "float32")
_AUTO = ("", "1", "on", "auto", "yes", "true")
AUTO_VARIANTS = tuple(v for v in VARIANTS if v.name != "generic")
__all__ = ["CHANNELS", "ENV_SWITCH", "VARIANTS", "Isa", "active", "available", "by_name",
           "describe_host", "forced", "host_cpu_features", "kernel_table", "mac_address",
           "pack_weights", "passes_self_test", "peak_function", "supported",
           "unavailable_reason"]


def by_name(name: str) -> Isa:
    """The variant called ``name``."""
    for v in VARIANTS:
        if v.name == name:
            return v
    raise ValueError(f"no int8 kernel variant {name!r} (one of "
                     f"{', '.join(v.name for v in VARIANTS)})")


@functools.cache
def _features() -> dict[str, bool]:
    return host_cpu_features()


def supported(isa: Isa) -> bool:
    """Whether this host has the instructions of ``isa`` (not yet whether it passed its
    self-test: see :func:`passes_self_test`)."""
    return all(_features().get(f, False) for f in isa.needs)


@functools.cache
def mac_address(isa: Isa, group: int) -> int:
    """Address of the compiled MAC kernel of ``isa`` for ``group`` output channels."""
    return compile_ir(mac_ir(isa, group), kernel_name(isa, group), isa.target)


@functools.cache
def passes_self_test(isa: Isa) -> bool:
    """Compile the kernels ``isa`` calls for 1, a partial and a full group of channels and
    compare their sums on extreme codes with int64 sums."""
    if not supported(isa):
        return False
    try:
        ok = all(_self_test(isa, c_out) for c_out in sorted({1, 3, isa.group_max}))
    except Exception as e:  # noqa: BLE001  (any compile failure: keep the float32 datapath)
        log.warning("int8 %s kernel unavailable (%s)", isa.name, e)
        return False
    if not ok:
        log.warning("int8 %s kernel failed its self-test", isa.name)
    return ok


@functools.cache
def _choice(setting: str) -> tuple[Isa | None, str]:
    """The variant for a value of the switch, or None and the reason."""
    if setting in _OFF:
        return None, f"{ENV_SWITCH}={setting} turns the int8 kernels off"
    if setting in _AUTO:
        for v in AUTO_VARIANTS:
            if passes_self_test(v):
                return v, ""
        return None, "this host has no int8 kernel variant (AVX2 or better) that passed " \
                     "its self-test"
    try:
        isa = by_name(setting)
    except ValueError as e:
        return None, f"{ENV_SWITCH}={setting}: {e}"
    if not supported(isa):
        return None, f"{ENV_SWITCH}={setting}: this host lacks {', '.join(isa.needs)}"
    if not passes_self_test(isa):
        return None, f"{ENV_SWITCH}={setting}: the kernel failed its self-test"
    return isa, ""


def _setting() -> str:
    return os.environ.get(ENV_SWITCH, "").strip().lower()


def active() -> Isa | None:
    """The variant an engine built now runs (see the module docstring), or None."""
    return _choice(_setting())[0]


def available() -> bool:
    """True where an int8 kernel variant is chosen and passed its self-test on this host."""
    return active() is not None


def unavailable_reason() -> str:
    """Why :func:`active` is None ('' when it is not)."""
    return _choice(_setting())[1]


@contextlib.contextmanager
def forced(setting: str) -> Iterator[Isa | None]:
    """Set ``HWSR_SIM_INT8`` to ``setting`` inside the block (engines built there keep the
    variant), restoring it after; yields :func:`active` under it."""
    before = os.environ.get(ENV_SWITCH)
    os.environ[ENV_SWITCH] = setting
    try:
        yield active()
    finally:
        if before is None:
            os.environ.pop(ENV_SWITCH, None)
        else:
            os.environ[ENV_SWITCH] = before


def describe_host() -> str:
    """One line: the variant engines get now, and every variant this host passes.

    e.g. ``int8 kernel avx2 (HWSR_SIM_INT8 unset); this host runs avx2, generic``
    """
    isa, setting = active(), os.environ.get(ENV_SWITCH)
    runs = [v.name for v in VARIANTS if passes_self_test(v)]
    switch = f"{ENV_SWITCH}={setting}" if setting is not None else f"{ENV_SWITCH} unset"
    head = f"int8 kernel {isa.name}" if isa else f"no int8 kernel ({unavailable_reason()})"
    return f"{head} ({switch}); this host runs {', '.join(runs) or 'none'}"


def pack_weights(weight: npt.NDArray[np.int64], isa: Isa) -> npt.NDArray[np.int32 | np.int64]:
    """``wq[t, o]`` of ``isa`` for integer weights ``(c_out, c_in, k, k)`` that fit int8.

    Tap ``t = (dy*k + dx)*groups + g``; lane ``i`` of the word is channel ``4g + i``'s weight
    (zero past ``c_in``): an int8 byte of an int32 word (``dpbusd``), an int16 of an int64
    word (the 16-bit forms).

    >>> from hwsr.sim._mac_ir import AVX2, AVX512_VNNI
    >>> w = np.array([[[[1]], [[-1]], [[2]], [[3]], [[4]]]])
    >>> pack_weights(w, AVX512_VNNI).tolist(), pack_weights(w, AVX2)[1].tolist()
    ([[50528001], [4]], [4])
    """
    c_out, c_in, k, _ = weight.shape
    if weight.size and not (-128 <= int(weight.min()) and int(weight.max()) <= 127):
        raise ValueError("int8 MACs need weights in [-128, 127]")
    lane = np.int8 if isa.weight_bytes == 4 else np.dtype("<i2")
    groups = -(-c_in // CHANNELS)
    padded = np.zeros((c_out, groups * CHANNELS, k, k), lane)
    padded[:, :c_in] = weight
    # (dy, dx, g, o, i) lanes, read as little-endian words (dy, dx, g, o)
    taps = padded.reshape(c_out, groups, CHANNELS, k, k).transpose(3, 4, 1, 0, 2)
    word = "<i4" if isa.weight_bytes == 4 else "<i8"
    words = np.ascontiguousarray(taps).view(word).reshape(k * k * groups, c_out)
    return np.ascontiguousarray(words, dtype=np.int32 if isa.weight_bytes == 4 else np.int64)


def kernel_table(c_out: int, isa: Isa) -> npt.NDArray[np.int64]:
    """``table[n]``: the kernel address for a group of ``n`` channels, for the group sizes a
    layer of ``c_out`` channels calls (groups of ``isa.group_max``, then the rest); 0 else."""
    table = np.zeros(isa.group_max + 1, np.int64)
    for g0 in range(0, c_out, isa.group_max):
        n = min(isa.group_max, c_out - g0)
        table[n] = mac_address(isa, n)
    return table


@functools.cache
def requant_address(isa: Isa, rounding: int, fit: int, relu: bool, out_dtype: np.dtype,
                    lo: int | None = None, hi: int | None = None) -> int:
    """Address of the compiled int32-lane requantizer (:mod:`hwsr.sim._requant_ir`) for a
    layer's constants on ``isa``'s host, or 0 where it did not compile or failed its
    self-test against the NumPy twin (the layer then keeps the numba requantizer). Codes
    ``lo, hi = 0, 255`` after a ReLU get the kernel that narrows with unsigned saturation."""
    bits = np.dtype(out_dtype).itemsize * 8
    kind = RequantKind(isa.lanes, rounding, fit, relu, bits,
                       byte_relu=relu and bits == 8 and (lo, hi) == (0, 255))
    return checked_address(lambda: requant_ir(kind), kind.name, isa.target,
                           lambda addr: _requant_self_test(addr, kind, np.dtype(out_dtype)),
                           "int32 requantizer")


def _requant_self_test(addr: int, kind: RequantKind, out_dtype: np.dtype) -> bool:
    """Requantize random sums with extremes of the proven range, compare with the twin."""
    from hwsr.sim import _naive

    rng = np.random.default_rng(kind.lanes + 7 * kind.rounding + 31 * kind.fit)
    c_out, width, astride = 4, 37, 48
    acc = rng.integers(-(2**20), 2**20 + 1, (c_out, astride)).astype(np.int32)
    acc[:3, :4] = [[2**20, -(2**20), 0, 1]]
    acc[3] = rng.integers(0, 2**9, astride)  # a row inside every range (no second pass)
    bias = rng.integers(-(2**20), 2**20 + 1, c_out).astype(np.int32)
    bias[3] = 3
    ls, rs = np.array([0, 8, 1, 0], np.int32), np.array([30, 0, 5, 2], np.int32)
    acc_bits = 32 if kind.fit == 0 else 20
    lo, hi = {8: (0, 255), 16: (-512, 511)}.get(kind.out_bits, (-(2**20), 2**20))
    limits = _limits(acc_bits, lo, hi)
    got, want = (np.zeros((1, c_out * width), out_dtype) for _ in range(2))
    got_stats, want_stats = np.zeros(3, np.int64), np.zeros(3, np.int64)
    fn = ctypes.CFUNCTYPE(None, *[ctypes.c_int64] * 10)(addr)
    fn(acc.ctypes.data, astride, got.ctypes.data, width, c_out, bias.ctypes.data,
       ls.ctypes.data, rs.ctypes.data, limits.ctypes.data, got_stats.ctypes.data)
    _naive.requant_i32(acc[None, :, :width].reshape(1, c_out, width), 0, 1, width, bias, ls,
                       rs, kind.relu, acc_bits, kind.fit, kind.rounding, lo, hi, want,
                       want_stats)
    return bool(np.array_equal(got, want) and got_stats.tolist() == want_stats.tolist())


def _limits(acc_bits: int, lo: int, hi: int) -> npt.NDArray[np.int32]:
    """The requantizer's ``limits`` (see ``hwsr.sim._kernels._acc_limits_i32``)."""
    if acc_bits > 30:
        return np.array([0, 0, -(2**31), 2**31 - 1, lo, hi], np.int32)
    h = 1 << (acc_bits - 1)
    return np.array([h, (1 << acc_bits) - 1, -h, h - 1, lo, hi], np.int32)


def _self_test(isa: Isa, c_out: int) -> bool:
    """Run the compiled kernel on random extreme codes and compare with int64 sums."""
    rng = np.random.default_rng(2024 + c_out)
    k, c_in, width = 3, 5, 37
    groups, blocks = -(-c_in // CHANNELS), -(-width // isa.pixels)
    wp = blocks * isa.pixels + k - 1
    strips = rng.choice(np.array([0, 1, 254, 255], np.uint8), (k, groups, wp, CHANNELS))
    weight = rng.choice(np.array([-128, 127, -1, 0]), (c_out, c_in, k, k)).astype(np.int64)
    wq = pack_weights(weight, isa)
    tapoff = np.array([((dy * groups + g) * wp + dx) * CHANNELS for dy in range(k)
                       for dx in range(k) for g in range(groups)], np.int64)
    acc = np.zeros((c_out, blocks * isa.pixels), np.int32)
    fn = ctypes.CFUNCTYPE(None, *[ctypes.c_int64] * 8)(mac_address(isa, c_out))
    fn(strips.ctypes.data, tapoff.ctypes.data, wq.ctypes.data, c_out, len(tapoff),
       acc.ctypes.data, acc.shape[1], blocks)
    x = strips.transpose(0, 1, 3, 2).reshape(k, groups * CHANNELS, wp).astype(np.int64)
    x = x[:, :c_in]
    want = np.zeros((c_out, width), np.int64)
    for dy in range(k):
        for dx in range(k):
            want += weight[:, :, dy, dx] @ x[dy, :, dx : dx + width]
    return bool(np.array_equal(acc[:, :width].astype(np.int64), want))


def peak_function(isa: Isa) -> Callable[[int], int]:
    """The peak loop of ``isa`` (:func:`hwsr.sim._mac_ir.peak_ir`) as ``f(iters)``; it
    releases the GIL, so threads run it in parallel. MACs per call:
    ``iters * isa.peak_chains * isa.macs_per_op``."""
    operands = np.full(2 * isa.lanes, 0x007F007F, np.int32)
    fn = ctypes.CFUNCTYPE(ctypes.c_int32, ctypes.c_int64, ctypes.c_int64)(
        compile_ir(peak_ir(isa), peak_name(isa), isa.target))
    return lambda iters: int(fn(iters, operands.ctypes.data))
