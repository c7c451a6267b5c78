"""Engine report: every figure of the default engine checked against a hand calculation."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from pathlib import Path

import pytest

from hwsr.report import (
    EngineReport,
    StageReport,
    check_budget,
    engine_report,
    float_only_notice,
    stage_report,
)
from hwsr.spec import EngineSpec, LayerSpec, load_spec

DEFAULT_SPEC = Path(__file__).resolve().parents[1] / "models" / "hwsr-s" / "engine.toml"
FRAME = 1280 * 720  # = 921,600 LR pixels


@pytest.fixture(scope="module")
def spec() -> EngineSpec:
    return load_spec(DEFAULT_SPEC)


@pytest.fixture(scope="module")
def dual(spec: EngineSpec) -> EngineReport:
    return engine_report(spec)  # 1280x720 LR, 60 fps, 600 MHz, 1 px/clock


def _layer_rows(stage: StageReport) -> list[tuple[int, ...]]:
    return [(ly.kernel, ly.c_in, ly.c_out, ly.in_bits, ly.params, ly.macs_per_pixel,
             ly.macs_per_frame, ly.linebuffer_rows, ly.linebuffer_bits, ly.latency_rows)
            for ly in stage.layers]


# Per layer, by hand, width 1280, frame 921,600 px. First layer reads 8-bit pixels, the
# others 8-bit activations (act_bits = 8).
#   k  c_in c_out bits params                MACs/px         MACs/frame (×921,600)  LB rows  LB bits ((k-1)·1280·c_in·8)      lat
#   3  3    20    8    9·3·20+20   = 560     9·3·20   = 540  497,664,000            2        2·1280·3·8   =  61,440           1
#   1  20   20    8    1·20·20+20  = 420     400             368,640,000            0        0                                0
#   3  20   20    8    9·20·20+20  = 3,620   3,600           3,317,760,000          2        2·1280·20·8  = 409,600           1
#   1  20   20    8    420                   400             368,640,000            0        0                                0
# last layer, Net2 (c_out = 3·3² = 27) and Net1 (c_out = 3):
#   3  20   27    8    9·20·27+27  = 4,887   4,860           4,478,976,000          2        409,600                          1
#   3  20   3     8    9·20·3+3    = 543     540             497,664,000            2        409,600                          1
_COMMON = [
    (3, 3, 20, 8, 560, 540, 497_664_000, 2, 61_440, 1),
    (1, 20, 20, 8, 420, 400, 368_640_000, 0, 0, 0),
    (3, 20, 20, 8, 3_620, 3_600, 3_317_760_000, 2, 409_600, 1),
    (1, 20, 20, 8, 420, 400, 368_640_000, 0, 0, 0),
]
NET2_LAYERS = [*_COMMON, (3, 20, 27, 8, 4_887, 4_860, 4_478_976_000, 2, 409_600, 1)]
NET1_LAYERS = [*_COMMON, (3, 20, 3, 8, 543, 540, 497_664_000, 2, 409_600, 1)]


def test_default_spec_per_layer_by_hand(dual: EngineReport) -> None:
    net1, net2 = dual.stages
    assert (net1.stage, net2.stage) == ("net1", "net2")
    assert _layer_rows(net1) == NET1_LAYERS
    assert _layer_rows(net2) == NET2_LAYERS


def test_default_spec_stage_totals_by_hand(dual: EngineReport) -> None:
    net1, net2 = dual.stages
    for s in (net1, net2):
        # residual delay line: latency 1+0+1+0+1 = 3 rows · 1280 · 3 ch · 8 bit = 92,160 bits
        assert (s.residual_rows, s.residual_bits) == (3, 92_160)
        # 61,440 + 409,600 + 409,600 + 92,160 = 972,800 bits = 121,600 B = 118.75 KiB
        assert (s.linebuffer_bits, s.linebuffer_kib) == (972_800, 118.75)
        # 3 LR rows · 1280 cycles per row (1 px/clock)
        assert (s.latency_rows, s.latency_cycles) == (3, 3_840)
    # Net1: params 560+420+3620+420+543 = 5,563; MACs 540+400+3600+400+540 = 5,480 /px
    #   5,480 · 921,600 = 5,050,368,000 /frame; ·60 = 303.02208 GMAC/s; /600e6 = 505.0368
    assert (net1.params, net1.macs_per_pixel, net1.macs_per_frame) == (5_563, 5_480, 5_050_368_000)
    assert net1.latency_out_rows == 3  # r = 1
    assert net1.mac_rate_gmacs == pytest.approx(303.02208, rel=1e-12)
    assert net1.macs_per_clock == pytest.approx(505.0368, rel=1e-12)
    assert net1.mac_units == 506
    # Net2: params 560+420+3620+420+4887 = 9,907; MACs 540+400+3600+400+4860 = 9,800 /px
    #   9,800 · 921,600 = 9,031,680,000 /frame; ·60 = 541.9008 GMAC/s; /600e6 = 903.168
    assert (net2.params, net2.macs_per_pixel, net2.macs_per_frame) == (9_907, 9_800, 9_031_680_000)
    assert net2.latency_out_rows == 9  # 3 LR rows · r = 3
    assert net2.mac_rate_gmacs == pytest.approx(541.9008, rel=1e-12)
    assert net2.macs_per_clock == pytest.approx(903.168, rel=1e-12)
    assert net2.mac_units == 904


def test_default_spec_dual_totals_by_hand(dual: EngineReport) -> None:
    # the figures models/hwsr-s/engine.toml promises: 5,480 + 9,800 = 15,280 MACs per LR pixel,
    # 972,800 · 2 = 1,945,600 bits = 237.5 KiB of line buffers
    assert dual.macs_per_pixel == 15_280
    assert (dual.linebuffer_bits, dual.linebuffer_kib) == (1_945_600, 237.5)
    assert dual.params == 5_563 + 9_907 == 15_470
    assert dual.macs_per_frame == 15_280 * FRAME == 14_082_048_000
    # 3 + 3 = 6 LR rows = 18 UHD output rows (×3) = 6 · 1280 = 7,680 cycles
    assert (dual.latency_rows, dual.latency_out_rows, dual.latency_cycles) == (6, 18, 7_680)
    # 14,082,048,000 · 60 = 844.92288 GMAC/s; /600e6 = 1,408.2048 MACs/clock;
    # each stage has its own MAC array: 506 + 904 = 1,410 units
    assert dual.mac_rate_gmacs == pytest.approx(844.92288, rel=1e-12)
    assert dual.macs_per_clock == pytest.approx(1408.2048, rel=1e-12)
    assert dual.mac_units == 1_410
    assert dual.upscale == 3


def test_default_spec_fits_the_budget(dual: EngineReport) -> None:
    assert check_budget(dual) == []
    assert check_budget(dual, max_macs_per_pixel=22_000, max_linebuffer_kib=256) == []


def test_budget_violations_are_reported(dual: EngineReport) -> None:
    v = check_budget(dual, max_macs_per_pixel=15_279, max_linebuffer_kib=237)
    assert len(v) == 2
    assert "15280" in v[0] and "15279" in v[0]
    assert "237.5 KiB" in v[1]
    assert check_budget(dual, max_macs_per_pixel=15_280, max_linebuffer_kib=237.5) == []
    assert check_budget(dual.stages[1], max_macs_per_pixel=9_799) != []


def test_json_round_trip(dual: EngineReport) -> None:
    d = dual.to_json_dict()
    text = json.dumps(d)
    assert json.loads(text) == d
    assert EngineReport.from_json_dict(json.loads(text)) == dual
    s = dual.stages[0]
    assert StageReport.from_json_dict(json.loads(json.dumps(s.to_json_dict()))) == s
    assert d["stages"][1]["layers"][4]["macs_per_pixel"] == 4_860


def test_table_lists_every_layer(dual: EngineReport) -> None:
    table = dual.format_table()
    lines = table.splitlines()
    for stage, rows in zip(dual.stages, (NET1_LAYERS, NET2_LAYERS), strict=True):
        assert f"{stage.stage} (hwsr-s, x{stage.upscale})" in table
        for i, row in enumerate(rows):
            k, c_in, c_out, *_ = row
            want = [str(i), str(k), str(c_in), str(c_out), "8", f"{row[4]:,}", f"{row[5]:,}",
                    f"{row[6]:,}", str(row[7]), f"{row[8]:,}", str(row[9])]
            assert any(line.split() == want for line in lines), want
    assert "237.5 KiB" in table and "1,410 MAC units" in table and "7,680 cycles" in table
    assert all(line == line.rstrip() for line in lines)
    assert "118.75 KiB" in dual.stages[0].format_table()


@pytest.mark.parametrize("stage", ["net1", "net2", "dual"])
def test_width_scaling(spec: EngineSpec, stage: str) -> None:
    a = engine_report(spec, stage=stage, width=640, height=360)
    b = engine_report(spec, stage=stage, width=1280, height=360)
    assert b.linebuffer_bits == 2 * a.linebuffer_bits  # line buffers linear in width
    assert b.macs_per_pixel == a.macs_per_pixel  # MACs per pixel independent of it
    assert b.macs_per_frame == 2 * a.macs_per_frame
    assert b.latency_rows == a.latency_rows and b.latency_cycles == 2 * a.latency_cycles
    c = engine_report(spec, stage=stage, width=1280, height=720)
    assert c.linebuffer_bits == b.linebuffer_bits  # height holds no line buffer


def test_net1_net2_dual_consistency(spec: EngineSpec, dual: EngineReport) -> None:
    net1 = engine_report(spec, stage="net1")
    net2 = engine_report(spec, stage="net2")
    assert net1.stages == dual.stages[:1] and net2.stages == dual.stages[1:]
    for f in ("params", "macs_per_pixel", "macs_per_frame", "linebuffer_bits",
              "latency_rows", "latency_cycles", "mac_units"):
        assert getattr(dual, f) == getattr(net1, f) + getattr(net2, f), f
    assert dual.linebuffer_kib == net1.linebuffer_kib + net2.linebuffer_kib
    assert net1.upscale == 1 and net2.upscale == 3
    direct = stage_report(spec, 1280, 720, 60.0, 600.0, 1)
    assert direct == net2.stages[0]
    assert stage_report(spec.net1(), 1280, 720, 60.0, 600.0, 1) == net1.stages[0]


def test_pixels_per_clock_and_exact_mac_units() -> None:
    tiny = EngineSpec("tiny", (LayerSpec(3, 3, 3),), upscale=1)
    # 3 px/clock at 100 px: ceil(100/3) = 34 cycles per row, 1 row of latency
    assert stage_report(tiny, 100, 10, 1.0, 1.0, 3).latency_cycles == 34
    # 81 MACs/px · 1000 px · 1000 fps / 1 MHz = exactly 81 MACs per clock: 81 units, not 82
    r = stage_report(tiny, 100, 10, 1000.0, 1.0, 1)
    assert (r.macs_per_clock, r.mac_units) == (81.0, 81)
    # no residual: no delay line; 2·100·3·8 = 4,800 bits of layer line buffer only
    nores = dataclasses.replace(tiny, residual=False)
    assert stage_report(nores, 100, 10, 1.0, 1.0, 1).linebuffer_bits == 4_800
    assert "residual" not in stage_report(nores, 100, 10, 1.0, 1.0, 1).format_table()


@pytest.mark.parametrize(
    "kwargs",
    [{"width": 0}, {"height": 0}, {"fps": 0.0}, {"clock_mhz": -1.0}, {"pixels_per_clock": 0},
     {"stage": "net3"}],
)
def test_bad_arguments(spec: EngineSpec, kwargs: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        engine_report(spec, **kwargs)  # type: ignore[arg-type]


def test_float_only_notice() -> None:
    assert float_only_notice("engine") is None
    rcan = float_only_notice("rcan")
    assert rcan is not None and "global average pool" in rcan and "frame memory" in rcan
    srcnn = float_only_notice("srcnn")
    assert srcnn is not None and "float" in srcnn and "3840" in srcnn
    with pytest.raises(ValueError, match="known: engine, srcnn, rcan"):
        float_only_notice("espcn")


def test_report_does_not_import_torch() -> None:
    code = (
        "import sys; from hwsr.report import engine_report, float_only_notice; "
        "from hwsr.spec import load_spec; "
        f"engine_report(load_spec({str(DEFAULT_SPEC)!r})); float_only_notice('rcan'); "
        "assert 'torch' not in sys.modules, 'torch imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


def test_grouped_and_dilated_layers_are_costed_and_labelled() -> None:
    """A depthwise layer costs k·k·c MACs and a dense layer's line buffer; a dilated one
    keeps span − 1 rows; the table labels them (dw3, 3d2) and the JSON keeps both fields."""
    from hwsr.spec import Activation, EngineSpec, LayerSpec

    spec = EngineSpec("g", (LayerSpec(3, 3, 8, dilation=2), LayerSpec(3, 8, 8, groups=8),
                            LayerSpec(3, 8, 27, Activation.NONE)), upscale=3)
    rep = engine_report(spec, stage="net2", width=100, height=10)
    dil, dw, _ = rep.stages[0].layers
    assert (dil.linebuffer_rows, dil.latency_rows, dil.macs_per_pixel) == (4, 2, 9 * 3 * 8)
    assert (dw.linebuffer_rows, dw.macs_per_pixel, dw.params) == (2, 9 * 8, 9 * 8 + 8)
    assert dw.linebuffer_bits == 2 * 100 * 8 * 8
    assert (dil.groups, dil.dilation, dw.groups, dw.dilation) == (1, 2, 8, 1)
    text = rep.format_table()
    assert " 3d2 " in text and " dw3 " in text
    assert type(rep).from_json_dict(rep.to_json_dict()) == rep


def test_report_with_the_folding_plan_instead_of_mac_units() -> None:
    """hwsr report --macs N: the plan of the folded array replaces the "MAC units" line."""
    from hwsr.report import folding_lines
    from hwsr.zoo import load_engine

    spec = load_engine("hwsr-s").spec
    table = engine_report(spec).format_table(folding_lines(spec))
    assert "MAC units" not in table and "(the folded array: below)" in table
    assert "total 1,955 multipliers, 8 cycles per LR pixel" in table and "real-time" in table
    assert "separate (two arrays)        1,982          8" in table
    short = "\n".join(folding_lines(spec, macs=1024))
    assert "NOT real-time: 16 cycles" in short and "needs 1,528 MACs" in short
    net2 = "\n".join(folding_lines(spec, stage="net2", macs=1024, clock_mhz=450))
    assert "one stage" in net2 and "net2_l4" in net2 and "450 MHz" in net2
    from hwsr.folding import plan_json
    from hwsr.report import folding_plan

    doc = plan_json(folding_plan(spec, macs=1024, separate=True))  # --json's "folding"
    assert (doc["multipliers"], doc["cycles_per_pixel"], doc["shared"]) == (1024, 15, False)
    with pytest.raises(ValueError, match="--macs must be >= 1"):
        folding_lines(spec, macs=0)
    with pytest.raises(ValueError, match="fps and clock_mhz must be > 0"):
        folding_lines(spec, clock_mhz=0)
