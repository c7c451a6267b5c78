"""``hwsr explore``: parse, call one function of :mod:`hwsr.explore`, print."""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path

from hwsr.explore.config import ExploreConfig, load_explore_config
from hwsr.explore.rows import ROWS_FILE
from hwsr.explore.summary import REPORT_FILE, write_report


def _config(args: argparse.Namespace) -> ExploreConfig:
    cfg = load_explore_config(args.config)
    changes = {k: v for k, v in (("out_dir", args.out), ("runs_dir", args.runs)) if v}
    return dataclasses.replace(cfg, **changes) if changes else cfg


def cmd_explore(args: argparse.Namespace) -> int:
    """Run the grid (or only plan it, or only rebuild its report)."""
    if args.config is None and not (args.report_only and args.out is not None):
        args.parser.error("--config is required (--report-only takes --config or --out)")
    if args.report_only:
        rows = Path(args.out if args.out is not None else _config(args).out_dir) / ROWS_FILE
        if not rows.is_file():
            raise ValueError(f"{rows}: no rows to report (run hwsr explore first)")
        md, svg = write_report(rows.parent)
        print(f"{md}, {svg}: rebuilt from {rows}")
        return 0
    cfg = _config(args)
    if args.plan:
        from hwsr.explore.runner import plan

        width = str(cfg.budget.budget_width_px)
        for p in plan(cfg):
            state = f"over budget: {p['reason']}" if p["reason"] else "in budget"
            print(f"{p['id']:<24} {p['macs_per_lr_px']:>7,} MACs/LR px "
                  f"{p['linebuffer_kib'][width]:>7.1f} KiB @{width}  "
                  f"{p['latency_rows']:>2} rows  {state}")
        return 0
    from hwsr.explore.runner import explore

    result = explore(cfg, progress=args.progress)
    print(f"{result.out_dir}: {len(result.trained)} variants trained, {len(result.skipped)} "
          f"over budget, {len(result.kept)} kept from before; report "
          f"{Path(result.out_dir) / REPORT_FILE}")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``explore`` to the ``hwsr`` command."""
    p = subparsers.add_parser(
        "explore", help="train and cost a grid of engine variants; Pareto report",
        description="Train every engine variant of a grid config within the budget, score it "
        "on held-out frames, append one JSON row per variant to OUT/rows.jsonl and rebuild "
        "the report explore.md and its plot pareto.svg in OUT. Rerunning resumes: variants "
        "with a row are skipped, a variant's training resumes from its checkpoint.")
    p.add_argument("--config", type=Path,
                   help="grid config (.toml), e.g. configs/explore/grid.toml")
    p.add_argument("--out", type=Path, help="override explore.out_dir (rows, report, plot)")
    p.add_argument("--runs", type=Path, help="override explore.runs_dir (one run per variant)")
    p.add_argument("--plan", action="store_true",
                   help="list the variants, their costs and the budget; train nothing")
    p.add_argument("--report-only", action="store_true",
                   help="rebuild the report and plot from OUT/rows.jsonl alone")
    p.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                   help="progress bar (default: when stderr is a terminal)")
    p.set_defaults(func=cmd_explore, parser=p)
