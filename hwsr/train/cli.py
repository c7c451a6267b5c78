"""``hwsr train``, ``eval``, ``sweep``, ``quantize``, ``ladder``, ``id-probe`` and ``dead``:
parse, call one function, report."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from hwsr.zoo import DEFAULT_MODEL

if TYPE_CHECKING:
    from hwsr.train.ladder import LadderConfig


def _cmd_train(args: argparse.Namespace) -> int:
    from hwsr.train.config import load_config
    from hwsr.train.trainer import train

    cfg = load_config(args.config, args.set)
    if args.out is not None:
        cfg = cfg.replace(run={"out_dir": args.out})
    result = train(cfg, progress=args.progress)
    print(f"{result.out_dir}: {result.mode}, {result.steps} steps in {result.elapsed_s:.0f} s; "
          f"val Y-PSNR {result.val_psnr_db:.2f} dB, bicubic {result.val_bicubic_db:.2f} dB "
          f"({result.val_gain_db:+.2f} dB)")
    return 0


def _cmd_eval(args: argparse.Namespace) -> int:
    from hwsr.atomic import check_output, write_text
    from hwsr.train.evaluate import evaluate, format_tables, rows_to_json

    if args.json is not None:
        check_output(args.json, "--json")
    rows = evaluate(args.model, args.data, frames=args.frames, crop_lr_px=args.crop_lr,
                    int8=not args.no_int8)
    print(format_tables(rows))
    if args.json is not None:
        write_text(args.json, rows_to_json(rows))
    return 0


def _cmd_sweep(args: argparse.Namespace) -> int:
    from hwsr.atomic import check_output, json_text, write_text
    from hwsr.train.sweep import format_sweep, run_sweep

    if args.label and len(args.label) != len(args.model):
        raise ValueError(f"--label: {len(args.label)} labels for {len(args.model)} models")
    for path, flag in ((args.out, "--out"), (args.json, "--json")):
        if path is not None:
            check_output(path, flag)
    points = run_sweep(args.model, args.data, frames=args.frames, crop_lr_px=args.crop_lr,
                       int8=not args.no_int8, work=args.work)
    table = format_sweep(points, args.model, args.label or None)
    print(table)
    if args.out is not None:
        write_text(args.out, table + "\n")
    if args.json is not None:
        from dataclasses import asdict

        write_text(args.json, json_text([asdict(p) for p in points], indent=2))
    return 0


def _cmd_quantize(args: argparse.Namespace) -> int:
    from hwsr.train.quantize import quantize_model, refine_model

    for flag in ("distill_steps", "equalize_rounds"):
        if getattr(args, flag) and not args.refine_only:
            raise ValueError(f"--{flag.replace('_', '-')} works with --refine-only (an int8 "
                             "engine that exists)")
    if args.refine_only:
        distilled, changes = refine_model(
            args.model, args.data, batches=args.refine_batches, batch_size=args.batch_size,
            out_dir=args.out, seed=args.seed, distill_steps=args.distill_steps,
            distill_batch_size=args.distill_batch_size, equalize_rounds=args.equalize_rounds)
        if distilled is not None:
            print(f"{args.out or args.model}: distillation ({distilled.steps} steps) "
                  f"{'kept' if distilled.kept else 'discarded'}: MSE against the float model "
                  f"{distilled.mse_before:.3e} -> {distilled.mse_after:.3e}")
        moves = ", ".join(f"{c.stage} layer {c.layer} {c.log2_step:+g}" for c in changes)
        print(f"{args.out or args.model}: {len(changes)} activation scales moved by a power "
              f"of two ({moves or 'none'}); quant.safetensors and program.npz rewritten")
        return 0

    result = quantize_model(
        args.model, args.data, steps=args.steps, lr=args.lr, calib_batches=args.calib_batches,
        batch_size=args.batch_size, work_dir=args.work, out_dir=args.out, seed=args.seed,
        progress=args.progress,
    )
    print(f"{result.out_dir}: int8 engine after {args.steps} QAT steps; val Y-PSNR "
          f"{result.val_psnr_db:.2f} dB ({result.val_gain_db:+.2f} dB over bicubic)")
    return 0


def _cmd_id_probe(args: argparse.Namespace) -> int:
    import dataclasses

    from hwsr.atomic import check_output, json_text, write_text
    from hwsr.train.evaluate import load_model
    from hwsr.train.id_probe import probe

    if args.json is not None:
        check_output(args.json, "--json")
    rows, lines = [], []
    for name in args.model:
        m = load_model(name)
        if not m.dual:
            raise ValueError(f"{name}: a {m.mode} model; the probe needs a dual pair")
        r = probe(m.net, args.data, batches=args.batches, batch_size=args.batch_size,
                  crop_lr_px=args.crop_lr)
        n, c = r.norm, r.cosine
        lines.append(f"| {name} | {n['l1']:.4f} | {n['l2']:.4f} | {n['lid']:.4f} "
                     f"| {c['l1·l2']:.3f} | {c['l1·lid']:.3f} | {c['l2·lid']:.3f} "
                     f"| {r.mix[0]:.2f}·L1 + {r.mix[1]:.2f}·L2 | {r.explained:.3f} "
                     f"| {r.novel:.3f} |")
        rows.append({"model": name, **dataclasses.asdict(r)})
    print("| model | ‖∇L1‖ | ‖∇L2‖ | ‖∇L_id‖ | cos L1·L2 | cos L1·L_id | cos L2·L_id "
          "| L_id ≈ a·L1 + b·L2 | explained | novel |")
    print("|---|---:|---:|---:|---:|---:|---:|---|---:|---:|")
    print("\n".join(lines))
    if args.json is not None:
        write_text(args.json, json_text(rows, indent=2))
    return 0


def _cmd_dead(args: argparse.Namespace) -> int:
    from hwsr.train.dead import format_shares, model_dead_channels
    from hwsr.zoo import load_engine

    widths = {ly.c_out for ly in load_engine(args.model).spec.layers[:-1]}
    width = widths.pop() if len(widths) == 1 else 0
    for name, shares in model_dead_channels(args.model, args.data, args.frames,
                                            args.crop_lr).items():
        counts = f" ({format_shares(shares, width)} channels)" if width else ""
        print(f"{args.model} {name}: dead channels per hidden layer: "
              f"{format_shares(shares)}{counts}")
    return 0


def _ladder_parallel(args: argparse.Namespace, cfg: LadderConfig, command: str) -> int:
    from hwsr.atomic import check_output
    from hwsr.train import ladder, ladder_gpu

    if args.shard != "0/1":
        raise ValueError("--parallel: starts its own shards; leave out --shard")
    if args.collect is not None:
        check_output(args.collect, "--collect")
    plan = ladder_gpu.parallel_plan(args.config, cfg, tuple(args.set), args.parallel)
    codes = ladder_gpu.run_parallel(plan)
    failed = [str(plan.logs[k]) for k, rc in enumerate(codes) if rc != 0]
    missing = ladder.collect_scores(cfg)[1]
    if not missing:
        ladder.write_report(cfg, command)
    if args.collect is not None:
        archive, n = ladder_gpu.pack_results(cfg, args.collect)
        print(f"{archive}: {n} files (scores, run summaries, logs, report)")
    if failed:
        print(f"{len(failed)} of {len(codes)} ladder processes failed; first log: {failed[0]}")
        return 1
    print(f"{plan.runs} runs in {len(codes)} processes; "
          + (f"report {cfg.report}" if not missing else f"{len(missing)} scores missing"))
    return 0 if not missing else 1


def _progress_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                   help="progress bar (default: when stderr is a terminal)")


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``train``, ``eval``, ``sweep``, ``quantize`` and ``ladder`` to ``hwsr``."""
    p = subparsers.add_parser("train", help="train a model (float phase, then QAT) from a config",
                              description="Train or resume the run of a TOML config; under "
                              "torchrun, every process runs this command.")
    p.add_argument("--config", required=True, type=Path, help="training config (.toml)")
    p.add_argument("--out", type=Path, help="override run.out_dir")
    p.add_argument("--set", action="append", default=[], metavar="TABLE.KEY=VALUE",
                   help="override one config value (repeatable), e.g. --set optim.steps=2000")
    _progress_flags(p)
    p.set_defaults(func=_cmd_train)

    p = subparsers.add_parser("eval", help="paper-style Y-PSNR/SSIM tables on held-out frames")
    p.add_argument("--model", nargs="+", required=True, help="run folders or zoo models")
    p.add_argument("--data", required=True, type=Path, help="dataset folder (its val frames)")
    p.add_argument("--frames", type=int, default=0, help="first N validation frames (0: all)")
    p.add_argument("--crop-lr", type=int, default=0, metavar="PX",
                   help="centre crop of each frame, LR pixels (0: whole frames)")
    p.add_argument("--no-int8", action="store_true", help="skip the integer-program rows")
    p.add_argument("--json", type=Path, help="also write the rows as JSON to this file")
    p.set_defaults(func=_cmd_eval)

    p = subparsers.add_parser("sweep", help="gain over bicubic across codecs and rate factors",
                              description="Score models on the held-out frames of datasets "
                              "that differ in codec and CRF (read from each manifest): gain "
                              "over bicubic, int8 and float, one row per dataset. Resumable: "
                              "each dataset's scores are cached in --work.")
    p.add_argument("--model", nargs="+", required=True, help="run folders or zoo models")
    p.add_argument("--label", nargs="+", default=[], help="column names of the models")
    p.add_argument("--data", nargs="+", required=True, type=Path, help="dataset folders")
    p.add_argument("--frames", type=int, default=0, help="first N validation frames (0: all)")
    p.add_argument("--crop-lr", type=int, default=0, metavar="PX",
                   help="centre crop of each frame, LR pixels (0: whole frames)")
    p.add_argument("--no-int8", action="store_true", help="skip the integer-program rows")
    p.add_argument("--work", type=Path, default=Path("runs/sweep"),
                   help="cache of each dataset's scores (default runs/sweep)")
    p.add_argument("--out", type=Path, help="also write the markdown table to this file")
    p.add_argument("--json", type=Path, help="also write every row as JSON to this file")
    p.set_defaults(func=_cmd_sweep)

    p = subparsers.add_parser("quantize", help="calibrate + QAT fine-tune + freeze a float model",
                              description="From a model folder's float.safetensors: Brevitas "
                              "engine, calibrated scales, QAT fine-tuning, quant.safetensors "
                              "and program.npz written into the model folder (or --out).")
    p.add_argument("--model", default=DEFAULT_MODEL, help="zoo name or model/run folder")
    p.add_argument("--data", required=True, type=Path, help="dataset folder")
    p.add_argument("--steps", type=int, default=500, help="QAT fine-tuning steps")
    p.add_argument("--lr", type=float, default=1e-4, help="peak QAT learning rate")
    p.add_argument("--calib-batches", type=int, default=16, help="calibration batches")
    p.add_argument("--batch-size", type=int, default=16, help="triples per step")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--work", type=Path, help="checkpoint folder (default runs/quantize-NAME)")
    p.add_argument("--out", type=Path, help="where to write the int8 files (default: model)")
    p.add_argument("--refine-only", action="store_true",
                   help="only refine the activation scales of the model's int8 engine (one "
                   "power of two where it lowers the error against its float model)")
    p.add_argument("--refine-batches", type=int, default=8,
                   help="training batches the refinement measures on (default 8)")
    p.add_argument("--distill-steps", type=int, default=0,
                   help="with --refine-only: first train the int8 weights this many steps "
                   "towards the float model's output, kept only if that "
                   "lowers the error (default 0: off)")
    p.add_argument("--distill-batch-size", type=int, default=32,
                   help="triples per distillation step (default 32)")
    p.add_argument("--equalize-rounds", type=int, default=0,
                   help="with --refine-only: first scale hidden channels by powers of two "
                   "(float function unchanged) where that lowers the error, this many rounds "
                   "over every channel (default 0: off)")
    _progress_flags(p)
    p.set_defaults(func=_cmd_quantize)

    def _cmd_ladder(args: argparse.Namespace) -> int:
        from hwsr.train import ladder

        cfg = ladder.with_overrides(ladder.load_ladder_config(args.config), tuple(args.set),
                                    args.runs, args.report)
        command = " ".join(["hwsr ladder --config", str(args.config),
                            *(f"--set {s}" for s in args.set)])
        if args.report_only:
            print(f"{ladder.write_report(cfg, command)}: rebuilt from the cached scores")
            return 0
        if args.parallel is not None:
            return _ladder_parallel(args, cfg, command)
        result = ladder.run_ladder(cfg, command, ladder.parse_shard(args.shard),
                                   progress=args.progress)
        print(f"{len(result.trained)} runs trained, {len(result.kept)} already finished; "
              + (f"report {result.report}" if result.report is not None else
                 f"{result.missing} scores still missing (other shards?): no report yet"))
        return 0

    p = subparsers.add_parser("ladder", help="the ablation ladder with seeds: mean ± std, climbs",
                              description="Train every rung of a ladder config with every seed "
                              "(resuming finished or killed runs), score each on the held-out "
                              "frames of each dataset, and write the seeds report "
                              "(docs/ladder.md).")
    p.add_argument("--config", required=True, type=Path, help="ladder config (.toml)")
    p.add_argument("--set", action="append", default=[], metavar="TABLE.KEY=VALUE",
                   help="override one value of every rung's training config (repeatable)")
    p.add_argument("--runs", type=Path, help="override ladder.runs_dir")
    p.add_argument("--report", type=Path, help="override ladder.report")
    p.add_argument("--shard", default="0/1", metavar="K/N",
                   help="train only runs K, K+N, ... (run N processes, K = 0..N-1)")
    p.add_argument("--report-only", action="store_true",
                   help="rebuild the report from the cached scores; train and score nothing")
    p.add_argument("--parallel", type=int, metavar="N",
                   help="start N shard processes of this command at once and wait for all "
                   "(0: one per run), as on one GPU (hwsr.train.ladder_gpu)")
    p.add_argument("--collect", type=Path, metavar="FILE.tar.gz",
                   help="with --parallel: pack the scores, run summaries, shard logs and "
                   "report into this one archive at the end")
    _progress_flags(p)
    p.set_defaults(func=_cmd_ladder)

    p = subparsers.add_parser("id-probe", help="where input distillation pushes Net1, next to "
                              "the image losses (gradient norms, cosines)",
                              description="For each dual model, the gradients of L1, L2 and "
                              "L_id on Net1's parameters over training crops: norms, pairwise "
                              "cosines and the share of L_id's gradient that a mix of the image "
                              "terms explains (hwsr.train.id_probe).")
    p.add_argument("--model", nargs="+", required=True, help="run folders or zoo models (dual)")
    p.add_argument("--data", required=True, type=Path, help="dataset folder (training crops)")
    p.add_argument("--batches", type=int, default=16, help="batches averaged (default 16)")
    p.add_argument("--batch-size", type=int, default=16, help="crops per batch (default 16)")
    p.add_argument("--crop-lr", type=int, default=40,
                   help="side of each random crop in LR pixels (default 40, the ladder's)")
    p.add_argument("--json", type=Path, help="also write the rows as JSON")
    p.set_defaults(func=_cmd_id_probe)

    p = subparsers.add_parser("dead", help="share of each hidden layer's channels that never "
                              "fire on held-out frames (float and int8 engine)",
                              description="Run the model's float and Brevitas int8 pair on the "
                              "dataset's validation frames and print, per stage and hidden "
                              "layer, the share of channels whose ReLU output is 0 everywhere "
                              "(hwsr.train.dead).")
    p.add_argument("--model", default=DEFAULT_MODEL, help="zoo model or run folder (dual)")
    p.add_argument("--data", required=True, type=Path, help="dataset folder (held-out frames)")
    p.add_argument("--frames", type=int, default=0, help="first N frames (default 0: all)")
    p.add_argument("--crop-lr", type=int, default=0,
                   help="centre crop of each frame in LR pixels (default 0: whole frames)")
    p.set_defaults(func=_cmd_dead)
