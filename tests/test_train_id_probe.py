"""hwsr.train.id_probe: each term's gradient on Net1 equals the one taken by hand, and the
probe's summary (norms, cosines, image-term mix) is computed from those gradients."""

from __future__ import annotations

import pytest
import torch

from hwsr.train.id_probe import cosine, image_term_mix, probe, term_gradients
from hwsr.train.losses import frozen_pass, l1
from tests.test_train_losses import batch, tiny_dual
from tests.toy_data import make_toy_dataset


def flat_grad(loss: torch.Tensor, params: list[torch.nn.Parameter]) -> torch.Tensor:
    grads = torch.autograd.grad(loss, params, allow_unused=True)
    return torch.cat([(g if g is not None else torch.zeros_like(p)).reshape(-1)
                      for g, p in zip(grads, params, strict=True)]).double()


def test_term_gradients_equal_the_gradients_taken_by_hand():
    model = tiny_dual()
    lr, dhr, hr = batch()
    params = list(model.net1.parameters())
    got = term_gradients(model, lr, dhr, hr)
    y1 = model.net1(lr)
    want_l1 = flat_grad(l1(y1, dhr), params)
    want_l2 = flat_grad(l1(model.net2(model.net1(lr)), hr), params)
    _, s_feats = frozen_pass(model.net2, model.net1(lr))
    with torch.no_grad():
        _, t_feats = model.net2(dhr, return_features=True)
    lid = sum((s - t).abs().mean() for s, t in zip(s_feats, t_feats, strict=True))
    want_lid = flat_grad(lid, params)
    for term, want in (("l1", want_l1), ("l2", want_l2), ("lid", want_lid)):
        torch.testing.assert_close(got[term], want, rtol=0, atol=1e-7, msg=term)
        assert float(want.norm()) > 0, term
    # Net2 is not probed: its parameters keep no gradient from the probe
    assert all(p.grad is None for p in model.net2.parameters())


def test_identity_net1_on_clean_input_has_no_l1_or_lid_gradient():
    model = tiny_dual()
    with torch.no_grad():  # zero convs: Net1 is its residual path, y1 = LR exactly
        for conv in model.net1.convs:
            conv.weight.zero_()
            conv.bias.zero_()
    lr, _, hr = batch()
    g = term_gradients(model, lr, lr.clone(), hr)
    assert float(g["l1"].abs().sum()) == 0.0
    assert float(g["lid"].abs().sum()) == 0.0
    assert float(g["l2"].abs().sum()) > 0.0
    assert image_term_mix(g) == (0.0, 0.0, 0.0)


def test_image_term_mix_recovers_an_exact_combination():
    g1, g2 = torch.randn(50, dtype=torch.float64), torch.randn(50, dtype=torch.float64)
    a, b, r2 = image_term_mix({"l1": g1, "l2": g2, "lid": 0.25 * g1 - 3.0 * g2})
    assert a == pytest.approx(0.25, abs=1e-12) and b == pytest.approx(-3.0, abs=1e-12)
    assert r2 == pytest.approx(1.0, abs=1e-12)
    assert cosine(g1, -2.0 * g1) == pytest.approx(-1.0, abs=1e-12)
    assert cosine(g1, torch.zeros(50, dtype=torch.float64)) == 0.0


def test_probe_averages_over_batches(tmp_path):
    tiny_dataset = make_toy_dataset(tmp_path / "data", patches=8, patch_lr_px=8)
    model = tiny_dual()
    one = probe(model, tiny_dataset, batches=1, batch_size=2, crop_lr_px=6)
    two = probe(model, tiny_dataset, batches=2, batch_size=2, crop_lr_px=6)
    assert one.batches == 1 and two.batches == 2
    for key in one.cosine:
        assert -1.0 <= two.cosine[key] <= 1.0
    assert 0.0 <= two.explained <= 1.0 and two.novel >= 0.0
    assert one.norm != two.norm  # a second batch moves the means
    with pytest.raises(ValueError, match="batches"):
        probe(model, tiny_dataset, batches=0)


def test_cli_probes_a_trained_pair_and_refuses_a_single_net(tmp_path, capsys):
    import json

    from hwsr.cli import main
    from hwsr.train.evaluate import load_model
    from hwsr.train.trainer import train
    from tests.test_train_trainer import tiny_config, tiny_spec_file

    toy = {"data": make_toy_dataset(tmp_path / "data", patches=12, patch_lr_px=8),
           "spec": tiny_spec_file(tmp_path)}
    # the second round's choices, all at once: route net2, normalised L1, λid decay
    pair = tmp_path / "pair"
    train(tiny_config(toy, pair, optim={"steps": 6}, qat={"steps": 0},
                      loss={"id_route": "net2", "id_distance": "l1n", "id_decay_steps": 3}),
          progress=False)
    out = tmp_path / "probe.json"
    assert main(["id-probe", "--model", str(pair), "--data", str(toy["data"]),
                 "--batches", "2", "--batch-size", "4", "--crop-lr", "8",
                 "--json", str(out)]) == 0
    assert f"| {pair} |" in capsys.readouterr().out
    row = json.loads(out.read_text())[0]
    want = probe(load_model(str(pair)).net, toy["data"], batches=2, batch_size=4, crop_lr_px=8)
    assert row["norm"] == want.norm and row["explained"] == want.explained
    single = tmp_path / "single"
    train(tiny_config(toy, single, run={"mode": "hd2uhd"}, optim={"steps": 2}, qat={"steps": 0}),
          progress=False)
    assert main(["id-probe", "--model", str(single), "--data", str(toy["data"]),
                 "--batch-size", "4", "--crop-lr", "8"]) != 0
    assert "needs a dual pair" in capsys.readouterr().err
