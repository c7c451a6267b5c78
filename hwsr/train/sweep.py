"""``hwsr sweep``: how an engine's gain over bicubic holds across codecs and rate factors.

Real streams arrive at unknown bit rates. The sweep scores every model on the held-out
frames of several datasets that differ only in the codec and its rate factor (each read
from the dataset's manifest), video-LR → HR, float and int8, and tabulates the gain over
bicubic ×3 per codec and CRF, next to the codec damage itself (Y-PSNR of video-LR against
the true dHR on those frames). One row per dataset, one column pair per model::

    | codec | CRF | codec damage | bicubic | <model> int8 | <model> float | ...

Every dataset's rows are cached as JSON in ``work`` (atomically, keyed by the models, the
frames and the crop), so a killed sweep resumes where it stopped.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from hwsr.atomic import json_text, write_text
from hwsr.data.manifest import Manifest
from hwsr.metrics import psnr_y
from hwsr.train.evaluate import Row, evaluate, load_frames


@dataclass(frozen=True)
class SweepPoint:
    """One dataset of the sweep: its folder, codec, rate factor and measured damage."""

    data: str  # dataset folder
    codec: str  # FFmpeg encoder of its video-LR (libx264, libx265, ...)
    crf: float | None  # rate factor (None: coded at a bit rate)
    damage_db: float  # mean Y-PSNR of video-LR against dHR on the frames scored
    rows: tuple[Row, ...]  # Table 1 rows: bicubic, then each model's float and int8


def dataset_codec(data: Path | str) -> tuple[str, float | None]:
    """(codec, crf) of a dataset built by ``hwsr data build``, from its manifest."""
    cfg = Manifest.load(Path(data)).config
    crf = cfg.get("crf")
    return str(cfg.get("codec", "?")), None if crf is None else float(crf)


def _key(models: Sequence[str], frames: int, crop_lr_px: int, int8: bool) -> dict[str, Any]:
    return {"models": list(models), "frames": frames, "crop_lr_px": crop_lr_px, "int8": int8}


def sweep_point(models: Sequence[str], data: Path | str, frames: int = 0,
                crop_lr_px: int = 0, int8: bool = True, work: Path | None = None) -> SweepPoint:
    """Score ``models`` on one dataset (or read the cached score from ``work``)."""
    codec, crf = dataset_codec(data)
    key = _key(models, frames, crop_lr_px, int8)
    cache = None if work is None else Path(work) / f"{Path(data).name}.json"
    if cache is not None and cache.is_file():
        doc = json.loads(cache.read_text(encoding="utf-8"))
        if doc.get("key") == key:
            return SweepPoint(str(data), codec, crf, doc["damage_db"],
                              tuple(Row(**r) for r in doc["rows"]))
    eval_frames = load_frames(data, frames, crop_lr_px)
    damage = sum(psnr_y(f.lr, f.dhr, 0) for f in eval_frames) / len(eval_frames)
    rows = evaluate(models, data, frames=frames, crop_lr_px=crop_lr_px, int8=int8, tables=(1,))
    point = SweepPoint(str(data), codec, crf, damage, tuple(rows))
    if cache is not None:
        cache.parent.mkdir(parents=True, exist_ok=True)
        write_text(cache, json_text({"key": key, "damage_db": damage,
                                     "rows": [asdict(r) for r in rows]}, indent=2))
    return point


def run_sweep(models: Sequence[str], datas: Sequence[Path | str], frames: int = 0,
              crop_lr_px: int = 0, int8: bool = True,
              work: Path | None = None) -> list[SweepPoint]:
    """Every dataset's point, ordered by codec then rate factor."""
    points = [sweep_point(models, d, frames, crop_lr_px, int8, work) for d in datas]
    return sorted(points, key=lambda p: (p.codec, math.inf if p.crf is None else p.crf))


def _gain(point: SweepPoint, model: str, weights: str) -> str:
    floor = next(r.psnr_db for r in point.rows if r.model == "bicubic")
    row = next((r for r in point.rows if r.model == model and r.weights == weights), None)
    return "-" if row is None else f"{row.psnr_db - floor:+.2f}"


def format_sweep(points: Sequence[SweepPoint], models: Sequence[str],
                 labels: Sequence[str] | None = None) -> str:
    """Markdown table: gain over bicubic (dB) per codec and CRF, int8 and float per model."""
    labels = list(labels or models)
    head = ["codec", "CRF", "codec damage (dB)", "bicubic (dB)"]
    for label in labels:
        head += [f"{label} int8", f"{label} float"]
    lines = ["| " + " | ".join(head) + " |", "|---|---:|" + "---:|" * (len(head) - 2)]
    for p in points:
        floor = next(r.psnr_db for r in p.rows if r.model == "bicubic")
        crf = "-" if p.crf is None else f"{p.crf:g}"
        cells = [p.codec.removeprefix("lib"), crf, f"{p.damage_db:.2f}", f"{floor:.2f}"]
        for model in models:
            cells += [_gain(p, model, "int8"), _gain(p, model, "float")]
        lines.append("| " + " | ".join(cells) + " |")
    n = points[0].rows[0].frames if points else 0
    lines += ["", f"Gain over bicubic x3 of video-LR (dB), {n} held-out frames per dataset; "
              "Y = BT.601 luma, 3-pixel border shaved; int8 by the bit-exact simulator."]
    return "\n".join(lines)
