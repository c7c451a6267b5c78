"""The real codec between dHR and video-LR: encode the 1/3-size clip with PyAV, decode it.

The clip is coded as the HD stream a TV SoC would receive: RGB -> Y'CbCr BT.709 limited
range, 4:2:0 chroma (swscale: bicubic, bit-exact, full chroma interpolation), the chosen FFmpeg encoder at a
CRF or bit rate with a fixed GOP, muxed to Matroska, then decoded back to RGB with the
same matrix. Frame ``i`` gets timestamp ``i``; decoding must return every timestamp once,
in order, so each video-LR frame pairs with exactly the dHR/HR frame it came from.

Chroma siting: the H.264/HEVC decoders tag their frames with the standard's default
"left" chroma siting and swscale honours it, while the RGB -> 4:2:0 conversion of an
untagged frame sites chroma at the centre; PyAV cannot set the siting. Mixed, the two put
video-LR colour edges half a pixel left of dHR (measured). So the decoded planes are
re-wrapped untagged and both conversions use the same siting; the codec itself only sees
planes and does not care.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path
from typing import cast

import av
import numpy as np
from av.video.reformatter import Colorspace, Interpolation
from av.video.stream import VideoStream

from hwsr.data.config import LR_PIX_FMT, BuildConfig, DataError

log = logging.getLogger(__name__)

CONTAINER = "matroska"
COLORSPACE = Colorspace.ITU709  # HD's matrix, used for both directions
# FULL_CHR_H_*: without them swscale's RGB <-> 4:2:0 round trip shifts chroma ~1/8 pixel
# to the left, enough to misalign a triple's colour edges by a whole pixel after coding.
_SWS = (
    Interpolation.BICUBIC
    | Interpolation.ACCURATE_RND
    | Interpolation.BITEXACT
    | Interpolation.FULL_CHR_H_INT
    | Interpolation.FULL_CHR_H_INP
)


# x264's AVX-512 code paths do not repeat themselves: encoding one clip from identical
# input in one process, about 1 stream in 300 came out different (PyAV 18.1, x264 core 165,
# an 8-frame 170x110 clip; the same 5 of 1,500 again on a rerun). Limited to the AVX2 set,
# which every AVX-512 CPU also has, 3,000 of 3,000 were identical, under CPU load too. So
# where x264 would use AVX-512, the builder names its instruction sets instead; the stream
# then differs from the AVX-512 one (x264's SIMD paths need not agree bit for bit), and
# looks like the one x264 picks by itself on an AVX2 machine: hwsr-s's dataset, first built
# elsewhere, reports the codec damage of a pinned rebuild here (docs/data.md).
X264_CPU_AVX2 = "MMX2,SSE,SSE2,SSE2Fast,LZCNT,SSSE3,SSE4.1,SSE4.2,AVX,FMA3,BMI1,BMI2,AVX2,Cache64"


def cpu_has_avx512() -> bool:
    """Whether this CPU has the AVX-512 subset x264 uses (F, CD, BW, DQ, VL), as numpy sees it."""
    try:
        from numpy._core._multiarray_umath import __cpu_features__
    except ImportError:  # another numpy layout: no pin (x264 decides, as before)
        return False
    return bool(__cpu_features__.get("AVX512_SKX", False))


def encoder_options(cfg: BuildConfig) -> dict[str, str]:
    """FFmpeg private options for ``cfg.codec``: rate factor, preset, quiet logs, threads,
    and x264's instruction sets on an AVX-512 CPU (see ``X264_CPU_AVX2``)."""
    opts: dict[str, str] = {}
    if cfg.crf is not None:
        opts["crf"] = f"{cfg.crf:g}"
    if cfg.codec.startswith("libx26"):
        if cfg.preset:
            opts["preset"] = cfg.preset
        if cfg.codec == "libx264" and cpu_has_avx512():
            opts["x264-params"] = f"asm={X264_CPU_AVX2}"
        if cfg.codec == "libx265":
            threads = cfg.codec_threads
            opts["x265-params"] = f"log-level=error:pools={threads}:frame-threads={threads}"
    elif cfg.codec == "libvpx-vp9":
        opts.update({"deadline": "good", "cpu-used": "4", "row-mt": "1"})
        if cfg.crf is not None:
            opts["b"] = "0"  # constant quality: no bit-rate cap
    elif cfg.codec == "libsvtav1" and cfg.preset and cfg.preset.isdigit():
        opts["preset"] = cfg.preset
    return opts


class LrEncoder:
    """Encode uint8 RGB frames of one size into a Matroska file with the configured codec."""

    def __init__(self, path: Path, hw: tuple[int, int], fps: Fraction, cfg: BuildConfig) -> None:
        self.path, self.fps, self.count = path, fps, 0
        self._container = av.open(str(path), "w", format=CONTAINER)
        try:
            # The config checked that the codec is a video encoder.
            stream = cast(VideoStream, self._container.add_stream(cfg.codec, rate=fps))
            stream.height, stream.width = hw
            stream.pix_fmt = LR_PIX_FMT
            stream.gop_size = cfg.gop_frames
            stream.thread_count = cfg.codec_threads
            stream.codec_context.colorspace = int(COLORSPACE)
            stream.codec_context.color_range = 1  # limited (MPEG) range
            if cfg.bitrate_kbps is not None:
                stream.bit_rate = cfg.bitrate_kbps * 1000
            stream.options = dict(encoder_options(cfg))
            self._stream = stream
        except BaseException:
            self._container.close()
            raise

    def encode(self, frame_u8_hwc: np.ndarray) -> None:
        yuv = to_yuv420(frame_u8_hwc)
        yuv.pts = self.count
        yuv.time_base = Fraction(1) / self.fps
        for packet in self._stream.encode(yuv):
            self._container.mux(packet)
        self.count += 1

    def close(self) -> int:
        """Flush the encoder's delayed frames (B-frame reordering) and close; returns bytes."""
        try:
            for packet in self._stream.encode(None):
                self._container.mux(packet)
        finally:
            self._container.close()
        return self.path.stat().st_size

    def abort(self) -> None:
        self._container.close()


def to_yuv420(frame_u8_hwc: np.ndarray) -> av.VideoFrame:
    """RGB -> the coded picture format: Y'CbCr BT.709 limited range, 4:2:0 (swscale)."""
    rgb = av.VideoFrame.from_ndarray(np.ascontiguousarray(frame_u8_hwc), format="rgb24")
    return rgb.reformat(
        format=LR_PIX_FMT, dst_colorspace=COLORSPACE, dst_color_range=1, interpolation=_SWS
    )


def to_rgb(frame: av.VideoFrame) -> np.ndarray:
    """Decoded 4:2:0 frame -> RGB with the encoder side's chroma siting (see module doc)."""
    untagged = av.VideoFrame.from_ndarray(frame.to_ndarray(format=LR_PIX_FMT), format=LR_PIX_FMT)
    return untagged.to_ndarray(
        format="rgb24", src_colorspace=COLORSPACE, src_color_range=1, interpolation=_SWS
    )


def decode_lr(path: Path, n_frames: int, fps: Fraction, label: str) -> Iterator[np.ndarray]:
    """Decode a coded LR clip, checking one frame per timestamp 0..n-1 in order.

    Raises `DataError` (naming ``label``) on a dropped, duplicated or reordered frame.
    """
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        tb = stream.time_base or Fraction(1, 1000)  # Matroska's, should the header lack it
        index = 0
        for frame in container.decode(stream):
            if frame.pts is None:
                raise DataError(f"{label}: coded frame {index} has no timestamp")
            got = round(frame.pts * tb * fps)
            if got != index:
                raise DataError(
                    f"{label}: codec frame order broken: expected frame {index}, got {got}"
                )
            yield to_rgb(frame)
            index += 1
    if index != n_frames:
        raise DataError(f"{label}: codec returned {index} frames for {n_frames} encoded")
