"""Under the spectrogram: a probability track per chosen species, a heat map of the top species,
a movable threshold, and the detections above it drawn on the spectrogram.

Which species may be top species is the window's to say (``visible_tracks(allowed=...)``); the
panel holds the switches: only the species expected at the recording's place and time, and
non-bird classes (Human vocal, Dog, Engine, ...) shown or not. The species box is searchable (any
part of a code or name) and shows "code — common name", for models with thousands of classes."""

from __future__ import annotations

import html

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF, Qt, Signal
from PySide6.QtGui import QFontMetrics, QPainterPath
from PySide6.QtWidgets import (
    QApplication,
    QCheckBox,
    QComboBox,
    QCompleter,
    QGraphicsPathItem,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from birdview.gui.spectrogram_view import LEFT_AXIS_WIDTH
from birdview.review.tracks import Tracks
from birdview.spectrogram.settings import SpectrogramSettings
from birdview.spectrogram.tiles import hz_to_y
from birdview.store.project import ModelRow

TRACK_COLOURS = ("#ffd000", "#00e0ff", "#ff60c0", "#80ff80", "#ff8040", "#b0a0ff")
HEATMAP_SPECIES = 8
#: Detections captioned with species and score (the highest scores); the rest get a box only.
MAX_CAPTIONS = 40
#: Pixels kept free after a caption's text (the text item's own margins included).
CAPTION_GAP_PX = 12
#: Between a code and its common name in the species box.
NAME_SEPARATOR = " — "


class ProbabilityPanel(QWidget):
    thresholdChanged = Signal(float)
    #: A species switch was toggled: the window works out the allowed species again and redraws.
    filtersChanged = Signal()
    #: A species was added to the tracks: its scores may not have been fetched yet.
    chosenChanged = Signal()

    def __init__(self, spectrogram: pg.PlotWidget, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.spectrogram = spectrogram
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(1)
        controls = QHBoxLayout()
        self.species_box = QComboBox()
        self.species_box.setEditable(True)
        self.species_box.setInsertPolicy(QComboBox.InsertPolicy.NoInsert)
        # Not as wide as the longest of thousands of names (and not measured over all of them).
        self.species_box.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.species_box.setMinimumContentsLength(16)
        self.species_box.lineEdit().setPlaceholderText("any part of a code or name")
        completer = self.species_box.completer()
        completer.setFilterMode(Qt.MatchFlag.MatchContains)
        completer.setCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        completer.setCompletionMode(QCompleter.CompletionMode.PopupCompletion)
        completer.setMaxVisibleItems(15)
        self.add_button = QPushButton("Add track")
        self.clear_button = QPushButton("Clear tracks")
        self.species_filter_toggle = QCheckBox("Only species expected here")
        self.species_filter_toggle.setObjectName("species_filter_toggle")
        self.species_filter_toggle.setChecked(True)
        self.species_filter_toggle.setToolTip("No species list and no geo model: every species is shown")
        self.non_bird_toggle = QCheckBox("Show non-bird classes")
        self.non_bird_toggle.setObjectName("non_bird_toggle")
        self.non_bird_toggle.setChecked(False)
        self.non_bird_toggle.setToolTip("Human vocal, Dog, Engine, insects, frogs and the like, which some models know")
        self.legend = QLabel()
        # The legend takes what room is left, never widening the window (six tracks' names would).
        self.legend.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.legend.setWordWrap(True)  # common names are long: a second line rather than cut off
        controls.addWidget(QLabel("Species:"))
        controls.addWidget(self.species_box, stretch=1)
        controls.addWidget(self.add_button)
        controls.addWidget(self.clear_button)
        layout.addLayout(controls)
        switches = QHBoxLayout()  # a row of their own: beside the species box they widened the window
        switches.addWidget(self.species_filter_toggle)
        switches.addWidget(self.non_bird_toggle)
        switches.addSpacing(12)
        switches.addWidget(self.legend, stretch=1)
        layout.addLayout(switches)

        self.track_plot = pg.PlotWidget()
        self.track_plot.setMaximumHeight(130)
        self.track_plot.setXLink(spectrogram)
        self.track_plot.setMouseEnabled(x=False, y=False)
        self.track_plot.setYRange(0, 1, padding=0.02)
        self.track_plot.getPlotItem().hideButtons()
        self.track_plot.getPlotItem().setMenuEnabled(False)
        self.track_plot.getAxis("left").setWidth(LEFT_AXIS_WIDTH)
        self.track_plot.hideAxis("bottom")
        self.track_plot.setLabel("left", "p")
        self.threshold_line = pg.InfiniteLine(0.5, angle=0, movable=True, pen=pg.mkPen("#ff5050", width=1))
        self.track_plot.addItem(self.threshold_line)
        self.heatmap_plot = pg.PlotWidget()
        self.heatmap_plot.setMaximumHeight(90)
        self.heatmap_plot.setXLink(spectrogram)
        self.heatmap_plot.setMouseEnabled(x=False, y=False)
        self.heatmap_plot.getPlotItem().hideButtons()
        self.heatmap_plot.getPlotItem().setMenuEnabled(False)
        self.heatmap_plot.getAxis("left").setWidth(LEFT_AXIS_WIDTH)
        self.heatmap_plot.hideAxis("bottom")
        self.heatmap = pg.ImageItem()
        self.heatmap.setLookupTable(pg.colormap.get("inferno").getLookupTable(0, 1, 256))
        self.heatmap_plot.addItem(self.heatmap)
        layout.addWidget(self.track_plot)
        layout.addWidget(self.heatmap_plot)

        self.chosen: list[str] = []
        self._picked: set[str] = set()  # chosen by the panel (the top species), not by the user
        #: The species of the candidate under review: its track is drawn (thicker, marked in the
        #: legend) while it is reviewed. Added to ``chosen`` for that time only (``_focus_added``)
        #: when the user had not chosen it, so the user's own choice is as it was afterwards.
        self.focus: str | None = None
        self._focus_added: str | None = None
        self._classes: frozenset[str] = frozenset()
        self._codes: dict[str, str] = {}  # code, display text and names (lower case) -> code
        self._names: dict[str, str] = {}  # code -> common name, where known
        self.curves: dict[str, pg.PlotDataItem] = {}
        self.box_items: dict[int, QGraphicsPathItem] = {}  # by colour
        self.captions = [self._new_caption() for _ in range(MAX_CAPTIONS)]
        self.shown_detections: list[tuple[float, float, str, float]] = []
        self.tracks: Tracks | None = None
        self.settings = SpectrogramSettings()
        self.nyquist = 16000.0
        self.add_button.clicked.connect(lambda: self.add_species(self.species_box.currentText()))
        self.species_box.lineEdit().returnPressed.connect(lambda: self.add_species(self.species_box.currentText()))
        self.clear_button.clicked.connect(self.clear_species)
        self.species_filter_toggle.toggled.connect(self._on_filters_toggled)
        self.non_bird_toggle.toggled.connect(self._on_filters_toggled)
        self.threshold_line.sigPositionChangeFinished.connect(self._on_threshold)

    @property
    def threshold(self) -> float:
        return float(self.threshold_line.value())

    def set_threshold(self, value: float) -> None:
        self.threshold_line.setValue(float(np.clip(value, 0, 1)))
        self._draw_detections()

    def _on_threshold(self) -> None:
        self.set_threshold(self.threshold)
        self.thresholdChanged.emit(self.threshold)

    def set_model(self, model: ModelRow | None, names: dict[str, str | None] | None = None) -> None:
        """Shown only while there is an active model (no room taken without one); its classes are
        the species to choose from, shown with their common names (code -> name) where known."""
        self.setVisible(model is not None)
        self.set_classes(model.classes if model is not None else [], names)

    def set_classes(self, classes: list[str], names: dict[str, str | None] | None = None) -> None:
        names = names or {}
        self._names = {code: name for code, name in names.items() if name}
        shown = [f"{code}{NAME_SEPARATOR}{names[code]}" if names.get(code) else code for code in classes]
        self.species_box.clear()
        self.species_box.addItems(shown)
        self.species_box.setCurrentIndex(-1)
        self._classes = frozenset(classes)
        codes: dict[str, str] = {}
        for code, text in zip(classes, shown, strict=True):
            name = names.get(code)
            if name:
                codes.setdefault(name.lower(), code)
            codes[text.lower()] = code
        for code in classes:  # a code wins over a name that reads the same
            codes[code.lower()] = code
        self._codes = codes
        self.chosen = [c for c in self.chosen if c in self._classes]
        self._picked &= set(self.chosen)
        if self.focus not in self._classes:
            self.focus = self._focus_added = None

    def display_name(self, code: str) -> str:
        """What a species is called on the timeline: its common name where known, else its code."""
        return self._names.get(code, code)

    def code_of(self, text: str) -> str | None:
        """The class a species box text names: its code, "code — name", or the common name (any case)."""
        text = text.strip()
        if text in self._classes:
            return text
        return self._codes.get(text.lower())

    def add_species(self, text: str) -> None:
        code = self.code_of(text)
        if code is not None and code == self._focus_added:
            self._focus_added = None  # shown for the review, now chosen by the user: it stays
            self._draw()
        elif code is not None and code not in self.chosen:
            self.chosen.append(code)
            self._draw()
            self.chosenChanged.emit()

    def clear_species(self) -> None:
        self.chosen = [self.focus] if self.focus is not None else []  # the candidate's track stays
        self._picked = set()
        self._focus_added = self.focus
        self._draw()

    def set_focus(self, code: str | None) -> None:
        """Show the track of the species under review (None: no candidate), as well as the chosen
        ones; a species the user had not chosen is taken off again when the review moves on."""
        if self._focus_added is not None and self._focus_added != code and self._focus_added in self.chosen:
            self.chosen.remove(self._focus_added)
            self._focus_added = None
        self.focus = code if code in self._classes else None
        added = self.focus is not None and self.focus not in self.chosen
        if added:
            self.chosen.append(self.focus)
            self._focus_added = self.focus
        self._draw()
        if added:
            self.chosenChanged.emit()  # its scores may not have been fetched yet

    @property
    def user_chosen(self) -> list[str]:
        """The tracks chosen by the user or picked as the top species, without the review's."""
        return [code for code in self.chosen if code != self._focus_added]

    def set_filter_info(self, text: str) -> None:
        """Where the expected species come from, or why there are none (the switch's tooltip)."""
        self.species_filter_toggle.setToolTip(text)

    def _on_filters_toggled(self, _on: bool) -> None:
        # The species the panel picked were the top ones of the old filter: pick again.
        self.chosen = [c for c in self.chosen if c not in self._picked]
        self._picked = set()
        self.filtersChanged.emit()

    def show_tracks(self, tracks: Tracks | None, settings: SpectrogramSettings, nyquist: float) -> None:
        self.tracks, self.settings, self.nyquist = tracks, settings, nyquist
        if tracks is not None and not self.user_chosen:
            top = list(tracks.top_species(3))
            if self._focus_added in top:
                self._focus_added = None  # one of the top species anyway: it stays after the review
            self.chosen = top + [code for code in self.chosen if code not in top]
            self._picked = set(top)
        self._draw()

    def _draw(self) -> None:
        for curve in self.curves.values():
            self.track_plot.removeItem(curve)
        self.curves.clear()
        tracks = self.tracks
        if tracks is None or not len(tracks.scores):
            self.heatmap.clear()
            self.legend.setText("no predictions here" if tracks is not None else "no model")
            self._draw_detections()
            return
        legend = []
        for i, code in enumerate(self.chosen):
            if code not in tracks.classes:
                continue  # chosen since these scores were fetched: drawn once they are
            colour = TRACK_COLOURS[i % len(TRACK_COLOURS)]
            x, y = tracks.step_curve(code)
            reviewed = code == self.focus
            curve = pg.PlotDataItem(x, y, stepMode="center", pen=pg.mkPen(colour, width=3 if reviewed else 2))
            curve.setZValue(1 if reviewed else 0)
            self.track_plot.addItem(curve)
            self.curves[code] = curve
            name = html.escape(self.display_name(code))
            legend.append(
                f"<span style='color:{colour}'><b>▶ {name} (under review)</b></span>"
                if reviewed
                else f"<span style='color:{colour}'>■ {name}</span>"
            )
        self.legend.setText("  ".join(legend))
        top = tracks.top_species(HEATMAP_SPECIES)
        image = np.stack([tracks.species(code) for code in top]) if top else np.zeros((1, 1))
        self.heatmap.setImage(image, levels=(0, 1))
        start = tracks.starts[0]
        self.heatmap.setRect(QRectF(start, 0, len(tracks.scores) * tracks.step_s, len(top)))
        self.heatmap_plot.setYRange(0, len(top), padding=0)
        axis = self.heatmap_plot.getAxis("left")
        axis.setTicks([[(i + 0.5, _fit_axis(axis, code)) for i, code in enumerate(top)]])
        self._draw_detections()

    def _draw_detections(self) -> None:
        """Boxes of every detection, one path per colour; captions on the strongest ones only.

        Captions are text items (about 2 ms each to make and add), so a pool of MAX_CAPTIONS is made
        with the panel and reused: making 40 during the first scoring progress stalled the window."""
        found = [] if self.tracks is None else self.tracks.detections(self.chosen, self.threshold)
        top = float(hz_to_y(self.nyquist, self.settings))
        paths: dict[int, QPainterPath] = {}
        for start, end, code, _ in found:
            paths.setdefault(self.chosen.index(code) % len(TRACK_COLOURS), QPainterPath()).addRect(
                QRectF(start, 0, end - start, top)
            )
        for colour, item in self.box_items.items():
            item.setPath(paths.pop(colour, QPainterPath()))
        for colour, path in paths.items():
            item = QGraphicsPathItem(path)
            pen = pg.mkPen(TRACK_COLOURS[colour], width=1, style=Qt.PenStyle.DashLine)
            pen.setCosmetic(True)
            item.setPen(pen)
            item.setZValue(12)
            self.spectrogram.addItem(item, ignoreBounds=True)
            self.box_items[colour] = item
        captioned = self._caption_layout(found)
        for caption, (start, text, track) in zip(self.captions, captioned, strict=False):
            caption.setText(text, TRACK_COLOURS[track % len(TRACK_COLOURS)])
            caption.setAnchor((0, 1 + track))  # a line up per track: species of one window do not overlap
            caption.setPos(start, 0)
            caption.show()
        for caption in self.captions[len(captioned) :]:
            caption.hide()
        self.shown_detections = found

    def _caption_layout(self, found: list[tuple[float, float, str, float]]) -> list[tuple[float, str, int]]:
        """(start, text, track) of the captions to show: the ones in view before those beside it,
        higher scores first, and none over another caption of its track (zoom in to see more)."""
        view = self.spectrogram.getViewBox()
        x0, x1 = view.viewRange()[0]
        pixel_s = view.viewPixelSize()[0]
        metrics = QFontMetrics(self.captions[0].textItem.font())
        placed: dict[int, list[tuple[float, float]]] = {}
        layout = []
        for start, _, code, score in sorted(found, key=lambda d: (not (d[1] > x0 and d[0] < x1), -d[3])):
            if len(layout) == MAX_CAPTIONS:
                break
            text = f"{self.display_name(code)} {score:.2f}"
            track = self.chosen.index(code)
            right = start + (metrics.horizontalAdvance(text) + CAPTION_GAP_PX) * pixel_s
            taken = placed.setdefault(track, [])
            if any(start < other_right and other_left < right for other_left, other_right in taken):
                continue
            taken.append((start, right))
            layout.append((start, text, track))
        return layout

    def _new_caption(self) -> pg.TextItem:
        caption = pg.TextItem(anchor=(0, 1))
        caption.setZValue(12)
        caption.hide()
        self.spectrogram.addItem(caption, ignoreBounds=True)
        return caption

    @property
    def shown_captions(self) -> list[str]:
        return [caption.toPlainText() for caption in self.captions if caption.isVisible()]


def _fit_axis(axis: pg.AxisItem, code: str) -> str:
    """The code, elided to the fixed-width axis: pyqtgraph silently drops a label that overflows."""
    font = axis.style.get("tickFont") or QApplication.font()
    room = LEFT_AXIS_WIDTH - max(0, axis.style["tickLength"]) - axis.style["tickTextOffset"][0]
    return QFontMetrics(font).elidedText(code, Qt.TextElideMode.ElideRight, room)
