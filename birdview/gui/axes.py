"""pyqtgraph axes: time in h:mm:ss or wall-clock time, frequency in kHz on a linear, mel or log
scale (ticked at 0.1, 0.2, 0.5, 1, 2, 5, 10 kHz on the mel and log scales); tick labels at the
ends of the frequency axis are moved inside it, so the top one is never cut off."""

from __future__ import annotations

from datetime import datetime

import pyqtgraph as pg
from PySide6.QtCore import QRectF
from PySide6.QtGui import QFontMetricsF
from PySide6.QtWidgets import QApplication

from birdview.spectrogram.settings import SpectrogramSettings
from birdview.spectrogram.ticks import (
    format_khz,
    format_khz_short,
    format_time,
    frequency_ticks_hz,
    nice_step,
    scale_frequency_ticks,
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
    """Labelled ticks (level 0) and, on the mel and log scales, minor ticks without labels (level 1)."""

    def __init__(self, **kwargs: object) -> None:
        super().__init__("left", **kwargs)
        self.settings = SpectrogramSettings()
        self._step_hz = 1000.0
        self.setLabel("Frequency", units="kHz")
        self.enableAutoSIPrefix(False)
        self.setStyle(maxTextLevel=0)

    def set_settings(self, settings: SpectrogramSettings) -> None:
        self.settings = settings
        self.picture = None
        self.update()

    def _label_px(self) -> float:
        """How tall the ink of a label is (digits: no descenders, no leading)."""
        font = self.style["tickFont"] or QApplication.font()
        return QFontMetricsF(font).tightBoundingRect("0123456789.").height() + 1

    def tickValues(self, minVal: float, maxVal: float, size: float) -> list:
        f0 = float(y_to_hz(max(minVal, 0.0), self.settings))
        f1 = float(y_to_hz(max(maxVal, 0.0), self.settings))
        if f1 <= f0 or maxVal <= minVal:
            return []
        if self.settings.scale == "linear":
            max_ticks = max(2, int(size / _PIXELS_PER_FREQ_TICK))
            self._step_hz = nice_step(f1 - f0, max_ticks)
            ticks = [float(hz_to_y(hz, self.settings)) for hz in frequency_ticks_hz(f0, f1, max_ticks)]
            return [(self._step_hz, ticks)]
        self._step_hz = 0.0
        pixels_per_unit = size / (maxVal - minVal)

        def to_px(hz: float) -> float:
            return (float(hz_to_y(hz, self.settings)) - minVal) * pixels_per_unit

        labelled, minor = scale_frequency_ticks(f0, f1, to_px, self._label_px(), gap_px=4.0)
        as_y = [float(hz_to_y(hz, self.settings)) for hz in labelled]
        return [(None, as_y), (None, [float(hz_to_y(hz, self.settings)) for hz in minor])]

    def tickStrings(self, values: list[float], scale: float, spacing: float) -> list[str]:
        if self._step_hz:
            return [format_khz(float(y_to_hz(v, self.settings)), self._step_hz) for v in values]
        return [format_khz_short(float(y_to_hz(v, self.settings))) for v in values]

    def generateDrawSpecs(self, p):
        """pyqtgraph's, with labels that would stick out past either end moved inside the axis."""
        specs = super().generateDrawSpecs(p)
        if specs is None:
            return None
        axis_spec, tick_specs, text_specs = specs
        bounds = self.mapRectFromParent(self.geometry())
        moved = []
        for rect, flags, text in text_specs:
            rect = QRectF(rect)
            if rect.top() < bounds.top():
                rect.moveTop(bounds.top())
            elif rect.bottom() > bounds.bottom():
                rect.moveBottom(bounds.bottom())
            moved.append((rect, flags, text))
        return axis_spec, tick_specs, moved
