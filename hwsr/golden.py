"""Golden vectors for RTL testbenches: write a set, and replay it byte for byte.

A golden set is a folder::

    manifest.json        schema, model, stage, frames, every file's sha256, the hex format
    program.npz          the integer program the vectors were made with (a copy)
    <frame>/input.hex    the input frame
    <frame>/<stage>.layer<i>.hex   every layer's output codes
    <frame>/<stage>.out.hex        every stage's output pixels (net1.out feeds net2)

Hex files are ``$readmemh``-ready: ``//`` comment lines, then one line per pixel in raster
order, each line the pixel's channels (channel 0 first) as two's-complement words of the
tensor's width, separated by spaces; memory index = (y·W + x)·C + c. A set is written only
when the line-buffer simulator and the integer reference agree on every output, and it is
built in a temporary folder renamed into place, so a failed run leaves nothing behind.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from hwsr.fixed import FixedType
from hwsr.program import EngineProgram, load_program, save_program
from hwsr.reference import run_stage

SCHEMA = "hwsr.golden"
VERSION = 1
PIXEL = FixedType(8, 8, signed=False)


class GoldenError(ValueError):
    """A golden set that cannot be written or read."""


def to_hex(codes_chw: npt.NDArray[np.integer], t: FixedType, title: str) -> str:
    """Hex text of a (C, H, W) code tensor in the format above.

    >>> print(to_hex(np.array([[[1, -1]]]), FixedType(8, 0, True), "t"), end="")
    // t: 1 ch x 1 x 2, 8-bit signed, frac 0, raster order, channel 0 first
    01
    ff
    """
    c, h, w = codes_chw.shape
    digits = (t.width + 3) // 4
    mask = (1 << t.width) - 1
    flat = (codes_chw.reshape(c, -1).T.astype(np.int64)) & mask
    kind = "signed" if t.signed else "unsigned"
    lines = [f"// {title}: {c} ch x {h} x {w}, {t.width}-bit {kind}, frac {t.frac_bits}, "
             "raster order, channel 0 first"]
    fmt = f"{{:0{digits}x}}"
    lines += [" ".join(fmt.format(int(v)) for v in px) for px in flat]
    return "\n".join(lines) + "\n"


def from_hex(text: str, t: FixedType, shape_chw: tuple[int, int, int]) -> npt.NDArray[np.int64]:
    """Parse hex text written by :func:`to_hex` back to codes (C, H, W)."""
    rows = [ln.split() for ln in text.splitlines() if ln.strip() and not ln.startswith("//")]
    vals = np.array([[int(v, 16) for v in r] for r in rows], dtype=np.int64)
    if t.signed:
        vals = np.where(vals >= 1 << (t.width - 1), vals - (1 << t.width), vals)
    c, h, w = shape_chw
    return vals.T.reshape(c, h, w)


@dataclass
class FrameVectors:
    """Every hex file of one frame, by name (without .hex)."""

    name: str
    height: int
    width: int
    files: dict[str, str] = field(default_factory=dict)


def frame_vectors(program: EngineProgram, stage: str, name: str,
                  frame_u8_hwc: npt.NDArray[np.uint8]) -> FrameVectors:
    """All vectors of one frame; the simulator must agree with the reference on each stage."""
    from hwsr.sim import simulate

    h, w, _ = frame_u8_hwc.shape
    fv = FrameVectors(name, h, w)
    fv.files["input"] = to_hex(frame_u8_hwc.transpose(2, 0, 1), PIXEL, "input")
    x = frame_u8_hwc
    for sname in (["net1", "net2"] if stage == "dual" else [stage]):
        sp = program.stage(sname)
        trace: list[Any] = []
        x_out, _ = run_stage(sp, x, trace)
        sim_out = simulate(program, x, sname).frame
        if not np.array_equal(sim_out, x_out):
            raise GoldenError(f"{name}: simulator and reference differ on {sname}: not writing")
        for i, (codes, lp) in enumerate(zip(trace, sp.layers, strict=True)):
            fv.files[f"{sname}.layer{i}"] = to_hex(codes, lp.out_type, f"{sname}.layer{i}")
        fv.files[f"{sname}.out"] = to_hex(x_out.transpose(2, 0, 1), PIXEL, f"{sname}.out")
        x = x_out
    return fv


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def write_golden(program: EngineProgram, frames: dict[str, npt.NDArray[np.uint8]],
                 out_dir: str | Path, *, stage: str = "dual", model: str = "",
                 overwrite: bool = False) -> dict[str, Any]:
    """Write a golden set for ``frames`` (name → uint8 HWC) into ``out_dir``; returns manifest."""
    dest = Path(out_dir)
    if dest.exists() and not overwrite:
        raise GoldenError(f"{dest}: already exists (pass overwrite to replace it)")
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{dest.name}.partial-", dir=dest.parent))
    try:
        manifest = _write_into(tmp, program, frames, stage, model)
        if dest.exists():
            shutil.rmtree(dest)
        os.replace(tmp, dest)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return manifest


def _write_into(root: Path, program: EngineProgram, frames: dict[str, Any], stage: str,
                model: str) -> dict[str, Any]:
    save_program(program, root / "program.npz")
    hashes = {"program.npz": _sha((root / "program.npz").read_bytes())}
    entries = []
    for name, frame in frames.items():
        fv = frame_vectors(program, stage, name, frame)
        (root / name).mkdir()
        for key, text in fv.files.items():
            rel = f"{name}/{key}.hex"
            (root / rel).write_text(text)
            hashes[rel] = _sha(text.encode())
        entries.append({"name": name, "height": fv.height, "width": fv.width,
                        "files": sorted(fv.files)})
    manifest = {"schema": SCHEMA, "version": VERSION, "model": model, "stage": stage,
                "program": "program.npz", "frames": entries, "sha256": hashes,
                "format": __doc__.split("Hex files are", 1)[1].split("A set is")[0].strip()}
    (root / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n")
    return manifest


@dataclass(frozen=True)
class ReplayResult:
    files_checked: int  # hex files regenerated and compared byte for byte
    mismatches: tuple[str, ...]  # files whose bytes differ, or whose hash is off

    @property
    def ok(self) -> bool:
        return not self.mismatches


def replay_golden(set_dir: str | Path) -> ReplayResult:
    """Re-simulate a golden set from its input vectors and compare every file byte for byte."""
    root = Path(set_dir)
    try:
        manifest = json.loads((root / "manifest.json").read_text())
    except (OSError, ValueError) as e:
        raise GoldenError(f"{root}: not a readable golden set ({type(e).__name__})") from None
    if manifest.get("schema") != SCHEMA or manifest.get("version") != VERSION:
        raise GoldenError(f"{root}: not an hwsr golden set of version {VERSION}")
    bad = [rel for rel, h in manifest["sha256"].items()
           if not (root / rel).is_file() or _sha((root / rel).read_bytes()) != h]
    program = load_program(root / manifest["program"])
    checked = 0
    for entry in manifest["frames"]:
        text = (root / entry["name"] / "input.hex").read_text()
        codes = from_hex(text, PIXEL, (3, entry["height"], entry["width"]))
        frame = codes.transpose(1, 2, 0).astype(np.uint8)
        fv = frame_vectors(program, manifest["stage"], entry["name"], frame)
        for key, want in fv.files.items():
            rel = f"{entry['name']}/{key}.hex"
            path = root / rel
            checked += 1
            if not path.is_file() or path.read_text() != want:
                bad.append(rel)
    return ReplayResult(checked, tuple(sorted(set(bad))))


def standard_frames(width: int = 24, height: int = 16, seed: int = 0) -> dict[str, npt.NDArray[np.uint8]]:
    """The stock vector frames: the scaler test pattern, flat extremes, impulses, noise.

    Small on purpose: every layer of every frame becomes a hex file. The 1×1 and 2×3 frames
    exercise borders narrower than the kernel.
    """
    from hwsr.sim import test_pattern

    impulse = np.zeros((height, width, 3), np.uint8)
    for y, x in ((0, 0), (0, width - 1), (height - 1, 0), (height - 1, width - 1)):
        impulse[y, x] = 255
    rng = np.random.default_rng(seed)
    return {
        "pattern": test_pattern(width, height),
        "full": np.full((height, width, 3), 255, np.uint8),
        "impulses": impulse,
        "noise": rng.integers(0, 256, (height, width, 3), dtype=np.uint8),
        "tiny1x1": rng.integers(0, 256, (1, 1, 3), dtype=np.uint8),
        "tiny2x3": rng.integers(0, 256, (2, 3, 3), dtype=np.uint8),
    }
