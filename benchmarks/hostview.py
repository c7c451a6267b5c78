"""Run a benchmark as an AVX2-only CPU would, on a CPU that has more.

``hostview/avx2_only.c`` is an ``LD_PRELOAD`` shim: it turns on Linux's CPUID faulting
(``arch_prctl(ARCH_SET_CPUID, 0)``, on CPUs whose flags list ``cpuid_fault``) and answers each
CPUID with the AVX-512, AVX-VNNI and AMX feature bits cleared. Every library in the process
then picks its AVX2 code: numpy, OpenBLAS, onnxruntime's MLAS, PyTorch, LLVM (numba and the
simulator's int8 kernels) and the simulator's kernel choice. The cores stay what they are
(their caches, ports and clock), so the figures are an AVX2-only CPU's code paths on this
microarchitecture, not another CPU. glibc chose its string functions before the shim loads.

``python benchmarks/bench_sim.py --host-view avx2`` re-runs itself under the shim.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

SOURCE = Path(__file__).resolve().parent / "hostview" / "avx2_only.c"
MARK = "HWSR_HOST_VIEW"  # set in the re-run process: the view it runs under


def unavailable() -> str:
    """Why the AVX2-only view cannot run here, or ''."""
    if sys.platform != "linux" or os.uname().machine != "x86_64":
        return "needs Linux on x86-64"
    flags = Path("/proc/cpuinfo").read_text(encoding="utf-8").split()
    if "cpuid_fault" not in flags:
        return "this CPU (or its hypervisor) does not offer CPUID faulting (cpuid_fault)"
    if shutil.which("cc") is None:
        return "needs a C compiler (cc) to build the shim"
    return ""


def build(folder: Path) -> Path:
    """Compile the shim into ``folder``; its path."""
    out = folder / "avx2_only.so"
    subprocess.run(["cc", "-O2", "-shared", "-fPIC", "-o", str(out), str(SOURCE)], check=True)
    return out


def view_env(shim: Path) -> dict[str, str]:
    """This process's environment with the shim preloaded. Python's fault handler is left
    off: a SIGSEGV handler installed after the shim's would take its CPUID traps."""
    env = dict(os.environ, LD_PRELOAD=str(shim))
    env.pop("PYTHONFAULTHANDLER", None)
    return env


def rerun_as_avx2(argv: list[str]) -> int:
    """Run ``python argv`` under the shim (built in a temporary folder); its exit status."""
    why = unavailable()
    if why:
        raise SystemExit(f"error: the AVX2-only host view cannot run here: {why}")
    with tempfile.TemporaryDirectory(prefix="hwsr-hostview-") as tmp:
        env = view_env(build(Path(tmp)))
        env[MARK] = "avx2"
        return subprocess.run([sys.executable, *argv], env=env, check=False).returncode


def active() -> str:
    """The host view this process runs under ('avx2'), or ''."""
    return os.environ.get(MARK, "")


def splice_section(path: Path, heading: str, lines: list[str]) -> str:
    """The text of ``path`` with its ``heading`` section (up to the next ``## ``) replaced by
    ``lines``, or ``lines`` added before the first ``## Earlier`` section (else at the end)."""
    text = path.read_text(encoding="utf-8").splitlines() if path.is_file() else []
    starts = [i for i, line in enumerate(text) if line == heading]
    if starts:
        end = next((i for i in range(starts[0] + 1, len(text)) if text[i].startswith("## ")),
                   len(text))
        text[starts[0]:end] = [*lines, ""]
    else:
        at = next((i for i, line in enumerate(text) if line.startswith("## Earlier")),
                  len(text))
        text[at:at] = ([""] if at and text[at - 1] else []) + [*lines, ""]
    return "\n".join(text).rstrip("\n") + "\n"
