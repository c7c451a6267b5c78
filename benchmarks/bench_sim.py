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

Also times two peak probes in the same rounds: a float32 GEMM (OpenBLAS) and a register-only
loop of AVX-512 VNNI int8 dot products (``hwsr.sim.vnni.peak_function``, the instruction the
simulator's int8 MACs use), and writes the markdown table, JSON and an SVG bar chart. The
last line printed is ``sim/ort = R (2 threads)``.

Usage: ``python benchmarks/bench_sim.py [--rounds 3] [--write benchmarks/results/sim.md]``
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import json
import os
import platform
import time
from collections.abc import Callable
from pathlib import Path

import numba
import numpy as np
import onnx
import onnxruntime as ort
import torch

from hwsr.export import ExportSource, Format, build
from hwsr.export.runtimes import hwc
from hwsr.export.runtimes import ort_session as export_session
from hwsr.export.runtimes import run_ort as export_run
from hwsr.fixed import Rounding
from hwsr.program import EngineProgram, load_program
from hwsr.sim import simulate, test_pattern
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


PEAK_I8_ITERS = 400_000  # rounds of the int8 peak loop per thread (about 0.1 s)


def peak_i8_probe(threads: int) -> Callable[[], None]:
    """The int8 VNNI peak loop on ``threads`` Python threads (it releases the GIL); a no-op
    where the host has no VNNI (the result is then reported as unavailable)."""
    from concurrent.futures import ThreadPoolExecutor

    from hwsr.sim import vnni

    if not vnni.available():
        return lambda: None
    fn = vnni.peak_function()
    pool = ThreadPoolExecutor(max_workers=threads)

    def run() -> None:
        list(pool.map(fn, [PEAK_I8_ITERS] * threads))
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


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--video-frames", type=int, default=0, help="also time `hwsr simulate "
                    "--video` on a clip of this many 720p frames (300 for the record)")
    ap.add_argument("--profile", action="store_true", help="print where one frame's time "
                    "goes (per layer, per phase) and stop")
    ap.add_argument("--write", type=Path, help="write the results table (markdown) here, with "
                    "the JSON and the SVG plot beside it (same name, .json and .svg)")
    args = ap.parse_args()
    torch.set_num_threads(THREADS)
    spec = load_spec(SPEC_PATH)
    program, origin = engine_program(spec)
    frame = test_pattern(1280, 720)
    if args.profile:
        for lanes in (1, THREADS):
            print("\n".join(profile(program, frame, lanes)))
        print(f"float32 multiply-add loop alone (3x3 20->20 row, in cache): "
              f"{mac_loop_rate():.1f} GMAC/s on one thread")
        from hwsr.sim import vnni

        if vnni.available():
            print(f"int8 VNNI MAC kernel alone (3x3 20->20 row, in cache, one call from "
                  f"Python): {mac_loop_rate_i8():.1f} GMAC/s on one thread")
        return
    net = float_dual_like(program)
    x = torch.from_numpy(frame).permute(2, 0, 1)[None].float().div(256).contiguous()
    sess, sess1 = ort_session(program), ort_session(program, threads=1)
    sim_out = simulate(program, frame, "dual").frame  # warm-up: numba compile / cache load
    exact = bool(np.array_equal(sim_out, simulate(program, frame, "dual", mac_path="blas",
                                                  lanes=1).frame))
    ort_out = run_ort(sess, frame)

    def torch_forward(threads: int) -> Callable[[], None]:
        def run() -> None:
            torch.set_num_threads(threads)
            with torch.no_grad():
                net(x)
            torch.set_num_threads(THREADS)
        return run

    load_before = os.getloadavg()
    times = best_of({"sim": lambda: simulate(program, frame, "dual", lanes=THREADS),
                     "ort": lambda: run_ort(sess, frame), "torch": torch_forward(THREADS),
                     "peak": peak_probe(THREADS), "peak_i8": peak_i8_probe(THREADS),
                     "sim1": lambda: simulate(program, frame, "dual", lanes=1),
                     "ort1": lambda: run_ort(sess1, frame), "torch1": torch_forward(1),
                     "peak1": peak_probe(1), "peak_i81": peak_i8_probe(1)},
                    args.rounds)
    macs_per_pixel = spec.net1().macs_per_pixel + spec.macs_per_pixel
    gmac = macs_per_pixel * frame.shape[0] * frame.shape[1] / 1e9
    peak_gmac = {"peak": PEAK_N**3 / times["peak"] / 1e9,
                 "peak1": PEAK_N**3 / times["peak1"] / 1e9}
    from hwsr.sim import vnni

    i8_macs = PEAK_I8_ITERS * vnni.PEAK_CHAINS * 64 if vnni.available() else 0
    peak_i8 = {"2": THREADS * i8_macs / times["peak_i8"] / 1e9,
               "1": i8_macs / times["peak_i81"] / 1e9} if i8_macs else None
    result = {
        "date": datetime.date.today().isoformat(), "machine": machine(),
        "load_before": list(load_before), "load_after": list(os.getloadavg()),
        "versions": {"numpy": np.__version__, "torch": torch.__version__,
                     "onnxruntime": ort.__version__, "numba": numba.__version__},
        "weights": origin, "rounds": args.rounds, "gmac_per_frame": gmac,
        "seconds": {k: v for k, v in times.items() if not k.startswith("peak")},
        "peak_f32_gmac_s": {"2": peak_gmac["peak"], "1": peak_gmac["peak1"]},
        "peak_i8_gmac_s": peak_i8,
        "sim_mac_path": simulate(program, test_pattern(16, 4), "dual").report.stages[0]
        .layers[0].mac_path,
        "sim_exact_vs_blas_path": exact,
        "ort_codes_differ": int(np.count_nonzero(ort_out != sim_out)), "codes": sim_out.size,
        "half_even": dict(zip(("fused_differ", "plain_differ", "codes"),
                              half_even_check(spec), strict=True)),
    }
    result["ratios"] = {
        "sim/ort (2 threads)": times["sim"] / times["ort"],
        "sim/ort (1 thread)": times["sim1"] / times["ort1"],
        "sim/torch (2 threads)": times["sim"] / times["torch"],
        "sim/torch (1 thread)": times["sim1"] / times["torch1"],
        "sim/peak (2 threads)": gmac / times["sim"] / peak_gmac["peak"],
        "sim/peak (1 thread)": gmac / times["sim1"] / peak_gmac["peak1"],
    }
    if peak_i8:
        result["ratios"]["sim/int8 peak (2 threads)"] = gmac / times["sim"] / peak_i8["2"]
        result["ratios"]["sim/int8 peak (1 thread)"] = gmac / times["sim1"] / peak_i8["1"]
    if args.video_frames > 0:
        result["video"] = video_clip(args.video_frames)
    lines = results_table(result)
    print("\n".join(lines))
    if args.write:
        args.write.parent.mkdir(parents=True, exist_ok=True)
        args.write.write_text("\n".join(lines) + "\n", encoding="utf-8")
        args.write.with_suffix(".json").write_text(json.dumps(result, indent=2) + "\n",
                                                   encoding="utf-8")
        args.write.with_suffix(".svg").write_text(bar_chart(result), encoding="utf-8")
    print(f"sim/ort = {result['ratios']['sim/ort (2 threads)']:.2f} ({THREADS} threads)")


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


def mac_loop_rate_i8(width: int = 1280, rounds: int = 500) -> float:
    """GMAC/s of the int8 VNNI MAC kernel alone on one 3x3 20->20 output row (45 taps of
    four-channel words, 20 register accumulators per 16 pixels), strips in cache."""
    import ctypes

    from hwsr.sim import direct, vnni

    rng = np.random.default_rng(0)
    s_shape, a_shape, n_taps = direct.i8_scratch_shapes(width, 20, 3, 20)
    strips = rng.integers(0, 2**32, s_shape, dtype=np.uint32)
    acc = np.zeros(a_shape, np.int32)
    wq = vnni.pack_weights(rng.integers(-128, 128, (20, 20, 3, 3)))
    wp = s_shape[2]
    tapoff = np.array([((dy * 5 + g) * wp + dx) * 4 for dy in range(3) for dx in range(3)
                       for g in range(5)], np.int64)
    fn = ctypes.CFUNCTYPE(None, *[ctypes.c_int64] * 8)(vnni.mac_address(20))
    args = (strips.ctypes.data, tapoff.ctypes.data, wq.ctypes.data, 20, n_taps,
            acc.ctypes.data, a_shape[1], a_shape[1] // vnni.PIXELS)
    best = float("inf")
    for _ in range(5):
        t = time.perf_counter()
        for _ in range(rounds):
            fn(*args)
        best = min(best, (time.perf_counter() - t) / rounds)
    return 20 * 20 * 9 * width / best / 1e9


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


def results_table(res: dict) -> list[str]:
    t, gmac, r = res["seconds"], res["gmac_per_frame"], res["ratios"]
    peak, peak_i8 = res["peak_f32_gmac_s"], res.get("peak_i8_gmac_s")
    rows = []
    for suffix, threads in (("", "2"), ("1", "1")):
        for key, name in ROWS:
            s = t[key + suffix]
            of_i8 = f"{100 * gmac / s / peak_i8[threads]:.0f} %" if peak_i8 else "n/a"
            rows.append(f"| {name} | {threads} | {s:.3f} | {gmac / s:.1f} | "
                        f"{100 * gmac / s / peak[threads]:.0f} % | {of_i8} | "
                        f"{t['sim' + suffix] / s:.2f} |")
    i8_line = (f"- measured int8 peak (AVX-512 VNNI `vpdpbusd` loop, registers only, same "
               f"rounds): {peak_i8['2']:.1f} GMAC/s on 2 threads, {peak_i8['1']:.1f} on 1"
               if peak_i8 else "- int8 peak: this CPU has no AVX-512 VNNI")
    load = " / ".join(f"{v:.2f}" for v in res["load_before"])
    load_after = " / ".join(f"{v:.2f}" for v in res["load_after"])
    he = res["half_even"]
    return [
        "# Simulator benchmark: one 1280x720 -> 3840x2160 dual-stage frame (hwsr-s)",
        "",
        f"- date: {res['date']}; machine: {res['machine']}, no GPU",
        f"- load average (1/5/15 min) before the timed rounds {load}, after {load_after} "
        f"(a shared machine: best of {res['rounds']} interleaved rounds)",
        "- versions: " + ", ".join(f"{k} {v}" for k, v in res["versions"].items()),
        f"- weights: {res['weights']}",
        f"- work: {gmac:.2f} GMAC per frame (Net1 + Net2)",
        f"- measured float32 peak (OpenBLAS {PEAK_N}^3 SGEMM in the same rounds): "
        f"{peak['2']:.1f} GMAC/s on 2 threads, {peak['1']:.1f} on 1",
        i8_line,
        f"- simulator MAC datapath: {res.get('sim_mac_path', 'float32')}",
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
    peak_i8 = res.get("peak_i8_gmac_s") or {}
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
        parts.append(f'<text x="{w - 190}" y="{y - 3:.1f}" fill="#36c">int8 VNNI peak '
                     f'{peak_i8["1"]:.0f} (1 thread), {peak_i8["2"]:.0f} (2)</text>')
    return "\n".join(parts + ["</svg>"]) + "\n"


if __name__ == "__main__":
    main()
