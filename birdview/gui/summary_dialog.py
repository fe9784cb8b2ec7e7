"""Review ▸ Summary: per species, the detections above a threshold with the verdicts among them,
the precision by threshold (logistic fit of the verdicts, over the reviewed scores, with a
bootstrap band and the verdicts as points), the threshold for a wanted precision (applied per
species), detections by hour of day and by date, and the exports.

Every number comes from :mod:`birdview.review.summary`; this module only shows them.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QDialog,
    QDoubleSpinBox,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from birdview.formats.transfer import write_detections
from birdview.gui.workers import WorkerPool
from birdview.jobs.species_filter import shown_species
from birdview.review.summary import (
    BAND_METHOD,
    MIN_EACH,
    MIN_VERDICTS,
    SpeciesCounts,
    SpeciesSummary,
    TimeCounts,
    detection_rows,
    detections_by_time,
    set_threshold,
    species_overview,
    threshold_of,
)
from birdview.review.summary import summarise as summarise_species
from birdview.store.project import Project, ProjectError

CONFIRMED_COLOUR = "#39d353"
REJECTED_COLOUR = "#ff5c5c"
CURVE_COLOUR = "#00e0ff"
FIT_COLOUR = "#ffd000"
BAND_BRUSH = (0, 224, 255, 70)
BAND_EDGE = (0, 224, 255, 110)
BARS_COLOUR = "#39d353"
UNRECORDED_BRUSH = (150, 150, 150, 30)
#: The species table: (header, what it says).
COLUMNS = (
    ("Species", "Common name (code)"),
    ("Detections", "Candidates scoring at least the species' threshold"),
    ("Conf.", "Confirmed among those detections"),
    ("Rej.", "Rejected or relabelled among those detections"),
    ("Thr.", "The species' threshold (0.50 until one is applied)"),
    ("Fit", "Whether there are enough verdicts (at any score) for a precision curve and a threshold"),
)


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


class _NumberItem(QTableWidgetItem):
    """A table cell that sorts by its number."""

    def __init__(self, value: float, text: str | None = None) -> None:
        super().__init__(text if text is not None else str(value))
        self.setData(Qt.ItemDataRole.UserRole + 1, value)
        self.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)

    def __lt__(self, other: QTableWidgetItem) -> bool:
        mine, theirs = self.data(Qt.ItemDataRole.UserRole + 1), other.data(Qt.ItemDataRole.UserRole + 1)
        if mine is None or theirs is None:
            return super().__lt__(other)
        return mine < theirs


def _overview(project: Project, version: int, expected_only: bool) -> tuple:
    """(species shown per recording, the species overview): what the table lists; every class,
    non-birds too, unless ``expected_only``."""
    allowed = None
    if expected_only:
        try:
            allowed = shown_species(project)
        except ProjectError:  # an unreadable species list (the tracks' switch says so): no list
            allowed = shown_species(project, expected_only=False)
    return allowed, species_overview(project, version, allowed=allowed)


class SummaryDialog(QDialog):
    def __init__(
        self,
        project: Project,
        on_threshold: Callable[[str, float], None],
        parent: QWidget | None = None,
        background: bool = False,
    ) -> None:
        """``background``: the species overview (a pass over every stored prediction, seconds for a
        season) is counted on a worker thread with its own connection; the dialog says so meanwhile."""
        super().__init__(parent)
        self.background = background
        self._workers = WorkerPool("summary", owner=self)
        self.setWindowTitle("Review summary")
        self.resize(1400, 820)
        self.project = project
        self.on_threshold = on_threshold
        self.model = project.active_model()
        self.summary: SpeciesSummary | None = None
        self.times: TimeCounts | None = None
        self.threshold: float | None = None
        self.overview: list[SpeciesCounts] = []
        self.allowed = None

        layout = QVBoxLayout(self)
        controls = QHBoxLayout()
        self.model_label = QLabel(f"Model {self.model.label}" if self.model else "No model in this project")
        self.target = QDoubleSpinBox(minimum=0.5, maximum=0.999, singleStep=0.01, decimals=3, value=0.9)
        self.target.setToolTip("The precision the suggested threshold should reach")
        self.count_threshold = QDoubleSpinBox(minimum=0.01, maximum=0.99, singleStep=0.01, decimals=2, value=0.5)
        self.count_threshold.setToolTip("Detections are the windows scoring at least this (the species' threshold)")
        self.expected_only = QCheckBox("Only species expected here, no non-bird classes")
        self.expected_only.setChecked(True)
        self.expected_only.setToolTip("As the review queue: the species list, or BirdNET's for each site and week")
        controls.addWidget(self.model_label)
        controls.addSpacing(24)
        controls.addWidget(QLabel("Wanted precision"))
        controls.addWidget(self.target)
        controls.addSpacing(24)
        controls.addWidget(QLabel("Count detections above"))
        controls.addWidget(self.count_threshold)
        controls.addSpacing(24)
        controls.addWidget(self.expected_only)
        controls.addStretch(1)
        layout.addLayout(controls)

        splitter = QSplitter(Qt.Orientation.Horizontal)
        self.table = QTableWidget(0, len(COLUMNS))
        for index, (title, tip) in enumerate(COLUMNS):
            header_item = QTableWidgetItem(title)
            header_item.setToolTip(tip)
            self.table.setHorizontalHeaderItem(index, header_item)
        self.table.setWordWrap(False)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().setVisible(False)
        self.table.setSortingEnabled(True)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        for column in range(1, len(COLUMNS)):
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.ResizeToContents)
        self.table.setToolTip(
            "Species with detections above their threshold, or with verdicts: the detections, the verdicts "
            f"among them, and whether there are enough verdicts for a threshold ({MIN_VERDICTS} with at least "
            f"{MIN_EACH} confirmed and {MIN_EACH} rejected)"
        )
        splitter.addWidget(self.table)

        right = QWidget()
        column = QVBoxLayout(right)
        column.setContentsMargins(6, 0, 0, 0)
        self.counts = QLabel()
        self.counts.setStyleSheet("font-weight: bold")
        self.counts.setWordWrap(True)
        self.verdicts_label = QLabel()
        self.verdicts_label.setWordWrap(True)
        self.threshold_label = QLabel()
        self.threshold_label.setWordWrap(True)
        self.method_label = QLabel(
            "Curve: logistic regression of the verdicts on logit(score), as BirdNET's guide does, averaged over "
            f"the detections above each threshold, drawn over the reviewed scores only. {BAND_METHOD}."
        )
        self.method_label.setWordWrap(True)
        self.method_label.setStyleSheet("color: gray")
        for label in (self.counts, self.verdicts_label, self.threshold_label, self.method_label):
            column.addWidget(label)
        column.addWidget(self._precision_plot(), stretch=3)
        when = QHBoxLayout()
        when.addWidget(self._hour_plot(), stretch=1)
        when.addWidget(self._date_plot(), stretch=1)
        column.addLayout(when, stretch=2)
        splitter.addWidget(right)
        splitter.setStretchFactor(0, 0)
        splitter.setStretchFactor(1, 1)
        splitter.setSizes([545, 855])
        layout.addWidget(splitter, stretch=1)

        buttons = QHBoxLayout()
        self.apply_button = QPushButton("Apply this threshold to the species")
        self.raven_button = QPushButton("Export detections (Raven)…")
        self.birdnet_button = QPushButton("Export detections (BirdNET CSV)…")
        buttons.addWidget(self.apply_button)
        buttons.addStretch(1)
        buttons.addWidget(self.raven_button)
        buttons.addWidget(self.birdnet_button)
        layout.addLayout(buttons)

        self.table.itemSelectionChanged.connect(self._species_chosen)
        self.target.valueChanged.connect(self._show_threshold)
        self.count_threshold.valueChanged.connect(self.refresh)
        self.expected_only.toggled.connect(lambda: self.reload(self.background))
        self.apply_button.clicked.connect(self.apply)
        self.raven_button.clicked.connect(lambda: self._export_dialog("raven"))
        self.birdnet_button.clicked.connect(lambda: self._export_dialog("birdnet"))
        self.reload(background)

    # -- the plots -------------------------------------------------------------------------------

    def _precision_plot(self) -> pg.PlotWidget:
        plot = self.precision_plot = pg.PlotWidget(title="Precision of the detections above a threshold")
        plot.setLabel("bottom", "threshold (score)")
        plot.setLabel("left", "precision")
        plot.setXRange(0, 1, padding=0.01)
        plot.setYRange(-0.06, 1.06, padding=0)
        plot.setMouseEnabled(x=False, y=False)
        plot.showGrid(x=True, y=True, alpha=0.15)
        self.legend = plot.addLegend(
            offset=(-10, -30), labelTextSize="9pt", brush=pg.mkBrush(0, 0, 0, 210), pen=pg.mkPen("#555555")
        )
        self.band_low = pg.PlotCurveItem(pen=pg.mkPen(*BAND_EDGE))
        self.band_high = pg.PlotCurveItem(pen=pg.mkPen(*BAND_EDGE))
        self.band = pg.FillBetweenItem(self.band_low, self.band_high, brush=pg.mkBrush(*BAND_BRUSH))
        for item in (self.band_low, self.band_high, self.band):
            plot.addItem(item)
        self.band_sample = pg.BarGraphItem(x=[], height=[], width=1, brush=pg.mkBrush(*BAND_BRUSH), pen=None)
        self.precision_curve = plot.plot(pen=pg.mkPen(CURVE_COLOUR, width=2.5))
        self.fit_curve = plot.plot(pen=pg.mkPen(FIT_COLOUR, width=1.5, style=Qt.PenStyle.DashLine))
        self.confirmed_points = pg.ScatterPlotItem(
            size=7, symbol="o", pen=pg.mkPen("#0b3d16"), brush=pg.mkBrush(CONFIRMED_COLOUR)
        )
        self.rejected_points = pg.ScatterPlotItem(
            size=7, symbol="o", pen=pg.mkPen("#4d0b0b"), brush=pg.mkBrush(REJECTED_COLOUR)
        )
        plot.addItem(self.confirmed_points)
        plot.addItem(self.rejected_points)
        self.legend.addItem(self.precision_curve, "estimated precision above the threshold")
        self.legend.addItem(self.band_sample, "90 % band (bootstrap over the verdicts)")
        self.legend.addItem(self.fit_curve, "P(right) at that score: logistic fit")
        self.legend.addItem(self.confirmed_points, "confirmed (at 1)")
        self.legend.addItem(self.rejected_points, "rejected (at 0)")
        self.target_line = pg.InfiniteLine(
            angle=0,
            pen=pg.mkPen("#aaaaaa", style=Qt.PenStyle.DotLine),
            label="wanted {value:.2f}",
            labelOpts={"position": 0.98, "color": "#cccccc", "anchors": [(1, 0), (1, 0)]},
        )
        self.threshold_line = pg.InfiniteLine(
            angle=90,
            pen=pg.mkPen("#ff5050", width=1.5),
            label="{value:.2f}",
            labelOpts={"position": 0.62, "color": "#ff8080", "fill": (0, 0, 0, 200), "anchors": [(0, 0.5), (0, 0.5)]},
        )
        plot.addItem(self.target_line)
        plot.addItem(self.threshold_line)
        self.plot_note = pg.TextItem(anchor=(0.5, 0.5), color="#dddddd")
        self.plot_note.setPos(0.5, 0.5)
        plot.addItem(self.plot_note)
        return plot

    def _bar_plot(self, title: str, bottom: str) -> tuple[pg.PlotWidget, pg.BarGraphItem, pg.BarGraphItem]:
        plot = pg.PlotWidget(title=title)
        plot.setLabel("bottom", bottom)
        plot.setLabel("left", "detections")
        plot.setMouseEnabled(x=False, y=False)
        unrecorded = pg.BarGraphItem(x=[], height=[], width=1.0, brush=pg.mkBrush(*UNRECORDED_BRUSH), pen=None)
        bars = pg.BarGraphItem(x=[], height=[], width=0.8, brush=BARS_COLOUR, pen=None)
        plot.addItem(unrecorded)
        plot.addItem(bars)
        return plot, bars, unrecorded

    def _hour_plot(self) -> pg.PlotWidget:
        plot, self.hour_bars, self.hour_unrecorded = self._bar_plot(
            "By hour of day", "hour of day, recorder's clock (grey: not recorded)"
        )
        self.hour_plot = plot
        plot.getAxis("bottom").setTicks([[(h, f"{h:02d}") for h in range(0, 24, 3)], []])
        plot.setXRange(-0.6, 23.6, padding=0)
        return plot

    def _date_plot(self) -> pg.PlotWidget:
        plot, self.date_bars, self.date_unrecorded = self._bar_plot("By date", "date (grey: not recorded)")
        self.date_plot = plot
        return plot

    # -- species ---------------------------------------------------------------------------------

    def reload(self, background: bool = False) -> None:
        """The species overview (one pass over the predictions), then the chosen species."""
        if self.model is None:
            self.counts.setText("No model in this project")
            self._enable(False)
            return
        chosen = self.current_species()
        expected = self.expected_only.isChecked()
        if background:
            self.counts.setText("Counting the detections of every species…")
            self._enable(False)
            worker = self._workers.run(_overview, self.model.version, expected, project=self.project.folder)
            worker.result.connect(lambda result: self._show_overview(result, chosen))
            worker.error.connect(self.counts.setText)
            return
        self._show_overview(_overview(self.project, self.model.version, expected), chosen)

    def _show_overview(self, result: tuple, chosen: str | None) -> None:
        self.allowed, self.overview = result
        self._enable(True)
        self.table.blockSignals(True)
        self.table.setSortingEnabled(False)
        self.table.setRowCount(len(self.overview))
        for row, counts in enumerate(self.overview):
            self._fill_row(row, counts)
        self.table.setSortingEnabled(True)
        self.table.sortItems(1, Qt.SortOrder.DescendingOrder)
        self.table.blockSignals(False)
        if not self.overview:
            self.summary = None
            self.counts.setText(
                f"No detections above the species' thresholds and no verdicts for model {self.model.label}"
            )
            self._clear_plots()
            self._enable(False)
            return
        self.select_species(chosen if chosen in {c.species for c in self.overview} else self.overview[0].species)

    def _fill_row(self, row: int, counts: SpeciesCounts) -> None:
        name = QTableWidgetItem(f"{counts.common} ({counts.species})" if counts.common else counts.species)
        name.setData(Qt.ItemDataRole.UserRole, counts.species)
        self.table.setItem(row, 0, name)
        for column, value in enumerate((counts.detections, counts.confirmed, counts.rejected), start=1):
            self.table.setItem(row, column, _NumberItem(value))
        self.table.setItem(row, 4, _NumberItem(counts.threshold, f"{counts.threshold:.2f}"))
        ready = _NumberItem(counts.needed, "ready" if not counts.needed else f"needs {counts.needed} more")
        self.table.setItem(row, 5, ready)

    def current_species(self) -> str | None:
        rows = self.table.selectionModel().selectedRows() if self.table.selectionModel() else []
        if not rows:
            return None
        item = self.table.item(rows[0].row(), 0)
        return item.data(Qt.ItemDataRole.UserRole) if item else None

    def select_species(self, code: str) -> None:
        for row in range(self.table.rowCount()):
            item = self.table.item(row, 0)
            if item is not None and item.data(Qt.ItemDataRole.UserRole) == code:
                self.table.blockSignals(True)
                self.table.selectRow(row)
                self.table.blockSignals(False)
                self.table.scrollToItem(item)
                self._species_chosen()
                return

    def _species_chosen(self) -> None:
        code = self.current_species()
        if code is None or self.model is None:
            return
        self.count_threshold.blockSignals(True)
        self.count_threshold.setValue(threshold_of(self.project, code))
        self.count_threshold.blockSignals(False)
        self.refresh()

    # -- one species -----------------------------------------------------------------------------

    def refresh(self) -> None:
        code = self.current_species()
        if self.model is None or code is None:
            return
        version, cut = self.model.version, round(self.count_threshold.value(), 2)
        summary = self.summary = summarise_species(self.project, version, code, cut, self.allowed)
        self.times = detections_by_time(self.project, version, code, cut, self.allowed)
        name = self.table.item(self.table.currentRow(), 0).text() if self.table.currentRow() >= 0 else code
        self.counts.setText(
            f"{name}: {_plural(summary.detections, 'detection')} above {summary.threshold:.2f}: "
            f"{summary.confirmed} confirmed, {summary.rejected} rejected, {summary.uncertain} uncertain, "
            f"{summary.unreviewed} not reviewed"
        )
        judged = summary.verdicts_confirmed + summary.verdicts_rejected
        if judged:
            lo, hi = summary.reviewed_range
            self.verdicts_label.setText(
                f"Verdicts at any score: {judged} ({summary.verdicts_confirmed} confirmed, "
                f"{summary.verdicts_rejected} rejected or relabelled), scores {lo:.2f}–{hi:.2f}"
            )
        else:
            self.verdicts_label.setText("No verdicts on this species yet: review some of its detections (Ctrl+R).")
        self._show_precision(summary)
        self._show_threshold()
        self._show_times(self.times)

    def _show_precision(self, summary: SpeciesSummary) -> None:
        x, y = summary.verdict_points()
        self.confirmed_points.setData(x[summary.reviewed_correct], y[summary.reviewed_correct])
        self.rejected_points.setData(x[~summary.reviewed_correct], y[~summary.reviewed_correct])
        curve = summary.precision
        if curve is None:
            for item in (self.precision_curve, self.fit_curve, self.band_low, self.band_high):
                item.setData([], [])
            self.plot_note.setText(f"No curve yet: {summary.needs.split(':')[0]}" if summary.needs else "")
            return
        self.plot_note.setText("")
        self.band_low.setData(curve.thresholds, curve.low)
        self.band_high.setData(curve.thresholds, curve.high)
        self.precision_curve.setData(curve.thresholds, curve.precision)
        self.fit_curve.setData(curve.thresholds, curve.probability)

    def _show_threshold(self) -> None:
        summary = self.summary
        if summary is None:
            return
        target = self.target.value()
        self.threshold = summary.threshold_for(target)
        self.threshold_label.setText(summary.threshold_message(target))
        self.target_line.setValue(target)
        self.threshold_line.setVisible(self.threshold is not None)
        if self.threshold is not None:
            self.threshold_line.setValue(self.threshold)
        self.apply_button.setEnabled(self.threshold is not None)
        self.apply_button.setText(
            f"Apply {self.threshold:.2f} to {summary.species}"
            if self.threshold is not None
            else "Apply this threshold to the species"
        )

    def _show_times(self, times: TimeCounts) -> None:
        hours = np.arange(24)
        self.hour_bars.setOpts(x=hours, height=times.by_hour)
        top = max(1, int(times.by_hour.max()) if len(times.by_hour) else 1)
        self.hour_unrecorded.setOpts(x=hours, height=np.where(times.recorded_by_hour > 0, 0, top))
        self.hour_plot.setYRange(0, top * 1.05, padding=0)
        title = f"By hour of day, above {times.threshold:.2f}"
        if times.undated:
            title += f" ({times.undated} without a start time left out)"
        self.hour_plot.setTitle(title)
        days = np.arange(len(times.dates))
        self.date_bars.setOpts(x=days, height=times.by_date)
        top = max(1, int(times.by_date.max()) if len(times.by_date) else 1)
        self.date_unrecorded.setOpts(x=days, height=np.where(times.recorded_by_date > 0, 0, top))
        step = max(1, int(np.ceil(len(times.dates) / 8)))
        self.date_plot.getAxis("bottom").setTicks(
            [[(i, d.strftime("%d %b")) for i, d in enumerate(times.dates) if i % step == 0], []]
        )
        if len(times.dates):
            self.date_plot.setXRange(-0.6, len(times.dates) - 0.4, padding=0)
            self.date_plot.setYRange(0, top * 1.05, padding=0)
        self.date_plot.setTitle(
            f"By date, above {times.threshold:.2f} ({_plural(len(times.dates), 'date')})"
            if times.dates
            else "By date: no recording has a start time in its name"
        )

    def _clear_plots(self) -> None:
        for item in (self.precision_curve, self.fit_curve, self.band_low, self.band_high):
            item.setData([], [])
        for points in (self.confirmed_points, self.rejected_points):
            points.setData([], [])
        for bars in (self.hour_bars, self.hour_unrecorded, self.date_bars, self.date_unrecorded):
            bars.setOpts(x=[], height=[])

    def _enable(self, on: bool) -> None:
        for widget in (self.apply_button, self.raven_button, self.birdnet_button):
            widget.setEnabled(on)

    # -- actions ---------------------------------------------------------------------------------

    def apply(self) -> None:
        code = self.current_species()
        if self.threshold is None or code is None:
            return
        chosen = self.threshold
        set_threshold(self.project, code, chosen)
        self.on_threshold(code, chosen)
        self.count_threshold.setValue(chosen)  # counts and plots now at the applied threshold
        row, summary = self.table.currentRow(), self.summary
        if row >= 0 and summary is not None:
            previous = next(c for c in self.overview if c.species == code)
            updated = summary.as_counts(previous.common)
            self.overview = [updated if c.species == code else c for c in self.overview]
            self.table.blockSignals(True)
            self.table.setSortingEnabled(False)
            self._fill_row(row, updated)
            self.table.setSortingEnabled(True)
            self.table.blockSignals(False)
            self.select_species(code)

    def export(self, fmt: str, out: str) -> int:
        rows = detection_rows(self.project, self.model.version, None, None, self.allowed)
        write_detections(fmt, rows, out)
        return len(rows)

    def _export_dialog(self, fmt: str) -> None:
        suffix = ".txt" if fmt == "raven" else ".csv"
        out, _ = QFileDialog.getSaveFileName(self, "Export detections", f"detections{suffix}")
        if out:
            self.export(fmt, out)
