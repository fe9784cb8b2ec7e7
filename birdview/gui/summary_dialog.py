"""Review ▸ Summary: per-species verdict counts, precision by threshold (logistic fit), the
threshold for a wanted precision (applied per species), detections per hour, exports."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pyqtgraph as pg
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from birdview.formats.transfer import write_detections
from birdview.review.summary import THRESHOLDS, SpeciesSummary, detection_rows, detections_per_hour, set_threshold
from birdview.review.summary import summarise as summarise_species
from birdview.store.project import Project


class SummaryDialog(QDialog):
    def __init__(
        self, project: Project, on_threshold: Callable[[str, float], None], parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Review summary")
        self.resize(900, 700)
        self.project = project
        self.on_threshold = on_threshold
        self.model = project.active_model()
        layout = QVBoxLayout(self)
        form = QFormLayout()
        self.species = QComboBox()
        self.species.addItems(self.model.classes if self.model else [])
        self.target = QDoubleSpinBox(minimum=0.5, maximum=0.999, singleStep=0.01, decimals=3, value=0.9)
        form.addRow("Species", self.species)
        form.addRow("Wanted precision", self.target)
        layout.addLayout(form)
        self.counts = QLabel()
        self.threshold_label = QLabel()
        layout.addWidget(self.counts)
        layout.addWidget(self.threshold_label)
        self.precision_plot = pg.PlotWidget(title="Estimated precision by threshold")
        self.precision_plot.setLabel("bottom", "threshold (score)")
        self.precision_plot.setYRange(0, 1.02)
        self.precision_curve = self.precision_plot.plot(pen=pg.mkPen("#00e0ff", width=2), name="precision")
        self.fit_curve = self.precision_plot.plot(
            pen=pg.mkPen("#ffd000", width=1, style=pg.QtCore.Qt.PenStyle.DashLine)
        )
        self.verdict_dots = pg.ScatterPlotItem(size=5)
        self.precision_plot.addItem(self.verdict_dots)
        self.threshold_line = pg.InfiniteLine(angle=90, pen=pg.mkPen("#ff5050"))
        self.precision_plot.addItem(self.threshold_line)
        self.hourly_plot = pg.PlotWidget(title="Detections per hour above the threshold")
        self.hourly_bars = pg.BarGraphItem(x=[], height=[], width=0.8, brush="#39d353")
        self.hourly_plot.addItem(self.hourly_bars)
        layout.addWidget(self.precision_plot, stretch=2)
        layout.addWidget(self.hourly_plot, stretch=1)
        buttons = QHBoxLayout()
        self.apply_button = QPushButton("Apply this threshold to the species")
        self.raven_button = QPushButton("Export detections (Raven)…")
        self.birdnet_button = QPushButton("Export detections (BirdNET CSV)…")
        for button in (self.apply_button, self.raven_button, self.birdnet_button):
            buttons.addWidget(button)
        layout.addLayout(buttons)
        self.summary: SpeciesSummary | None = None
        self.threshold: float | None = None
        self.species.currentIndexChanged.connect(self.refresh)
        self.target.valueChanged.connect(self.refresh)
        self.apply_button.clicked.connect(self.apply)
        self.raven_button.clicked.connect(lambda: self._export_dialog("raven"))
        self.birdnet_button.clicked.connect(lambda: self._export_dialog("birdnet"))
        self.refresh()

    def refresh(self) -> None:
        code = self.species.currentText()
        if self.model is None or not code:
            self.counts.setText("no model in this project")
            return
        summary = self.summary = summarise_species(self.project, self.model.version, code)
        self.counts.setText(
            f"{code}: {summary.confirmed} confirmed, {summary.rejected} rejected, "
            f"{summary.uncertain} uncertain of {summary.detections} detections"
        )
        self.threshold = summary.threshold_for(self.target.value())
        if summary.precision is None:
            self.threshold_label.setText("Confirm and reject some detections of this species to estimate precision.")
            self.precision_curve.setData([], [])
            self.fit_curve.setData([], [])
        else:
            self.precision_curve.setData(THRESHOLDS, np.nan_to_num(summary.precision, nan=0.0))
            grid = np.linspace(0.01, 0.99, 99)
            self.fit_curve.setData(grid, summary.probability_correct(grid))
            self.threshold_label.setText(
                f"Threshold for precision {self.target.value():.3f}: "
                + (f"{self.threshold:.2f}" if self.threshold is not None else "not reachable with these verdicts")
            )
        self.apply_button.setEnabled(self.threshold is not None)
        self.threshold_line.setValue(self.threshold if self.threshold is not None else 0.5)
        hours, counts = detections_per_hour(self.project, self.model.version, code, self.threshold or 0.5)
        self.hourly_bars.setOpts(x=np.arange(len(counts)), height=counts)
        labels = [
            (i, h.strftime("%d %b %H:00") if hasattr(h, "strftime") else f"+{int(h)} h") for i, h in enumerate(hours)
        ]
        self.hourly_plot.getAxis("bottom").setTicks([labels])

    def apply(self) -> None:
        if self.threshold is not None:
            code = self.species.currentText()
            set_threshold(self.project, code, self.threshold)
            self.on_threshold(code, self.threshold)

    def export(self, fmt: str, out: str) -> int:
        rows = detection_rows(self.project, self.model.version, None, None)
        write_detections(fmt, rows, out)
        return len(rows)

    def _export_dialog(self, fmt: str) -> None:
        suffix = ".txt" if fmt == "raven" else ".csv"
        out, _ = QFileDialog.getSaveFileName(self, "Export detections", f"detections{suffix}")
        if out:
            self.export(fmt, out)
