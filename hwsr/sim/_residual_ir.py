"""LLVM IR of the output stage of one conv row: residual add, pixel requantization and pixel
shuffle, in int32 vector lanes (private).

The last conv layer's ``3·r²`` code planes of one row meet the row's delayed input pixels
(three colour planes), are shifted to the output's fixed point with the spec's rounding,
clamped to 0..255 and written as ``r`` pixel-shuffled RGB rows: output byte
``(x·r + k)·3 + c`` of output row ``i`` is plane ``c·r² + i·r + k`` at column ``x``. The
kernel is :func:`hwsr.sim._kernels.residual_shuffle_rows_i32` in 32-bit lanes (numba widens
int32 arithmetic to int64, a quarter of the lanes), with the ``3r`` bytes of each output pixel
put together by one vector shuffle per block of pixels instead of ``3r`` scalar byte stores.
Exact under the same proof (every sum below 2**30 in magnitude, ``0 <= out_shift <= 30``).

The rounding mode, the conv codes' type, ``r`` and whether the residual path exists are
constants of a kernel. ``void hwsr_residual_...(i64 conv, i64 src, i64 out, i64 ostride,
i64 width, i64 conv_lshift, i64 in_lshift, i64 out_shift, i64 stats)``:

* ``conv[p*width + x]``: the row's codes, plane ``p`` (``3·r²`` planes);
* ``src[c*width + x]``: the input pixels (uint8 colour planes; not read without residual);
* ``out + i*ostride``: output row ``i`` (``width·r·3`` bytes), ``i < r``;
* ``stats``: int64, the clamped pixels are added to ``stats[0]``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from hwsr.sim._requant_ir import HALF_UP, RequantKind, _Row

COLOURS = 3


@dataclass(frozen=True)
class ResidualKind:
    """The constants one output-stage kernel is compiled for."""

    lanes: int  # pixels per vector block (int32 lanes of the arithmetic)
    rounding: int  # Rounding.code
    conv_bits: int  # 8, 16, 32 or 64: width of one stored conv code
    conv_signed: bool  # conv codes are two's complement (else zero-extended)
    upscale: int  # r: output rows per conv row, sub-pixel columns per pixel
    residual: bool  # the input pixels are added (else the conv codes alone)

    @property
    def name(self) -> str:
        sign = "s" if self.conv_signed else "u"
        return (f"hwsr_residual_l{self.lanes}_r{self.rounding}_{sign}{self.conv_bits}_"
                f"x{self.upscale}_{'res' if self.residual else 'nores'}")


def residual_ir(kind: ResidualKind) -> str:
    """LLVM IR of the output-stage kernel ``kind`` (see the module docstring)."""
    from llvmlite import ir

    if kind.conv_bits not in (8, 16, 32, 64) or kind.lanes < 1 or kind.upscale < 1:
        raise ValueError(f"unsupported output-stage kernel {kind}")
    i64 = ir.IntType(64)
    mod = ir.Module(name=kind.name)
    fn = ir.Function(mod, ir.FunctionType(ir.VoidType(), [i64] * 9), kind.name)
    _Kernel(kind, fn).build()
    return str(mod)


def _interleave_mask(n_planes: int, lanes: int) -> list[int]:
    """Shuffle mask taking ``n_planes`` concatenated ``lanes``-byte planes to pixel-major
    order: byte ``x·n + p`` is plane ``p``'s byte ``x``."""
    return [(t % n_planes) * lanes + t // n_planes for t in range(n_planes * lanes)]


class _Kernel:
    """The blocks of one kernel: per output row, a loop over whole blocks of ``lanes``
    pixels and a loop over the remaining pixels one at a time; then the count."""

    def __init__(self, kind: ResidualKind, fn: Any) -> None:
        from llvmlite import ir

        self.ir, self.kind, self.fn = ir, kind, fn
        self.i8, self.i32, self.i64 = ir.IntType(8), ir.IntType(32), ir.IntType(64)
        self.conv_t = ir.IntType(kind.conv_bits)
        (conv_a, src_a, out_a, self.ostride, self.width, cls_a, ils_a, rs_a,
         self.stats_a) = fn.args
        self.b = b = ir.IRBuilder(fn.append_basic_block("entry"))
        self.conv = b.inttoptr(conv_a, self.conv_t.as_pointer())
        self.src = b.inttoptr(src_a, self.i8.as_pointer())
        self.out = b.inttoptr(out_a, self.i8.as_pointer())
        self.shifts = [b.trunc(a, self.i32) for a in (cls_a, ils_a, rs_a)]
        self.n_full = b.udiv(self.width, self.i64(kind.lanes))
        self.first_tail = b.mul(self.n_full, self.i64(kind.lanes))

    def build(self) -> None:
        b, k = self.b, self.kind
        wide, one = _Row(self._rq(k.lanes), b), _Row(self._rq(1), b)
        c_wide, c_one = self._splats(wide), self._splats(one)
        kept = (wide.const(0), one.const(0))  # codes inside 0..255, per lane
        for i in range(k.upscale):  # one output row at a time: 3r conv planes, one out row
            def whole(xb: Any, n: Any, i: int = i) -> Any:
                return self._block(wide, c_wide, i, b.mul(xb, self.i64(k.lanes)), n)

            def tail(x: Any, n: Any, i: int = i) -> Any:
                return self._block(one, c_one, i, b.add(self.first_tail, x), n)

            kept = (self._loop(self.n_full, kept[0], whole),
                    self._loop(b.sub(self.width, self.first_tail), kept[1], tail))
        self._store_count(kept)
        b.ret_void()

    def _rq(self, lanes: int) -> RequantKind:
        """The requantizer's vector helpers (splats, min/max, the rounding shift) serve
        here too: they read only the lane count and the rounding mode of this kind."""
        return RequantKind(lanes, self.kind.rounding, 0, False, 8)

    def _splats(self, row: _Row) -> tuple[Any, ...]:
        """``(conv_lshift, in_lshift, out_shift, half)`` as vectors of ``row``'s lanes."""
        cls, ils, rs = (row.splat(s) for s in self.shifts)
        return cls, ils, rs, self.b.ashr(self.b.shl(row.const(1), rs), row.const(1))

    def _loop(self, n: Any, init: Any, body: Callable[[Any, Any], Any]) -> Any:
        """``for x in range(n)`` around ``body(x, carried) -> carried`` (straight-line
        code); the carried value after the loop."""
        b, i64 = self.b, self.i64
        pre = b.block
        loop, done = self.fn.append_basic_block("loop"), self.fn.append_basic_block("done")
        b.cbranch(b.icmp_unsigned(">", n, i64(0)), loop, done)
        b.position_at_end(loop)
        x, carried = b.phi(i64), b.phi(init.type)
        x.add_incoming(i64(0), pre)
        carried.add_incoming(init, pre)
        new = body(x, carried)
        x_next = b.add(x, i64(1))
        x.add_incoming(x_next, b.block)
        carried.add_incoming(new, b.block)
        end = b.block
        b.cbranch(b.icmp_unsigned("<", x_next, n), loop, done)
        b.position_at_end(done)
        result = b.phi(init.type)
        result.add_incoming(init, pre)
        result.add_incoming(new, end)
        return result

    def _load(self, ptr: Any, at: Any, elem: Any, lanes: int, align: int) -> Any:
        vec = self.ir.VectorType(elem, lanes)
        return self.b.load(self.b.bitcast(self.b.gep(ptr, [at]), vec.as_pointer()),
                           align=align)

    def _block(self, row: _Row, consts: tuple[Any, ...], i: int, x: Any, kept: Any) -> Any:
        """Output row ``i``, pixels ``x .. x+lanes``: the ``3r`` byte planes in int32 lanes,
        interleaved pixel-major and stored; the codes inside 0..255 added to ``kept``."""
        b, k, ir, i64 = self.b, self.kind, self.ir, self.i64
        lanes = row.kind.lanes
        cls, ils, rs, half = consts
        # per colour, the term every sub-pixel adds: its input pixel, and for half-up the
        # rounding half (added once here instead of once per plane)
        add = [row.const(0)] * COLOURS
        if k.residual:
            add = [b.shl(b.zext(self._load(self.src, b.add(b.mul(self.width, i64(c)), x),
                                           self.i8, lanes, 1), row.vec), ils)
                   for c in range(COLOURS)]
        if k.rounding == HALF_UP:
            add, half = [b.add(a, half) for a in add], row.const(0)
        planes = []
        for sub in range(k.upscale):
            for c in range(COLOURS):
                p = c * k.upscale * k.upscale + i * k.upscale + sub
                code = self._load(self.conv, b.add(b.mul(self.width, i64(p)), x), self.conv_t,
                                  lanes, k.conv_bits // 8)
                q = row.round_shift(b.add(b.shl(self._widen(code, row.vec), cls), add[c]), rs,
                                    half)
                # 0 <= q <= 255 exactly when no bit above the low 8 is set (two's complement)
                inside = b.icmp_signed("==", b.lshr(q, row.const(8)), row.const(0))
                kept = b.add(kept, row.count(inside))
                planes.append(b.trunc(row.smin(row.smax(q, row.const(0)), row.const(255)),
                                      ir.VectorType(self.i8, lanes)))
        pixels = _interleave(b, ir, planes)
        at = b.add(b.mul(self.ostride, i64(i)), b.mul(x, i64(len(planes))))
        out_v = ir.VectorType(self.i8, len(planes) * lanes)
        b.store(pixels, b.bitcast(b.gep(self.out, [at]), out_v.as_pointer()), align=1)
        return kept

    def _widen(self, code: Any, vec: Any) -> Any:
        bits = self.kind.conv_bits
        if bits == 32:
            return code
        if bits == 64:  # the proof keeps every code inside int32
            return self.b.trunc(code, vec)
        return self.b.sext(code, vec) if self.kind.conv_signed else self.b.zext(code, vec)

    def _store_count(self, kept: tuple[Any, Any]) -> None:
        """Add the clamped codes, ``width·3r²`` less those kept, to ``stats[0]``."""
        b, i64, k = self.b, self.i64, self.kind
        total = b.extract_element(kept[1], self.i32(0))
        for lane in range(k.lanes):
            total = b.add(total, b.extract_element(kept[0], self.i32(lane)))
        codes = b.mul(self.width, i64(COLOURS * k.upscale * k.upscale))
        stats = b.inttoptr(self.stats_a, i64.as_pointer())
        b.store(b.add(b.load(stats), b.sub(codes, b.zext(total, i64))), stats)


def _interleave(b: Any, ir: Any, planes: list[Any]) -> Any:
    """The byte vectors ``planes`` (equal lanes) pixel-major: byte ``x·n + p`` of the
    result is byte ``x`` of plane ``p``."""
    n, lanes = len(planes), planes[0].type.count
    joined = _concat(b, ir, planes)
    mask = ir.Constant(ir.VectorType(ir.IntType(32), n * lanes),
                       [ir.IntType(32)(m) for m in _interleave_mask(n, lanes)])
    return b.shuffle_vector(joined, ir.Constant(joined.type, ir.Undefined), mask)


def _concat(b: Any, ir: Any, vecs: list[Any]) -> Any:
    """One vector of ``vecs`` end to end (pairwise shuffles, the last padded with undef
    lanes where their number is odd; the interleave mask never selects those)."""
    while len(vecs) > 1:
        if len(vecs) % 2:
            vecs = [*vecs, ir.Constant(vecs[0].type, ir.Undefined)]
        n = vecs[0].type.count
        mask = ir.Constant(ir.VectorType(ir.IntType(32), 2 * n),
                           [ir.IntType(32)(m) for m in range(2 * n)])
        vecs = [b.shuffle_vector(a, c, mask) for a, c in zip(vecs[::2], vecs[1::2],
                                                                strict=True)]
    return vecs[0]
