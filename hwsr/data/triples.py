"""One source -> aligned (video-LR, dHR, HR) triples, in two passes over its clip.

Pass 1 walks the HR frames once: dHR = ``imresize(HR, 1/3)`` is spooled to a scratch
file and fed to the encoder; the HR patches (or, for a validation source, a few whole HR
frames) are cut at positions drawn from the source's seeded RNG. Pass 2 decodes the coded
stream frame by frame (timestamps checked one to one), measures the codec damage, and cuts
the LR and dHR patches at the same positions. Memory stays O(one UHD frame).

Alignment: patch ``(y, x)`` of side ``p`` in LR/dHR covers HR rows ``3y .. 3y + 3p - 1``
and columns ``3x .. 3x + 3p - 1`` exactly (the resizer's pixel edges line up).
"""

from __future__ import annotations

import logging
import shutil
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
from tqdm import tqdm

from hwsr.data.codec import LrEncoder, decode_lr
from hwsr.data.config import SCALE, BuildConfig, DataError
from hwsr.data.manifest import SourceRecord
from hwsr.data.shards import ShardWriter, write_npz
from hwsr.data.sources import Clip, Source, open_clip
from hwsr.metrics import psnr_y
from hwsr.resize import imresize

log = logging.getLogger(__name__)


@dataclass
class _Spool:
    """What pass 1 leaves for pass 2."""

    lr_hw: tuple[int, int]
    frames: int = 0
    positions: list[np.ndarray] = field(default_factory=list)  # per frame, (N, 2) LR (y, x)
    val_hr: dict[int, np.ndarray] = field(default_factory=dict)  # frame index -> HR frame
    lr_bytes: int = 0


def draw_positions(
    rng: np.random.Generator, lr_hw: tuple[int, int], side: int, n: int
) -> np.ndarray:
    """``n`` random top-left corners (y, x) of ``side``-pixel patches in an LR frame, int64."""
    ys = rng.integers(0, lr_hw[0] - side + 1, size=n)
    xs = rng.integers(0, lr_hw[1] - side + 1, size=n)
    return np.stack([ys, xs], axis=1)


def cut_patches(frame_u8_hwc: np.ndarray, corners: np.ndarray, side: int) -> np.ndarray:
    """Stack the ``side``×``side`` patches at ``corners`` (N×2) into an N×side×side×C array."""
    return np.stack([frame_u8_hwc[y : y + side, x : x + side] for y, x in corners])


def val_indices(n_frames: int, k: int) -> list[int]:
    """``k`` frames spread over the clip: the middles of ``k`` equal segments."""
    k = min(k, n_frames)
    return sorted({(2 * j + 1) * n_frames // (2 * k) for j in range(k)})


@dataclass
class _Job:
    """One source's build: where it writes, and its two passes."""

    source: Source
    split: str  # "train" or "val"
    cfg: BuildConfig
    scratch: Path
    writer: ShardWriter
    val_dir: Path
    bar: tqdm

    def encode_pass(self, clip: Clip) -> _Spool:
        """HR -> dHR (spooled, encoded); HR patches or val HR frames kept for pass 2."""
        cfg, side = self.cfg, self.cfg.patch_lr_px
        spool = _Spool(lr_hw=(clip.hr_hw[0] // SCALE, clip.hr_hw[1] // SCALE))
        rng = np.random.default_rng([cfg.seed, self.source.rng_key, 0])
        picks = set(val_indices(clip.frames_hint, cfg.val_frames_per_source))
        encoder = LrEncoder(self.scratch / "lr.mkv", spool.lr_hw, clip.fps, cfg)
        try:
            with (
                open(self.scratch / "dhr.u8", "wb") as dhr_out,
                open(self.scratch / "hr.u8", "wb") as hr_out,
            ):
                for hr in clip.frames:
                    dhr = imresize(hr, scale=1.0 / SCALE)
                    dhr_out.write(dhr.tobytes())
                    encoder.encode(dhr)
                    if self.split == "train":
                        corners = draw_positions(rng, spool.lr_hw, side, cfg.patches_per_frame)
                        spool.positions.append(corners)
                        hr_out.write(cut_patches(hr, corners * SCALE, side * SCALE).tobytes())
                    elif spool.frames in picks:
                        spool.val_hr[spool.frames] = np.array(hr)
                    spool.frames += 1
                    self.bar.update()
            spool.lr_bytes = encoder.close()
        except BaseException:
            encoder.abort()
            raise
        return spool

    def decode_pass(self, spool: _Spool, fps: Fraction) -> tuple[list[float], list[str]]:
        """Decode video-LR, measure codec damage, cut LR/dHR patches or write val frames."""
        n, (h, w), side = spool.frames, spool.lr_hw, self.cfg.patch_lr_px
        dhr_all = np.memmap(self.scratch / "dhr.u8", np.uint8, "r", shape=(n, h, w, 3))
        if self.split == "train":
            hr_shape = (n, self.cfg.patches_per_frame, side * SCALE, side * SCALE, 3)
            hr_all = np.memmap(self.scratch / "hr.u8", np.uint8, "r", shape=hr_shape)
        psnrs: list[float] = []
        val_files: list[str] = []
        for i, lr in enumerate(decode_lr(self.scratch / "lr.mkv", n, fps, str(self.source.path))):
            dhr = np.asarray(dhr_all[i])
            psnrs.append(psnr_y(lr, dhr, 0))
            if self.split == "train":
                corners = spool.positions[i]
                lr_p, dhr_p = cut_patches(lr, corners, side), cut_patches(dhr, corners, side)
                self.writer.add(lr_p, dhr_p, np.array(hr_all[i]))
            elif i in spool.val_hr:
                self.val_dir.mkdir(parents=True, exist_ok=True)
                name = f"frame-{i:05d}.npz"
                write_npz(self.val_dir / name, {"lr": lr, "dhr": dhr, "hr": spool.val_hr[i]})
                val_files.append(f"val/{self.source.name}/{name}")
            self.bar.update()
        return psnrs, val_files

    def discard(self) -> None:
        self.writer.discard()
        shutil.rmtree(self.val_dir, ignore_errors=True)


def build_source(
    source: Source, split: str, cfg: BuildConfig, root: Path, scratch: Path, bar: tqdm
) -> SourceRecord:
    """Build one source into ``root/train`` shards or ``root/val`` frames; returns its record.

    Raises `DataError` naming the source on bad input; leaves no file of it behind then.
    """
    scratch.mkdir(parents=True, exist_ok=True)
    writer = ShardWriter(root / "train", source.name, cfg.shard_patches)
    job = _Job(source, split, cfg, scratch, writer, root / "val" / source.name, bar)
    try:
        clip = open_clip(source, cfg)
        spool = job.encode_pass(clip)
        psnrs, val_files = job.decode_pass(spool, clip.fps)
        shards = writer.close()
    except av.FFmpegError as exc:
        job.discard()
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise DataError(f"{source.path}: {cfg.codec} failed ({first})") from exc
    except BaseException:
        job.discard()
        raise
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    log.info(
        "%s: %d frames, codec damage %.2f dB Y-PSNR (video-LR vs dHR; worst frame %.2f dB)",
        source.name, spool.frames, float(np.mean(psnrs)), float(np.min(psnrs)),
    )  # fmt: skip
    seconds = spool.frames / float(clip.fps)
    return SourceRecord(
        name=source.name,
        path=str(source.path),
        kind=source.kind,
        split=split,
        ok=True,
        frames=spool.frames,
        hr_hw=clip.hr_hw,
        patches=sum(n for _, n in shards),
        codec_psnr_y_db=float(np.mean(psnrs)),
        codec_psnr_y_min_db=float(np.min(psnrs)),
        lr_kbps=round(spool.lr_bytes * 8 / seconds / 1000.0, 3),
        shards=tuple((f"train/{name}", count) for name, count in shards),
        val_frames=tuple(val_files),
    )
