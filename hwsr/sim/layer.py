"""One conv layer of the engine: its ring line buffer, its MAC array and its requantizer.

A k×k layer keeps the last k−1 rows of its input in a ring line buffer. When input row
``y + k//2`` arrives it has every row output row ``y`` needs, so the row leaves the layer
then; rows above the frame read as zero (the ring starts zeroed) and rows below it are fed
as zero rows when the frame ends (:meth:`ConvUnit.flush`). A 1×1 layer keeps no rows.

The MAC array's sums are exact integers. Where every partial sum of a layer is proven below
2**24 from its integer weights (``sum(|w|) * max|x|`` per output channel), the products are
summed in float32 by BLAS, which is then exact in any order; a longer reduction is split into
chunks that each meet the bound, and the chunks are added in int64 together with the bias.
Where even one product can reach 2**24, the layer runs on the int64 kernel instead. The
requantizer runs in int32 (vectorized) where :func:`plan_i32_requant` proves it exact, else
in int64 with the scalar twins of :mod:`hwsr.fixed`.

Where the int32 requantizer is proven exact, the layer takes a *direct* path
(:mod:`hwsr.sim.direct`): no im2col matrix and no BLAS call, but one kernel that multiplies
and adds a row at a time straight from the line buffer and requantizes each output row while
its sums are in L1. Its MACs are the engine's own int8 × int8 → int32 (the host's kernel
variant of :mod:`hwsr.sim.int8`: AVX-512 VNNI, AVX-VNNI or AVX2) where the inputs are uint8
and the weights int8, else float32 where one chunk is exact. ``mac_path='float32'`` keeps the float32 direct path,
``'blas'`` the im2col/BLAS path, for comparison; an accumulator tap also runs on BLAS (it
reads the accumulator matrix). Every path gives the same codes and statistics.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from hwsr.fixed import FixedType, int_range
from hwsr.program import LayerProgram
from hwsr.report import linebuffer_bits
from hwsr.sim import direct, int8, ops
from hwsr.sim._kernels import (
    FIT_NONE,
    FIT_SATURATE,
    FIT_WRAP,
    STAT_OVERFLOWS,
    STAT_PEAK,
    STAT_SATURATIONS,
)
from hwsr.sim._lanes import run_split
from hwsr.sim.report import LayerSimReport
from hwsr.spec import Datapath

F32_EXACT = 2**24  # every integer of magnitude below this is exact in float32
MAX_F32_CHUNKS = 4  # beyond this, the int64 kernel is the better datapath model
MAC_PATHS = ("auto", "int8", "float32", "blas", "int64")
I32_SAFE = 2**30  # the int32 requantizer needs every intermediate below this magnitude
# Receives (layer index, output codes (n, c_out, width), accumulators (n, c_out, width) int64
# or None) for the rows a layer just emitted; views, valid only during the call.
LayerTap = Callable[[int, np.ndarray, "np.ndarray | None"], None]



def storage_dtype(t: FixedType) -> np.dtype:
    """Narrowest NumPy dtype (of the simulator's four) that holds every code of ``t``.

    >>> storage_dtype(FixedType(8, 8, signed=False)), storage_dtype(FixedType(8, 4, True))
    (dtype('uint8'), dtype('int16'))
    """
    if not t.signed and t.width <= 8:
        return np.dtype(np.uint8)
    magnitude_bits = t.width - (1 if t.signed else 0)
    if magnitude_bits <= 15:
        return np.dtype(np.int16)
    if magnitude_bits <= 31:
        return np.dtype(np.int32)
    return np.dtype(np.int64)


def plan_f32_chunks(weight_mat: npt.NDArray[np.int64], x_max: int, limit: int = F32_EXACT,
                    max_chunks: int = MAX_F32_CHUNKS) -> tuple[tuple[int, int], ...] | None:
    """Split the reduction rows of ``weight_mat`` (K, c_out) into float32-exact chunks.

    Each chunk ``[k0, k1)`` keeps ``sum(|w[k0:k1, o]|) * x_max < limit`` for every output
    channel ``o``, so every partial sum inside it is an exactly represented integer. Returns
    None when a single product can reach ``limit`` or more than ``max_chunks`` are needed.

    >>> plan_f32_chunks(np.array([[100], [100], [100]]), 2**16, limit=2**24)
    ((0, 2), (2, 3))
    """
    per_row = np.abs(weight_mat).astype(object) * int(x_max)  # exact Python ints
    chunks: list[tuple[int, int]] = []
    start = 0
    run = np.zeros(weight_mat.shape[1], dtype=object)
    for k in range(weight_mat.shape[0]):
        if any(v >= limit for v in per_row[k]):
            return None
        if any(v >= limit for v in run + per_row[k]):
            chunks.append((start, k))
            start, run = k, per_row[k].copy()
        else:
            run = run + per_row[k]
    chunks.append((start, weight_mat.shape[0]))
    return tuple(chunks) if len(chunks) <= max_chunks else None


def plan_i32_requant(lp: LayerProgram, in_type: FixedType, datapath: Datapath) -> int | None:
    """Accumulator fit code under which the int32 requantizer is exact, or None.

    Exact when, per output channel, the worst-case accumulator ``sum(|w|)*max|x| + |b|``
    shifted left by the channel's left shift stays below 2**30 and the right shift is at most
    30 bits; the fit is skipped where the accumulator provably cannot overflow.
    """
    worst = lp.worst_case_acc(in_type)
    shift = lp.shift
    lshift = np.maximum(-shift, 0)
    t = lp.out_type
    if int(np.max(shift, initial=0)) > 30 or not -(2**31) <= t.min_code <= t.max_code < 2**31:
        return None
    if any(int(w) << int(ls) >= I32_SAFE for w, ls in zip(worst, lshift, strict=True)):
        return None
    _, acc_hi = int_range(datapath.acc_bits, signed=True)
    if int(worst.max(initial=0)) <= acc_hi:
        return FIT_NONE
    return FIT_WRAP if datapath.acc_overflow.code == 0 else FIT_SATURATE


@dataclass
class Workspace:
    """Scratch memory shared by every layer of an engine (O(block rows × width))."""

    block_pixels: int  # rows per block × width
    cols_f32: npt.NDArray[np.float32]  # flat im2col matrix, sized for the widest layer
    acc_f32: npt.NDArray[np.float32]  # flat float32 partial sums, every chunk
    acc_i64: npt.NDArray[np.int64]  # flat int64 sums of the int64 datapath
    # direct paths, per host lane: window strips and accumulator rows, O(width) 4-byte words
    # (float32 on the float32 path; viewed as uint32 strips and int32 sums on the int8 path)
    lane_words: list[npt.NDArray[np.float32]] = field(default_factory=list)

    @classmethod
    def empty(cls, block_pixels: int) -> Workspace:
        z32 = np.zeros(0, np.float32)
        return cls(block_pixels, z32, z32.copy(), np.zeros(0, np.int64))

    def reserve_lane_words(self, lanes: int, elements: int) -> None:
        """Per-lane flat scratch of at least ``elements`` words (O(width), not O(block))."""
        while len(self.lane_words) < lanes:
            self.lane_words.append(np.zeros(0, np.float32))
        for lane, buf in enumerate(self.lane_words):
            if buf.size < elements:
                self.lane_words[lane] = np.zeros(elements, np.float32)

    def reserve(self, cols: int, acc_f32: int, acc_i64: int) -> None:
        """Grow the flat buffers to hold at least these many elements per block pixel."""
        n = self.block_pixels
        if self.cols_f32.size < n * cols:
            self.cols_f32 = np.zeros(n * cols, np.float32)
        if self.acc_f32.size < n * acc_f32:
            self.acc_f32 = np.zeros(n * acc_f32, np.float32)
        if self.acc_i64.size < n * acc_i64:
            self.acc_i64 = np.zeros(n * acc_i64, np.int64)

    @property
    def nbytes(self) -> int:
        return (self.cols_f32.nbytes + self.acc_f32.nbytes + self.acc_i64.nbytes
                + sum(b.nbytes for b in self.lane_words))


class ConvUnit:
    """One k×k conv layer streaming rows: ring line buffer, MAC array, requantizer.

    ``in_buf`` and ``out_buf`` are the stream buffers between layers, ``(block_rows,
    channels * width)`` codes each (channel planes per row); the unit reads its input rows
    from ``in_buf`` and writes the rows it emits to ``out_buf`` (the next layer's ``in_buf``).
    The output rows of one step may be split over host ``lanes`` (threads); the result does
    not depend on it.
    """

    def __init__(self, index: int, lp: LayerProgram, in_type: FixedType, datapath: Datapath,
                 width: int, in_buf: np.ndarray, out_buf: np.ndarray, workspace: Workspace,
                 *, mac_path: str = "auto", requant_path: str = "auto",
                 f32_limit: int = F32_EXACT, lanes: int = 1) -> None:
        # a grouped or dilated layer runs as its dense span×span equivalent (same sums, bit
        # for bit; LayerProgram.dense_weight): its ring holds span−1 rows of all c_in
        # channels as the silicon's does, its MAC array also multiplies the zero taps
        dense = lp.dense_weight()
        c_out, c_in, k, _ = dense.shape
        self.index, self.kernel, self.c_in, self.c_out = index, k, c_in, c_out
        self.taps_kernel, self.groups, self.dilation = lp.weight.shape[2], lp.groups, lp.dilation
        self.true_macs = int(lp.weight[0].size) * c_out  # per pixel: k·k·c_in/groups·c_out
        self.in_type, self.out_type, self.datapath = in_type, lp.out_type, datapath
        self.width, self.halo = width, k // 2
        self.in_buf, self.out_buf, self.ws = in_buf, out_buf, workspace
        self.bias = np.ascontiguousarray(lp.bias, dtype=np.int64)
        self.shift = np.ascontiguousarray(lp.shift, dtype=np.int64)
        self.relu = lp.relu
        self.acc_bound = int(lp.worst_case_acc(in_type).max(initial=0))
        # weight matrix in im2col order: row o holds taps (c, dy, dx) of output channel o
        self.weight = np.ascontiguousarray(dense, dtype=np.int64)
        w_mat = self.weight.reshape(c_out, c_in * k * k)
        x_max = max(abs(in_type.min_code), abs(in_type.max_code))
        self.chunks = self._choose_path(mac_path, w_mat.T, x_max, f32_limit)
        self.w_f32 = w_mat.astype(np.float32) if self.chunks else np.zeros((c_out, 0), np.float32)
        fit = plan_i32_requant(lp, in_type, datapath) if requant_path != "int64" else None
        # int8 direct path: uint8 inputs, int8 weights, an int8 kernel variant on this host
        # (chosen now: the layer keeps it), an exact int32 requantizer
        self.isa = int8.active()
        self.int8 = self._int8_ok(mac_path, fit, in_buf.dtype)
        self.fit_i32 = fit if self.int8 or (self.chunks is not None
                                            and len(self.chunks) == 1) else None
        # int32 requantizer parameters, per output channel
        self.bias_i32 = self.bias.astype(np.int32)
        self.lshift_i32 = np.maximum(-self.shift, 0).astype(np.int32)
        self.rshift_i32 = np.maximum(self.shift, 0).astype(np.int32)
        # float32 direct path: one exact float32 chunk and an exact int32 requantizer
        self.direct = (not self.int8 and self.fit_i32 is not None
                       and mac_path in ("auto", "float32"))
        self.wpack: npt.NDArray[np.float32] | None = None
        self.taps: npt.NDArray[np.int64] | None = None
        self.wq: np.ndarray = np.zeros((0, c_out), np.int32)
        self.fns = np.zeros(0, np.int64)
        self.i8_shapes: tuple[tuple[int, int, int], tuple[int, int], int, int] | None = None
        if self.int8:
            assert self.isa is not None
            self.wq = int8.pack_weights(self.weight, self.isa)
            self.fns = int8.kernel_table(c_out, self.isa)
            s_shape, a_shape, n_taps = direct.i8_scratch_shapes(width, c_in, k, c_out)
            self.i8_shapes = (s_shape, a_shape, int(np.prod(s_shape)), int(np.prod(a_shape)))
            self.strip_elems = self.i8_shapes[2] + self.i8_shapes[3]
            self.tapoff = np.zeros((max(lanes, 1), n_taps), np.int64)
        elif self.direct:
            self.wpack, self.taps = direct.pack_weights(self.weight)
            self.strip_elems = k * c_in * (width + k - 1) + direct.DIRECT_GROUP * width
        else:
            self.strip_elems = 0
            self._reserve_blas()
        if self.strip_elems:
            workspace.reserve_lane_words(max(lanes, 1), self.strip_elems)
        # the line buffer: k-1 rows of this layer's input, allocated once per line width
        self.ring = np.zeros((k - 1, width * c_in), dtype=in_buf.dtype)
        self.head = 0
        self.rows_in = 0  # input rows received in this frame (zero rows below it included)
        self.rows_out = 0  # output rows emitted, all frames
        self.stats = np.zeros(3, np.int64)  # acc peak, acc overflows, saturations
        self.lanes = lanes
        self._warm_paths: set[tuple[bool, bool, bool]] = set()
        self.lane_stats = np.zeros((max(self.lanes, 1), 3), np.int64)
        self.tap: LayerTap | None = None  # golden-vector sink; None costs one test per step
        self.tap_acc = np.zeros((0, 0), np.int64)  # (block rows, c_out*width) when tapped

    def _reserve_blas(self) -> None:
        """Workspace of the im2col/BLAS and int64 datapaths (also the accumulator tap's)."""
        k, c_in, c_out = self.kernel, self.c_in, self.c_out
        n_chunks = len(self.chunks) if self.chunks else 0
        self.ws.reserve(k * k * c_in if self.chunks else 0, n_chunks * c_out,
                        0 if self.chunks else c_out)

    def set_tap(self, tap: LayerTap | None, acc: bool = False) -> None:
        """Stream every row this layer emits to ``tap``; with ``acc``, the accumulators too.

        The accumulator tap is the value the requantizer shifts: bias added, fitted to
        ``acc_bits`` (wrap or saturate), ReLU applied. It comes from this step's MAC sums
        through the same requant kernel with every shift zero and the clamp at the
        accumulator's range (a no-op after the fit), so there is no second datapath.
        """
        self.tap = tap
        rows = self.in_buf.shape[0] if acc and tap is not None else 0
        if rows:  # the accumulator tap reads the BLAS path's accumulator matrix
            self._reserve_blas()
        self.tap_acc = np.zeros((rows, self.c_out * self.width), np.int64)

    def _int8_ok(self, mac_path: str, fit: int | None, in_dtype: np.dtype) -> bool:
        """Whether the int8 direct path runs this layer; ``mac_path='int8'`` demands it."""
        why = ("the int32 requantizer is not provably exact" if fit is None else
               "inputs are not uint8 codes" if in_dtype != np.uint8 else
               "weights do not fit int8" if self.weight.size and not (
                   -128 <= int(self.weight.min()) and int(self.weight.max()) <= 127) else
               int8.unavailable_reason() if self.isa is None else "")
        if mac_path == "int8" and why:
            raise ValueError(f"int8 MACs cannot run this layer: {why}")
        return mac_path in ("auto", "int8") and not why

    @staticmethod
    def _choose_path(mac_path: str, w_mat: np.ndarray, x_max: int,
                     limit: int) -> tuple[tuple[int, int], ...] | None:
        if mac_path not in MAC_PATHS:
            raise ValueError(f"mac_path must be one of {', '.join(MAC_PATHS)}, got {mac_path!r}")
        if mac_path == "int64":
            return None
        chunks = plan_f32_chunks(w_mat, x_max, limit)
        if chunks is None and mac_path == "float32":
            raise ValueError("float32 MACs are not provably exact for this layer's weights")
        return chunks

    @property
    def mac_path(self) -> str:
        """Datapath model in use: 'int8' (see :attr:`host_kernel` for the variant), 'float32'
        (one exact chunk), 'float32xN' or 'int64'."""
        if self.int8:
            return "int8"
        if not self.chunks:
            return "int64"
        return "float32" if len(self.chunks) == 1 else f"float32x{len(self.chunks)}"

    @property
    def host_kernel(self) -> str:
        """The host code that sums this layer's products, as the report names it: the int8
        variant, or float32 and why it is exact (the engine's datapath is integer on every
        path)."""
        if self.int8:
            assert self.isa is not None
            return f"int8 {self.isa.name}"
        if not self.chunks:
            return "int64"
        if len(self.chunks) == 1:
            return "float32 (exact by bound)"
        return f"float32 x{len(self.chunks)} (exact by bound)"

    @property
    def linebuffer_bits(self) -> int:
        """Bits of the ring as the silicon holds it: rows × width × c_in × input code width."""
        return linebuffer_bits(self.ring.shape[0], self.width, self.c_in, self.in_type.width)

    def report(self, frames: int) -> LayerSimReport:
        """This layer as allocated and measured; MACs are per frame over ``frames`` (>= 1)."""
        macs_per_pixel = self.true_macs
        return LayerSimReport(
            index=self.index, kernel=self.taps_kernel, c_in=self.c_in, c_out=self.c_out,
            in_bits=self.in_type.width, linebuffer_rows=self.ring.shape[0],
            linebuffer_bits=self.linebuffer_bits, latency_rows=self.halo,
            macs_per_pixel=macs_per_pixel,
            macs_per_frame=self.rows_out * self.width * macs_per_pixel // frames,
            mac_path=self.mac_path, acc_bound=self.acc_bound,
            acc_peak=int(self.stats[STAT_PEAK]), acc_overflows=int(self.stats[STAT_OVERFLOWS]),
            saturations=int(self.stats[STAT_SATURATIONS]), groups=self.groups,
            dilation=self.dilation, host_kernel=self.host_kernel)

    def begin_frame(self) -> None:
        """Vertical sync: the rows above the frame are zero padding."""
        self.ring.fill(0)
        self.head = 0
        self.rows_in = 0

    def process(self, n_in: int) -> int:
        """Take ``n_in`` rows from ``in_buf``; write the rows that leave to ``out_buf``."""
        skip = max(0, self.halo - self.rows_in)  # outputs centred above the frame
        n_out = max(0, n_in - skip)
        if n_out:
            self._macs(n_out, skip)
            if self.tap is not None:
                self._emit_tap(n_out)
        self.head = ops.ring_push(self.ring, self.head, self.in_buf, n_in)
        self.rows_in += n_in
        self.rows_out += n_out
        return n_out

    def flush(self) -> int:
        """End of frame: feed the k//2 zero rows below the frame; returns rows emitted."""
        if self.halo == 0:
            return 0
        self.in_buf[: self.halo] = 0
        return self.process(self.halo)

    def _emit_tap(self, n_out: int) -> None:
        """Hand the rows just computed (still in ``out_buf`` and the workspace) to the tap."""
        assert self.tap is not None
        w, c_out, bp = self.width, self.c_out, self.ws.block_pixels
        codes = self.out_buf[:n_out].reshape(n_out, c_out, w)
        if not self.tap_acc.size:
            self.tap(self.index, codes, None)
            return
        acc: np.ndarray
        if self.chunks:
            acc = self.ws.acc_f32[: len(self.chunks) * c_out * bp].reshape(-1, c_out, bp)
        else:
            acc = self.ws.acc_i64[: c_out * bp].reshape(1, c_out, bp)
        dp, hi = self.datapath, (1 << (self.datapath.acc_bits - 1)) - 1
        ops.requant(acc, 0, n_out, w, self.bias, np.zeros(c_out, np.int64), self.relu,
                    dp.acc_bits, dp.acc_overflow.code, dp.rounding.code, -hi - 1, hi,
                    self.tap_acc, np.zeros(3, np.int64))
        self.tap(self.index, codes, self.tap_acc[:n_out].reshape(n_out, c_out, w))

    def _macs(self, n_out: int, skip: int) -> None:
        """MACs and requantization of ``n_out`` output rows, split over the host lanes."""
        self.lane_stats[:] = 0
        # a datapath's first step runs on the calling thread alone: its kernels are compiled
        # or loaded from numba's cache there, under LLVM's process-wide lock. A lane thread
        # waiting on that lock when Ctrl-C interrupts the holder would wait forever.
        path = (self.int8, self.direct, bool(self.tap_acc.size))
        lanes = self.lanes if path in self._warm_paths else 1
        run_split(n_out, lanes, lambda lane, j0, j1: self._macs_rows(lane, j0, j1, skip))
        self._warm_paths.add(path)
        self.stats[STAT_PEAK] = max(int(self.stats[STAT_PEAK]),
                                    int(self.lane_stats[:, STAT_PEAK].max()))
        self.stats[STAT_OVERFLOWS:] += self.lane_stats[:, STAT_OVERFLOWS:].sum(axis=0)

    def _macs_rows(self, lane: int, j0: int, j1: int, skip: int) -> None:
        """Output rows ``[j0, j1)`` of this step: window, products, requantization."""
        ws, k, w = self.ws, self.kernel, self.width
        n, p0, p1 = j1 - j0, j0 * w, j1 * w
        window = (self.ring, self.head, self.in_buf, n, skip + j0, w, self.c_in)
        if self.int8 and not self.tap_acc.size:
            self._int8_rows(lane, j0, n, skip + j0)
            return
        if self.direct and not self.tap_acc.size:
            self._direct_rows(lane, j0, n, skip + j0)
            return
        bp = ws.block_pixels
        acc: np.ndarray
        if self.chunks:
            n_taps = self.c_in * k * k
            cols = ws.cols_f32[: n_taps * bp].reshape(n_taps, bp)
            ops.im2col(*window, k, cols, p0)
            acc = ws.acc_f32[: len(self.chunks) * self.c_out * bp].reshape(-1, self.c_out, bp)
            for c, (k0, k1) in enumerate(self.chunks):
                np.matmul(self.w_f32[:, k0:k1], cols[k0:k1, p0:p1], out=acc[c, :, p0:p1])
        else:
            acc = ws.acc_i64[: self.c_out * bp].reshape(1, self.c_out, bp)
            ops.conv_i64(*window, self.weight, acc, p0)
        out = self.out_buf[j0:]
        dp, t, stats = self.datapath, self.out_type, self.lane_stats[lane]
        if self.fit_i32 is not None and self.chunks is not None and len(self.chunks) == 1:
            ops.requant_i32(acc, p0, n, w, self.bias_i32, self.lshift_i32, self.rshift_i32,
                            self.relu, dp.acc_bits, self.fit_i32, dp.rounding.code, t.min_code,
                            t.max_code, out, stats)
            return
        ops.requant(acc, p0, n, w, self.bias, self.shift, self.relu, dp.acc_bits,
                    dp.acc_overflow.code, dp.rounding.code, t.min_code, t.max_code, out, stats)

    def _direct_rows(self, lane: int, j0: int, n: int, skip: int) -> None:
        """Output rows of one lane on the direct path: MACs and requantization in one kernel."""
        k, w, c_in = self.kernel, self.width, self.c_in
        scratch = self.ws.lane_words[lane]
        n_win = k * c_in * (w + k - 1)
        fwin = scratch[:n_win].reshape(k * c_in, w + k - 1)
        acc = scratch[n_win : n_win + direct.DIRECT_GROUP * w].reshape(direct.DIRECT_GROUP, w)
        dp, t = self.datapath, self.out_type
        assert self.wpack is not None and self.taps is not None and self.fit_i32 is not None
        direct.conv_requant_f32(self.ring, self.head, self.in_buf, n, skip, w, c_in, k,
                                self.wpack, self.taps, self.bias_i32,
                                self.lshift_i32, self.rshift_i32, self.relu, dp.acc_bits,
                                self.fit_i32, dp.rounding.code, t.min_code, t.max_code,
                                self.out_buf[j0:], fwin, acc, self.lane_stats[lane])

    def _int8_rows(self, lane: int, j0: int, n: int, skip: int) -> None:
        """Output rows of one lane on the int8 path: VNNI MACs and requantization."""
        k, w, c_in = self.kernel, self.width, self.c_in
        assert self.i8_shapes is not None
        s_shape, a_shape, n_s, n_a = self.i8_shapes
        words = self.ws.lane_words[lane]
        strips = words[:n_s].view(np.uint32).reshape(s_shape)
        acc = words[n_s : n_s + n_a].view(np.int32).reshape(a_shape)
        dp, t = self.datapath, self.out_type
        assert self.fit_i32 is not None and self.isa is not None
        direct.conv_requant_i8(self.ring, self.head, self.in_buf, n, skip, w, c_in, k, self.wq,
                               self.fns, self.bias_i32, self.lshift_i32, self.rshift_i32,
                               self.relu, dp.acc_bits, self.fit_i32, dp.rounding.code,
                               t.min_code, t.max_code, self.out_buf[j0:], strips,
                               self.tapoff[lane], acc, self.lane_stats[lane], isa=self.isa)
