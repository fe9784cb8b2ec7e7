"""A whole-recording strip above the spectrogram: where you are, and click or drag to jump.

Finished overviews are kept in :attr:`OverviewStrip.cache` (the per-user cache folder unless the
main window gives it the project's), so a recording shown before draws its overview at once."""

from __future__ import annotations

import pyqtgraph as pg
from PySide6.QtCore import QRectF, Qt, QTimer, Signal

from birdview.audio.recording import Recording
from birdview.gui.axes import TimeAxis
from birdview.gui.colormaps import lookup_table
from birdview.spectrogram.cache import OverviewCache, user_cache_dir
from birdview.spectrogram.overview import OverviewBuilder
from birdview.spectrogram.settings import DisplaySettings, SpectrogramSettings

_POLL_MS = 200


class _OverviewViewBox(pg.ViewBox):
    jumpRequested = Signal(float)

    def __init__(self) -> None:
        super().__init__(enableMenu=False)
        self.setMouseEnabled(x=False, y=False)

    def mouseClickEvent(self, ev) -> None:
        if ev.button() == Qt.MouseButton.LeftButton:
            ev.accept()
            self.jumpRequested.emit(self.mapSceneToView(ev.scenePos()).x())

    def mouseDragEvent(self, ev, axis=None) -> None:
        if ev.button() == Qt.MouseButton.LeftButton:
            ev.accept()
            self.jumpRequested.emit(self.mapSceneToView(ev.scenePos()).x())

    def wheelEvent(self, ev, axis=None) -> None:
        ev.ignore()


class OverviewStrip(pg.PlotWidget):
    """``jumpRequested(centre_s)`` when the user clicks or drags in the strip."""

    jumpRequested = Signal(float)

    def __init__(self, parent: object = None) -> None:
        self.view_box = _OverviewViewBox()
        self.time_axis = TimeAxis()
        super().__init__(parent=parent, viewBox=self.view_box, axisItems={"bottom": self.time_axis})
        self.getPlotItem().hideButtons()
        self.getPlotItem().setMenuEnabled(False)
        self.getPlotItem().hideAxis("left")
        self.setBackground("k")
        self.setFixedHeight(96)
        self.image = pg.ImageItem()
        self.addItem(self.image)
        self.region = pg.LinearRegionItem(movable=False, brush=pg.mkBrush(255, 255, 255, 50))
        self.region.setZValue(10)
        self.addItem(self.region, ignoreBounds=True)
        self.view_box.jumpRequested.connect(self.jumpRequested)
        self.builder: OverviewBuilder | None = None
        folder = user_cache_dir()
        self.cache: OverviewCache | None = OverviewCache(folder / "overviews") if folder is not None else None
        self.display_settings = DisplaySettings()
        self._timer = QTimer(self, interval=_POLL_MS)
        self._timer.timeout.connect(self.refresh)

    def set_recording(self, recording: Recording | None, settings: SpectrogramSettings) -> None:
        if self.builder is not None:
            self.builder.cancel()
            self.builder = None
        self.image.clear()
        if recording is None:
            self._timer.stop()
            return
        self.time_axis.set_start_time(recording.info.start_time)
        self.view_box.setXRange(0, recording.info.duration_s, padding=0)
        self.builder = OverviewBuilder(recording, settings, cache=self.cache).start()
        self._timer.start()
        self.refresh()

    def set_display_settings(self, settings: DisplaySettings) -> None:
        self.display_settings = settings
        self.image.setLookupTable(lookup_table(settings.colormap))
        self.image.setLevels((settings.db_floor, settings.db_ceiling))

    def set_view_region(self, t0: float, t1: float) -> None:
        self.region.setRegion((t0, t1))

    @property
    def finished(self) -> bool:
        return self.builder is None or self.builder.finished

    def refresh(self) -> None:
        """Draw what the overview builder has made so far (the timer does this while it works)."""
        builder = self.builder
        if builder is None:
            self._timer.stop()
            return
        snapshot = builder.snapshot()
        if snapshot is not None:
            image, (x0, x1, y0, y1) = snapshot
            settings = self.display_settings
            self.image.setImage(image, levels=(settings.db_floor, settings.db_ceiling))
            self.image.setLookupTable(lookup_table(settings.colormap))
            self.image.setRect(QRectF(x0, y0, x1 - x0, y1 - y0))
            self.view_box.setYRange(max(y0, 0.0), y1, padding=0)
            self.view_box.setXRange(0, builder.recording.info.duration_s, padding=0)
        if builder.finished:
            self._timer.stop()

    def shutdown(self) -> None:
        self._timer.stop()
        if self.builder is not None:
            self.builder.cancel()
