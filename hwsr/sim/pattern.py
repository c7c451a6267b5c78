"""The built-in test frame: a zone plate above SMPTE-like colour bars (the scaler test).

The zone plate ``0.5 + 0.5·sin(k·r²)`` sweeps every spatial frequency and orientation from DC
at its centre to the Nyquist limit on its inscribed circle (beyond it, in the corners, it
aliases on purpose), so ringing, aliasing and lost resolution of a scaler show as rings. The
colour bars below it test chroma edges and levels: seven 75 % bars, the reversed castellation
strip and a PLUGE-like strip of near-black steps.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

ZONE_FRACTION = 0.7  # share of the height given to the zone plate

# 75 % bars, left to right: grey, yellow, cyan, green, magenta, red, blue
BARS_75 = ((191, 191, 191), (191, 191, 0), (0, 191, 191), (0, 191, 0), (191, 0, 191),
           (191, 0, 0), (0, 0, 191))
# castellations under the bars: blue, black, magenta, black, cyan, black, grey
CASTELLATIONS = ((0, 0, 191), (16, 16, 16), (191, 0, 191), (16, 16, 16), (0, 191, 191),
                 (16, 16, 16), (191, 191, 191))
# bottom strip: -I, 100 % white, +Q, black, then PLUGE steps (below, at, above black), black
PLUGE = ((0, 33, 76), (255, 255, 255), (50, 0, 106), (16, 16, 16), (6, 6, 6), (16, 16, 16),
         (26, 26, 26), (16, 16, 16))
PLUGE_WIDTHS = (5, 5, 5, 5, 1.5, 1.5, 1.5, 3.5)  # relative widths: 28 units = 7 bars of 4


def zone_plate(width: int, height: int) -> npt.NDArray[np.uint8]:
    """Grey circular zone plate, uint8 (height, width, 3), reaching Nyquist at radius R.

    >>> zone_plate(5, 3)[1, 2].tolist()  # the centre: sin(0) -> mid grey
    [128, 128, 128]
    """
    radius = max(min(width, height) / 2.0, 1.0)
    k = np.pi / (2.0 * radius)  # local frequency k·r/π cycles/pixel: 0.5 at r = radius
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float64)
    r2 = (xx - (width - 1) / 2.0) ** 2 + (yy - (height - 1) / 2.0) ** 2
    grey = np.floor(127.5 + 127.5 * np.sin(k * r2) + 0.5).astype(np.uint8)
    return np.repeat(grey[..., None], 3, axis=2)


def _bars_row(colours: tuple[tuple[int, int, int], ...], widths: tuple[float, ...],
              width: int) -> npt.NDArray[np.uint8]:
    """One row of vertical bars: ``colours[i]`` over a share ``widths[i]`` of the width."""
    edges = np.cumsum(widths) / sum(widths) * width
    idx = np.searchsorted(edges, np.arange(width) + 0.5, side="right")
    return np.asarray(colours, np.uint8)[np.minimum(idx, len(colours) - 1)]


def colour_bars(width: int, height: int) -> npt.NDArray[np.uint8]:
    """SMPTE-like bars, uint8 (height, width, 3): 75 % bars, castellations, PLUGE strip."""
    out = np.empty((height, width, 3), np.uint8)
    main = int(round(height * 2 / 3))
    castle = int(round(height * 3 / 4)) - main
    rows = (_bars_row(BARS_75, (1,) * 7, width), _bars_row(CASTELLATIONS, (1,) * 7, width),
            _bars_row(PLUGE, PLUGE_WIDTHS, width))
    out[:main] = rows[0]
    out[main : main + castle] = rows[1]
    out[main + castle :] = rows[2]
    return out


def test_pattern(width: int = 1280, height: int = 720) -> npt.NDArray[np.uint8]:
    """The standard scaler test frame, uint8 RGB (height, width, 3), deterministic.

    The top ``ZONE_FRACTION`` of the rows hold the zone plate, the rest the colour bars.

    >>> f = test_pattern(64, 36)
    >>> f.shape, f.dtype.name, f[-1, 0].tolist()
    ((36, 64, 3), 'uint8', [0, 33, 76])
    """
    if width < 1 or height < 1:
        raise ValueError(f"test pattern must be at least 1x1, got {width}x{height}")
    zone_rows = height if height < 2 else max(1, int(round(height * ZONE_FRACTION)))
    frame = np.empty((height, width, 3), np.uint8)
    frame[:zone_rows] = zone_plate(width, zone_rows)
    frame[zone_rows:] = colour_bars(width, height - zone_rows)
    return frame


test_pattern.__test__ = False  # type: ignore[attr-defined]  # not a pytest test
