"""Golden vectors: hex format, write/replay round trip, tamper detection, atomic writes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from hwsr import golden
from hwsr.cli import main
from hwsr.fixed import FixedType
from hwsr.golden import GoldenError, from_hex, replay_golden, standard_frames, to_hex, write_golden
from hwsr.spec import load_spec
from tests.strategies import EXACT_CASES, random_program

ROOT = Path(__file__).resolve().parents[1]
SPEC = load_spec(ROOT / "models" / "hwsr-s" / "engine.toml")
COMMITTED = sorted(p.parent for p in (ROOT / "golden").glob("*/manifest.json"))


def test_hex_round_trip_signed_and_unsigned() -> None:
    rng = np.random.default_rng(0)
    for t in (FixedType(10, 3, True), FixedType(8, 8, False), FixedType(5, 0, True)):
        codes = rng.integers(t.min_code, t.max_code + 1, (4, 3, 2))
        assert np.array_equal(from_hex(to_hex(codes, t, "x"), t, (4, 3, 2)), codes)


def test_write_then_replay_then_tamper(tmp_path: Path) -> None:
    prog = random_program(SPEC, np.random.default_rng(1))
    frames = standard_frames(12, 8)
    write_golden(prog, frames, tmp_path / "set")
    result = replay_golden(tmp_path / "set")
    assert result.ok and result.files_checked == len(frames) * (1 + 2 * (5 + 1))
    victim = tmp_path / "set" / "noise" / "net2.layer3.hex"
    lines = victim.read_text().splitlines()
    lines[5] = lines[5][:-1] + ("0" if lines[5][-1] != "0" else "1")
    victim.write_text("\n".join(lines) + "\n")
    assert replay_golden(tmp_path / "set").mismatches == ("noise/net2.layer3.hex",)


def test_disagreeing_simulator_writes_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import hwsr.sim

    real = hwsr.sim.simulate

    def broken(program, frame, stage="dual", **kw):  # type: ignore[no-untyped-def]
        res = real(program, frame, stage, **kw)
        res.frame[0, 0, 0] ^= 1
        return res

    monkeypatch.setattr(hwsr.sim, "simulate", broken)
    prog = random_program(SPEC, np.random.default_rng(2))
    with pytest.raises(GoldenError, match="differ"):
        write_golden(prog, standard_frames(6, 4), tmp_path / "set")
    assert list(tmp_path.iterdir()) == []


def test_existing_set_is_not_replaced_without_overwrite(tmp_path: Path) -> None:
    prog = random_program(SPEC, np.random.default_rng(3))
    write_golden(prog, {"f": np.zeros((2, 2, 3), np.uint8)}, tmp_path / "set")
    with pytest.raises(GoldenError, match="already exists"):
        write_golden(prog, {"f": np.zeros((2, 2, 3), np.uint8)}, tmp_path / "set")


def test_cli_write_and_check(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from hwsr.program import save_program

    save_program(random_program(SPEC, np.random.default_rng(4)), tmp_path / "p.npz")
    out = tmp_path / "vectors"
    assert main(["golden", "write", "--model", str(tmp_path / "p.npz"), "--out", str(out),
                 "--width", "6", "--height", "4"]) == 0
    assert main(["golden", "check", str(out)]) == 0
    assert "bit-exact" in capsys.readouterr().out


@pytest.mark.parametrize("set_dir", COMMITTED, ids=[p.name for p in COMMITTED])
def test_committed_golden_sets_replay_bit_exact(set_dir: Path) -> None:
    result = replay_golden(set_dir)
    assert result.ok, f"golden vectors differ: {result.mismatches}"
    EXACT_CASES["golden vector files replayed byte for byte"] += result.files_checked


def test_a_committed_golden_set_exists() -> None:
    assert COMMITTED, "golden/ holds no vector set; make one with `hwsr golden write`"
    assert golden.SCHEMA == "hwsr.golden"
