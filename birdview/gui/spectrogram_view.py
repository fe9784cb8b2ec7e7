"""The scrolling spectrogram: tiles from the TileService drawn as they arrive, zoom, pan, select."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF, QRectF, Qt, QTimer, Signal
from PySide6.QtGui import QPen

from birdview.audio.recording import Recording
from birdview.gui.axes import FrequencyAxis, TimeAxis
from birdview.gui.colormaps import lookup_table
from birdview.gui.workers import GuiCallback
from birdview.spectrogram.service import TileService
from birdview.spectrogram.settings import DisplaySettings, SpectrogramSettings
from birdview.spectrogram.tiles import (
    Tile,
    TileKey,
    frequency_extent,
    hz_to_y,
    level_for_view,
    tiles_for_range,
    y_to_hz,
)

MIN_SPAN_S = 0.25
LEFT_AXIS_WIDTH = 64
_PREFETCH_FRACTION = 0.5
_MAX_ITEMS = 96


class SpectrogramViewBox(pg.ViewBox):
    """Drag pans; Ctrl+drag zooms to a box; Shift+drag selects a time-frequency box (Alt+Shift+drag
    a time span over the whole band); a click sets the play cursor."""

    selectionDragged = Signal(object, bool, bool)  # QRectF in view coordinates, finished, whole band
    clicked = Signal(float, float)

    def __init__(self) -> None:
        super().__init__(enableMenu=False)
        self.setMouseEnabled(x=True, y=False)

    def mouseDragEvent(self, ev, axis=None) -> None:
        modifiers = ev.modifiers()
        if ev.button() == Qt.MouseButton.LeftButton and modifiers & (
            Qt.KeyboardModifier.ShiftModifier | Qt.KeyboardModifier.ControlModifier
        ):
            ev.accept()
            start = self.mapSceneToView(ev.buttonDownScenePos())
            end = self.mapSceneToView(ev.scenePos())
            rect = QRectF(start, end).normalized()
            if modifiers & Qt.KeyboardModifier.ControlModifier:
                self.updateScaleBox(ev.buttonDownPos(), ev.pos())
                if ev.isFinish():
                    self.rbScaleBox.hide()
                    if rect.width() > 0 and rect.height() > 0:
                        self.setRange(rect=rect, padding=0)
            else:
                whole_band = bool(modifiers & Qt.KeyboardModifier.AltModifier)
                self.selectionDragged.emit(rect, ev.isFinish(), whole_band)
            return
        super().mouseDragEvent(ev, axis)

    def mouseClickEvent(self, ev) -> None:
        if ev.button() == Qt.MouseButton.LeftButton:
            ev.accept()
            point = self.mapSceneToView(ev.scenePos())
            self.clicked.emit(point.x(), point.y())
            return
        super().mouseClickEvent(ev)


class SpectrogramView(pg.PlotWidget):
    """Shows one channel of one recording; ask it for views with :meth:`set_view`. The window's
    main view is also the first pane of a :class:`~birdview.gui.channel_stack.ChannelStack`, which
    keeps the other channels' panes (selection, cursor, playhead) in step with it."""

    viewChanged = Signal(float, float)
    selectionChanged = Signal(object)  # (t0, t1, f0_hz, f1_hz) or None
    cursorMoved = Signal(float, float)  # time s, frequency Hz
    cursorPlaced = Signal(float)
    tileFailed = Signal(str)
    recordingChanged = Signal(object)  # Recording or None
    spectrogramSettingsChanged = Signal(object)  # SpectrogramSettings
    playheadMoved = Signal(object)  # seconds, or None when hidden

    def __init__(self, tiles: TileService, parent: object = None) -> None:
        self.time_axis = TimeAxis()
        self.frequency_axis = FrequencyAxis()
        self.view_box = SpectrogramViewBox()
        super().__init__(
            parent=parent,
            viewBox=self.view_box,
            axisItems={"bottom": self.time_axis, "left": self.frequency_axis},
        )
        self.tiles = tiles
        self.recording: Recording | None = None
        self.spectrogram_settings = SpectrogramSettings()
        self.display_settings = DisplaySettings()
        self._lut = lookup_table(self.display_settings.colormap)
        self._items: dict[TileKey, pg.ImageItem] = {}
        self._wanted: set[TileKey] = set()
        self._visible: list[TileKey] = []
        self._level = 0
        # The tile service calls these on its own threads; the tiles are drawn on the GUI thread.
        self._tile_ready = GuiCallback(self._on_tile, parent=self)
        self._tile_failed = GuiCallback(self._on_tile_failed, parent=self)
        self._update_timer = QTimer(self, singleShot=True, interval=0)
        self._update_timer.timeout.connect(self._update_tiles)
        self.getPlotItem().hideButtons()
        self.getPlotItem().setMenuEnabled(False)
        self.time_axis.setLabel("Time")
        self.frequency_axis.setWidth(LEFT_AXIS_WIDTH)  # plots stacked under it line up with it
        self.setBackground("k")

        self.playhead = pg.InfiniteLine(angle=90, movable=False, pen=pg.mkPen("#ffd000", width=2))
        self.playhead.setZValue(20)
        self.playhead.hide()
        self.addItem(self.playhead, ignoreBounds=True)
        cursor_pen = pg.mkPen("#ffffff", width=1, style=Qt.PenStyle.DashLine)
        self.cursor_line = pg.InfiniteLine(angle=90, movable=False, pen=cursor_pen)
        self.cursor_line.setZValue(19)
        self.cursor_line.hide()
        self.addItem(self.cursor_line, ignoreBounds=True)
        self.selection_item = pg.QtWidgets.QGraphicsRectItem()
        pen = QPen(pg.mkColor("#00e0ff"))
        pen.setCosmetic(True)
        pen.setWidth(2)
        self.selection_item.setPen(pen)
        self.selection_item.setBrush(pg.mkBrush(0, 224, 255, 40))
        self.selection_item.setZValue(18)
        self.selection_item.hide()
        self.addItem(self.selection_item, ignoreBounds=True)
        self.selection: tuple[float, float, float, float] | None = None
        #: The channel (0-based) of the pane the selection was drawn on: this view's own, or another
        #: pane's when a ChannelStack hands it over (this view then does not draw it).
        self.selection_channel = 0
        self.cursor_s: float | None = None
        #: The pane of another channel the mouse is over (a ChannelStack sets it): the level read
        #: out under the mouse is that pane's.
        self.hover_pane: SpectrogramView | None = None

        self.view_box.sigXRangeChanged.connect(self._on_range_changed)
        self.view_box.sigResized.connect(self._schedule_update)
        self.view_box.selectionDragged.connect(self._on_selection_dragged)
        self.view_box.clicked.connect(self._on_clicked)
        self.scene().sigMouseMoved.connect(self._on_mouse_moved)

    # -- what is shown -------------------------------------------------------------------------

    def set_recording(self, recording: Recording | None) -> None:
        self._clear_items()
        self.recording = recording
        self.clear_selection()
        self.cursor_s = None
        self.cursor_line.hide()
        self.playhead.hide()
        self.recordingChanged.emit(recording)
        if recording is None:
            self.tiles.cancel(self)
            return
        self.time_axis.set_start_time(recording.info.start_time)
        self._apply_limits()
        span = min(self.display_settings.default_span_s, recording.info.duration_s)
        self.set_view(0.0, span)
        self._apply_frequency_range()
        self._schedule_update()

    def set_spectrogram_settings(self, settings: SpectrogramSettings) -> None:
        if settings == self.spectrogram_settings:
            return
        old_selection = self.selection
        elsewhere = self.selection_channel if self.selection_channel != self.channel else None  # another pane's
        self.spectrogram_settings = settings
        self.frequency_axis.set_settings(settings)
        self._clear_items()
        self.spectrogramSettingsChanged.emit(settings)
        if self.recording is not None:
            self._apply_limits()
            self._apply_frequency_range()
            self._schedule_update()
        self._set_selection(old_selection, elsewhere)

    def set_display_settings(self, settings: DisplaySettings) -> None:
        old = self.display_settings
        self.display_settings = settings
        if settings.colormap != old.colormap:
            self._lut = lookup_table(settings.colormap)
        for item in self._items.values():
            item.setLookupTable(self._lut)
            item.setLevels((settings.db_floor, settings.db_ceiling))
        if (settings.freq_min_hz, settings.freq_max_hz) != (old.freq_min_hz, old.freq_max_hz):
            self._apply_frequency_range()

    def _apply_limits(self) -> None:
        if self.recording is None:
            return
        duration = self.recording.info.duration_s
        y0, y1 = frequency_extent(self.spectrogram_settings, self.recording.sample_rate)
        self.view_box.setLimits(
            xMin=0.0,
            xMax=duration,
            minXRange=min(MIN_SPAN_S, duration),
            maxXRange=duration,
            yMin=max(y0, 0.0),
            yMax=y1,
        )

    def _apply_frequency_range(self) -> None:
        if self.recording is None:
            return
        nyquist = self.recording.sample_rate / 2
        f0 = max(0.0, min(self.display_settings.freq_min_hz, nyquist))
        f1 = self.display_settings.freq_max_hz or nyquist
        f1 = min(max(f1, f0 + 1.0), nyquist)
        settings = self.spectrogram_settings
        self.view_box.setYRange(float(hz_to_y(f0, settings)), float(hz_to_y(f1, settings)), padding=0)

    def set_view(self, start_s: float, span_s: float) -> None:
        if self.recording is None:
            return
        duration = self.recording.info.duration_s
        span = float(np.clip(span_s, min(MIN_SPAN_S, duration), duration))
        start = float(np.clip(start_s, 0.0, duration - span))
        self.view_box.setXRange(start, start + span, padding=0)
        self._schedule_update()

    def view_range(self) -> tuple[float, float]:
        (x0, x1), _ = self.view_box.viewRange()
        return float(x0), float(x1)

    def frequency_range_hz(self) -> tuple[float, float]:
        _, (y0, y1) = self.view_box.viewRange()
        return float(y_to_hz(y0, self.spectrogram_settings)), float(y_to_hz(y1, self.spectrogram_settings))

    def zoom(self, factor: float, centre_s: float | None = None) -> None:
        """Zoom in (factor < 1) or out (factor > 1) around centre_s (the view's centre by default)."""
        t0, t1 = self.view_range()
        centre = (t0 + t1) / 2 if centre_s is None else centre_s
        span = (t1 - t0) * factor
        fraction = (centre - t0) / (t1 - t0) if t1 > t0 else 0.5
        self.set_view(centre - fraction * span, span)

    def pan(self, fraction_of_view: float) -> None:
        t0, t1 = self.view_range()
        self.set_view(t0 + fraction_of_view * (t1 - t0), t1 - t0)

    def show_whole_file(self) -> None:
        if self.recording is not None:
            self.set_view(0.0, self.recording.info.duration_s)

    # -- playhead, cursor and selection ------------------------------------------------------

    @property
    def channel(self) -> int:
        """The channel shown (0-based; a file with fewer shows its last)."""
        return self.spectrogram_settings.channel

    def set_playhead(self, seconds: float | None) -> None:
        if seconds is None:
            self.playhead.hide()
        else:
            self.playhead.setValue(seconds)
            self.playhead.show()
        self.playheadMoved.emit(seconds)

    def place_cursor(self, seconds: float | None) -> None:
        """Show the play cursor at ``seconds`` (None: hide it), without telling anyone."""
        self.cursor_s = seconds
        if seconds is None:
            self.cursor_line.hide()
        else:
            self.cursor_line.setValue(seconds)
            self.cursor_line.show()

    def _on_clicked(self, x: float, y: float) -> None:
        self.clear_selection()
        self.place_cursor(x)
        self.cursorPlaced.emit(x)

    def _on_selection_dragged(self, rect: QRectF, finished: bool, whole_band: bool = False) -> None:
        settings = self.spectrogram_settings
        if whole_band and self.recording is not None:  # Alt+Shift: a time span over every frequency
            self._set_selection((max(rect.left(), 0.0), rect.right(), 0.0, self.recording.sample_rate / 2))
            return
        selection = (
            max(rect.left(), 0.0),
            rect.right(),
            float(max(y_to_hz(max(rect.top(), 0.0), settings), 0.0)),
            float(y_to_hz(rect.bottom(), settings)),
        )
        self._set_selection(selection)

    def _set_selection(self, selection: tuple[float, float, float, float] | None, channel: int | None = None) -> None:
        """Select (or with None, unselect); ``channel``: another pane's channel, whose pane draws it."""
        self.selection = selection
        self.selection_channel = self.channel if channel is None else channel
        if selection is None or self.selection_channel != self.channel:
            self.selection_item.hide()
        else:
            t0, t1, f0, f1 = selection
            settings = self.spectrogram_settings
            y0, y1 = float(hz_to_y(f0, settings)), float(hz_to_y(f1, settings))
            self.selection_item.setRect(QRectF(QPointF(t0, y0), QPointF(t1, y1)))
            self.selection_item.show()
        self.selectionChanged.emit(selection)

    def set_selection(self, t0: float, t1: float, f0_hz: float, f1_hz: float, channel: int | None = None) -> None:
        """Select a box; on another channel's pane with ``channel`` (then drawn there, not here)."""
        self._set_selection((t0, t1, f0_hz, f1_hz), channel)

    def clear_selection(self) -> None:
        if self.selection is not None:
            self._set_selection(None)

    def _on_mouse_moved(self, scene_pos: QPointF) -> None:
        if self.recording is None or not self.view_box.sceneBoundingRect().contains(scene_pos):
            return
        point = self.view_box.mapSceneToView(scene_pos)
        self.hover_pane = None
        self.cursorMoved.emit(point.x(), float(y_to_hz(max(point.y(), 0.0), self.spectrogram_settings)))

    def level_at(self, seconds: float, hz: float) -> float | None:
        """The dB value drawn at ``seconds`` and ``hz`` (0 dB: a full-scale sine in one FFT bin):
        from the tile of the current zoom level there, else the finest one drawn; None where
        nothing is drawn. Read from the pane under the mouse when it is another channel's."""
        if self.hover_pane is not None:
            return self.hover_pane.level_at(seconds, hz)
        y = float(hz_to_y(hz, self.spectrogram_settings))
        best: tuple[int, Tile] | None = None
        for key, item in self._items.items():
            tile: Tile = item.tile
            if not (tile.x0 <= seconds < tile.x1 and tile.y0 <= y < tile.y1):
                continue
            rank = -1 if key.level == self._level else key.level
            if best is None or rank < best[0]:
                best = (rank, tile)
        if best is None:
            return None
        tile = best[1]
        rows, columns = tile.db.shape
        row = min(rows - 1, int((y - tile.y0) / (tile.y1 - tile.y0) * rows))
        column = min(columns - 1, int((seconds - tile.x0) / (tile.x1 - tile.x0) * columns))
        return float(tile.db[row, column])

    # -- tiles ----------------------------------------------------------------------------------

    def _on_range_changed(self, *_: object) -> None:
        t0, t1 = self.view_range()
        self.viewChanged.emit(t0, t1)
        self._schedule_update()

    def _schedule_update(self, *_: object) -> None:
        if not self._update_timer.isActive():
            self._update_timer.start()

    def _plot_width_px(self) -> int:
        return max(1, int(self.view_box.boundingRect().width()))

    def _update_tiles(self) -> None:
        recording = self.recording
        if recording is None:
            return
        settings = self.spectrogram_settings
        t0, t1 = self.view_range()
        span = max(t1 - t0, 1e-6)
        self._level = level_for_view(span, self._plot_width_px(), settings, recording.sample_rate)

        def keys(a: float, b: float) -> list[TileKey]:
            indices = tiles_for_range(a, b, recording.frames, recording.sample_rate, settings, self._level)
            return [TileKey(str(recording.path), recording.frames, settings, self._level, i) for i in indices]

        visible = keys(t0, t1)
        centre_index = visible[len(visible) // 2].index if visible else 0
        visible.sort(key=lambda k: abs(k.index - centre_index))
        margin = span * _PREFETCH_FRACTION
        prefetch = [k for k in keys(t0 - margin, t1 + margin) if k not in set(visible)]
        prefetch.sort(key=lambda k: abs(k.index - centre_index))
        self._visible = visible
        wanted = self._visible + prefetch
        self._wanted = set(wanted)
        ready = self.tiles.request(recording, wanted, self._tile_ready, self._tile_failed, client=self)
        for tile in ready:
            self._show_tile(tile)
        self._prune()

    def _on_tile(self, tile: Tile) -> None:
        if tile.key in self._wanted and tile.key not in self._items:
            self._show_tile(tile)
            self._prune()

    def _on_tile_failed(self, key: TileKey, error: Exception) -> None:
        if key in self._wanted:
            self.tileFailed.emit(str(error))

    def _show_tile(self, tile: Tile) -> None:
        if tile.key in self._items:
            return
        item = pg.ImageItem(tile.db, levels=(self.display_settings.db_floor, self.display_settings.db_ceiling))
        item.setLookupTable(self._lut)
        item.setRect(QRectF(tile.x0, tile.y0, tile.x1 - tile.x0, tile.y1 - tile.y0))
        item.setZValue(10 if tile.key.level == self._level else 0)
        item.tile = tile  # what the cursor read-out reads
        self.addItem(item, ignoreBounds=True)
        self._items[tile.key] = item

    def _prune(self) -> None:
        """Drop images outside the wanted set; those of other zoom levels stay underneath until
        every visible tile of the current level has arrived, so zooming never flashes black."""
        complete = all(key in self._items for key in self._visible)
        for key in list(self._items):
            current_level = key.level == self._level
            if key in self._wanted:
                continue
            if current_level or complete or len(self._items) > _MAX_ITEMS:
                self.removeItem(self._items.pop(key))
            else:
                self._items[key].setZValue(0)

    def _clear_items(self) -> None:
        for item in self._items.values():
            self.removeItem(item)
        self._items.clear()
        self._wanted.clear()
        self._visible = []

    def visible_tiles_complete(self) -> bool:
        """True when every tile of the current view is drawn at the current zoom level."""
        if self._update_timer.isActive():
            return False
        return bool(self._visible) and all(key in self._items for key in self._visible)

    def shown_tile_keys(self) -> list[TileKey]:
        return list(self._items)

    def visible_tiles(self) -> list[Tile]:
        """The drawn tiles of the current view at its zoom level (the automatic levels read them)."""
        drawn = (self.tiles.cached(key) for key in self._visible if key in self._items)
        return [tile for tile in drawn if tile is not None]
