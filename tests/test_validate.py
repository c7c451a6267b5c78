"""One validation path: the engine spec, training and dataset configs refuse in one shape."""

from __future__ import annotations

from pathlib import Path

import pytest

from hwsr.data.config import BuildConfig, DataError
from hwsr.spec import SpecError, load_spec, spec_from_dict
from hwsr.train.config import ConfigError, config_from_dict, load_config
from hwsr.validate import check_choice, check_keys, read_toml, require

SPEC = {"engine": {"name": "t", "upscale": 1}, "layers": [{"kernel": 3, "c_out": 3}]}


def test_choices_are_refused_alike_in_every_config() -> None:
    with pytest.raises(SpecError) as spec_err:
        spec_from_dict({**SPEC, "datapath": {"rounding": "up"}}, source="e.toml")
    assert str(spec_err.value) == ("e.toml: datapath.rounding: must be one of half_up, "
                                   "half_even, floor, toward_zero, got 'up'")
    with pytest.raises(ConfigError) as cfg_err:
        config_from_dict({"loss": {"pixel": "l3"}}, source="c.toml")
    assert str(cfg_err.value) == "c.toml: loss.pixel: must be one of l1, mse, got 'l3'"


def test_bounds_are_refused_alike_in_every_config() -> None:
    with pytest.raises(ConfigError, match=r"^x\.toml: optim\.lr: must be > 0$"):
        config_from_dict({"optim": {"lr": 0.0}}, source="x.toml")
    with pytest.raises(DataError, match=r"^patches_per_frame: must be an integer >= 1, got 0$"):
        BuildConfig(sources=(Path("x.png"),), out_dir=Path("out"), patches_per_frame=0)


def test_unknown_keys_name_the_allowed_ones() -> None:
    with pytest.raises(SpecError, match=r"engine\.size: unknown key \(allowed: description, "):
        spec_from_dict({**SPEC, "engine": {**SPEC["engine"], "size": 1}})
    with pytest.raises(ConfigError, match=r"^<dict>: trian: unknown table \(allowed: run, "):
        config_from_dict({"trian": {}})


def test_files_are_read_alike(tmp_path: Path) -> None:
    (tmp_path / "bad.toml").write_text("x = [", encoding="utf-8")
    for load, error, kind in ((load_spec, SpecError, "spec"), (load_config, ConfigError, "config")):
        with pytest.raises(error, match=f"nope.toml: {kind} file not found$"):
            load(tmp_path / "nope.toml")
        with pytest.raises(error, match="bad.toml: not valid TOML"):
            load(tmp_path / "bad.toml")
        with pytest.raises(error, match=f"cannot read {kind} file \\(IsADirectoryError\\)"):
            load(tmp_path)


def test_the_helpers_raise_the_callers_error(tmp_path: Path) -> None:
    class Mine(ValueError):
        pass

    require(True, "k", "never", Mine)
    for call in (lambda: require(False, "k", "rule", Mine),
                 lambda: check_keys({"a": 1, "z": 2}, ("a", "b"), "t.", Mine),
                 lambda: check_choice("c", ("a", "b"), "k", Mine),
                 lambda: read_toml(tmp_path / "none.toml", "thing", Mine)):
        with pytest.raises(Mine):
            call()


def test_doctests_of_the_rule_homes_hold() -> None:
    """The examples in the docstrings of validate, report_model, report and spec run."""
    import doctest

    from hwsr import report, report_model, spec, validate

    for module in (validate, report_model, report, spec):
        result = doctest.testmod(module)
        assert result.attempted > 0 and result.failed == 0, module.__name__
