"""A low-resolution spectrogram of a whole recording, filled progressively in the background.

Columns are computed coarse to fine (every 64th first, then the ones between), so the whole
strip shows something within moments and sharpens as the rest arrives.

Zoomed far out, a column averages :data:`OVERVIEW_GROUPS` runs of :data:`OVERVIEW_GROUP_FRAMES`
consecutive frames: a seek in a FLAC file costs about as much as decoding 15,000 samples, so
few runs of several frames (one seek each) are faster than many short ones and average more
frames. Given an :class:`~birdview.spectrogram.cache.OverviewCache`, a finished overview is
stored, and read back (with no audio read) the next time the same recording is shown with the
same settings.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import numpy as np

from birdview.audio.recording import AudioFileError, Recording
from birdview.spectrogram.cache import MISSING, OverviewCache, cached_identity
from birdview.spectrogram.settings import SpectrogramSettings
from birdview.spectrogram.tiles import (
    DENSE_FRAMES_MAX,
    TILE_FORMAT,
    column_count,
    column_seconds,
    compute_columns,
    frequency_extent,
    power_to_display_db,
)
from birdview.system.priority import TILE_NICE, lower_this_thread

MAX_COLUMNS = 2048
#: Runs of frames per column, and frames per run, when a column stands for many frames: 4 seeks
#: a column (12 before, of 2 frames each: half as fast on FLAC, 24 frames averaged instead of 32).
OVERVIEW_GROUPS = 4
OVERVIEW_GROUP_FRAMES = 8
_FIRST_STRIDE = 64
_DENSE_CHUNK = 256


def overview_level(total_samples: int, settings: SpectrogramSettings, max_columns: int = MAX_COLUMNS) -> int:
    level = 0
    while column_count(total_samples, settings, level) > max_columns:
        level += 1
    return level


def _coarse_to_fine(n: int) -> list[int]:
    order: list[int] = []
    seen = np.zeros(n, dtype=bool)
    stride = _FIRST_STRIDE
    while stride >= 1:
        for column in range(0, n, stride):
            if not seen[column]:
                seen[column] = True
                order.append(column)
        stride //= 2
    return order


class OverviewBuilder:
    """Builds the overview of one recording on its own thread; :meth:`snapshot` reads it any time."""

    def __init__(
        self,
        recording: Recording,
        settings: SpectrogramSettings,
        max_columns: int = MAX_COLUMNS,
        on_error: Callable[[Exception], None] | None = None,
        cache: OverviewCache | None = None,
        identity: str | None = None,
    ) -> None:
        self.recording = recording
        self.cache = cache
        #: The recording's content hash (the cache's key); worked out on the builder's thread when None.
        self.identity = identity
        #: True when the overview was read from the cache.
        self.from_cache = False
        self.settings = settings
        self.level = overview_level(recording.frames, settings, max_columns)
        self.n_columns = column_count(recording.frames, settings, self.level)
        self.seconds_per_column = column_seconds(settings, recording.sample_rate, self.level)
        self._power = np.zeros((self.n_columns, settings.n_fft // 2 + 1), dtype=np.float32)
        self._done = np.zeros(self.n_columns, dtype=bool)
        self._lock = threading.Lock()
        self._cancelled = threading.Event()
        self._on_error = on_error
        self.error: Exception | None = None
        #: Seconds the build took, once it is complete.
        self.elapsed_s: float | None = None
        self._thread = threading.Thread(target=self._run, name="overview", daemon=True)

    def start(self) -> OverviewBuilder:
        self._thread.start()
        return self

    def cancel(self) -> None:
        self._cancelled.set()

    def wait(self, timeout: float | None = None) -> bool:
        self._thread.join(timeout)
        return not self._thread.is_alive()

    @property
    def fraction_done(self) -> float:
        return float(self._done.mean()) if self.n_columns else 1.0

    @property
    def finished(self) -> bool:
        return bool(self._done.all()) or self.error is not None

    @property
    def scheme(self) -> str:
        """How the columns sample the recording (part of the cache's key)."""
        return (
            f"columns={self.n_columns};level={self.level};groups={OVERVIEW_GROUPS}x{OVERVIEW_GROUP_FRAMES};"
            f"dense={DENSE_FRAMES_MAX};format={TILE_FORMAT}"
        )

    def _cache_args(self) -> tuple[str, int, SpectrogramSettings, str] | None:
        """The cache's key for this overview; None without a cache or a readable file."""
        if self.cache is None:
            return None
        if self.identity is None:
            self.identity = cached_identity(self.recording.path)
        if self.identity == MISSING:
            return None
        return self.identity, self.recording.frames, self.settings, self.scheme

    def _run(self) -> None:
        lower_this_thread(TILE_NICE)  # the GUI thread paints first
        started = time.perf_counter()
        try:
            key = self._cache_args()
            if self.cache is not None and key is not None:
                stored = self.cache.get(*key, shape=self._power.shape)
                if stored is not None:
                    with self._lock:
                        self._power[:] = stored
                        self._done[:] = True
                    self.from_cache = True
                    self.elapsed_s = time.perf_counter() - started
                    return
            if (1 << self.level) <= DENSE_FRAMES_MAX:
                self._run_dense()
            else:
                self._run_sparse()
            if self._done.all():
                self.elapsed_s = time.perf_counter() - started
                if self.cache is not None and key is not None:
                    self.cache.put(*key, self._power)
        except (AudioFileError, OSError, ValueError) as exc:
            self.error = exc
            if self._on_error is not None:
                self._on_error(exc)

    def _run_dense(self) -> None:
        for first in range(0, self.n_columns, _DENSE_CHUNK):
            if self._cancelled.is_set():
                return
            n = min(_DENSE_CHUNK, self.n_columns - first)
            power = compute_columns(self.recording, self.settings, self.level, first, n)
            with self._lock:
                self._power[first : first + n] = power
                self._done[first : first + n] = True

    def _run_sparse(self) -> None:
        for column in _coarse_to_fine(self.n_columns):
            if self._cancelled.is_set():
                return
            power = compute_columns(
                self.recording,
                self.settings,
                self.level,
                column,
                1,
                groups=OVERVIEW_GROUPS,
                group_frames=OVERVIEW_GROUP_FRAMES,
            )
            with self._lock:
                self._power[column] = power[0]
                self._done[column] = True

    def snapshot(self) -> tuple[np.ndarray, tuple[float, float, float, float]] | None:
        """The overview so far as (dB image (rows, columns), (x0, x1, y0, y1)); columns not yet
        computed repeat the nearest computed one to their left. None before the first column."""
        with self._lock:
            done = self._done.copy()
            if not done.any():
                return None
            power = self._power.copy()
        index = np.where(done, np.arange(self.n_columns), 0)
        np.maximum.accumulate(index, out=index)
        first_done = int(np.argmax(done))
        index[:first_done] = first_done
        image = power_to_display_db(power[index], self.settings, self.recording.sample_rate)
        hop_s = self.settings.hop / self.recording.sample_rate
        per_column = 1 << self.level
        y0, y1 = frequency_extent(self.settings, self.recording.sample_rate)
        return image, (-0.5 * hop_s, (self.n_columns * per_column - 0.5) * hop_s, y0, y1)
