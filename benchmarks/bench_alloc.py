"""Benchmark: glibc's malloc thresholds and the float engine on whole frames.

The float pass of the dual engine over a 720p frame allocates activations of tens to
hundreds of MiB. glibc serves every block over its mmap threshold (at most 32 MiB) with a
fresh ``mmap`` and returns it with ``munmap``, so each layer of each frame page-faults its
output in again: ``hwsr eval`` on whole frames spent as much time in the kernel as in
user code. Raising the thresholds through the environment keeps the blocks in the heap.

Each case runs in a fresh process (the environment is read when glibc starts): one warm-up
frame, then ``--frames`` timed frames of the float hwsr-s pair on one thread. The cases
alternate for ``--rounds`` rounds; the best round of each is kept, and the ratio of the two
is the result (one machine, one run: the load is shared).

Usage: ``python benchmarks/bench_alloc.py [--write benchmarks/results/alloc.md]``
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
THRESHOLD = str(16 << 30)  # 16 GiB: no block of a frame is mapped or trimmed separately
ENVS = {
    "glibc defaults": {},
    "MALLOC_MMAP_THRESHOLD_ = MALLOC_TRIM_THRESHOLD_ = 16 GiB": {
        "MALLOC_MMAP_THRESHOLD_": THRESHOLD, "MALLOC_TRIM_THRESHOLD_": THRESHOLD},
    "MALLOC_MMAP_THRESHOLD_ = 32 MiB (mallopt's most)": {"MALLOC_MMAP_THRESHOLD_": str(32 << 20)},
}

CHILD = """
import json, os, sys, time
import numpy as np, torch
from hwsr.imageio import frame_to_tensor
from hwsr.zoo import load_engine
torch.set_num_threads(1)
net = load_engine("hwsr-s").float_dual().eval()
frame = np.random.default_rng(0).integers(0, 256, (720, 1280, 3), dtype=np.uint8)
with torch.no_grad():
    net(frame_to_tensor(frame))
    t0, w0 = os.times(), time.perf_counter()
    for _ in range(int(sys.argv[1])):
        net(frame_to_tensor(frame))
    t1, w1 = os.times(), time.perf_counter()
print(json.dumps({"wall": w1 - w0, "user": t1.user - t0.user, "sys": t1.system - t0.system}))
"""


def run_case(env: dict[str, str], frames: int) -> dict[str, float]:
    out = subprocess.run([sys.executable, "-c", CHILD, str(frames)], check=True,
                         capture_output=True, text=True, env={**os.environ, **env}, cwd=ROOT)
    return {k: v / frames for k, v in json.loads(out.stdout.strip().splitlines()[-1]).items()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=3)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--write", type=Path, help="write the Markdown table to this file")
    args = ap.parse_args()
    best: dict[str, dict[str, float]] = {}
    load0 = os.getloadavg()
    for _ in range(args.rounds):
        for name, env in ENVS.items():
            r = run_case(env, args.frames)
            if name not in best or r["wall"] < best[name]["wall"]:
                best[name] = r
    load1 = os.getloadavg()
    base = best["glibc defaults"]["wall"]
    lines = [
        "# Allocator benchmark: float hwsr-s pair on one 1280x720 frame, one thread",
        "",
        f"- machine: {os.cpu_count()} cores, {platform.machine()}, {platform.libc_ver()[0]} "
        f"{platform.libc_ver()[1]}; load {load0[0]:.2f} before, {load1[0]:.2f} after",
        f"- best of {args.rounds} interleaved rounds of {args.frames} frames, each case in a "
        "fresh process (`benchmarks/bench_alloc.py`)",
        "",
        "| environment | wall s/frame | user s/frame | sys s/frame | defaults / this |",
        "|---|---:|---:|---:|---:|",
    ]
    for name, r in best.items():
        lines.append(f"| {name} | {r['wall']:.2f} | {r['user']:.2f} | {r['sys']:.2f} | "
                     f"{base / r['wall']:.2f} |")
    text = "\n".join(lines) + "\n"
    print(text)
    if args.write:
        args.write.write_text(text)


if __name__ == "__main__":
    main()
