"""The package's import graph: no cycle (type-only imports included) and the layers in order.

The graph is read from the source with ``ast``, not by importing: every ``import`` and
``from ... import`` of an ``hwsr`` module counts, at module level, under ``TYPE_CHECKING`` or
inside a function. docs/architecture.md draws the same layers.
"""

from __future__ import annotations

import ast
import os
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "hwsr"

# Lowest first. A module of a listed layer may import its own layer and those below, never
# one above; modules not listed (imageio, zoo helpers, ...) are held by the no-cycle rule only.
LAYERS: tuple[tuple[str, ...], ...] = (
    ("hwsr.fixed", "hwsr.validate", "hwsr.report_model", "hwsr.atomic"),  # the core rules
    ("hwsr.spec",),  # one description of the engine
    ("hwsr.program", "hwsr.report", "hwsr.arch", "hwsr.folding", "hwsr.video_timing"),  # its integers, its cost, its float nets
    ("hwsr.reference", "hwsr.accum", "hwsr.rom"),  # what reads the integer program
    ("hwsr.quant", "hwsr.sim", "hwsr.zoo"),  # Brevitas, the line-buffer engine, the models
    ("hwsr.golden", "hwsr.export", "hwsr.rtl", "hwsr.train", "hwsr.explore",
     "hwsr.cli"),  # the products
)


def module_files(package: Path) -> dict[str, Path]:
    """Dotted module name of every ``.py`` file under ``package`` (links not followed)."""
    out: dict[str, Path] = {}
    for folder, dirs, files in os.walk(package):
        dirs[:] = sorted(d for d in dirs if d != "__pycache__")
        for name in files:
            if not name.endswith(".py"):
                continue
            path = Path(folder) / name
            parts = list(path.relative_to(package.parent).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            out[".".join(parts)] = path
    return out


def _resolve(name: str, modules: dict[str, Path]) -> str | None:
    """The module ``name`` lives in: itself, or the nearest enclosing package/module."""
    while name and name not in modules:
        name = name.rpartition(".")[0]
    return name or None


def _imported(node: ast.AST, module: str, is_package: bool,
              modules: dict[str, Path]) -> list[str]:
    """Dotted names an import statement refers to: ``from a import b`` gives the module
    ``a.b`` where there is one, else ``a`` (a package's own ``__init__`` is not counted when
    only a submodule of it is imported)."""
    if isinstance(node, ast.Import):
        return [a.name for a in node.names]
    if not isinstance(node, ast.ImportFrom):
        return []
    base = node.module or ""
    if node.level:
        parts = module.split(".")
        parts = parts[: len(parts) - node.level + (1 if is_package else 0)]
        base = ".".join([*parts, base] if base else parts)
    return [f"{base}.{a.name}" if f"{base}.{a.name}" in modules else base for a in node.names]


def import_graph(package: Path) -> dict[str, set[str]]:
    """Module → the package's modules it imports, by any import statement at all."""
    modules = module_files(package)
    root = package.name
    graph: dict[str, set[str]] = {}
    for module, path in modules.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        deps: set[str] = set()
        for node in ast.walk(tree):
            for name in _imported(node, module, path.name == "__init__.py", modules):
                if name == root or name.startswith(root + "."):
                    target = _resolve(name, modules)
                    if target is not None and target != module:
                        deps.add(target)
        graph[module] = deps
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle as a path ``[a, b, ..., a]``, or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return path[path.index(nxt):] + [nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        state[node] = 2
        path.pop()
        return None

    for start in sorted(graph):
        if start not in state and (found := visit(start)):
            return found
    return None


def layer_of(module: str) -> int | None:
    for rank, layer in enumerate(LAYERS):
        if any(module == unit or module.startswith(unit + ".") for unit in layer):
            return rank
    return None


def upward_imports(graph: dict[str, set[str]]) -> list[str]:
    """Imports from a listed layer into a higher one, as 'a -> b' lines."""
    bad = []
    for module, deps in sorted(graph.items()):
        rank = layer_of(module)
        for dep in sorted(deps):
            dep_rank = layer_of(dep)
            if rank is not None and dep_rank is not None and dep_rank > rank:
                bad.append(f"{module} -> {dep}")
    return bad


# ---- the package ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def graph() -> dict[str, set[str]]:
    return import_graph(PACKAGE)


def test_the_package_has_no_import_cycle(graph: dict[str, set[str]]) -> None:
    assert "hwsr.sim.engine" in graph and "hwsr.sim.report" in graph  # the walk found it
    assert find_cycle(graph) is None, " -> ".join(find_cycle(graph) or [])


def test_layers_only_import_downwards(graph: dict[str, set[str]]) -> None:
    assert upward_imports(graph) == []


def test_the_fixed_point_core_imports_nothing_of_hwsr(graph: dict[str, set[str]]) -> None:
    assert graph["hwsr.fixed"] == set()


def test_the_reports_hold_plain_data(graph: dict[str, set[str]]) -> None:
    """The simulator's report knows neither the engine nor its stages (data flows one way)."""
    assert not {m for m in graph["hwsr.sim.report"] if m.startswith("hwsr.sim.")}
    assert graph["hwsr.report_model"] == set()


# ---- the checks themselves can fail ----------------------------------------------------------


def _package(tmp_path: Path, files: dict[str, str]) -> Path:
    root = tmp_path / "hwsr"
    for rel, text in {"__init__.py": "", **files}.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text, encoding="utf-8")
    return root


def test_a_type_only_cycle_is_found(tmp_path: Path) -> None:
    root = _package(tmp_path, {
        "sim/__init__.py": "",
        "sim/engine.py": "from hwsr.sim.report import SimReport\n",
        "sim/report.py": ("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n"
                          "    from .engine import EngineSim\n"),
    })
    cycle = find_cycle(import_graph(root))
    assert cycle is not None and set(cycle) == {"hwsr.sim.engine", "hwsr.sim.report"}


def test_a_lazy_cycle_through_a_package_is_found(tmp_path: Path) -> None:
    root = _package(tmp_path, {
        "fixed.py": "def f():\n    import hwsr.spec\n",
        "spec.py": "from hwsr import fixed\n",
    })
    assert find_cycle(import_graph(root)) is not None


def test_an_upward_import_is_found(tmp_path: Path) -> None:
    root = _package(tmp_path, {"spec.py": "from hwsr.sim.engine import EngineSim\n",
                               "sim/__init__.py": "", "sim/engine.py": ""})
    graph = import_graph(root)
    assert find_cycle(graph) is None
    assert upward_imports(graph) == ["hwsr.spec -> hwsr.sim.engine"]


# ---- the stage list -------------------------------------------------------------------------


def stage_list_literals(package: Path) -> list[str]:
    """Places outside ``hwsr/spec.py`` that spell the engine's stage list out again."""
    want = {"dual", "net1", "net2"}
    found = []
    for module, path in sorted(module_files(package).items()):
        if module == "hwsr.spec":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Tuple | ast.List | ast.Set) and len(node.elts) == 3 and {
                    getattr(e, "value", None) for e in node.elts} == want:
                found.append(f"{path.relative_to(package.parent)}:{node.lineno}")
    return found


# Packages written while the stage list moved to hwsr.spec; each still spells it out. Once they
# import hwsr.spec.STAGES this tuple is emptied and the test below passes outright.
BEING_MERGED: tuple[str, ...] = ()


def test_the_stage_list_is_defined_once() -> None:
    """``hwsr.spec.STAGES`` is the list; everything else imports it (or ``stage_names``)."""
    found = stage_list_literals(PACKAGE)
    assert [f for f in found if not f.startswith(BEING_MERGED)] == []
    if found:
        pytest.xfail(f"stage list still spelled out in {', '.join(found)}: import "
                     "hwsr.spec.STAGES there")


def test_a_second_stage_list_is_found(tmp_path: Path) -> None:
    root = _package(tmp_path, {"spec.py": 'STAGES = ("dual", "net1", "net2")\n',
                               "cli.py": 'CHOICES = ["net2", "dual", "net1"]\n'})
    assert stage_list_literals(root) == ["hwsr/cli.py:1"]
