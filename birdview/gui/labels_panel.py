"""The labels panel (filter, sort, jump) and the species field used when labelling."""

from __future__ import annotations

from PySide6.QtCore import QSortFilterProxyModel, QStringListModel, Qt, Signal
from PySide6.QtGui import QStandardItem, QStandardItemModel
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QCompleter,
    QHBoxLayout,
    QHeaderView,
    QLineEdit,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from birdview.spectrogram.ticks import format_time
from birdview.store.labels import Annotation, Kind, Source, Status

COLUMNS = ("Recording", "Start", "End", "Low kHz", "High kHz", "Species", "Kind", "Status", "Source", "Score", "Note")
NOTE = COLUMNS.index("Note")
ANY = "any"


class SpeciesField(QLineEdit):
    """Type a code, common or scientific name; the completer searches all three."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setPlaceholderText("species (code, common or scientific name)")
        self._model = QStringListModel()
        completer = QCompleter(self._model, self)
        completer.setCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        completer.setFilterMode(Qt.MatchFlag.MatchContains)
        self.setCompleter(completer)
        completer.activated.connect(self._take_code)
        self._codes: dict[str, str] = {}

    def set_species(self, table: list[tuple[str, str | None, str | None]]) -> None:
        entries = []
        self._codes = {}
        for code, common, scientific in table:
            text = " — ".join(x for x in (code, common, scientific) if x)
            entries.append(text)
            self._codes[text] = code
        self._model.setStringList(entries)

    def _take_code(self, text: str) -> None:
        self.setText(self._codes.get(text, text))

    def code(self) -> str:
        text = self.text().strip()
        return self._codes.get(text, text.split(" — ")[0])


class LabelsPanel(QWidget):
    """``labelActivated(annotation)`` when a row is clicked; ``noteEdited(label id, text)`` when the
    user edits a label's note (double-click or F2 on the Note cell; the panel saves nothing itself)."""

    labelActivated = Signal(object)
    noteEdited = Signal(int, str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        filters = QHBoxLayout()
        self.species_filter = QLineEdit(placeholderText="species")
        self.kind_filter = QComboBox()
        self.kind_filter.addItems([ANY, *Kind.values()])
        self.status_filter = QComboBox()
        self.status_filter.addItems([ANY, *Status.values()])
        self.source_filter = QComboBox()
        self.source_filter.addItems([ANY, *Source.values()])
        for widget in (self.species_filter, self.kind_filter, self.status_filter, self.source_filter):
            filters.addWidget(widget)
        layout.addLayout(filters)
        self.model = QStandardItemModel(0, len(COLUMNS))
        self.model.setHorizontalHeaderLabels(COLUMNS)
        self.proxy = QSortFilterProxyModel()
        self.proxy.setSourceModel(self.model)
        self.proxy.setSortRole(Qt.ItemDataRole.UserRole + 1)
        self.table = QTableView()
        self.table.setModel(self.proxy)
        self.table.setSortingEnabled(True)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(
            QAbstractItemView.EditTrigger.DoubleClicked | QAbstractItemView.EditTrigger.EditKeyPressed
        )
        self.table.verticalHeader().hide()
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.table.setColumnHidden(0, True)  # the panel lists the recording on screen
        layout.addWidget(self.table)
        self._annotations: dict[int, Annotation] = {}
        self._names: dict[int, str] = {}
        self.table.clicked.connect(self._on_clicked)
        self.model.itemChanged.connect(self._on_item_changed)
        self.species_filter.textChanged.connect(self.refresh)
        for combo in (self.kind_filter, self.status_filter, self.source_filter):
            combo.currentIndexChanged.connect(self.refresh)

    def filters(self) -> dict[str, str | None]:
        def value(combo: QComboBox) -> str | None:
            return None if combo.currentText() == ANY else combo.currentText()

        return {
            "kind": value(self.kind_filter),
            "status": value(self.status_filter),
            "source": value(self.source_filter),
            "species": self.species_filter.text().strip() or None,
        }

    def set_annotations(self, annotations: list[Annotation], recording_names: dict[int, str]) -> None:
        self._annotations = {a.id: a for a in annotations}
        self._names = recording_names
        self.refresh()

    def refresh(self) -> None:
        wanted = self.filters()
        self.model.setRowCount(0)
        for annotation in self._annotations.values():
            if any(wanted[k] is not None and getattr(annotation, k) != wanted[k] for k in ("kind", "status", "source")):
                continue
            if wanted["species"] and wanted["species"].lower() not in (annotation.species or "").lower():
                continue
            self.model.appendRow(self._row(annotation))

    def _row(self, a: Annotation) -> list[QStandardItem]:
        values = (
            (self._names.get(a.recording_id, str(a.recording_id)), self._names.get(a.recording_id, "")),
            (format_time(a.start_s, 0.01), a.start_s),
            (format_time(a.end_s, 0.01), a.end_s),
            ("" if a.low_hz is None else f"{a.low_hz / 1000:.2f}", a.low_hz or 0.0),
            ("" if a.high_hz is None else f"{a.high_hz / 1000:.2f}", a.high_hz or 0.0),
            (a.species or "", a.species or ""),
            (str(a.kind), str(a.kind)),
            (str(a.status), str(a.status)),
            (str(a.source), str(a.source)),
            ("" if a.score is None else f"{a.score:.3f}", a.score if a.score is not None else -1.0),
            (a.note or "", a.note or ""),
        )
        items = []
        for column, (text, key) in enumerate(values):
            item = QStandardItem(text)
            item.setData(a.id, Qt.ItemDataRole.UserRole)
            item.setData(key, Qt.ItemDataRole.UserRole + 1)
            item.setEditable(column == NOTE)
            items.append(item)
        return items

    def row_count(self) -> int:
        return self.proxy.rowCount()

    def annotation_at(self, row: int) -> Annotation:
        annotation_id = self.proxy.index(row, 0).data(Qt.ItemDataRole.UserRole)
        return self._annotations[annotation_id]

    def _on_item_changed(self, item: QStandardItem) -> None:
        """The user edited a note: say so (the rows are refilled from the project once it is saved)."""
        annotation_id = item.data(Qt.ItemDataRole.UserRole)
        if item.column() != NOTE or annotation_id not in self._annotations:
            return
        text = item.text()
        if text != (self._annotations[annotation_id].note or ""):
            self.noteEdited.emit(annotation_id, text)

    def _on_clicked(self, index) -> None:
        annotation_id = index.data(Qt.ItemDataRole.UserRole)
        if annotation_id in self._annotations:
            self.labelActivated.emit(self._annotations[annotation_id])
