"""LLVM IR of the int8 MAC kernels, one generator for every instruction set (private).

One kernel call computes the int32 sums of one output row for up to ``isa.group_max``
output channels, ``isa.pixels`` output pixels at a time, each channel's sums held in
registers for the whole reduction (register-blocked, as the engine's MAC array holds its
accumulators). The arguments, all int64 so numba calls it through a plain function pointer:

* ``strips``: the window rows as 32-bit words of four channels, ``(4g+i)`` in byte ``i`` of
  word ``x`` of strip ``g`` (channels past ``c_in`` zero); one strip per (window row,
  channel group), ``kernel//2`` zero columns on the left (the frame's padding).
* ``tapoff[t]``: byte offset of tap ``t = (dy*k + dx)*groups + g`` for output pixel 0;
  pixel block ``b`` reads ``4*pixels`` bytes at ``tapoff[t] + 4*pixels*b``.
* ``wq[t, o]``: tap ``t``'s four weights for output channel ``o`` as one word (row stride
  ``wstride`` words): four int8 bytes (``dpbusd``) or four int16 halves (16-bit lanes).
* ``acc[o, pixels*b : pixels*(b+1)]``: the sums (row stride ``astride`` int32), no bias.

Three ways to form a lane's four u8 × s8 products, all exact (no saturation, sums modulo
2**32, the accumulator's own wrap; the caller proves the sums fit int32 anyway):

* ``dpbusd``: ``vpdpbusd`` (AVX-512 VNNI, 512-bit; AVX-VNNI, 256-bit) adds the four
  products of each 32-bit lane into it, one pixel per lane.
* ``pmaddwd`` (AVX2): activations zero-extended and weights sign-extended to 16 bits, then
  ``vpmaddwd`` multiplies them and adds pairs into int32 (``|255·128·2| < 2**31``: exact).
  Each lane holds half of one pixel's sum; the halves are added when the block is stored.
  Not ``vpmaddubsw``, whose 16-bit pair sums saturate.
* ``generic``: the same 16-bit form in plain vector IR (zext, sext, mul, add, shuffles), no
  intrinsic, so the backend lowers it for any host (aarch64 included).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

CHANNELS = 4  # input channels per word (four u8 × s8 products per pixel and word)


@dataclass(frozen=True)
class Isa:
    """One instruction-set variant of the int8 MAC kernel."""

    name: str  # the variant's name, as HWSR_SIM_INT8 forces it
    form: str  # 'dpbusd', 'pmaddwd' or 'generic' (see the module docstring)
    vector_bits: int  # register width the kernel is written for: 256 or 512
    group_max: int  # output channels per call: their accumulators fill the register file
    needs: tuple[str, ...]  # LLVM feature names the host must have
    target: str  # LLVM target features appended to the host's (AVX-512 off for 256-bit)
    peak_chains: int  # independent accumulators of the peak loop

    @property
    def lanes(self) -> int:
        """int32 lanes per register."""
        return self.vector_bits // 32

    @property
    def pixels(self) -> int:
        """Output pixels per block: one per lane (dpbusd) or two lanes each (16-bit forms,
        two registers per channel)."""
        return self.lanes

    @property
    def weight_bytes(self) -> int:
        """Bytes of one weight word: four int8, or four int16 for the 16-bit forms."""
        return 4 if self.form == "dpbusd" else 8

    @property
    def macs_per_op(self) -> int:
        """MACs of one multiply instruction of the peak loop."""
        return self.lanes * (4 if self.form == "dpbusd" else 2)


# 32 zmm: 28 accumulators, the input, the weights. 16 ymm: 14 (dpbusd) or 2·6 (16-bit forms)
AVX512_VNNI = Isa("avx512vnni", "dpbusd", 512, 28, ("avx512f", "avx512bw", "avx512vnni"), "",
                  24)
AVX_VNNI = Isa("avxvnni", "dpbusd", 256, 13, ("avx2", "avxvnni"), "-avx512f", 12)
AVX2 = Isa("avx2", "pmaddwd", 256, 6, ("avx2",), "-avx512f,-avxvnni", 14)
GENERIC = Isa("generic", "generic", 256, 6, (), "-avx512f,-avxvnni", 14)
VARIANTS = (AVX512_VNNI, AVX_VNNI, AVX2, GENERIC)  # best first
_DPBUSD = {256: "llvm.x86.avx512.vpdpbusd.256", 512: "llvm.x86.avx512.vpdpbusd.512"}
_PMADDWD = "llvm.x86.avx2.pmadd.wd"


class _Gen:
    """Builds one kernel's IR: the types and the per-form steps."""

    def __init__(self, isa: Isa, mod: Any) -> None:
        from llvmlite import ir

        self.ir, self.isa, self.mod = ir, isa, mod
        self.i8, self.i16, self.i32, self.i64 = (ir.IntType(n) for n in (8, 16, 32, 64))
        self.v32 = ir.VectorType(self.i32, isa.lanes)  # one register of int32 lanes
        self.v16 = ir.VectorType(self.i16, 2 * isa.lanes)  # one register of int16 lanes
        self.wtype = self.i32 if isa.form == "dpbusd" else self.i64
        self.regs = 1 if isa.form == "dpbusd" else 2  # accumulator registers per channel
        if isa.form == "dpbusd":
            self.dot = self._intrinsic(_DPBUSD[isa.vector_bits], self.v32,
                                       [self.v32, self.v32, self.v32])
        elif isa.form == "pmaddwd":
            self.dot = self._intrinsic(_PMADDWD, self.v32, [self.v16, self.v16])

    def _intrinsic(self, name: str, ret: Any, args: list[Any]) -> Any:
        return self.ir.Function(self.mod, self.ir.FunctionType(ret, args), name)

    def _const(self, values: list[int]) -> Any:
        return self.ir.Constant(self.ir.VectorType(self.i32, len(values)),
                                [self.i32(v) for v in values])

    def inputs(self, b: Any, src: Any) -> list[Any]:
        """The block's input bytes at ``src`` as the form's operands (one per register)."""
        if self.isa.form == "dpbusd":
            return [b.load(b.bitcast(src, self.v32.as_pointer()), align=1)]
        half = self.ir.VectorType(self.i8, 2 * self.isa.lanes)  # half the block: 16 bytes
        return [b.zext(b.load(b.bitcast(b.gep(src, [self.i64(r * half.count)]),
                                        half.as_pointer()), align=1), self.v16)
                for r in range(self.regs)]

    def weights(self, b: Any, wrow: Any, o: int) -> Any:
        """Channel ``o``'s weight word broadcast to every lane of one register."""
        word = b.load(b.gep(wrow, [self.i64(o)]), align=self.isa.weight_bytes)
        wide = self.ir.VectorType(self.wtype, self.isa.vector_bits // self.wtype.width)
        undef = self.ir.Constant(wide, self.ir.Undefined)
        splat = b.shuffle_vector(b.insert_element(undef, word, self.i32(0)), undef,
                                 self._const([0] * wide.count))
        return splat if self.isa.form == "dpbusd" else b.bitcast(splat, self.v16)

    def step(self, b: Any, acc: list[Any], xs: list[Any], w: Any) -> list[Any]:
        """One tap of one channel: its accumulator registers plus the products."""
        if self.isa.form == "dpbusd":
            return [b.call(self.dot, [acc[0], xs[0], w])]
        if self.isa.form == "pmaddwd":
            return [b.add(a, b.call(self.dot, [x, w])) for a, x in zip(acc, xs, strict=True)]
        return [b.add(a, self._pairs(b, x, w)) for a, x in zip(acc, xs, strict=True)]

    def _pairs(self, b: Any, x: Any, w: Any) -> Any:
        """``vpmaddwd`` in plain IR: int32 lane j = x[2j]·w[2j] + x[2j+1]·w[2j+1]."""
        n = self.isa.lanes
        undef = self.ir.Constant(self.v16, self.ir.Undefined)
        out = []
        for parity in (0, 1):
            pick = self._const([2 * j + parity for j in range(n)])
            xp = b.zext(b.shuffle_vector(x, undef, pick), self.v32)
            wp = b.sext(b.shuffle_vector(w, undef, pick), self.v32)
            out.append(b.mul(xp, wp))
        return b.add(out[0], out[1])

    def sums(self, b: Any, acc: list[Any]) -> Any:
        """The block's ``pixels`` int32 sums in pixel order from a channel's registers."""
        if self.regs == 1:
            return acc[0]
        n = self.isa.lanes  # lanes (2p, 2p+1) of the pair of registers hold pixel p's halves
        even = b.shuffle_vector(acc[0], acc[1], self._const(list(range(0, 2 * n, 2))))
        odd = b.shuffle_vector(acc[0], acc[1], self._const(list(range(1, 2 * n, 2))))
        return b.add(even, odd)


def kernel_name(isa: Isa, group: int) -> str:
    return f"hwsr_mac_{isa.name}_{group}"


def mac_ir(isa: Isa, group: int) -> str:
    """LLVM IR of ``void hwsr_mac_<isa>_<group>(i64 strips, i64 tapoff, i64 wq, i64 wstride,
    i64 ntaps, i64 acc, i64 astride, i64 nblocks)`` (see the module docstring)."""
    from llvmlite import ir

    if not 1 <= group <= isa.group_max:
        raise ValueError(f"group must be 1..{isa.group_max} for {isa.name}, got {group}")
    mod = ir.Module(name=kernel_name(isa, group))
    g = _Gen(isa, mod)
    i64 = g.i64
    fn = ir.Function(mod, ir.FunctionType(ir.VoidType(), [i64] * 8), kernel_name(isa, group))
    strips_a, tapoff_a, wq_a, wstride, ntaps, acc_a, astride, nblocks = fn.args
    entry, block, tap, store, done = (fn.append_basic_block(n)
                                      for n in ("entry", "block", "tap", "store", "done"))
    b = ir.IRBuilder(entry)
    strips = b.inttoptr(strips_a, g.i8.as_pointer())
    tapoff = b.inttoptr(tapoff_a, i64.as_pointer())
    wq = b.inttoptr(wq_a, g.wtype.as_pointer())
    acc = b.inttoptr(acc_a, g.i32.as_pointer())
    ok = b.and_(b.icmp_signed(">", nblocks, i64(0)), b.icmp_signed(">", ntaps, i64(0)))
    b.cbranch(ok, block, done)

    b.position_at_end(block)  # one block of output pixels
    xb = b.phi(i64, "xb")
    xb.add_incoming(i64(0), entry)
    xoff = b.mul(xb, i64(isa.pixels * CHANNELS))
    b.branch(tap)

    b.position_at_end(tap)  # one tap: the block's input bytes times each channel's weights
    t = b.phi(i64, "t")
    t.add_incoming(i64(0), block)
    zero = ir.Constant(g.v32, None)
    sums = [[b.phi(g.v32, f"s{o}_{r}") for r in range(g.regs)] for o in range(group)]
    for regs in sums:
        for s in regs:
            s.add_incoming(zero, block)
    xs = g.inputs(b, b.gep(strips, [b.add(b.load(b.gep(tapoff, [t])), xoff)]))
    wrow = b.gep(wq, [b.mul(t, wstride)])
    new = [g.step(b, regs, xs, g.weights(b, wrow, o)) for o, regs in enumerate(sums)]
    t_next = b.add(t, i64(1))
    t.add_incoming(t_next, tap)
    for regs, nregs in zip(sums, new, strict=True):
        for s, n in zip(regs, nregs, strict=True):
            s.add_incoming(n, tap)
    b.cbranch(b.icmp_signed("<", t_next, ntaps), tap, store)

    b.position_at_end(store)
    out_t = ir.VectorType(g.i32, isa.pixels)
    for o, nregs in enumerate(new):
        dst = b.gep(acc, [b.add(b.mul(i64(o), astride), b.mul(xb, i64(isa.pixels)))])
        b.store(g.sums(b, nregs), b.bitcast(dst, out_t.as_pointer()), align=4)
    xb_next = b.add(xb, i64(1))
    xb.add_incoming(xb_next, store)
    b.cbranch(b.icmp_signed("<", xb_next, nblocks), block, done)

    b.position_at_end(done)
    b.ret_void()
    return str(mod)


def peak_name(isa: Isa) -> str:
    return f"hwsr_peak_{isa.name}"


def peak_ir(isa: Isa) -> str:
    """LLVM IR of ``i32 hwsr_peak_<isa>(i64 iters, i64 operands)``: ``iters`` rounds of
    ``isa.peak_chains`` independent multiply-accumulates on register operands, no memory
    traffic: the host's rate for the instruction the kernel uses (``isa.macs_per_op`` MACs
    each; the 16-bit forms count their ``vpaddd`` too, and multiply each chain's own value,
    so the compiler cannot hoist the product out of the loop)."""
    from llvmlite import ir

    mod = ir.Module(name=peak_name(isa))
    g = _Gen(isa, mod)
    i64 = g.i64
    fn = ir.Function(mod, ir.FunctionType(g.i32, [i64, i64]), peak_name(isa))
    iters, ops_a = fn.args
    entry, loop, done = (fn.append_basic_block(n) for n in ("entry", "loop", "done"))
    b = ir.IRBuilder(entry)
    ops = b.bitcast(b.inttoptr(ops_a, g.i32.as_pointer()), g.v32.as_pointer())
    x, w = b.load(ops, align=4), b.load(b.gep(ops, [i64(1)]), align=4)
    if isa.form != "dpbusd":
        x, w = b.bitcast(x, g.v16), b.bitcast(w, g.v16)
    b.branch(loop)
    b.position_at_end(loop)
    n = b.phi(i64, "n")
    n.add_incoming(i64(0), entry)
    chains = []
    for c in range(isa.peak_chains):
        p = b.phi(g.v32, f"c{c}")
        p.add_incoming(ir.Constant(g.v32, None), entry)
        chains.append(p)
    # the 16-bit forms multiply the chain's own value (a loop-invariant vpmaddwd would be
    # hoisted out of the loop, leaving only the adds); vpdpbusd reads its accumulator anyway
    new = [g.step(b, [p], [x if isa.form == "dpbusd" else b.bitcast(p, g.v16)], w)[0]
           for p in chains]
    for p, v in zip(chains, new, strict=True):
        p.add_incoming(v, loop)
    n_next = b.add(n, i64(1))
    n.add_incoming(n_next, loop)
    b.cbranch(b.icmp_signed("<", n_next, iters), loop, done)
    b.position_at_end(done)
    total = new[0]
    for v in new[1:]:
        total = b.add(total, v)
    b.ret(b.extract_element(total, g.i32(0)))
    return str(mod)
