"""Review ▸ Summary by site and time: for one species under the window's filter, a site × date heat
map (detections per recorded hour, or detections, or confirmed calls; blank where nothing was
recorded) and a diel plot (detections per recorded hour by hour of the day, over every site and
date). Each is exported as PNG or SVG.

Every number comes from :func:`birdview.season.tables.detection_table`, computed on a worker
thread; this module only lays the numbers out and draws them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from birdview.gui.export_view import export_view
from birdview.gui.workers import WorkerPool
from birdview.season.tables import detection_table
from birdview.store.project import Project, ProjectError
from birdview.store.selection import Selection

#: What the heat map shows: (combo text, column of the table).
VALUES = (
    ("detections per recorded hour", "per_hour"),
    ("detections", "detections"),
    ("confirmed calls", "confirmed"),
)
#: Cells get their number written in them up to this many cells.
MAX_CELL_TEXT = 160
BARS_COLOUR = "#39d353"
#: Exports are at least this large (width, height in pixels), whatever the plot's size on screen.
EXPORT_MIN = (800, 500)


@dataclass
class Season:
    """What the dialog shows, as numbers: ``heat[value]`` is (sites × dates), NaN where nothing was
    recorded; ``diel_per_hour`` and ``diel_hours`` by hour of the day 0-23 (NaN without recordings)."""

    species: str | None
    species_list: list[tuple[str, int]]  # (code, detections) over the selection, most first
    sites: list[str] = field(default_factory=list)
    dates: list[str] = field(default_factory=list)
    heat: dict[str, np.ndarray] = field(default_factory=dict)
    recorded_hours: np.ndarray = field(default_factory=lambda: np.zeros((0, 0)))
    diel_detections: np.ndarray = field(default_factory=lambda: np.zeros(24))
    diel_hours: np.ndarray = field(default_factory=lambda: np.zeros(24))
    diel_per_hour: np.ndarray = field(default_factory=lambda: np.full(24, np.nan))
    selection: str = ""
    undated: int = 0
    unscored: int = 0
    threshold: float | None = None


def compute_season(
    project: Project, version: int | None, selection: Selection, species: str | None, listed: list | None = None
) -> Season:
    """On a worker thread: the species' heat map and diel numbers (the species with most
    detections when ``species`` is None; ``listed``: the species list already made)."""
    if listed is None:
        everything = detection_table(project, version, selection, ("site", "date"))
        totals = everything.groupby("species")["detections"].sum() + everything.groupby("species")["confirmed"].sum()
        listed = [(str(code), int(n)) for code, n in sorted(totals.items(), key=lambda item: (-item[1], item[0]))]
    if species is None:
        species = listed[0][0] if listed else None
    season = Season(species, listed)
    if species is None:
        return season
    table = detection_table(project, version, selection, ("site", "date"), [species])
    season.selection = table.attrs.get("selection", selection.describe())
    season.undated, season.unscored = table.attrs.get("undated", 0), table.attrs.get("unscored", 0)
    season.threshold = table.attrs.get("thresholds", {}).get(species)
    season.sites = list(dict.fromkeys(table["site"]))
    season.dates = sorted(set(table["period"]))
    row = {site: i for i, site in enumerate(season.sites)}
    column = {day: j for j, day in enumerate(season.dates)}
    shape = (len(season.sites), len(season.dates))
    hours = np.zeros(shape)
    values = {name: np.full(shape, np.nan) for _, name in VALUES}
    for record in table.itertuples(index=False):
        i, j = row[record.site], column[record.period]
        hours[i, j] = record.recorded_hours
        for _, name in VALUES:
            value = getattr(record, name)
            values[name][i, j] = np.nan if value is None or record.recorded_hours <= 0 else float(value)
    season.heat, season.recorded_hours = values, hours
    diel = detection_table(project, version, selection, ("site", "hour"), [species])
    for record in diel.itertuples(index=False):
        hour = int(str(record.period)[:2])
        season.diel_detections[hour] += record.detections
        season.diel_hours[hour] += record.recorded_hours
    with np.errstate(divide="ignore", invalid="ignore"):
        season.diel_per_hour = np.where(season.diel_hours > 0, season.diel_detections / season.diel_hours, np.nan)
    return season


class _Ticks(pg.AxisItem):
    """Category names at cell centres (every n-th where they would crowd)."""

    def __init__(self, orientation: str) -> None:
        super().__init__(orientation)
        self.names: list[str] = []

    def tickValues(self, minVal: float, maxVal: float, size: float):
        if not self.names:
            return []
        widest = max(len(name) for name in self.names)
        room = 16 if self.orientation in ("left", "right") else 7 * widest + 16  # px a name needs
        step = max(1, int(np.ceil(len(self.names) * room / max(size, 1))))
        return [(step, [i + 0.5 for i in range(0, len(self.names), step)])]

    def tickStrings(self, values, scale, spacing):
        return [self.names[int(v)] if 0 <= int(v) < len(self.names) else "" for v in values]


class SeasonDialog(QDialog):
    def __init__(
        self, parent: QWidget, project: Callable[[], Project | None], selection: Callable[[], Selection]
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Summary by site and time")
        self.resize(1100, 680)
        self._project, self._selection = project, selection
        self._workers = WorkerPool("season-summary", owner=self)
        self.season: Season | None = None
        self._listed: list | None = None
        self.pending = 0
        layout = QVBoxLayout(self)
        top = QHBoxLayout()
        self.species = QComboBox()
        self.species.setMinimumContentsLength(18)
        self.species.setToolTip("The species shown (with its detections over the filter)")
        self.value = QComboBox()
        self.value.addItems([text for text, _ in VALUES])
        self.value.setToolTip("What the heat map's colour shows")
        self.export_heat = QPushButton("Export heat map…")
        self.export_diel = QPushButton("Export diel plot…")
        top.addWidget(QLabel("Species:"))
        top.addWidget(self.species, 1)
        top.addWidget(QLabel("Colour:"))
        top.addWidget(self.value)
        top.addStretch()
        top.addWidget(self.export_heat)
        top.addWidget(self.export_diel)
        layout.addLayout(top)
        self.note = QLabel()
        self.note.setWordWrap(True)
        layout.addWidget(self.note)
        self.heat_axes = (_Ticks("bottom"), _Ticks("left"))
        self.heat_plot = pg.PlotWidget(axisItems={"bottom": self.heat_axes[0], "left": self.heat_axes[1]})
        self.heat_plot.setBackground("w")
        self.heat_plot.setMenuEnabled(False)
        plot = self.heat_plot.getPlotItem()
        plot.invertY(True)
        plot.setLabel("bottom", "date")
        plot.setLabel("left", "site")
        plot.setMouseEnabled(False, False)
        plot.hideButtons()
        self.heat_image = pg.ImageItem(axisOrder="row-major")
        plot.addItem(self.heat_image)
        self.colour_bar = pg.ColorBarItem(colorMap=pg.colormap.get("viridis"), interactive=False, width=14)
        self.colour_bar.setImageItem(self.heat_image, insert_in=plot)
        self._cell_text: list[pg.TextItem] = []
        self.diel_plot = pg.PlotWidget()
        self.diel_plot.setBackground("w")
        self.diel_plot.setMenuEnabled(False)
        diel = self.diel_plot.getPlotItem()
        diel.setLabel("bottom", "hour of the day")
        diel.setLabel("left", "detections per recorded hour")
        diel.setMouseEnabled(False, False)
        diel.hideButtons()
        diel.getAxis("bottom").setTicks([[(h, f"{h:02d}") for h in range(0, 25, 3)]])
        diel.setXRange(0, 24, padding=0.01)
        self.diel_bars = pg.BarGraphItem(x=[], height=[], width=0.8, brush=BARS_COLOUR)
        diel.addItem(self.diel_bars)
        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.addWidget(self.heat_plot)
        splitter.addWidget(self.diel_plot)
        splitter.setSizes([660, 440])
        layout.addWidget(splitter, 1)
        self.species.activated.connect(lambda _index: self.refresh(keep_species=True))
        self.value.currentIndexChanged.connect(lambda _index: self._draw())
        self.export_heat.clicked.connect(lambda: self.choose_export("heat"))
        self.export_diel.clicked.connect(lambda: self.choose_export("diel"))

    # -- computing ----------------------------------------------------------------------------

    def set_project(self) -> None:
        """Another project or model: the species list is made again (now if the dialog is shown)."""
        self._listed = None
        if self.isVisible():
            self.refresh()

    def refresh(self, keep_species: bool = True) -> None:
        """Compute again for the species chosen under the window's filter (on a worker thread)."""
        project = self._project()
        if project is None or not self.isVisible():
            return
        model = project.active_model()
        version = model.version if model is not None else None
        species = self.species.currentData() if keep_species and self.species.count() else None
        folder, selection, listed = project.folder, self._selection(), self._listed
        self.pending += 1
        self.note.setText(f"Counting {species or 'detections'} in {selection.describe()}…")
        worker = self._workers.run(
            self._compute, version, selection, species, listed, project=folder, wanted=lambda: self._wanted(folder)
        )
        worker.result.connect(self._show)
        worker.error.connect(self._failed)

    @staticmethod
    def _compute(project: Project, version: int | None, selection: Selection, species, listed) -> Season:
        return compute_season(project, version, selection, species, listed)

    def _wanted(self, folder: Path) -> bool:
        project = self._project()
        return project is not None and project.folder == folder

    def _failed(self, message: str) -> None:
        self.pending -= 1
        self.note.setText(f"Cannot summarise: {message}")

    def showEvent(self, event) -> None:
        super().showEvent(event)
        self.refresh()  # the filter or the project may have changed while it was hidden

    def _show(self, season: Season) -> None:
        self.pending -= 1
        self.season, self._listed = season, season.species_list
        self.species.blockSignals(True)
        self.species.clear()
        for code, count in season.species_list:
            self.species.addItem(f"{code} ({count:,})", code)
        if season.species is not None:
            self.species.setCurrentIndex(max(0, self.species.findData(season.species)))
        self.species.blockSignals(False)
        self._draw()

    # -- drawing ------------------------------------------------------------------------------

    @property
    def heat_values(self) -> np.ndarray:
        """The heat map's cells as drawn (sites × dates; NaN: nothing recorded)."""
        season = self.season
        if season is None or not season.heat:
            return np.zeros((0, 0))
        return season.heat[VALUES[self.value.currentIndex()][1]]

    def diel_per_hour_shown(self) -> np.ndarray:
        """The diel plot's bars as drawn, by hour of the day 0-23 (0 where nothing was recorded)."""
        return np.asarray(self.diel_bars.opts["height"], dtype=np.float64)

    def _draw(self) -> None:
        season = self.season
        plot = self.heat_plot.getPlotItem()
        for item in self._cell_text:
            plot.removeItem(item)
        self._cell_text = []
        if season is None or season.species is None:
            self.note.setText("No detections or confirmed calls in the filter: score the recordings, or widen it.")
            self.heat_image.clear()
            self.diel_bars.setOpts(x=[], height=[])
            return
        values = self.heat_values
        what = VALUES[self.value.currentIndex()][0]
        years = {day[:4] for day in season.dates}
        one_year = len(years) == 1 and len(season.dates) > 1
        self.heat_axes[0].names = [day[5:] for day in season.dates] if one_year else list(season.dates)
        self.heat_axes[1].names = season.sites
        plot.setLabel("bottom", f"date ({years.pop()})" if one_year else "date")
        finite = values[np.isfinite(values)]
        top = float(finite.max()) if finite.size and finite.max() > 0 else 1.0
        self.heat_image.setImage(values, levels=(0.0, top), autoLevels=False)
        self.heat_image.setRect(0, 0, len(season.dates), len(season.sites))
        self.colour_bar.setLevels((0.0, top))
        plot.setTitle(f"{season.species}: {what}")
        plot.setRange(xRange=(0, max(1, len(season.dates))), yRange=(0, max(1, len(season.sites))), padding=0)
        if values.size <= MAX_CELL_TEXT:
            for (i, j), value in np.ndenumerate(values):
                if not np.isfinite(value):
                    continue
                text = f"{value:.1f}" if VALUES[self.value.currentIndex()][1] == "per_hour" else f"{value:.0f}"
                colour = "k" if value > 0.6 * top else "w"
                item = pg.TextItem(text, color=colour, anchor=(0.5, 0.5))
                item.setPos(j + 0.5, i + 0.5)
                plot.addItem(item)
                self._cell_text.append(item)
        for axis in self.heat_axes:
            axis.picture = None
            axis.update()
        hours = np.arange(24)
        shown = np.nan_to_num(season.diel_per_hour)
        self.diel_bars.setOpts(x=hours + 0.5, height=shown, width=0.8)
        diel = self.diel_plot.getPlotItem()
        diel.setTitle(f"{season.species} by hour of the day")
        diel.setYRange(0, max(1e-9, float(shown.max())) * 1.08, padding=0)
        blank = int(np.sum(season.diel_hours <= 0))
        notes = [f"{season.species} in {season.selection}", f"{season.recorded_hours.sum():,.1f} h recorded"]
        if season.threshold is not None:
            notes.append(f"threshold {season.threshold:.2f}")
        if blank:
            notes.append(f"{blank} hour(s) of the day never recorded")
        if season.undated:
            notes.append(f"{season.undated} recording(s) without a start time left out")
        if season.unscored:
            notes.append(f"{season.unscored} recording(s) not scored")
        self.note.setText("; ".join(notes) + ". Blank cells: nothing recorded.")

    # -- exporting ----------------------------------------------------------------------------

    def choose_export(self, which: str) -> None:
        name = f"{self.season.species if self.season and self.season.species else 'summary'}_{which}"
        path, _ = QFileDialog.getSaveFileName(
            self, "Export plot", f"{name}.png", "PNG image (*.png);;SVG drawing (*.svg)"
        )
        if path:
            try:
                self.export(which, path)
            except (OSError, ValueError, ProjectError) as exc:
                self.note.setText(f"Not exported: {exc}")
            else:
                self.note.setText(f"Exported to {path}")

    def export(self, which: str, path: str | Path, width: int | None = None, height: int | None = None) -> Path:
        """Write the heat map (``which="heat"``) or the diel plot (``"diel"``) as PNG or SVG (by the
        file's suffix; SVG: axes and text as vector shapes, the heat map as an embedded image), at
        its size on screen or width × height pixels."""
        widget = self.heat_plot if which == "heat" else self.diel_plot
        width = width or max(EXPORT_MIN[0], widget.width())
        height = height or max(EXPORT_MIN[1], widget.height())
        return export_view([widget], path, width, height)
