"""The shipped engines: trained weights, exact across Brevitas, reference, simulator."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from hwsr.reference import run_program
from hwsr.sim import simulate, test_pattern
from hwsr.zoo import DEFAULT_MODEL, list_models, load_engine
from tests.strategies import EXACT_CASES


def test_the_default_engine_is_shipped() -> None:
    assert DEFAULT_MODEL in list_models()


@pytest.mark.parametrize("name", list_models())
def test_shipped_engine_is_complete(name: str) -> None:
    bundle = load_engine(name)
    assert bundle.has("float") and bundle.has("quant")
    program = bundle.program()
    assert program.net1 is not None and program.net1.spec == bundle.spec.net1()


@pytest.mark.parametrize("name", list_models())
def test_trained_brevitas_model_equals_program_and_simulator(name: str) -> None:
    """Trained weights (not random ones): every executor agrees on real-looking frames."""
    bundle = load_engine(name)
    program = bundle.program()
    qdual = bundle.quant_dual().double()
    rng = np.random.default_rng(0)
    frames = [test_pattern(64, 36), rng.integers(0, 256, (7, 5, 3), dtype=np.uint8),
              np.full((3, 4, 3), 255, np.uint8), np.zeros((1, 1, 3), np.uint8)]
    for frame in frames:
        ref, _ = run_program(program, frame, "dual")
        x = torch.from_numpy(frame).permute(2, 0, 1)[None].double() / 256
        with torch.no_grad():
            y = qdual(x)[1][0].permute(1, 2, 0).numpy() * 256
        assert np.array_equal(np.rint(y), y)
        assert np.array_equal(y.astype(np.int64), ref.astype(np.int64))
        assert np.array_equal(simulate(program, frame, "dual").frame, ref)
        EXACT_CASES["shipped engine: brevitas == reference == simulator"] += 1
