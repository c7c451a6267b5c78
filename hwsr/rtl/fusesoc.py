"""``hwsr_engine.core``: the emitted engine as a FuseSoC core (CAPI2), for FuseSoC/edalize flows.

Written by ``hwsr rtl`` beside ``files.f``, from the same file list, so a source added to
the emitted folder is in the core too. Its parts:

* filesets: ``rtl`` (the design sources in ``files.f``'s order), ``images`` (every memory
  image ``$readmemh`` reads, copied to the same relative path in the tool's work folder,
  where ``ROM_DIR``'s default ``rom/`` finds them) and ``tb`` (the plain testbench);
* targets (edalize's flow API): ``default`` (the engine: ``hwsr_engine``), ``sim`` (Icarus,
  the testbench with the lane-packed MAC sums), ``sim_verilator`` (Verilator ``--binary``,
  the plain sums) and ``lint`` (``verilator --lint-only -Wall`` on the engine);
* parameters: the testbench's ``FRAME``/``STALL``/``SEED`` plusargs, ``MAXPIX``, ``ROM_DIR``
  (the engine's own in ``default`` only where it has one: the ROM engine).

The core is data (a nested mapping) written as block YAML; its name is the VLNV
``hwsr:engine:<model>:<hwsr version>``::

    fusesoc --cores-root RTL run --target sim hwsr:engine:hwsr-s \\
        --FRAME=$PWD/golden/hwsr-s/noise --STALL=25
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from pathlib import PurePosixPath
from typing import Any

from hwsr import __version__

CORE_FILE = "hwsr_engine.core"
PREAMBLE = "CAPI=2:"
VENDOR, LIBRARY = "hwsr", "engine"
IMAGE_SUFFIXES = (".hex",)  # memory images: $readmemh'd, copied beside the simulator
_PLAIN = re.compile(r"[A-Za-z_][\w./-]*")  # a YAML plain scalar that reads back as this string
_RESERVED = {"true", "false", "yes", "no", "on", "off", "y", "n", "null", "~"}

PARAMETERS: dict[str, dict[str, Any]] = {
    "FRAME": {"datatype": "str", "paramtype": "plusarg",
              "description": "absolute path of a golden frame folder (input.hex and the taps)"},
    "STALL": {"datatype": "int", "paramtype": "plusarg",
              "description": "percent of input bubbles and output back-pressure (default 0)"},
    "SEED": {"datatype": "int", "paramtype": "plusarg",
             "description": "seed of the stall pattern (default 1)"},
    "MAXPIX": {"datatype": "int", "paramtype": "vlogparam",
               "description": "largest frame of the testbench in LR pixels (default 8192)"},
    "ROM_DIR": {"datatype": "str", "paramtype": "vlogparam",
                "description": "folder of the memory images, with a trailing slash, relative "
                               "to where the simulator runs (default rom/)"},
    "HWSR_PACKED_MAC": {"datatype": "bool", "paramtype": "vlogdefine", "default": True,
                        "description": "lane-packed MAC sums: the same sums, faster in Icarus"},
}
TB_PARAMETERS = ["FRAME", "STALL", "SEED", "MAXPIX", "ROM_DIR"]


def vlnv(source: str) -> str:
    """The core's name: ``hwsr:engine:<model>:<hwsr version>``, the model named by the last
    part of ``source`` (a zoo name or a path), reduced to the characters a VLNV allows.

    >>> vlnv("hwsr-s")
    'hwsr:engine:hwsr-s:0.1.0'
    """
    stem = PurePosixPath(source.replace("\\", "/")).stem if source else ""
    name = re.sub(r"[^A-Za-z0-9_.-]", "_", stem) or "engine"
    return f"{VENDOR}:{LIBRARY}:{name}:{__version__}"


def core_data(files: Mapping[str, str], source: str, top_file: str,
              tb_file: str) -> dict[str, Any]:
    """The core as data, from the emitted folder's files (relative path → text), the top
    level's and the testbench's file names (each file's module is named as the file)."""
    sources = files["files.f"].split()
    images = sorted(rel for rel in files if rel.endswith(IMAGE_SUFFIXES))
    top = PurePosixPath(top_file).stem
    sim = {"filesets": ["rtl", "images", "tb"], "toplevel": PurePosixPath(tb_file).stem}
    return {
        "name": vlnv(source),
        "description": f"hwsr dual-stage SR engine, emitted by hwsr rtl from {source or 'a program'}",
        "filesets": {
            "rtl": {"files": sources, "file_type": "verilogSource"},
            "images": {"files": [{rel: {"copyto": rel}} for rel in images], "file_type": "user"},
            "tb": {"files": [tb_file], "file_type": "verilogSource"},
        },
        "targets": {
            "default": {"filesets": ["rtl", "images"], "toplevel": top,
                        "parameters": ["ROM_DIR"] if "parameter ROM_DIR" in files[top_file] else []},
            "sim": {**sim, "parameters": [*TB_PARAMETERS, "HWSR_PACKED_MAC"], "flow": "sim",
                    "flow_options": {"tool": "icarus", "iverilog_options": ["-g2005"]}},
            "sim_verilator": {**sim, "parameters": TB_PARAMETERS, "flow": "sim",
                              "flow_options": {"tool": "verilator", "mode": "binary",
                                               "verilator_options": ["--timing", "-Wno-fatal"]}},
            "lint": {"filesets": ["rtl"], "toplevel": top,
                     "flow": "lint",
                     "flow_options": {"tool": "verilator", "verilator_options": ["-Wall"]}},
        },
        "parameters": PARAMETERS,
    }


def render_core(files: Mapping[str, str], source: str, top_file: str, tb_file: str) -> str:
    """``hwsr_engine.core``'s text (``CAPI=2:`` then the core as block YAML)."""
    return "\n".join([PREAMBLE, "# written by hwsr rtl beside files.f; see docs/rtl.md",
                      *yaml_lines(core_data(files, source, top_file, tb_file))]) + "\n"


def yaml_lines(node: Any, indent: int = 0) -> list[str]:
    """Block YAML of a tree of mappings, lists, strings, ints and bools (what a core holds).

    >>> yaml_lines({"a": ["x", {"b": True}], "c": "no"})
    ['a:', '  - x', '  - b: true', 'c: "no"']
    """
    pad = " " * indent
    if isinstance(node, Mapping):
        out = []
        for key, value in node.items():
            head = f"{pad}{_scalar(str(key))}:"
            if _is_leaf(value):
                out.append(f"{head} {_scalar(value)}")
            else:
                out += [head, *yaml_lines(value, indent + 2)]
        return out
    out = []
    for item in node:
        if _is_leaf(item):
            out.append(f"{pad}- {_scalar(item)}")
        else:
            first, *rest = yaml_lines(item, indent + 2)
            out += [f"{pad}- {first.lstrip()}", *rest]
    return out


def _is_leaf(value: Any) -> bool:
    return not isinstance(value, (Mapping, list, tuple)) or len(value) == 0


def _scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, (Mapping, list, tuple)):  # empty
        return "{}" if isinstance(value, Mapping) else "[]"
    text = str(value)
    if _PLAIN.fullmatch(text) and text.lower() not in _RESERVED:
        return text
    return json.dumps(text)  # a JSON string is a YAML double-quoted scalar
