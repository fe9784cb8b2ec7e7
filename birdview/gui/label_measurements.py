"""Raven measurement columns of the Labels table: the user picks them from the table header's
context menu (right-click a column title); their values are computed on a worker thread from the
audio around each listed label (:mod:`birdview.audio.measure`) and kept, keyed by the label's
box, so a label is measured again only when its box changes. A cell shows "…" until its value
arrives, and "—" (the reason in its tooltip) when the label cannot be measured. The columns
picked are remembered in the user's settings (the window's ``QSettings``), so the table shows the
same ones after a restart, whatever project is opened."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Mapping
from pathlib import Path

from PySide6.QtCore import QObject, QPoint, QSettings, Qt, Signal
from PySide6.QtGui import QStandardItem, QStandardItemModel
from PySide6.QtWidgets import QMenu, QTableView

from birdview.audio.measure import RAVEN_COLUMNS, MeasureError, Measurements, Selection, measure_box
from birdview.audio.recording import AudioFileError, Recording
from birdview.gui.workers import Worker, WorkerPool
from birdview.store.labels import Annotation
from birdview.store.project import RecordingRow

#: The measurements offered, under Raven's column names.
MEASUREMENTS = tuple(RAVEN_COLUMNS)
PENDING, FAILED = "…", "—"
#: Results handed to the table at a time while a worker measures.
BATCH = 50
#: Where the columns picked are kept in the user's settings (a JSON list of column names).
SETTINGS_KEY = "labels/measurement_columns"

Key = tuple


def label_key(annotation: Annotation, recording: RecordingRow | str | None) -> Key:
    """What a label's measurements depend on: its recording's file and its box."""
    a = annotation
    path = str(recording.path) if isinstance(recording, RecordingRow) else recording
    return (path, a.id, a.start_s, a.end_s, a.low_hz, a.high_hz, a.channel)


def cell_text(column: str, value: float) -> str:
    """A measurement as the table shows it: Hz whole, seconds to the millisecond, dB to a tenth."""
    if value != value:  # NaN: a silent box
        return ""
    if "Hz" in column:
        return f"{value:.0f}"
    return f"{value:.3f}" if column.endswith("(s)") else f"{value:.1f}"


def measure_labels(
    jobs: list[tuple[Path, list[tuple[Key, Selection]]]], progress: Callable[[dict], None], cancel: threading.Event
) -> None:
    """On a worker thread: measure each recording's boxes, reporting ``{key: Measurements or the
    reason it cannot be measured}`` a batch at a time."""
    for path, boxes in jobs:
        if cancel.is_set():
            return
        try:
            recording = Recording.open(path)
        except AudioFileError as exc:
            progress({key: str(exc) for key, _ in boxes})
            continue
        try:
            done: dict[Key, Measurements | str] = {}
            for key, box in boxes:
                if cancel.is_set():
                    break
                try:
                    done[key] = measure_box(recording, box)
                except (MeasureError, AudioFileError) as exc:
                    done[key] = str(exc)
                if len(done) >= BATCH:
                    progress(done)
                    done = {}
            progress(done)
        finally:
            recording.close()


def remembered_columns(settings: QSettings) -> list[str]:
    """The measurement columns kept in ``settings``, in the menu's order; names no longer offered
    and a value that cannot be read are left out."""
    try:
        stored = json.loads(settings.value(SETTINGS_KEY, "[]", type=str) or "[]")
    except (TypeError, ValueError):
        return []
    if not isinstance(stored, list):
        return []
    return [column for column in MEASUREMENTS if column in stored]


class MeasurementColumns(QObject):
    """The measurement columns after ``first_column`` of a labels table whose model's column 0
    holds each row's label id (``Qt.UserRole``) and sorts by ``Qt.UserRole + 1``.
    ``chosenChanged`` when the user picks or drops a column (the owner then refills the rows and
    calls :meth:`fill`). With ``settings``, the columns picked are read from them at once and
    written to them at every change."""

    chosenChanged = Signal()

    def __init__(
        self, table: QTableView, model: QStandardItemModel, first_column: int, settings: QSettings | None = None
    ) -> None:
        super().__init__(table)
        self.table, self.model, self.first_column = table, model, first_column
        self.settings = settings
        self.chosen: list[str] = remembered_columns(settings) if settings is not None else []
        self._values: dict[Key, Measurements | str] = {}
        self._keys: dict[int, Key] = {}  # label id: its key, for the labels listed
        self._pool = WorkerPool("measurements", max_threads=1, owner=self)
        self._worker: Worker | None = None
        header = table.horizontalHeader()
        header.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        header.customContextMenuRequested.connect(self._show_menu)

    def menu(self) -> QMenu:
        """A checkable entry per measurement; toggling one shows or hides its column."""
        menu = QMenu(self.table)
        menu.setToolTipsVisible(True)
        for column in MEASUREMENTS:
            action = menu.addAction(column)
            action.setCheckable(True)
            action.setChecked(column in self.chosen)
            action.setToolTip("Raven Pro's measurement, computed on the audio inside the label's box")
            action.toggled.connect(lambda on, column=column: self.set_shown(column, on))
        return menu

    def _show_menu(self, at: QPoint) -> None:
        self.menu().exec(self.table.horizontalHeader().mapToGlobal(at))

    def set_chosen(self, columns: list[str]) -> None:
        self.chosen = [column for column in MEASUREMENTS if column in columns]
        if self.settings is not None:
            self.settings.setValue(SETTINGS_KEY, json.dumps(self.chosen))
            self.settings.sync()  # on disk at once: a crash does not lose the choice
        self.chosenChanged.emit()

    def set_shown(self, column: str, shown: bool) -> None:
        self.set_chosen([c for c in self.chosen if c != column] + ([column] if shown else []))

    @property
    def busy(self) -> bool:
        return self._worker is not None and self._worker.active

    def fill(self, annotations: Mapping[int, Annotation], recordings: Mapping[int, RecordingRow | str]) -> None:
        """Give the listed rows their measurement cells (the model's rows are refilled first) and
        measure, on a worker, the listed labels not measured yet."""
        first = self.first_column
        self.model.setColumnCount(first + len(self.chosen))
        for offset, column in enumerate(self.chosen):
            self.model.setHorizontalHeaderItem(first + offset, QStandardItem(column))
        if self._worker is not None:
            self._worker.cancel()
            self._worker = None
        if not self.chosen:
            return
        listed = [annotations[i] for i in self._rows() if i in annotations]
        self._keys = {a.id: label_key(a, recordings.get(a.recording_id)) for a in listed}
        jobs: dict[Path, list[tuple[Key, Selection]]] = {}
        for a in listed:
            if self._keys[a.id] in self._values:
                continue
            recording = recordings.get(a.recording_id)
            if not isinstance(recording, RecordingRow):
                self._values[self._keys[a.id]] = "the recording of this label is not known"
                continue
            box = Selection(a.start_s, a.end_s, a.low_hz, a.high_hz, a.channel)
            jobs.setdefault(Path(recording.path), []).append((self._keys[a.id], box))
        self._show(set(self._keys))
        if jobs:
            self._worker = self._pool.run(measure_labels, list(jobs.items()), progress=True, cancellable=True)
            self._worker.progress.connect(self._arrived)

    def _rows(self) -> dict[int, int]:
        """Label id: its row in the model."""
        rows = {}
        for row in range(self.model.rowCount()):
            item = self.model.item(row, 0)
            if item is not None:
                rows[item.data(Qt.ItemDataRole.UserRole)] = row
        return rows

    def _arrived(self, values: dict[Key, Measurements | str]) -> None:
        self._values.update(values)
        arrived = set(values)
        self._show({i for i, key in self._keys.items() if key in arrived})

    def _show(self, ids: set[int]) -> None:
        if not self.chosen:
            return
        for label_id, row in self._rows().items():
            if label_id not in ids:
                continue
            value = self._values.get(self._keys.get(label_id, ()), None)
            for offset, column in enumerate(self.chosen):
                self.model.setItem(row, self.first_column + offset, self._item(label_id, column, value))

    def _item(self, label_id: int, column: str, value: Measurements | str | None) -> QStandardItem:
        if isinstance(value, Measurements):
            number = value.raven()[column]
            item = QStandardItem(cell_text(column, number))
            item.setData(number if number == number else float("-inf"), Qt.ItemDataRole.UserRole + 1)
        else:
            item = QStandardItem(PENDING if value is None else FAILED)
            item.setData(float("-inf"), Qt.ItemDataRole.UserRole + 1)
            if value is not None:
                item.setToolTip(f"Not measured: {value}")
        item.setData(label_id, Qt.ItemDataRole.UserRole)
        item.setEditable(False)
        return item

    def close(self) -> None:
        self._pool.close()
