"""The one report model of hwsr: a tree of plain numbers, its JSON form and its text table.

Two reports describe the engine: the static budget of a spec (:mod:`hwsr.report`: what the
silicon will cost) and what the line-buffer simulator allocated and saw
(:mod:`hwsr.sim.report`). Both are the same kind of tree, engine → stages → layers, of frozen
dataclasses holding plain numbers and names (never a reference to the simulator or the spec
that produced them), and both render through this module:

* JSON: every field in declaration order, a tuple of child nodes as a list of their dicts;
  :meth:`ReportNode.from_json_dict` reads the same dict back into equal nodes;
* text: right-aligned fixed-width columns (:class:`Columns`).

The cost formulas the figures come from (line-buffer bits, latency cycles, MAC rate) have
their one home in :mod:`hwsr.report`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, fields
from typing import Any, ClassVar, Self

BITS_PER_KIB = 8 * 1024


class ReportNode:
    """Base of every report dataclass: the JSON round trip over its fields and children.

    ``CHILDREN`` maps the fields that hold a tuple of child nodes to the child class.

    >>> @dataclass(frozen=True)
    ... class Leaf(ReportNode):
    ...     bits: int
    >>> @dataclass(frozen=True)
    ... class Tree(ReportNode):
    ...     CHILDREN = {"leaves": Leaf}
    ...     name: str
    ...     leaves: tuple[Leaf, ...]
    >>> d = Tree("t", (Leaf(8), Leaf(16))).to_json_dict()
    >>> d, Tree.from_json_dict(d) == Tree("t", (Leaf(8), Leaf(16)))
    ({'name': 't', 'leaves': [{'bits': 8}, {'bits': 16}]}, True)
    """

    __dataclass_fields__: ClassVar[dict[str, Any]]  # every subclass is a dataclass
    CHILDREN: ClassVar[dict[str, type[ReportNode]]] = {}

    def to_json_dict(self) -> dict[str, Any]:
        """Plain dict of lists and numbers (``json.dumps`` takes it as it is)."""
        return {f.name: _json_value(getattr(self, f.name), f.name in self.CHILDREN)
                for f in fields(self)}

    @classmethod
    def from_json_dict(cls, d: dict[str, Any]) -> Self:
        """The node (and its children) from :meth:`to_json_dict`'s dict."""
        children = {name: tuple(kind.from_json_dict(c) for c in d[name])
                    for name, kind in cls.CHILDREN.items()}
        return cls(**{**d, **children})


def _json_value(value: Any, is_children: bool) -> Any:
    return [child.to_json_dict() for child in value] if is_children else value


def total(nodes: Iterable[Any], name: str) -> int:
    """Sum of the integer field ``name`` over report nodes (a stage's layers, an engine's
    stages): what adds up when parts of the engine exist at once."""
    return sum(getattr(n, name) for n in nodes)


def peak(nodes: Iterable[Any], name: str) -> int:
    """Largest value of the field ``name`` over report nodes (accumulator peaks)."""
    return max(getattr(n, name) for n in nodes)


@dataclass(frozen=True)
class Columns:
    """Right-aligned fixed-width text columns: a header and one row per layer or total.

    >>> cols = Columns(("layer", "bits"), (6, 5))
    >>> cols.header(), cols.row(("0", "72"))
    (' layer   bits', '     0     72')
    """

    titles: tuple[str, ...]  # column headings
    widths: tuple[int, ...]  # characters per column

    def row(self, cells: Sequence[str]) -> str:
        return "  ".join(c.rjust(w) for c, w in zip(cells, self.widths, strict=True)).rstrip()

    def header(self) -> str:
        return self.row(self.titles)
