"""pyqtgraph axes: time in h:mm:ss or wall-clock time, frequency in kHz on a linear or mel scale."""

from __future__ import annotations

from datetime import datetime

import pyqtgraph as pg

from birdview.spectrogram.settings import SpectrogramSettings
from birdview.spectrogram.ticks import (
    format_khz,
    format_time,
    frequency_ticks_hz,
    nice_step,
    time_tick_step,
    time_ticks,
)
from birdview.spectrogram.tiles import hz_to_y, y_to_hz

_PIXELS_PER_TIME_TICK = 90
_PIXELS_PER_FREQ_TICK = 40


class TimeAxis(pg.AxisItem):
    def __init__(self, **kwargs: object) -> None:
        super().__init__("bottom", **kwargs)
        self.start_time: datetime | None = None
        self._step = 1.0

    def set_start_time(self, start: datetime | None) -> None:
        self.start_time = start
        self.picture = None
        self.update()

    def _offset(self) -> float:
        if self.start_time is None:
            return 0.0
        midnight = self.start_time.replace(hour=0, minute=0, second=0, microsecond=0)
        return (self.start_time - midnight).total_seconds()

    def tickValues(self, minVal: float, maxVal: float, size: float) -> list:
        max_ticks = max(2, int(size / _PIXELS_PER_TIME_TICK))
        self._step = time_tick_step(max(maxVal - minVal, 1e-6), max_ticks)
        return [(self._step, time_ticks(minVal, maxVal, max_ticks, self._offset()))]

    def tickStrings(self, values: list[float], scale: float, spacing: float) -> list[str]:
        return [format_time(v, self._step, self.start_time) for v in values]


class FrequencyAxis(pg.AxisItem):
    def __init__(self, **kwargs: object) -> None:
        super().__init__("left", **kwargs)
        self.settings = SpectrogramSettings()
        self._step_hz = 1000.0
        self.setLabel("Frequency", units="kHz")
        self.enableAutoSIPrefix(False)

    def set_settings(self, settings: SpectrogramSettings) -> None:
        self.settings = settings
        self.picture = None
        self.update()

    def tickValues(self, minVal: float, maxVal: float, size: float) -> list:
        max_ticks = max(2, int(size / _PIXELS_PER_FREQ_TICK))
        f0 = float(y_to_hz(max(minVal, 0.0), self.settings))
        f1 = float(y_to_hz(max(maxVal, 0.0), self.settings))
        if f1 <= f0:
            return []
        self._step_hz = nice_step(f1 - f0, max_ticks)
        ticks = [float(hz_to_y(hz, self.settings)) for hz in frequency_ticks_hz(f0, f1, max_ticks)]
        return [(self._step_hz, ticks)]

    def tickStrings(self, values: list[float], scale: float, spacing: float) -> list[str]:
        return [format_khz(float(y_to_hz(v, self.settings)), self._step_hz) for v in values]
