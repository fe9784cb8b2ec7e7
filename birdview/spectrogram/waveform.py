"""Waveform envelopes: the lowest and highest sample of each column, in tiles like the
spectrogram's (and computed, cached and drawn by the same machinery: a
:class:`~birdview.spectrogram.service.TileService` with :func:`compute_wave_tile`).

At level ``L`` one column stands for ``2**L`` consecutive samples; column ``c`` covers samples
``[c * 2**L, (c + 1) * 2**L)`` (the last one stops at the end of the file). A tile holds
:data:`WAVE_TILE_COLUMNS` columns. Up to :data:`EXACT_SAMPLES_MAX` samples a column every sample
is read (in blocks, so memory stays bounded): the envelope is exact, every peak is in it. Zoomed
out further (more than about 2 s a pixel at 32 kHz), a column's envelope is that of
:data:`SAMPLED_RUNS` stretches of :data:`SAMPLED_RUN_SAMPLES` samples spread across it, so a
whole day is drawn after reading a small part of it; a short peak between them can be missed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from birdview.audio.recording import Recording
from birdview.spectrogram.tiles import Tile

WAVE_TILE_COLUMNS = 1024
#: Above this many samples a column, the envelope is sampled (see the module's text).
EXACT_SAMPLES_MAX = 1 << 16
SAMPLED_RUNS = 4
SAMPLED_RUN_SAMPLES = 8192
#: Samples read at once when every sample is read.
_BLOCK_SAMPLES = 1 << 21


@dataclass(frozen=True)
class WaveKey:
    path: str
    frames: int
    channel: int
    level: int
    index: int


def wave_column_count(total_samples: int, level: int) -> int:
    return math.ceil(total_samples / (1 << level))


def wave_level_for_view(span_s: float, width_px: int, sample_rate: int) -> int:
    """The coarsest level that still gives at least one column per screen pixel."""
    samples_per_pixel = span_s * sample_rate / max(width_px, 1)
    if samples_per_pixel <= 1:
        return 0
    return math.floor(math.log2(samples_per_pixel))


def wave_tiles_for_range(t0: float, t1: float, total_samples: int, sample_rate: int, level: int) -> range:
    """Indices of the tiles at ``level`` that overlap the time range [t0, t1]."""
    seconds_per_tile = (1 << level) * WAVE_TILE_COLUMNS / sample_rate
    last = (wave_column_count(total_samples, level) - 1) // WAVE_TILE_COLUMNS
    first = max(0, math.floor(t0 / seconds_per_tile))
    stop = min(last, math.floor(t1 / seconds_per_tile))
    return range(first, stop + 1)


def compute_envelope(recording: Recording, channel: int, level: int, first_column: int, n_columns: int) -> np.ndarray:
    """(2, n_columns) float32: the lowest and highest sample of each column (sampled above
    :data:`EXACT_SAMPLES_MAX` samples a column)."""
    per_column = 1 << level
    total = recording.frames
    n_columns = max(0, min(n_columns, wave_column_count(total, level) - first_column))
    envelope = np.zeros((2, n_columns), dtype=np.float32)
    if n_columns == 0:
        return envelope
    if per_column > EXACT_SAMPLES_MAX:
        run = SAMPLED_RUN_SAMPLES
        for i in range(n_columns):
            column_start = (first_column + i) * per_column
            length = min(per_column, total - column_start)
            starts = column_start + ((np.arange(SAMPLED_RUNS) + 0.5) * length / SAMPLED_RUNS - run / 2).astype(np.int64)
            starts = np.clip(starts, column_start, max(column_start, column_start + length - run))
            parts = [recording.read(int(s), int(min(s + run, column_start + length)), channel) for s in starts]
            samples = np.concatenate(parts)
            envelope[0, i], envelope[1, i] = samples.min(), samples.max()
        return envelope
    columns_per_block = max(1, _BLOCK_SAMPLES // per_column)
    for first in range(0, n_columns, columns_per_block):
        count = min(columns_per_block, n_columns - first)
        start = (first_column + first) * per_column
        stop = min(start + count * per_column, total)
        samples = recording.read(start, stop, channel)
        padded = count * per_column - len(samples)
        if padded:  # the last column stops at the end of the file: pad with its own last sample
            samples = np.concatenate([samples, np.full(padded, samples[-1], dtype=np.float32)])
        shaped = samples.reshape(count, per_column)
        envelope[0, first : first + count] = shaped.min(axis=1)
        envelope[1, first : first + count] = shaped.max(axis=1)
    return envelope


def compute_wave_tile(recording: Recording, key: WaveKey) -> Tile:
    """The tile ``key``: ``db`` holds the envelope, shape (2, columns): row 0 the lowest sample
    of each column, row 1 the highest; x0, x1 the tile's time span, y0, y1 = -1, 1 (full scale)."""
    first = key.index * WAVE_TILE_COLUMNS
    per_column = 1 << key.level
    envelope = compute_envelope(recording, key.channel, key.level, first, WAVE_TILE_COLUMNS)
    n_columns = envelope.shape[1]
    if n_columns == 0:
        raise ValueError(f"waveform tile {key.index} at level {key.level} lies beyond the end of {recording.path}")
    rate = recording.sample_rate
    return Tile(
        key=key,  # type: ignore[arg-type]
        db=envelope,
        x0=first * per_column / rate,
        x1=(first + n_columns) * per_column / rate,
        y0=-1.0,
        y1=1.0,
    )
