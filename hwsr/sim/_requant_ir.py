"""LLVM IR of the int32 requantizer of one output row, in int32 vector lanes (private).

The int8 path's sums leave the MAC kernel as int32 rows; this kernel turns one output row
of them (every channel) into output codes while they are in L1: bias, accumulator fit,
ReLU, left shift, rounding right shift, saturation, with the accumulator peak and the
overflow and saturation counts. It is the numba requantizer of :mod:`hwsr.sim._kernels`
(``_requant_run_i32``) in 32-bit lanes: numba widens int32 arithmetic to int64 and so runs
that loop in a quarter of the lanes. Exact under the same proof (every value below 2**30 in
magnitude after the left shift, ``rs <= 30``), and held equal to the NumPy twin by tests.

The rounding mode, the fit rule, ReLU and the output code width are constants of a kernel
(one compiled kernel per combination a layer uses). ``void hwsr_requant_...(i64 acc, i64
astride, i64 out, i64 width, i64 c_out, i64 bias, i64 ls, i64 rs, i64 limits, i64 stats)``:

* ``acc[o*astride + x]`` int32 sums (``astride`` a multiple of the lane count, read whole);
* ``out[o*width + x]`` the codes, ``out_bits`` wide (two's complement, truncated);
* ``bias``, ``ls``, ``rs``: int32 per channel; ``limits``: int32 ``[acc_h, acc_mask, acc_lo,
  acc_hi, lo, hi]`` (see ``_acc_limits_i32``);
* ``stats``: int64 ``[peak, overflows, saturations]``, updated (max, add, add).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

FIT_NONE, FIT_WRAP, FIT_SATURATE = 0, 1, 2  # as hwsr.sim._kernels
HALF_UP, HALF_EVEN, FLOOR, TOWARD_ZERO = 0, 1, 2, 3  # Rounding.code


@dataclass(frozen=True)
class RequantKind:
    """The constants one requantizer kernel is compiled for."""

    lanes: int  # int32 lanes per vector (8 for 256-bit hosts, 16 for AVX-512)
    rounding: int  # Rounding.code
    fit: int  # FIT_NONE, FIT_WRAP or FIT_SATURATE
    relu: bool  # clamp the fitted accumulator at zero
    out_bits: int  # 8, 16, 32 or 64: width of one stored code

    @property
    def name(self) -> str:
        return (f"hwsr_requant_l{self.lanes}_r{self.rounding}_f{self.fit}_"
                f"{'relu' if self.relu else 'lin'}_o{self.out_bits}")


class _Row:
    """IR builder helpers of one kernel: splats, and the per-vector requantization."""

    def __init__(self, kind: RequantKind, b: Any) -> None:
        from llvmlite import ir

        self.ir, self.kind, self.b = ir, kind, b
        self.i32 = ir.IntType(32)
        self.vec = ir.VectorType(self.i32, kind.lanes)

    def splat(self, scalar: Any) -> Any:
        ir, b = self.ir, self.b
        undef = ir.Constant(self.vec, ir.Undefined)
        zeros = ir.Constant(ir.VectorType(self.i32, self.kind.lanes), None)
        return b.shuffle_vector(b.insert_element(undef, scalar, self.i32(0)), undef, zeros)

    def const(self, value: int) -> Any:
        return self.ir.Constant(self.vec, [self.i32(value)] * self.kind.lanes)

    def smax(self, a: Any, c: Any) -> Any:
        return self.b.select(self.b.icmp_signed(">", a, c), a, c)

    def smin(self, a: Any, c: Any) -> Any:
        return self.b.select(self.b.icmp_signed("<", a, c), a, c)

    def count(self, cond: Any) -> Any:
        return self.b.zext(cond, self.vec)

    def requant(self, x: Any, ch: dict[str, Any], lim: dict[str, Any]) -> tuple[Any, ...]:
        """``(codes, |a|, overflowed, saturated)`` of one vector of sums ``x``."""
        b, k = self.b, self.kind
        a = b.add(x, ch["bias"])
        mag = self.smax(a, b.sub(self.const(0), a))
        ovf = self.const(0)
        if k.fit != FIT_NONE:
            ovf = self.count(b.or_(b.icmp_signed("<", a, lim["acc_lo"]),
                                   b.icmp_signed(">", a, lim["acc_hi"])))
            a = (b.sub(b.and_(b.add(a, lim["acc_h"]), lim["acc_mask"]), lim["acc_h"])
                 if k.fit == FIT_WRAP else self.smin(self.smax(a, lim["acc_lo"]),
                                                     lim["acc_hi"]))
        if k.relu:
            a = self.smax(a, self.const(0))
        q = self.round_shift(b.shl(a, ch["ls"]), ch["rs"], ch["half"])
        sat = self.count(b.or_(b.icmp_signed("<", q, lim["lo"]),
                               b.icmp_signed(">", q, lim["hi"])))
        return self.smin(self.smax(q, lim["lo"]), lim["hi"]), mag, ovf, sat

    def round_shift(self, s: Any, rs: Any, half: Any) -> Any:
        """``round_shift`` of :mod:`hwsr.fixed` in the kernel's rounding mode."""
        b, mode = self.b, self.kind.rounding
        if mode == HALF_UP:
            return b.ashr(b.add(s, half), rs)
        q = b.ashr(s, rs)
        if mode == FLOOR:
            return q
        if mode == HALF_EVEN:
            rem = b.sub(s, b.shl(q, rs))
            odd = b.icmp_signed("==", b.and_(q, self.const(1)), self.const(1))
            tie = b.and_(b.and_(b.icmp_signed("==", rem, half), odd),
                         b.icmp_signed(">", rs, self.const(0)))
            return b.add(q, self.count(b.or_(b.icmp_signed(">", rem, half), tie)))
        low = b.sub(b.shl(self.const(1), rs), self.const(1))  # toward zero
        return b.ashr(b.add(s, b.and_(b.ashr(s, self.const(31)), low)), rs)


def requant_ir(kind: RequantKind) -> str:
    """LLVM IR of the requantizer ``kind`` (see the module docstring)."""
    from llvmlite import ir

    if kind.out_bits not in (8, 16, 32, 64) or kind.lanes not in (4, 8, 16):
        raise ValueError(f"unsupported requantizer {kind}")
    i64 = ir.IntType(64)
    mod = ir.Module(name=kind.name)
    fn = ir.Function(mod, ir.FunctionType(ir.VoidType(), [i64] * 10), kind.name)
    g = _Kernel(kind, fn)
    g.channel_loop()
    return str(mod)


class _Kernel:
    """The blocks of one requantizer: a loop over the channels, in each a loop over whole
    vectors of the row and a masked tail, then the statistics."""

    def __init__(self, kind: RequantKind, fn: Any) -> None:
        from llvmlite import ir

        self.ir, self.kind, self.fn = ir, kind, fn
        self.i32, self.i64 = ir.IntType(32), ir.IntType(64)
        acc_a, self.astride, out_a, self.width, self.c_out, bias_a, ls_a, rs_a, lim_a, \
            self.stats_a = fn.args
        self.blocks = {n: fn.append_basic_block(n) for n in (
            "entry", "chan", "vec", "tail", "tail_do", "next", "done")}
        b = self.b = ir.IRBuilder(self.blocks["entry"])
        self.r = _Row(kind, b)
        self.ptr = {n: b.inttoptr(a, self.i32.as_pointer()) for n, a in (
            ("acc", acc_a), ("bias", bias_a), ("ls", ls_a), ("rs", rs_a), ("lim", lim_a))}
        self.lim = {n: self.r.splat(b.load(b.gep(self.ptr["lim"], [self.i64(i)]))) for i, n in
                    enumerate(("acc_h", "acc_mask", "acc_lo", "acc_hi", "lo", "hi"))}
        self.out_t = ir.IntType(kind.out_bits)
        self.out_v = ir.VectorType(self.out_t, kind.lanes)
        self.out = b.inttoptr(out_a, self.out_t.as_pointer())
        self.n_full = b.sdiv(self.width, self.i64(kind.lanes))
        self.rem = b.trunc(b.sub(self.width, b.mul(self.n_full, self.i64(kind.lanes))),
                           self.i32)
        self.zero = self.r.const(0)

    def narrow(self, v: Any, t: Any) -> Any:
        """int32 codes as stored: truncated, or sign-extended to 64 bits."""
        bits = self.kind.out_bits
        return v if bits == 32 else (self.b.sext(v, t) if bits == 64 else self.b.trunc(v, t))

    def channel_loop(self) -> None:
        b, bl, i64 = self.b, self.blocks, self.i64
        b.cbranch(b.icmp_signed(">", self.c_out, i64(0)), bl["chan"], bl["done"])
        b.position_at_end(bl["chan"])  # one output channel
        o = b.phi(i64, "o")
        o.add_incoming(i64(0), bl["entry"])
        acc3 = [b.phi(self.r.vec, n) for n in ("peak", "ovf", "sat")]
        for p in acc3:
            p.add_incoming(self.zero, bl["entry"])
        rs = self.r.splat(b.load(b.gep(self.ptr["rs"], [o])))
        ch = {"bias": self.r.splat(b.load(b.gep(self.ptr["bias"], [o]))),
              "ls": self.r.splat(b.load(b.gep(self.ptr["ls"], [o]))), "rs": rs,
              "half": b.ashr(b.shl(self.r.const(1), rs), self.r.const(1))}
        rows = (b.gep(self.ptr["acc"], [b.mul(o, self.astride)]),
                b.gep(self.out, [b.mul(o, self.width)]))
        b.branch(bl["vec"])
        kept = self.vector_loop(rows, ch, acc3)
        tail_new, tail_end = self.tail(rows, ch, kept)
        b.position_at_end(bl["next"])
        merged = []
        for i, name in enumerate(("peak", "ovf", "sat")):
            p = b.phi(self.r.vec, f"m{name}")
            p.add_incoming(kept[i], bl["tail"])
            p.add_incoming(tail_new[i], tail_end)
            merged.append(p)
        o_next = b.add(o, i64(1))
        o.add_incoming(o_next, bl["next"])
        for p, v in zip(acc3, merged, strict=True):
            p.add_incoming(v, bl["next"])
        b.cbranch(b.icmp_signed("<", o_next, self.c_out), bl["chan"], bl["done"])
        b.position_at_end(bl["done"])
        final = [b.phi(self.r.vec, f"f{n}") for n in range(3)]
        for p, v in zip(final, merged, strict=True):
            p.add_incoming(self.zero, bl["entry"])
            p.add_incoming(v, bl["next"])
        _store_stats(b, self.stats_a, final, self.kind.lanes)
        b.ret_void()

    def vector_loop(self, rows: tuple[Any, Any], ch: dict[str, Any],
                    acc3: list[Any]) -> list[Any]:
        """Whole vectors of the row (the body runs once more, its store and counts
        discarded, so the loop needs no separate entry test); the counts it leaves."""
        b, r, i64, L = self.b, self.r, self.i64, self.kind.lanes
        b.position_at_end(self.blocks["vec"])
        xb = b.phi(i64, "xb")
        xb.add_incoming(i64(0), self.blocks["chan"])
        st = [b.phi(r.vec, f"v{n}") for n in range(3)]
        for p, init in zip(st, acc3, strict=True):
            p.add_incoming(init, self.blocks["chan"])
        more = b.icmp_signed("<", xb, self.n_full)
        x_at = b.mul(xb, i64(L))
        load_at = b.select(more, x_at, i64(0))  # never read past the row when done
        x = b.load(b.bitcast(b.gep(rows[0], [load_at]), r.vec.as_pointer()), align=4)
        codes, mag, ovf, sat = r.requant(x, ch, self.lim)
        new = [r.smax(st[0], mag), b.add(st[1], ovf), b.add(st[2], sat)]
        with b.if_then(more):
            b.store(self.narrow(codes, self.out_v),
                    b.bitcast(b.gep(rows[1], [x_at]), self.out_v.as_pointer()), align=1)
        kept = [b.select(more, n, p) for n, p in zip(new, st, strict=True)]
        xb.add_incoming(b.add(xb, i64(1)), b.block)
        for p, v in zip(st, kept, strict=True):
            p.add_incoming(v, b.block)
        b.cbranch(more, self.blocks["vec"], self.blocks["tail"])
        return kept

    def tail(self, rows: tuple[Any, Any], ch: dict[str, Any],
             kept: list[Any]) -> tuple[list[Any], Any]:
        """The last ``width % lanes`` pixels: lanes past the row masked out of the counts,
        stored one by one; the counts and the block that ends it."""
        b, r, i32, i64, L = self.b, self.r, self.i32, self.i64, self.kind.lanes
        b.position_at_end(self.blocks["tail"])
        b.cbranch(b.icmp_signed(">", self.rem, i32(0)), self.blocks["tail_do"],
                  self.blocks["next"])
        b.position_at_end(self.blocks["tail_do"])
        base = b.mul(self.n_full, i64(L))
        x = b.load(b.bitcast(b.gep(rows[0], [base]), r.vec.as_pointer()), align=4)
        codes, mag, ovf, sat = r.requant(x, ch, self.lim)
        lanes = self.ir.Constant(r.vec, [i32(i) for i in range(L)])
        valid = b.icmp_signed("<", lanes, r.splat(self.rem))
        new = [r.smax(kept[0], b.select(valid, mag, self.zero)),
               b.add(kept[1], b.select(valid, ovf, self.zero)),
               b.add(kept[2], b.select(valid, sat, self.zero))]
        for lane in range(L - 1):
            with b.if_then(b.icmp_signed(">", self.rem, i32(lane))):
                b.store(self.narrow(b.extract_element(codes, i32(lane)), self.out_t),
                        b.gep(rows[1], [b.add(base, i64(lane))]))
        end = b.block
        b.branch(self.blocks["next"])
        return new, end


def _store_stats(b: Any, stats_a: Any, final: list[Any], lanes: int) -> None:
    """Reduce the lanes (max, add, add) and fold them into ``stats`` (int64)."""
    from llvmlite import ir

    i32, i64 = ir.IntType(32), ir.IntType(64)
    stats = b.inttoptr(stats_a, i64.as_pointer())
    for i, v in enumerate(final):
        total = b.extract_element(v, i32(0))
        for lane in range(1, lanes):
            e = b.extract_element(v, i32(lane))
            total = (b.select(b.icmp_signed(">", e, total), e, total) if i == 0
                     else b.add(total, e))
        slot = b.gep(stats, [i64(i)])
        wide, old = b.sext(total, i64), b.load(b.gep(stats, [i64(i)]))
        b.store(b.select(b.icmp_signed(">", wide, old), wide, old) if i == 0
                else b.add(old, wide), slot)
