"""End to end: a built wheel, installed into a new virtual environment, runs from any folder.

The wheel must carry the default model as package data: ``hwsr simulate`` in an empty
temporary folder (no ``models/`` in sight, no ``HWSR_MODELS``) has to find ``hwsr-s``.
The environment sees the system's site-packages for the heavy dependencies (torch, numba,
brevitas), so nothing is downloaded; hwsr itself comes from the wheel, not the source tree.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import venv
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

REPO = Path(__file__).resolve().parents[1]


def _run(cmd: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    """A venv holding hwsr from a freshly built wheel; returns (its python, environment)."""
    root = tmp_path_factory.mktemp("wheel")
    env = {k: v for k, v in os.environ.items() if k not in ("HWSR_MODELS", "PYTHONPATH")}
    # build from a clean copy: a stale build/ folder in the work tree could hide missing data
    src = root / "src"
    shutil.copytree(REPO, src, symlinks=True, ignore=shutil.ignore_patterns(
        ".git", "build", "dist", "*.egg-info", "__pycache__", ".*_cache", "runs", "data",
        "sim_build*", "obj_dir*"))
    built = _run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps",
                  "--no-build-isolation", "-w", str(root / "dist"), str(src)], root, env)
    assert built.returncode == 0, built.stderr
    wheel = next((root / "dist").glob("hwsr-*.whl"))
    venv.EnvBuilder(system_site_packages=True, with_pip=False).create(root / "venv")
    py = root / "venv" / "bin" / "python"
    inst = _run([sys.executable, "-m", "pip", "--python", str(py), "install", "-q",
                 "--no-deps", str(wheel)], root, env)
    if inst.returncode != 0 and "no such option: --python" in inst.stderr:
        pytest.skip("pip too old for --python")
    assert inst.returncode == 0, inst.stderr
    return py, env


def test_wheel_carries_the_default_model(installed: tuple[Path, dict[str, str]],
                                         tmp_path: Path) -> None:
    py, env = installed
    where = _run([str(py), "-c", "import hwsr.zoo as z; print(z.models_dir())"], tmp_path, env)
    assert where.returncode == 0, where.stderr
    models = Path(where.stdout.strip())
    assert REPO not in models.resolve().parents, f"hwsr imported from the source tree: {models}"
    assert (models / "hwsr-s" / "program.npz").is_file()


def test_installed_simulate_runs_from_another_folder(installed: tuple[Path, dict[str, str]],
                                                     tmp_path: Path) -> None:
    py, env = installed
    frame = np.random.default_rng(0).integers(0, 256, (9, 14, 3), dtype=np.uint8)
    Image.fromarray(frame).save(tmp_path / "in.png")
    hwsr = py.parent / "hwsr"
    done = _run([str(hwsr), "simulate", "--frame", "in.png", "--out", "out.png"], tmp_path, env)
    assert done.returncode == 0, done.stderr
    out = np.asarray(Image.open(tmp_path / "out.png"))
    assert out.shape == (27, 42, 3)
