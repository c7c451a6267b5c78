"""Every document and file the code and the docs point to is in the repository."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
# where references are read from: the code, the configs, the docs and both READMEs
SOURCES = ("hwsr/**/*.py", "tests/*.py", "benchmarks/*.py", "configs/*.toml", "docs/*.md",
           "README.md", "hwsr/README.md")
LINK = re.compile(r"\]\(([^)\s#]+)(?:#[^)]*)?\)")  # a markdown link target
PATH = re.compile(r"(?<![\w/.-])(?!\.\.)((?:[\w.-]+/)+[\w.-]+\.md)\b")  # docs/x.md


def references(path: Path) -> list[tuple[str, Path]]:
    """(as written, resolved) documents ``path`` names: markdown links are relative to the
    file, plain ``folder/name.md`` paths to the repository root."""
    text = path.read_text(encoding="utf-8")
    found: dict[str, Path] = {}
    if path.suffix == ".md":
        for target in LINK.findall(text):
            if not re.match(r"[a-z]+:", target):  # http:, mailto:
                found[target] = (path.parent / target).resolve()
    for target in PATH.findall(text):
        found.setdefault(target, REPO / target)
    return list(found.items())


def source_files() -> list[Path]:
    files = {p for pattern in SOURCES for p in REPO.glob(pattern) if "__pycache__" not in p.parts}
    return sorted(p for p in files if p.name != "test_docs.py")


def missing(files: list[Path]) -> list[str]:
    return [f"{p.relative_to(REPO)}: {written}" for p in files
            for written, target in references(p) if not target.exists()]


def test_references_resolve() -> None:
    files = source_files()
    assert len(files) > 50 and REPO / "docs" / "architecture.md" in files
    assert missing(files) == []


@pytest.mark.parametrize("name", ["design.md", "conventions.md", "architecture.md"])
def test_the_design_documents_are_in_docs(name: str) -> None:
    assert (REPO / "docs" / name).is_file()


def test_a_dangling_reference_is_found(tmp_path: Path) -> None:
    doc = REPO / "docs" / "architecture.md"
    assert references(doc)  # it does point somewhere
    fake = tmp_path / "x.md"
    fake.write_text("See [the plan](nowhere/plan.md) and docs/STYLE.md.\n", encoding="utf-8")
    assert [t for t, p in references(fake) if not p.exists()] == ["nowhere/plan.md",
                                                                    "docs/STYLE.md"]
