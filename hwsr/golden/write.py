"""Writing a golden set: every tap from the simulator, held to the reference, swapped in whole."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from hwsr.accum import program_bounds
from hwsr.atomic import atomic_dir, check_output
from hwsr.golden.hexfmt import WordFormat, parse_text, tap_text, word_sums
from hwsr.golden.names import MANIFEST
from hwsr.golden.taps import (
    LEVELS,
    TapFormat,
    first_difference,
    reference_taps,
    sim_taps,
    stage_list,
    tap_formats,
)
from hwsr.program import EngineProgram, save_program
from hwsr.rom import rom_images, rom_manifest
from hwsr.spec import STAGES

SCHEMA = "hwsr.golden"
VERSION = 2
PROGRAM = "program.npz"
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")
ACC_NOTE = ("accumulator as the requantizer shifts it: sum(w*x) + bias, fitted to acc_bits "
            "(wrap or saturate), ReLU applied on ReLU layers")
HEX_FORMAT = ("'//' comment lines, then one line per pixel in raster order (y, then x); each "
              "line the pixel's channels, channel 0 first, as two's-complement words of the "
              "tap's width, ceil(bits/4) lowercase hex digits, one space apart; $readmemh "
              "memory index = (y*W + x)*C + c. ROM files: one word per line, address = line "
              "index. checksum = sum of the unsigned words mod 2**32; weighted = exact sum of "
              "(index+1)*word")


class GoldenError(ValueError):
    """A golden set that cannot be written or read."""


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _check_request(program: EngineProgram, frames: dict[str, Any], stage: str,
                   levels: dict[str, str]) -> None:
    if stage not in STAGES:
        raise GoldenError(f"--stage must be one of {', '.join(STAGES)}, got {stage!r}")
    for level in levels.values():
        if level not in LEVELS:
            raise GoldenError(f"--taps must be one of {', '.join(LEVELS)}, got {level!r}")
    if not frames:
        raise GoldenError("no frames to write (--stock none and no --frame)")
    for name, f in frames.items():
        if not _NAME.fullmatch(name) or name == "rom":
            raise GoldenError(f"frame name {name!r}: use letters, digits, '_' and '-' only")
        if not isinstance(f, np.ndarray) or f.dtype != np.uint8 or f.ndim != 3 \
                or f.shape[2] != 3 or min(f.shape[:2]) < 1:
            raise GoldenError(f"frame {name!r}: must be uint8 (H, W, 3), at least 1x1")
    for sname in stage_list(stage):
        program.stage(sname)  # refuses a stage the program lacks
    for b in program_bounds(program):
        if b.can_overflow:
            raise GoldenError(
                f"{b.stage}.layer{b.layer}: worst-case accumulator {b.worst_abs:,} needs "
                f"{b.bits_needed} bits, acc_bits is {b.acc_bits}: refusing vectors of a "
                "datapath that can overflow")


def _header(fmt: TapFormat, codes: npt.NDArray[np.int64]) -> list[str]:
    c, h, w = codes.shape
    kind = "signed" if fmt.signed else "unsigned"
    lines = [f"{fmt.name}: {c} ch x {h} rows x {w} cols, {fmt.bits}-bit {kind}, "
             f"frac {fmt.frac}, raster order, channel 0 first",
             f"{c * h * w} words; $readmemh index = (y*{w} + x)*{c} + c"]
    if fmt.name.endswith(".acc"):
        lines.append(ACC_NOTE)
    return lines


def frame_files(program: EngineProgram, stage: str, name: str, frame: npt.NDArray[np.uint8],
                level: str) -> tuple[dict[str, str], dict[str, Any]]:
    """Hex text of every tap of one frame (from the simulator, checked against the
    reference at every tap) and the simulator's counters; refuses any disagreement."""
    run = sim_taps(program, stage, frame, level)
    ref = reference_taps(program, stage, frame, level)
    files: dict[str, str] = {}
    for fmt in tap_formats(program, stage, level):
        rel = f"{name}/{fmt.name}.hex"
        bad = first_difference(fmt, ref[fmt.name], run.taps[fmt.name], rel)
        if bad:
            raise GoldenError(f"simulator and reference differ, not writing: {bad}")
        files[rel] = tap_text(run.taps[fmt.name], fmt.words, _header(fmt, run.taps[fmt.name]))
    return files, run.stats


def _file_entry(kind: str, text: str, bits: int, signed: bool, per_line: int,
                where: str) -> dict[str, Any]:
    words = parse_text(text, WordFormat(bits, signed, per_line), where)
    checksum, weighted = word_sums(words)
    return {"kind": kind, "sha256": _sha(text.encode()), "words": int(words.size),
            "word_bits": bits, "signed": signed, "per_line": per_line,
            "checksum": checksum, "weighted": weighted}


def build_set(program: EngineProgram, frames: dict[str, npt.NDArray[np.uint8]], *,
              stage: str = "dual", model: str = "", variant: str = "none",
              taps: str = "layers", frame_taps: dict[str, str] | None = None,
              sources: dict[str, str] | None = None) -> tuple[dict[str, str], dict[str, Any]]:
    """Every hex file of a set (relative path → text) and its manifest, in memory."""
    levels = {name: (frame_taps or {}).get(name, taps) for name in frames}
    _check_request(program, frames, stage, {**levels, "": taps})
    fmts = {f.name: f for f in tap_formats(program, stage, "acc")}
    texts: dict[str, str] = {}
    files: dict[str, Any] = {}
    entries: list[dict[str, Any]] = []
    for name, frame in frames.items():
        ftexts, stats = frame_files(program, stage, name, frame, levels[name])
        for rel, text in ftexts.items():
            f = fmts[rel.split("/", 1)[1][:-4]]
            kind = "acc" if f.level == "acc" else "input" if f.name == "input" else "tap"
            files[rel] = _file_entry(kind, text, f.bits, f.signed, f.channels, rel)
        texts.update(ftexts)
        entries.append({"name": name, "height": int(frame.shape[0]),
                        "width": int(frame.shape[1]),
                        "source": (sources or {}).get(name, f"stock:{name}"),
                        "level": levels[name],
                        "taps": [f.name for f in tap_formats(program, stage, levels[name])],
                        "stats": stats})
    roms = rom_manifest(program)
    for rel, text in rom_images(program).items():
        files[rel] = _file_entry("rom", text, roms["files"][rel]["word_bits"], True, 1, rel)
        texts[rel] = text
    manifest = {
        "schema": SCHEMA, "version": VERSION, "model": model, "variant": variant,
        "stage": stage, "taps": taps, "program": PROGRAM, "hex_format": HEX_FORMAT,
        "acc_tap": ACC_NOTE,
        "tap_formats": {n: {"word_bits": f.bits, "signed": f.signed, "channels": f.channels,
                            "frac": f.frac, "level": f.level}
                        for n, f in fmts.items()
                        if any(f.name in e["taps"] for e in entries)},
        "frames": entries, "rom": roms, "files": files,
    }
    return texts, manifest


def write_golden(program: EngineProgram, frames: dict[str, npt.NDArray[np.uint8]],
                 out_dir: str | Path, *, stage: str = "dual", model: str = "",
                 variant: str = "none", taps: str = "layers", overwrite: bool = False,
                 frame_taps: dict[str, str] | None = None,
                 sources: dict[str, str] | None = None) -> dict[str, Any]:
    """Write a golden set for ``frames`` (name → uint8 HWC) into ``out_dir``; returns manifest.

    Everything is computed and cross-checked before the first byte is written; the set is
    then built in a hidden folder beside ``out_dir`` and swapped in with one atomic rename
    (``overwrite`` replaces an old set: a kill at any moment leaves the old or the new one).
    ``taps`` is the level of every frame not named in ``frame_taps``.
    """
    dest = Path(out_dir)
    try:
        check_output(dest, "--out", is_dir=True)
    except (OSError, ValueError) as e:
        raise GoldenError(str(e)) from None
    if dest.exists() and not overwrite:
        raise GoldenError(f"{dest}: already exists (pass --overwrite to replace it)")
    texts, manifest = build_set(program, frames, stage=stage, model=model, variant=variant,
                                taps=taps, frame_taps=frame_taps, sources=sources)
    with atomic_dir(dest, overwrite=overwrite) as tmp:
        save_program(program, tmp / PROGRAM)
        manifest["files"][PROGRAM] = {"kind": "program",
                                      "sha256": _sha((tmp / PROGRAM).read_bytes())}
        for rel, text in texts.items():
            (tmp / rel).parent.mkdir(parents=True, exist_ok=True)
            (tmp / rel).write_text(text)
        (tmp / MANIFEST).write_text(manifest_text(manifest))
    return manifest


def manifest_text(manifest: dict[str, Any]) -> str:
    """JSON of a manifest, one line per file, tap format and frame (diffable, compact)."""
    one_per_line = ("files", "tap_formats", "frames")
    parts = []
    for key, value in manifest.items():
        if key in one_per_line and isinstance(value, dict):
            body = ",\n".join(f"  {json.dumps(k)}: {json.dumps(v)}" for k, v in value.items())
            parts.append(f" {json.dumps(key)}: {{\n{body}\n }}")
        elif key in one_per_line:
            body = ",\n".join(f"  {json.dumps(v)}" for v in value)
            parts.append(f" {json.dumps(key)}: [\n{body}\n ]")
        else:
            parts.append(f" {json.dumps(key)}: {json.dumps(value)}")
    return "{\n" + ",\n".join(parts) + "\n}\n"
