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
    # the codes are 0..255 (limits lo = 0, hi = 255, the caller's promise) after a ReLU: the
    # shifted value is never negative, so the store clamps with one unsigned saturating
    # narrowing and the least shifted value needs no tracking
    byte_relu: bool = False

    def __post_init__(self) -> None:
        if self.byte_relu and not (self.relu and self.out_bits == 8):
            raise ValueError("byte_relu needs relu and 8-bit codes")

    @property
    def name(self) -> str:
        return (f"hwsr_requant_l{self.lanes}_r{self.rounding}_f{self.fit}_"
                f"{'relu' if self.relu else 'lin'}_o{self.out_bits}"
                f"{'_u8' if self.byte_relu else ''}")


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

    def fitted(self, x: Any, ch: dict[str, Any], lim: dict[str, Any]) -> tuple[Any, Any]:
        """``(a, q)`` of one vector of sums ``x``: the biased sum before the accumulator fit,
        and the rounded, shifted value before the output clamp."""
        b, k = self.b, self.kind
        a0 = a = b.add(x, ch["bias"])
        if k.fit != FIT_NONE:
            a = (b.sub(b.and_(b.add(a, lim["acc_h"]), lim["acc_mask"]), lim["acc_h"])
                 if k.fit == FIT_WRAP else self.smin(self.smax(a, lim["acc_lo"]),
                                                     lim["acc_hi"]))
        if k.relu:
            a = self.smax(a, self.const(0))
        return a0, self.round_shift(self.b.shl(a, ch["ls"]), ch["rs"], ch["half"])

    def outside(self, v: Any, lo: Any, hi: Any) -> Any:
        """Lanes of ``v`` below ``lo`` or above ``hi``."""
        return self.b.or_(self.b.icmp_signed("<", v, lo), self.b.icmp_signed(">", v, hi))

    def requant(self, x: Any, ch: dict[str, Any], lim: dict[str, Any]) -> tuple[Any, ...]:
        """``(codes, |a|, overflowed, saturated)`` of one vector of sums ``x``."""
        b, k = self.b, self.kind
        a, q = self.fitted(x, ch, lim)
        mag = self.smax(a, b.sub(self.const(0), a))
        ovf = (self.count(self.outside(a, lim["acc_lo"], lim["acc_hi"]))
               if k.fit != FIT_NONE else self.const(0))
        sat = self.count(self.outside(q, lim["lo"], lim["hi"]))
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
    """The blocks of one requantizer. A loop over the channels; in each, a pass over the
    whole vectors of the row that stores the codes and keeps only the lanes' extremes of the
    biased sum and of the shifted value (the peak follows from them); a second pass that
    counts the overflowed and saturated lanes, run only for a row whose extremes left their
    range (rare: most rows of a trained engine neither overflow nor saturate); a masked tail;
    then the statistics."""

    def __init__(self, kind: RequantKind, fn: Any) -> None:
        from llvmlite import ir

        self.ir, self.kind, self.fn = ir, kind, fn
        self.i32, self.i64 = ir.IntType(32), ir.IntType(64)
        acc_a, self.astride, out_a, self.width, self.c_out, bias_a, ls_a, rs_a, lim_a, \
            self.stats_a = fn.args
        self.blocks = {n: fn.append_basic_block(n) for n in (
            "entry", "chan", "vec", "vbody", "vend", "cnt", "cbody", "cend", "tail", "tail_do",
            "next", "done")}
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

    def load(self, row: Any, xb: Any) -> Any:
        """Whole vector ``xb`` of an accumulator row."""
        b = self.b
        at = b.gep(row, [b.mul(xb, self.i64(self.kind.lanes))])
        return b.load(b.bitcast(at, self.r.vec.as_pointer()), align=4)

    def channel_loop(self) -> None:
        b, bl, i64, r = self.b, self.blocks, self.i64, self.r
        b.cbranch(b.icmp_signed(">", self.c_out, i64(0)), bl["chan"], bl["done"])
        b.position_at_end(bl["chan"])  # one output channel
        o = b.phi(i64, "o")
        o.add_incoming(i64(0), bl["entry"])
        acc3 = [b.phi(r.vec, n) for n in ("peak", "ovf", "sat")]
        for p in acc3:
            p.add_incoming(self.zero, bl["entry"])
        rs = r.splat(b.load(b.gep(self.ptr["rs"], [o])))
        ch = {"bias": r.splat(b.load(b.gep(self.ptr["bias"], [o]))),
              "ls": r.splat(b.load(b.gep(self.ptr["ls"], [o]))), "rs": rs,
              "half": b.ashr(b.shl(r.const(1), rs), r.const(1))}
        rows = (b.gep(self.ptr["acc"], [b.mul(o, self.astride)]),
                b.gep(self.out, [b.mul(o, self.width)]))
        b.branch(bl["vec"])
        a_min, a_max, q_min, q_max = self.store_loop(rows, ch)
        peak = r.smax(acc3[0], r.smax(a_max, b.sub(self.zero, a_min)))
        left = r.outside(q_min, self.lim["lo"], self.lim["hi"])
        left = b.or_(left, r.outside(q_max, self.lim["lo"], self.lim["hi"]))
        if self.kind.fit != FIT_NONE:
            left = b.or_(left, r.outside(a_min, self.lim["acc_lo"], self.lim["acc_hi"]))
            left = b.or_(left, r.outside(a_max, self.lim["acc_lo"], self.lim["acc_hi"]))
        mask = b.bitcast(left, self.ir.IntType(self.kind.lanes))
        b.cbranch(b.icmp_unsigned("!=", mask, mask.type(0)), bl["cnt"], bl["tail"])
        counted = self.count_loop(rows, ch, acc3[1:])
        b.position_at_end(bl["tail"])
        kept = [peak]
        for i, name in enumerate(("ovf", "sat")):
            p = b.phi(r.vec, f"k{name}")
            p.add_incoming(acc3[1 + i], bl["vend"])
            p.add_incoming(counted[i], bl["cend"])
            kept.append(p)
        tail_new, tail_end = self.tail(rows, ch, kept)
        b.position_at_end(bl["next"])
        merged = []
        for i, name in enumerate(("peak", "ovf", "sat")):
            p = b.phi(r.vec, f"m{name}")
            p.add_incoming(kept[i], bl["tail"])
            p.add_incoming(tail_new[i], tail_end)
            merged.append(p)
        o_next = b.add(o, i64(1))
        o.add_incoming(o_next, bl["next"])
        for p, v in zip(acc3, merged, strict=True):
            p.add_incoming(v, bl["next"])
        b.cbranch(b.icmp_signed("<", o_next, self.c_out), bl["chan"], bl["done"])
        b.position_at_end(bl["done"])
        final = [b.phi(r.vec, f"f{n}") for n in range(3)]
        for p, v in zip(final, merged, strict=True):
            p.add_incoming(self.zero, bl["entry"])
            p.add_incoming(v, bl["next"])
        _store_stats(b, self.stats_a, final, self.kind.lanes)
        b.ret_void()

    def store_loop(self, rows: tuple[Any, Any], ch: dict[str, Any]) -> list[Any]:
        """Whole vectors of the row: codes stored; the lanes' least and greatest biased sum
        and shifted value, as they stand in ``vend`` (0, 0, lo, lo where the row has no
        whole vector: inside every range)."""
        b, r, i64, bl = self.b, self.r, self.i64, self.blocks
        b.position_at_end(bl["vec"])
        xb = b.phi(i64, "xb")
        xb.add_incoming(i64(0), bl["chan"])
        ext = [b.phi(r.vec, n) for n in ("amin", "amax", "qmin", "qmax")]
        for p, init in zip(ext, (self.zero, self.zero, self.lim["lo"], self.lim["lo"]),
                           strict=True):
            p.add_incoming(init, bl["chan"])
        b.cbranch(b.icmp_signed("<", xb, self.n_full), bl["vbody"], bl["vend"])
        b.position_at_end(bl["vbody"])
        a, q = r.fitted(self.load(rows[0], xb), ch, self.lim)
        at = b.gep(rows[1], [b.mul(xb, i64(self.kind.lanes))])
        if self.kind.byte_relu:  # q >= 0 = lo: one unsigned saturating narrowing to 0..255
            c255 = r.const(255)
            codes = b.select(b.icmp_unsigned("<", q, c255), q, c255)
            q_low = ext[2]
        else:
            codes = r.smin(r.smax(q, self.lim["lo"]), self.lim["hi"])
            q_low = r.smin(ext[2], q)
        b.store(self.narrow(codes, self.out_v), b.bitcast(at, self.out_v.as_pointer()), align=1)
        new = [r.smin(ext[0], a), r.smax(ext[1], a), q_low, r.smax(ext[3], q)]
        xb.add_incoming(b.add(xb, i64(1)), bl["vbody"])
        for p, v in zip(ext, new, strict=True):
            p.add_incoming(v, bl["vbody"])
        b.branch(bl["vec"])
        b.position_at_end(bl["vend"])
        return ext

    def count_loop(self, rows: tuple[Any, Any], ch: dict[str, Any],
                   counts: list[Any]) -> list[Any]:
        """The row's whole vectors again, counting the overflowed and saturated lanes into
        ``counts``; the counts as they stand in ``cend``."""
        b, r, i64, bl = self.b, self.r, self.i64, self.blocks
        b.position_at_end(bl["cnt"])
        xc = b.phi(i64, "xc")
        xc.add_incoming(i64(0), bl["vend"])
        st = [b.phi(r.vec, n) for n in ("covf", "csat")]
        for p, init in zip(st, counts, strict=True):
            p.add_incoming(init, bl["vend"])
        b.cbranch(b.icmp_signed("<", xc, self.n_full), bl["cbody"], bl["cend"])
        b.position_at_end(bl["cbody"])
        a, q = r.fitted(self.load(rows[0], xc), ch, self.lim)
        ovf = (r.count(r.outside(a, self.lim["acc_lo"], self.lim["acc_hi"]))
               if self.kind.fit != FIT_NONE else self.zero)
        new = [b.add(st[0], ovf), b.add(st[1], r.count(r.outside(q, self.lim["lo"],
                                                                 self.lim["hi"])))]
        xc.add_incoming(b.add(xc, i64(1)), bl["cbody"])
        for p, v in zip(st, new, strict=True):
            p.add_incoming(v, bl["cbody"])
        b.branch(bl["cnt"])
        b.position_at_end(bl["cend"])
        b.branch(bl["tail"])
        return st

    def tail(self, rows: tuple[Any, Any], ch: dict[str, Any],
             kept: list[Any]) -> tuple[list[Any], Any]:
        """The last ``width % lanes`` pixels: lanes past the row masked out of the counts,
        stored one by one; the counts and the block that ends it."""
        b, r, i32, i64, L = self.b, self.r, self.i32, self.i64, self.kind.lanes
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
