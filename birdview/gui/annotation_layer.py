"""Labels drawn on the spectrogram as boxes you can select, move and resize.

The layer only draws and reports what the mouse did (``moved``, ``selected``); the main window
turns that into project edits, so every change goes through the data layer and its undo stack.
"""

from __future__ import annotations

import pyqtgraph as pg
from PySide6.QtCore import QObject, QPointF, Signal

from birdview.spectrogram.settings import SpectrogramSettings
from birdview.spectrogram.tiles import hz_to_y, y_to_hz
from birdview.store.project import Annotation

KIND_COLOURS = {"call": "#39d353", "hard_negative": "#ff5050", "uncertain": "#ffb000"}
SELECTED_COLOUR = "#00e0ff"


class _LabelBox(pg.RectROI):
    def __init__(self, annotation: Annotation, position: QPointF, size: QPointF, colour: str) -> None:
        super().__init__(position, size, pen=pg.mkPen(colour, width=2), movable=True, rotatable=False, removable=False)
        self.annotation = annotation
        self.setZValue(15)
        self.addScaleHandle([0, 0], [1, 1])
        self.addScaleHandle([1, 0], [0, 1])
        self.addScaleHandle([0, 1], [1, 0])


class AnnotationLayer(QObject):
    #: (annotation id, start s, end s, low Hz or None, high Hz or None) after a drag or resize.
    moved = Signal(int, float, float, object, object)
    selected = Signal(object)  # annotation id or None

    def __init__(self, view: pg.PlotWidget) -> None:
        super().__init__()
        self.view = view
        self.boxes: dict[int, _LabelBox] = {}
        self.texts: dict[int, pg.TextItem] = {}
        self.selected_id: int | None = None
        self.settings = SpectrogramSettings()
        self.nyquist = 16000.0

    def show(self, annotations: list[Annotation], settings: SpectrogramSettings, nyquist: float) -> None:
        """Draw exactly these labels (those of the visible range)."""
        self.settings, self.nyquist = settings, nyquist
        wanted = {a.id: a for a in annotations}
        for annotation_id in list(self.boxes):
            box = self.boxes[annotation_id]
            if annotation_id not in wanted or box.annotation != wanted[annotation_id]:
                self._remove(annotation_id)
        for annotation in annotations:
            if annotation.id not in self.boxes:
                self._add(annotation)
        if self.selected_id not in wanted:
            self.selected_id = None
        self._colour_all()

    def _y_range(self, annotation: Annotation) -> tuple[float, float]:
        low = 0.0 if annotation.low_hz is None else annotation.low_hz
        high = self.nyquist if annotation.high_hz is None else annotation.high_hz
        return float(hz_to_y(low, self.settings)), float(hz_to_y(high, self.settings))

    def _add(self, annotation: Annotation) -> None:
        y0, y1 = self._y_range(annotation)
        width = max(annotation.end_s - annotation.start_s, 1e-3)
        box = _LabelBox(
            annotation,
            QPointF(annotation.start_s, y0),
            QPointF(width, max(y1 - y0, 1e-3)),
            KIND_COLOURS[annotation.kind],
        )
        box.sigRegionChangeFinished.connect(lambda roi, i=annotation.id: self._on_changed(i))
        box.sigClicked.connect(lambda roi, ev, i=annotation.id: self.select(i))
        box.setAcceptedMouseButtons(pg.QtCore.Qt.MouseButton.LeftButton)
        self.view.addItem(box, ignoreBounds=True)
        text = pg.TextItem(self._caption(annotation), color=KIND_COLOURS[annotation.kind], anchor=(0, 0))
        text.setPos(annotation.start_s, y1)
        text.setZValue(16)
        self.view.addItem(text, ignoreBounds=True)
        self.boxes[annotation.id] = box
        self.texts[annotation.id] = text

    @staticmethod
    def _caption(annotation: Annotation) -> str:
        prefix = {"hard_negative": "NOT ", "uncertain": "? "}.get(annotation.kind, "")
        score = f" {annotation.score:.2f}" if annotation.score is not None else ""
        marks = {"confirmed": " ✓", "rejected": " ✗"}.get(annotation.status, "")
        return f"{prefix}{annotation.species or 'unlabelled'}{score}{marks}"

    def _remove(self, annotation_id: int) -> None:
        self.view.removeItem(self.boxes.pop(annotation_id))
        self.view.removeItem(self.texts.pop(annotation_id))

    def clear(self) -> None:
        for annotation_id in list(self.boxes):
            self._remove(annotation_id)
        self.selected_id = None

    def select(self, annotation_id: int | None) -> None:
        self.selected_id = annotation_id
        self._colour_all()
        self.selected.emit(annotation_id)

    def _colour_all(self) -> None:
        for annotation_id, box in self.boxes.items():
            colour = SELECTED_COLOUR if annotation_id == self.selected_id else KIND_COLOURS[box.annotation.kind]
            box.setPen(pg.mkPen(colour, width=3 if annotation_id == self.selected_id else 2))

    def _on_changed(self, annotation_id: int) -> None:
        box = self.boxes.get(annotation_id)
        if box is None:
            return
        x, y = box.pos().x(), box.pos().y()
        width, height = box.size().x(), box.size().y()
        annotation = box.annotation
        start, end = max(0.0, x), max(0.0, x + width)
        if annotation.whole_band and abs(height - (self._y_range(annotation)[1] - self._y_range(annotation)[0])) < 1e-6:
            low = high = None  # only moved in time: still the whole band
        else:
            low = max(0.0, float(y_to_hz(y, self.settings)))
            high = min(self.nyquist, float(y_to_hz(y + height, self.settings)))
        self.select(annotation_id)
        self.moved.emit(annotation_id, start, end, low, high)
