"""A waveform strip above the spectrogram: the lowest and highest sample under each pixel, at
every zoom, from envelope tiles (:mod:`birdview.spectrogram.waveform`) computed on a worker
thread by a :class:`~birdview.spectrogram.service.TileService` of its own.

It follows the spectrogram's time range (x-linked, with the same left axis width, so times line
up) and its channel; its height fits the loudest sample in view (the left axis says how loud,
as a fraction of full scale). View ▸ Waveform (W) shows or hides it; the choice is remembered.
Hidden, it asks for nothing.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QSettings, Qt, QTimer
from PySide6.QtGui import QAction, QHideEvent, QShowEvent
from PySide6.QtWidgets import QMenu

from birdview.audio.recording import Recording
from birdview.gui.spectrogram_view import LEFT_AXIS_WIDTH, SpectrogramView
from birdview.gui.workers import GuiCallback
from birdview.spectrogram.cache import TileMemoryCache
from birdview.spectrogram.service import TileService
from birdview.spectrogram.tiles import Tile
from birdview.spectrogram.waveform import WaveKey, compute_wave_tile, wave_level_for_view, wave_tiles_for_range

SETTINGS_KEY = "view/waveform"
SHORTCUT = "W"
HEIGHT = 72
_PEN = "#8fd8ff"
#: The strip's height never fits less than this (full scale = 1): silence stays a flat line.
_MIN_PEAK = 1e-4


def _nice_below(value: float) -> float:
    """The largest 1, 2 or 5 times a power of ten not above ``value``."""
    power = 10.0 ** np.floor(np.log10(value))
    return float(max(step * power for step in (1.0, 2.0, 5.0) if step * power <= value * (1 + 1e-9)))


class WaveformStrip(pg.PlotWidget):
    def __init__(self, spectrogram: SpectrogramView, parent: object = None) -> None:
        self.view_box = pg.ViewBox(enableMenu=False)
        self.view_box.setMouseEnabled(x=False, y=False)
        super().__init__(parent=parent, viewBox=self.view_box)
        plot = self.getPlotItem()
        plot.hideButtons()
        plot.setMenuEnabled(False)
        plot.hideAxis("bottom")
        self.getAxis("left").setWidth(LEFT_AXIS_WIDTH)
        self.setBackground("k")
        self.setFixedHeight(HEIGHT)
        self.setXLink(spectrogram)
        self.spectrogram = spectrogram
        self.curve = pg.PlotDataItem(pen=pg.mkPen(_PEN), connect="finite")
        self.addItem(self.curve)
        self.view_box.setYRange(-1.0, 1.0, padding=0.05)
        self.tiles = TileService(workers=1, memory=TileMemoryCache(64 * 1024**2), compute=compute_wave_tile)
        self.recording: Recording | None = None
        self._level = 0
        self._visible: list[WaveKey] = []
        #: The tiles the curve was last drawn from.
        self.drawn_keys: list[WaveKey] = []
        self._ready = GuiCallback(self._on_tile, parent=self)
        self._failed = GuiCallback(lambda _key, _error: None, parent=self)
        self._timer = QTimer(self, singleShot=True, interval=0)
        self._timer.timeout.connect(self._update)
        spectrogram.recordingChanged.connect(self.set_recording)
        spectrogram.viewChanged.connect(self._schedule)
        spectrogram.spectrogramSettingsChanged.connect(self._schedule)  # the channel may have changed
        spectrogram.view_box.sigResized.connect(self._schedule)
        self.action: QAction | None = None

    # -- showing and hiding ---------------------------------------------------------------------

    def add_action(self, menu: QMenu, settings: QSettings) -> QAction:
        """View ▸ Waveform (W): a checkable entry that shows or hides the strip, remembered in ``settings``."""
        action = menu.addAction("Waveform")
        action.setCheckable(True)
        action.setShortcut(SHORTCUT)
        action.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
        on = settings.value(SETTINGS_KEY, False, type=bool)
        action.setChecked(on)
        self.setVisible(on)

        def toggled(checked: bool) -> None:
            settings.setValue(SETTINGS_KEY, checked)
            self.setVisible(checked)

        action.toggled.connect(toggled)
        self.action = action
        return action

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        self._schedule()

    def hideEvent(self, event: QHideEvent) -> None:
        super().hideEvent(event)
        self.tiles.cancel_all()

    # -- what is drawn --------------------------------------------------------------------------

    def set_recording(self, recording: Recording | None) -> None:
        self.recording = recording
        self._visible = []
        self.tiles.cancel_all()
        self.curve.setData([], [])
        self.drawn_keys = []
        self._schedule()

    def _schedule(self, *_: object) -> None:
        if not self._timer.isActive():
            self._timer.start()

    def _keys(self) -> list[WaveKey]:
        recording = self.recording
        if recording is None:
            return []
        t0, t1 = self.spectrogram.view_range()
        width = max(1, int(self.spectrogram.view_box.boundingRect().width()))
        self._level = wave_level_for_view(max(t1 - t0, 1e-6), width, recording.sample_rate)
        channel = min(self.spectrogram.spectrogram_settings.channel, recording.info.channels - 1)
        indices = wave_tiles_for_range(t0, t1, recording.frames, recording.sample_rate, self._level)
        return [WaveKey(str(recording.path), recording.frames, channel, self._level, i) for i in indices]

    def _update(self) -> None:
        if not self.isVisible() or self.recording is None:
            return
        self._visible = self._keys()
        self.tiles.request(self.recording, self._visible, self._ready, self._failed)
        self._draw()

    def _on_tile(self, tile: Tile) -> None:
        if tile.key in self._visible:
            self._draw()

    def shown_tiles(self) -> list[Tile]:
        """The visible range's tiles that are computed, in time order."""
        found = (self.tiles.cached(key) for key in self._visible)
        return [tile for tile in found if tile is not None]

    def envelope(self, tiles: list[Tile] | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(column centres in s, lowest, highest sample) of ``tiles`` (those computed of the visible
        range by default), NaN between tiles that do not touch (one not computed yet)."""
        times, lows, highs = [], [], []
        previous_end: float | None = None
        for tile in self.shown_tiles() if tiles is None else tiles:
            if previous_end is not None and abs(tile.x0 - previous_end) > 1e-9:
                times.append(np.array([np.nan]))
                lows.append(np.array([np.nan], dtype=np.float32))
                highs.append(np.array([np.nan], dtype=np.float32))
            n = tile.db.shape[1]
            times.append(tile.x0 + (np.arange(n) + 0.5) * (tile.x1 - tile.x0) / n)
            lows.append(tile.db[0])
            highs.append(tile.db[1])
            previous_end = tile.x1
        if not times:
            empty = np.zeros(0)
            return empty, empty.astype(np.float32), empty.astype(np.float32)
        return np.concatenate(times), np.concatenate(lows), np.concatenate(highs)

    def _draw(self) -> None:
        """One vertical stroke per column from its lowest to its highest sample, joined in turn."""
        tiles = self.shown_tiles()
        self.drawn_keys = [tile.key for tile in tiles]
        times, lows, highs = self.envelope(tiles)
        x = np.repeat(times, 2)
        y = np.empty(2 * len(lows), dtype=np.float64)
        y[0::2], y[1::2] = lows, highs
        self.curve.setData(x, y)
        t0, t1 = self.spectrogram.view_range()
        inside = (times >= t0) & (times <= t1)
        peak = float(np.nanmax(np.abs(np.concatenate([lows[inside], highs[inside]])))) if inside.any() else 1.0
        peak = max(peak if np.isfinite(peak) else 1.0, _MIN_PEAK)
        self.view_box.setYRange(-peak, peak, padding=0.05)
        tick = _nice_below(0.8 * peak)  # well inside the strip: its label is never cut off
        text = f"{tick:.2g}"
        self.getAxis("left").setTicks([[(-tick, f"-{text}"), (0.0, "0"), (tick, text)], []])

    def shutdown(self) -> None:
        self._timer.stop()
        self._ready.close()
        self._failed.close()
        self.tiles.shutdown()
