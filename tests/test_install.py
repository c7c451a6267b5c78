"""End to end: a built wheel, installed into a new virtual environment, runs from any folder.

The wheel must carry every file a command reads from the package: ``hwsr simulate`` in an
empty temporary folder (no ``models/`` in sight, no ``HWSR_MODELS``) has to find ``hwsr-s``,
``hwsr export`` its check frame, ``hwsr rtl`` its Verilog leaf modules.

The new environment borrows the heavy dependencies (torch, numba, brevitas) from the
environment running the tests, so nothing is downloaded, whether that is the system Python or
a venv: its site-packages folders are listed in a ``.pth`` file as plain paths (the ``.pth``
files inside them, such as an editable install of hwsr, are not processed). hwsr itself comes
from the wheel, not the source tree.
"""

from __future__ import annotations

import fnmatch
import os
import shutil
import site
import subprocess
import sys
import sysconfig
import venv
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

REPO = Path(__file__).resolve().parents[1]

# Every file each command reads from the installed package (paths inside ``hwsr/``).
PACKAGE_READS: dict[str, tuple[str, ...]] = {
    "simulate": ("models/hwsr-s/engine.toml", "models/hwsr-s/program.npz",
                 "models/hwsr-s/float.safetensors"),  # --check: the float model
    "report": ("models/hwsr-s/engine.toml", "models/hwsr-s/program.npz"),
    "golden": ("models/hwsr-s/engine.toml", "models/hwsr-s/program.npz"),
    "export": ("models/hwsr-s/engine.toml", "models/hwsr-s/program.npz",
               "models/hwsr-s/float.safetensors", "models/hwsr-s/quant.safetensors",
               "models/hwsr-s/crf24-path.png"),  # the real frame every export is checked on
    "rtl": ("models/hwsr-s/engine.toml", "models/hwsr-s/program.npz",
            "rtl/verilog/hwsr_conv.v", "rtl/verilog/hwsr_residual.v",
            "rtl/verilog/hwsr_round_shift.vh"),
    "cosim": ("rtl/verilog/hwsr_conv.v", "rtl/verilog/hwsr_residual.v",
              "rtl/verilog/hwsr_round_shift.vh"),
    "quantize": ("models/hwsr-s/engine.toml", "models/hwsr-s/float.safetensors"),
}
# Tracked files under the package that no command reads: documentation of the source tree.
NOT_SHIPPED = ("README.md",)


def _run(cmd: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=300)


def _site_folders() -> list[str]:
    """The site-packages folders of the Python running the tests (a venv's or the system's)."""
    folders = [*site.getsitepackages(), sysconfig.get_paths()["purelib"],
               sysconfig.get_paths()["platlib"]]
    if site.ENABLE_USER_SITE:
        folders.append(site.getusersitepackages())
    return list(dict.fromkeys(f for f in folders if Path(f).is_dir()))


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A wheel built from a clean copy of the work tree (a stale build/ could hide data)."""
    root = tmp_path_factory.mktemp("wheel")
    env = {k: v for k, v in os.environ.items() if k not in ("HWSR_MODELS", "PYTHONPATH")}
    src = root / "src"
    shutil.copytree(REPO, src, symlinks=True, ignore=shutil.ignore_patterns(
        ".git", "build", "dist", "*.egg-info", "__pycache__", ".*_cache", "runs", "data",
        "sim_build*", "obj_dir*"))
    built = _run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps",
                  "--no-build-isolation", "-w", str(root / "dist"), str(src)], root, env)
    assert built.returncode == 0, built.stderr
    return next((root / "dist").glob("hwsr-*.whl"))


@pytest.fixture(scope="module")
def installed(wheel: Path) -> tuple[Path, dict[str, str]]:
    """A venv holding hwsr from the wheel; returns (its python, environment)."""
    root = wheel.parent.parent
    env = {k: v for k, v in os.environ.items() if k not in ("HWSR_MODELS", "PYTHONPATH")}
    venv.EnvBuilder(with_pip=False).create(root / "venv")
    py = root / "venv" / "bin" / "python"
    purelib = _run([str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                   root, env).stdout.strip()
    (Path(purelib) / "borrowed.pth").write_text("\n".join(_site_folders()) + "\n")
    inst = _run([sys.executable, "-m", "pip", "--python", str(py), "install", "-q",
                 "--no-deps", str(wheel)], root, env)
    if inst.returncode != 0 and "no such option: --python" in inst.stderr:
        pytest.skip("pip too old for --python")
    assert inst.returncode == 0, inst.stderr
    return py, env


def test_the_borrowed_folders_hold_the_dependencies() -> None:
    """What the venv borrows has numba and torch, also when the tests run inside a venv
    (there the base Python's site-packages, which ``system_site_packages`` gives, has not)."""
    names = {p.name for f in _site_folders() for p in Path(f).iterdir()}
    assert {"numba", "torch", "brevitas"} <= names


def test_the_wheel_carries_what_every_command_reads(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as z:
        shipped = {n.removeprefix("hwsr/") for n in z.namelist() if n.startswith("hwsr/")}
    for command, files in PACKAGE_READS.items():
        missing = [f for f in files if f not in shipped]
        assert not missing, f"hwsr {command} reads {missing} from the package; not in the wheel"
    tracked = subprocess.run(["git", "ls-files", "hwsr", "models"], cwd=REPO, text=True,
                             capture_output=True).stdout.split()
    data = [t.removeprefix("hwsr/") for t in tracked if not t.endswith(".py")
            and (REPO / t).is_file() and not (REPO / t).is_symlink()]
    unshipped = [d for d in data if d not in shipped
                 and not any(fnmatch.fnmatch(d, p) for p in NOT_SHIPPED)]
    assert not unshipped, f"package data not in the wheel: {unshipped}"


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


def test_installed_export_check_finds_its_frame(installed: tuple[Path, dict[str, str]],
                                                tmp_path: Path) -> None:
    """``hwsr export`` checks every export on the real frame shipped with the model."""
    py, env = installed
    done = _run([str(py.parent / "hwsr"), "export", "--format", "onnx", "--stage", "net1",
                 "--out", "n1.onnx"], tmp_path, env)
    assert done.returncode == 0, done.stderr
    assert "crf24-path" in done.stdout and (tmp_path / "n1.onnx").is_file()
