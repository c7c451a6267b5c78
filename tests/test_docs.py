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


# ---- facts the README and the docs state, held to their source -----------------------------

CONFIG = re.compile(r"configs/[\w./-]+\.toml")


def readme_commands(text: str) -> list[str]:
    """The shell lines of the README's "Two commands" section (what .ci/run runs)."""
    section = text.split("\n## Two commands\n", 1)[1].split("\n## ", 1)[0]
    return [line for block in section.split("```")[1::2] for line in block.splitlines()[1:]
            if line.strip()]


def test_ci_runs_the_readme_commands_as_written() -> None:
    commands = readme_commands((REPO / "README.md").read_text(encoding="utf-8"))
    assert len(commands) == 2 and all(c.startswith("python3 -m pip install") for c in commands)
    ci = (REPO / ".ci" / "run").read_text(encoding="utf-8")
    assert "## Two commands" in ci and "README.md" in ci
    assert not any(c in ci for c in commands), "CI must read the commands, not copy them"


@pytest.mark.parametrize("doc", ["README.md", "hwsr/README.md", *sorted(
    str(p.relative_to(REPO)) for p in (REPO / "docs").glob("*.md"))])
def test_named_configs_exist(doc: str) -> None:
    named = set(CONFIG.findall((REPO / doc).read_text(encoding="utf-8")))
    assert sorted(c for c in named if not (REPO / c).is_file()) == []


def test_the_readme_qcdq_count_is_the_measured_one() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    table = (REPO / "docs" / "export.md").read_text(encoding="utf-8")
    stated = re.search(r"\(([\d,]+) of 51,840 on a 48×40 real crop", readme)
    row = re.search(r"\| crf24 crop 48×40 \| net2 \| 51,840 \| ([\d,]+) \|", table)
    assert stated and row and stated.group(1) == row.group(1)


def test_golden_doc_states_the_shipped_accumulator_width() -> None:
    import tomllib

    spec = tomllib.loads((REPO / "models" / "hwsr-s" / "engine.toml").read_text())
    text = (REPO / "docs" / "golden.md").read_text(encoding="utf-8")
    stated = re.search(r"acc_bits \((\d+) in hwsr-s\)", text)
    assert stated and int(stated.group(1)) == spec["datapath"]["acc_bits"]
