"""Automatic display levels: which dB values get the lowest and the highest colour, read from the
part of the spectrogram on screen.

- The **floor** is the 20th percentile of the visible dB values. Most of a field recording is
  background, so the floor sits just under the noise: four fifths of the background lies above it
  (it is not clipped to one flat colour) and close to it (it stays near the lowest colour).
- The **ceiling** is the 99.5th percentile of the visible columns' peaks (the loudest row of each
  time column), plus 3 dB of headroom. A call that lasts longer than 1 in 200 of the visible
  columns sets it, so the loudest call keeps its structure instead of saturating, while a click
  or a handling noise a few columns wide does not darken everything else.
- The range is at least 30 dB, so a view of background alone is not stretched into speckle.
- Digital silence (below -180 dB) and what lies below 50 Hz (a DC offset, wind and traffic
  rumble: never a bird, often the loudest thing in a field recording) are left out, up to three
  FFT bins (where a DC offset leaks through the window) for short FFTs.

The work is bounded: percentiles of at most :data:`MAX_VALUES` values (every n-th row and column
of a large view), which takes about a millisecond, so the window works them out again on the GUI thread
whenever the view changes or tiles arrive.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from birdview.spectrogram.settings import SpectrogramSettings
from birdview.spectrogram.tiles import Tile, hz_to_y

FLOOR_PERCENTILE = 20.0
PEAK_PERCENTILE = 99.5
HEADROOM_DB = 3.0
MIN_RANGE_DB = 30.0
SILENCE_DB = -180.0
LOWEST_HZ = 50.0
#: The most values read to work levels out (the rest is sampled by column).
MAX_VALUES = 65_536


@dataclass(frozen=True)
class Levels:
    floor_db: float
    ceiling_db: float


def visible_part(
    db: np.ndarray,
    extent: tuple[float, float, float, float],
    view: tuple[float, float, float, float],
) -> np.ndarray:
    """The rows and columns of a tile image (rows, columns; row 0 the lowest frequency) that
    cover the view. ``extent`` is the tile's (x0, x1, y0, y1), ``view`` the visible (x0, x1, y0,
    y1), both in the view's coordinates (seconds and the frequency scale's units)."""
    rows, columns = db.shape
    x0, x1, y0, y1 = extent
    v0, v1, w0, w1 = view
    if rows == 0 or columns == 0 or x1 <= x0 or y1 <= y0:
        return db[:0, :0]

    def span(a: float, b: float, start: float, stop: float, n: int) -> slice:
        first = math.floor((a - start) / (stop - start) * n)
        last = math.ceil((b - start) / (stop - start) * n)
        return slice(min(max(first, 0), n), min(max(last, 0), n))

    return db[span(w0, w1, y0, y1, rows), span(v0, v1, x0, x1, columns)]


def lowest_hz(settings: SpectrogramSettings, sample_rate: int) -> float:
    """Levels are read above this: :data:`LOWEST_HZ`, or three FFT bins if that is more."""
    return max(LOWEST_HZ, 3 * sample_rate / settings.n_fft)


def visible_parts(
    tiles: Iterable[Tile],
    view: tuple[float, float, float, float],
    settings: SpectrogramSettings,
    sample_rate: int,
) -> list[np.ndarray]:
    """The part of each tile in ``view`` (x0, x1, y0, y1 in the view's coordinates) that levels
    are read from: above :func:`lowest_hz`."""
    t0, t1, y0, y1 = view
    y0 = max(y0, float(hz_to_y(lowest_hz(settings, sample_rate), settings)))
    return [visible_part(tile.db, (tile.x0, tile.x1, tile.y0, tile.y1), (t0, t1, y0, y1)) for tile in tiles]


def auto_levels(parts: Iterable[np.ndarray]) -> Levels | None:
    """Levels for the visible parts of the tiles on screen; None when nothing (audible) is visible."""
    parts = [part for part in parts if part.size]
    total = sum(part.size for part in parts)
    if total == 0:
        return None
    # Every n-th column (whole columns: a narrow loud call is never stepped over), and of those
    # every m-th row for the percentile of the values, so that at most MAX_VALUES are sorted.
    step = max(1, math.ceil(total / MAX_VALUES))
    columns = [part[:, ::step] for part in parts]
    row_step = max(1, math.ceil(sum(part.size for part in columns) / MAX_VALUES))
    values = np.concatenate([part[::row_step].ravel() for part in columns])
    peaks = np.concatenate([part.max(axis=0) for part in columns if part.size])
    values = values[values > SILENCE_DB]
    peaks = peaks[peaks > SILENCE_DB]
    if values.size == 0 or peaks.size == 0:
        return None
    floor = float(np.percentile(values, FLOOR_PERCENTILE))
    ceiling = float(np.percentile(peaks, PEAK_PERCENTILE)) + HEADROOM_DB
    return Levels(floor, max(ceiling, floor + MIN_RANGE_DB))
