"""``hwsr explore``: a grid of engine variants, each trained at one fixed budget and costed.

Every variant is an :class:`~hwsr.spec.EngineSpec` the engine can build: a hidden width
(channels), a depth and a kernel pattern of 3×3 and 1×1 layers, and an activation width
(act_bits), on the base model's datapath. Each is costed by :mod:`hwsr.report` (MACs per LR
pixel, line-buffer KiB, latency rows); one over the silicon budget is recorded as skipped,
the others are trained by :mod:`hwsr.train` (float phase, then QAT to an integer program)
and scored on held-out frames of each evaluation dataset. One JSON line per variant goes to
``rows.jsonl``; the report and its Pareto plot are rebuilt from those lines alone.

Modules: ``config`` (the typed grid config), ``grid`` (variants, specs, costs), ``rows``
(the rows file), ``runner`` (train, score, append; resumable), ``pareto`` (front and SVG
plot), ``summary`` (the markdown report), ``cli`` (the subcommand). Guide: docs/explore.md.
"""
