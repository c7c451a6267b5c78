"""The rows file of an exploration: one JSON line per variant, appended all or nothing.

``rows.jsonl`` is the exploration's only record: a rerun skips every variant it holds, and
the report and plot are rebuilt from it alone. A row is appended by rewriting the whole file
atomically (:func:`hwsr.atomic.write_text`), so a run killed at any moment leaves the rows
before it, never half a line. The file is small: one line per variant.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from hwsr.atomic import json_text, write_text
from hwsr.explore.config import ExploreError

ROWS_FILE = "rows.jsonl"
DONE = "done"  # trained and scored
SKIPPED = "skipped"  # over the budget: costed, not trained


def read_rows(out_dir: Path | str) -> list[dict[str, Any]]:
    """Every row of ``out_dir/rows.jsonl`` in order (none when the file does not exist)."""
    path = Path(out_dir) / ROWS_FILE
    if not path.is_file():
        return []
    rows = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as e:
            raise ExploreError(f"{path}:{n}: not a JSON row ({e.msg})") from None
        if not isinstance(row, dict) or row.get("status") not in (DONE, SKIPPED):
            raise ExploreError(f"{path}:{n}: not a row of hwsr explore")
        rows.append(row)
    return rows


def append_row(out_dir: Path | str, row: dict[str, Any]) -> None:
    """Add one complete row to ``out_dir/rows.jsonl`` (the old file or the new one, never
    a partial line)."""
    path = Path(out_dir) / ROWS_FILE
    old = path.read_text(encoding="utf-8") if path.is_file() else ""
    if old and not old.endswith("\n"):
        old += "\n"
    write_text(path, old + json_text(row, sort_keys=True))
