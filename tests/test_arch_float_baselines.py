"""Float baselines (SRCNN, RCAN) and the architecture registry."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
import torch

from hwsr.arch.rcan import RCAN, ChannelAttention
from hwsr.arch.registry import ARCHS, ArchInfo, build_arch, get_arch, list_archs
from hwsr.arch.srcnn import SRCNN

DEFAULT_SPEC = Path(__file__).resolve().parents[1] / "models" / "hwsr-s" / "engine.toml"
SMALL_RCAN = {"num_feat": 8, "num_group": 2, "num_block": 1, "reduction": 4}


def _n_params(m: torch.nn.Module) -> int:
    return sum(p.numel() for p in m.parameters())


def _conv(k: int, c_in: int, c_out: int) -> int:
    """Parameters of a k×k conv with bias: k·k·c_in·c_out weights + c_out biases."""
    return k * k * c_in * c_out + c_out


@pytest.fixture(autouse=True)
def _seed() -> None:
    torch.manual_seed(0)


# ---- SRCNN ----------------------------------------------------------------------------------


def test_srcnn_shapes_and_features_upscale_1() -> None:
    m = SRCNN(upscale=1, num_feat=(8, 4))
    x = torch.rand(2, 3, 7, 10)
    out, feats = m(x, return_features=True)
    assert out.shape == (2, 3, 7, 10)
    assert [f.shape for f in feats] == [(2, 8, 7, 10), (2, 4, 7, 10)]
    assert all(bool((f >= 0).all()) for f in feats)  # post-ReLU
    assert torch.equal(m(x), out)


def test_srcnn_shapes_upscale_3_through_hwsr_resizer() -> None:
    from hwsr.resize import imresize_torch

    m = SRCNN(upscale=3, num_feat=(8, 4))
    x = torch.rand(1, 3, 5, 6)
    out, feats = m(x, return_features=True)
    assert out.shape == (1, 3, 15, 18)
    assert [f.shape for f in feats] == [(1, 8, 15, 18), (1, 4, 15, 18)]
    assert torch.equal(m.upsample(x), imresize_torch(x, (15, 18)))


def test_srcnn_parameter_count() -> None:
    # 9-5-5, 3 → 8 → 4 → 3: (81·3·8 + 8) + (25·8·4 + 4) + (25·4·3 + 3) = 1952 + 804 + 303
    assert _n_params(SRCNN(num_feat=(8, 4))) == 1952 + 804 + 303 == 3059
    # published 9-5-5, 3 → 64 → 32 → 3
    assert _n_params(SRCNN()) == _conv(9, 3, 64) + _conv(5, 64, 32) + _conv(5, 32, 3) == 69_251
    # 9-1-5 variant, 1 → 16 → 8 → 1
    m = SRCNN(num_in_ch=1, num_out_ch=1, kernels=(9, 1, 5), num_feat=(16, 8))
    assert _n_params(m) == _conv(9, 1, 16) + _conv(1, 16, 8) + _conv(5, 8, 1)


def test_srcnn_receptive_field_is_17_pixels() -> None:
    m = SRCNN(upscale=1, num_feat=(6, 4)).double()
    assert m.receptive_field == 17
    with torch.no_grad():  # biases high: every ReLU passes, so every weight path counts
        for conv in (m.conv1, m.conv2):
            conv.bias.fill_(10.0)
    x = torch.rand(1, 3, 20, 20, dtype=torch.float64)
    x2 = x.clone()
    x2[0, :, 0, 0] += 1.0
    diff = (m(x2) - m(x)).abs()[0].amax(dim=0)
    assert diff[8, 8] > 0  # 8 = 17 // 2 pixels away: inside the window
    assert (diff[9:, :] == 0).all() and (diff[:, 9:] == 0).all()  # outside it


def test_srcnn_far_pixel_has_no_effect_after_upscale() -> None:
    m = SRCNN(upscale=3, num_feat=(6, 4)).double()
    x = torch.rand(1, 3, 16, 16, dtype=torch.float64)
    x2 = x.clone()
    x2[0, :, 0, 0] += 1.0
    diff = (m(x2) - m(x)).abs()
    assert diff[..., :3, :3].amax() > 0
    # bicubic ×3 spreads an LR pixel over < 2 LR px (6 HR px), SRCNN adds 8: HR 47 is far
    assert diff[..., 30:, 30:].amax() == 0


# ---- RCAN -----------------------------------------------------------------------------------


@pytest.mark.parametrize("upscale", [1, 2, 3, 4])
def test_rcan_shapes_and_features(upscale: int) -> None:
    m = RCAN(upscale=upscale, **SMALL_RCAN)
    x = torch.rand(2, 3, 5, 7)
    out, feats = m(x, return_features=True)
    assert out.shape == (2, 3, 5 * upscale, 7 * upscale)
    assert len(feats) == 2  # one per residual group, on the LR grid
    assert all(f.shape == (2, 8, 5, 7) for f in feats)
    assert torch.equal(m(x), out)


def _rcan_params(f: int, groups: int, blocks: int, reduction: int, upscale: int) -> int:
    """RCAN parameters by hand (3 → 3 channels), conv k×k c_in→c_out = k²·c_in·c_out + c_out."""
    s = f // reduction
    attention = _conv(1, f, s) + _conv(1, s, f)
    rcab = 2 * _conv(3, f, f) + attention
    group = blocks * rcab + _conv(3, f, f)
    upsampler = {1: 0, 2: _conv(3, f, 4 * f), 3: _conv(3, f, 9 * f), 4: 2 * _conv(3, f, 4 * f)}
    return (_conv(3, 3, f) + groups * group + _conv(3, f, f) + upsampler[upscale]
            + _conv(3, f, 3))


def test_rcan_parameter_count() -> None:
    # F = 8, 2 groups × 1 block, reduction 4 (squeeze 2 channels):
    #   conv_first 9·3·8+8 = 224; RCAB 2·(9·8·8+8) + (8·2+2) + (2·8+8) = 1168 + 18 + 24 = 1210;
    #   group 1210 + 584 = 1794, ×2 = 3588; conv_after_body 584; conv_last 9·8·3+3 = 219
    #   upscale 1: 224 + 3588 + 584 + 219 = 4615
    #   upscale 3: + upsampler 9·8·72+72 = 5256 → 9871
    assert _n_params(RCAN(upscale=1, **SMALL_RCAN)) == 4615 == _rcan_params(8, 2, 1, 4, 1)
    assert _n_params(RCAN(upscale=3, **SMALL_RCAN)) == 9871 == _rcan_params(8, 2, 1, 4, 3)
    for up in (2, 4):
        assert _n_params(RCAN(upscale=up, **SMALL_RCAN)) == _rcan_params(8, 2, 1, 4, up)
    small = {"num_feat": 16, "num_group": 3, "num_block": 2, "reduction": 8}
    assert _n_params(RCAN(upscale=3, **small)) == _rcan_params(16, 3, 2, 8, 3)


def test_channel_attention_is_the_frame_mean_gate() -> None:
    ca = ChannelAttention(8, 4).double()
    x = torch.rand(2, 8, 5, 6, dtype=torch.float64)
    _, down, _, up, _ = ca.attention
    mean = x.mean(dim=(2, 3))  # (N, C): the whole-frame statistic
    gate = torch.sigmoid(torch.relu(mean @ down.weight[:, :, 0, 0].T + down.bias)
                         @ up.weight[:, :, 0, 0].T + up.bias)
    torch.testing.assert_close(ca(x), x * gate[:, :, None, None], rtol=0, atol=1e-12)


def test_rcan_far_pixel_changes_output_through_the_global_mean() -> None:
    m = RCAN(upscale=1, num_feat=8, num_group=1, num_block=1, reduction=4).double()
    with torch.no_grad():  # keep the attention bottleneck's ReLU open
        m.body[0].residual_group[0].rcab[3].attention[1].bias.fill_(1.0)
    x = torch.rand(1, 3, 16, 16, dtype=torch.float64)
    x2 = x.clone()
    x2[0, :, 0, 0] += 1.0
    # conv window: first 1 + RCAB 2 + group 1 + after-body 1 + last 1 = 6 px, 15 px away:
    # only the global average pool can carry the change.
    assert (m(x2) - m(x))[..., 15, 15].abs().amax() > 0


# ---- registry -------------------------------------------------------------------------------


def test_registry_entries() -> None:
    assert list_archs() == ["engine", "srcnn", "rcan"]
    assert all(isinstance(a, ArchInfo) and a.name == n for n, a in ARCHS.items())
    assert ARCHS["engine"].engine_runnable and ARCHS["engine"].reason == ""
    assert not ARCHS["rcan"].engine_runnable and "global average pool" in ARCHS["rcan"].reason
    assert not ARCHS["srcnn"].engine_runnable and "3840" in ARCHS["srcnn"].reason
    with pytest.raises(dataclasses.FrozenInstanceError):
        ARCHS["rcan"].engine_runnable = True  # type: ignore[misc]


def test_registry_unknown_name() -> None:
    with pytest.raises(ValueError, match=r"'vdsr'.*known: engine, srcnn, rcan"):
        build_arch("vdsr")
    with pytest.raises(ValueError, match="known"):
        get_arch("")


def test_build_arch() -> None:
    assert isinstance(build_arch("srcnn", upscale=1, num_feat=(4, 4)), SRCNN)
    m = build_arch("rcan", upscale=1, num_group=1, num_block=1, num_feat=4, reduction=2)
    assert isinstance(m, RCAN) and m.upscale == 1
    from hwsr.arch.engine_net import EngineNet
    from hwsr.spec import load_spec

    spec = load_spec(DEFAULT_SPEC)
    net = build_arch("engine", spec=spec.net1())
    assert isinstance(net, EngineNet)
    assert net(torch.rand(1, 3, 4, 5)).shape == (1, 3, 4, 5)
