"""``hwsr sweep``: how an engine's gain over bicubic holds across codecs and rate factors.

Real streams arrive at unknown bit rates. The sweep scores every model on the held-out
frames of several datasets that differ only in the codec and its rate factor (each read
from the dataset's manifest), video-LR → HR, float and int8, and tabulates the gain over
bicubic ×3 per codec and CRF, next to the codec damage itself (Y-PSNR of video-LR against
the true dHR on those frames). One row per dataset, one column pair per model::

    | codec | CRF | codec damage | bicubic | <model> int8 | <model> float | ...

Every dataset's scores are cached as JSON in ``work`` (atomically, per model, keyed by the
frames, the crop and a hash of the model's weights and program), so a killed sweep resumes
where it stopped and a model added later is the only one scored.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from hwsr.atomic import json_text, write_text
from hwsr.data.manifest import Manifest
from hwsr.metrics import psnr_y
from hwsr.resize import imresize
from hwsr.train.batches import SCALE
from hwsr.train.evaluate import Row, _model_rows, load_frames, load_model, score
from hwsr.zoo import FLOAT_FILE, load_engine


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


def _weights_id(model: str) -> str:
    """SHA-256 of the model's float weights and integer program: a cached score is reused
    only for the same files."""
    bundle = load_engine(model)
    h = hashlib.sha256()
    for path in (bundle.folder / FLOAT_FILE if bundle.folder else None, bundle.program_path):
        if path is not None and path.is_file():
            h.update(path.read_bytes())
    return h.hexdigest()


def sweep_point(models: Sequence[str], data: Path | str, frames: int = 0,
                crop_lr_px: int = 0, int8: bool = True, work: Path | None = None) -> SweepPoint:
    """Score ``models`` on one dataset; scores cached in ``work`` are reused per model
    (same frames, crop, int8 setting and weights), so adding a model scores only it."""
    codec, crf = dataset_codec(data)
    key = {"frames": frames, "crop_lr_px": crop_lr_px}
    cache = None if work is None else Path(work) / f"{Path(data).name}.json"
    doc: dict[str, Any] = {}
    if cache is not None and cache.is_file():
        doc = json.loads(cache.read_text(encoding="utf-8"))
        if doc.get("key") != key:
            doc = {}
    eval_frames = None
    if not doc:
        eval_frames = load_frames(data, frames, crop_lr_px)
        damage = sum(psnr_y(f.lr, f.dhr, 0) for f in eval_frames) / len(eval_frames)
        up = lambda f: imresize(f, SCALE)  # noqa: E731
        floor = Row(1, "bicubic", "-", "-", *score(up, eval_frames, "lr"), len(eval_frames))
        doc = {"key": key, "damage_db": damage, "bicubic": asdict(floor), "models": {}}
    rows = [Row(**doc["bicubic"])]
    for name in models:
        wid = {"weights": _weights_id(name), "int8": int8}
        entry = doc["models"].get(name)
        if entry is None or entry["id"] != wid:
            if eval_frames is None:
                eval_frames = load_frames(data, frames, crop_lr_px)
            mine = _model_rows(load_model(name), eval_frames, int8, tables=(1,))
            entry = {"id": wid, "rows": [asdict(r) for r in mine]}
            doc["models"][name] = entry
            if cache is not None:  # after every model: a kill loses one model's scoring
                cache.parent.mkdir(parents=True, exist_ok=True)
                write_text(cache, json_text(doc, indent=2))
        rows += [Row(**r) for r in entry["rows"]]
    return SweepPoint(str(data), codec, crf, float(doc["damage_db"]), tuple(rows))


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
