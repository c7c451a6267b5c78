"""The streaming engine's structure: line buffers, latency, O(width) state, row streaming."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hwsr.report import engine_report
from hwsr.sim import EngineSim, SimReport, int8, simulate, test_pattern
from hwsr.sim.layer import plan_f32_chunks, storage_dtype
from hwsr.spec import STAGES, Activation, Datapath, EngineSpec, LayerSpec, load_spec, stage_names
from tests.strategies import EXACT_CASES, engine_specs, frames, random_program

DEFAULT_SPEC = Path(__file__).resolve().parents[1] / "models" / "hwsr-s" / "engine.toml"


@pytest.fixture(scope="module")
def hwsr_s_program():  # type: ignore[no-untyped-def]
    return random_program(load_spec(DEFAULT_SPEC), np.random.default_rng(0))


def total_halo(program, stage: str) -> int:  # type: ignore[no-untyped-def]
    """Rows of context an output row needs on each side: every stage's latency added."""
    return sum(program.stage(n).spec.latency_rows for n in stage_names(stage))


@given(spec=engine_specs(max_layers=4, max_channels=8), frame=frames(max_h=16, max_w=6),
       seed=st.integers(0, 2**32 - 1), stage=st.sampled_from(STAGES), cut=st.floats(0, 1))
@settings(max_examples=60)
def test_two_halves_with_halo_equal_whole(spec: EngineSpec, frame: np.ndarray, seed: int,
                                          stage: str, cut: float) -> None:
    """A frame simulated as two overlapping stripes (halo rows each side) equals it whole."""
    program = random_program(spec, np.random.default_rng(seed))
    whole = simulate(program, frame, stage).frame
    h = frame.shape[0]
    c = int(round(cut * h))
    halo = total_halo(program, stage)
    r = whole.shape[0] // h
    top = simulate(program, frame[: min(h, c + halo)], stage).frame[: c * r] if c else None
    lo = max(0, c - halo)
    bottom = simulate(program, frame[lo:], stage).frame[(c - lo) * r :] if c < h else None
    parts = [p for p in (top, bottom) if p is not None]
    assert np.array_equal(np.concatenate(parts), whole)
    EXACT_CASES["simulator: two halves with halo == whole frame"] += 1


@given(spec=engine_specs(max_layers=4, max_channels=8), frame=frames(max_h=14, max_w=5),
       seed=st.integers(0, 2**32 - 1), sizes=st.lists(st.integers(1, 5), min_size=1))
@settings(max_examples=40)
def test_row_chunking_does_not_matter(spec: EngineSpec, frame: np.ndarray, seed: int,
                                      sizes: list[int]) -> None:
    """Rows pushed in any grouping, on an engine reused for a second frame, give one result."""
    program = random_program(spec, np.random.default_rng(seed))
    want = simulate(program, frame, "dual").frame
    sim = EngineSim(program, "dual", width=frame.shape[1])
    sim.run_frame(np.flipud(frame).copy())  # a previous frame must leave nothing behind
    rows: list[np.ndarray] = []
    blocks, y, i = [], 0, 0
    while y < frame.shape[0]:
        blocks.append(frame[y : y + sizes[i % len(sizes)]])
        y += sizes[i % len(sizes)]
        i += 1
    sim.run_rows(blocks, lambda out: rows.append(out.copy()))
    assert np.array_equal(np.concatenate(rows), want)
    EXACT_CASES["simulator: any row grouping, reused engine == fresh"] += 1


@pytest.mark.parametrize("stage", STAGES)
@pytest.mark.parametrize(("width", "height", "ppc"), [(32, 9, 1), (17, 4, 3), (5, 1, 2)])
def test_linebuffer_bits_equal_engine_report(hwsr_s_program, stage: str, width: int,  # type: ignore[no-untyped-def]
                                             height: int, ppc: int) -> None:
    assert_report_is_the_budget(hwsr_s_program, stage, width, height, ppc)


GROUPED_SPEC = EngineSpec(
    name="grouped", upscale=3, datapath=Datapath(acc_bits=24),
    layers=(LayerSpec(3, 3, 6, dilation=2), LayerSpec(3, 6, 6, groups=6),
            LayerSpec(1, 6, 6, groups=3), LayerSpec(3, 6, 27, Activation.NONE, dilation=2)))


@pytest.mark.parametrize("stage", STAGES)
def test_grouped_dilated_simulation_reports_the_engine_costs(stage: str) -> None:
    """The simulator multiplies the zero taps of a grouped or dilated layer's dense
    equivalent, but reports the engine's MACs, line-buffer rows and latency (the budget's)."""
    program = random_program(GROUPED_SPEC, np.random.default_rng(2))
    assert_report_is_the_budget(program, stage, 13, 11, 1)


def assert_report_is_the_budget(program, stage: str, width: int, height: int,  # type: ignore[no-untyped-def]
                                ppc: int) -> None:
    frame = np.random.default_rng(1).integers(0, 256, (height, width, 3), dtype=np.uint8)
    got = simulate(program, frame, stage, pixels_per_clock=ppc, fps=30.0,
                   clock_mhz=500.0).report
    want = engine_report(program.net2.spec, stage=stage, width=width, height=height,
                         fps=30.0, clock_mhz=500.0, pixels_per_clock=ppc)
    assert len(got.stages) == len(want.stages)
    for gs, ws in zip(got.stages, want.stages, strict=True):
        assert [ly.linebuffer_bits for ly in gs.layers] == [ly.linebuffer_bits for ly in ws.layers]
        assert [ly.linebuffer_rows for ly in gs.layers] == [ly.linebuffer_rows for ly in ws.layers]
        assert [ly.latency_rows for ly in gs.layers] == [ly.latency_rows for ly in ws.layers]
        assert [ly.macs_per_frame for ly in gs.layers] == [ly.macs_per_frame for ly in ws.layers]
        assert (gs.residual_rows, gs.residual_bits) == (ws.residual_rows, ws.residual_bits)
        assert (gs.linebuffer_bits, gs.macs_per_pixel) == (ws.linebuffer_bits, ws.macs_per_pixel)
        assert (gs.latency_cycles, gs.mac_rate_gmacs) == (ws.latency_cycles, ws.mac_rate_gmacs)
    if height > total_halo(program, stage):  # latency is measured while streaming
        assert got.latency_rows == want.latency_rows
    for name in ("linebuffer_bits", "linebuffer_kib", "macs_per_frame", "latency_out_rows",
                 "latency_cycles", "mac_rate_gmacs"):
        assert getattr(got, name) == pytest.approx(getattr(want, name), rel=1e-12), name


def test_both_reports_are_one_report_model(hwsr_s_program) -> None:  # type: ignore[no-untyped-def]
    """The budget and the simulator's report are trees of one model with one JSON form."""
    from hwsr.report_model import ReportNode

    sim = simulate(hwsr_s_program, test_pattern(16, 6), "dual").report
    static = engine_report(hwsr_s_program.net2.spec, width=16, height=6)
    for report in (sim, static):
        assert isinstance(report, ReportNode) and isinstance(report.stages[0].layers[0], ReportNode)
        d = report.to_json_dict()
        assert list(d)[-1] == "stages" and isinstance(d["stages"][0]["layers"], list)
        assert type(report).from_json_dict(json.loads(json.dumps(d))) == report


def test_format_refused_before_any_work(hwsr_s_program, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    with monkeypatch.context() as m:
        m.setattr(EngineSim, "run_frame", lambda *a, **k: pytest.fail("simulated first"))
        with pytest.raises(ValueError, match="pixels_per_clock must be >= 1"):
            simulate(hwsr_s_program, test_pattern(16, 6), pixels_per_clock=0)
    with pytest.raises(ValueError, match="fps and clock_mhz must be > 0"):
        EngineSim(hwsr_s_program, width=16).report(height=6, fps=0.0)


def test_default_engine_linebuffers_at_720p(hwsr_s_program) -> None:  # type: ignore[no-untyped-def]
    """The engine.toml's own figure: 237.5 KiB of line buffers for both stages at 1280 px."""
    sim = EngineSim(hwsr_s_program, "dual", width=1280)
    bits = sum(u.linebuffer_bits for s in sim.stages for u in s.units)
    bits += sum(s.residual_bits for s in sim.stages)
    assert bits / 8 / 1024 == 237.5
    assert bits == engine_report(hwsr_s_program.net2.spec, width=1280).linebuffer_bits


def test_state_is_independent_of_height(hwsr_s_program) -> None:  # type: ignore[no-untyped-def]
    """Allocated once per width: the same buffers, untouched in size, for any frame height."""
    sim = EngineSim(hwsr_s_program, "dual", width=24)
    before = sim.buffer_bytes
    ids = [id(a) for s in sim.stages for a in (*s.buffers, s.delay, *(u.ring for u in s.units))]
    for height in (1, 7, 200):
        sim.run_frame(np.zeros((height, 24, 3), np.uint8))
        assert sim.buffer_bytes == before
    assert ids == [id(a) for s in sim.stages
                   for a in (*s.buffers, s.delay, *(u.ring for u in s.units))]
    assert EngineSim(hwsr_s_program, "dual", width=48).buffer_bytes > before


def test_report_json_round_trip_and_table(hwsr_s_program) -> None:  # type: ignore[no-untyped-def]
    res = simulate(hwsr_s_program, test_pattern(40, 12), "dual")
    d = json.loads(json.dumps(res.report.to_json_dict()))
    assert SimReport.from_json_dict(d) == res.report
    table = res.report.format_table()
    assert "net1" in table and "net2" in table and "residual" in table
    assert res.frame.shape == (36, 120, 3)
    assert res.report.out_width == 120 and res.report.out_height == 36
    want = "int8" if int8.available() else "float32"
    assert res.report.stages[0].layers[0].mac_path == want


def test_bad_inputs_are_refused(hwsr_s_program) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValueError, match="uint8"):
        simulate(hwsr_s_program, np.zeros((4, 4, 3), np.float32))
    with pytest.raises(ValueError, match="at least 1x1"):
        simulate(hwsr_s_program, np.zeros((0, 4, 3), np.uint8))
    with pytest.raises(ValueError, match="stage"):
        simulate(hwsr_s_program, np.zeros((4, 4, 3), np.uint8), "net3")
    with pytest.raises(ValueError, match="line width"):
        EngineSim(hwsr_s_program, width=4).run_frame(np.zeros((4, 5, 3), np.uint8))
    with pytest.raises(ValueError, match="float32 MACs"):
        EngineSim(hwsr_s_program, width=4, mac_path="float32", f32_limit=2)


def test_f32_plan_and_storage() -> None:
    w = np.array([[100, -3], [100, 0], [100, 5]], np.int64)
    assert plan_f32_chunks(w, 2**16) == ((0, 2), (2, 3))
    assert plan_f32_chunks(w, 255) == ((0, 3),)
    assert plan_f32_chunks(w, 2**18) is None  # a single product reaches 2**24
    from hwsr.fixed import FixedType

    assert storage_dtype(FixedType(32, 0, False)) == np.int64
    assert storage_dtype(FixedType(16, 0, False)) == np.int32


def test_test_pattern() -> None:
    a, b = test_pattern(), test_pattern()
    assert a.shape == (720, 1280, 3) and a.dtype == np.uint8
    assert np.array_equal(a, b)
    assert a[0].std() > 20  # zone plate rings on top
    assert len(np.unique(a[-150].reshape(-1, 3), axis=0)) == 7  # seven bars below
    for w, h in ((1, 1), (2, 1), (3, 5)):
        assert test_pattern(w, h).shape == (h, w, 3)
    with pytest.raises(ValueError):
        test_pattern(0, 3)


def test_single_layer_latency_rows() -> None:
    spec = EngineSpec("k5", (LayerSpec(5, 3, 3), LayerSpec(1, 3, 3)), upscale=1)
    program = random_program(spec, np.random.default_rng(0))
    rep = simulate(program, np.zeros((9, 4, 3), np.uint8), "net2").report
    assert rep.latency_rows == 2 and rep.latency_cycles == 8
