"""Paper-style evaluation tables on a dataset's held-out validation frames.

Table 1 (the ladder): Y-PSNR / SSIM of HR estimated from **video-LR**, per model and mode,
for the float weights and, where the model has an integer program, for the int8 engine run
by the bit-exact line-buffer simulator (`hwsr.sim.simulate`, stage ``dual``; its output is
the integer reference's, `hwsr.reference.run_program`, pixel for pixel, and 25x faster), with
bicubic ×3 of video-LR as the floor. Table 2: Net2 alone fed the **true dHR** (the
conventional SISR task), with and without input distillation. Metrics follow docs/design.md:
luma Y (BT.601), border of 3 pixels shaved, on uint8 frames.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import math
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from safetensors import safe_open
from torch import nn

from hwsr.arch.engine_net import EngineNet, build_dual
from hwsr.atomic import json_text
from hwsr.checkpoint import load_weights
from hwsr.imageio import frame_to_tensor, tensor_to_frame
from hwsr.metrics import psnr_y, ssim_y
from hwsr.reference import run_program
from hwsr.resize import imresize
from hwsr.spec import spec_from_dict
from hwsr.train.batches import SCALE, val_triples
from hwsr.train.nets import build_float_arch
from hwsr.zoo import FLOAT_FILE, EngineBundle, load_engine

log = logging.getLogger(__name__)

FrameFn = Callable[[np.ndarray], np.ndarray]  # uint8 HWC in → uint8 HWC out


@dataclass(frozen=True)
class Row:
    """One line of a table: mean Y-PSNR (dB) and SSIM over the frames."""

    table: int  # 1: video-LR → HR; 2: Net2 on true dHR → HR
    model: str  # model name as given on the command line ("bicubic" for the floor)
    mode: str  # training mode (baseline, hd2uhd, dual, dual-id) or "-"
    weights: str  # "float", "int8" (integer program) or "-"
    psnr_db: float
    ssim: float
    frames: int


@dataclass(frozen=True)
class EvalFrame:
    """One held-out frame as uint8 HWC arrays."""

    lr: np.ndarray
    dhr: np.ndarray
    hr: np.ndarray


def load_frames(data_dir: Path | str, count: int = 0, crop_lr_px: int = 0) -> list[EvalFrame]:
    """The dataset's validation frames (first ``count``; 0: all), centre-cropped if > 0."""
    triples = val_triples(data_dir, count, crop_lr_px)
    if not triples:
        raise ValueError(f"{data_dir}: the dataset has no validation frames")
    return [EvalFrame(*(np.ascontiguousarray(v.permute(1, 2, 0).numpy()) for v in t))
            for t in triples]


def score(fn: FrameFn, frames: Sequence[EvalFrame], source: str) -> tuple[float, float]:
    """Mean Y-PSNR and SSIM of ``fn(frame.<source>)`` against HR."""
    psnrs, ssims = [], []
    for f in frames:
        out = fn(getattr(f, source))
        psnrs.append(psnr_y(out, f.hr, SCALE))
        ssims.append(ssim_y(out, f.hr, SCALE))
    return sum(psnrs) / len(psnrs), sum(ssims) / len(ssims)


def _torch_fn(net: nn.Module) -> FrameFn:
    @torch.no_grad()
    def run(frame: np.ndarray) -> np.ndarray:
        out = net(frame_to_tensor(frame))
        return tensor_to_frame(out[1] if isinstance(out, tuple) else out)

    return run


@dataclass
class LoadedModel:
    """A trained model ready to score: its float net, mode and (maybe) integer program."""

    name: str
    mode: str
    net: nn.Module  # DualStageSR (dual modes) or a single ×3 EngineNet
    bundle: EngineBundle

    @property
    def dual(self) -> bool:
        return self.mode in ("dual", "dual-id")


def load_model(name: str) -> LoadedModel:
    """A run folder or zoo model with ``float.safetensors``; mode from its metadata."""
    bundle = load_engine(name)
    if bundle.folder is None or not (bundle.folder / FLOAT_FILE).is_file():
        raise ValueError(f"{name}: no {FLOAT_FILE} to evaluate (train it first)")
    path = bundle.folder / FLOAT_FILE
    with safe_open(str(path), framework="pt") as f:
        meta = json.loads((f.metadata() or {}).get("hwsr", "{}"))
    mode = meta.get("mode", "dual-id")
    arch = meta.get("arch", "engine")
    net: nn.Module
    if arch != "engine":  # a float reference (SRCNN, RCAN): no integer program
        net = build_float_arch(arch, mode)
        bundle = dataclasses.replace(bundle, program_path=None)
    elif mode in ("dual", "dual-id"):
        net = build_dual(bundle.spec)
    else:
        net = EngineNet(spec_from_dict(meta["spec"], source=str(path)))
    load_weights(net, path)
    return LoadedModel(name, mode, net.eval(), bundle)


INT8_EXECUTORS = ("sim", "reference")  # who runs the integer program: same pixels either way


def _program_fn(bundle: EngineBundle, stage: str, executor: str = "sim") -> FrameFn:
    program = bundle.program()
    if executor == "reference":
        return lambda frame: run_program(program, frame, stage)[0]
    if executor != "sim":
        raise ValueError(f"int8 executor must be one of {INT8_EXECUTORS}, got {executor!r}")
    from hwsr.sim.engine import simulate

    return lambda frame: simulate(program, frame, stage).frame


def _model_rows(m: LoadedModel, frames: Sequence[EvalFrame], int8: bool,
                tables: Sequence[int] = (1, 2), executor: str = "sim") -> list[Row]:
    n = len(frames)
    rows: list[Row] = []
    has_program = m.bundle.program_path is not None and m.bundle.program_path.is_file()
    if 1 in tables:
        rows.append(Row(1, m.name, m.mode, "float", *score(_torch_fn(m.net), frames, "lr"), n))
        if int8 and m.dual and has_program:
            rows.append(Row(1, m.name, m.mode, "int8",
                            *score(_program_fn(m.bundle, "dual", executor), frames, "lr"), n))
    if m.dual and 2 in tables:
        net2 = m.net.net2  # type: ignore[union-attr]
        rows.append(Row(2, m.name, m.mode, "float", *score(_torch_fn(net2), frames, "dhr"), n))
        if int8 and has_program:
            rows.append(Row(2, m.name, m.mode, "int8",
                            *score(_program_fn(m.bundle, "net2", executor), frames, "dhr"), n))
    return rows


def evaluate(models: Sequence[str], data_dir: Path | str, frames: int = 0,
             crop_lr_px: int = 0, int8: bool = True, tables: Sequence[int] = (1, 2),
             executor: str = "sim") -> list[Row]:
    """The rows of Tables 1 and 2 (or of ``tables``) for ``models`` on the dataset's
    validation frames; int8 rows run by ``executor`` (:data:`INT8_EXECUTORS`)."""
    if executor not in INT8_EXECUTORS:
        raise ValueError(f"int8 executor must be one of {INT8_EXECUTORS}, got {executor!r}")
    eval_frames = load_frames(data_dir, frames, crop_lr_px)
    n = len(eval_frames)
    up: FrameFn = lambda f: imresize(f, SCALE)  # noqa: E731
    rows = [Row(t, "bicubic", "-", "-", *score(up, eval_frames, src), n)
            for t, src in ((1, "lr"), (2, "dhr")) if t in tables]
    for name in models:
        log.info("evaluating %s on %d frames", name, n)
        rows += _model_rows(load_model(name), eval_frames, int8, tables, executor)
    return rows


def format_tables(rows: Sequence[Row]) -> str:
    """Markdown tables 1 and 2 with each row's gain over its table's bicubic floor."""
    titles = {1: "Table 1: video-LR -> HR (x3), Y-PSNR / SSIM on held-out frames",
              2: "Table 2: Net2 fed the true dHR -> HR (x3), with / without distillation"}
    out: list[str] = []
    for table in (1, 2):
        mine = [r for r in rows if r.table == table]
        floor = next((r.psnr_db for r in mine if r.model == "bicubic"), math.nan)
        out += [titles[table], "",
                "| model | mode | weights | Y-PSNR (dB) | SSIM | vs bicubic (dB) |",
                "|---|---|---|---:|---:|---:|"]
        out += [f"| {r.model} | {r.mode} | {r.weights} | {r.psnr_db:.2f} | {r.ssim:.4f} | "
                f"{r.psnr_db - floor:+.2f} |" for r in mine]
        out.append("")
    n = rows[0].frames if rows else 0
    out.append(f"{n} frames; Y = BT.601 luma, {SCALE}-pixel border shaved.")
    return "\n".join(out)


def rows_to_json(rows: Sequence[Row]) -> str:
    """The rows as a JSON array (for scripts and reports)."""
    return json_text([asdict(r) for r in rows], indent=2)
