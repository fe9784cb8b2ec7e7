"""The candidate under review, drawn where it can be seen.

:class:`CandidateOverlay` marks it on a spectrogram: a window tinted and outlined in
:data:`CANDIDATE_COLOUR` over the whole band, drawn above the spectrogram's image (tiles lie at
z 10), with a caption of its species and score that the annotation layer places first, so that
no other caption covers it (and it is shown below the track threshold too).

:class:`CandidatePreview` is the Review dock's enlarged view: the candidate with
:data:`CONTEXT_S` seconds either side over the display's frequency band, drawn by a
:class:`~birdview.gui.spectrogram_view.SpectrogramView` of its own from the same tile caches as
the main view (its tiles are computed on a tile-service thread, never on the GUI thread), a title
and a play button.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pyqtgraph as pg
from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QColor, QPen
from PySide6.QtWidgets import (
    QGraphicsRectItem,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from birdview.audio.recording import Recording
from birdview.gui.spectrogram_view import SpectrogramView
from birdview.review.queue import Candidate
from birdview.spectrogram.service import TileService
from birdview.spectrogram.ticks import format_time

if TYPE_CHECKING:
    from birdview.gui.annotation_layer import AnnotationLayer

#: The candidate under review. No label (green call, red hard negative, amber uncertain, cyan
#: selected) and no probability track uses white; a dark halo keeps its edges visible on the
#: light end of a colour map.
CANDIDATE_COLOUR = "#ffffff"
#: How strongly its window is tinted (0-255).
CANDIDATE_FILL_ALPHA = 48
#: Seconds shown either side of the candidate in the enlarged view.
CONTEXT_S = 1.5
#: Above the spectrogram's tiles (10), below the detections' boxes and captions (12) and the
#: labels (15-16), so that their text, boxes and tooltips stay readable inside its window.
_Z = 11


def candidate_caption(candidate: Candidate, name: str) -> str:
    """The caption on the spectrogram: the species as the timeline names it, and the score."""
    return f"{name} {candidate.score:.2f}"


def candidate_details(candidate: Candidate, name: str) -> str:
    """Species with its code, score, and where the window lies."""
    named = name if name == candidate.species else f"{name} ({candidate.species})"
    return (
        f"{named} · score {candidate.score:.2f} · "
        f"{format_time(candidate.start_s, 0.1)}–{format_time(candidate.end_s, 0.1)} · model v{candidate.model_version}"
    )


def _cosmetic_pen(colour: str | QColor, width: int) -> QPen:
    pen = QPen(pg.mkColor(colour))
    pen.setCosmetic(True)
    pen.setWidth(width)
    return pen


class CandidateOverlay:
    """A candidate's window on a spectrogram; with a ``layer``, also its caption. Without ``tint``
    only its sides are drawn (the close-up, where the call itself must stay as it is)."""

    def __init__(self, view: pg.PlotWidget, layer: AnnotationLayer | None = None, tint: bool = True) -> None:
        self.view = view
        self.view_box = view.getViewBox()
        self.layer = layer
        self.region: tuple[float, float] | None = None
        fill = QColor(CANDIDATE_COLOUR)
        fill.setAlpha(CANDIDATE_FILL_ALPHA if tint else 0)
        self.fill = QGraphicsRectItem()
        self.fill.setBrush(fill)
        self.fill.setPen(QPen(Qt.PenStyle.NoPen))
        self.halo = QGraphicsRectItem()
        self.halo.setPen(_cosmetic_pen(QColor(0, 0, 0, 170), 5))
        self.edge = QGraphicsRectItem()
        self.edge.setPen(_cosmetic_pen(CANDIDATE_COLOUR, 2))
        for z, item in enumerate(self.items):
            item.setZValue(_Z + z * 0.1)
            item.setAcceptedMouseButtons(Qt.MouseButton.NoButton)  # clicks go to what lies beneath
            item.hide()
            view.addItem(item, ignoreBounds=True)
        self.view_box.sigYRangeChanged.connect(lambda *_: self._place())

    @property
    def items(self) -> tuple[QGraphicsRectItem, ...]:
        return (self.fill, self.halo, self.edge)

    def show_candidate(self, candidate: Candidate, name: str) -> None:
        """Mark a candidate, captioned with its species (``name``) and score."""
        details = "Under review: " + candidate_details(candidate, name)
        self.show(candidate.start_s, candidate.end_s, candidate_caption(candidate, name), details)

    def show(self, start_s: float, end_s: float, caption: str | None = None, tooltip: str = "") -> None:
        self.region = (float(start_s), float(end_s))
        self.fill.setToolTip(tooltip)  # the lines' shapes are as wide as their pens in seconds
        for item in self.items:
            item.show()
        self._place()
        if self.layer is not None:
            self.layer.pin_caption(None if caption is None else (start_s, end_s, caption, CANDIDATE_COLOUR))

    def hide(self) -> None:
        self.region = None
        for item in self.items:
            item.hide()
        if self.layer is not None:
            self.layer.pin_caption(None)

    def getRegion(self) -> tuple[float, float] | None:  # as pyqtgraph's LinearRegionItem names it
        return self.region

    @property
    def visible(self) -> bool:
        return self.region is not None

    def _place(self) -> None:
        if self.region is None:
            return
        start, end = self.region
        _, (y0, y1) = self.view_box.viewRange()
        # A little past the visible band, so that only the window's sides are outlined.
        margin = (y1 - y0) * 0.05
        rect = QRectF(start, y0 - margin, max(end - start, 1e-6), y1 - y0 + 2 * margin)
        for item in self.items:
            item.setRect(rect)


class CandidatePreview(QWidget):
    """The Review dock's close-up of the candidate: spectrogram with context, title, play button."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        self.title = QLabel("No candidate: Ctrl+R starts reviewing")
        self.title.setObjectName("candidate_title")
        self.title.setWordWrap(True)
        self.title.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Maximum)
        self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Maximum)  # room left goes to the list
        # No threads until a candidate is shown; then one, sharing the main view's tile caches.
        self._service: TileService | None = None
        self.view = SpectrogramView(TileService(workers=0))
        self.view.setObjectName("candidate_view")
        self.view.setMinimumHeight(140)
        self.view.setMaximumHeight(180)
        self.view.setMinimumWidth(120)  # never what widens the dock
        self.view.time_axis.showLabel(False)
        self.view.frequency_axis.showLabel(False)
        self.view.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents)  # a picture, not a place to edit
        self.view.frequency_axis.setWidth(34)
        self.overlay = CandidateOverlay(self.view, tint=False)
        self.play_button = QPushButton("▶ Play")
        self.play_button.setObjectName("play_candidate")
        self.play_button.setToolTip("Play the candidate's window")
        self.play_button.setEnabled(False)
        self.play_context = QPushButton(f"▶ ±{CONTEXT_S:g} s")
        self.play_context.setToolTip(f"Play the candidate with {CONTEXT_S:g} s either side")
        self.play_context.setObjectName("play_candidate_context")
        self.play_context.setEnabled(False)
        layout.addWidget(self.title)
        layout.addWidget(self.view)
        buttons = QHBoxLayout()
        buttons.addWidget(self.play_button)
        buttons.addWidget(self.play_context)
        layout.addLayout(buttons)
        self.shown: tuple[Recording, float, float] | None = None

    def show_candidate(
        self, recording: Recording, candidate: Candidate, name: str, main_view: SpectrogramView, tiles: TileService
    ) -> None:
        """Show a candidate of ``recording`` (its species called ``name``) as the main view draws
        it: the same spectrogram settings, colours and frequency band, and the same tile caches."""
        start_s, end_s = candidate.start_s, candidate.end_s
        if self._service is None:
            service = self._service = TileService(workers=1, memory=tiles.memory, disk=tiles.disk)
            self.view.tiles = service
            self.destroyed.connect(lambda *_: service.shutdown())
        # The window may have opened another project (another disk cache) since.
        self._service.memory, self._service.disk = tiles.memory, tiles.disk
        self.view.set_spectrogram_settings(main_view.spectrogram_settings)
        self.view.set_display_settings(main_view.display_settings)
        if self.view.recording is not recording:
            self.view.set_recording(recording)
        self.view.set_view(start_s - CONTEXT_S, end_s - start_s + 2 * CONTEXT_S)
        self.overlay.show(start_s, end_s)
        named = name if name == candidate.species else f"{name} ({candidate.species})"
        when = format_time(candidate.start_s, 1.0, recording.info.start_time)  # as the time axis reads
        self.title.setText(f"{named} · {candidate.score:.2f} · {when}")
        self.title.setToolTip(f"{candidate_details(candidate, name)} · {recording.path.name}")
        self.shown = (recording, start_s, end_s)
        self.play_button.setEnabled(True)
        self.play_context.setEnabled(True)

    def clear(self) -> None:
        self.shown = None
        self.overlay.hide()
        self.view.set_recording(None)
        self.title.setText("No candidate: the list is empty")
        self.play_button.setEnabled(False)
        self.play_context.setEnabled(False)

    def is_ready(self) -> bool:
        """The candidate's spectrogram is drawn (tests, screenshots)."""
        return self.shown is None or self.view.visible_tiles_complete()

    def shutdown(self) -> None:
        service, self._service = self._service, None
        if service is not None:
            service.shutdown()
