"""The int8 MAC kernels, every instruction-set variant this host runs.

Each variant (AVX-512 VNNI, AVX-VNNI, AVX2, generic vector IR) is forced and held equal to
the NumPy twin (int64 sums) on the int8 extremes (-128, 127 weights, 0 and 255 codes),
channel counts that leave partial four-channel words and partial kernel groups of every
variant (13, 6, 28 channels), widths that leave partial 8- and 16-pixel blocks; and the
engine forced onto it equals the integer reference. A variant the host lacks skips with the
instruction it lacks. The ``HWSR_SIM_INT8`` switch is tested in this process and in fresh
ones, and the kernels' object cache across processes.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hwsr.program import load_program
from hwsr.sim import _mac_ir, _naive, _objcache, direct, int8, simulate, test_pattern
from hwsr.sim.engine import EngineSim
from hwsr.spec import STAGES, EngineSpec
from tests.strategies import EXACT_CASES, engine_specs, frames, random_program
from tests.test_sim_exact import assert_sim_equals_reference

REPO = Path(__file__).resolve().parents[1]


def _why_skip(isa: int8.Isa) -> str:
    if not int8.supported(isa):
        return f"this CPU lacks {', '.join(isa.needs)} (the {isa.name} kernel cannot run)"
    return f"the {isa.name} kernel failed its self-test on this host"


VARIANTS = [pytest.param(v, id=v.name, marks=pytest.mark.skipif(
    not int8.passes_self_test(v), reason=_why_skip(v))) for v in int8.VARIANTS]


@st.composite
def int8_cases(draw: st.DrawFn) -> dict:
    """A uint8 window, int8 weights (extremes likely) and int32 requant parameters."""
    kernel = draw(st.sampled_from([1, 3, 5]))
    width = draw(st.integers(1, 40))
    channels = draw(st.integers(1, 9))
    n_in = draw(st.integers(0, 5))
    skip = draw(st.integers(0, n_in))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    codes = np.array([0, 1, 254, 255], np.uint8)
    pick = draw(st.booleans())
    def rows(n: int) -> np.ndarray:  # noqa: E306
        shape = (n, width * channels)
        return rng.choice(codes, shape) if pick else rng.integers(0, 256, shape, np.uint8)
    c_out = draw(st.sampled_from([1, 3, 4, 6, 7, 13, 14, 20, 27, 28, 29, 57]))
    weight = (rng.choice(np.array([-128, -1, 0, 1, 127]), (c_out, channels, kernel, kernel))
              if draw(st.booleans()) else rng.integers(-128, 128, (c_out, channels, kernel,
                                                                   kernel)))
    worst = kernel * kernel * channels * 128 * 255
    bias = rng.integers(-2**20, 2**20 + 1, c_out)
    shift = rng.integers(0, 31, c_out)
    acc_bits = draw(st.integers(8, 32))
    fit = 0 if worst + 2**20 < 2 ** (acc_bits - 1) else draw(st.sampled_from([1, 2]))
    if fit and acc_bits > 30:
        acc_bits = 30
    n_out = n_in - skip
    byte = draw(st.booleans())  # uint8 codes 0..255 (with ReLU: the byte kernel) or int16
    return dict(lo=0 if byte else -512, hi=255 if byte else 511, ring=rows(kernel - 1), head=draw(st.integers(0, max(kernel - 2, 0))),
                incoming=rows(max(n_in, 1)), skip=skip, width=width, channels=channels,
                kernel=kernel, weight=weight.astype(np.int64), bias=bias.astype(np.int32),
                lshift=np.zeros(c_out, np.int32), rshift=shift.astype(np.int32),
                relu=draw(st.booleans()), acc_bits=acc_bits, fit=fit,
                rounding=draw(st.integers(0, 3)), n_out=n_out,
                out=np.full((max(n_out, 1) + 1, c_out * width), 3,
                            np.uint8 if byte else np.int16))


@pytest.mark.parametrize("compiled_requant", [True, False], ids=["ir requant", "numba requant"])
@pytest.mark.parametrize("isa", VARIANTS)
@given(case=int8_cases())
def test_int8_kernel_equals_twin(isa: int8.Isa, compiled_requant: bool, case: dict) -> None:
    k, c, width, c_out = case["kernel"], case["channels"], case["width"], len(case["bias"])
    wq, fns = int8.pack_weights(case["weight"], isa), int8.kernel_table(c_out, isa)
    s_shape, a_shape, n_taps = direct.i8_scratch_shapes(width, c, k, c_out)
    results = []
    for fn in (direct.conv_requant_i8, _naive.conv_requant_i8):
        out, stats = case["out"].copy(), np.zeros(3, np.int64)
        strips = np.full(s_shape, 0xDEADBEEF, np.uint32)  # stale scratch is overwritten
        acc = np.full(a_shape, -7, np.int32)
        fn(case["ring"], case["head"], case["incoming"], case["n_out"], case["skip"], width, c,
           k, wq, fns, case["bias"], case["lshift"], case["rshift"], case["relu"],
           case["acc_bits"], case["fit"], case["rounding"], case["lo"], case["hi"], out, strips,
           np.zeros(n_taps, np.int64), acc, stats, isa=isa,
           **({"compiled_requant": compiled_requant} if fn is direct.conv_requant_i8 else {}))
        results.append((out, stats))
    assert np.array_equal(results[0][0], results[1][0])  # rows past n_out untouched too
    assert results[0][1].tolist() == results[1][1].tolist()
    rq = "int32-lane IR" if compiled_requant else "numba"
    EXACT_CASES[f"kernel == twin: conv_requant_i8 ({isa.name}, {rq} requantizer)"] += 1


@pytest.mark.parametrize("isa", [int8.by_name("avx512vnni"), int8.by_name("avx2")],
                         ids=["int8 words", "int16 words"])
@given(seed=st.integers(0, 2**32 - 1), c_out=st.integers(1, 9), c_in=st.integers(1, 9),
       k=st.sampled_from([1, 3, 5]))
def test_int8_packing_holds_every_weight_once(isa: int8.Isa, seed: int, c_out: int,
                                              c_in: int, k: int) -> None:
    w = np.random.default_rng(seed).integers(-128, 128, (c_out, c_in, k, k))
    wq = int8.pack_weights(w, isa)
    groups = -(-c_in // 4)
    assert wq.shape == (k * k * groups, c_out) and wq.itemsize == isa.weight_bytes
    lanes = wq.view(np.int8 if isa.weight_bytes == 4 else np.int16)
    b = lanes.reshape(k, k, groups, c_out, 4)  # (dy, dx, g, o, i)
    rebuilt = b.transpose(3, 2, 4, 0, 1).reshape(c_out, groups * 4, k, k)
    assert np.array_equal(rebuilt[:, :c_in], w) and not rebuilt[:, c_in:].any()


def test_int8_refusals() -> None:
    """Weights outside int8 are refused by the packer, and a layer that cannot run int8
    says why when ``mac_path='int8'`` demands it."""
    with pytest.raises(ValueError, match="int8"):
        int8.pack_weights(np.full((1, 1, 1, 1), 128), int8.VARIANTS[0])
    program = load_program("models/hwsr-s/program.npz")
    with pytest.raises(ValueError, match="int8 MACs cannot run this layer"):
        EngineSim(program, "dual", width=8, mac_path="int8", requant_path="int64")
    with int8.forced("0"), pytest.raises(ValueError, match="HWSR_SIM_INT8=0"):
        EngineSim(program, "dual", width=8, mac_path="int8")


_DOT = {"avx512vnni": ('@"llvm.x86.avx512.vpdpbusd.512"', 1),
        "avxvnni": ('@"llvm.x86.avx512.vpdpbusd.256"', 1),
        "avx2": ('@"llvm.x86.avx2.pmadd.wd"', 2), "generic": ("call", 0)}


@pytest.mark.parametrize("isa", int8.VARIANTS, ids=[v.name for v in int8.VARIANTS])
def test_mac_ir_issues_one_product_per_channel_and_register(isa: int8.Isa) -> None:
    """The IR multiplies each tap's input once per output channel and accumulator register
    (the generic form names no instruction: plain mul/add on vectors)."""
    group = min(6, isa.group_max)
    text = _mac_ir.mac_ir(isa, group)
    call, per_channel = _DOT[isa.name]
    assert text.count(f"call <{isa.lanes} x i32> {call}") == per_channel * group
    if isa.form == "generic":
        assert "llvm.x86" not in text and text.count("mul <8 x i32>") == 2 * 2 * group
    with pytest.raises(ValueError):
        _mac_ir.mac_ir(isa, isa.group_max + 1)


_ASM = {"avx512vnni": ("vpdpbusd", "zmm", ()),
        "avxvnni": ("{vex}\tvpdpbusd", "ymm", ("zmm",)),
        "avx2": ("vpmaddwd", "ymm", ("zmm", "vpdpbusd", "vpdpwssd", "vpmaddubsw")),
        "generic": ("vpmaddwd", "ymm", ("zmm", "vpmaddubsw"))}


@pytest.mark.parametrize("isa", VARIANTS)
def test_kernel_assembly_uses_the_variants_instructions(isa: int8.Isa) -> None:
    """The host code of a full group: the variant's multiply, its register width only (a
    256-bit variant compiled here must also run on a CPU without AVX-512), and never the
    saturating ``vpmaddubsw``."""
    want, width, banned = _ASM[isa.name]
    asm = _objcache.assembly(_mac_ir.mac_ir(isa, isa.group_max), isa.target)
    assert asm.count(want) >= isa.group_max and f"%{width}" in asm
    assert not [b for b in banned if b in asm]


@pytest.mark.parametrize("isa", VARIANTS)
@given(spec=engine_specs(), frame=frames(), seed=st.integers(0, 2**32 - 1),
       extreme=st.booleans(), stage=st.sampled_from(STAGES))
@settings(max_examples=15)
def test_engine_forced_onto_each_variant_matches_reference(
        isa: int8.Isa, spec: EngineSpec, frame: np.ndarray, seed: int, extreme: bool,
        stage: str) -> None:
    program = random_program(spec, np.random.default_rng(seed), extreme)
    configs = ((f"int8 {isa.name}", {}),
               (f"int8 {isa.name}, two lanes, one-row blocks", {"block_rows": 1, "lanes": 2}))
    with int8.forced(isa.name):
        assert_sim_equals_reference(program, frame, stage, configs)
        sim = EngineSim(program, stage, width=frame.shape[1])
    assert all(u.isa == isa for s in sim.stages for u in s.units)
    for s in sim.stages:
        for u in s.units:  # how many layers were int8-eligible (uint8 inputs, int8 weights)
            EXACT_CASES[f"  ... of which layers on int8 {isa.name}"] += u.int8


@pytest.mark.parametrize("isa", VARIANTS)
def test_default_model_on_each_variant_equals_blas(isa: int8.Isa) -> None:
    """hwsr-s runs every layer on the forced variant, and equals the im2col/BLAS path."""
    program = load_program("models/hwsr-s/program.npz")
    frame = test_pattern(203, 21)
    want = simulate(program, frame, "dual", mac_path="blas", lanes=1)
    with int8.forced(isa.name):
        got = simulate(program, frame, "dual", lanes=2)
    assert np.array_equal(got.frame, want.frame)
    kernels = {ly.host_kernel for s in got.report.stages for ly in s.layers}
    assert kernels == {f"int8 {isa.name}"}
    EXACT_CASES[f"simulator int8 {isa.name} == im2col/BLAS (hwsr-s frame)"] += 1


def test_switch_is_read_on_every_call() -> None:
    """Setting ``HWSR_SIM_INT8`` after the first call takes effect (it used to be cached)."""
    first = int8.active()
    with int8.forced("0") as isa:
        assert isa is None and not int8.available()
        assert "HWSR_SIM_INT8=0" in int8.unavailable_reason()
    with int8.forced("sse9") as isa:
        assert isa is None and "no int8 kernel variant 'sse9'" in int8.unavailable_reason()
    with int8.forced("generic") as isa:
        assert isa == int8.by_name("generic")
    assert int8.active() == first


def _run(code: str, **env: str) -> str:
    full = {**os.environ, "PYTHONPATH": str(REPO), **env}
    done = subprocess.run([sys.executable, "-c", code], env=full, capture_output=True,
                          text=True, check=True, cwd=REPO, timeout=300)
    return done.stdout.strip().splitlines()[-1]


_PROBE = ("from hwsr.sim import int8, EngineSim; from hwsr.program import load_program; "
          "sim = EngineSim(load_program('models/hwsr-s/program.npz'), 'dual', width=16); "
          "print(sorted({u.mac_path + ' ' + (u.isa.name if u.int8 else '-') "
          "for s in sim.stages for u in s.units}))")


def test_switch_in_a_fresh_process(tmp_path: Path) -> None:
    """A new process honours the switch from its start: off, each variant, a bad name."""
    cache = str(tmp_path / "cache")
    assert _run(_PROBE, HWSR_SIM_INT8="0", HWSR_KERNEL_CACHE=cache) == "['float32 -']"
    for isa in int8.VARIANTS:
        if int8.passes_self_test(isa):
            got = _run(_PROBE, HWSR_SIM_INT8=isa.name, HWSR_KERNEL_CACHE=cache)
            assert got == f"['int8 {isa.name}']"
    assert _run(_PROBE, HWSR_SIM_INT8="nope", HWSR_KERNEL_CACHE=cache) == "['float32 -']"


_COUNTS = ("import json; from hwsr.sim import int8, _objcache; isa = int8.active(); "
           "int8.kernel_table(20, isa) if isa else None; print(json.dumps(_objcache.COUNTS))")


def test_kernel_object_cache_across_processes(tmp_path: Path) -> None:
    """The first process compiles and writes the host objects; the second loads them all
    and compiles nothing; with the cache off nothing is written."""
    if not int8.available():
        pytest.skip(int8.unavailable_reason())
    cache = tmp_path / "kernels"
    first = json.loads(_run(_COUNTS, HWSR_KERNEL_CACHE=str(cache)))
    files = sorted(p.name for p in cache.iterdir())
    assert first["compiled"] > 0 and first["loaded"] == 0 and len(files) == first["compiled"]
    assert all(f.endswith(".o") and not f.startswith(".") for f in files)  # no temporaries
    second = json.loads(_run(_COUNTS, HWSR_KERNEL_CACHE=str(cache)))
    assert second == {"compiled": 0, "loaded": first["compiled"]}
    assert json.loads(_run(_COUNTS, HWSR_KERNEL_CACHE="0"))["loaded"] == 0


def test_cache_key_names_the_target() -> None:
    """Another CPU, feature string or IR never looks up this host's object."""
    args = ("ir", "x86_64-unknown-linux-gnu", "znver3", "+avx2,-avx512f")
    key = _objcache._key(*args)
    assert len({key, _objcache._key("ir2", *args[1:]),
                _objcache._key(args[0], args[1], "sapphirerapids", args[3]),
                _objcache._key(*args[:3], "+avx2,+avx512f")}) == 4


@pytest.mark.parametrize("isa", VARIANTS)
def test_compiled_requantizer_passes_its_self_test_in_every_mode(isa: int8.Isa) -> None:
    """Every rounding mode and fit rule (ReLU on and off, uint8 and int16 codes, the 0..255
    byte kernel) gets the compiled int32-lane requantizer on this host, not the numba
    fallback."""
    for rounding in range(4):
        for fit in range(3):
            for relu in (False, True):
                for dtype in (np.dtype(np.uint8), np.dtype(np.int16)):
                    assert int8.requant_address(isa, rounding, fit, relu, dtype) != 0
                assert int8.requant_address(isa, rounding, fit, relu, np.dtype(np.uint8),
                                            0, 255) != 0  # the byte kernel after a ReLU
