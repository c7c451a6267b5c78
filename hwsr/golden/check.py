"""Replaying a golden set: five checks in order, stopping at the first failure with one line.

1. ``manifest.json``: schema, version, required keys, safe paths;
2. every file present, parses as hex of its declared width, word count, sha256 (a changed
   word is located by the manifest's two word sums: file, tap, row, column, channel);
3. ``program.npz`` equals the program the ROM images rebuild, and the named model's program;
4. the line-buffer simulator, re-run on every ``input.hex``, equals every tap (at the default
   block height and at the smallest one, so line-buffer carry is crossed on every row);
5. the whole-frame integer reference, re-run, equals every tap.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from hwsr.atomic import os_words
from hwsr.golden.frames import program_variant
from hwsr.golden.hexfmt import WordFormat, locate_word, parse_text, signed_words, word_sums
from hwsr.golden.names import require_set
from hwsr.golden.taps import (
    LEVELS,
    TapFormat,
    first_difference,
    position_line,
    reference_taps,
    sim_taps,
    stage_list,
    tap_formats,
)
from hwsr.golden.write import MANIFEST, SCHEMA, VERSION
from hwsr.program import EngineProgram, load_program
from hwsr.rom import program_from_roms

_TOP_KEYS = ("model", "variant", "stage", "taps", "program", "frames", "rom", "files")
_FRAME_KEYS = ("name", "height", "width", "level", "taps", "stats")
_HEX_KEYS = ("kind", "sha256", "words", "word_bits", "signed", "per_line", "checksum", "weighted")


class GoldenCheckError(ValueError):
    """The first way a golden set fails its replay, as one line."""


@dataclass(frozen=True)
class CheckResult:
    files: int  # files hashed and parsed
    taps: int  # tap files compared with each executor
    model: str  # the model the program was compared with


def load_manifest(root: Path) -> dict[str, Any]:
    """Step 1: the manifest, refused unless it is this schema and version with every key."""
    require_set(root)  # one wording for a folder that is no set, as hwsr cosim's
    path = root / MANIFEST
    try:
        m = json.loads(path.read_text())
    except OSError as e:
        raise GoldenCheckError(f"{path}: not a readable golden manifest ({_what(e)})") from None
    except ValueError:
        raise GoldenCheckError(f"{path}: not a readable golden manifest (not valid JSON)"
                               ) from None
    if not isinstance(m, dict) or m.get("schema") != SCHEMA:
        raise GoldenCheckError(f"{path}: not an hwsr golden set (schema != {SCHEMA!r})")
    v = m.get("version")
    if not isinstance(v, int) or v > VERSION:
        raise GoldenCheckError(f"{path}: set version {v} is newer than this hwsr reads "
                               f"({VERSION}); upgrade hwsr")
    if v < VERSION:
        raise GoldenCheckError(f"{path}: set version {v} is older than {VERSION}; rewrite it "
                               "with `hwsr golden write --overwrite`")
    _need_keys(m, _TOP_KEYS, path.name)
    for rel, entry in m["files"].items():
        if Path(rel).is_absolute() or ".." in Path(rel).parts:
            raise GoldenCheckError(f"{path.name}: file {rel!r} lies outside the set")
        keys = _HEX_KEYS if rel.endswith(".hex") else ("kind", "sha256")
        _need_keys(entry, keys, f"{path.name}: files[{rel!r}]")
    for i, fr in enumerate(m["frames"]):
        _need_keys(fr, _FRAME_KEYS, f"{path.name}: frames[{i}]")
        if fr["level"] not in LEVELS:
            raise GoldenCheckError(f"{path.name}: frames[{i}]: unknown tap level {fr['level']!r}")
        for tap in ["input", *fr["taps"]]:
            if f"{fr['name']}/{tap}.hex" not in m["files"]:
                raise GoldenCheckError(f"{path.name}: no files entry for {fr['name']}/{tap}.hex")
    return dict(m)


def _what(e: OSError) -> str:
    return os_words(OSError(e.errno, e.strerror))  # the path is named already


def _need_keys(d: Any, keys: tuple[str, ...], where: str) -> None:
    if not isinstance(d, dict):
        raise GoldenCheckError(f"{where}: not a JSON object")
    for k in keys:
        if k not in d:
            raise GoldenCheckError(f"{where}: missing key {k!r}")


def check_files(root: Path, m: dict[str, Any]) -> dict[str, np.ndarray]:
    """Step 2: every file present, hex and word count right, sha256 equal; returns words."""
    words: dict[str, np.ndarray] = {}
    for rel, e in m["files"].items():
        path = root / rel
        if not path.is_file():
            raise GoldenCheckError(f"{rel}: missing")
        data = path.read_bytes()
        if rel.endswith(".hex"):
            fmt = WordFormat(int(e["word_bits"]), bool(e["signed"]), int(e["per_line"]))
            try:
                w = parse_text(data.decode("ascii"), fmt, rel)
            except UnicodeDecodeError:
                raise GoldenCheckError(f"{rel}: not ASCII hex text") from None
            if w.size != e["words"]:
                raise GoldenCheckError(f"{rel}: {w.size} words, manifest says {e['words']}")
            words[rel] = w
        got = hashlib.sha256(data).hexdigest()
        if got != e["sha256"]:
            raise GoldenCheckError(_hash_failure(rel, e, got, words.get(rel), m))
    return words


def _hash_failure(rel: str, e: dict[str, Any], got: str, w: np.ndarray | None,
                  m: dict[str, Any]) -> str:
    """Where a file differs from its manifest entry, as precisely as the sums allow."""
    if w is None:
        return f"{rel}: sha256 {got[:16]}…, manifest says {str(e['sha256'])[:16]}…"
    if word_sums(w) == (e["checksum"], e["weighted"]):
        return (f"{MANIFEST}: files[{rel!r}].sha256 is {str(e['sha256'])[:16]}… but the file "
                f"hashes to {got[:16]}… and its words match the manifest's sums: the "
                "manifest hash (or a comment line) was changed")
    hit = locate_word(w, int(e["checksum"]), int(e["weighted"]), int(e["word_bits"]))
    if hit is None:
        return f"{rel}: words differ from the manifest's sums in more than one place"
    i, want_u = hit
    fmt = WordFormat(int(e["word_bits"]), bool(e["signed"]), int(e["per_line"]))
    want = int(signed_words(np.array([want_u]), fmt)[0])
    have = int(signed_words(w[i : i + 1], fmt)[0])
    return _word_position(rel, i, want, have, e, m)


def _word_position(rel: str, i: int, want: int, have: int, e: dict[str, Any],
                   m: dict[str, Any]) -> str:
    bits = int(e["word_bits"])
    if e["kind"] == "rom":
        mask, digits = (1 << bits) - 1, (bits + 3) // 4
        shape = m["rom"]["files"][rel]["shape"]
        idx = ", ".join(map(str, np.unravel_index(i, shape)))
        return (f"{rel}: ROM word {i} (index {idx}): expected {want} "
                f"(0x{want & mask:0{digits}x}), got {have} (0x{have & mask:0{digits}x})")
    frame, tap = rel.split("/", 1)
    fr = next((f for f in m["frames"] if f["name"] == frame), None)
    if fr is None or e["kind"] not in ("input", "tap", "acc"):
        return f"{rel}: word {i}: expected {want}, got {have}"
    fmt = TapFormat(tap[:-4], bits, bool(e["signed"]), int(e["per_line"]), "", "")
    r = 1
    if fmt.name.endswith(".out"):  # stage output: pixel-shuffled to r times the width
        r = int(m["rom"]["stages"][fmt.name.split(".")[0]]["upscale"])
    width = int(fr["width"]) * r
    if m["stage"] == "dual" and fmt.name.startswith("net2."):
        width *= int(m["rom"]["stages"]["net1"]["upscale"])
    y, x = divmod(i // fmt.channels, width)
    return position_line(rel, fmt, y, x, i % fmt.channels, want, have)


def check_program(root: Path, m: dict[str, Any], model: str | None) -> EngineProgram:
    """Step 3: program.npz equals the ROM images and the named model's program."""
    from hwsr.zoo import load_engine

    program = load_program(root / m["program"])
    roms = program_from_roms(root, m["rom"])
    bad = program_difference(program, roms)
    if bad:
        raise GoldenCheckError(f"rom/ and program.npz differ: {bad}")
    name = model or m["model"]
    try:
        want = program_variant(load_engine(name).program(), m["variant"])
    except (OSError, ValueError) as e:
        raise GoldenCheckError(f"the set was made from model {name!r}, which cannot be loaded "
                               f"here ({e}); pass --model") from None
    bad = program_difference(want, program)
    if bad:
        raise GoldenCheckError(f"program.npz differs from model {name!r} "
                               f"(variant {m['variant']}): {bad}; the set was made from "
                               f"{m['model']!r} as it was then")
    return program


def program_difference(a: EngineProgram, b: EngineProgram) -> str | None:
    """The first entry where two programs differ (``a`` expected), or None."""
    for name in ("net1", "net2"):
        sa, sb = getattr(a, name), getattr(b, name)
        if (sa is None) != (sb is None):
            return f"{name}: present in only one"
        if sa is None:
            continue
        if sa.spec != sb.spec:
            return f"{name}: engine spec"
        for i, (la, lb) in enumerate(zip(sa.layers, sb.layers, strict=True)):
            for key in ("weight", "bias", "weight_frac"):
                x, y = getattr(la, key), getattr(lb, key)
                if x.shape != y.shape:
                    return f"{name}.layer{i}.{key}: shape {y.shape}, expected {x.shape}"
                if not np.array_equal(x, y):
                    at = [int(v) for v in np.argwhere(x != y)[0]]
                    return (f"{name}.layer{i}.{key}{at}: expected {int(x[tuple(at)])}, "
                            f"got {int(y[tuple(at)])}")
            if (la.in_frac, la.out_frac, la.out_type, la.relu) != \
                    (lb.in_frac, lb.out_frac, lb.out_type, lb.relu):
                return f"{name}.layer{i}: formats"
    return None


def _frame_input(words: dict[str, np.ndarray], fr: dict[str, Any]) -> np.ndarray:
    w = words[f"{fr['name']}/input.hex"]
    if w.size != fr["height"] * fr["width"] * 3:
        raise GoldenCheckError(f"{fr['name']}/input.hex: {w.size} words, frame is "
                               f"{fr['width']}x{fr['height']}x3")
    return np.ascontiguousarray(w.reshape(fr["height"], fr["width"], 3).astype(np.uint8))


def _compare(program: EngineProgram, m: dict[str, Any], fr: dict[str, Any],
             words: dict[str, np.ndarray], taps: dict[str, np.ndarray], who: str) -> int:
    n = 0
    for fmt in tap_formats(program, m["stage"], fr["level"]):
        rel = f"{fr['name']}/{fmt.name}.hex"
        want = taps[fmt.name]
        got = signed_words(words[rel], fmt.words)
        if got.size != want.size:
            raise GoldenCheckError(f"{rel}: {got.size} words, {who} gives {want.size}")
        got = got.reshape(want.shape[1], want.shape[2], want.shape[0]).transpose(2, 0, 1)
        bad = first_difference(fmt, got, want, rel)  # expected: the file; got: the re-run
        if bad:
            raise GoldenCheckError(f"{who} re-run differs: {bad}")
        n += 1
    return n


def check_golden(set_dir: str | Path, *, model: str | None = None) -> CheckResult:
    """Replay a golden set (steps in the module docstring); raises at the first failure."""
    root = Path(set_dir)
    m = load_manifest(root)
    words = check_files(root, m)
    program = check_program(root, m, model)
    n = 0
    for fr in m["frames"]:
        frame = _frame_input(words, fr)
        for block_rows in _block_heights(program, m["stage"], frame.shape[0]):
            run = sim_taps(program, m["stage"], frame, fr["level"], block_rows=block_rows)
            n += _compare(program, m, fr, words, run.taps, "simulator")
            if run.stats != fr["stats"]:
                raise GoldenCheckError(f"{MANIFEST}: frame {fr['name']}: simulator counters "
                                       "(acc peak, overflows, saturations) differ")
    for fr in m["frames"]:
        ref = reference_taps(program, m["stage"], _frame_input(words, fr), fr["level"])
        n += _compare(program, m, fr, words, ref, "reference")
    return CheckResult(len(m["files"]), n, model or m["model"])


def _block_heights(program: EngineProgram, stage: str, height: int) -> list[int | None]:
    """The default block, and the smallest one too when the frame spans more than one."""
    halo = max(ly.halo_rows for n in stage_list(stage) for ly in program.stage(n).spec.layers)
    smallest = max(halo, 1)
    return [None, smallest] if height > smallest else [None]
