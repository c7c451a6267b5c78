"""The exploration's report, ``explore.md`` with its plot ``pareto.svg``, from the rows alone.

Nothing but ``rows.jsonl`` is read: every setting the report states (budget, training
budget, datasets) travels in the rows, so the report can be rebuilt at any time, on any
machine, after a kill or from a copied rows file (``hwsr explore --report-only``).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from hwsr.atomic import atomic_paths
from hwsr.explore.pareto import cost_axes, pareto_front, pareto_svg
from hwsr.explore.rows import DONE, SKIPPED, read_rows

REPORT_FILE = "explore.md"
PLOT_FILE = "pareto.svg"
Row = dict[str, Any]


def _setup(rows: Sequence[Row]) -> list[str]:
    s = rows[0]["settings"]
    b, t, e = s["budget"], s["train"], s["eval"]
    done = sum(r["status"] == DONE for r in rows)
    crop = f"centre {e['crop_lr_px']}² LR crops" if e["crop_lr_px"] else "whole frames"
    frames = f"first {e['frames']}" if e["frames"] else "all"
    sets = ", ".join(f"{n} (`{d}`)" for n, d in e["dirs"].items())
    return [
        f"{len(rows)} variants: {done} trained and scored, {len(rows) - done} over the budget "
        f"(costed, not trained). Base model `{s['base_model']}` (its datapath, scale and "
        "residual; the variant sets widths, kernels and activation bits).",
        "",
        f"* Budget, both stages together: ≤ {b['max_macs_per_lr_px']:,} MACs per LR pixel, "
        f"≤ {b['max_linebuffer_kib']:g} KiB of line buffers at {b['budget_width_px']} px.",
        f"* Training, every variant alike: `{t['config']}` with {t['steps']:,} float + "
        f"{t['qat_steps']:,} QAT steps, batch {t['batch_size']}, seed {t['seed']}"
        + (f", data `{t['data_dir']}`" if t["data_dir"] else "")
        + (f", overrides {', '.join(t['set'])}" if t["set"] else "") + ".",
        f"* Scored on {frames} held-out frames of {sets}, {crop}. Gain: Y-PSNR over bicubic "
        "×3 of video-LR (dB); *int* is the integer program the engine runs, *float* its "
        "float model. *sim*: the line-buffer simulator against the integer reference.",
    ]


def _table(done: Sequence[Row], sets: list[str], widths: list[str]) -> list[str]:
    cols = ["variant", "ch", "kernels", "act bits", "MACs/LR px",
            *[f"LB KiB @{w}" for w in widths], "latency rows",
            *[f"{n} {w}" for n in sets for w in ("float", "int")], "sim"]
    out = ["| " + " | ".join(cols) + " |", "|---|" + "---:|" * (len(cols) - 2) + "---|"]
    for r in sorted(done, key=lambda r: -r["gain_db"][sets[0]]["int"]):
        sim = "exact" if r["sim"]["mismatched_codes"] == 0 else \
            f"**{r['sim']['mismatched_codes']} codes differ**"
        cells = [f"`{r['id']}`", str(r["channels"]), " ".join(map(str, r["kernels"])),
                 str(r["act_bits"]), f"{r['macs_per_lr_px']:,}",
                 *[f"{r['linebuffer_kib'][w]:.1f}" for w in widths], str(r["latency_rows"]),
                 *[f"{r['gain_db'][n][k]:+.3f}" for n in sets for k in ("float", "int")], sim]
        out.append("| " + " | ".join(cells) + " |")
    return out


def _fronts(done: Sequence[Row], sets: list[str]) -> list[str]:
    out = []
    for axis in cost_axes(done[0]["settings"]):
        for n in sets:
            pts = [(axis.value(r), r["gain_db"][n]["int"]) for r in done]
            ids = ", ".join(f"`{done[i]['id']}`" for i in pareto_front(pts))
            out.append(f"* {n}, int gain vs {axis.label}: {ids}")
    return out


def _best(done: Sequence[Row], sets: list[str]) -> list[str]:
    out = []
    for n in sets:
        r = max(done, key=lambda r: r["gain_db"][n]["int"])
        out.append(f"* best at {n}: `{r['id']}` ({r['gain_db'][n]['int']:+.3f} dB int, "
                   f"{r['macs_per_lr_px']:,} MACs/LR px)")
    r = max(done, key=lambda r: min(r["gain_db"][n]["int"] for n in sets))
    gains = ", ".join(f"{r['gain_db'][n]['int']:+.3f} dB at {n}" for n in sets)
    out.append(f"* best at every dataset at once (largest smallest gain): `{r['id']}` ({gains})")
    return out


def format_report(rows: Sequence[Row]) -> str:
    """The markdown report of ``rows``: setup, plot, trained variants, fronts, skipped."""
    lines = ["# Engine design-space exploration (hwsr explore)", ""]
    if not rows:
        return "\n".join([*lines, "No rows yet."]) + "\n"
    lines += [*_setup(rows), "", f"![gain vs MACs and line buffers]({PLOT_FILE})", ""]
    done = [r for r in rows if r["status"] == DONE]
    if done:
        sets = list(done[0]["gain_db"])
        widths = list(done[0]["linebuffer_kib"])
        lines += [f"## Trained variants, by int gain at {sets[0]}", "",
                  *_table(done, sets, widths), "", "## Pareto front", "",
                  *_fronts(done, sets), "", "## Best within the budget", "",
                  *_best(done, sets), ""]
    skipped = [r for r in rows if r["status"] == SKIPPED]
    if skipped:
        lines += ["## Over the budget (not trained)", "", "| variant | MACs/LR px | reason |",
                  "|---|---:|---|"]
        lines += [f"| `{r['id']}` | {r['macs_per_lr_px']:,} | {r['reason']} |" for r in skipped]
        lines.append("")
    return "\n".join(lines)


def write_report(out_dir: Path | str) -> tuple[Path, Path]:
    """Rebuild ``explore.md`` and ``pareto.svg`` in ``out_dir`` from its ``rows.jsonl``;
    the two are published together."""
    rows = read_rows(out_dir)
    paths = (Path(out_dir) / REPORT_FILE, Path(out_dir) / PLOT_FILE)
    with atomic_paths(paths) as (md, svg):
        md.write_text(format_report(rows), encoding="utf-8")
        svg.write_text(pareto_svg(rows), encoding="utf-8")
    return paths
