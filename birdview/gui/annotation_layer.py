"""Labels drawn on the spectrogram, kept readable however many there are.

Drawn labels (source ``user``) and imported ones are boxes you can select, move and resize,
captioned with species (common name where known) and score. Review verdicts (source
``model_review``) are compact marks in a strip along the top of the spectrogram, one per label,
coloured by kind (green confirmed call, red hard negative, amber uncertain; a relabel makes a red
and a green one, stacked), with the details in their tooltip; a click selects one. Each kind can
be hidden from the View menu (:attr:`AnnotationLayer.source_actions`).

Captions never cover one another: they are laid out in screen pixels whenever the view, the
labels or the captions of the probability panel (``reserved``) change, the candidate under
review first (:meth:`AnnotationLayer.pin_caption`), then the selected label, drawn labels,
imported ones, higher scores and then earlier ones first; a caption that would overlap one
already placed is left out (its label's tooltip still says it all), as the probability panel
does for detections.

The layer only draws and reports what the mouse did (``moved``, ``selected``); the main window
turns that into project edits, so every change goes through the data layer and its undo stack.

A recording's channels stacked in panes (:class:`~birdview.gui.channel_stack.ChannelStack`): the
layer of the main view keeps one layer per other pane (:meth:`AnnotationLayer.set_panes`); each
draws the labels of its pane's channel and those of no channel, and the selection is one for all.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import pyqtgraph as pg
from PySide6.QtCore import QObject, QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QAction, QFontMetricsF, QPen
from PySide6.QtWidgets import QGraphicsRectItem

from birdview.spectrogram.settings import SpectrogramSettings
from birdview.spectrogram.ticks import format_time
from birdview.spectrogram.tiles import hz_to_y, y_to_hz
from birdview.store.labels import Source
from birdview.store.project import Annotation

KIND_COLOURS = {"call": "#39d353", "hard_negative": "#ff5050", "uncertain": "#ffb000"}
SELECTED_COLOUR = "#00e0ff"
#: The View menu's name for each source of labels, in its order.
SOURCE_NAMES = {Source.USER.value: "drawn", Source.IMPORT.value: "imported", Source.MODEL_REVIEW.value: "reviewed"}
#: Verdict marks: the height of one row of the strip, how many rows (labels of one time stacked),
#: and the narrowest a mark is drawn (a 3 s window in a day's view).
STRIP_ROW_PX = 7
STRIP_ROWS = 4
MIN_MARK_PX = 3
#: Pixels kept free around a caption; at most this many label captions at a time.
CAPTION_GAP_PX = 3
MAX_CAPTIONS = 80
#: Lines a label's caption may move down within its box when the top one is taken.
CAPTION_LINES = 3
#: Boxes smaller than this on screen (a day's view) have no resize handles in the way.
HANDLES_MIN_PX = 24
CAPTION_FILL = (0, 0, 0, 150)
_BOX_Z, _MARK_Z, _CAPTION_Z, _PINNED_Z = 15, 16, 16, 17
_VERDICT_WORDS = {"confirm": "Confirmed", "reject": "Rejected", "uncertain": "Uncertain", "relabel": "Relabelled"}


class _LabelBox(pg.RectROI):
    def __init__(self, annotation: Annotation, position: QPointF, size: QPointF, colour: str) -> None:
        super().__init__(position, size, pen=pg.mkPen(colour, width=2), movable=True, rotatable=False, removable=False)
        self.annotation = annotation
        self.setZValue(_BOX_Z)
        self.y_range = (position.y(), position.y() + size.y())  # where it was drawn (view units)
        self.caption_text = ""
        self.handles_shown = True
        self.addScaleHandle([0, 0], [1, 1])
        self.addScaleHandle([1, 0], [0, 1])
        self.addScaleHandle([0, 1], [1, 0])


class _VerdictMark(QGraphicsRectItem):
    """One review verdict: a short bar in the strip along the top; a click selects its label."""

    def __init__(self, annotation: Annotation, on_click: Callable[[], None]) -> None:
        super().__init__()
        self.annotation = annotation
        self._on_click = on_click
        self.setZValue(_MARK_Z)
        self.setAcceptedMouseButtons(Qt.MouseButton.LeftButton)

    def mouseClickEvent(self, ev) -> None:  # pyqtgraph's scene calls it by this name
        if ev.button() == Qt.MouseButton.LeftButton:
            ev.accept()
            self._on_click()


def _edges(rect: QRectF) -> tuple[float, float, float, float]:
    return rect.left(), rect.top(), rect.right(), rect.bottom()


def caption_rect(caption: pg.TextItem, view_box: pg.ViewBox) -> QRectF:
    """Where a caption's text lies in scene pixels, worked out from its position and anchor (a
    text item itself moves its text only when it is painted)."""
    size = caption.textItem.boundingRect().size()
    point = view_box.mapViewToScene(caption.pos())
    return QRectF(
        point.x() - size.width() * caption.anchor.x(),
        point.y() - size.height() * caption.anchor.y(),
        size.width(),
        size.height(),
    )


class AnnotationLayer(QObject):
    #: (annotation id, start s, end s, low Hz or None, high Hz or None) after a drag or resize.
    moved = Signal(int, float, float, object, object)
    selected = Signal(object)  # annotation id or None

    def __init__(self, view: pg.PlotWidget, with_actions: bool = True) -> None:
        super().__init__()
        self.view = view
        self.view_box: pg.ViewBox = view.getViewBox()
        self.annotations: list[Annotation] = []  # what show() was given, shown or not
        self.boxes: dict[int, _LabelBox | _VerdictMark] = {}
        self.rows: dict[int, int] = {}  # verdict mark -> its row of the strip
        self.selected_id: int | None = None
        self.settings = SpectrogramSettings()
        self.nyquist = 16000.0
        #: What a species is called (the window gives the probability panel's common names).
        self.display_name: Callable[[str], str] = lambda code: code
        #: Captions drawn by others on the same view, which label captions must not cover.
        self.reserved: Callable[[], Iterable[pg.TextItem]] = tuple
        self.shown_sources: set[str] = set(SOURCE_NAMES)
        #: Only labels of this channel (0-based) and of none are drawn here; None: every label.
        self.channel: int | None = None
        #: The layers of the other channels' panes (see :meth:`set_panes`).
        self.others: list[AnnotationLayer] = []
        self.source_actions: dict[str, QAction] = {}
        for source, name in SOURCE_NAMES.items() if with_actions else ():
            action = QAction(f"Show {name} labels", view)
            action.setCheckable(True)
            action.setChecked(True)
            action.toggled.connect(lambda on, s=source: self.set_source_shown(s, on))
            self.source_actions[source] = action
        self.captions: list[pg.TextItem] = []  # a pool, reused; each shown one is in caption_of
        self.caption_of: dict[int, pg.TextItem] = {}
        self.pinned: tuple[float, float, str, str] | None = None
        self.pinned_caption = self._new_caption(_PINNED_Z)
        self._laid_out_for: tuple | None = None
        view.scene().sigPrepareForPaint.connect(self._layout_if_changed)

    def set_panes(self, channel: int | None, panes: list[tuple[pg.PlotWidget, int]]) -> None:
        """Draw here only the labels of ``channel`` (and those of no channel; None: all), and on
        each other pane those of its channel (and of none). Call :meth:`show` again afterwards."""
        self.channel = channel
        for layer in self.others:
            layer.detach()
        self.others = []
        for view, pane_channel in panes:
            layer = AnnotationLayer(view, with_actions=False)
            layer.channel = pane_channel
            layer.selected.connect(self.select)
            layer.moved.connect(self.moved)
            self.others.append(layer)

    def detach(self) -> None:
        """Take everything this layer drew off its view (its pane is going)."""
        self.clear()
        self.view.scene().sigPrepareForPaint.disconnect(self._layout_if_changed)
        for caption in [*self.captions, self.pinned_caption]:
            self.view.removeItem(caption)
        self.captions = []

    def layer_of(self, annotation_id: int) -> AnnotationLayer | None:
        """The layer (this one or another pane's) drawing a label, if any does."""
        return next((layer for layer in (self, *self.others) if annotation_id in layer.boxes), None)

    # -- what is shown ----------------------------------------------------------------------------

    def show(self, annotations: list[Annotation], settings: SpectrogramSettings, nyquist: float) -> None:
        """Draw exactly these labels (those of the visible range), less the kinds switched off."""
        self.settings, self.nyquist = settings, nyquist
        self.annotations = list(annotations)
        self._sync()

    def set_source_shown(self, source: str, shown: bool) -> None:
        """Show or hide the labels of one source ("user", "import" or "model_review")."""
        action = self.source_actions[source]
        if action.isChecked() != shown:
            action.setChecked(shown)  # its toggled signal comes back here
            return
        (self.shown_sources.add if shown else self.shown_sources.discard)(source)
        self._sync()

    def pin_caption(self, pinned: tuple[float, float, str, str] | None) -> None:
        """(start s, end s, text, colour): a caption placed before every other and never left out
        (the candidate under review); None removes it."""
        self.pinned = pinned
        self.layout()

    def _sync(self) -> None:
        for layer in (self, *self.others):
            if layer is not self:
                layer.settings, layer.nyquist, layer.annotations = self.settings, self.nyquist, self.annotations
                layer.display_name, layer.shown_sources = self.display_name, self.shown_sources
            layer._sync_boxes()
        if self.layer_of(self.selected_id) is None:
            self.selected_id = None
        for layer in (self, *self.others):
            layer.selected_id = self.selected_id
            layer._assign_rows()
            layer._colour_all()
            layer.layout()

    def _sync_boxes(self) -> None:
        wanted = {
            a.id: a
            for a in self.annotations
            if a.source in self.shown_sources and (self.channel is None or a.channel in (None, self.channel))
        }
        for annotation_id in list(self.boxes):
            box = self.boxes[annotation_id]
            if annotation_id not in wanted or box.annotation != wanted[annotation_id]:
                self._remove(annotation_id)
        for annotation in wanted.values():
            if annotation.id not in self.boxes:
                self._add(annotation)

    def _y_range(self, annotation: Annotation) -> tuple[float, float]:
        low = 0.0 if annotation.low_hz is None else annotation.low_hz
        high = self.nyquist if annotation.high_hz is None else annotation.high_hz
        return float(hz_to_y(low, self.settings)), float(hz_to_y(high, self.settings))

    def _add(self, annotation: Annotation) -> None:
        if annotation.source == Source.MODEL_REVIEW:
            mark = _VerdictMark(annotation, lambda i=annotation.id: self.select(i))
            self.view.addItem(mark, ignoreBounds=True)
            self.boxes[annotation.id] = mark
            return
        y0, y1 = self._y_range(annotation)
        width = max(annotation.end_s - annotation.start_s, 1e-3)
        box = _LabelBox(
            annotation,
            QPointF(annotation.start_s, y0),
            QPointF(width, max(y1 - y0, 1e-3)),
            KIND_COLOURS[annotation.kind],
        )
        box.setToolTip(self.details(annotation))
        box.caption_text = self.caption(annotation)
        box.sigRegionChangeFinished.connect(lambda roi, i=annotation.id: self._on_changed(i))
        box.sigClicked.connect(lambda roi, ev, i=annotation.id: self.select(i))
        box.setAcceptedMouseButtons(pg.QtCore.Qt.MouseButton.LeftButton)
        self.view.addItem(box, ignoreBounds=True)
        self.boxes[annotation.id] = box

    def caption(self, annotation: Annotation) -> str:
        """A label's caption: species (common name where known), score, and its status."""
        prefix = {"hard_negative": "NOT ", "uncertain": "? "}.get(annotation.kind, "")
        species = self.display_name(annotation.species) if annotation.species else "unlabelled"
        score = f" {annotation.score:.2f}" if annotation.score is not None else ""
        marks = {"confirmed": " ✓", "rejected": " ✗"}.get(annotation.status, "")
        return f"{prefix}{species}{score}{marks}"

    def details(self, annotation: Annotation) -> str:
        """A label's tooltip: everything its caption or mark leaves out."""
        species = annotation.species or "unlabelled"
        name = self.display_name(species) if annotation.species else species
        named = name if name == species else f"{name} ({species})"
        kind = annotation.kind.replace("_", " ")
        if annotation.source == Source.MODEL_REVIEW:
            reviewed = annotation.reviewed_species or species
            first = f"{_VERDICT_WORDS.get(annotation.verdict or '', 'Reviewed')}: {self.display_name(reviewed)}"
            lines = [first, f"label: {kind} of {named}, {annotation.status}"]
        else:
            source = SOURCE_NAMES.get(annotation.source, annotation.source)
            lines = [f"{named}: {kind}, {annotation.status} ({source})"]
        facts = [f"{format_time(annotation.start_s, 0.1)}–{format_time(annotation.end_s, 0.1)}"]
        if not annotation.whole_band:
            facts.append(f"{annotation.low_hz / 1000:.2f}–{annotation.high_hz / 1000:.2f} kHz")
        if annotation.score is not None:
            facts.append(f"score {annotation.score:.2f}")
        if annotation.model_version is not None:
            facts.append(f"model v{annotation.model_version}")
        lines.append(" · ".join(facts))
        if annotation.note:
            lines.append(annotation.note)
        return "\n".join(lines)

    def _remove(self, annotation_id: int) -> None:
        self.view.removeItem(self.boxes.pop(annotation_id))
        self.rows.pop(annotation_id, None)
        caption = self.caption_of.pop(annotation_id, None)
        if caption is not None:
            caption.hide()

    def clear(self) -> None:
        self.annotations = []
        for layer in (self, *self.others):
            for annotation_id in list(layer.boxes):
                layer._remove(annotation_id)
            layer.selected_id = None
            layer.layout()

    def select(self, annotation_id: int | None) -> None:
        for layer in (self, *self.others):
            layer.selected_id = annotation_id
            layer._colour_all()
            layer.layout()
        self.selected.emit(annotation_id)

    def _colour_all(self) -> None:
        for annotation_id, box in self.boxes.items():
            chosen = annotation_id == self.selected_id
            colour = KIND_COLOURS[box.annotation.kind]
            if isinstance(box, _VerdictMark):
                # A hairline (width 0): a wider pen would widen the bar's bounds by its width in
                # seconds and Hz, and with them where its tooltip and clicks are taken.
                pen = QPen(pg.mkColor(SELECTED_COLOUR if chosen else (0, 0, 0, 200)))
                pen.setWidth(0)
                box.setPen(pen)
                box.setBrush(pg.mkBrush(SELECTED_COLOUR if chosen else colour))  # as a selected box turns
                box.setZValue(_MARK_Z + (0.5 if chosen else 0))
            else:
                box.setPen(pg.mkPen(SELECTED_COLOUR if chosen else colour, width=3 if chosen else 2))

    def _assign_rows(self) -> None:
        """Rows of the strip: a verdict mark goes to the first row free at its time, so the two
        labels of a relabel, or verdicts on one window for several species, lie one above the
        other. Past :data:`STRIP_ROWS` marks share a row, and each of them tells of all of them."""
        marks = sorted(
            (box for box in self.boxes.values() if isinstance(box, _VerdictMark)),
            key=lambda m: (m.annotation.start_s, m.annotation.id),
        )
        ends: list[float] = []  # where each row is taken up to
        occupants: list[list[_VerdictMark]] = []  # the marks taking each row up to there
        shared: list[list[_VerdictMark]] = []
        self.rows = {}
        for mark in marks:
            a = mark.annotation
            mark.setToolTip(self.details(a))
            row = next((i for i, end in enumerate(ends) if end <= a.start_s + 1e-6), None)
            if row is None and len(ends) < STRIP_ROWS:
                ends.append(a.end_s)
                occupants.append([mark])
                row = len(ends) - 1
            elif row is not None:
                occupants[row] = [mark]
            else:  # every row taken: the one free soonest, shared
                row = min(range(len(ends)), key=ends.__getitem__)
                if len(occupants[row]) == 1:
                    shared.append(occupants[row])
                occupants[row].append(mark)
            ends[row] = max(ends[row], a.end_s)
            self.rows[a.id] = row
        for group in shared:
            text = "\n\n".join(self.details(m.annotation) for m in group)
            for mark in group:
                mark.setToolTip(text)

    # -- layout -----------------------------------------------------------------------------------

    def _layout_if_changed(self) -> None:
        """Before each paint: lay out again when the view, its size or others' captions moved."""
        if self._signature() != self._laid_out_for:
            self.layout()

    def _signature(self) -> tuple:
        (x0, x1), (y0, y1) = self.view_box.viewRange()
        size = self.view_box.boundingRect().size()
        reserved = tuple(
            (c.pos().x(), c.pos().y(), c.toPlainText(), c.anchor.y()) for c in self.reserved() if c.isVisible()
        )
        return (x0, x1, y0, y1, size.width(), size.height(), reserved)

    @property
    def strip_height_px(self) -> float:
        """How far the strip of verdict marks reaches down from the top of the view."""
        return (max(self.rows.values()) + 1) * STRIP_ROW_PX if self.rows else 0.0

    def layout(self) -> None:
        """Place the verdict marks and the captions for the present view."""
        self._place_marks()
        self._place_captions()
        self._laid_out_for = self._signature()

    def _place_marks(self) -> None:
        _, (_, top) = self.view_box.viewRange()
        pixel_s, pixel_y = self.view_box.viewPixelSize()
        for box in self.boxes.values():
            if isinstance(box, _LabelBox):
                y0, y1 = box.y_range
                room = (box.annotation.end_s - box.annotation.start_s) / pixel_s >= HANDLES_MIN_PX and (
                    y1 - y0
                ) / pixel_y >= HANDLES_MIN_PX
                if room != box.handles_shown:  # only on a change: each costs pyqtgraph a cascade
                    box.handles_shown = room
                    for handle in box.getHandles():
                        handle.setVisible(room)
        for annotation_id, row in self.rows.items():
            mark = self.boxes[annotation_id]
            a = mark.annotation
            upper = top - row * STRIP_ROW_PX * pixel_y
            lower = upper - (STRIP_ROW_PX - 1) * pixel_y
            width = max(a.end_s - a.start_s, MIN_MARK_PX * pixel_s)
            mark.setRect(QRectF(a.start_s, lower, width, upper - lower))

    def _place_captions(self) -> None:
        vb = self.view_box
        box_of_view = vb.sceneBoundingRect()
        view_left, view_right, view_bottom = box_of_view.left(), box_of_view.right(), box_of_view.bottom()
        (x0, x1), (y0, y1) = vb.viewRange()
        # View to scene as plain arithmetic (this runs for every frame of a pan).
        corner0, corner1 = vb.mapViewToScene(QPointF(x0, y0)), vb.mapViewToScene(QPointF(x1, y1))
        kx = (corner1.x() - corner0.x()) / (x1 - x0) if x1 > x0 else 0.0
        ky = (corner1.y() - corner0.y()) / (y1 - y0) if y1 > y0 else 0.0

        def scene_x(t: float) -> float:
            return corner0.x() + kx * (t - x0)

        def scene_y(y: float) -> float:
            return corner0.y() + ky * (y - y0)

        strip_bottom = box_of_view.top() + self.strip_height_px
        reserved = [caption_rect(c, vb) for c in self.reserved() if c.isVisible()]
        # (left, top, right, bottom) of every caption placed.
        taken = [_edges(rect) for rect in reserved if rect.intersects(box_of_view)]
        metrics = QFontMetricsF(self.pinned_caption.textItem.font())
        margin = self.pinned_caption.textItem.document().documentMargin()
        line_height = metrics.height() + 2 * margin

        def rect_at(x_s: float, y: float, text: str) -> tuple[float, float, float, float]:
            left, top = scene_x(max(x_s, x0)), max(scene_y(min(y, y1)), strip_bottom)
            return left, top, left + metrics.horizontalAdvance(text) + 2 * margin + 1, top + line_height

        def place(caption: pg.TextItem, edges: tuple[float, float, float, float], text: str, colour: str) -> None:
            caption.setText(text, colour)
            caption.setPos(vb.mapSceneToView(QPointF(edges[0], edges[1])))
            caption.show()

        pinned = self.pinned
        if pinned is not None and pinned[1] > x0 and pinned[0] < x1:
            # Beside the window rather than over the call in it: after it, or before it at the
            # right edge of the view, or inside it when neither side has room.
            start, end, text, colour = pinned
            left, top, right, bottom = rect_at(end, y1, text)
            edges = (left + CAPTION_GAP_PX, top, right + CAPTION_GAP_PX, bottom)
            if end >= x1 or edges[2] > view_right:
                left, top, right, bottom = rect_at(start, y1, text)
                width = right - left
                before = (left - CAPTION_GAP_PX - width, top, left - CAPTION_GAP_PX, bottom)
                edges = before if start > x0 and before[0] >= view_left else (left, top, right, bottom)
            place(self.pinned_caption, edges, text, colour)
            taken.append(edges)
        else:
            self.pinned_caption.hide()

        wanted = []
        for annotation_id, box in self.boxes.items():
            a = box.annotation
            if isinstance(box, _VerdictMark) or a.end_s <= x0 or a.start_s >= x1:
                continue
            low, high = box.y_range
            if high <= y0 or low >= y1:
                continue
            priority = (annotation_id != self.selected_id, a.source != Source.USER, -(a.score or 0.0), a.start_s)
            wanted.append((priority, annotation_id, box, low, high))
        wanted.sort(key=lambda w: w[0])
        self.caption_of = {}
        free = iter(self.captions)
        gap = CAPTION_GAP_PX
        for _, annotation_id, box, low, high in wanted:
            if len(self.caption_of) == MAX_CAPTIONS:
                break
            text = box.caption_text
            left, first_top, right, _ = rect_at(box.annotation.start_s, high, text)
            if left >= view_right:
                continue
            # At the top of its box, or a line or two lower (still in the box) when that is taken.
            in_box = min(scene_y(max(low, y0)), view_bottom)
            edges = None
            for line in range(CAPTION_LINES):
                top = first_top + line * line_height
                bottom = top + line_height
                if bottom > (view_bottom if line == 0 else in_box):
                    break
                if not any(
                    left - gap < r and x < right + gap and top - gap < b and y < bottom + gap for x, y, r, b in taken
                ):
                    edges = (left, top, right, bottom)
                    break
            if edges is None:
                continue
            taken.append(edges)
            caption = next(free, None)
            if caption is None:
                caption = self._new_caption(_CAPTION_Z)
                self.captions.append(caption)
            colour = SELECTED_COLOUR if annotation_id == self.selected_id else KIND_COLOURS[box.annotation.kind]
            place(caption, edges, text, colour)
            self.caption_of[annotation_id] = caption
        for caption in free:
            caption.hide()

    def _new_caption(self, z: float) -> pg.TextItem:
        caption = pg.TextItem(anchor=(0, 0), fill=pg.mkBrush(*CAPTION_FILL))
        caption.setZValue(z)
        caption.setAcceptedMouseButtons(Qt.MouseButton.NoButton)
        caption.hide()
        self.view.addItem(caption, ignoreBounds=True)
        return caption

    @property
    def shown_captions(self) -> list[str]:
        """The texts of the captions on screen, the pinned one first."""
        shown = [self.pinned_caption] if self.pinned_caption.isVisible() else []
        return [c.toPlainText() for c in shown + list(self.caption_of.values())]

    def shown_marks(self) -> list[_VerdictMark]:
        return [box for box in self.boxes.values() if isinstance(box, _VerdictMark) and box.isVisible()]

    # -- edits by mouse ---------------------------------------------------------------------------

    def _on_changed(self, annotation_id: int) -> None:
        box = self.boxes.get(annotation_id)
        if not isinstance(box, _LabelBox):
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
