"""What ``hwsr simulate`` does, as library functions: frames and videos through the engine.

:func:`simulate_file` runs one image (or the built-in test pattern), writes the output frame
and, on request, the JSON report and a check against the integer reference and the float
model. :func:`simulate_video` streams a video through the engine frame by frame. Every file
is written atomically; a refusal (bad image, missing or corrupt model) is one ``ValueError``.
"""

from __future__ import annotations

import contextlib
import logging
import math
import queue
import threading
import time
from collections.abc import Generator, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from tqdm import tqdm

from hwsr.atomic import (
    atomic_path,
    atomic_paths,
    check_distinct,
    check_output,
    json_text,
    write_text,
)
from hwsr.imageio import WRITE_FORMATS, read_image, write_image
from hwsr.program import EngineProgram
from hwsr.sim.engine import EngineSim, SimResult, simulate
from hwsr.sim.pattern import test_pattern
from hwsr.sim.report import SimReport
from hwsr.zoo import DEFAULT_MODEL, EngineBundle, load_engine

log = logging.getLogger(__name__)

PATTERN_SIZE = (1280, 720)  # width, height of the built-in test frame (720p LR)
VIDEO_CODEC = "libx264"
VIDEO_CRF = 18
VIDEO_SUFFIXES = (".mp4", ".mkv", ".mov")  # containers that carry H.264

FrameU8 = npt.NDArray[np.uint8]


@dataclass(frozen=True)
class CheckResult:
    """The simulator against the integer reference (and the float model, when it exists)."""

    bit_exact: bool  # output codes and every statistic equal the reference
    mismatched_codes: int  # output codes that differ
    stats_equal: bool  # per-layer peaks, overflows, saturations equal
    psnr_vs_float_db: float | None  # Y-PSNR of the simulator vs the float model
    float_note: str  # why there is no float comparison, or the model compared


@dataclass(frozen=True, eq=False)
class FrameRun:
    """One ``hwsr simulate`` of a frame."""

    result: SimResult  # output frame and report
    out_path: Path  # where the output frame was written
    seconds: float  # host time of the simulation
    check: CheckResult | None  # with --check


@dataclass(frozen=True)
class VideoRun:
    """One ``hwsr simulate --video``."""

    report: SimReport  # statistics over every frame
    out_path: Path
    frames: int
    seconds: float


@dataclass(frozen=True, eq=False)
class Model:
    """A resolved ``--model``: the integer program and, where known, the zoo bundle."""

    program: EngineProgram
    bundle: EngineBundle | None  # the zoo's view of the model (float weights for --check)


def load_model(name_or_path: str | Path = DEFAULT_MODEL) -> Model:
    """Resolve ``--model``: a zoo name, a model folder, an engine.toml or a program .npz."""
    bundle = load_engine(name_or_path)
    return Model(program=bundle.program(), bundle=bundle)


def _stage_upscale(program: EngineProgram, stage: str) -> int:
    return 1 if stage == "net1" else program.net2.spec.upscale


def check_frame(model: Model, frame_u8_hwc: FrameU8, result: SimResult,
                stage: str) -> CheckResult:
    """Run the integer reference (and the float model) on the frame the simulator ran."""
    from hwsr.reference import run_program

    want, stats = run_program(model.program, frame_u8_hwc, stage)
    mismatched = int(np.count_nonzero(want != result.frame))
    got_stats = [[(ly.acc_peak, ly.acc_overflows, ly.saturations) for ly in s.layers]
                 + [s.output_saturations] for s in result.report.stages]
    ref_stats = [[(ly.acc_peak, ly.acc_overflows, ly.saturations) for ly in s.layers]
                 + [s.output_saturations] for s in stats]
    stats_equal = got_stats == ref_stats
    psnr, note = _psnr_vs_float(model, frame_u8_hwc, result.frame, stage)
    return CheckResult(mismatched == 0 and stats_equal, mismatched, stats_equal, psnr, note)


def _psnr_vs_float(model: Model, frame: FrameU8, sim_frame: FrameU8,
                   stage: str) -> tuple[float | None, str]:
    bundle = model.bundle
    if bundle is None or not bundle.has("float"):
        return None, "no float weights for this model: PSNR vs float skipped"
    import torch

    from hwsr.imageio import frame_to_tensor, tensor_to_frame
    from hwsr.metrics import psnr_y

    net = bundle.float_dual()
    with torch.no_grad():
        x = frame_to_tensor(frame)
        if stage == "net2":
            y = net.net2(x)
        else:
            y1, y2 = net(x)
            y = y1 if stage == "net1" else y2
    ref = tensor_to_frame(y)
    return psnr_y(sim_frame, ref, shave=_stage_upscale(model.program, stage)), "float model"


def simulate_file(frame_path: str | Path | None, out_path: str | Path, *,
                  model: str | Path = DEFAULT_MODEL, stage: str = "dual",
                  report_path: str | Path | None = None, check: bool = False,
                  pixels_per_clock: int = 1, fps: float = 60.0, clock_mhz: float = 600.0,
                  progress: bool = True) -> FrameRun:
    """Simulate one frame (``None``: the built-in 1280×720 test pattern) and write the result.

    The output frame (and the JSON report, when ``report_path`` is given) is written only
    after the simulation (and the check) finished, atomically.
    """
    check_run_options(out_path, report_path, frame_path, pixels_per_clock=pixels_per_clock,
                      fps=fps, clock_mhz=clock_mhz, image_out=True)
    frame = read_image(frame_path) if frame_path is not None else test_pattern(*PATTERN_SIZE)
    resolved = load_model(model)
    if check and resolved.bundle is not None and resolved.bundle.has("float"):
        resolved.bundle.float_dual()  # a broken float file is refused before the simulation
    phases = ["simulate", *(["reference check"] if check else []), "write"]
    log.info("simulate: %dx%d frame, stage %s, phases %s", frame.shape[1], frame.shape[0],
             stage, ", ".join(phases))
    with tqdm(total=len(phases), desc=phases[0], unit="step", disable=not progress,
              leave=False) as bar:
        t0 = time.perf_counter()
        result = simulate(resolved.program, frame, stage, pixels_per_clock=pixels_per_clock,
                          clock_mhz=clock_mhz, fps=fps, progress=progress)
        seconds = time.perf_counter() - t0
        checked = None
        if check:
            _next_phase(bar, "reference check")
            checked = check_frame(resolved, frame, result, stage)
        _next_phase(bar, "write")
        _publish_frame_run(Path(out_path), report_path, result, checked)
        bar.update(1)
    return FrameRun(result, Path(out_path), seconds, checked)


def check_run_options(out_path: str | Path, report_path: str | Path | None,
                      in_path: str | Path | None, *, pixels_per_clock: int, fps: float | None,
                      clock_mhz: float, image_out: bool) -> None:
    """Refuse bad option values and unwritable outputs before any simulation starts."""
    if pixels_per_clock < 1:
        raise ValueError(f"--ppc: pixels per clock must be >= 1, got {pixels_per_clock}")
    for option, value in (("--fps", fps), ("--clock-mhz", clock_mhz)):
        if value is not None and not (math.isfinite(value) and value > 0):
            raise ValueError(f"{option}: must be a positive number, got {value}")
    check_output(out_path, "--out")
    suffixes = WRITE_FORMATS if image_out else VIDEO_SUFFIXES
    if Path(out_path).suffix.lower() not in suffixes:
        kind = "image" if image_out else "video"
        raise ValueError(f"--out: {out_path}: unknown {kind} suffix "
                         f"(use one of {', '.join(suffixes)})")
    if report_path is not None:
        check_output(report_path, "--report")
    check_distinct({"--out": out_path, "--report": report_path, "input": in_path})


def _publish_frame_run(out_path: Path, report_path: str | Path | None, result: SimResult,
                       checked: CheckResult | None) -> None:
    """The output frame and its report are one product: both appear, or neither does."""
    dests = [out_path] + ([Path(report_path)] if report_path is not None else [])
    with atomic_paths(dests) as tmps:
        write_image(tmps[0], result.frame)  # the temporary keeps the suffix: same format
        if report_path is not None:
            tmps[1].write_text(report_json(result.report, checked), encoding="utf-8")


def _next_phase(bar: tqdm, desc: str) -> None:
    bar.update(1)
    bar.set_description(desc)


def write_report(path: str | Path, report: SimReport, check: CheckResult | None = None) -> None:
    """The report as JSON (with the check, when there is one), written atomically."""
    write_text(path, report_json(report, check))


def report_json(report: SimReport, check: CheckResult | None = None) -> str:
    """The report (and the check) as JSON text; a non-finite float becomes a string."""
    d = report.to_json_dict()
    if check is not None:
        d["check"] = {"bit_exact": check.bit_exact, "mismatched_codes": check.mismatched_codes,
                      "stats_equal": check.stats_equal,
                      "psnr_vs_float_db": _json_float(check.psnr_vs_float_db),
                      "float_note": check.float_note}
    return json_text(d, indent=2)


def _json_float(x: float | None) -> float | str | None:
    return x if x is None or math.isfinite(x) else str(x)  # JSON has no inf: "inf"


def simulate_video(in_path: str | Path, out_path: str | Path, *,
                   model: str | Path = DEFAULT_MODEL, stage: str = "dual",
                   report_path: str | Path | None = None, pixels_per_clock: int = 1,
                   fps: float | None = None, clock_mhz: float = 600.0, progress: bool = True,
                   crf: int = VIDEO_CRF) -> VideoRun:
    """Stream a video through the engine frame by frame and encode the result (H.264).

    One engine is built for the video's line width and reused for every frame, as the
    silicon is; statistics add over the frames. ``fps`` (default: the video's rate) only
    sets the MAC rate in the report. The output appears at ``out_path`` only when complete.
    """
    import av

    src = Path(in_path)
    check_run_options(out_path, report_path, in_path, pixels_per_clock=pixels_per_clock,
                      fps=fps, clock_mhz=clock_mhz, image_out=False)
    if not src.is_file():
        raise ValueError(f"{src}: no such video file")
    resolved = load_model(model)
    t0 = time.perf_counter()
    try:
        with av.open(str(src)) as container:
            if not container.streams.video:
                raise ValueError(f"{src}: no video stream")
            stream = container.streams.video[0]
            rate = stream.average_rate or 30
            with atomic_path(out_path) as tmp:
                sim, n, height = _transcode(container, stream, tmp, resolved.program, stage,
                                            rate, crf, progress)
    except av.FFmpegError as e:
        raise ValueError(f"{src}: cannot decode or encode the video ({e})") from None
    report = sim.report(height=height, pixels_per_clock=pixels_per_clock,
                        clock_mhz=clock_mhz, fps=fps if fps else float(rate))
    if report_path is not None:
        write_report(report_path, report)
    return VideoRun(report, Path(out_path), n, time.perf_counter() - t0)


def _transcode(container: Any, stream: Any, tmp: Path, program: EngineProgram, stage: str,
               rate: Any, crf: int, progress: bool) -> tuple[EngineSim, int, int]:
    """Decode, simulate and encode every frame; returns the engine, frame count and height.

    Three threads overlap: frames are decoded ahead (:func:`_ahead`) and each output frame is
    encoded while the engine runs the next one (libx264 and the simulator's kernels release
    the GIL). Frames still leave in order, and an error in any of them stops the run.
    """
    import av

    sim: EngineSim | None = None
    size: tuple[int, int] | None = None
    n = 0
    total = stream.frames or None
    frames = _ahead(frame.to_ndarray(format="rgb24") for frame in container.decode(stream))
    with contextlib.closing(frames), av.open(str(tmp), "w") as output, \
            ThreadPoolExecutor(1, "hwsr-encode") as encoder:
        out_stream = None
        pending: Future[None] | None = None
        for rgb in tqdm(frames, total=total, unit="frame", desc="simulate video",
                        disable=not progress):
            if sim is None:
                size = rgb.shape[:2]
                sim = EngineSim(program, stage, width=rgb.shape[1])
                out_stream = _add_video_stream(output, rgb.shape, sim.upscale, rate, crf)
            if rgb.shape[:2] != size:
                raise ValueError(f"frame {n} is {rgb.shape[1]}x{rgb.shape[0]}, the video "
                                 f"started at {size[1]}x{size[0]}")  # type: ignore[index]
            out = sim.run_frame(rgb)
            if pending is not None:
                pending.result()  # one frame in the encoder at a time, in order
            pending = encoder.submit(_encode, output, out_stream, out)
            n += 1
        if pending is not None:
            pending.result()
        if sim is None or out_stream is None or size is None:
            raise ValueError("the video holds no frames")
        _encode(output, out_stream, None)
    return sim, n, size[0]


def _encode(output: Any, out_stream: Any, frame: FrameU8 | None) -> None:
    """Encode one output frame (None: flush the encoder) and mux its packets."""
    import av

    video = None if frame is None else av.VideoFrame.from_ndarray(frame, format="rgb24")
    for packet in out_stream.encode(video):
        output.mux(packet)


def _ahead(items: Iterator[FrameU8], depth: int = 2) -> Generator[FrameU8, None, None]:
    """``items`` produced by a helper thread up to ``depth`` ahead of the consumer; an
    exception in the producer is raised in the consumer, at the item it stopped at."""
    q: queue.Queue[tuple[str, Any]] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def put(kind: str, value: Any) -> bool:  # False once the consumer has stopped
        while not stop.is_set():
            try:
                q.put((kind, value), timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for item in items:
                if not put("item", item):
                    return
            put("end", None)
        except BaseException as e:  # noqa: BLE001 - handed to the consumer, re-raised there
            put("error", e)

    worker = threading.Thread(target=produce, name="hwsr-decode", daemon=True)
    worker.start()
    try:
        while True:
            kind, value = q.get()
            if kind == "end":
                return
            if kind == "error":
                raise value
            yield value
    finally:
        stop.set()
        worker.join()


def _add_video_stream(output: Any, shape: tuple[int, ...], upscale: int, rate: Any,
                      crf: int) -> Any:
    """An H.264 stream for the output size; 4:4:4 where odd sizes rule out 4:2:0."""
    out_stream = output.add_stream(VIDEO_CODEC, rate=rate)
    out_stream.height, out_stream.width = shape[0] * upscale, shape[1] * upscale
    odd = out_stream.height % 2 or out_stream.width % 2
    out_stream.pix_fmt = "yuv444p" if odd else "yuv420p"
    out_stream.options = {"crf": str(crf)}
    return out_stream
