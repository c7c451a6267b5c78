"""Video timings and the input FIFO in front of the engine.

LR video arrives at its timing, one pixel per pixel-clock tick of the active area and none
in the blanking; a video source cannot wait. :func:`video_run` gives a frame's timing
(scaled to its size when it is not the timing's own) as a ratio of the engine clock, which
``hwsr cosim --video`` feeds into a FIFO; :func:`fifo_model` predicts that FIFO's largest
fill for an engine that takes one pixel every ``cycles_per_pixel`` cycles.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction


@dataclass(frozen=True)
class VideoTiming:
    """A standard video timing: active and total pixels, pixel clock."""

    name: str
    width: int  # active pixels per line
    height: int  # active lines
    h_total: int  # pixel-clock ticks per line, blanking included
    v_total: int  # lines per frame, blanking included
    fps: float  # frames per second
    pixel_clock_mhz: float  # h_total · v_total · fps

# CEA-861 timings of the LR input formats the engine is built for.
TIMINGS = {t.name: t for t in (
    VideoTiming("720p60", 1280, 720, 1650, 750, 60.0, 74.25),
    VideoTiming("720p50", 1280, 720, 1980, 750, 50.0, 74.25),
    VideoTiming("1080p30", 1920, 1080, 2200, 1125, 30.0, 74.25),
    VideoTiming("1080p60", 1920, 1080, 2200, 1125, 60.0, 148.5),
)}


def timing_for(width: int, height: int, fps: float) -> VideoTiming | None:
    """The standard timing of an active format, if there is one."""
    return next((t for t in TIMINGS.values()
                 if (t.width, t.height, t.fps) == (width, height, fps)), None)


@dataclass(frozen=True)
class VideoRun:
    """A frame fed at a video timing, scaled to the frame's size when it is not the timing's
    own (the blanking keeps its share of the line and of the frame)."""

    width: int
    height: int
    h_total: int  # pixel-clock ticks per line
    v_total: int  # lines per frame
    num: int  # pixel-clock ticks per engine cycle = num / den
    den: int

    def job(self) -> dict[str, int]:
        return {"h_total": self.h_total, "v_total": self.v_total, "num": self.num,
                "den": self.den}

    @property
    def frame_cycles(self) -> Fraction:
        """Engine cycles of one frame period (the next frame's first pixel comes then)."""
        return Fraction(self.h_total * self.v_total * self.den, self.num)


def video_run(timing: str, clock_mhz: float, width: int, height: int) -> VideoRun:
    """The timing ``timing`` (e.g. ``720p60``) for a ``width`` x ``height`` frame at the
    engine clock ``clock_mhz``.

    >>> v = video_run("720p60", 600, 1280, 720)
    >>> (v.h_total, v.v_total, v.num, v.den, float(v.frame_cycles))
    (1650, 750, 99, 800, 10000000.0)
    """
    t = TIMINGS.get(timing)
    if t is None:
        raise ValueError(f"unknown video timing {timing!r} (known: {', '.join(TIMINGS)})")
    ratio = Fraction(t.pixel_clock_mhz) / Fraction(clock_mhz)
    if ratio > 1:
        raise ValueError(f"{timing}: pixel clock {t.pixel_clock_mhz} MHz over the engine clock")
    h_blank = round(Fraction(width * (t.h_total - t.width), t.width))
    v_blank = max(1, round(Fraction(height * (t.v_total - t.height), t.height)))
    return VideoRun(width, height, width + h_blank, height + v_blank, ratio.numerator,
                    ratio.denominator)


def _fills(run: VideoRun, cycles_per_pixel: int) -> Iterator[tuple[int, int, int]]:
    """(pixel, tick, fill) at each pixel's arrival for a periodic engine: pixel k arrives at
    its tick, leaves at max(arrival, previous departure + cycles_per_pixel); the fill counts
    every pixel not yet gone (itself included)."""
    arrivals, ticks = [], []
    for y in range(run.height):
        for x in range(run.width):
            tick = y * run.h_total + x + 1  # the first tick comes after one tick period
            ticks.append(tick)
            arrivals.append(-(-tick * run.den // run.num))  # ceil: the cycle the tick lands
    gone, depart, j = [], -math.inf, 0
    for a in arrivals:
        depart = max(a, depart + cycles_per_pixel)
        gone.append(depart)
    for k, a in enumerate(arrivals):
        while j < k and gone[j] < a:
            j += 1
        yield k, ticks[k], k - j + 1


def fifo_model(run: VideoRun, cycles_per_pixel: int) -> int:
    """The input FIFO's largest fill that a periodic engine predicts (see :func:`_fills`).

    >>> fifo_model(video_run("720p60", 600, 32, 8), 8), fifo_model(video_run("720p60", 600, 32, 8), 16)
    (1, 95)
    """
    return max(f for _, _, f in _fills(run, cycles_per_pixel))


def fifo_overflow(run: VideoRun, cycles_per_pixel: int, depth: int) -> tuple[int, int] | None:
    """The first pixel (raster index) and its tick (1-based) that finds a FIFO of ``depth``
    words full, for the periodic engine of :func:`fifo_model`; None: it never overflows.

    >>> fifo_overflow(video_run("720p60", 600, 32, 8), 16, 1), fifo_overflow(video_run("720p60", 600, 32, 8), 8, 1)
    ((2, 3), None)
    """
    return next(((k, t) for k, t, f in _fills(run, cycles_per_pixel) if f > depth), None)
