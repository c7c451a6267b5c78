"""Loading a program into the folded engine: the write-address map and the load image.

Every weight, bias and shift memory of the folded engine is a RAM written through one port
of ``hwsr_engine`` (``wr_en``, ``wr_addr[WR_ADDR_BITS-1:0]``, ``wr_data[31:0]``; one write
per clock where ``wr_en`` is high). A write address is four fields, most significant first::

    {unit, memory, word, slice}
     unit     the MAC unit (mac_l0 = 0, ... in layer order; Net1's then Net2's when separate)
     memory   0 weight, 1 bias, 2 shift (3: no memory)
     word     the word of that memory (bank 0 = Net1's words, then bank 1 = Net2's)
     slice    which 32 bits of the word: slice s is bits [32s +: 32]

The field widths are the engine's (its widest unit's) and are written, with every memory's
depth and width, into ``design.json``'s ``load`` map; a write outside a memory does nothing.
The words are the ones the unit reads (:func:`hwsr.rtl.fold.unit_rows`), the same data as
the preload images. Writes take effect at the next clock edge and are meant for an idle
engine: between frames (after the last output block, before the next frame's first pixel)
or in reset. A write while a frame is in flight changes the weights of the pixels the unit
computes from then on: that frame's output is a mix of two programs.

The load image (``rom/load.hex``) is the whole program as its write sequence: a header line
``// hwsr load image: layout <id> writes <n>`` (``id``: 16 hex digits naming the map), then
one ``<address> <data>`` pair of hex numbers per line, in address order.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from hwsr.folding import plan_of_shapes
from hwsr.program import EngineProgram
from hwsr.rtl.design import DESIGN_FILE, RtlError, engine_design, stages_json
from hwsr.rtl.fold import (
    MEMORIES,
    WR_DATA_BITS,
    FoldedUnit,
    folded_units,
    unit_rows,
    word_values,
)

LOAD_FILE = "rom/load.hex"
HEADER = "// hwsr load image: layout {layout} writes {writes}"


def load_map(units: tuple[FoldedUnit, ...]) -> dict[str, Any]:
    """design.json's ``load``: the address fields, every unit's memories, the layout id."""
    wr = units[0].wr
    body: dict[str, Any] = {
        "data_bits": WR_DATA_BITS, "addr_bits": wr.addr_bits,
        "fields": {"unit": wr.unit_bits, "memory": wr.MEMORY_BITS, "word": wr.word_bits,
                   "slice": wr.slice_bits},
        "memory_codes": {kind: code for code, kind in enumerate(MEMORIES)},
        "units": [{"unit": fu.unit, "name": fu.name, "taps": [ly.tap for ly in fu.layers],
                   "pe": fu.fold.pe, "simd": fu.fold.simd,
                   "memories": [{"memory": m.kind, "words": m.words, "word_bits": m.word_bits,
                                 "slices": m.slices,
                                 "first_address": wr.address(fu.unit, code, 0, 0)}
                                for code, m in enumerate(fu.memories)]}
                  for fu in units],
    }
    digest = hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()
    return {**body, "layout": digest[:16]}


def load_writes(program: EngineProgram, units: tuple[FoldedUnit, ...]) -> list[tuple[int, int]]:
    """(address, data) of every write that loads ``program``, in address order."""
    out = []
    mask = (1 << WR_DATA_BITS) - 1
    for fu in units:
        rows = unit_rows(program, fu)
        for code, mem in enumerate(fu.memories):
            values, bits = rows[mem.kind]
            for w, word in enumerate(word_values(values, bits)):
                out += [(fu.wr.address(fu.unit, code, w, s), (word >> (WR_DATA_BITS * s)) & mask)
                        for s in range(mem.slices)]
    return out


def load_image(program: EngineProgram, units: tuple[FoldedUnit, ...]) -> str:
    """The text of ``rom/load.hex`` for ``program`` on the engine of ``units``."""
    writes = load_writes(program, units)
    digits = -(-units[0].wr.addr_bits // 4)
    lines = [HEADER.format(layout=load_map(units)["layout"], writes=len(writes))]
    lines += [f"{a:0{digits}x} {d:08x}" for a, d in writes]
    return "\n".join(lines) + "\n"


def _first_difference(want: Any, got: Any, where: str = "") -> str:
    """Where two JSON values first differ, as a short path."""
    if isinstance(want, dict) and isinstance(got, dict):
        for k in want:
            if k not in got or want[k] != got[k]:
                return _first_difference(want[k], got.get(k), f"{where}.{k}" if where else k)
    if isinstance(want, list) and isinstance(got, list):
        if len(want) != len(got):
            return f"{where}: {len(got)} entries where the design has {len(want)}"
        for i, (a, b) in enumerate(zip(want, got, strict=True)):
            if a != b:
                return _first_difference(a, b, f"{where}[{i}]")
    return f"{where}: {str(got)[:60]} where the design has {str(want)[:60]}"


def image_for(folder: str | Path, program: EngineProgram) -> str:
    """The load image of ``program`` for the folded engine emitted at ``folder``: refused
    with one line unless ``program`` has the design's shapes, widths and fixed parameters
    (everything but the memories' contents: a fine-tune, not another network)."""
    path = Path(folder) / DESIGN_FILE
    try:
        design = json.loads(path.read_text())
        plan = design["plan"]
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise RtlError(f"{path}: not a folded engine's design ({e})") from None
    if "load" not in design:
        raise RtlError(f"{path}: not a folded engine's design (no load map)")
    dual = program.net1 is not None
    try:
        new_plan = plan_of_shapes(program.net2.spec, [(u["pe"], u["simd"]) for u in plan["units"]],
                                  shared=plan["shared"], dual=dual)
        engine = engine_design(program, design["max_width"])
        units = folded_units(new_plan, engine)
    except (ValueError, KeyError, TypeError) as e:
        raise RtlError(f"{path}: the program does not fit this design: {e}") from None
    new = {"stages": stages_json(engine), "load": load_map(units)}
    for key in ("stages", "load"):
        if new[key] != design[key]:
            raise RtlError(f"{path}: the program does not fit this design: "
                           f"{_first_difference(design[key], new[key], key)}")
    return load_image(program, units)
