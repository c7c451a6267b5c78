"""`build_dataset`: sources -> a finished HD2UHD dataset folder, atomically.

Layout of the finished folder::

    manifest.json                  written last (see `hwsr.data.manifest`)
    train/<source>-NNNN.npz        shards of aligned triples: lr, dhr (N×p×p×3), hr (N×3p×3p×3)
    val/<source>/frame-NNNNN.npz   whole frames lr, dhr (h×w×3), hr (3h×3w×3) of val sources

The build happens in a hidden sibling ``.<name>.partial-<pid>`` that is renamed onto
``out_dir`` only when everything (manifest included) is written; on any exception, Ctrl-C
included, the partial folder is removed. A killed process can leave the hidden folder,
never a folder that looks finished.
"""

from __future__ import annotations

import logging
import os
import shutil
from dataclasses import asdict
from pathlib import Path
from typing import Any

import av
import numpy as np
from tqdm import tqdm

from hwsr.data.codec import COLORSPACE, CONTAINER, encoder_options
from hwsr.data.config import LR_PIX_FMT, STILL_FPS, BuildConfig, DataError
from hwsr.data.manifest import Manifest, SourceRecord
from hwsr.data.sources import Source, expand_sources, name_sources
from hwsr.data.triples import build_source
from hwsr.resize import RESIZER_NAME

log = logging.getLogger(__name__)


def plan_sources(cfg: BuildConfig) -> tuple[list[tuple[Source, str]], list[SourceRecord]]:
    """``([(source, split)], failed)``: every usable file with its split, and missing paths.

    Validation sources are ``cfg.val_sources`` if given, else ``cfg.val_fraction`` of the
    training files chosen with the seed (at least one when there are two or more files,
    never all of them). A file listed in both goes to validation only.
    """
    train_files, missing = expand_sources(cfg.sources)
    val_files, missing_val = expand_sources(cfg.val_sources)
    val_keys = {f.resolve() for f in val_files}
    train_files = [f for f in train_files if f.resolve() not in val_keys]
    named = name_sources(train_files + val_files)
    train, val = named[: len(train_files)], named[len(train_files) :]
    if not cfg.val_sources and cfg.val_fraction > 0 and len(train) >= 2:
        n_val = min(len(train) - 1, max(1, round(cfg.val_fraction * len(train))))
        order = np.random.default_rng([cfg.seed, 0x7A1]).permutation(len(train))
        chosen = {int(i) for i in order[:n_val]}
        val = [s for i, s in enumerate(train) if i in chosen]
        train = [s for i, s in enumerate(train) if i not in chosen]
    elif not cfg.val_sources and cfg.val_fraction > 0:
        log.warning("only one source: no validation split (give val_sources)")
    failed = [
        SourceRecord(name=path, path=path, kind="?", split=split, ok=False, reason=reason)
        for split, errs in (("train", missing), ("val", missing_val))
        for path, reason in errs
    ]
    return [(s, "train") for s in train] + [(s, "val") for s in val], failed


def build_dataset(
    config: BuildConfig, *, overwrite: bool = False, progress: bool | None = None
) -> Manifest:
    """Build the (video-LR, dHR, HR) dataset described by ``config``; returns its manifest.

    Bad sources are logged as one line each and skipped (``config.strict``: the first
    raises `DataError`). ``progress``: tqdm bars (None: only on a terminal). ``overwrite``
    replaces an existing ``out_dir`` once the new build is complete.
    """
    out = config.out_dir
    if out.exists() and not overwrite:
        raise DataError(f"{out}: exists (pass overwrite to replace it)")
    plan, failed = plan_sources(config)
    for record in failed:
        _report_failure(config, record.path, record.reason)
    partial = out.parent / f".{out.name}.partial-{os.getpid()}"
    shutil.rmtree(partial, ignore_errors=True)
    try:
        (partial / "train").mkdir(parents=True)
        (partial / "val").mkdir()
        records = _build_all(config, plan, partial, progress) + failed
        manifest = Manifest(config=config_record(config), sources=tuple(records))
        if manifest.train_patches == 0:
            raise DataError("no training triples were built (no training source succeeded)")
        shutil.rmtree(partial / ".scratch", ignore_errors=True)
        manifest.save(partial)
        _publish(partial, out, overwrite)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    _log_summary(manifest)
    return manifest


def _build_all(
    cfg: BuildConfig, plan: list[tuple[Source, str]], partial: Path, progress: bool | None
) -> list[SourceRecord]:
    disable = None if progress is None else not progress
    records = []
    failures = _Failures(cfg)
    with tqdm(total=len(plan), desc="sources", unit="src", disable=disable) as outer:
        for source, split in plan:
            hint = cfg.still_frames if source.kind == "still" else cfg.max_video_frames
            with tqdm(
                total=2 * hint if hint else None,
                desc=source.name[-32:],
                unit="frame",
                leave=False,
                disable=disable,
            ) as bar:
                try:
                    records.append(
                        build_source(
                            source, split, cfg, partial, partial / ".scratch" / source.name, bar
                        )
                    )
                    failures.succeeded(split)
                except DataError as exc:
                    failures.add(str(source.path), str(exc), split)
                    records.append(
                        SourceRecord(
                            name=source.name,
                            path=str(source.path),
                            kind=source.kind,
                            split=split,
                            ok=False,
                            reason=str(exc),
                        )
                    )
            outer.update()
    failures.check_any_trained()
    return records


class _Failures:
    """Bad sources, each logged in one line and skipped; but while no training source has
    succeeded the lines are held back, so that a build where none succeeds ends in one
    line naming every unusable source."""

    def __init__(self, cfg: BuildConfig) -> None:
        self.cfg = cfg
        self.held: list[str] = []
        self.trained = False

    def add(self, path: str, reason: str, split: str) -> None:
        line = reason if reason.startswith(path) else f"{path}: {reason}"
        if self.cfg.strict:
            raise DataError(line)
        if self.trained:
            log.error("skipped %s", line)
        else:
            self.held.append(line if split == "train" else f"{line} (validation)")

    def succeeded(self, split: str) -> None:
        if split == "train" and not self.trained:
            self.trained = True
            for line in self.held:
                log.error("skipped %s", line)
            self.held.clear()

    def check_any_trained(self) -> None:
        if not self.trained and self.held:
            raise DataError(f"no usable training source; {len(self.held)} unusable: "
                            + "; ".join(self.held))


def _report_failure(cfg: BuildConfig, path: str, reason: str) -> None:
    line = reason if reason.startswith(path) else f"{path}: {reason}"
    if cfg.strict:
        raise DataError(line)
    log.error("skipped %s", line)


def _publish(partial: Path, out: Path, overwrite: bool) -> None:
    if not out.exists():
        os.replace(partial, out)
        return
    if not overwrite:
        raise DataError(f"{out}: appeared during the build; not replacing it")
    old = out.parent / f".{out.name}.old-{os.getpid()}"
    os.replace(out, old)
    os.replace(partial, out)
    if old.is_dir():
        shutil.rmtree(old)
    else:
        old.unlink()


def config_record(cfg: BuildConfig) -> dict[str, Any]:
    """The manifest's ``config``: dataset-shaping fields, codec details and versions."""
    doc = asdict(cfg)
    doc.pop("out_dir")
    doc.pop("strict")
    doc["sources"] = [str(p) for p in cfg.sources]
    doc["val_sources"] = [str(p) for p in cfg.val_sources]
    doc.update(
        patch_hr_px=cfg.patch_hr_px,
        resizer=RESIZER_NAME,
        still_fps=STILL_FPS,
        lr_pix_fmt=LR_PIX_FMT,
        lr_colorspace=COLORSPACE.name,
        lr_container=CONTAINER,
        encoder_options=encoder_options(cfg),
        pyav=av.__version__,
        libavcodec=".".join(str(v) for v in av.library_versions["libavcodec"]),
    )
    return doc


def _log_summary(manifest: Manifest) -> None:
    damage = manifest.codec_psnr_y_db()
    log.info(
        "built %d training triples from %d sources, %d validation frames; %d sources skipped; "
        "codec damage %s",
        manifest.train_patches,
        sum(s.ok for s in manifest.sources),
        len(manifest.val_frames),
        len(manifest.errors),
        "n/a" if damage is None else f"{damage:.2f} dB Y-PSNR",
    )
