"""Benchmark: one 1280×720 → 3840×2160 dual-stage frame of the default engine, three ways.

In one process, on the same frame (the built-in test pattern), interleaved, best of N:

* the bit-accurate line-buffer simulator (``hwsr.sim.simulate``, rows streamed through the
  line buffers);
* PyTorch float32 forward of the same network (``torch.set_num_threads(2)``);
* onnxruntime running the QuantizeLinear/DequantizeLinear (QCDQ) export of the same integer
  program (``hwsr.export.qcdq``, what ``hwsr export --format qcdq`` writes). onnxruntime
  fuses the 8-bit DQ → Conv → ReLU → Q groups into integer convolutions; the last conv of
  each stage has a 10-bit output (Clip, int16 Q/DQ), which it runs in float.

Weights: ``models/hwsr-s/program.npz`` when it exists, else a calibrated
``QuantEngineNet`` (random init, scales calibrated on a few frames in train mode, then eval)
lowered with ``hwsr.quant.lower.lower_dual``. onnxruntime rounds half to even; the engine's
spec rounds half up, so the benchmark also reports how many output codes differ, and checks
bit-exactness of the QCDQ export on a half-even variant of the engine.

The simulator runs with the int8 kernel variant the host picks (``HWSR_SIM_INT8`` unset), and
again forced onto every other variant this host runs (AVX-512 VNNI, AVX-VNNI, AVX2, generic),
in the same interleaved rounds. Peak probes in the same rounds: a float32 GEMM (OpenBLAS) and
each variant's register-only loop of its multiply instruction (``hwsr.sim.probes``), so each
whole-frame rate is given as a fraction of the peak of the instruction it used. Then the
first-frame time of a fresh ``simulate`` process with a cold and a warm kernel cache (numba's
and the LLVM kernels' objects). Writes the markdown table, JSON and an SVG bar chart; earlier
measurements of other hosts already in the markdown file are kept. The last line printed is
``sim/ort = R (2 threads)``.

``--host-view avx2`` runs it all again as an AVX2-only CPU would (AVX-512, AVX-VNNI and AMX
hidden from every library by CPUID faulting, ``benchmarks/hostview.py``): onnxruntime loses
its VNNI kernels too, so its sim/ort is the one such a host sees, on this host's cores. With
``--write`` that run replaces only its own section of the file.

Usage: ``python benchmarks/bench_sim.py [--rounds 3] [--host-view avx2]
[--write benchmarks/results/sim.md]``
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import json
import os
import platform
import sys
import time
from collections.abc import Callable
from pathlib import Path

import hostview
import numba
import numpy as np
import onnx
import onnxruntime as ort
import torch

from hwsr.atomic import write_text
from hwsr.export import ExportSource, Format, build
from hwsr.export.runtimes import hwc
from hwsr.export.runtimes import ort_session as export_session
from hwsr.export.runtimes import run_ort as export_run
from hwsr.fixed import Rounding
from hwsr.program import EngineProgram, load_program
from hwsr.sim import int8, probes, simulate, test_pattern
from hwsr.spec import EngineSpec, load_spec

ROOT = Path(__file__).resolve().parents[1]
SPEC_PATH = ROOT / "models" / "hwsr-s" / "engine.toml"
PROGRAM_PATH = ROOT / "models" / "hwsr-s" / "program.npz"
THREADS = 2


# ---- the engine's weights ---------------------------------------------------------------------


def calibrated_program(spec: EngineSpec, seed: int = 0) -> tuple[EngineProgram, object]:
    """Lower a calibrated QuantEngineNet pair; returns the program and the quant dual net."""
    from hwsr.quant import build_quant_dual
    from hwsr.quant.lower import lower_dual

    torch.manual_seed(seed)
    dual = build_quant_dual(spec)
    g = torch.Generator().manual_seed(seed)
    frame = torch.from_numpy(test_pattern(96, 64)).permute(2, 0, 1)[None].float() / 256
    with torch.no_grad():
        for net in (dual.net1, dual.net2):
            for conv in net.convs:
                conv.bias.normal_(0.0, 0.02, generator=g)
        dual.train()
        for _ in range(4):  # calibrate activation scales in train mode
            noise = torch.rand(frame.shape, generator=g) / 16
            dual((frame + noise).clamp(0, 255 / 256))
    dual.eval()
    return lower_dual(dual.net1, dual.net2), dual


def engine_program(spec: EngineSpec) -> tuple[EngineProgram, str]:
    if PROGRAM_PATH.is_file():
        return load_program(PROGRAM_PATH), f"trained ({PROGRAM_PATH.relative_to(ROOT)})"
    program, _ = calibrated_program(spec)
    return program, "random init, calibrated QuantEngineNet, lowered"


def float_dual_like(program: EngineProgram) -> torch.nn.Module:
    """The float network of the same engine, with the program's weights as float values."""
    from hwsr.arch.engine_net import build_dual

    dual = build_dual(program.net2.spec).eval()
    for net, stage in ((dual.net1, program.net1), (dual.net2, program.net2)):
        assert stage is not None
        with torch.no_grad():
            for conv, lp in zip(net.convs, stage.layers, strict=True):
                scale = 2.0 ** -lp.weight_frac.astype(np.float64)
                conv.weight.copy_(torch.from_numpy(lp.weight * scale[:, None, None, None]))
                conv.bias.copy_(torch.from_numpy(lp.bias * 2.0 ** -(lp.in_frac + lp.weight_frac)))
    return dual


# ---- onnxruntime: the QCDQ export of the same integer program ---------------------------------


def qcdq_graph(program: EngineProgram) -> onnx.ModelProto:
    """The dual-stage QCDQ graph ``hwsr export --format qcdq`` writes (uint8 NCHW in and out)."""
    return build(Format.QCDQ, "dual", ExportSource("benchmark", program=program))


def ort_session(program: EngineProgram, optimize: bool = True,
                threads: int = THREADS) -> ort.InferenceSession:
    """onnxruntime session; ``optimize=False`` keeps the graph as written (no integer fusion)."""
    return export_session(qcdq_graph(program), optimize=optimize, threads=threads)


def run_ort(sess: ort.InferenceSession, frame_u8_hwc: np.ndarray) -> np.ndarray:
    return hwc(export_run(sess, frame_u8_hwc, np.uint8)[0])


# ---- timing --------------------------------------------------------------------------------


def best_of(fns: dict[str, Callable[[], object]], rounds: int) -> dict[str, float]:
    """Best wall time of each function, rounds interleaved so load hits all alike."""
    best = {k: float("inf") for k in fns}
    for _ in range(rounds):
        for k, fn in fns.items():
            t = time.perf_counter()
            fn()
            best[k] = min(best[k], time.perf_counter() - t)
    return best


PEAK_N = 1024  # float32 GEMM size of the peak probe: large enough for OpenBLAS's best kernel


def peak_probe(threads: int) -> Callable[[], None]:
    """A float32 ``PEAK_N``-cube GEMM on ``threads`` OpenBLAS threads: the machine's float32
    multiply-add peak as its best library reaches it (the datapath the simulator runs on)."""
    from hwsr.sim._lanes import _openblas  # the OpenBLAS NumPy loaded (a host detail)

    api = _openblas()
    a = np.random.default_rng(0).standard_normal((PEAK_N, PEAK_N)).astype(np.float32)
    out = np.empty_like(a)

    def run() -> None:
        before = api[1]() if api else None
        if api:
            api[0](threads)
        np.matmul(a, a, out=out)
        if api and before is not None:
            api[0](int(before))
    return run


def half_even_check(spec: EngineSpec) -> tuple[int, int, int]:
    """On a half-even engine: output codes where onnxruntime differs from the simulator,
    with its integer fusion and without (the QCDQ export as written), and the codes compared."""
    dp = dataclasses.replace(spec.datapath, rounding=Rounding.HALF_EVEN)
    program, _ = calibrated_program(dataclasses.replace(spec, datapath=dp), seed=1)
    frame = test_pattern(160, 90)
    sim = simulate(program, frame, "dual").frame
    fused = run_ort(ort_session(program), frame)
    plain = run_ort(ort_session(program, optimize=False), frame)
    return int(np.count_nonzero(fused != sim)), int(np.count_nonzero(plain != sim)), sim.size


def variant_runs(program: EngineProgram, frame: np.ndarray) -> tuple[
        dict[str, Callable[[], object]], dict[str, int]]:
    """Timed functions of every int8 variant this host runs: the simulator forced onto it
    (``sim:<name>``) and its peak loop (``peak:<name>``), each on 2 threads and on 1
    (suffix ``1``); and the MACs of each peak run."""
    fns: dict[str, Callable[[], object]] = {}
    macs: dict[str, int] = {}
    for isa in int8.VARIANTS:
        if not int8.passes_self_test(isa):
            continue
        for threads, sfx in ((THREADS, ""), (1, "1")):
            def run(name: str = isa.name, lanes: int = threads) -> None:
                with int8.forced(name):
                    simulate(program, frame, "dual", lanes=lanes)
            fns[f"sim:{isa.name}{sfx}"] = run
            fns[f"peak:{isa.name}{sfx}"], macs[f"peak:{isa.name}{sfx}"] = probes.peak_probe(
                isa, threads)
    return fns, macs


FIRST_FRAME = """
import time
t0 = time.perf_counter()
from hwsr.program import load_program
from hwsr.sim import simulate, test_pattern, _objcache
program, frame = load_program({program!r}), test_pattern(1280, 720)
t1 = time.perf_counter()
simulate(program, frame, "dual")
t2 = time.perf_counter()
print({{"import_s": t1 - t0, "first_frame_s": t2 - t1, **_objcache.COUNTS}})
"""


def first_frame_times() -> dict[str, dict]:
    """A fresh process's import and first-frame time, twice on the same empty cache folders
    (numba's and the LLVM kernels'): cold (everything compiles), then warm (all loaded)."""
    import ast
    import subprocess
    import sys
    import tempfile

    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "NUMBA_CACHE_DIR": f"{tmp}/numba", "HWSR_KERNEL_CACHE":
               f"{tmp}/kernels", "PYTHONPATH": str(ROOT)}
        for name in ("cold", "warm"):
            t = time.perf_counter()
            done = subprocess.run([sys.executable, "-c", FIRST_FRAME.format(
                program=str(PROGRAM_PATH))], env=env, capture_output=True, text=True,
                check=True)
            out[name] = {"process_s": time.perf_counter() - t,
                         **ast.literal_eval(done.stdout.strip().splitlines()[-1])}
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--video-frames", type=int, default=0, help="also time `hwsr simulate "
                    "--video` on a clip of this many 720p frames (300 for the record)")
    ap.add_argument("--profile", action="store_true", help="print where one frame's time "
                    "goes (per layer, per phase) and stop")
    ap.add_argument("--write", type=Path, help="write the results table (markdown) here, with "
                    "the JSON and the SVG plot beside it (same name, .json and .svg)")
    ap.add_argument("--host-view", choices=["avx2"], help="run as an AVX2-only CPU would: "
                    "AVX-512, AVX-VNNI and AMX hidden from every library (benchmarks/"
                    "hostview.py); with --write, its own section of the file")
    args = ap.parse_args()
    if args.host_view and not hostview.active():
        raise SystemExit(hostview.rerun_as_avx2(sys.argv))
    torch.set_num_threads(THREADS)
    spec = load_spec(SPEC_PATH)
    program, origin = engine_program(spec)
    frame = test_pattern(1280, 720)
    if args.profile:
        print_profile(program, frame)
        return
    result = measure(program, frame, spec, args.rounds)
    result["weights"] = origin
    result["first_frame"] = first_frame_times()
    if args.video_frames > 0:
        result["video"] = video_clip(args.video_frames)
    lines = results_table(result)
    print("\n".join(lines))
    if args.write and hostview.active():
        write_view_section(args.write, lines, result)
    elif args.write:
        write_results(args.write, lines, result)
    print(f"sim/ort = {result['ratios']['sim/ort (2 threads)']:.2f} ({THREADS} threads)")


def print_profile(program: EngineProgram, frame: np.ndarray) -> None:
    for lanes in (1, THREADS):
        print("\n".join(profile(program, frame, lanes)))
    print(f"float32 multiply-add loop alone (3x3 20->20 row, in cache): "
          f"{mac_loop_rate():.1f} GMAC/s on one thread")
    for isa in int8.VARIANTS:
        if int8.passes_self_test(isa):
            print(f"int8 {isa.name} MAC kernel alone (3x3 20->20 row, in cache): "
                  f"{probes.kernel_rate(isa):.1f} GMAC/s on one thread; its instruction's "
                  f"peak {probes.peak_rate(isa, 1):.1f}")


def measure(program: EngineProgram, frame: np.ndarray, spec: EngineSpec,
            rounds: int) -> dict:
    """The interleaved rounds and everything computed from them."""
    net = float_dual_like(program)
    x = torch.from_numpy(frame).permute(2, 0, 1)[None].float().div(256).contiguous()
    sess, sess1 = ort_session(program), ort_session(program, threads=1)
    sim_res = simulate(program, frame, "dual")  # warm-up: numba compile / cache load
    exact = bool(np.array_equal(sim_res.frame, simulate(program, frame, "dual",
                                                        mac_path="blas", lanes=1).frame))
    ort_out = run_ort(sess, frame)

    def torch_forward(threads: int) -> Callable[[], None]:
        def run() -> None:
            torch.set_num_threads(threads)
            with torch.no_grad():
                net(x)
            torch.set_num_threads(THREADS)
        return run

    v_fns, peak_macs = variant_runs(program, frame)
    for fn in v_fns.values():  # warm-up of every variant's kernels
        fn()
    load_before = os.getloadavg()
    times = best_of({"sim": lambda: simulate(program, frame, "dual", lanes=THREADS),
                     "ort": lambda: run_ort(sess, frame), "torch": torch_forward(THREADS),
                     "peak": peak_probe(THREADS),
                     "sim1": lambda: simulate(program, frame, "dual", lanes=1),
                     "ort1": lambda: run_ort(sess1, frame), "torch1": torch_forward(1),
                     "peak1": peak_probe(1), **v_fns}, rounds)
    macs_per_pixel = spec.net1().macs_per_pixel + spec.macs_per_pixel
    gmac = macs_per_pixel * frame.shape[0] * frame.shape[1] / 1e9
    layers = {f"{s.stage}.layer{ly.index}": ly.host_kernel for s in sim_res.report.stages
              for ly in s.layers}
    auto = int8.active()
    result = {
        "date": datetime.date.today().isoformat(), "machine": machine(),
        "host_isa": host_isa(), "int8_host": int8.describe_host(),
        "load_before": list(load_before), "load_after": list(os.getloadavg()),
        "versions": {"numpy": np.__version__, "torch": torch.__version__,
                     "onnxruntime": ort.__version__, "numba": numba.__version__},
        "rounds": rounds, "gmac_per_frame": gmac,
        "seconds": {k: v for k, v in times.items() if not k.startswith("peak")},
        "peak_f32_gmac_s": {"2": PEAK_N**3 / times["peak"] / 1e9,
                            "1": PEAK_N**3 / times["peak1"] / 1e9},
        "peak_gmac_s": {k.split(":")[1]: peak_macs[k] / times[k] / 1e9 for k in peak_macs},
        "sim_variant": auto.name if auto else None, "sim_host_kernel_per_layer": layers,
        "sim_exact_vs_blas_path": exact,
        "ort_codes_differ": int(np.count_nonzero(ort_out != sim_res.frame)),
        "codes": sim_res.frame.size,
        "half_even": dict(zip(("fused_differ", "plain_differ", "codes"),
                              half_even_check(spec), strict=True)),
    }
    result["ratios"] = ratios(result)
    return result


def variants_timed(res: dict) -> list[str]:
    """Names of the int8 variants forced in the rounds, best first."""
    return [v.name for v in int8.VARIANTS if f"sim:{v.name}" in res["seconds"]]


def ratios(res: dict) -> dict[str, float]:
    """sim/ort and sim/torch at both thread counts, for the picked variant and each forced
    one, and each whole-frame rate as a fraction of its instruction's peak."""
    t, gmac, peaks = res["seconds"], res["gmac_per_frame"], res["peak_gmac_s"]
    out = {}
    for sfx, th, label in (("", "2", f"{THREADS} threads"), ("1", "1", "1 thread")):
        out[f"sim/ort ({label})"] = t["sim" + sfx] / t["ort" + sfx]
        out[f"sim/torch ({label})"] = t["sim" + sfx] / t["torch" + sfx]
        out[f"sim/f32 peak ({label})"] = gmac / t["sim" + sfx] / res["peak_f32_gmac_s"][th]
        for name in variants_timed(res):
            out[f"sim {name}/ort ({label})"] = t[f"sim:{name}{sfx}"] / t["ort" + sfx]
            out[f"sim {name}/its peak ({label})"] = (gmac / t[f"sim:{name}{sfx}"]
                                                    / peaks[name + sfx])
    return out


def write_results(path: Path, lines: list[str], result: dict) -> None:
    """The markdown (with the earlier hosts' section of the file it replaces), JSON, SVG."""
    earlier = earlier_section(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_text(path, "\n".join(lines + earlier) + "\n")
    write_text(path.with_suffix(".json"), json.dumps(result, indent=2) + "\n")
    write_text(path.with_suffix(".svg"), bar_chart(result))


EARLIER = "## Earlier measurements"
VIEW = "## Host view: AVX2 only"  # the section a --host-view avx2 run writes
KEPT = (VIEW, EARLIER)  # sections a plain run carries over (the memory one is rewritten)


def write_view_section(path: Path, lines: list[str], result: dict) -> None:
    """The run under the AVX2-only view as its own section of ``path`` (the rest kept), its
    JSON beside it (``<name>-avx2view.json``)."""
    section = [f"{VIEW} (this CPU with AVX-512, AVX-VNNI and AMX hidden)", "",
               "Every library of the process saw an AVX2-only CPU (CPUID faulting, "
               "`benchmarks/hostview.py`): onnxruntime, numpy, OpenBLAS and PyTorch ran their "
               "AVX2 code and the simulator picked its `avx2` kernel; the cores, caches and "
               "clock are this machine's.", *lines[1:]]
    write_text(path, hostview.splice_section(path, section[0], section))
    write_text(path.with_name(path.stem + "-avx2view.json"), json.dumps(result, indent=2) + "\n")


def earlier_section(path: Path) -> list[str]:
    """The sections of ``path`` a plain run keeps (the AVX2-only view's and the earlier
    hosts'), each up to the next ``## `` heading, or none."""
    if not path.is_file():
        return []
    text = path.read_text(encoding="utf-8").splitlines()
    kept: list[str] = []
    for i, line in enumerate(text):
        if line.startswith(KEPT):
            end = next((j for j in range(i + 1, len(text)) if text[j].startswith("## ")),
                       len(text))
            kept += ["", *text[i:end]]
    return [line for k, line in enumerate(kept) if line or (k and kept[k - 1])]


def host_isa() -> str:
    """The vector instruction sets of this host that matter here, as LLVM reports them."""
    f = int8.host_cpu_features()
    names = ("avx2", "fma", "avx512f", "avx512bw", "avx512vl", "avx512vnni", "avxvnni",
             "amx-int8")
    return ", ".join(n for n in names if f.get(n)) or "none of AVX2/AVX-512/AVX-VNNI"


def video_clip(n_frames: int) -> dict[str, float]:
    """Frames per second of ``hwsr simulate --video`` (default model, dual stage) on a clip of
    ``n_frames`` moving 720p test-pattern frames: decode, simulation and H.264 encoding of
    the 2160p output, overlapped as the command runs them."""
    import tempfile

    import av

    from hwsr.sim.run import simulate_video

    base = test_pattern(1280 + 64, 720)
    with tempfile.TemporaryDirectory() as tmp:
        clip = Path(tmp) / "clip.mp4"
        with av.open(str(clip), "w") as out:
            s = out.add_stream("libx264", rate=30)
            s.width, s.height, s.pix_fmt = 1280, 720, "yuv420p"
            for i in range(n_frames):  # the pattern panning two pixels a frame
                x = (2 * i) % 64
                f = av.VideoFrame.from_ndarray(np.ascontiguousarray(base[:, x : x + 1280]),
                                               format="rgb24")
                for packet in s.encode(f):
                    out.mux(packet)
            for packet in s.encode(None):
                out.mux(packet)
        load = os.getloadavg()[0]
        run = simulate_video(clip, Path(tmp) / "out.mp4", progress=False)
    return {"frames": run.frames, "seconds": run.seconds, "fps": run.frames / run.seconds,
            "load_1min_before": load}


def profile(program: EngineProgram, frame: np.ndarray, lanes: int) -> list[str]:
    """Where one frame's time goes: each layer's MAC + requant kernel and ring pushes, each
    stage's residual add + pixel shuffle, and the rest (Python, the output frame copy)."""
    from hwsr.sim.engine import EngineSim

    sim = EngineSim(program, "dual", width=frame.shape[1], lanes=lanes)
    spent: dict[str, float] = {}
    inner = [0.0]  # time of timed calls nested in the current one (Net2 inside Net1's sink)

    def timed(name: str, fn: Callable[..., object]) -> Callable[..., object]:
        def run(*a: object) -> object:
            t, outer_inner = time.perf_counter(), inner[0]
            inner[0] = 0.0
            try:
                return fn(*a)
            finally:
                took = time.perf_counter() - t
                spent[name] = spent.get(name, 0.0) + took - inner[0]
                inner[0] = outer_inner + took
        return run

    for sname, stage in zip(sim.stage_names, sim.stages, strict=True):
        for unit in stage.units:
            unit._macs = timed(f"{sname}.layer{unit.index} MACs+requant "  # type: ignore[method-assign,assignment]
                               f"({unit.kernel}x{unit.kernel}, {unit.c_in}->{unit.c_out})",
                               unit._macs)
        stage._emit = timed(f"{sname} residual+shuffle", stage._emit)  # type: ignore[method-assign,assignment]
    sim.run_frame(frame)  # warm
    spent.clear()
    t = time.perf_counter()
    sim.run_frame(frame)
    total = time.perf_counter() - t
    spent["rest (ring pushes, Python, output copy)"] = total - sum(spent.values())
    lines = [f"profile, {lanes} lane(s), one frame {total:.3f} s (load "
             f"{os.getloadavg()[0]:.2f}):"]
    lines += [f"  {k:<52s} {v * 1e3:7.1f} ms {100 * v / total:5.1f} %" for k, v in spent.items()]
    return lines


def mac_loop_rate(width: int = 1280, rounds: int = 200) -> float:
    """GMAC/s of the float32 direct kernel's multiply-add loop alone (``_mac3``), on the
    passes of one 3x3 20->20 output row (60 passes x 5 groups of four channels), in cache."""
    from hwsr.sim._kernels import _mac3

    @numba.njit(nogil=True)
    def row(fwin, acc, wpack, width):  # type: ignore[no-untyped-def]
        for g in range(wpack.shape[0]):
            for p in range(wpack.shape[1]):
                _mac3(acc, fwin[p, 0:], fwin[p, 1:], fwin[p, 2:], wpack[g, p], width)

    rng = np.random.default_rng(0)
    fwin = rng.integers(0, 256, (60, width + 2)).astype(np.float32)
    wpack = rng.integers(-127, 128, (5, 60, 4, 3)).astype(np.float32)
    acc = np.zeros((4, width), np.float32)
    row(fwin, acc, wpack, width)
    best = float("inf")
    for _ in range(5):
        t = time.perf_counter()
        for _ in range(rounds):
            row(fwin, acc, wpack, width)
        best = min(best, (time.perf_counter() - t) / rounds)
    return 20 * 20 * 9 * width / best / 1e9


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        cpu = next(line.split(":", 1)[1].strip() for line in
                   Path("/proc/cpuinfo").read_text().splitlines() if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return f"{os.cpu_count()} cores ({cpu})"


ROWS = (("sim", "hwsr.sim line-buffer simulator (bit-exact)"),
        ("ort", "onnxruntime QCDQ export (int8 convs)"), ("torch", "PyTorch float32"))


PEAK_OP = {"avx512vnni": "`vpdpbusd` zmm", "avxvnni": "`{vex} vpdpbusd` ymm",
           "avx2": "`vpmaddwd` + `vpaddd` ymm", "generic": "generic IR (vpmaddwd form)"}


def results_table(res: dict) -> list[str]:
    t, gmac, r = res["seconds"], res["gmac_per_frame"], res["ratios"]
    peak, auto = res["peak_f32_gmac_s"], res["sim_variant"]
    rows = []
    for suffix, threads in (("", "2"), ("1", "1")):
        p_i8 = res["peak_gmac_s"].get(f"{auto}{suffix}") if auto else None
        for key, name in ROWS:
            s = t[key + suffix]
            of_i8 = f"{100 * gmac / s / p_i8:.0f} %" if p_i8 else "n/a"
            rows.append(f"| {name} | {threads} | {s:.3f} | {gmac / s:.1f} | "
                        f"{100 * gmac / s / peak[threads]:.0f} % | {of_i8} | "
                        f"{t['sim' + suffix] / s:.2f} |")
    load = " / ".join(f"{v:.2f}" for v in res["load_before"])
    load_after = " / ".join(f"{v:.2f}" for v in res["load_after"])
    he = res["half_even"]
    return [
        "# Simulator benchmark: one 1280x720 -> 3840x2160 dual-stage frame (hwsr-s)",
        "",
        f"- date: {res['date']}; machine: {res['machine']}, no GPU",
        f"- host ISA (LLVM's feature names): {res['host_isa']}",
        f"- {res['int8_host']}",
        f"- load average (1/5/15 min) before the timed rounds {load}, after {load_after} "
        f"(a shared machine: best of {res['rounds']} interleaved rounds)",
        "- versions: " + ", ".join(f"{k} {v}" for k, v in res["versions"].items()),
        f"- weights: {res['weights']}",
        f"- work: {gmac:.2f} GMAC per frame (Net1 + Net2)",
        f"- measured float32 peak (OpenBLAS {PEAK_N}^3 SGEMM in the same rounds): "
        f"{peak['2']:.1f} GMAC/s on 2 threads, {peak['1']:.1f} on 1",
        *[f"- measured int8 peak, {name} ({PEAK_OP[name]} loop, registers only, same rounds):"
          f" {res['peak_gmac_s'][name]:.1f} GMAC/s on 2 threads, "
          f"{res['peak_gmac_s'][name + '1']:.1f} on 1" for name in variants_timed(res)],
        f"- simulator host kernel per layer: {per_layer(res['sim_host_kernel_per_layer'])}",
        "",
        "| executor | threads | time (s) | GMAC/s | of f32 peak | of int8 peak | "
        "simulator / this |",
        "|---|---:|---:|---:|---:|---:|---:|",
        *rows,
        "",
        f"Ratios: sim/ort {r['sim/ort (2 threads)']:.2f} (2 threads), "
        f"{r['sim/ort (1 thread)']:.2f} (1 thread); sim/torch {r['sim/torch (2 threads)']:.2f} "
        f"(2 threads), {r['sim/torch (1 thread)']:.2f} (1 thread). Targets: <= 0.7 and <= 1.0 "
        "vs onnxruntime, <= 0.33 vs torch.",
        *variant_lines(res),
        *first_frame_lines(res),
        "",
        f"The simulator's output equals its im2col/BLAS path's bit for bit: "
        f"{res['sim_exact_vs_blas_path']}.",
        f"onnxruntime vs simulator output codes: {res['ort_codes_differ']:,} of "
        f"{res['codes']:,} differ (the engine rounds half up, onnxruntime half to even).",
        "",
        f"On a half-even variant of the engine (160x90 frame, {he['codes']:,} codes): the QCDQ "
        f"export run as written (onnxruntime optimizations off) differs in "
        f"{he['plain_differ']:,} codes; with its fused integer convolutions (u8 x s8 kernels "
        f"on this CPU) onnxruntime differs in {he['fused_differ']:,}.",
        *video_lines(res),
    ]


def per_layer(kernels: dict[str, str]) -> str:
    """``net1.layer0-4 int8 avx2; net2...``: runs of layers on the same host kernel."""
    parts: list[tuple[str, list[str], str]] = []
    for key, kernel in kernels.items():
        stage, layer = key.split(".layer")
        if parts and parts[-1][0] == stage and parts[-1][2] == kernel:
            parts[-1][1].append(layer)
        else:
            parts.append((stage, [layer], kernel))
    return "; ".join(f"{st}.layer{ls[0]}{'-' + ls[-1] if len(ls) > 1 else ''} {k}"
                     for st, ls, k in parts)


def variant_lines(res: dict) -> list[str]:
    """The table of the simulator forced onto each int8 variant, in the same rounds."""
    t, gmac, peaks, r = res["seconds"], res["gmac_per_frame"], res["peak_gmac_s"], res["ratios"]
    rows = [f"| {name}{' (picked)' if name == res['sim_variant'] else ''} | {th} | "
            f"{t[f'sim:{name}{sfx}']:.3f} | {gmac / t[f'sim:{name}{sfx}']:.1f} | "
            f"{peaks[name + sfx]:.1f} | {100 * gmac / t[f'sim:{name}{sfx}'] / peaks[name + sfx]:.0f}"
            f" % | {t[f'sim:{name}{sfx}'] / t['ort' + sfx]:.2f} |"
            for sfx, th in (("", "2"), ("1", "1")) for name in variants_timed(res)]
    if not rows:
        return []
    lines = ["", "The simulator forced onto each int8 kernel variant this host runs "
             "(`HWSR_SIM_INT8=<variant>`), same rounds; onnxruntime here uses its own "
             "kernels for this CPU (VNNI where the host has it), so sim/ort of a weaker "
             "variant is pessimistic for a host that has only that instruction set:", "",
             "| int8 kernel | threads | time (s) | GMAC/s | its instruction's peak (GMAC/s) "
             "| of that peak | sim/ort |", "|---|---:|---:|---:|---:|---:|---:|", *rows]
    if "avx2" in variants_timed(res):
        lines += ["", f"AVX2 forced: sim/ort = {r['sim avx2/ort (2 threads)']:.2f} "
                  f"(2 threads), {r['sim avx2/ort (1 thread)']:.2f} (1 thread)."]
    return lines


def first_frame_lines(res: dict) -> list[str]:
    if "first_frame" not in res:
        return []
    ff = res["first_frame"]
    return ["", "A fresh `simulate` process on one 720p dual frame (numba's and the LLVM "
            "kernels' caches in an empty folder, then the same folder again):", "",
            "| cache | process wall time (s) | imports + load (s) | first frame (s) | LLVM "
            "kernels compiled | loaded |", "|---|---:|---:|---:|---:|---:|",
            *[f"| {k} | {v['process_s']:.2f} | {v['import_s']:.2f} | {v['first_frame_s']:.2f} "
              f"| {v['compiled']} | {v['loaded']} |" for k, v in ff.items()]]


def video_lines(res: dict) -> list[str]:
    if "video" not in res:
        return []
    v = res["video"]
    return ["", f"`hwsr simulate --video` on a {v['frames']}-frame 720p clip (dual stage, "
            f"H.264 2160p output, decode and encode overlapped with simulation): "
            f"{v['seconds']:.1f} s, {v['fps']:.2f} frames/s (load {v['load_1min_before']:.2f} "
            "at the start)."]


def bar_chart(res: dict) -> str:
    """SVG bar chart of GMAC/s per executor and thread count, the measured peak drawn in."""
    gmac, t, peak = res["gmac_per_frame"], res["seconds"], res["peak_f32_gmac_s"]
    bars = [(f"{key} x{th}", gmac / t[key + sfx])
            for sfx, th in (("", 2), ("1", 1)) for key, _ in ROWS]
    auto = res.get("sim_variant")
    peak_i8 = ({"1": res["peak_gmac_s"][auto + "1"], "2": res["peak_gmac_s"][auto]}
               if auto else {})
    top = max(max(v for _, v in bars), peak["2"], *peak_i8.values()) * 1.1
    w, h, left, bw = 640, 320, 50, 60
    scale = (h - 60) / top
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" '
             'font-family="sans-serif" font-size="11">',
             f'<text x="{left}" y="16">GMAC/s, 720p to 2160p dual-stage frame (higher is '
             'better)</text>']
    for i, (label, v) in enumerate(bars):
        x, y = left + 20 + i * (bw + 25), h - 30 - v * scale
        color = "#2a7" if label.startswith("sim") else "#888"
        parts += [f'<rect x="{x}" y="{y:.1f}" width="{bw}" height="{v * scale:.1f}" '
                  f'fill="{color}"/>',
                  f'<text x="{x}" y="{h - 14}">{label}</text>',
                  f'<text x="{x}" y="{y - 4:.1f}">{v:.1f}</text>']
    for th, dash in (("2", "6,3"), ("1", "2,3")):
        y = h - 30 - peak[th] * scale
        parts.append(f'<line x1="{left}" x2="{w - 10}" y1="{y:.1f}" y2="{y:.1f}" '
                     f'stroke="#c33" stroke-dasharray="{dash}"/>')
        parts.append(f'<text x="{w - 150}" y="{y - 3:.1f}" fill="#c33">f32 peak, {th} '
                     f'thread(s) {peak[th]:.0f}</text>')
    if peak_i8:
        y = h - 30 - max(peak_i8.values()) * scale
        parts.append(f'<line x1="{left}" x2="{w - 10}" y1="{y:.1f}" y2="{y:.1f}" '
                     'stroke="#36c" stroke-dasharray="6,3"/>')
        parts.append(f'<text x="{w - 190}" y="{y - 3:.1f}" fill="#36c">int8 {auto} peak '
                     f'{peak_i8["1"]:.0f} (1 thread), {peak_i8["2"]:.0f} (2)</text>')
    return "\n".join(parts + ["</svg>"]) + "\n"


if __name__ == "__main__":
    main()
