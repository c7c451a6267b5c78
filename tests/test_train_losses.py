"""Unit tests of hwsr.train.losses: the objectives on known tensors and where gradients go."""

from __future__ import annotations

import pytest
import torch

from hwsr.arch.engine_net import build_dual
from hwsr.spec import spec_from_dict
from hwsr.train.losses import DualLoss, SingleLoss, feature_distance, frozen_features, l1

# The losses are float32 torch sums; the expected values here are the same sums taken in
# float64 by hand, so they agree to float32 rounding of a few dozen terms, not bit for bit.
F32_LOSS_REL_TOL = 1e-5

TINY = {
    "engine": {"name": "tiny", "upscale": 3},
    "layers": [
        {"kernel": 3, "c_out": 4},
        {"kernel": 1, "c_out": 4},
        {"kernel": 3, "c_out": 27, "activation": "none"},
    ],
}


def tiny_dual(seed: int = 0):
    torch.manual_seed(seed)
    return build_dual(spec_from_dict(TINY))


def batch(seed: int = 1, side: int = 6):
    g = torch.Generator().manual_seed(seed)
    lr = torch.rand(2, 3, side, side, generator=g)
    dhr = torch.rand(2, 3, side, side, generator=g)
    hr = torch.rand(2, 3, 3 * side, 3 * side, generator=g)
    return lr, dhr, hr


def grad_sum(module: torch.nn.Module) -> float:
    return sum(float(p.grad.abs().sum()) for p in module.parameters() if p.grad is not None)


def test_l1_and_feature_distance_on_known_tensors():
    a, b = torch.zeros(1, 2, 2, 2), torch.full((1, 2, 2, 2), 0.5)
    assert float(l1(a, b)) == 0.5
    # two layers, mean |diff| 0.5 and 0 -> sum 0.5
    assert float(feature_distance([a, a], [b, a])) == 0.5
    assert float(feature_distance([a, b], [a.clone(), b.clone()])) == 0.0
    with pytest.raises(ValueError):
        feature_distance([a], [a, b])


def test_lid_is_zero_when_student_input_equals_teacher_input():
    model = tiny_dual()
    with torch.no_grad():  # Net1 with zero convs is its residual path: y1 = LR exactly
        for conv in model.net1.convs:
            conv.weight.zero_()
            conv.bias.zero_()
    lr, _, hr = batch()
    for route in ("net1", "both", "net2"):
        _, parts = DualLoss(model, 1.0, 1.0, 1.0, route)(lr, lr.clone(), hr)
        assert float(parts["lid"]) == 0.0
        assert float(parts["l1"]) == 0.0


def test_teacher_branch_gets_no_gradient():
    model = tiny_dual()
    lr, dhr, hr = batch()
    dhr.requires_grad_(True)
    for route in ("net1", "both", "net2"):
        model.zero_grad()
        loss, _ = DualLoss(model, 0.0, 0.0, 1.0, route)(lr, dhr, hr)
        loss.backward()
        assert dhr.grad is None or float(dhr.grad.abs().sum()) == 0.0
        student = model.net2 if route == "net2" else model.net1
        assert grad_sum(student) > 0  # the student branch is trained


@pytest.mark.parametrize(("route", "trained", "untouched"), [
    ("net1", ("net1",), ("net2",)),
    ("net2", ("net2",), ("net1",)),
    ("both", ("net1", "net2"), ()),  # the literal reading lets L_id reach Net2 too
])
def test_each_route_sends_lid_gradient_where_it_says(route, trained, untouched):
    model = tiny_dual()
    lr, dhr, hr = batch()
    loss, _ = DualLoss(model, 0.0, 0.0, 1.0, route)(lr, dhr, hr)
    loss.backward()
    for name in trained:
        assert grad_sum(getattr(model, name)) > 0, name
    for name in untouched:
        assert grad_sum(getattr(model, name)) == 0.0, name


def test_route_net1_leaves_net2_gradient_of_l1_l2_unchanged():
    lr, dhr, hr = batch()
    grads = []
    for lam_id in (0.0, 0.7):
        model = tiny_dual()
        loss, _ = DualLoss(model, 1.0, 1.0, lam_id, "net1")(lr, dhr, hr)
        loss.backward()
        grads.append([p.grad.clone() for p in model.net2.parameters()])
    for g0, g1 in zip(*grads, strict=True):
        torch.testing.assert_close(g0, g1, rtol=0, atol=1e-7)


def test_both_routes_agree_on_the_value_of_lid():
    model = tiny_dual()
    lr, dhr, hr = batch()
    a = DualLoss(model, 1.0, 1.0, 1.0, "net1")(lr, dhr, hr)[1]["lid"]
    for route in ("both", "net2"):
        torch.testing.assert_close(a, DualLoss(model, 1.0, 1.0, 1.0, route)(lr, dhr, hr)[1]["lid"])


def test_frozen_features_match_the_ordinary_pass():
    model = tiny_dual()
    x = torch.rand(1, 3, 5, 5)
    _, feats = model.net2(x, return_features=True)
    for a, b in zip(frozen_features(model.net2, x), feats, strict=True):
        torch.testing.assert_close(a, b)


def test_total_is_the_weighted_sum_and_single_loss_picks_its_input():
    model = tiny_dual()
    lr, dhr, hr = batch()
    total, p = DualLoss(model, 0.5, 2.0, 0.25, "net1")(lr, dhr, hr)
    torch.testing.assert_close(total.detach(), 0.5 * p["l1"] + 2.0 * p["l2"] + 0.25 * p["lid"])
    net = model.net2
    base, _ = SingleLoss(net, "dhr")(lr, dhr, hr)
    hd, _ = SingleLoss(net, "lr")(lr, dhr, hr)
    torch.testing.assert_close(base, l1(net(dhr), hr))
    torch.testing.assert_close(hd, l1(net(lr), hr))
    with pytest.raises(ValueError):
        DualLoss(model, 1.0, 1.0, 1.0, "teacher")


def test_mse_pixel_distance_replaces_l1_in_the_image_terms_only():
    model = tiny_dual()
    lr, dhr, hr = batch()
    _, p1 = DualLoss(model, 1.0, 1.0, 1.0, "net1", pixel="l1")(lr, dhr, hr)
    _, p2 = DualLoss(model, 1.0, 1.0, 1.0, "net1", pixel="mse")(lr, dhr, hr)
    y1, y2 = model(lr)
    torch.testing.assert_close(p2["l1"], ((y1 - dhr) ** 2).mean().detach())
    torch.testing.assert_close(p2["l2"], ((y2 - hr) ** 2).mean().detach())
    torch.testing.assert_close(p1["lid"], p2["lid"])  # L_id stays an L1 distance


def test_lid_signals_and_distance_on_a_known_pass():
    """``id_features`` picks what L_id compares (every hidden layer, the last one, Net2's
    output) and ``id_distance`` how: each equals the distance computed by hand."""
    model = tiny_dual()
    lr, dhr, hr = batch()
    with torch.no_grad():
        y1, _ = model(lr)
        s_out, s_feats = model.net2(y1, return_features=True)
        t_out, t_feats = model.net2(dhr, return_features=True)
    pairs = zip(s_feats, t_feats, strict=True)
    want = {("all", "l1"): sum(float((s - t).abs().mean()) for s, t in pairs),
            ("last", "l1"): float((s_feats[-1] - t_feats[-1]).abs().mean()),
            ("output", "l1"): float((s_out - t_out).abs().mean()),
            ("output", "mse"): float(((s_out - t_out) ** 2).mean()),
            ("last", "l1n"): float((s_feats[-1] - t_feats[-1]).abs().mean()
                                   / (t_feats[-1].abs().mean() + 1e-6))}
    for (features, distance), value in want.items():
        for route in ("net1", "both", "net2"):
            _, parts = DualLoss(model, 1.0, 1.0, 1.0, route, id_features=features,
                                id_distance=distance)(lr, dhr, hr)
            assert float(parts["lid"]) == pytest.approx(value, rel=F32_LOSS_REL_TOL), \
                (features, route)
    with pytest.raises(ValueError):
        DualLoss(model, 1.0, 1.0, 1.0, "net1", id_features="first")


def test_lid_warm_up_ramps_its_weight():
    model = tiny_dual()
    loss = DualLoss(model, 1.0, 1.0, 0.4, "net1", id_warmup_steps=4)
    # 0.4 times a quarter, a half and one: powers of two, so exact in float64
    assert [loss.id_weight(s) for s in (0, 1, 3, 10)] == [0.1, 0.2, 0.4, 0.4]
    assert DualLoss(model, 1.0, 1.0, 0.4, "net1").id_weight(0) == 0.4
    lr, dhr, hr = batch()
    total0, p0 = loss(lr, dhr, hr, step=0)
    total9, p9 = loss(lr, dhr, hr, step=9)
    base = float(p0["l1"] + p0["l2"])
    assert float(total0) == pytest.approx(base + 0.1 * float(p0["lid"]), rel=F32_LOSS_REL_TOL)
    assert float(total9) == pytest.approx(base + 0.4 * float(p9["lid"]), rel=F32_LOSS_REL_TOL)


def test_lid_decay_falls_to_zero_at_the_end_of_the_float_phase():
    model = tiny_dual()
    loss = DualLoss(model, 1.0, 1.0, 0.4, "net1", id_decay_steps=4, float_steps=10)
    # full weight until step 6, then 0.4 * (10 - step) / 4 (exact: powers of two), 0 after
    assert [loss.id_weight(s) for s in (0, 6, 8, 9, 10, 12)] == [0.4, 0.4, 0.2, 0.1, 0.0, 0.0]
    both = DualLoss(model, 1.0, 1.0, 0.4, "net1", id_warmup_steps=2, id_decay_steps=4,
                    float_steps=10)
    assert [both.id_weight(s) for s in (0, 1, 8)] == [0.2, 0.4, 0.2]
    with pytest.raises(ValueError, match="id_decay_steps"):
        DualLoss(model, 1.0, 1.0, 0.4, "net1", id_decay_steps=11, float_steps=10)


def test_ema_teacher_averages_net2_and_starts_at_its_weights():
    model = tiny_dual()
    loss = DualLoss(model, 1.0, 1.0, 0.1, "net1", id_teacher_ema=0.75)
    current = DualLoss(model, 1.0, 1.0, 0.1, "net1")
    lr, dhr, hr = batch()
    # first pass: the average is Net2's weights, so the teacher is the current one
    _, p_ema = loss(lr, dhr, hr)
    _, p_cur = current(lr, dhr, hr)
    assert torch.equal(p_ema["lid"], p_cur["lid"])
    w0 = {k: p.detach().clone() for k, p in model.net2.named_parameters()}
    with torch.no_grad():
        for p in model.net2.parameters():
            p.add_(0.5)  # a step of the optimizer
    loss(lr, dhr, hr)
    for k, p in model.net2.named_parameters():
        want = 0.75 * w0[k] + 0.25 * p.detach()
        assert torch.equal(loss.loss_state()[f"ema.{k}"], want), k
    # the teacher now runs the averaged weights, not the current ones
    t_out, _ = loss.teacher(dhr)
    assert not torch.equal(t_out, model.net2(dhr))
    # the state round-trips, and a state of another network is refused
    fresh = DualLoss(model, 1.0, 1.0, 0.1, "net1", id_teacher_ema=0.75)
    fresh.load_loss_state(loss.loss_state())
    assert torch.equal(fresh.teacher(dhr)[0], t_out)
    with pytest.raises(ValueError, match="EMA teacher"):
        fresh.load_loss_state({"ema.nope": torch.zeros(1)})
    with pytest.raises(ValueError, match="id_teacher_ema"):
        DualLoss(model, 1.0, 1.0, 0.1, "net1", id_teacher_ema=1.0)
