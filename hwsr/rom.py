"""ROM images of an integer program: weights, biases and shifts as ``$readmemh`` files.

What the RTL loads into each conv layer's coefficient memories. For stage ``S`` (``net1``,
``net2``) and layer ``i`` (0 = nearest the input), paths relative to the golden set's root::

    rom/S.layer<i>.weight.hex   weight_bits-wide two's complement, c_out*c_in*k*k words,
                                address ((o*c_in + ci)*k + ky)*k + kx (order c_out, c_in,
                                ky, kx; kx innermost): W[o, ci, ky, kx] of the program
    rom/S.layer<i>.bias.hex     bias_bits-wide two's complement, c_out words, address o;
                                added to the accumulator (at its frac) before the fit
    rom/S.layer<i>.shift.hex    8-bit two's complement, c_out words, address o: the right
                                shift of channel o's accumulator (negative: left shift),
                                ``in_frac + weight_frac[o] - out_frac``

A file is ``//`` comment lines, then one word per line, ``ceil(bits/4)`` lowercase hex digits,
two's complement masked to the word width; memory address = line index after the comments.

:func:`rom_manifest` describes each file (``word_bits``, ``signed``, ``words``, ``order``,
``shape``, ``formula``) and, per stage, the scalars the RTL hard-wires:

=====================  =====================================================================
stage key              meaning
=====================  =====================================================================
``spec``               the stage's EngineSpec as TOML tables (layers, datapath, r, residual)
``rounding``           every requant shift's rounding: half_up, half_even, floor, toward_zero
``rounding_code``      the same as the simulator's small integer (0, 1, 2, 3)
``acc_bits``           signed accumulator width
``acc_overflow``       a sum outside acc_bits: ``wrap`` (two's complement) or ``saturate``
``saturation``         ``clamp``: every requantized code is clamped to its output range
``upscale``            pixel-shuffle factor r (1 for net1)
``residual``           whether the input pixel (nearest-upsampled) is added after the last layer
``input_frac``         frac bits of the uint8 pixel (8)
``res_frac``           common frac of the residual add
``res_conv_lshift``    left shift of the last layer's output codes before the residual add
``res_in_lshift``      left shift of the input pixel before the residual add
``out_shift``          right shift (rounded, then clamped to 0..255) of the residual sum
``layers``             one dict per layer, below
=====================  =====================================================================

Per layer: ``kernel``, ``c_in``, ``c_out``, ``groups`` and ``dilation`` (present only
where not 1: output channel ``o`` reads the ``c_in/groups`` inputs of its group
``o // (c_out/groups)``, taps ``dilation`` pixels apart; the weight ROM's ``ci`` then counts
within the group), ``relu`` (ReLU after the accumulator fit, before
the shift), ``in_bits``/``in_signed``/``in_frac`` (input codes), ``out_bits``/``out_signed``/
``out_frac`` (output codes), ``weight``/``bias``/``shift`` (the ROM file of each). One output
code of the layer is then::

    acc = fit(sum(W[o,ci,ky,kx] * x[ci, y+ky-k//2, x+kx-k//2]) + bias[o], acc_bits)   # zero pad
    acc = max(acc, 0) if relu
    y   = clamp(round_shift(acc, shift[o]), out range)

:func:`program_from_roms` is the exact inverse of :func:`write_roms`; ``weight_frac[o]`` comes
back as ``shift[o] - in_frac + out_frac``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from hwsr.fixed import FixedType
from hwsr.program import (
    EngineProgram,
    LayerProgram,
    ProgramError,
    StageProgram,
    check_stage,
)
from hwsr.spec import INPUT_FRAC_BITS, SpecError, spec_from_dict, spec_to_dict

ROM_DIR = "rom"
SHIFT_BITS = 8  # width of a shift ROM word: shifts are within -62..62
WEIGHT_ORDER = "c_out,c_in,ky,kx"
CHANNEL_ORDER = "c_out"
STAGES = ("net1", "net2")
I64 = npt.NDArray[np.int64]


class RomError(ValueError):
    """A ROM image or ROM manifest that is missing, malformed or off the program's widths."""


def hex_words(words: npt.ArrayLike, bits: int, title: str) -> str:
    """``$readmemh`` text: a ``//`` title line, then one two's-complement word per line.

    >>> print(hex_words([1, -1, -128], 8, "w"), end="")
    // w: 3 words, 8-bit two's complement, address = line index after the comments
    01
    ff
    80
    """
    a = np.asarray(words, dtype=np.int64).ravel()
    digits = (bits + 3) // 4
    mask = (1 << bits) - 1
    body = "\n".join(f"{int(v) & mask:0{digits}x}" for v in a)
    head = f"// {title}: {a.size} words, {bits}-bit two's complement, " \
           "address = line index after the comments"
    return f"{head}\n{body}\n" if a.size else f"{head}\n"


def parse_words(text: str, bits: int, where: str) -> I64:
    """Signed words of ``$readmemh`` text written by :func:`hex_words`; refuses bad lines.

    >>> parse_words("// c\\nff\\n7f\\n", 8, "x").tolist()
    [-1, 127]
    """
    digits = (bits + 3) // 4
    vals = []
    for n, line in enumerate(text.splitlines(), 1):
        word = line.strip()
        if not word or word.startswith("//"):
            continue
        if len(word) != digits or any(c not in "0123456789abcdefABCDEF" for c in word):
            raise RomError(f"{where}: line {n}: {word[:20]!r} is not a {digits}-digit hex word")
        v = int(word, 16)
        if v >> bits:
            raise RomError(f"{where}: line {n}: {word} does not fit {bits} bits")
        vals.append(v - (1 << bits) if v >> (bits - 1) else v)
    return np.array(vals, dtype=np.int64)


def _paths(stage: str, i: int) -> dict[str, str]:
    return {kind: f"{ROM_DIR}/{stage}.layer{i}.{kind}.hex" for kind in ("weight", "bias", "shift")}


def _stages(program: EngineProgram) -> list[tuple[str, StageProgram]]:
    return [(n, s) for n in STAGES if (s := getattr(program, n)) is not None]


def rom_images(program: EngineProgram) -> dict[str, str]:
    """Every ROM file of ``program``: path relative to the set root → ``$readmemh`` text."""
    out: dict[str, str] = {}
    for name, sp in _stages(program):
        dp = sp.spec.datapath
        for i, lp in enumerate(sp.layers):
            p = _paths(name, i)
            c_out, c_in, k, _ = lp.weight.shape
            out[p["weight"]] = hex_words(lp.weight, dp.weight_bits,
                                         f"{name}.layer{i} weights ({c_out},{c_in},{k},{k}), "
                                         f"order {WEIGHT_ORDER}, kx innermost")
            out[p["bias"]] = hex_words(lp.bias, dp.bias_bits, f"{name}.layer{i} biases per c_out")
            out[p["shift"]] = hex_words(lp.shift, SHIFT_BITS,
                                        f"{name}.layer{i} right shifts per c_out (<0: left)")
    return out


def _file_entries(name: str, i: int, lp: LayerProgram, sp: StageProgram) -> dict[str, Any]:
    dp, p = sp.spec.datapath, _paths(name, i)
    c_out, c_in, k, _ = lp.weight.shape
    c_in_name = "c_in" if lp.groups == 1 else "(c_in/groups)"  # inputs of one group
    return {
        p["weight"]: {"word_bits": dp.weight_bits, "signed": True, "words": lp.weight.size,
                      "order": WEIGHT_ORDER, "shape": [c_out, c_in, k, k],
                      "formula": f"W[o,ci,ky,kx] = sext(word[((o*{c_in_name}+ci)*k+ky)*k+kx], "
                                 "word_bits)"},
        p["bias"]: {"word_bits": dp.bias_bits, "signed": True, "words": c_out,
                    "order": CHANNEL_ORDER, "shape": [c_out],
                    "formula": "bias[o] = sext(word[o], word_bits)"},
        p["shift"]: {"word_bits": SHIFT_BITS, "signed": True, "words": c_out,
                     "order": CHANNEL_ORDER, "shape": [c_out],
                     "formula": "shift[o] = sext(word[o], word_bits); "
                                "weight_frac[o] = shift[o] - in_frac + out_frac"},
    }


def _layer_scalars(name: str, i: int, lp: LayerProgram, sp: StageProgram) -> dict[str, Any]:
    c_out, _, k, _ = lp.weight.shape
    t_in = sp.in_type(i)
    # groups and dilation only where they are not 1: a plain layer's entry is as it was
    shape = {key: getattr(lp, key) for key in ("groups", "dilation") if getattr(lp, key) != 1}
    return {"kernel": k, "c_in": lp.c_in, "c_out": c_out, **shape, "relu": lp.relu,
            "in_bits": t_in.width, "in_signed": t_in.signed, "in_frac": lp.in_frac,
            "out_bits": lp.out_type.width, "out_signed": lp.out_type.signed,
            "out_frac": lp.out_frac, **_paths(name, i)}


def stage_scalars(sp: StageProgram) -> dict[str, Any]:
    """The stage-level parameters the RTL hard-wires (keys in the module docstring)."""
    dp = sp.spec.datapath
    return {"spec": spec_to_dict(sp.spec), "rounding": dp.rounding.value,
            "rounding_code": dp.rounding.code, "acc_bits": dp.acc_bits,
            "acc_overflow": dp.acc_overflow.value, "saturation": "clamp",
            "upscale": sp.spec.upscale, "residual": sp.spec.residual,
            "input_frac": INPUT_FRAC_BITS, "res_frac": sp.res_frac,
            "res_conv_lshift": sp.res_conv_lshift, "res_in_lshift": sp.res_in_lshift,
            "out_shift": sp.out_shift}


def rom_manifest(program: EngineProgram) -> dict[str, Any]:
    """Manifest part of the ROM images: ``files`` (per path) and ``stages`` (scalars, layers)."""
    files: dict[str, Any] = {}
    stages: dict[str, Any] = {}
    for name, sp in _stages(program):
        layers = []
        for i, lp in enumerate(sp.layers):
            files.update(_file_entries(name, i, lp, sp))
            layers.append(_layer_scalars(name, i, lp, sp))
        stages[name] = {**stage_scalars(sp), "layers": layers}
    return {"files": files, "stages": stages}


def write_roms(program: EngineProgram, folder: Path) -> dict[str, Any]:
    """Write every ROM file under ``folder`` (the set root; files go to ``rom/``).

    Not atomic by itself: the caller builds ``folder`` beside its destination and renames it.
    Returns :func:`rom_manifest`.
    """
    for rel, text in rom_images(program).items():
        path = Path(folder) / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return rom_manifest(program)


def _read_rom(folder: Path, rel: str, files: dict[str, Any]) -> I64:
    entry = files.get(rel)
    if not isinstance(entry, dict):
        raise RomError(f"ROM manifest: no entry for {rel}")
    path = Path(folder) / rel
    try:
        text = path.read_text()
    except (OSError, UnicodeDecodeError) as e:
        raise RomError(f"{path}: cannot read ROM image ({type(e).__name__})") from None
    try:
        bits, words, shape = int(entry["word_bits"]), int(entry["words"]), entry["shape"]
    except (KeyError, TypeError, ValueError) as e:
        raise RomError(f"ROM manifest: {rel}: bad or missing key {e}") from None
    vals = parse_words(text, bits, str(path))
    if vals.size != words or int(np.prod(shape)) != words:
        raise RomError(f"{path}: {vals.size} words, manifest says {words} (shape {shape})")
    return vals.reshape(shape)


def _layer_from(folder: Path, m: dict[str, Any], files: dict[str, Any]) -> LayerProgram:
    weight = _read_rom(folder, m["weight"], files)
    bias = _read_rom(folder, m["bias"], files)
    shift = _read_rom(folder, m["shift"], files)
    in_frac, out_frac = int(m["in_frac"]), int(m["out_frac"])
    out_type = FixedType(int(m["out_bits"]), out_frac, bool(m["out_signed"]))
    return LayerProgram(weight=weight, bias=bias, in_frac=in_frac,
                        weight_frac=(shift - in_frac + out_frac).astype(np.int64),
                        out_frac=out_frac, out_type=out_type, relu=bool(m["relu"]),
                        groups=int(m.get("groups", 1)), dilation=int(m.get("dilation", 1)))


def program_from_roms(folder: Path, rom_manifest: dict[str, Any]) -> EngineProgram:
    """Rebuild the integer program from the ROM files under ``folder`` and their manifest.

    The exact inverse of :func:`write_roms`; any defect is one :class:`RomError` line.
    """
    try:
        files, stages_m = rom_manifest["files"], rom_manifest["stages"]
        stages = {}
        for name in STAGES:
            if name not in stages_m:
                continue
            sm = stages_m[name]
            spec = spec_from_dict(sm["spec"], source=f"ROM manifest [{name}]")
            layers = tuple(_layer_from(folder, m, files) for m in sm["layers"])
            stage = StageProgram(spec=spec, layers=layers)
            check_stage(stage, f"ROM images [{name}]")
            stages[name] = stage
    except (KeyError, TypeError) as e:
        raise RomError(f"ROM manifest: bad or missing key {e}") from None
    except (SpecError, ProgramError) as e:
        raise RomError(str(e)) from None
    if "net2" not in stages:
        raise RomError("ROM manifest: no net2 stage")
    return EngineProgram(net2=stages["net2"], net1=stages.get("net1"))

