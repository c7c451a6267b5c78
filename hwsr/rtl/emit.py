"""``hwsr rtl``: write the engine's Verilog, ROM images, file list and testbench as one folder.

The folder (built beside its destination and swapped in whole by ``hwsr.atomic``)::

    hwsr_window.v hwsr_conv.v hwsr_residual.v   the leaf modules (fixed, from the package;
                  folded: hwsr_window.v hwsr_fifo.v hwsr_mac.v hwsr_residual.v)
    hwsr_engine.v                 the generated top level (instances and wiring)
    tb_engine.v                   the plain $readmemh testbench of this engine
    files.f                       the design's sources in compile order (not the testbench)
    rom/<stage>.layer<i>.{weight,bias,shift}.hex   ROM images (hwsr.rom), $readmemh'd
    design.json                   the design: stages, layers, taps, MAXW, derived figures, hash

The folded engine adds its memories' load image and the preload option (simulation, FPGA)::

    rom/load.hex                  the program as the load port's write sequence (hwsr.rtl.load)
    rom/unit<NN>.{weight,bias,shift}.hex   each MAC unit's memories, for the preload
    hwsr_preload.v                defines the preload; files_preload.f = it, then files.f's

``design.json``'s ``hash`` covers every file above: simulator builds are keyed by it, so a
changed weight or parameter never reuses a stale build.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from hwsr.atomic import atomic_dir
from hwsr.folding import FoldPlan, plan_json
from hwsr.program import EngineProgram
from hwsr.rom import rom_images
from hwsr.rtl.axis_top import AXIS_FILES
from hwsr.rtl.design import (
    DESIGN_FILE,
    PRELOAD_FILE,
    PRELOAD_LIST,
    EngineDesign,
    RtlError,
    engine_design,
    stages_json,
)
from hwsr.rtl.fold import fold_roms, folded_units
from hwsr.rtl.fusesoc import CORE_FILE, render_core
from hwsr.rtl.load import LOAD_FILE, load_image, load_map
from hwsr.rtl.tb import render_tb
from hwsr.rtl.tb_top import axis_files
from hwsr.rtl.tb_video import TB_VIDEO_FILE, render_tb_video
from hwsr.rtl.top import render_top
from hwsr.rtl.top_fold import render_folded_top

log = logging.getLogger(__name__)
LEAF_MODULES = ("hwsr_window.v", "hwsr_conv.v", "hwsr_residual.v")
FOLDED_MODULES = ("hwsr_window.v", "hwsr_fifo.v", "hwsr_mac.v", "hwsr_residual.v")
_INCLUDE = re.compile(r'^`include "([\w.]+)"\n', re.MULTILINE)
TOP_FILE = "hwsr_engine.v"
TB_FILE = "tb_engine.v"


@dataclass(frozen=True)
class EmittedRtl:
    """An emitted engine folder."""

    folder: Path  # where it was written
    design: EngineDesign  # what it holds
    digest: str  # sha256 over every emitted file (the build key)
    plan: FoldPlan | None = None  # the folding (None: one pixel per clock)

    @property
    def sources(self) -> list[Path]:
        """Design sources in compile order."""
        return [self.folder / n for n in (*leaf_modules(self.plan), TOP_FILE, *AXIS_FILES)]

    @property
    def sim_sources(self) -> list[Path]:
        """Sources of a simulation that starts with the memories preloaded (the folded
        engine: ``hwsr_preload.v`` first; the one-pixel-per-clock engine has ROMs)."""
        folded = self.plan is not None and not self.plan.full
        return [self.folder / PRELOAD_FILE] * folded + self.sources

    @property
    def rom_dir(self) -> str:
        """ROM_DIR parameter value: the rom/ folder with a trailing slash."""
        return f"{(self.folder / 'rom').resolve()}/"


def leaf_source(name: str) -> str:
    """Text of a leaf module kept as package data, its `` `include`` lines pasted in (the
    emitted files stand alone: no include path to set in any tool)."""
    text = resources.files("hwsr.rtl").joinpath("verilog", name).read_text()
    return _INCLUDE.sub(lambda m: leaf_source(m.group(1)), text)


def leaf_modules(plan: FoldPlan | None) -> tuple[str, ...]:
    """The fixed modules of an engine: one-pixel-per-clock (no plan, or ``full``) or folded."""
    return LEAF_MODULES if plan is None or plan.full else FOLDED_MODULES


def design_files(program: EngineProgram, max_width: int, source: str = "",
                 tb_max_pixels: int = 8192,
                 plan: FoldPlan | None = None,
                 raster: bool = True) -> tuple[EngineDesign, dict[str, str]]:
    """Every emitted file (relative path → text) except ``design.json``; ``plan`` (not
    ``full``) emits the folded engine, ``raster`` the HR raster stage in ``hwsr_top``."""
    design = engine_design(program, max_width)
    leaves = leaf_modules(plan)
    files = {name: leaf_source(name) for name in leaves}
    files["files.f"] = "".join(f"{n}\n" for n in (*leaves, TOP_FILE, *AXIS_FILES))
    load = None
    if plan is None or plan.full:
        files[TOP_FILE] = render_top(design, source)
    else:
        units = folded_units(plan, design)
        load = load_map(units)
        files[TOP_FILE] = render_folded_top(design, units, source)
        files.update(fold_roms(program, units))
        files[LOAD_FILE] = load_image(program, units)
        files[PRELOAD_FILE] = leaf_source(PRELOAD_FILE)
        files[PRELOAD_LIST] = f"{PRELOAD_FILE}\n" + files["files.f"]
    wr_addr_bits = load["addr_bits"] if load else 0
    files[TB_FILE] = render_tb(design, tb_max_pixels, load)
    files[TB_VIDEO_FILE] = render_tb_video(design, tb_max_pixels, wr_addr_bits)
    files.update(axis_files(design, raster, source, tb_max_pixels, wr_addr_bits))
    files.update(rom_images(program))
    files[CORE_FILE] = render_core(files, source, TOP_FILE, TB_FILE)  # FuseSoC core
    return design, files


def digest_of(files: dict[str, str]) -> str:
    h = hashlib.sha256()
    for rel in sorted(files):
        h.update(rel.encode() + b"\0" + files[rel].encode() + b"\0")
    return h.hexdigest()


def design_json(design: EngineDesign, digest: str, source: str,
                plan: FoldPlan | None = None) -> dict[str, Any]:
    """``design.json``: the design's parameters, the figures the RTL implies, the plan and
    (folded) the load port's address map (:func:`hwsr.rtl.load.load_map`)."""
    load = ({} if plan is None or plan.full else
            {"load": load_map(folded_units(plan, design))})
    return {**({} if plan is None else {"plan": plan_json(plan)}), **load,
        "schema": "hwsr.rtl", "version": 1, "source": source, "hash": digest,
        "max_width": design.max_width, "upscale": design.upscale,
        "linebuffer_bits": design.linebuffer_bits(),
        "stages": stages_json(design),
        "taps": [ly.tap for ly in design.layers] + [f"{s.name}.out" for s in design.stages],
    }


def emit_rtl(program: EngineProgram, out_dir: str | Path, *, max_width: int = 1280,
             source: str = "", overwrite: bool = False,
             plan: FoldPlan | None = None, tb_max_pixels: int = 8192,
             raster: bool = True) -> EmittedRtl:
    """Write the engine folder for ``program`` at ``out_dir`` atomically (see module doc).

    An existing ``out_dir`` is replaced only with ``overwrite`` (and only if it is an
    emitted engine folder or empty); a refused program writes nothing.
    """
    dest = Path(out_dir)
    design, files = design_files(program, max_width, source, tb_max_pixels,
                                 plan=plan, raster=raster)  # refusals happen here
    _check_dest(dest, overwrite)
    digest = digest_of(files)
    files[DESIGN_FILE] = json.dumps(design_json(design, digest, source, plan), indent=1) + "\n"
    dest.parent.mkdir(parents=True, exist_ok=True)
    with atomic_dir(dest, overwrite=True) as tmp:  # built beside dest, swapped in whole
        for rel, text in files.items():
            (tmp / rel).parent.mkdir(parents=True, exist_ok=True)
            (tmp / rel).write_text(text)
    log.info("wrote %d files to %s (hash %s)", len(files), dest, digest[:12])
    return EmittedRtl(dest, design, digest, plan)


def _check_dest(dest: Path, overwrite: bool) -> None:
    if not dest.exists():
        return
    if not dest.is_dir():
        raise RtlError(f"{dest}: exists and is not a folder")
    if any(dest.iterdir()) and not overwrite:
        raise RtlError(f"{dest}: already exists (pass --overwrite to replace it)")
    if any(dest.iterdir()) and not (dest / DESIGN_FILE).is_file():
        raise RtlError(f"{dest}: not an emitted engine folder; refusing to replace it")
