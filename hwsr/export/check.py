"""The checks every export passes before it is written: each graph refereed by its own runtime.

* ``onnx``: onnxruntime vs PyTorch, within :data:`FLOAT_TOL_PIXELS`.
* ``qonnx``: qonnx's executor (after its cleanup passes) vs ``hwsr simulate``, bit for bit.
* ``qcdq``: onnxruntime vs ``hwsr simulate``, every differing code counted, with graph
  optimizations off (the graph as written) and on (fused integer convolutions). The graph
  is the engine's half-even twin: run as written it must equal the simulator of that twin
  bit for bit (the exact part of the check), so its differences from the engine are
  exactly the rounding ties; with fusion on, a difference from the twin is attributed to
  the layer it is born in by running each layer alone on the reference's own inputs.

Frames: a stock test pattern and a crop of a real decoded video frame shipped with the
default model (:func:`check_frames`).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import onnx
import torch
from torch import nn

from hwsr.export.runtimes import (
    codes_of,
    hwc,
    ort_session,
    ort_u8s8_saturates,
    run_ort,
    run_qonnx,
    with_outputs,
)
from hwsr.fixed import Rounding
from hwsr.program import EngineProgram, StageProgram
from hwsr.reference import run_stage
from hwsr.sim import simulate, test_pattern

FrameU8 = npt.NDArray[np.uint8]
# float32 ONNX vs PyTorch, in pixel codes: both sum the same ≤ 180-tap products in float32
# in different orders over two stages (a few ulp of 256, ~1e-4); 1/256 of a code is far
# above that and far below the half code any consumer's rounding turns into a change.
FLOAT_TOL_PIXELS = 1.0 / 256
PATTERN_SIZE = (24, 16)  # width, height of the stock test frame
REAL_FRAME = "crf24-path.png"  # an x264 CRF 24 decoded frame shipped with the default model
REAL_CROP = (slice(96, 136), slice(400, 448))  # rows, columns: a 48x40 crop with texture


def check_frames() -> dict[str, FrameU8]:
    """The stock frames every export is checked on: the test pattern and a real crop."""
    from hwsr.imageio import read_image
    from hwsr.zoo import DEFAULT_MODEL, models_dir

    w, h = PATTERN_SIZE
    real = read_image(models_dir() / DEFAULT_MODEL / REAL_FRAME)
    crop = np.ascontiguousarray(real[REAL_CROP])
    return {f"pattern-{w}x{h}": test_pattern(w, h),
            f"{REAL_FRAME[:-4]}-{crop.shape[1]}x{crop.shape[0]}": crop}


def half_even_twin(program: EngineProgram) -> EngineProgram:
    """The same integer program with every requantization rounding half to even."""

    def twin(sp: StageProgram) -> StageProgram:
        dp = dataclasses.replace(sp.spec.datapath, rounding=Rounding.HALF_EVEN)
        return StageProgram(dataclasses.replace(sp.spec, datapath=dp), sp.layers)

    net1 = None if program.net1 is None else twin(program.net1)
    return EngineProgram(net2=twin(program.net2), net1=net1)


# ---- results ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class FloatFrameCheck:
    frame: str
    values: int  # output values compared
    max_abs_err: float  # largest |onnxruntime - PyTorch|, pixel codes

    @property
    def ok(self) -> bool:
        return self.max_abs_err <= FLOAT_TOL_PIXELS

    def line(self) -> str:
        return (f"{self.frame}: onnxruntime vs PyTorch max |error| {self.max_abs_err:.2e} "
                f"pixel codes over {self.values:,} values (tolerance {FLOAT_TOL_PIXELS:.2e})")


@dataclass(frozen=True)
class ExactFrameCheck:
    frame: str
    codes: int  # output codes compared
    mismatched: int  # codes that differ from the simulator (non-codes included)

    @property
    def ok(self) -> bool:
        return self.mismatched == 0

    def line(self) -> str:
        verdict = "bit-exact" if self.ok else f"{self.mismatched:,} codes DIFFER"
        return f"{self.frame}: qonnx executor vs hwsr simulate: {verdict} ({self.codes:,} codes)"


@dataclass(frozen=True)
class QcdqStageCount:
    """onnxruntime's QCDQ output codes of one stage of one frame, against the simulator."""

    frame: str
    stage: str  # the stage whose output pixels are counted
    codes: int  # output codes compared
    ties: int  # codes where the engine and its half-even twin differ (rounding ties)
    ort_off: int  # codes where onnxruntime, optimizations off, differs from the engine
    ort_on: int  # the same with optimizations on (fused integer convolutions)
    off_vs_twin: int  # optimizations off vs the half-even twin: must be 0
    on_vs_twin: int  # optimizations on vs the half-even twin: what fusion changes
    born_on: tuple[int, ...]  # per layer: codes fusion changes given the twin's own inputs
    saturating: bool = False  # this host's fused u8 × s8 kernels add pairs in saturating int16

    @property
    def ok(self) -> bool:
        return self.off_vs_twin == 0

    def line(self) -> str:
        born = ", ".join(f"L{i} {n}" for i, n in enumerate(self.born_on))
        return (f"{self.frame} {self.stage}: {self.codes:,} codes; differ from hwsr simulate: "
                f"ORT opt off {self.ort_off:,}, on {self.ort_on:,}; rounding ties (engine vs "
                f"half-even twin) {self.ties:,}; vs twin: off {self.off_vs_twin:,} (must be 0), "
                f"on {self.on_vs_twin:,}; born per layer with fusion on: {born}"
                + ("; this CPU has no VNNI: onnxruntime's fused u8 x s8 kernels add product "
                   "pairs in saturating int16" if self.saturating and self.on_vs_twin else ""))


Item = FloatFrameCheck | ExactFrameCheck | QcdqStageCount


@dataclass(frozen=True)
class CheckReport:
    fmt: str
    stage: str
    items: tuple[Item, ...]

    @property
    def ok(self) -> bool:
        return all(i.ok for i in self.items)

    def lines(self) -> list[str]:
        return [f"{self.fmt} ({self.stage}): {i.line()}" for i in self.items]


# ---- the checks --------------------------------------------------------------------------------


def check_float(model: onnx.ModelProto, nets: list[nn.Module],
                frames: dict[str, FrameU8]) -> list[Item]:
    """onnxruntime vs the PyTorch stages ``nets`` run in order, in pixel codes."""
    sess = ort_session(model)
    items: list[Item] = []
    for name, frame in frames.items():
        got = run_ort(sess, frame, np.float32)[0]
        x: torch.Tensor = torch.from_numpy(frame).permute(2, 0, 1)[None].float() / 256
        with torch.no_grad():
            for net in nets:
                x = net(x)
        want = (x * 256).numpy()
        if got.shape != want.shape:
            raise ValueError(f"onnx: output shape {got.shape} != PyTorch {want.shape}")
        items.append(FloatFrameCheck(name, want.size, float(np.abs(got - want).max())))
    return items


def check_qonnx(model: onnx.ModelProto, program: EngineProgram, stage: str,
                frames: dict[str, FrameU8]) -> list[Item]:
    """qonnx's executor vs the simulator, exact equality of integer codes."""
    items: list[Item] = []
    for name, frame in frames.items():
        want = simulate(program, frame, stage).frame.astype(np.int64)
        got, _ = codes_of(hwc(run_qonnx(model, frame)))
        mismatched = want.size if got.shape != want.shape else int(np.count_nonzero(got != want))
        items.append(ExactFrameCheck(name, want.size, mismatched))
    return items


def _born(sessions: list[Any], sp: StageProgram, frame: FrameU8) -> tuple[int, ...]:
    """Per layer: codes onnxruntime's fused layer gets wrong from the reference's own input."""
    from hwsr.export.qcdq import code_dtype

    trace: list[npt.NDArray[np.int64]] = []
    run_stage(sp, frame, trace)
    inputs = [frame.transpose(2, 0, 1).astype(np.int64), *trace[:-1]]
    born = []
    for i, sess in enumerate(sessions):
        codes_in: np.ndarray = inputs[i][None].astype(code_dtype(sp.in_type(i), "input"))
        got = sess.run(None, {sess.get_inputs()[0].name: codes_in})[0][0].astype(np.int64)
        born.append(int(np.count_nonzero(got != trace[i])))
    return tuple(born)


def check_qcdq(model: onnx.ModelProto, program: EngineProgram, stage: str,
               frames: dict[str, FrameU8]) -> list[Item]:
    """onnxruntime (optimizations off and on) vs the simulator and its half-even twin."""
    from hwsr.export.common import stage_programs
    from hwsr.export.qcdq import layer_model

    names = [n for n, _ in stage_programs(program, stage)]
    probe = with_outputs(model, [f"{n}.pixels" for n in names[:-1]], onnx.TensorProto.UINT8)
    sessions = {opt: ort_session(probe, optimize=opt) for opt in (False, True)}
    twin = half_even_twin(program)
    twin_stages = stage_programs(twin, stage)
    layer_sessions = [[ort_session(layer_model(sp, i)) for i in range(len(sp.layers))]
                      for _, sp in twin_stages]
    items: list[Item] = []
    for fname, frame in frames.items():
        outs = {opt: run_ort(s, frame, np.uint8) for opt, s in sessions.items()}
        x_twin = frame
        for j, (sname, sp) in enumerate(twin_stages):
            sub = "dual" if stage == "dual" and j == 1 else sname
            want = simulate(program, frame, sub).frame
            want_twin = simulate(twin, frame, sub).frame
            k = 0 if j == len(names) - 1 else j + 1
            off, on = hwc(outs[False][k]), hwc(outs[True][k])
            items.append(QcdqStageCount(
                fname, sname, want.size, _diff(want, want_twin), _diff(off, want),
                _diff(on, want), _diff(off, want_twin), _diff(on, want_twin),
                _born(layer_sessions[j], sp, x_twin), ort_u8s8_saturates()))
            x_twin = want_twin
    return items


def _diff(a: np.ndarray, b: np.ndarray) -> int:
    """Codes that differ; every code counts as differing when the shapes do not match."""
    return int(np.count_nonzero(a != b)) if a.shape == b.shape else int(max(a.size, b.size))
