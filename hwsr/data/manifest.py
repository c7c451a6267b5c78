"""The dataset manifest: what was built, from what, how, and how hard the codec hit it.

``manifest.json`` is written last; a folder without it is not a finished dataset. It holds
no wall-clock time, so two builds with the same config and inputs give the same manifest.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

MANIFEST_NAME = "manifest.json"
FORMAT = "hwsr-hd2uhd-v1"


@dataclass(frozen=True)
class SourceRecord:
    """One source: its split, what it yielded, and its codec damage (None if it failed)."""

    name: str
    path: str
    kind: str  # "video" or "still"
    split: str  # "train" or "val"
    ok: bool
    reason: str = ""  # why it was skipped, when not ok
    frames: int = 0
    hr_hw: tuple[int, int] = (0, 0)
    patches: int = 0  # training triples cut from it
    codec_psnr_y_db: float | None = None  # mean over frames of Y-PSNR(video-LR, dHR)
    codec_psnr_y_min_db: float | None = None  # worst frame
    lr_kbps: float | None = None  # bit rate the encoder actually spent
    shards: tuple[tuple[str, int], ...] = ()  # (train/... file, triples in it)
    val_frames: tuple[str, ...] = ()  # val/... files


@dataclass(frozen=True)
class Manifest:
    """Everything `hwsr.data.TripletDataset` and a reader of the dataset need to know."""

    config: dict[str, Any]  # the BuildConfig fields that shape the data, plus library versions
    sources: tuple[SourceRecord, ...]
    format: str = FORMAT

    @property
    def shards(self) -> tuple[tuple[str, int], ...]:
        """Every training shard ``(file relative to the root, triples)``, in build order."""
        return tuple(shard for s in self.sources for shard in s.shards)

    @property
    def train_patches(self) -> int:
        return sum(n for _, n in self.shards)

    @property
    def val_frames(self) -> tuple[str, ...]:
        return tuple(f for s in self.sources for f in s.val_frames)

    @property
    def errors(self) -> tuple[tuple[str, str], ...]:
        return tuple((s.path, s.reason) for s in self.sources if not s.ok)

    def codec_psnr_y_db(self) -> float | None:
        """Mean codec damage over the sources that were built (dB, Y, video-LR vs dHR)."""
        values = [s.codec_psnr_y_db for s in self.sources if s.codec_psnr_y_db is not None]
        return sum(values) / len(values) if values else None

    def to_json(self) -> str:
        doc = asdict(self)
        doc["shards"] = [list(shard) for shard in self.shards]  # convenience for readers
        doc["counts"] = {
            "train_patches": self.train_patches,
            "val_frames": len(self.val_frames),
            "sources_ok": sum(s.ok for s in self.sources),
            "sources_failed": sum(not s.ok for s in self.sources),
        }
        return json.dumps(_finite(doc), indent=2, sort_keys=True) + "\n"

    def save(self, folder: Path) -> Path:
        from hwsr.atomic import write_text

        return write_text(folder / MANIFEST_NAME, self.to_json())

    @classmethod
    def load(cls, folder_or_file: Path) -> Manifest:
        """Read ``manifest.json`` from a dataset folder (or the file itself)."""
        path = Path(folder_or_file)
        if path.is_dir():
            path = path / MANIFEST_NAME
        if not path.is_file():
            raise ValueError(f"{path}: no dataset manifest (unfinished or not a dataset)")
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
            if not isinstance(doc, dict) or doc.get("format") != FORMAT:
                fmt = doc.get("format") if isinstance(doc, dict) else None
                raise ValueError(f"{path}: unknown dataset format {fmt!r}")
            return cls._from_doc(doc, path)
        except (KeyError, TypeError, AttributeError, UnicodeDecodeError,
                json.JSONDecodeError) as e:
            raise ValueError(f"{path}: malformed dataset manifest ({type(e).__name__}: "
                             f"{e})") from None

    @classmethod
    def _from_doc(cls, doc: dict[str, Any], path: Path) -> Manifest:
        sources = tuple(
            SourceRecord(
                **{
                    **s,
                    "hr_hw": tuple(s["hr_hw"]),
                    "shards": tuple((f, int(n)) for f, n in s["shards"]),
                    "val_frames": tuple(s["val_frames"]),
                    **{k: _inf(s[k]) for k in ("codec_psnr_y_db", "codec_psnr_y_min_db")},
                }
            )
            for s in doc["sources"]
        )
        for name in [f for s in sources for f, _ in s.shards] + \
                [f for s in sources for f in s.val_frames]:
            _check_inside(path, name)
        return cls(
            config=doc["config"],
            sources=sources,
            format=doc["format"],
        )


def _check_inside(manifest: Path, name: str) -> None:
    """A manifest names files inside its own folder only: never an absolute path or '..'."""
    rel = Path(name)
    if rel.is_absolute() or ".." in rel.parts or not rel.parts:
        raise ValueError(f"{manifest}: file {name!r} lies outside the dataset folder")


def _finite(obj: Any) -> Any:
    """JSON has no infinity: a lossless frame's PSNR is written as the string "inf"."""
    if isinstance(obj, float) and math.isinf(obj):
        return "inf"
    if isinstance(obj, dict):
        return {k: _finite(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_finite(v) for v in obj]
    return obj


def _inf(value: Any) -> float | None:
    return math.inf if value == "inf" else value
