"""The list of open recordings: site, date, start time (wall clock, from the file name), duration,
sample rate, channels, and any problem."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QBrush, QColor
from PySide6.QtWidgets import QAbstractItemView, QTableWidget, QTableWidgetItem

from birdview.audio.recording import RecordingInfo
from birdview.gui.sizing import fit_columns
from birdview.spectrogram.clock import UNKNOWN, date_text, start_of, wall_clock
from birdview.spectrogram.ticks import format_time

COLUMNS = ("File", "Site", "Date", "Start", "Duration", "Sample rate", "Channels", "Status")
START = COLUMNS.index("Start")
_BLANK = ("",) * (len(COLUMNS) - 2)  # between the name and the status of a file not (yet) read


class RecordingsPanel(QTableWidget):
    """``recordingActivated(path)`` when the user picks a recording that opened."""

    recordingActivated = Signal(object)

    def __init__(self, parent: object = None) -> None:
        super().__init__(0, len(COLUMNS), parent)
        self.setHorizontalHeaderLabels(COLUMNS)
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.verticalHeader().hide()
        fit_columns(self)
        self.horizontalHeader().setStretchLastSection(True)
        self._rows: dict[Path, int] = {}
        self._openable: dict[Path, bool] = {}
        self.itemSelectionChanged.connect(self._on_selection)

    def paths(self) -> list[Path]:
        return list(self._rows)

    def has(self, path: Path) -> bool:
        return path in self._rows

    def _row_for(self, path: Path) -> int:
        row = self._rows.get(path)
        if row is None:
            row = self.rowCount()
            self.insertRow(row)
            self._rows[path] = row
        return row

    def add_pending(self, path: Path) -> None:
        """List a file at its place in the order given while it is being checked."""
        row = self._row_for(path)
        self._fill(row, (path.name, *_BLANK, "checking…"), path)

    def state(self, path: Path) -> str:
        """'pending', 'ok' (can be shown) or 'failed'."""
        if path not in self._openable:
            return "pending"
        return "ok" if self._openable[path] else "failed"

    def add_recording(self, info: RecordingInfo, site: str | None = None) -> None:
        row = self._row_for(info.path)
        start = wall_clock(info, 0.0, step=1.0)[0] if start_of(info) is not None else UNKNOWN
        status = f"⚠ {info.warning}" if info.warning else "OK"
        values = (
            info.path.name,
            site or UNKNOWN,
            date_text(info),
            start,
            format_time(info.duration_s),
            f"{info.sample_rate / 1000:g} kHz",
            str(info.channels),
            status,
        )
        self._fill(row, values, info.path, warning=info.warning is not None)
        if start_of(info) is None:
            self.item(row, START).setToolTip(f"{info.path}\nNo start time in the file name: times count from its start")
        self._openable[info.path] = True

    def add_failure(self, path: Path, problem: str) -> None:
        row = self._row_for(path)
        self._fill(row, (path.name, *_BLANK, f"✖ {problem}"), path, error=True)
        self._openable[path] = False

    def _fill(self, row: int, values: tuple[str, ...], path: Path, warning: bool = False, error: bool = False) -> None:
        for column, value in enumerate(values):
            item = QTableWidgetItem(value)
            item.setData(Qt.ItemDataRole.UserRole, str(path))
            item.setToolTip(f"{path}\n{values[-1]}")
            if error:
                item.setForeground(QBrush(QColor("#d03030")))
            elif warning:
                item.setForeground(QBrush(QColor("#c08000")))
            self.setItem(row, column, item)

    def status_text(self, path: Path) -> str:
        row = self._rows[path]
        return self.item(row, len(COLUMNS) - 1).text()

    def select(self, path: Path) -> None:
        row = self._rows.get(path)
        if row is not None:
            self.selectRow(row)

    def _on_selection(self) -> None:
        rows = {index.row() for index in self.selectedIndexes()}
        if len(rows) != 1:
            return
        item = self.item(rows.pop(), 0)
        if item is None:
            return
        path = Path(item.data(Qt.ItemDataRole.UserRole))
        if self._openable.get(path):
            self.recordingActivated.emit(path)
