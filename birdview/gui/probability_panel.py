"""Under the spectrogram: a probability track per chosen species, a heat map of the top species,
a movable threshold, and the detections above it drawn on the spectrogram."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF, Qt, Signal
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from birdview.gui.spectrogram_view import LEFT_AXIS_WIDTH
from birdview.review.tracks import Tracks
from birdview.spectrogram.settings import SpectrogramSettings
from birdview.spectrogram.tiles import hz_to_y

TRACK_COLOURS = ("#ffd000", "#00e0ff", "#ff60c0", "#80ff80", "#ff8040", "#b0a0ff")
HEATMAP_SPECIES = 8


class ProbabilityPanel(QWidget):
    thresholdChanged = Signal(float)

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
        self.species_box.completer().setFilterMode(Qt.MatchFlag.MatchContains)
        self.add_button = QPushButton("Add track")
        self.clear_button = QPushButton("Clear tracks")
        self.legend = QLabel()
        controls.addWidget(QLabel("Species:"))
        controls.addWidget(self.species_box, stretch=1)
        controls.addWidget(self.add_button)
        controls.addWidget(self.clear_button)
        controls.addWidget(self.legend, stretch=2)
        layout.addLayout(controls)

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
        self.curves: dict[str, pg.PlotDataItem] = {}
        self.detection_items: list[object] = []
        self.tracks: Tracks | None = None
        self.settings = SpectrogramSettings()
        self.nyquist = 16000.0
        self.add_button.clicked.connect(lambda: self.add_species(self.species_box.currentText().strip()))
        self.clear_button.clicked.connect(self.clear_species)
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

    def set_classes(self, classes: list[str]) -> None:
        self.species_box.clear()
        self.species_box.addItems(classes)
        self.chosen = [c for c in self.chosen if c in classes]

    def add_species(self, code: str) -> None:
        if code and code not in self.chosen and self.species_box.findText(code) >= 0:
            self.chosen.append(code)
            self._draw()

    def clear_species(self) -> None:
        self.chosen = []
        self._draw()

    def show_tracks(self, tracks: Tracks | None, settings: SpectrogramSettings, nyquist: float) -> None:
        self.tracks, self.settings, self.nyquist = tracks, settings, nyquist
        if tracks is not None and not self.chosen:
            self.chosen = [c for c in tracks.top_species(3)]
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
            colour = TRACK_COLOURS[i % len(TRACK_COLOURS)]
            x, y = tracks.step_curve(code)
            curve = pg.PlotDataItem(x, y, stepMode="center", pen=pg.mkPen(colour, width=2))
            self.track_plot.addItem(curve)
            self.curves[code] = curve
            legend.append(f"<span style='color:{colour}'>■ {code}</span>")
        self.legend.setText("  ".join(legend))
        top = tracks.top_species(HEATMAP_SPECIES)
        image = np.stack([tracks.species(code) for code in top]) if top else np.zeros((1, 1))
        self.heatmap.setImage(image, levels=(0, 1))
        start = tracks.starts[0]
        self.heatmap.setRect(QRectF(start, 0, len(tracks.scores) * tracks.window_s, len(top)))
        self.heatmap_plot.setYRange(0, len(top), padding=0)
        self.heatmap_plot.getAxis("left").setTicks([[(i + 0.5, code) for i, code in enumerate(top)]])
        self._draw_detections()

    def _draw_detections(self) -> None:
        for item in self.detection_items:
            self.spectrogram.removeItem(item)
        self.detection_items.clear()
        if self.tracks is None:
            return
        top = float(hz_to_y(self.nyquist, self.settings))
        for start, end, code, score in self.tracks.detections(self.chosen, self.threshold):
            colour = TRACK_COLOURS[self.chosen.index(code) % len(TRACK_COLOURS)]
            rect = pg.QtWidgets.QGraphicsRectItem(QRectF(start, 0, end - start, top))
            pen = pg.mkPen(colour, width=1, style=Qt.PenStyle.DashLine)
            pen.setCosmetic(True)
            rect.setPen(pen)
            rect.setZValue(12)
            text = pg.TextItem(f"{code} {score:.2f}", color=colour, anchor=(0, 1))
            text.setPos(start, 0)
            text.setZValue(12)
            for item in (rect, text):
                self.spectrogram.addItem(item, ignoreBounds=True)
                self.detection_items.append(item)
