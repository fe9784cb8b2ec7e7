"""Spectrogram tiles: a fixed number of columns of one recording at one zoom level.

Frame ``k`` is centred on sample ``k * hop``. At zoom level ``L`` one column stands for
``2**L`` consecutive frames. Up to :data:`DENSE_FRAMES_MAX` frames a column, every frame is
computed and their power averaged; above that (zoomed far out) each column averages a few short
groups of frames spread across it, so that a whole day can be drawn after reading only a small
part of the file.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import librosa
import numpy as np
import scipy.fft
import scipy.signal

from birdview.audio.recording import Recording
from birdview.spectrogram.settings import SpectrogramSettings

TILE_COLUMNS = 256
DENSE_FRAMES_MAX = 16
SPARSE_GROUPS = 4
SPARSE_FRAMES_PER_GROUP = 2
#: One seek costs about as much as decoding this many samples (FLAC, measured with libsndfile).
SEEK_COST_SAMPLES = 15_000
#: Never decode a span longer than this in one pass (beyond it, seeking is cheaper).
CONTIGUOUS_READ_MAX = 16_000_000
#: A span decoded in one pass is read this many samples at a time, keeping only the frames wanted:
#: a worker holds 4 MB of samples, not the whole span (up to 64 MB, twice over while decoding).
DECODE_BLOCK_SAMPLES = 1 << 20
_FRAME_BATCH = 2048
_POWER_FLOOR = 1e-20
#: Changes when a tile computed for the same key holds other values (the disk cache keys on it):
#: 2 since mel and log bands are the mean power of their bins.
TILE_FORMAT = 2


@dataclass(frozen=True)
class TileKey:
    path: str
    frames: int
    settings: SpectrogramSettings
    level: int
    index: int


@dataclass(frozen=True)
class Tile:
    key: TileKey
    #: dB values, shape (rows, columns); row 0 is the lowest frequency.
    db: np.ndarray
    x0: float
    x1: float
    y0: float
    y1: float

    @property
    def nbytes(self) -> int:
        return int(self.db.nbytes)


def frame_count(total_samples: int, hop: int) -> int:
    return total_samples // hop + 1


def column_count(total_samples: int, settings: SpectrogramSettings, level: int) -> int:
    return math.ceil(frame_count(total_samples, settings.hop) / (1 << level))


def column_seconds(settings: SpectrogramSettings, sample_rate: int, level: int) -> float:
    return (1 << level) * settings.hop / sample_rate


def level_for_view(span_s: float, width_px: int, settings: SpectrogramSettings, sample_rate: int) -> int:
    """The coarsest level that still gives at least one column per screen pixel."""
    frames_per_pixel = span_s * sample_rate / settings.hop / max(width_px, 1)
    if frames_per_pixel <= 1:
        return 0
    return math.floor(math.log2(frames_per_pixel))


def tiles_for_range(
    t0: float, t1: float, total_samples: int, sample_rate: int, settings: SpectrogramSettings, level: int
) -> range:
    """Indices of the tiles at ``level`` that overlap the time range [t0, t1]."""
    seconds_per_tile = column_seconds(settings, sample_rate, level) * TILE_COLUMNS
    last = (column_count(total_samples, settings, level) - 1) // TILE_COLUMNS
    first = max(0, math.floor(t0 / seconds_per_tile))
    stop = min(last, math.floor(t1 / seconds_per_tile))
    return range(first, stop + 1)


@lru_cache(maxsize=32)
def _window(name: str, n_fft: int) -> np.ndarray:
    return scipy.signal.get_window(name, n_fft, fftbins=True).astype(np.float32)


#: Where the log scale starts: 0 Hz is drawn there (a logarithmic axis has no 0).
LOG_MIN_HZ = 50.0


def frequency_extent(settings: SpectrogramSettings, sample_rate: int) -> tuple[float, float]:
    """The y range a tile image covers: Hz for a linear scale, mel for a mel scale, octaves
    above :data:`LOG_MIN_HZ` for a log scale."""
    if settings.scale in ("mel", "log"):
        points = _band_points(settings.scale, sample_rate, settings.mel_bands)
        step = points[1] - points[0]
        return float(points[1] - step / 2), float(points[-2] + step / 2)
    bin_hz = sample_rate / settings.n_fft
    return -bin_hz / 2, (settings.n_fft // 2 + 0.5) * bin_hz


def _scale_hz_to_y(hz: float | np.ndarray, scale: str) -> float | np.ndarray:
    if scale == "mel":
        return librosa.hz_to_mel(hz)
    if scale == "log":
        return np.log2(np.maximum(hz, LOG_MIN_HZ) / LOG_MIN_HZ)
    return hz


def _scale_y_to_hz(y: float | np.ndarray, scale: str) -> float | np.ndarray:
    if scale == "mel":
        return librosa.mel_to_hz(y)
    if scale == "log":
        return LOG_MIN_HZ * np.exp2(y)
    return y


def _band_points(scale: str, sample_rate: int, bands: int) -> np.ndarray:
    """The bands' centres in y units, one more either side: ``bands`` rows of equal height that
    fill 0 Hz to the Nyquist frequency exactly (so a view can show 0-12 kHz, no more, no less)."""
    bottom, top = _scale_hz_to_y(0.0, scale), _scale_hz_to_y(sample_rate / 2, scale)
    step = (top - bottom) / bands
    return bottom + (np.arange(-1, bands + 1) + 0.5) * step


@lru_cache(maxsize=16)
def _band_filterbank(scale: str, sample_rate: int, n_fft: int, bands: int) -> np.ndarray:
    """(bands, bins) weights from the power of each FFT bin to the mean power of each display band.

    Bands are triangles between their neighbours' centres, equally spaced on the scale (as
    librosa's mel filters). Each weighs its bins by unit sum, so noise is as bright at every
    frequency as on the linear scale. A band narrower than an FFT bin (the low ones) interpolates
    between the two nearest bins instead of catching one bin or none, which drew stripes.
    """
    edges = np.asarray(_scale_y_to_hz(_band_points(scale, sample_rate, bands), scale), dtype=np.float64)
    bin_hz = sample_rate / n_fft
    freqs = np.arange(n_fft // 2 + 1) * bin_hz
    low, centre, high = edges[:-2, None], edges[1:-1, None], edges[2:, None]
    left = np.maximum(centre - low, bin_hz)
    right = np.maximum(high - centre, bin_hz)
    rising = (freqs[None, :] - (centre - left)) / left
    falling = ((centre + right) - freqs[None, :]) / right
    weights = np.clip(np.minimum(rising, falling), 0.0, None)
    weights /= np.maximum(weights.sum(axis=1, keepdims=True), 1e-12)
    return weights.astype(np.float32)


def hz_to_y(hz: float | np.ndarray, settings: SpectrogramSettings) -> float | np.ndarray:
    return _scale_hz_to_y(hz, settings.scale)


def y_to_hz(y: float | np.ndarray, settings: SpectrogramSettings) -> float | np.ndarray:
    return _scale_y_to_hz(y, settings.scale)


def sampled_frames(
    first_column: int, n_columns: int, per_column: int, groups: int, group: int = SPARSE_FRAMES_PER_GROUP
) -> np.ndarray:
    """Frame indices, shape (n_columns, groups * group): short runs of ``group`` consecutive
    frames spread evenly across each column."""
    columns = np.arange(first_column, first_column + n_columns)[:, None, None] * per_column
    centres = ((np.arange(groups) + 0.5) * per_column / groups).astype(np.int64)[None, :, None]
    return (columns + centres - group // 2 + np.arange(group)[None, None, :]).reshape(n_columns, -1)


def _spectra(frames: np.ndarray, settings: SpectrogramSettings) -> np.ndarray:
    power = np.empty((len(frames), settings.n_fft // 2 + 1), dtype=np.float32)
    window = _window(settings.window, settings.n_fft)
    for start in range(0, len(frames), _FRAME_BATCH):
        spectrum = scipy.fft.rfft(frames[start : start + _FRAME_BATCH] * window, axis=1)
        power[start : start + len(spectrum)] = spectrum.real**2 + spectrum.imag**2
    return power


def _frames_in_span(recording: Recording, span_start: int, offsets: np.ndarray, n_fft: int, channel: int) -> np.ndarray:
    """The frames starting at ``offsets`` (samples after ``span_start``), shape
    (len(offsets), n_fft): the span is decoded front to back, :data:`DECODE_BLOCK_SAMPLES` at a
    time (blocks holding no frame are skipped), so memory does not grow with the span."""
    frames = np.empty((len(offsets), n_fft), dtype=np.float32)
    blocks = offsets // DECODE_BLOCK_SAMPLES
    window = np.arange(n_fft)[None, :]
    for block in np.unique(blocks):
        wanted = np.flatnonzero(blocks == block)
        begin = int(block) * DECODE_BLOCK_SAMPLES
        end = int(offsets[wanted].max()) + n_fft
        samples = recording.read(span_start + begin, span_start + end, channel)
        frames[wanted] = samples[offsets[wanted, None] - begin + window]
    return frames


def compute_columns(
    recording: Recording,
    settings: SpectrogramSettings,
    level: int,
    first_column: int,
    n_columns: int,
    groups: int = SPARSE_GROUPS,
    group_frames: int = SPARSE_FRAMES_PER_GROUP,
) -> np.ndarray:
    """Mean power of columns [first_column, first_column + n_columns): shape (n_columns, bins).

    Zoomed far out, each column averages ``groups`` runs of ``group_frames`` consecutive frames.
    A seek costs as much as decoding :data:`SEEK_COST_SAMPLES` samples, so when the runs lie
    closer than that the whole span is decoded once instead."""
    n_fft, hop = settings.n_fft, settings.hop
    per_column = 1 << level
    half = n_fft // 2
    channel = settings.channel
    if per_column <= DENSE_FRAMES_MAX:
        first_frame = first_column * per_column
        n_frames = n_columns * per_column
        start = first_frame * hop - half
        samples = recording.read(start, start + (n_frames - 1) * hop + n_fft, channel)
        frames = np.lib.stride_tricks.sliding_window_view(samples, n_fft)[::hop][:n_frames]
        return _spectra(frames, settings).reshape(n_columns, per_column, -1).mean(axis=1)

    indices = sampled_frames(first_column, n_columns, per_column, groups, group_frames)
    span_start = int(indices.min()) * hop - half
    span_samples = int(indices.max()) * hop - half + n_fft - span_start
    runs = indices.shape[0] * groups
    if span_samples <= min(CONTIGUOUS_READ_MAX, runs * SEEK_COST_SAMPLES):
        # Decoding the whole span once is cheaper than seeking for every group.
        frames = _frames_in_span(recording, span_start, indices.reshape(-1) * hop - half - span_start, n_fft, channel)
    else:
        group = group_frames
        run_starts = indices.reshape(-1, group)[:, 0]
        frames = np.empty((len(run_starts) * group, n_fft), dtype=np.float32)
        for i, first in enumerate(run_starts):
            begin = int(first) * hop - half
            block = recording.read(begin, begin + (group - 1) * hop + n_fft, channel)
            frames[i * group : (i + 1) * group] = np.lib.stride_tricks.sliding_window_view(block, n_fft)[::hop][:group]
    return _spectra(frames, settings).reshape(n_columns, indices.shape[1], -1).mean(axis=1)


def power_to_display_db(power: np.ndarray, settings: SpectrogramSettings, sample_rate: int) -> np.ndarray:
    """(columns, bins) power to (rows, columns) dB, 0 dB being a full-scale sine in one FFT bin.
    Mel and log bands hold the mean power of their bins: noise reads the same on every scale, and a
    sine reads lower in a band wider than a bin (about 10 log10 of its width in bins lower)."""
    if settings.scale in ("mel", "log"):
        power = power @ _band_filterbank(settings.scale, sample_rate, settings.n_fft, settings.mel_bands).T
    window_gain = float(_window(settings.window, settings.n_fft).sum()) / 2
    db = 10.0 * np.log10(np.maximum(power, _POWER_FLOOR) / window_gain**2)
    return np.ascontiguousarray(db.T, dtype=np.float32)


def compute_tile(recording: Recording, key: TileKey) -> Tile:
    settings = key.settings
    sample_rate = recording.sample_rate
    total_columns = column_count(recording.frames, settings, key.level)
    first = key.index * TILE_COLUMNS
    n_columns = max(0, min(TILE_COLUMNS, total_columns - first))
    if n_columns == 0:
        raise ValueError(f"tile {key.index} at level {key.level} lies beyond the end of {recording.path}")
    power = compute_columns(recording, settings, key.level, first, n_columns)
    db = power_to_display_db(power, settings, sample_rate)
    per_column = 1 << key.level
    hop_s = settings.hop / sample_rate
    y0, y1 = frequency_extent(settings, sample_rate)
    return Tile(
        key=key,
        db=db,
        x0=(first * per_column - 0.5) * hop_s,
        x1=((first + n_columns) * per_column - 0.5) * hop_s,
        y0=y0,
        y1=y1,
    )
