"""The int8 MAC array on the host CPU: AVX-512 VNNI dot products, compiled at run time.

The engine multiplies uint8 activations by int8 weights and sums in an int32 accumulator.
AVX-512 VNNI's ``vpdpbusd`` does exactly that: each of its 16 int32 lanes adds four u8×s8
products (no saturation, no intermediate rounding: the sum wraps modulo 2**32, as a 32-bit
accumulator does), 64 MACs per instruction. numba's auto-vectorizer does not emit it from a
convolution's loops, so the MAC kernel is written here in LLVM IR (with ``llvmlite``, which
numba is built on) and compiled once per process for the host CPU.

One kernel call computes the int32 sums of one output row for up to :data:`GROUP_MAX` output
channels, 16 output pixels at a time, each channel's 16 sums held in one 512-bit register for
the whole reduction (register-blocked, as the engine's MAC array holds its accumulators):

* ``strips`` (bytes): the window rows as 32-bit words of four channels, ``(4g+i)`` in byte
  ``i`` of word ``x`` of strip ``g`` (channels past ``c_in`` are zero bytes); one strip per
  (window row, channel group), ``kernel//2`` zero columns on the left (the frame's padding).
* ``tapoff[t]``: the byte offset of tap ``t = (dy*k + dx)*groups + g`` (strip and column
  ``dx``) for output pixel 0; pixel block ``b`` reads 64 bytes at ``tapoff[t] + 64*b``.
* ``wq[t, o]``: the four int8 weights of tap ``t`` for output channel ``o``, as one int32 word
  (byte ``i`` = channel ``4g+i``), row stride ``wstride`` words.
* ``acc[o, 16*b : 16*b + 16]``: the sums (row stride ``astride`` int32), no bias.

It is used only where the layer's inputs are uint8 codes, its weights fit int8 and the
int32 requantizer is proven exact (so the sums fit int32: wrap-around never happens); the
caller (:class:`hwsr.sim.layer.ConvUnit`) checks all three. :func:`available` is true only
on a CPU with AVX-512 VNNI whose compiled kernel passes a self-test against int64 sums;
``HWSR_SIM_INT8=0`` turns it off.
"""

from __future__ import annotations

import ctypes
import functools
import logging
import os
import threading
from collections.abc import Callable
from typing import Any

import numpy as np
import numpy.typing as npt

log = logging.getLogger(__name__)

GROUP_MAX = 28  # output channels per call: one zmm accumulator each, of the 32 registers
PIXELS = 16  # output pixels per accumulator register (16 int32 lanes)
CHANNELS = 4  # input channels per int32 word (four u8 × s8 products per lane)
ENV_SWITCH = "HWSR_SIM_INT8"  # "0" keeps the simulator on its float32 datapath
_FEATURES = ("avx512f", "avx512bw", "avx512vnni")
_LOCK = threading.Lock()
_ENGINES: list[object] = []  # the compiled modules' execution engines, kept alive


def _llvm() -> Any:
    import llvmlite.binding as llvm

    llvm.initialize_native_target()
    llvm.initialize_native_asmprinter()
    return llvm


def host_cpu_features() -> dict[str, bool]:
    """LLVM's names of this host's CPU features (empty where llvmlite cannot read them)."""
    try:
        return dict(_llvm().get_host_cpu_features())
    except (RuntimeError, OSError):
        return {}


def _host_has_vnni() -> bool:
    features = host_cpu_features()
    return all(features.get(f, False) for f in _FEATURES)


def mac_ir(group: int) -> str:
    """LLVM IR of the MAC kernel for ``group`` output channels (see the module docstring).

    ``void hwsr_mac_u8s8_<group>(i64 strips, i64 tapoff, i64 wq, i64 wstride, i64 ntaps,
    i64 acc, i64 astride, i64 nblocks)``; every argument is an integer (addresses too), so
    numba calls it through a plain function pointer.
    """
    from llvmlite import ir

    if not 1 <= group <= GROUP_MAX:
        raise ValueError(f"group must be 1..{GROUP_MAX}, got {group}")
    i8, i32, i64 = ir.IntType(8), ir.IntType(32), ir.IntType(64)
    v16 = ir.VectorType(i32, PIXELS)
    mod = ir.Module(name=f"hwsr_mac_{group}")
    dot = ir.Function(mod, ir.FunctionType(v16, [v16, v16, v16]),
                      "llvm.x86.avx512.vpdpbusd.512")
    fn = ir.Function(mod, ir.FunctionType(ir.VoidType(), [i64] * 8), f"hwsr_mac_u8s8_{group}")
    strips_a, tapoff_a, wq_a, wstride, ntaps, acc_a, astride, nblocks = fn.args
    entry, block, tap, store, done = (fn.append_basic_block(n)
                                      for n in ("entry", "block", "tap", "store", "done"))
    b = ir.IRBuilder(entry)
    strips = b.inttoptr(strips_a, i8.as_pointer())
    tapoff = b.inttoptr(tapoff_a, i64.as_pointer())
    wq = b.inttoptr(wq_a, i32.as_pointer())
    acc = b.inttoptr(acc_a, i32.as_pointer())
    ok = b.and_(b.icmp_signed(">", nblocks, i64(0)), b.icmp_signed(">", ntaps, i64(0)))
    b.cbranch(ok, block, done)

    b.position_at_end(block)  # one block of 16 output pixels
    xb = b.phi(i64, "xb")
    xb.add_incoming(i64(0), entry)
    xoff = b.mul(xb, i64(PIXELS * CHANNELS))
    b.branch(tap)

    b.position_at_end(tap)  # one tap: 64 input bytes times each channel's four weights
    t = b.phi(i64, "t")
    t.add_incoming(i64(0), block)
    zero = ir.Constant(v16, None)
    sums = []
    for o in range(group):
        s = b.phi(v16, f"s{o}")
        s.add_incoming(zero, block)
        sums.append(s)
    src = b.gep(strips, [b.add(b.load(b.gep(tapoff, [t])), xoff)])
    x = b.load(b.bitcast(src, v16.as_pointer()), align=1)
    wrow = b.gep(wq, [b.mul(t, wstride)])
    undef = ir.Constant(v16, ir.Undefined)
    splat_mask = ir.Constant(ir.VectorType(i32, PIXELS), None)
    new = []
    for o in range(group):
        word = b.insert_element(undef, b.load(b.gep(wrow, [i64(o)]), align=4), i32(0))
        new.append(b.call(dot, [sums[o], x, b.shuffle_vector(word, undef, splat_mask)]))
    t_next = b.add(t, i64(1))
    t.add_incoming(t_next, tap)
    for s, n in zip(sums, new, strict=True):
        s.add_incoming(n, tap)
    b.cbranch(b.icmp_signed("<", t_next, ntaps), tap, store)

    b.position_at_end(store)
    for o in range(group):
        dst = b.gep(acc, [b.add(b.mul(i64(o), astride), b.mul(xb, i64(PIXELS)))])
        b.store(new[o], b.bitcast(dst, v16.as_pointer()), align=4)
    xb_next = b.add(xb, i64(1))
    xb.add_incoming(xb_next, store)
    b.cbranch(b.icmp_signed("<", xb_next, nblocks), block, done)

    b.position_at_end(done)
    b.ret_void()
    return str(mod)


PEAK_CHAINS = 24  # independent accumulators of the peak loop (hides vpdpbusd's latency)


def peak_ir() -> str:
    """LLVM IR of ``i32 hwsr_vnni_peak(i64 iters, i64 operands)``: ``iters`` rounds of
    :data:`PEAK_CHAINS` independent ``vpdpbusd`` on two 64-byte operands held in registers,
    no other memory traffic: the host's int8 multiply-add peak (64 MACs per instruction)."""
    from llvmlite import ir

    i32, i64 = ir.IntType(32), ir.IntType(64)
    v16 = ir.VectorType(i32, PIXELS)
    mod = ir.Module(name="hwsr_vnni_peak")
    dot = ir.Function(mod, ir.FunctionType(v16, [v16, v16, v16]),
                      "llvm.x86.avx512.vpdpbusd.512")
    fn = ir.Function(mod, ir.FunctionType(i32, [i64, i64]), "hwsr_vnni_peak")
    iters, ops_a = fn.args
    entry, loop, done = (fn.append_basic_block(n) for n in ("entry", "loop", "done"))
    b = ir.IRBuilder(entry)
    ops = b.bitcast(b.inttoptr(ops_a, i32.as_pointer()), v16.as_pointer())
    x, w = b.load(ops, align=4), b.load(b.gep(ops, [i64(1)]), align=4)
    b.branch(loop)
    b.position_at_end(loop)
    n = b.phi(i64, "n")
    n.add_incoming(i64(0), entry)
    chains = []
    for c in range(PEAK_CHAINS):
        p = b.phi(v16, f"c{c}")
        p.add_incoming(ir.Constant(v16, None), entry)
        chains.append(p)
    new = [b.call(dot, [p, x, w]) for p in chains]
    for p, v in zip(chains, new, strict=True):
        p.add_incoming(v, loop)
    n_next = b.add(n, i64(1))
    n.add_incoming(n_next, loop)
    b.cbranch(b.icmp_signed("<", n_next, iters), loop, done)
    b.position_at_end(done)
    total = new[0]
    for v in new[1:]:
        total = b.add(total, v)
    b.ret(b.extract_element(total, i32(0)))
    return str(mod)


def peak_function() -> Callable[[int], int]:
    """The peak loop (:func:`peak_ir`) as a Python callable ``f(iters)``; it releases the
    GIL, so threads run it in parallel. MACs per call: ``iters * PEAK_CHAINS * 64``."""
    operands = np.full(2 * PIXELS, 0x7F7F7F7F, np.int32)
    with _LOCK:
        fn = ctypes.CFUNCTYPE(ctypes.c_int32, ctypes.c_int64, ctypes.c_int64)(
            _compile_ir(peak_ir(), "hwsr_vnni_peak"))
    return lambda iters: int(fn(iters, operands.ctypes.data))


def _compile(group: int) -> int:
    """Address of the MAC kernel for ``group`` channels, compiled for this host."""
    return _compile_ir(mac_ir(group), f"hwsr_mac_u8s8_{group}")


def _compile_ir(text: str, name: str) -> int:
    """Address of function ``name`` of the IR module ``text``, compiled for this host."""
    llvm = _llvm()
    module = llvm.parse_assembly(text)
    module.triple = llvm.get_process_triple()
    module.verify()
    target = llvm.Target.from_triple(module.triple)
    machine = target.create_target_machine(cpu=llvm.get_host_cpu_name(),
                                           features=llvm.get_host_cpu_features().flatten(),
                                           opt=3)
    engine = llvm.create_mcjit_compiler(module, machine)
    engine.finalize_object()
    _ENGINES.append(engine)
    return int(engine.get_function_address(name))


@functools.cache
def mac_address(group: int) -> int:
    """Address of the compiled MAC kernel for ``group`` output channels (cached)."""
    with _LOCK:
        return _compile(group)


def pack_weights(weight: npt.NDArray[np.int64]) -> npt.NDArray[np.int32]:
    """``wq[t, o]`` for integer weights ``(c_out, c_in, k, k)`` that fit int8.

    Tap ``t = (dy*k + dx)*groups + g``; byte ``i`` of the word is channel ``4g + i``'s
    weight (zero past ``c_in``).

    >>> pack_weights(np.array([[[[1]], [[-1]], [[2]], [[3]], [[4]]]])).tolist()
    [[50528001], [4]]
    """
    c_out, c_in, k, _ = weight.shape
    if weight.size and not (-128 <= int(weight.min()) and int(weight.max()) <= 127):
        raise ValueError("int8 MACs need weights in [-128, 127]")
    groups = -(-c_in // CHANNELS)
    padded = np.zeros((c_out, groups * CHANNELS, k, k), np.int8)
    padded[:, :c_in] = weight
    # (dy, dx, g, o, i) bytes, read as little-endian int32 words (dy, dx, g, o)
    taps = padded.reshape(c_out, groups, CHANNELS, k, k).transpose(3, 4, 1, 0, 2)
    words = np.ascontiguousarray(taps).view("<i4").reshape(k * k * groups, c_out)
    return np.ascontiguousarray(words, dtype=np.int32)


def kernel_table(c_out: int) -> npt.NDArray[np.int64]:
    """``table[n]``: the kernel address for a group of ``n`` channels, for the group sizes a
    layer of ``c_out`` channels calls (groups of :data:`GROUP_MAX`, then the rest); 0 else."""
    table = np.zeros(GROUP_MAX + 1, np.int64)
    for g0 in range(0, c_out, GROUP_MAX):
        n = min(GROUP_MAX, c_out - g0)
        table[n] = mac_address(n)
    return table


def _self_test() -> bool:
    """Run the compiled kernel on random extreme codes and compare with int64 sums."""
    rng = np.random.default_rng(2024)
    k, c_in, c_out, width = 3, 5, 3, 37
    groups, blocks = -(-c_in // CHANNELS), -(-width // PIXELS)
    wp = blocks * PIXELS + k - 1
    strips = rng.choice(np.array([0, 1, 254, 255], np.uint8), (k, groups, wp, CHANNELS))
    weight = rng.choice(np.array([-128, 127, -1, 0]), (c_out, c_in, k, k)).astype(np.int64)
    wq = pack_weights(weight)
    tapoff = np.array([((dy * groups + g) * wp + dx) * CHANNELS for dy in range(k)
                       for dx in range(k) for g in range(groups)], np.int64)
    acc = np.zeros((c_out, blocks * PIXELS), np.int32)
    fn = ctypes.CFUNCTYPE(None, *[ctypes.c_int64] * 8)(mac_address(c_out))
    fn(strips.ctypes.data, tapoff.ctypes.data, wq.ctypes.data, c_out, len(tapoff),
       acc.ctypes.data, acc.shape[1], blocks)
    x = strips.transpose(0, 1, 3, 2).reshape(k, groups * CHANNELS, wp).astype(np.int64)
    x = x[:, :c_in]
    want = np.zeros((c_out, width), np.int64)
    for dy in range(k):
        for dx in range(k):
            want += weight[:, :, dy, dx] @ x[dy, :, dx : dx + width]
    return bool(np.array_equal(acc[:, :width].astype(np.int64), want))


@functools.cache
def available() -> bool:
    """True where the int8 VNNI kernel runs and passed its self-test on this host."""
    if os.environ.get(ENV_SWITCH, "1") == "0" or not _host_has_vnni():
        return False
    try:
        ok = _self_test()
    except Exception as e:  # noqa: BLE001  (any compile failure: keep the float32 datapath)
        log.warning("int8 VNNI kernel unavailable (%s); using float32 MACs", e)
        return False
    if not ok:
        log.warning("int8 VNNI kernel failed its self-test; using float32 MACs")
    return ok
