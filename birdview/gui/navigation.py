"""Moving through the shown recording: the scrollbar under the spectrogram and the overview
strip's region kept in step with the view, a click in the overview centring the view there, the
View menu's zoom and pan keys, and the status bar's readout of the time, frequency and level
under the mouse."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QObject, Qt
from PySide6.QtWidgets import QLabel, QScrollBar

from birdview.gui.overview_strip import OverviewStrip
from birdview.gui.spectrogram_view import SpectrogramView
from birdview.spectrogram.clock import wall_clock

_SCROLL_UNITS_PER_S = 100
_PAN_STEP = 0.1
_ZOOM_STEP = 2.0

#: ``add(text, slot, shortcut)`` puts one action in a menu.
AddAction = Callable[[str, Callable[[], object], str], object]


class Navigation(QObject):
    def __init__(self, view: SpectrogramView, overview: OverviewStrip, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.view = view
        self.overview = overview
        self.scrollbar = QScrollBar(Qt.Orientation.Horizontal)
        self.cursor_label = QLabel()
        self.scrollbar.valueChanged.connect(self._on_scrollbar)
        overview.jumpRequested.connect(self.centre_on)
        view.viewChanged.connect(self._on_view_changed)
        view.cursorMoved.connect(self._on_cursor_moved)

    def add_actions(self, add: AddAction) -> None:
        """The View menu's zoom and pan entries."""
        view = self.view
        add("Zoom in", lambda: view.zoom(1 / _ZOOM_STEP), "Ctrl+=")
        add("Zoom out", lambda: view.zoom(_ZOOM_STEP), "Ctrl+-")
        add("Whole file", view.show_whole_file, "Ctrl+0")
        add("Pan left", lambda: view.pan(-_PAN_STEP), "Left")
        add("Pan right", lambda: view.pan(_PAN_STEP), "Right")
        add("Page left", lambda: view.pan(-1.0), "PgUp")
        add("Page right", lambda: view.pan(1.0), "PgDown")
        add("Go to start", lambda: view.set_view(0, self.span()), "Home")
        add("Go to end", lambda: view.set_view(1e12, self.span()), "End")

    def span(self) -> float:
        """Seconds in view."""
        t0, t1 = self.view.view_range()
        return t1 - t0

    def centre_on(self, centre_s: float, span_s: float | None = None) -> None:
        """Show ``span_s`` seconds (the present span when None) around ``centre_s``."""
        span = self.span() if span_s is None else span_s
        self.view.set_view(centre_s - span / 2, span)

    def sync_scrollbar(self) -> None:
        """Move the scrollbar to the view, without moving the view."""
        recording = self.view.recording
        if recording is None:
            return
        t0, t1 = self.view.view_range()
        span = t1 - t0
        self.scrollbar.blockSignals(True)
        self.scrollbar.setRange(0, int((recording.info.duration_s - span) * _SCROLL_UNITS_PER_S))
        self.scrollbar.setPageStep(max(1, int(span * _SCROLL_UNITS_PER_S)))
        self.scrollbar.setSingleStep(max(1, int(span * _PAN_STEP * _SCROLL_UNITS_PER_S)))
        self.scrollbar.setValue(int(t0 * _SCROLL_UNITS_PER_S))
        self.scrollbar.blockSignals(False)

    def _on_view_changed(self, t0: float, t1: float) -> None:
        self.overview.set_view_region(t0, t1)
        self.sync_scrollbar()

    def _on_cursor_moved(self, seconds: float, hz: float) -> None:
        recording = self.view.recording.info if self.view.recording is not None else None
        clock, offset = wall_clock(recording, seconds, 0.01)
        level = self.view.level_at(seconds, hz)
        shown = f"   {level:.0f} dB" if level is not None else ""
        self.cursor_label.setText(f"{clock}   {hz / 1000:.2f} kHz{shown}")
        self.cursor_label.setToolTip(
            offset + ("; level in dB, 0 dB being a full-scale sine (as the colours)" if shown else "")
        )

    def _on_scrollbar(self, value: int) -> None:
        self.view.set_view(value / _SCROLL_UNITS_PER_S, self.span())
