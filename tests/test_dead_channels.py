"""Dead channels: the probe counts exactly, the trainer logs them, the ladder flags them."""

from __future__ import annotations

import dataclasses
import json

import torch

from hwsr.arch.engine_net import EngineNet, build_dual
from hwsr.spec import spec_from_dict
from hwsr.train import artifacts
from hwsr.train.dead import dead_channels, engine_nets, last_hidden_dead
from hwsr.train.ladder_report import ReportContext, Score, format_report
from hwsr.train.trainer import train
from hwsr.zoo import load_engine
from tests.test_train_losses import TINY
from tests.test_train_trainer import tiny_config, toy  # noqa: F401  (toy is a fixture)


def _silence(net: EngineNet, layer: int, channels: list[int]) -> None:
    """Channels that can never fire: no weights, bias -1 (ReLU(-1) = 0 on every pixel)."""
    conv = net.convs[layer]
    with torch.no_grad():
        for c in channels:
            conv.weight[c].zero_()
            conv.bias[c] = -1.0


def _awake(net: EngineNet) -> None:
    """Every hidden channel fires somewhere: bias +1 and no weights, so ReLU gives 1."""
    with torch.no_grad():
        for conv in net.convs[:-1]:
            conv.weight.zero_()
            conv.bias.fill_(1.0)


def test_the_probe_counts_exactly_the_channels_that_never_fire():
    pair = build_dual(spec_from_dict(TINY))
    _awake(pair.net1)
    _awake(pair.net2)
    widths = [ly.c_out for ly in pair.net2.spec.layers[:-1]]
    _silence(pair.net2, len(widths) - 1, list(range(widths[-1] // 2 + 1)))
    _silence(pair.net1, 0, [0])
    shares = dead_channels(pair, [torch.rand(1, 3, 6, 5), torch.rand(2, 3, 4, 4)])
    assert list(shares) == ["net1", "net2"]
    assert shares["net1"] == [1 / widths[0]] + [0.0] * (len(widths) - 1)
    assert shares["net2"][:-1] == [0.0] * (len(widths) - 1)
    assert shares["net2"][-1] == (widths[-1] // 2 + 1) / widths[-1]
    assert last_hidden_dead(shares) == ("net2", shares["net2"][-1])


def test_a_channel_that_fires_on_one_pixel_of_one_frame_is_alive():
    net = EngineNet(spec_from_dict(TINY))
    _awake(net)
    _silence(net, 0, [1])
    with torch.no_grad():  # channel 1 now fires only where input channel 0 exceeds 0.5
        net.convs[0].weight[1, 0, 1, 1] = 4.0
        net.convs[0].bias[1] = -2.0
    dark = torch.zeros(1, 3, 5, 5)
    bright = dark.clone()
    bright[0, 0, 2, 3] = 1.0
    assert dead_channels(net, [dark])["net"][0] == 1 / net.spec.layers[0].c_out
    assert dead_channels(net, [dark, bright])["net"][0] == 0.0


def test_the_int8_engine_is_probed_through_its_quant_relus():
    bundle = load_engine("hwsr-s")
    lr = torch.rand(1, 3, 12, 10)
    float_shares = dead_channels(bundle.float_dual(), [lr])
    quant_shares = dead_channels(bundle.quant_dual(), [lr])
    hidden = len(bundle.spec.layers) - 1
    for shares in (float_shares, quant_shares):
        assert [len(s) for s in shares.values()] == [hidden, hidden]
        assert all(0.0 <= v <= 1.0 for s in shares.values() for v in s)
    assert engine_nets(torch.nn.Conv2d(3, 3, 3)) == []


def test_the_trainer_logs_dead_channels_and_puts_them_in_the_summary(toy, tmp_path):  # noqa: F811
    cfg = tiny_config(toy, tmp_path / "run", optim={"steps": 6}, qat={"steps": 0})
    result = train(cfg, progress=False)
    hidden = len(TINY["layers"]) - 1
    assert list(result.dead_channels) == ["net1", "net2"]
    assert all(len(s) == hidden for s in result.dead_channels.values())
    summary = json.loads((tmp_path / "run" / artifacts.RESULT_FILE).read_text())
    assert summary["dead_channels"] == result.dead_channels
    stage, share = last_hidden_dead(result.dead_channels)
    assert (summary["last_hidden_dead_stage"], summary["last_hidden_dead"]) == (stage, share)
    logged = [r for r in artifacts.read_metrics(tmp_path / "run") if "val_psnr_db" in r]
    assert logged and all(r["dead_channels"].keys() == {"net1", "net2"} for r in logged)
    assert logged[-1]["dead_channels"] == result.dead_channels


def _score(seed: int, dead: float | None) -> Score:
    return Score("dual-id", "dual-id", seed, "crf24", "data/crf24", 0, 10, 0, 36.3, 0.9, 36.0,
                 100, 16, 10.0, f"runs/dual-id/seed{seed}", "0" * 64, dead,
                 "" if dead is None else "net2")


def test_the_ladder_report_flags_a_run_whose_last_hidden_layer_is_mostly_dead():
    ctx = ReportContext("hwsr ladder", (("dual-id", "d.toml"),), (("crf24", "data/crf24"),),
                        (0, 1, 2), "each", ())
    text = format_report([_score(0, 0.25), _score(1, 0.5625), _score(2, None)], ctx)
    assert "+0.300 / +0.300 † / +0.300 |" in text
    assert ("**Flagged †:** the last hidden layer lost more than 50 % of its channels"
            in text)
    assert "dual-id seed 1 (net2 56 %)" in text and "seed 0 (" not in text
    exactly_half = format_report([_score(k, 0.5) for k in range(3)], ctx)
    assert "Flagged" not in exactly_half and "†" not in exactly_half


def test_a_score_cached_before_the_check_loads_as_not_measured():
    doc = dataclasses.asdict(_score(0, 0.75))
    del doc["last_hidden_dead"], doc["dead_stage"]
    old = Score.from_dict(doc)
    assert old.last_hidden_dead is None and not old.dead_flag


def test_the_dead_command_prints_float_and_int8_per_stage(tmp_path, capsys):
    from hwsr.cli import main
    from tests.toy_data import make_toy_dataset

    data = make_toy_dataset(tmp_path / "ds", patches=2, patch_lr_px=12, val_frames=1)
    assert main(["dead", "--model", "hwsr-s", "--data", str(data)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [ln.split(":")[0] for ln in lines] == ["hwsr-s float", "hwsr-s int8"]
    assert all("net1 " in ln and "net2 " in ln and "/20" in ln for ln in lines)
    assert main(["dead", "--model", "hwsr-s", "--data", str(tmp_path / "none")]) == 1
