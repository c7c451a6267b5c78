"""``hwsr sweep`` and the int8 rows of ``hwsr eval``: codec/CRF table, cache, exact executors."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest

from hwsr.cli import main
from hwsr.data.manifest import Manifest
from hwsr.train import evaluate as ev
from hwsr.train.trainer import train
from tests.test_train_trainer import tiny_config, tiny_spec_file
from tests.toy_data import make_toy_dataset


def _coded(root: Path, codec: str, crf: float, seed: int) -> Path:
    """A toy dataset whose manifest says it was coded by ``codec`` at ``crf``."""
    folder = make_toy_dataset(root, patches=12, patch_lr_px=12, seed=seed)
    m = Manifest.load(folder)
    dataclasses.replace(m, config={**m.config, "codec": codec, "crf": crf}).save(folder)
    return folder


@pytest.fixture(scope="module")
def swept(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("sweep")
    toy = {"data": _coded(root / "x265-20", "libx265", 20.0, 1), "spec": tiny_spec_file(root)}
    run = root / "run"
    train(tiny_config(toy, run, optim={"steps": 6}, qat={"steps": 2}), progress=False)
    return {"run": run, "x265": toy["data"], "x264": _coded(root / "x264-30", "libx264", 30.0, 2)}


def test_int8_rows_are_the_same_pixels_from_the_simulator_and_the_reference(swept):
    bundle = ev.load_model(str(swept["run"])).bundle
    for f in ev.load_frames(swept["x264"]):
        for stage, src in (("dual", f.lr), ("net2", f.dhr)):
            sim = ev._program_fn(bundle, stage, "sim")(src)
            ref = ev._program_fn(bundle, stage, "reference")(src)
            assert sim.dtype == ref.dtype == np.uint8 and np.array_equal(sim, ref), stage
    with pytest.raises(ValueError, match="executor"):
        ev.evaluate([str(swept["run"])], swept["x264"], executor="gpu")


def test_sweep_tabulates_by_codec_and_crf_and_resumes_from_its_cache(swept, tmp_path, capsys,
                                                                    monkeypatch):
    args = ["sweep", "--model", str(swept["run"]), "--label", "tiny", "--data",
            str(swept["x265"]), str(swept["x264"]), "--work", str(tmp_path / "w"),
            "--out", str(tmp_path / "s.md"), "--json", str(tmp_path / "s.json")]
    assert main(args) == 0
    table = (tmp_path / "s.md").read_text(encoding="utf-8")
    body = [ln for ln in table.splitlines() if ln.startswith("| x26")]
    assert [ln.split("|")[1:3] for ln in body] == [[" x264 ", " 30 "], [" x265 ", " 20 "]]
    assert "tiny int8" in table and all(c.strip() != "-" for c in body[0].split("|")[5:7])
    points = json.loads((tmp_path / "s.json").read_text(encoding="utf-8"))
    assert [p["crf"] for p in points] == [30.0, 20.0]
    assert sorted(p.name for p in (tmp_path / "w").iterdir()) == ["x264-30.json", "x265-20.json"]
    # a rerun scores nothing: every point comes from the cache
    monkeypatch.setattr("hwsr.train.sweep._model_rows", lambda *a, **k: pytest.fail("rescored"))
    monkeypatch.setattr("hwsr.train.sweep.score", lambda *a, **k: pytest.fail("rescored"))
    (tmp_path / "s.md").unlink()
    assert main(args) == 0
    assert (tmp_path / "s.md").read_text(encoding="utf-8") == table


def test_sweep_refuses_labels_that_do_not_match_the_models(swept, capsys):
    assert main(["sweep", "--model", str(swept["run"]), "--label", "a", "b",
                 "--data", str(swept["x264"])]) == 1
    err = capsys.readouterr().err.strip()
    assert "--label" in err and "\n" not in err


def test_sweep_scores_only_models_it_has_not_scored_with_these_weights(swept, tmp_path,
                                                                       monkeypatch):
    import shutil

    from hwsr.train import sweep

    other = tmp_path / "other"
    shutil.copytree(swept["run"], other)
    scored: list[str] = []
    real = sweep._model_rows
    monkeypatch.setattr(sweep, "_model_rows",
                        lambda m, *a, **k: scored.append(m.name) or real(m, *a, **k))
    work = tmp_path / "w"
    sweep.run_sweep([str(swept["run"])], [swept["x264"]], work=work)
    first = sweep.run_sweep([str(swept["run"]), str(other)], [swept["x264"]], work=work)
    assert scored == [str(swept["run"]), str(other)]
    # the same weights under two names score the same; new weights are scored again
    rows = {r.model: r.psnr_db for r in first[0].rows if r.weights == "int8"}
    assert rows[str(swept["run"])] == rows[str(other)]
    with open(other / "program.npz", "ab") as fh:
        fh.write(b"\0")  # any change of the files makes the cached score stale
    sweep.run_sweep([str(swept["run"]), str(other)], [swept["x264"]], work=work)
    assert scored == [str(swept["run"]), str(other), str(other)]
