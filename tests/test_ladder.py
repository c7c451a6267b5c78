"""``hwsr ladder``: the config's refusals, the climbs rule, and a tiny ladder end to end."""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import io
import json
import math
from pathlib import Path

import pytest

from hwsr.spec import spec_from_dict
from hwsr.train import artifacts, ladder
from hwsr.train.config import MODES, ConfigError
from hwsr.train.ladder import (
    LadderConfig,
    LadderError,
    Rung,
    ladder_config_from_dict,
    ladder_runs,
    load_ladder_config,
    run_ladder,
    train_config,
    write_report,
)
from hwsr.train.ladder_report import (
    ReportContext,
    Score,
    Stat,
    climbs,
    format_report,
    mean_std,
)
from tests.test_train_losses import TINY
from tests.toy_data import make_toy_dataset

REPO = Path(__file__).resolve().parents[1]


# -- the config -----------------------------------------------------------------------------
def test_shipped_ladder_config_plans_the_four_rungs_three_seeds_two_crfs():
    cfg = load_ladder_config(REPO / "configs" / "ladder" / "ladder.toml")
    assert [r.label for r in cfg.rungs] == list(MODES) and cfg.seeds == (0, 1, 2)
    assert [name for name, _ in cfg.datasets] == ["crf24", "crf30"]
    runs = ladder_runs(cfg)
    assert len(runs) == 4 * 3 * 2
    assert runs[0].out_dir == Path("runs/ladder/crf24/baseline/seed0")
    for run in runs:
        tc = train_config(dataclasses.replace(cfg), run)
        assert (tc.run.mode, tc.run.seed, tc.run.out_dir) == (run.rung.label, run.seed,
                                                               run.out_dir)
        assert tc.data.dir == dict(cfg.datasets)[run.train_set] and tc.qat.steps == 0


def test_train_on_rung_trains_once_and_scores_on_every_dataset():
    cfg = LadderConfig(rungs=(Rung("dual", Path("configs/ladder-dual.toml")),), seeds=(4, 5),
                       train_on="rung", set=("optim.steps=7",))
    runs = ladder_runs(cfg)
    assert [(r.out_dir, r.scored_on) for r in runs] == [
        (Path(f"runs/ladder/dual/seed{k}"), ("crf24", "crf30")) for k in (4, 5)]
    tc = train_config(cfg, runs[1])
    assert (tc.optim.steps, tc.run.seed, tc.data.dir) == (7, 5, Path("data/wallpapers-crf24"))
    rung = dataclasses.replace(cfg.rungs[0], set=("optim.steps=9", "loss.lambda_id=0.3"))
    with_set = dataclasses.replace(cfg, rungs=(rung,))
    tc = train_config(with_set, ladder_runs(with_set)[1])
    assert (tc.optim.steps, tc.loss.lambda_id) == (9, 0.3)  # a rung's own set comes last


@pytest.mark.parametrize(("tables", "fragment"), [
    ({"ladder": {"seedz": [0, 1]}}, "ladder.seedz: unknown key"),
    ({"ladder": {"seeds": [0]}}, "ladder.seeds: needs at least 2 seeds"),
    ({"ladder": {"seeds": [1, 1]}}, "ladder.seeds: lists a seed twice"),
    ({"ladder": {"seeds": [0, -1]}}, "ladder.seeds: every seed must be >= 0"),
    ({"ladder": {"seeds": "0 1 2"}}, "ladder.seeds: must be an array of integers"),
    ({"ladder": {"train_on": "all"}}, "ladder.train_on: must be one of each, rung"),
    ({"ladder": {"set": ["run.seed=4"]}}, "ladder.set: run.seed is set by the ladder"),
    ({"ladder": {"set": ["steps=4"]}}, "ladder.set: --set 'steps=4'"),
    ({"ladder": {"set": ["data.dir=x"]}}, "ladder.set: data.dir comes from [eval.dirs]"),
    ({"ladder": {"report": "seeds.txt"}}, "ladder.report: must be a .md file"),
    ({"rungs": []}, "rungs: must list at least one rung"),
    ({"rungs": [{"label": "a", "config": "x.toml"}, {"label": "a", "config": "y.toml"}]},
     "rungs.label: lists a label twice"),
    ({"rungs": [{"label": "Dual ID", "config": "x.toml"}]}, "rungs[0].label: lower-case"),
    ({"rungs": [{"label": "a"}]}, "rungs[0].config: is required"),
    ({"rungs": [{"label": "a", "config": "x.toml", "mode": "dual"}]},
     "rungs[0].mode: unknown key"),
    ({"rungs": [{"label": "a", "config": "x.toml", "set": ["run.seed=1"]}]},
     "rungs[0].set: run.seed is set by the ladder"),
    ({"rungs": [{"label": "a", "config": "x.toml", "set": "loss.lambda_id=1"}]},
     "rungs[0].set: must be an array of strings"),
    ({"eval": {"dirs": {}}}, "eval.dirs: must be a table of name = dataset folder"),
    ({"eval": {"dirs": {"CRF 24": "data/x"}}}, "eval.dirs.CRF 24: names are lower-case"),
    ({"eval": {"frames": -1}}, "eval.frames: must be >= 0"),
    ({"train": {}}, "train: unknown table"),
])
def test_bad_ladder_configs_are_refused_in_one_line_naming_the_key(tables, fragment):
    with pytest.raises(LadderError) as err:
        ladder_config_from_dict(tables, source="l.toml")
    message = str(err.value)
    assert message.startswith(f"l.toml: {fragment}") and "\n" not in message


# -- the rule -------------------------------------------------------------------------------
@pytest.mark.parametrize(("previous", "rung", "up"), [
    (mean_std([0.20, 0.21, 0.19]), mean_std([0.30, 0.31, 0.29]), True),  # clear climb
    (mean_std([0.25, 0.26, 0.24]), mean_std([0.25, 0.26, 0.24]), False),  # equal
    (mean_std([0.25, 0.25]), mean_std([0.25, 0.25]), False),  # equal, no spread at all
    (mean_std([0.20, 0.25, 0.30]), mean_std([0.25, 0.30, 0.35]), False),  # +0.05 in ±0.07
    (mean_std([0.30, 0.31, 0.29]), mean_std([0.20, 0.21, 0.19]), False),  # a step down
    # the combined std is sqrt(s1² + s2²) = 0.05, not s1 + s2 = 0.07 nor max = 0.04
    (Stat(0.0, 0.03, ()), Stat(0.06, 0.04, ()), True),
    (Stat(0.0, 0.03, ()), Stat(0.045, 0.04, ()), False),
    (Stat(0.0, math.nan, ()), Stat(1.0, 0.0, ()), False),  # no error bar, no verdict
])
def test_a_rung_climbs_only_by_more_than_the_combined_std(previous, rung, up):
    assert climbs(previous, rung) is up


def _score(rung: str, mode: str, seed: int, gain: float, dataset: str = "crf24") -> Score:
    return Score(rung, mode, seed, dataset, f"data/{dataset}", 0, 10, 0, 36.0 + gain, 0.9,
                 36.0, 100, 16, 10.0, f"runs/{dataset}/{rung}/seed{seed}", "0" * 64)


def _report(gains: dict[tuple[str, str], list[float]]) -> str:
    scores = [_score(label, mode, k, g) for (label, mode), vals in gains.items()
              for k, g in enumerate(vals)]
    ctx = ReportContext("hwsr ladder --config l.toml", tuple((label, f"{label}.toml")
                                                             for label, _ in gains),
                        (("crf24", "data/crf24"),), (0, 1, 2), "each", ())
    return format_report(scores, ctx)


def test_report_marks_the_climbs_and_judges_dual_id_against_dual_with_the_seeds():
    text = _report({("baseline", "baseline"): [0.20, 0.21, 0.19],
                    ("dual", "dual"): [0.30, 0.31, 0.29],
                    ("dual-id", "dual-id"): [0.31, 0.28, 0.31]})
    rows = [ln for ln in text.splitlines() if ln.startswith("| ") and ln[2].isdigit()]
    assert rows[0].startswith("| 1 | baseline | baseline | +0.200 ± 0.010 | 36.200 ± 0.010 | "
                              "+0.200 / +0.210 / +0.190 |")
    assert [[c.strip() for c in r.strip("|").split("|")][8] for r in rows] == [
        "—", "**yes**", "no"]
    assert "| +0.100 | 0.014 |" in rows[1]
    assert ("Rung 3 (dual-id) vs rung 2 (dual): **dual-id does not beat dual** (+0.000 dB); "
            "combined std 0.020 dB; difference per seed 0: +0.010, 1: −0.030, 2: +0.020."
            ) in text
    assert "crf24: climbs at every rung: **no** (rungs that climb: 2)" in text
    assert "* Cost: 9 runs, 900 optimizer steps (100 per run, batch 16)" in text


def test_a_noisy_lead_of_dual_id_is_not_a_win():
    text = _report({("dual", "dual"): [0.30, 0.31, 0.29],
                    ("dual-id", "dual-id"): [0.34, 0.30, 0.32]})
    assert "dual-id is +0.020 dB above dual, within the combined std: **not a win**" in text
    assert "climbs at every rung: **no** (rungs that climb: none)" in text


# -- a tiny ladder end to end ---------------------------------------------------------------
RUNG_TOML = """
[run]
mode = "{mode}"
model = "{spec}"
single_width = 6
[data]
dir = "{data}"
crop_lr_px = 8
batch_size = 4
val_frames = 2
val_crop_lr_px = 0
[optim]
steps = 4
lr = 5e-3
warmup_steps = 1
[schedule]
log_every_steps = 2
val_every_steps = 4
ckpt_every_steps = 2
"""

LADDER_TOML = """
[ladder]
seeds = [0, 1]
train_on = "rung"
runs_dir = "{root}/runs"
report = "{root}/reports/seeds.md"
[eval.dirs]
a = "{data}"
b = "{data_b}"
[[rungs]]
label = "base"
config = "{root}/base.toml"
[[rungs]]
label = "dual"
config = "{root}/dual.toml"
"""


def _cli(argv: list[str]) -> int:
    from hwsr.train.cli import register

    parser = argparse.ArgumentParser()
    register(parser.add_subparsers())
    args = parser.parse_args(argv)
    return args.func(args)


@pytest.fixture(scope="module")
def laddered(tmp_path_factory) -> dict:
    """A 2-rung × 2-seed ladder trained in two shards, then finished by the command."""
    root = tmp_path_factory.mktemp("ladder")
    spec = root / "tiny.toml"
    spec.write_text(artifacts.spec_toml(spec_from_dict(TINY)), encoding="utf-8")
    data = make_toy_dataset(root / "data", patches=16, patch_lr_px=12)
    data_b = make_toy_dataset(root / "data_b", patches=4, patch_lr_px=12, seed=1)
    for name, mode in (("base", "baseline"), ("dual", "dual")):
        (root / f"{name}.toml").write_text(RUNG_TOML.format(mode=mode, spec=spec, data=data),
                                           encoding="utf-8")
    (root / "reports").mkdir()
    config = root / "ladder.toml"
    config.write_text(LADDER_TOML.format(root=root, data=data, data_b=data_b), encoding="utf-8")
    cfg = load_ladder_config(config)
    first = run_ladder(cfg, "unused", shard=(0, 2), progress=False)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        rc = _cli(["ladder", "--config", str(config), "--no-progress"])
    return {"root": root, "config": config, "cfg": cfg, "first": first, "rc": rc,
            "stdout": out.getvalue(), "report": cfg.report.read_bytes()}


def test_a_sharded_ladder_reports_only_when_every_score_is_cached(laddered):
    first, cfg = laddered["first"], laddered["cfg"]
    assert len(first.trained) == 2 and first.report is None and first.missing == 2 * 2
    assert laddered["rc"] == 0
    assert "2 runs trained, 2 already finished; report" in laddered["stdout"]
    text = laddered["report"].decode("utf-8")
    for name in ("## a:", "## b:", "| 1 | base | baseline |", "| 2 | dual | dual |",
                 "4 runs, 16 optimizer steps", "Seeds: 0, 1"):
        assert name in text
    for run in ladder_runs(cfg):
        assert {p.name for p in run.out_dir.glob("ladder-score-*.json")} == {
            "ladder-score-a.json", "ladder-score-b.json"}


def _refuse(*args, **kwargs):
    raise AssertionError("a finished ladder must not train or score again")


def test_a_rerun_neither_retrains_nor_rescores_and_rewrites_the_same_report(laddered,
                                                                            monkeypatch):
    cfg = laddered["cfg"]
    mtimes = {p: p.stat().st_mtime_ns for p in cfg.runs_dir.rglob("*") if p.is_file()}
    monkeypatch.setattr(ladder, "train", _refuse)
    monkeypatch.setattr(ladder, "evaluate", _refuse)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert _cli(["ladder", "--config", str(laddered["config"]), "--no-progress"]) == 0
    assert "0 runs trained, 4 already finished" in out.getvalue()
    assert cfg.report.read_bytes() == laddered["report"]
    assert {p: p.stat().st_mtime_ns for p in mtimes} == mtimes


def test_report_only_rebuilds_the_report_byte_for_byte_from_the_cache(laddered, monkeypatch):
    root = laddered["root"]
    made = laddered["report"]
    monkeypatch.setattr(ladder, "train", _refuse)
    monkeypatch.setattr(ladder, "evaluate", _refuse)
    again = root / "reports" / "again.md"
    assert _cli(["ladder", "--config", str(laddered["config"]), "--report-only",
                 "--report", str(again)]) == 0
    assert again.read_bytes() == made
    other = dataclasses.replace(laddered["cfg"], eval_crop_lr_px=8, report=again)
    with pytest.raises(LadderError, match="no cached score of these"):
        write_report(other, "cmd")  # scores of other frames are not taken for these


def test_bad_rung_configs_and_missing_data_are_refused_before_any_training(laddered,
                                                                           monkeypatch):
    cfg = dataclasses.replace(laddered["cfg"], runs_dir=laddered["root"] / "other")
    monkeypatch.setattr(ladder, "train", _refuse)
    with pytest.raises(ConfigError, match=r"optim\.stepz: unknown key"):
        run_ladder(dataclasses.replace(cfg, set=("optim.stepz=1",)), "cmd")
    gone = (("a", laddered["root"] / "nowhere"),)
    with pytest.raises(LadderError, match="eval.dirs.a: .*no such dataset folder"):
        run_ladder(dataclasses.replace(cfg, datasets=gone), "cmd")
    assert not cfg.runs_dir.exists()


def test_a_score_of_other_weights_is_recomputed(laddered, monkeypatch):
    """A cached score whose weights hash differs (the run was retrained) is scored again."""
    cfg = laddered["cfg"]
    run = ladder_runs(cfg)[1]
    path = ladder.score_path(run, "a")
    good = json.loads(path.read_text(encoding="utf-8"))
    path.write_text(json.dumps({**good, "float_sha256": "f" * 64, "psnr_db": 99.0}),
                    encoding="utf-8")
    calls: list[str] = []
    real = ladder.evaluate
    monkeypatch.setattr(ladder, "train", _refuse)
    monkeypatch.setattr(ladder, "evaluate", lambda models, *a, **k: calls.append(models[0])
                        or real(models, *a, **k))
    run_ladder(cfg, "cmd", progress=False)
    assert calls == [str(run.out_dir)]
    assert json.loads(path.read_text(encoding="utf-8")) == good


# -- the seeded long-budget ladder for one GPU lease ----------------------------------------
def test_the_gpu_ladder_is_four_rungs_three_seeds_at_the_long_budget_one_process_each():
    from hwsr.train.ladder_gpu import LONG_BUDGET, parallel_plan

    path = REPO / "configs" / "ladder" / "ladder-gpu.toml"
    cfg = load_ladder_config(path)
    assert [r.label for r in cfg.rungs] == list(MODES) and cfg.seeds == (0, 1, 2)
    assert cfg.set == LONG_BUDGET and cfg.train_on == "rung"
    runs = ladder_runs(cfg)
    assert len(runs) == 12 and {r.scored_on for r in runs} == {("crf24", "crf30")}
    for run in runs:
        tc = train_config(cfg, run)
        assert (tc.optim.steps, tc.data.batch_size, tc.qat.steps) == (13000, 32, 0)
        assert tc.schedule.threads == 1  # twelve processes share the machine's cores
    plan = parallel_plan(path, cfg, ())
    assert plan.runs == 12 and len(plan.argv) == 12 and len(set(plan.logs)) == 12
    assert [a[a.index("--shard") + 1] for a in plan.argv] == [f"{k}/12" for k in range(12)]
    assert all(a[1:4] == ("-m", "hwsr", "ladder") for a in plan.argv)
    with pytest.raises(LadderError, match=r"--parallel: must be 0 .* or 1\.\.12"):
        parallel_plan(path, cfg, (), 13)


def test_the_parallel_ladder_at_a_tiny_budget_packs_only_scores_summaries_logs_report(
        laddered, tmp_path):
    """The GPU job's command on a CPU: shard processes at once, then one archive."""
    import tarfile

    runs, report, archive = tmp_path / "runs", tmp_path / "seeds.md", tmp_path / "back.tar.gz"
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        rc = _cli(["ladder", "--config", str(laddered["config"]), "--parallel", "2",
                   "--set", "optim.steps=2", "--runs", str(runs), "--report", str(report),
                   "--collect", str(archive)])
    assert rc == 0, out.getvalue()
    assert "4 runs in 2 processes; report" in out.getvalue() and report.is_file()
    with tarfile.open(archive) as tar:
        names = sorted(Path(n).name for n in tar.getnames())
    assert names == sorted(["ladder-score-a.json", "ladder-score-b.json", "result.json"] * 4
                           + ["shard-0-of-2.log", "shard-1-of-2.log", "seeds.md"])
    cfg = dataclasses.replace(laddered["cfg"], runs_dir=runs, report=report,
                              set=("optim.steps=2",))
    assert all(train_config(cfg, r).total_steps == 2 for r in ladder_runs(cfg))
    for run in ladder_runs(cfg):  # every score carries its run's dead-channel check
        s = Score.from_dict(json.loads(ladder.score_path(run, "a").read_text("utf-8")))
        assert s.dead_stage == ("net" if run.rung.label == "base" else s.dead_stage) and \
            s.dead_stage in ("net", "net1", "net2") and 0.0 <= s.last_hidden_dead <= 1.0
    with pytest.raises(LadderError, match="--collect: .*must end in .tar.gz"):
        from hwsr.train.ladder_gpu import pack_results

        pack_results(cfg, tmp_path / "back.zip")
