"""Compiling the MAC kernels' LLVM IR for this host, with their object code cached on disk.

A kernel is compiled once per machine, not once per process: :func:`compile_ir` emits the
host object code and keeps it in a folder under a name that hashes everything the code
depends on (the IR, LLVM's version, the target triple, the CPU name and the full feature
string the code was compiled for). A folder shared between
machines (a network home, a CI cache) therefore never hands one CPU another's code; a
stale or foreign file is simply never looked up. Files are written atomically
(:mod:`hwsr.atomic`), so a killed run leaves the old file or none. The kernels' self-tests
(:mod:`hwsr.sim.int8`) still run on whatever is loaded before first use.

``HWSR_KERNEL_CACHE`` names the folder (``0`` turns the cache off); by default
``$XDG_CACHE_HOME/hwsr/kernels`` (``~/.cache/hwsr/kernels``). A folder that cannot be
written leaves the cache off, silently: compiling is only slower.
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from hwsr.atomic import atomic_write

log = logging.getLogger(__name__)

CACHE_ENV = "HWSR_KERNEL_CACHE"
FORMAT = "hwsr-mac-2"  # bump when the meaning of a cached object changes
_LOCK = threading.Lock()
_ENGINES: list[object] = []  # the compiled modules' execution engines, kept alive
COUNTS = {"compiled": 0, "loaded": 0}  # kernels built and kernels read from the cache


def _llvm() -> Any:
    import llvmlite.binding as llvm

    llvm.initialize_native_target()
    llvm.initialize_native_asmprinter()
    return llvm


def host_cpu_features() -> dict[str, bool]:
    """LLVM's names of this host's CPU features (empty where llvmlite cannot read them)."""
    try:
        return dict(_llvm().get_host_cpu_features())
    except (RuntimeError, OSError):
        return {}


def cache_dir() -> Path | None:
    """The object cache's folder, or None where ``HWSR_KERNEL_CACHE=0``."""
    setting = os.environ.get(CACHE_ENV, "")
    if setting == "0":
        return None
    if setting:
        return Path(setting)
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "hwsr" / "kernels"


def target_features(extra: str) -> str:
    """LLVM's feature string for this host's kernels, ``extra`` appended (``-avx512f`` keeps
    a 256-bit variant free of AVX-512, as on the CPUs it is written for)."""
    llvm = _llvm()
    flat = llvm.get_host_cpu_features().flatten()
    return ",".join(f for f in (flat, extra) if f)


def _key(text: str, triple: str, cpu: str, features: str) -> str:
    llvm = _llvm()
    h = hashlib.sha256()
    for part in (FORMAT, ".".join(map(str, llvm.llvm_version_info)), triple, cpu, features,
                 text):
        h.update(part.encode())
        h.update(b"\0")
    return h.hexdigest()


def _read(path: Path | None) -> bytes | None:
    if path is None:
        return None
    try:
        return path.read_bytes()
    except OSError:
        return None


def _write(path: Path | None, data: bytes) -> None:
    if path is None:
        return
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write(path, lambda tmp: tmp.write_bytes(data))
    except OSError as e:
        log.debug("kernel cache not written (%s)", e)


def compile_ir(text: str, name: str, extra_features: str = "") -> int:
    """Address of function ``name`` of the IR module ``text``, compiled for this host (the
    host's features plus ``extra_features``), its object code read from or written to the
    cache folder.

    The object is emitted by the target machine and handed to MCJIT as a file, not through
    MCJIT's object-cache callbacks: a Ctrl-C that lands in a Python callback called from C is
    swallowed by ctypes, and the interpreter then dies of the signal at exit instead of
    reporting the interruption."""
    llvm = _llvm()
    with _LOCK:
        module = llvm.parse_assembly(text)
        module.triple = llvm.get_process_triple()
        module.verify()
        cpu, features = llvm.get_host_cpu_name(), target_features(extra_features)
        machine = llvm.Target.from_triple(module.triple).create_target_machine(
            cpu=cpu, features=features, opt=3)
        folder = cache_dir()
        path = folder / f"{_key(text, module.triple, cpu, features)}.o" if folder else None
        obj = _read(path)
        COUNTS["loaded" if obj else "compiled"] += 1
        if obj is None:
            obj = bytes(machine.emit_object(module))
            _write(path, obj)
        holder = llvm.parse_assembly("")
        holder.triple = module.triple
        engine = llvm.create_mcjit_compiler(holder, machine)
        engine.add_object_file(llvm.ObjectFileRef.from_data(obj))
        engine.finalize_object()
        _ENGINES.append(engine)
        return int(engine.get_function_address(name))


def checked_address(make_ir: Callable[[], str], name: str, extra_features: str,
                    self_test: Callable[[int], bool], what: str) -> int:
    """:func:`compile_ir`'s address of ``name`` in the module ``make_ir()`` once
    ``self_test(address)`` passed (the kernel against its NumPy twin), or 0 where the IR was
    not made, did not compile or did not pass: the caller keeps its numba kernel, and a
    warning names ``what``."""
    try:
        addr = compile_ir(make_ir(), name, extra_features)
        ok = self_test(addr)
    except Exception as e:  # noqa: BLE001  (any compile failure: keep the numba kernel)
        log.warning("%s %s unavailable (%s)", what, name, e)
        return 0
    if not ok:
        log.warning("%s %s failed its self-test", what, name)
    return addr if ok else 0


def assembly(text: str, extra_features: str = "") -> str:
    """The host assembly of IR module ``text`` (for tests that check the instructions)."""
    llvm = _llvm()
    module = llvm.parse_assembly(text)
    module.triple = llvm.get_process_triple()
    machine = llvm.Target.from_triple(module.triple).create_target_machine(
        cpu=llvm.get_host_cpu_name(), features=target_features(extra_features), opt=3)
    return str(machine.emit_assembly(module))
