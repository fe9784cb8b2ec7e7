"""Spectrogram and playback settings, edited live and kept between runs (QSettings).

"Auto level" (on by default) sets the levels from what is on screen; brightness and contrast set
them by hand when it is off (they keep their values meanwhile, greyed out). "Channel" is "All,
stacked" (every channel in a pane of its own, the default) or one channel, counted from 1."""

from __future__ import annotations

import json
from dataclasses import fields

from PySide6.QtCore import QSettings, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QLabel,
    QSpinBox,
    QWidget,
)

from birdview.gui.colormaps import COLORMAPS
from birdview.spectrogram.settings import (
    FFT_SIZES,
    MEL_BANDS,
    OVERLAPS,
    SCALES,
    WINDOWS,
    DisplaySettings,
    SpectrogramSettings,
)

SPEEDS = (0.25, 0.5, 1.0, 2.0, 4.0)


def _load(settings: QSettings, name: str, cls: type) -> object:
    raw = settings.value(name)
    if not raw:
        return cls()
    try:
        stored = json.loads(str(raw))
        if "n_mels" in stored:  # what earlier versions called it
            stored.setdefault("mel_bands", stored.pop("n_mels"))
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in stored.items() if k in known})
    except (ValueError, TypeError):
        return cls()


def load_settings(settings: QSettings) -> tuple[SpectrogramSettings, DisplaySettings]:
    return _load(settings, "spectrogram", SpectrogramSettings), _load(settings, "display", DisplaySettings)


def save_settings(settings: QSettings, spectrogram: SpectrogramSettings, display: DisplaySettings) -> None:
    settings.setValue("spectrogram", json.dumps(spectrogram.as_dict()))
    settings.setValue("display", json.dumps(display.as_dict()))


class DisplayPanel(QWidget):
    spectrogramChanged = Signal(object)
    displayChanged = Signal(object)

    def __init__(self, spectrogram: SpectrogramSettings, display: DisplaySettings, parent: object = None) -> None:
        super().__init__(parent)
        form = QFormLayout(self)
        self.fft_size = QComboBox()
        for size in FFT_SIZES:
            self.fft_size.addItem(str(size), size)
        self.overlap = QComboBox()
        for overlap in OVERLAPS:
            self.overlap.addItem(f"{overlap * 100:g} %", overlap)
        self.window = QComboBox()
        self.window.addItems(WINDOWS)
        self.scale = QComboBox()
        self.scale.addItems(SCALES)
        self.mel_bands = QSpinBox(minimum=MEL_BANDS[0], maximum=MEL_BANDS[1], singleStep=16)
        self.channel = QSpinBox(minimum=0, maximum=64)
        self.channel.setSpecialValueText("All, stacked")  # 0
        self.channel.setToolTip("Every channel in a pane of its own, or one channel (1 = the first, left)")
        self.colormap = QComboBox()
        self.colormap.addItems(list(COLORMAPS))
        self.auto_level = QCheckBox("Auto level")
        self.auto_level.setToolTip(
            "Levels from the visible part: the 20th percentile of its dB values at the lowest colour, "
            "the loudest calls (99.5th percentile of the columns' peaks, +3 dB) at the highest"
        )
        self.auto_levels_label = QLabel()
        self.auto_levels_label.setObjectName("auto_levels_label")
        self.db_ceiling = QDoubleSpinBox(minimum=-200, maximum=20, singleStep=5, suffix=" dB")
        self.db_range = QDoubleSpinBox(minimum=10, maximum=200, singleStep=5, suffix=" dB")
        self.freq_min = QDoubleSpinBox(minimum=0, maximum=192, decimals=2, singleStep=0.5, suffix=" kHz")
        self.freq_max = QDoubleSpinBox(minimum=0, maximum=192, decimals=2, singleStep=0.5, suffix=" kHz")
        self.freq_max.setSpecialValueText("Nyquist")
        self.default_span = QDoubleSpinBox(minimum=1, maximum=86400, decimals=0, suffix=" s")
        self.speed = QComboBox()
        for speed in SPEEDS:
            self.speed.addItem(f"{speed:g}×", speed)
        self.speed.setCurrentIndex(SPEEDS.index(1.0))
        self.band_pass = QCheckBox("Band-pass to selection")

        form.addRow("FFT size", self.fft_size)
        form.addRow("Overlap", self.overlap)
        form.addRow("Window", self.window)
        form.addRow("Frequency scale", self.scale)
        form.addRow("Bands (mel, log)", self.mel_bands)
        form.addRow("Channel", self.channel)
        form.addRow("Colour map", self.colormap)
        form.addRow("", self.auto_level)
        form.addRow("", self.auto_levels_label)
        form.addRow("Brightness (top)", self.db_ceiling)
        form.addRow("Contrast (range)", self.db_range)
        form.addRow("Lowest frequency", self.freq_min)
        form.addRow("Highest frequency", self.freq_max)
        form.addRow("View on open", self.default_span)
        form.addRow("Playback speed", self.speed)
        form.addRow("", self.band_pass)

        self.set_values(spectrogram, display)
        for combo in (self.fft_size, self.overlap, self.window, self.scale):
            combo.currentIndexChanged.connect(self._emit_spectrogram)
        self.channel.valueChanged.connect(self._emit_spectrogram)
        self.channel.valueChanged.connect(self._emit_display)
        self.mel_bands.valueChanged.connect(self._emit_spectrogram)
        self.scale.currentTextChanged.connect(lambda scale: self.mel_bands.setEnabled(scale != "linear"))
        self.colormap.currentIndexChanged.connect(self._emit_display)
        self.auto_level.toggled.connect(self._enable_levels)
        self.auto_level.toggled.connect(self._emit_display)
        for spin in (self.db_ceiling, self.db_range, self.freq_min, self.freq_max, self.default_span):
            spin.valueChanged.connect(self._emit_display)

    def set_values(self, spectrogram: SpectrogramSettings, display: DisplaySettings) -> None:
        widgets = (
            self.fft_size,
            self.overlap,
            self.window,
            self.scale,
            self.mel_bands,
            self.channel,
            self.colormap,
            self.auto_level,
            self.db_ceiling,
            self.db_range,
            self.freq_min,
            self.freq_max,
            self.default_span,
        )
        for widget in widgets:
            widget.blockSignals(True)
        self.fft_size.setCurrentIndex(max(0, self.fft_size.findData(spectrogram.n_fft)))
        self.overlap.setCurrentIndex(max(0, self.overlap.findData(spectrogram.overlap)))
        self.window.setCurrentText(spectrogram.window)
        self.scale.setCurrentText(spectrogram.scale)
        self.mel_bands.setValue(spectrogram.mel_bands)
        self.mel_bands.setEnabled(spectrogram.scale != "linear")
        self.channel.setValue(0 if display.stack_channels else spectrogram.channel + 1)
        self.colormap.setCurrentText(display.colormap)
        self.auto_level.setChecked(display.auto_level)
        self._enable_levels(display.auto_level)
        self.db_ceiling.setValue(display.db_ceiling)
        self.db_range.setValue(display.db_ceiling - display.db_floor)
        self.freq_min.setValue(display.freq_min_hz / 1000)
        self.freq_max.setValue((display.freq_max_hz or 0) / 1000)
        self.default_span.setValue(display.default_span_s)
        for widget in widgets:
            widget.blockSignals(False)

    def spectrogram_settings(self) -> SpectrogramSettings:
        return SpectrogramSettings(
            n_fft=int(self.fft_size.currentData()),
            overlap=float(self.overlap.currentData()),
            window=self.window.currentText(),
            scale=self.scale.currentText(),
            mel_bands=self.mel_bands.value(),
            channel=max(0, self.channel.value() - 1),  # stacked: the first channel in the main pane
        )

    def display_settings(self) -> DisplaySettings:
        ceiling = self.db_ceiling.value()
        freq_max = self.freq_max.value() * 1000
        return DisplaySettings(
            colormap=self.colormap.currentText(),
            db_floor=ceiling - self.db_range.value(),
            db_ceiling=ceiling,
            freq_min_hz=self.freq_min.value() * 1000,
            freq_max_hz=freq_max if freq_max > 0 else None,
            default_span_s=self.default_span.value(),
            auto_level=self.auto_level.isChecked(),
            stack_channels=self.channel.value() == 0,
        )

    def show_auto_levels(self, floor_db: float | None, ceiling_db: float | None) -> None:
        """Say which levels the automatic level chose (nothing when it is off or has not yet)."""
        if floor_db is None or ceiling_db is None or not self.auto_level.isChecked():
            self.auto_levels_label.setText("")
        else:
            self.auto_levels_label.setText(f"{floor_db:.0f} to {ceiling_db:.0f} dB")

    def _enable_levels(self, auto: bool) -> None:
        self.db_ceiling.setEnabled(not auto)
        self.db_range.setEnabled(not auto)
        if not auto:
            self.auto_levels_label.setText("")

    def playback_speed(self) -> float:
        return float(self.speed.currentData())

    def _emit_spectrogram(self) -> None:
        self.spectrogramChanged.emit(self.spectrogram_settings())

    def _emit_display(self) -> None:
        self.displayChanged.emit(self.display_settings())
