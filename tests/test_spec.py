"""EngineSpec: loading, Net1 derivation, and refusal of bad spec files."""

from __future__ import annotations

from pathlib import Path

import pytest

from hwsr.fixed import Rounding
from hwsr.spec import Activation, SpecError, load_spec, spec_from_dict, spec_to_dict

ROOT = Path(__file__).resolve().parents[1]
DEFAULT = ROOT / "models" / "hwsr-s" / "engine.toml"

GOOD = """
[engine]
name = "t"
upscale = 3

[datapath]
rounding = "half_even"

[[layers]]
kernel = 3
c_out = 8

[[layers]]
kernel = 3
c_out = 27
activation = "none"
"""


def write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "engine.toml"
    p.write_text(text)
    return p


def test_default_spec_loads() -> None:
    spec = load_spec(DEFAULT)
    assert spec.upscale == 3 and spec.layers[-1].c_out == 27
    assert spec.layers[0].c_in == 3 and spec.layers[-1].activation is Activation.NONE
    assert spec.datapath.rounding is Rounding.HALF_UP


def test_net1_is_derived_not_written(tmp_path: Path) -> None:
    spec = load_spec(write(tmp_path, GOOD))
    n1 = spec.net1()
    assert n1.upscale == 1 and n1.layers[-1].c_out == 3
    assert n1.layers[:-1] == spec.layers[:-1] and n1.datapath == spec.datapath
    assert spec.datapath.rounding is Rounding.HALF_EVEN


def test_round_trip_dict(tmp_path: Path) -> None:
    spec = load_spec(write(tmp_path, GOOD))
    assert spec_from_dict(spec_to_dict(spec)) == spec


@pytest.mark.parametrize(
    ("old", "new", "key", "rule"),
    [
        ("c_out = 8", "c_out = 8\nstride = 2", "layers[0].stride", "unknown key"),
        ("kernel = 3\nc_out = 8", "kernel = 4\nc_out = 8", "layers[0].kernel", "odd"),
        ("c_out = 8", "c_out = 0", "layers[0].c_out", ">= 1"),
        ("upscale = 3", "upscale = 5", "engine.upscale", "1..4"),
        ("upscale = 3", "upscale = 0", "engine.upscale", "1..4"),
        ('rounding = "half_even"', "act_bits = 1", "datapath.act_bits", "2..32"),
        ('rounding = "half_even"', "acc_bits = 33", "datapath.acc_bits", "2..32"),
        ("c_out = 27", "c_out = 12", "layers[1].c_out", "3*r^2"),
        ('rounding = "half_even"', 'rounding = "banker"', "datapath.rounding", "one of"),
        ('rounding = "half_even"', "colour = 1", "datapath.colour", "unknown key"),
        ('name = "t"', "name = 3", "engine.name", "non-empty string"),
        ("c_out = 8", "c_out = 8\nc_in = 4", "layers[0].c_in", "previous"),
        ("kernel = 3\nc_out = 8", 'kernel = "3"\nc_out = 8', "layers[0].kernel", "integer"),
        ("c_out = 8", "c_out = 8\ngroups = 2", "layers[0].groups", "divide c_in (3)"),
        ("c_out = 8", "c_out = 8\ngroups = 0", "layers[0].groups", ">= 1"),
        ("c_out = 8", "c_out = 8\ndilation = 0", "layers[0].dilation", ">= 1"),
        ("kernel = 3\nc_out = 8", "kernel = 1\nc_out = 8\ndilation = 2", "layers[0].dilation",
         "1 for a 1x1 kernel"),
        ('upscale = 3', 'upscale = 3\n[budget]\nmacs = 0', "budget.macs", "> 0"),
        ('upscale = 3', 'upscale = 3\n[budget]\nmacs = 2.5', "budget.macs", "integer"),
        ('upscale = 3', 'upscale = 3\n[budget]\nclock_mhz = "fast"', "budget.clock_mhz",
         "a number"),
        ('upscale = 3', 'upscale = 3\n[budget]\nfps = -60', "budget.fps", "> 0"),
        ('upscale = 3', 'upscale = 3\n[budget]\nlanes = 4', "budget.lanes", "unknown key"),
        ('[engine]', 'budget = 4\n[engine]', "budget", "must be a table"),
    ],
)
def test_bad_spec_refused_with_one_line(tmp_path: Path, old: str, new: str, key: str, rule: str) -> None:
    assert old in GOOD
    p = write(tmp_path, GOOD.replace(old, new, 1))
    with pytest.raises(SpecError) as e:
        load_spec(p)
    msg = str(e.value)
    assert "\n" not in msg
    assert str(p) in msg and key in msg and rule in msg


def test_depthwise_and_dilated_layers(tmp_path: Path) -> None:
    """groups and dilation: read, written only where not 1, and costed by hand."""
    text = GOOD.replace("c_out = 8", "c_out = 8\ndilation = 2", 1).replace(
        "[[layers]]\nkernel = 3\nc_out = 27",
        "[[layers]]\nkernel = 3\nc_out = 8\ngroups = 8\n\n[[layers]]\nkernel = 3\nc_out = 27")
    spec = load_spec(write(tmp_path, text))
    dil, dw, last = spec.layers
    assert (dil.dilation, dil.span, dil.halo_rows, dil.linebuffer_rows) == (2, 5, 2, 4)
    assert dil.macs_per_pixel == 9 * 3 * 8 and not dil.depthwise
    assert dw.depthwise and dw.group_c_in == 1 and dw.macs_per_pixel == 9 * 8
    assert dw.params == 9 * 8 + 8 and dw.linebuffer_rows == 2
    assert spec.latency_rows == 2 + 1 + 1
    d = spec_to_dict(spec)
    assert [set(ly) - {"kernel", "c_in", "c_out", "activation"} for ly in d["layers"]] == [
        {"dilation"}, {"groups"}, set()]
    assert spec_from_dict(d) == spec
    assert spec.net1().layers[1].groups == 8  # Net1 keeps every hidden layer as written
    d["layers"][1].update(c_out=9, groups=1)
    d["layers"][2].update(c_in=9, groups=9)  # 9 divides 9 and 27
    with pytest.raises(SpecError, match=r"layers\[2\].groups: the last layer must be dense"):
        spec_from_dict(d)


def test_unreadable_spec_files(tmp_path: Path) -> None:
    with pytest.raises(SpecError, match="not found"):
        load_spec(tmp_path / "missing.toml")
    with pytest.raises(SpecError, match="not valid TOML"):
        load_spec(write(tmp_path, "[engine\nname="))
    with pytest.raises(SpecError, match="engine: table is required"):
        load_spec(write(tmp_path, "[[layers]]\nkernel=1\nc_out=3\n"))


def test_default_model_budget() -> None:
    """Both stages together fit a TV block: <= 22,000 MACs per LR pixel."""
    spec = load_spec(DEFAULT)
    assert spec.macs_per_pixel + spec.net1().macs_per_pixel == 15_280
    assert spec.macs_per_pixel + spec.net1().macs_per_pixel <= 22_000


def test_budget_table(tmp_path: Path) -> None:
    """The optional [budget]: defaults are the paper's engine; a non-default one round-trips."""
    from hwsr.spec import Budget

    assert load_spec(DEFAULT).budget == Budget(2048, 600.0, 1280, 720, 60.0)
    assert "budget" not in spec_to_dict(load_spec(DEFAULT))  # default: no file changes
    text = GOOD.replace("upscale = 3", "upscale = 3\n[budget]\nmacs = 1024\nclock_mhz = 450.5")
    spec = load_spec(write(tmp_path, text))
    assert spec.budget == Budget(macs=1024, clock_mhz=450.5)
    assert spec_from_dict(spec_to_dict(spec)) == spec and spec.net1().budget == spec.budget
