"""Equivalence: the eval-mode Brevitas model equals the integer reference, bit for bit.

The Brevitas side runs in float64, where every partial sum of these integer products is
exact (they stay far below 2**53); its output is converted to uint8 codes only after
checking that it lies exactly on the 2**-8 grid. No tolerance anywhere.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from hwsr.fixed import Rounding
from hwsr.quant import QuantEngineNet
from hwsr.quant.lower import LoweringError, lower_stage
from hwsr.reference import run_stage
from hwsr.spec import Activation, Datapath, EngineSpec, LayerSpec, WeightGranularity
from tests.strategies import EXACT_CASES, engine_specs, frames


def calibrated_net(spec: EngineSpec, seed: int, extreme: bool) -> QuantEngineNet:
    """A QuantEngineNet with random (or ±max) weights, scales calibrated on random frames."""
    torch.manual_seed(seed)
    net = QuantEngineNet(spec)
    with torch.no_grad():
        for conv in net.convs:
            if extreme:
                conv.weight.copy_(torch.sign(torch.randn_like(conv.weight)) * 0.25)
            conv.bias.normal_(0.0, 0.05)
        g = torch.Generator().manual_seed(seed)
        for _ in range(4):
            net(torch.randint(0, 256, (1, 3, 6, 7), generator=g).float() / 256)
    return net.eval()


def brevitas_codes(net: QuantEngineNet, frame: np.ndarray) -> np.ndarray:
    """Brevitas eval forward in float64, as uint8 codes (HWC)."""
    x = torch.from_numpy(frame).permute(2, 0, 1)[None].double() / 256
    with torch.no_grad():
        y = net.double()(x)[0].permute(1, 2, 0).numpy() * 256
    codes = np.rint(y)
    assert np.array_equal(codes, y), "Brevitas output is off the 2**-8 grid"
    assert codes.min() >= 0 and codes.max() <= 255
    return codes.astype(np.uint8)


@given(
    spec=engine_specs(max_layers=4, max_channels=16),
    frame=frames(max_h=9, max_w=9),
    seed=st.integers(0, 2**31 - 1),
    extreme=st.booleans(),
    per_tensor=st.booleans(),
)
@settings(max_examples=60)
def test_brevitas_equals_integer_reference(
    spec: EngineSpec, frame: np.ndarray, seed: int, extreme: bool, per_tensor: bool
) -> None:
    if per_tensor:
        dp = dataclasses.replace(spec.datapath, weight_granularity=WeightGranularity.PER_TENSOR)
        spec = dataclasses.replace(spec, datapath=dp)
    net = calibrated_net(spec, seed, extreme)
    program = lower_stage(net)
    ref, _ = run_stage(program, frame)
    got = brevitas_codes(net, frame)
    assert got.shape == ref.shape
    mismatches = int(np.count_nonzero(got != ref))
    assert mismatches == 0, f"{mismatches} pixel codes differ"
    EXACT_CASES["brevitas model == integer reference"] += 1


@given(spec=engine_specs(max_layers=4, max_channels=12, grouped=True),
       frame=frames(max_h=9, max_w=9), seed=st.integers(0, 2**31 - 1), extreme=st.booleans())
@settings(max_examples=30)
def test_grouped_dilated_brevitas_equals_integer_reference(spec: EngineSpec, frame: np.ndarray,
                                                           seed: int, extreme: bool) -> None:
    """Grouped (depthwise) and dilated QuantConv2d layers lower to the program's layers."""
    net = calibrated_net(spec, seed, extreme)
    program = lower_stage(net)
    assert [(lp.groups, lp.dilation) for lp in program.layers] == [
        (ly.groups, ly.dilation) for ly in spec.layers]
    ref, _ = run_stage(program, frame)
    mismatches = int(np.count_nonzero(brevitas_codes(net, frame) != ref))
    assert mismatches == 0, f"{mismatches} pixel codes differ"
    EXACT_CASES["brevitas model == integer reference (grouped, dilated)"] += 1


def tie_spec(rounding: Rounding) -> EngineSpec:
    dp = Datapath(rounding=rounding, weight_granularity=WeightGranularity.PER_TENSOR)
    layers = (
        LayerSpec(3, 3, 8, Activation.RELU),
        LayerSpec(1, 8, 8, Activation.RELU),
        LayerSpec(3, 8, 3, Activation.NONE),
    )
    return EngineSpec(name="ties", layers=layers, upscale=1, datapath=dp)


@pytest.mark.parametrize("rounding", [Rounding.HALF_UP, Rounding.HALF_EVEN])
def test_rounding_mode_flows_end_to_end(rounding: Rounding) -> None:
    """Same weights, two rounding modes: each equals its own reference, and they differ."""
    frame = np.random.default_rng(7).integers(0, 256, (24, 24, 3), dtype=np.uint8)
    nets = {}
    for mode in (Rounding.HALF_UP, Rounding.HALF_EVEN):
        nets[mode] = calibrated_net(tie_spec(mode), seed=3, extreme=False)
        nets[mode].load_state_dict(nets[Rounding.HALF_UP].state_dict())
    program = lower_stage(nets[rounding])
    ref, _ = run_stage(program, frame)
    assert np.array_equal(brevitas_codes(nets[rounding], frame), ref)
    EXACT_CASES["brevitas model == integer reference"] += 1
    other = Rounding.HALF_EVEN if rounding is Rounding.HALF_UP else Rounding.HALF_UP
    ref_other, _ = run_stage(lower_stage(nets[other]), frame)
    differ = np.count_nonzero(ref_other != ref) / ref.size
    assert differ > 0.005, "half-up and half-even should differ on a power-of-two datapath"


def test_exact_ties_in_the_brevitas_quantizer() -> None:
    """Codes ±0.5 LSB: half-up goes toward +inf, half-even to the even neighbour."""
    from brevitas.nn import QuantIdentity

    from hwsr.quant.quantizers import pixel_quant

    x = torch.tensor([0.5, 1.5, 2.5, 254.5], dtype=torch.float64) / 256
    up = QuantIdentity(act_quant=pixel_quant(Datapath(rounding=Rounding.HALF_UP))).eval().double()
    ev = QuantIdentity(act_quant=pixel_quant(Datapath(rounding=Rounding.HALF_EVEN))).eval().double()
    assert (up(x) * 256).tolist() == [1.0, 2.0, 3.0, 255.0]
    assert (ev(x) * 256).tolist() == [0.0, 2.0, 2.0, 254.0]


def test_lowering_refuses_training_mode_and_foreign_layers() -> None:
    spec = tie_spec(Rounding.HALF_UP)
    net = QuantEngineNet(spec)
    with pytest.raises(LoweringError, match="training mode"):
        lower_stage(net)
    net = calibrated_net(spec, seed=1, extreme=False)
    net.convs[1] = torch.nn.Conv2d(8, 8, 1)
    with pytest.raises(LoweringError, match="layer 1"):
        lower_stage(net)


def test_lowering_refuses_non_power_of_two_scale() -> None:
    """A float-scale quantizer (Brevitas's default recipe) needs a multiplier: refused."""
    from brevitas.nn import QuantReLU
    from brevitas.quant import Uint8ActPerTensorFloat

    torch.manual_seed(0)
    net = QuantEngineNet(tie_spec(Rounding.HALF_UP))
    net.acts[0] = QuantReLU(act_quant=Uint8ActPerTensorFloat, return_quant_tensor=True)
    with torch.no_grad():
        net(torch.rand(1, 3, 8, 8))
    with pytest.raises(LoweringError, match="layer 0 output: scale .* not a power of two"):
        lower_stage(net.eval())


def test_dead_channel_gets_a_power_of_two_scale() -> None:
    """A ReLU whose statistics are all zero still lowers (found by hypothesis, seed 0)."""
    spec = EngineSpec(
        name="dead", upscale=1,
        layers=(LayerSpec(1, 3, 1, Activation.RELU), LayerSpec(1, 1, 3, Activation.NONE)),
    )
    net = QuantEngineNet(spec)
    with torch.no_grad():
        net.convs[0].bias.fill_(-10.0)  # every pre-activation negative: the channel is dead
        net(torch.rand(1, 3, 4, 4))
    program = lower_stage(net.eval())
    frame = np.random.default_rng(0).integers(0, 256, (4, 5, 3), dtype=np.uint8)
    assert np.array_equal(brevitas_codes(net, frame), run_stage(program, frame)[0])
