"""The AVX2-only host view of benchmarks/hostview.py: under its shim every library of a
process sees a CPU without AVX-512, AVX-VNNI or AMX, the simulator picks its AVX2 kernel and
stays exact, and a real segmentation fault still ends the process."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
import hostview  # noqa: E402

pytestmark = pytest.mark.skipif(bool(hostview.unavailable()),
                                reason=f"AVX2-only view: {hostview.unavailable()}")


@pytest.fixture(scope="module")
def shim(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return hostview.build(tmp_path_factory.mktemp("hostview"))


def run_viewed(shim: Path, code: str) -> subprocess.CompletedProcess[str]:
    env = {**hostview.view_env(shim), "HWSR_KERNEL_CACHE": "0"}
    env.pop("HWSR_SIM_INT8", None)
    return subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                          text=True, timeout=300, check=False)


def test_libraries_see_an_avx2_only_cpu_and_the_simulator_stays_exact(shim: Path) -> None:
    code = """
import numpy as np
import llvmlite.binding as ll
from hwsr.sim import EngineSim, int8, test_pattern
from hwsr.program import load_program
f = ll.get_host_cpu_features()
print("features", f.get("avx2"), f.get("avx512f"), f.get("avx512vnni"), f.get("avxvnni"))
print("variant", int8.active().name if int8.active() else None)
program, frame = load_program("models/hwsr-s/program.npz"), test_pattern(40, 12)
got = EngineSim(program, "dual", width=40, mac_path="int8").run_frame(frame)
want = EngineSim(program, "dual", width=40, mac_path="blas").run_frame(frame)
print("equal", got.dtype == want.dtype == np.uint8 and np.array_equal(got, want))
"""
    out = run_viewed(shim, code)
    assert out.returncode == 0, out.stderr[-2000:]
    lines = dict(line.split(" ", 1) for line in out.stdout.splitlines())
    host_avx2 = lines["features"].split()[0] == "True"
    assert lines["features"].split()[1:] == ["False", "False", "False"]
    assert lines["variant"] == ("avx2" if host_avx2 else "None")
    assert lines["equal"] == "True"


def test_a_real_segfault_still_ends_the_process(shim: Path) -> None:
    out = run_viewed(shim, "import ctypes; ctypes.string_at(0)")
    assert out.returncode == -signal.SIGSEGV
