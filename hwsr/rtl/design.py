"""What the RTL generator builds from an integer program: checked, typed, one value per module.

:func:`engine_design` validates a program against what the Verilog modules can express and
returns an :class:`EngineDesign`: per stage its conv layers (``hwsr_conv`` parameters) and
its residual/pixel-shuffle tail (``hwsr_residual`` parameters). Every figure the RTL's
structure implies (line-buffer bits, delay-line depth, latency in cycles) is computed here
from the design, so the report can be held to it.

Limits of the generator (a program past them is refused with one line, nothing written):
odd kernels whose window (dilation included) spans 1..``MAX_KERNEL`` pixels, any channel
groups; code widths (activations, stage outputs, weights) up to
``MAX_CODE_BITS``; accumulator and bias up to 32 bits (the spec's own limit); rounding
``half_up`` or ``half_even``; zero padding; frames up to ``MAX_WIDTH`` wide.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

from hwsr.fixed import Overflow, Rounding
from hwsr.program import EngineProgram, StageProgram
from hwsr.spec import IMAGE_CHANNELS, Padding

MAX_KERNEL = 7  # largest k x k window the generator emits
MAX_CODE_BITS = 16  # widest activation, stage-output or weight code
MAX_ACC_BITS = 32  # widest accumulator (and bias)
MAX_CHANNELS = 1024  # widest layer
MAX_WIDTH = 8192  # largest MAXW (line-buffer depth); the frame counters are 16 bits
ROUNDING_CODES = {Rounding.HALF_UP: 0, Rounding.HALF_EVEN: 1}  # hwsr_conv's ROUND parameter
CONV_REGISTERS = 2  # pipeline registers of one conv layer: the window and the output word
TAIL_REGISTERS = 1  # the residual/pixel-shuffle output register of a stage
PIXEL_BITS = 8
DESIGN_FILE = "design.json"  # an emitted folder's description (hwsr.rtl.emit)
PRELOAD_FILE = "hwsr_preload.v"  # not synthesizable: compiled first, it preloads the RAMs
PRELOAD_LIST = "files_preload.f"  # the folded engine's simulation sources: the preload first


class RtlError(ValueError):
    """A program (or option) the RTL generator cannot express; the message is one line."""


@dataclass(frozen=True)
class ConvDesign:
    """One ``hwsr_conv`` instance."""

    stage: str  # "net1" or "net2"
    index: int  # layer position in the stage
    kernel: int  # k
    c_in: int  # input channels
    c_out: int  # output channels
    groups: int  # channel groups (GROUPS)
    dilation: int  # tap spacing (DIL)
    in_bits: int  # input code width
    in_signed: bool  # input codes are two's complement
    out_bits: int  # output code width
    out_signed: bool  # output codes are two's complement
    relu: bool  # ReLU before the requantization
    sum_bits: int  # width of the exact sum before the accumulator fit

    @property
    def name(self) -> str:
        """Instance name in the top level (the tap's hierarchical scope)."""
        return f"{self.stage}_l{self.index}"

    @property
    def tap(self) -> str:
        """Golden-set tap name of this layer's output."""
        return f"{self.stage}.layer{self.index}"

    @property
    def span(self) -> int:
        """Rows and columns the window covers: dilation·(k−1)+1."""
        return self.dilation * (self.kernel - 1) + 1

    @property
    def halo(self) -> int:
        return self.span // 2

    def linebuffer_bits(self, max_width: int) -> int:
        """Bits of the span−1 line-buffer memories: (span−1) × MAXW × c_in × in_bits."""
        return (self.span - 1) * max_width * self.c_in * self.in_bits

    def lag_cycles(self, width: int) -> int:
        """Slots between an input pixel and the output centred P rows and P pixels above it."""
        return self.halo * width + self.halo


@dataclass(frozen=True)
class StageDesign:
    """One stage: its conv chain and its ``hwsr_residual`` tail."""

    name: str  # "net1" or "net2"
    upscale: int  # r
    residual: bool  # add the nearest-neighbour input
    res_conv_lshift: int  # LC
    res_in_lshift: int  # LI
    out_shift: int  # OS
    round_code: int  # ROUND of every requantizer
    acc_bits: int  # ACC_BITS
    acc_saturate: bool  # ACC_SAT
    weight_bits: int  # W_BITS
    bias_bits: int  # B_BITS
    layers: tuple[ConvDesign, ...]

    @property
    def latency_rows(self) -> int:
        return sum(ly.halo for ly in self.layers)

    def delay_depth(self, max_width: int) -> int:
        """Pixels of the residual delay line: the most the conv chain can hold in flight."""
        return sum(ly.lag_cycles(max_width) + CONV_REGISTERS for ly in self.layers)

    def latency_cycles(self, width: int) -> int:
        """First input handshake to first output handshake of the stage, no stalls."""
        return sum(ly.lag_cycles(width) + CONV_REGISTERS for ly in self.layers) + TAIL_REGISTERS


def conv_parameters(ly: ConvDesign, st: StageDesign) -> dict[str, int]:
    """The numeric ``hwsr_conv`` parameters of one layer (MAXW and the ROM files aside);
    GROUPS and DIL only where not 1, the module's defaults, so a plain layer's instance
    reads as it always did."""
    return {
        "K": ly.kernel, "CIN": ly.c_in, "COUT": ly.c_out, "IN_BITS": ly.in_bits,
        "IN_SIGNED": int(ly.in_signed), "OUT_BITS": ly.out_bits,
        "OUT_SIGNED": int(ly.out_signed), "RELU": int(ly.relu), "W_BITS": st.weight_bits,
        "B_BITS": st.bias_bits, "ACC_BITS": st.acc_bits, "SUM_BITS": ly.sum_bits,
        "ACC_SAT": int(st.acc_saturate), "ROUND": st.round_code,
        **{k: v for k, v in (("GROUPS", ly.groups), ("DIL", ly.dilation)) if v != 1},
    }


@dataclass(frozen=True)
class EngineDesign:
    """The whole engine: stages in stream order (Net1 first)."""

    stages: tuple[StageDesign, ...]
    max_width: int  # MAXW: line-buffer depth, widest frame

    @property
    def upscale(self) -> int:
        return self.stages[-1].upscale

    @property
    def layers(self) -> tuple[ConvDesign, ...]:
        return tuple(ly for s in self.stages for ly in s.layers)

    def linebuffer_bits(self) -> int:
        """Every line buffer and residual delay line of the emitted RTL, in bits."""
        lb = sum(ly.linebuffer_bits(self.max_width) for ly in self.layers)
        dl = sum(s.delay_depth(self.max_width) for s in self.stages if s.residual)
        return lb + dl * IMAGE_CHANNELS * PIXEL_BITS

    def latency_cycles(self, width: int) -> int:
        return sum(s.latency_cycles(width) for s in self.stages)


def stages_json(design: EngineDesign) -> list[dict[str, Any]]:
    """design.json's ``stages``: every stage's parameters and layers, as emitted."""
    return [{**{k: v for k, v in asdict(s).items() if k != "layers"},
             "delay_depth": s.delay_depth(design.max_width),
             "layers": [{**asdict(ly), "name": ly.name, "tap": ly.tap} for ly in s.layers]}
            for s in design.stages]


def _sum_bits(stage: StageProgram, index: int) -> int:
    """Signed width holding every partial sum of layer ``index`` exactly (bias included)."""
    dp, ls = stage.spec.datapath, stage.spec.layers[index]
    t_in = stage.in_type(index)
    terms = ls.kernel * ls.kernel * ls.group_c_in
    product = dp.weight_bits + t_in.width + 1  # signed weight × zero/sign-extended code
    return max(product + math.ceil(math.log2(terms + 1)), dp.bias_bits, dp.acc_bits) + 2


def _check_stage(name: str, stage: StageProgram) -> None:
    dp = stage.spec.datapath
    if dp.rounding not in ROUNDING_CODES:
        allowed = ", ".join(r.value for r in ROUNDING_CODES)
        raise RtlError(f"{name}: rounding {dp.rounding.value!r} is not supported by the RTL "
                       f"generator (supported: {allowed})")
    if dp.padding is not Padding.ZERO:
        raise RtlError(f"{name}: padding {dp.padding.value!r} is not supported (zero only)")
    for field in ("act_bits", "out_bits", "weight_bits"):
        if getattr(dp, field) > MAX_CODE_BITS:
            raise RtlError(f"{name}: datapath.{field} = {getattr(dp, field)} is over the RTL "
                           f"generator's maximum of {MAX_CODE_BITS} bits")
    if dp.acc_bits > MAX_ACC_BITS or dp.bias_bits > MAX_ACC_BITS:
        raise RtlError(f"{name}: accumulator/bias over {MAX_ACC_BITS} bits")
    for i, ls in enumerate(stage.spec.layers):
        if ls.span > MAX_KERNEL:
            what = f"kernel {ls.kernel}" + (f" dilated by {ls.dilation} (span {ls.span})"
                                            if ls.dilation > 1 else "")
            raise RtlError(f"{name}: layer {i}: {what} is over the RTL generator's "
                           f"maximum of {MAX_KERNEL}")
        if max(ls.c_in, ls.c_out) > MAX_CHANNELS:
            raise RtlError(f"{name}: layer {i}: over {MAX_CHANNELS} channels")


def stage_design(name: str, stage: StageProgram) -> StageDesign:
    """The conv chain and tail of one stage; refuses what the modules cannot express."""
    _check_stage(name, stage)
    dp = stage.spec.datapath
    layers = []
    for i, lp in enumerate(stage.layers):
        ls, t_in = stage.spec.layers[i], stage.in_type(i)
        layers.append(ConvDesign(
            stage=name, index=i, kernel=ls.kernel, c_in=ls.c_in, c_out=ls.c_out,
            groups=ls.groups, dilation=ls.dilation,
            in_bits=t_in.width, in_signed=t_in.signed, out_bits=lp.out_type.width,
            out_signed=lp.out_type.signed, relu=lp.relu, sum_bits=_sum_bits(stage, i)))
    return StageDesign(
        name=name, upscale=stage.spec.upscale, residual=stage.spec.residual,
        res_conv_lshift=stage.res_conv_lshift, res_in_lshift=stage.res_in_lshift,
        out_shift=stage.out_shift, round_code=ROUNDING_CODES[dp.rounding],
        acc_bits=dp.acc_bits, acc_saturate=dp.acc_overflow is Overflow.SATURATE,
        weight_bits=dp.weight_bits, bias_bits=dp.bias_bits, layers=tuple(layers))


def engine_design(program: EngineProgram, max_width: int = 1280) -> EngineDesign:
    """The dual engine (Net1 → Net2; Net2 alone for a single-stage program)."""
    if not 1 <= max_width <= MAX_WIDTH:
        raise RtlError(f"max width must be in 1..{MAX_WIDTH}, got {max_width}")
    names = ("net1", "net2") if program.net1 is not None else ("net2",)
    stages = tuple(stage_design(n, program.stage(n)) for n in names)
    return EngineDesign(stages=stages, max_width=max_width)
