"""The labels panel (filter, sort, jump) and the species field used when labelling.

Times are wall-clock dates and times where the recording's start is known, else offsets from
the file start (:func:`birdview.spectrogram.clock.wall_clock`); the offset is in the tooltip."""

from __future__ import annotations

from collections.abc import Mapping

from PySide6.QtCore import QEvent, QSettings, QSortFilterProxyModel, QStringListModel, Qt, Signal
from PySide6.QtGui import QFocusEvent, QKeyEvent, QStandardItem, QStandardItemModel
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QCompleter,
    QGridLayout,
    QLabel,
    QLineEdit,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from birdview.gui.label_measurements import MeasurementColumns
from birdview.gui.sizing import fit_columns
from birdview.spectrogram.clock import UNKNOWN, date_text, wall_clock
from birdview.store.labels import Annotation, Kind, Source, Status
from birdview.store.project import RecordingRow

#: Species, kind and status next to the start: they stay in sight in a narrow dock.
COLUMNS = (
    "Recording",
    "Start",
    "Species",
    "Kind",
    "Status",
    "End",
    "Score",
    "Low kHz",
    "High kHz",
    "Source",
    "Site",
    "Date",
    "Note",
)
NOTE = COLUMNS.index("Note")
ANY = "any"
#: Labels listed at most (under a filter spanning many recordings); the line above says how many match.
MAX_ROWS = 5000


class SpeciesField(QLineEdit):
    """Type a code, common or scientific name; the completer searches all three.

    Letters type here (the window's single-letter keys do not act while it has the keyboard).
    Enter takes the completion picked in the list (or the only one offered) and emits
    ``speciesEntered``; Esc puts back the text the field had before typing and emits
    ``editCancelled``. The owner decides where the keyboard goes next; the field runs no query."""

    speciesEntered = Signal()
    editCancelled = Signal()
    _KEYS = (Qt.Key.Key_Return, Qt.Key.Key_Enter, Qt.Key.Key_Escape)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._before = ""
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

    def set_code(self, code: str) -> None:
        """Show this species code and keep it (what Esc goes back to)."""
        self.setText(code)
        self.keep_text()

    def keep_text(self) -> None:
        """What the field shows now is what Esc goes back to."""
        self._before = self.text()

    def event(self, event: QEvent) -> bool:
        # Enter and Esc are the field's own while it has the keyboard, even if a window action has one.
        if event.type() == QEvent.Type.ShortcutOverride and event.key() in self._KEYS:
            event.accept()
            return True
        return super().event(event)

    def focusInEvent(self, event: QFocusEvent) -> None:
        # Not when the completion list closes or the window comes back: typing goes on then.
        if event.reason() not in (Qt.FocusReason.PopupFocusReason, Qt.FocusReason.ActiveWindowFocusReason):
            self.keep_text()
        super().focusInEvent(event)

    def keyPressEvent(self, event: QKeyEvent) -> None:
        key = event.key()
        if key not in self._KEYS:
            super().keyPressEvent(event)
            return
        popup = self.completer().popup()
        if key == Qt.Key.Key_Escape:
            popup.hide()
            self.setText(self._before)
            event.accept()
            self.editCancelled.emit()
            return
        picked = popup.currentIndex() if popup.isVisible() else None
        typed = self.text().strip()
        if picked is not None and picked.isValid():
            self._take_code(picked.data())
        elif typed and self.code() not in self._codes.values():
            completer = self.completer()
            completer.setCompletionPrefix(typed)
            if completer.completionCount() == 1:  # the only species that fits what was typed
                completer.setCurrentRow(0)
                self._take_code(completer.currentCompletion())
        popup.hide()
        event.accept()
        self.speciesEntered.emit()


class LabelsPanel(QWidget):
    """``labelActivated(annotation)`` when a row is clicked; ``noteEdited(label id, text)`` when the
    user edits a label's note (double-click or F2 on the Note cell; the panel saves nothing itself).
    With ``settings`` (the window's), the measurement columns picked are remembered there."""

    labelActivated = Signal(object)
    noteEdited = Signal(int, str)

    def __init__(self, parent: QWidget | None = None, settings: QSettings | None = None) -> None:
        super().__init__(parent)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        filters = QGridLayout()  # two by two: the panel stays usable in a narrow dock
        self.species_filter = QLineEdit(placeholderText="species")
        self.species_filter.setToolTip("Species")
        self.kind_filter = QComboBox()
        self.kind_filter.addItems([ANY, *Kind.values()])
        self.status_filter = QComboBox()
        self.status_filter.addItems([ANY, *Status.values()])
        self.source_filter = QComboBox()
        self.source_filter.addItems([ANY, *Source.values()])
        for combo, what in ((self.kind_filter, "Kind"), (self.status_filter, "Status"), (self.source_filter, "Source")):
            combo.setToolTip(what)
            combo.setMinimumContentsLength(6)  # the list itself shows the values whole
            combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        for place, widget in enumerate((self.species_filter, self.kind_filter, self.status_filter, self.source_filter)):
            filters.addWidget(widget, place // 2, place % 2)
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
        fit_columns(self.table)
        self.table.setColumnHidden(0, True)  # the panel lists the recording on screen
        # Under a filter (labels of many recordings) the recording is named after the status,
        # so start, species, kind and status stay in sight in a narrow dock.
        self.table.horizontalHeader().moveSection(0, COLUMNS.index("Status"))
        #: Raven measurement columns, picked from the header's context menu (right-click a column title).
        self.measurements = MeasurementColumns(self.table, self.model, len(COLUMNS), settings)
        self.measurements.chosenChanged.connect(self.refresh)
        self.measurements.fill({}, {})  # the columns remembered, before any label is listed
        #: Under the window's filter: which labels are listed (all recordings inside it).
        self.scope = QLabel()
        self.scope.setWordWrap(True)
        self.scope.hide()
        layout.addWidget(self.scope)
        layout.addWidget(self.table)
        self._annotations: dict[int, Annotation] = {}
        self._recordings: Mapping[int, RecordingRow | str] = {}
        self._sites: Mapping[int, str | None] = {}
        self._scope: str | None = None
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

    def set_annotations(
        self,
        annotations: list[Annotation],
        recordings: Mapping[int, RecordingRow | str],
        sites: Mapping[int, str | None] | None = None,
        scope: str | None = None,
    ) -> None:
        """The labels to list, their recordings by id (a row gives wall-clock times; a bare name,
        offsets from the file start) and the recordings' sites by id; ``scope``: the window's
        filter they were chosen by (the Recording column is shown then), None for the recording on screen."""
        self._annotations = {a.id: a for a in annotations}
        self._recordings = recordings
        self._sites = sites or {}
        self._scope = scope
        self.table.setColumnHidden(0, scope is None)
        self.refresh()

    def refresh(self) -> None:
        wanted = self.filters()
        self.model.setRowCount(0)
        matching = 0
        for annotation in self._annotations.values():
            if any(wanted[k] is not None and getattr(annotation, k) != wanted[k] for k in ("kind", "status", "source")):
                continue
            if wanted["species"] and wanted["species"].lower() not in (annotation.species or "").lower():
                continue
            matching += 1
            if matching <= MAX_ROWS:
                self.model.appendRow(self._row(annotation))
        scope = self._scope
        if scope is not None:
            shown = f"the first {MAX_ROWS:,} of {matching:,}" if matching > MAX_ROWS else f"{matching:,}"
            self.scope.setText(f"Labels in {scope}: {shown}")
        self.scope.setVisible(scope is not None)
        self.measurements.fill(self._annotations, self._recordings)

    def _row(self, a: Annotation) -> list[QStandardItem]:
        recording = self._recordings.get(a.recording_id)
        name = recording.name if isinstance(recording, RecordingRow) else (recording or str(a.recording_id))
        start, start_tip = wall_clock(recording, a.start_s)
        end, end_tip = wall_clock(recording, a.end_s)
        date = date_text(recording, a.start_s)
        site = self._sites.get(a.recording_id) or UNKNOWN
        values = (
            (name, name, ""),
            (start, a.start_s, start_tip),
            (a.species or "", a.species or "", ""),
            (str(a.kind), str(a.kind), ""),
            (str(a.status), str(a.status), ""),
            (end, a.end_s, end_tip),
            ("" if a.score is None else f"{a.score:.3f}", a.score if a.score is not None else -1.0, ""),
            ("" if a.low_hz is None else f"{a.low_hz / 1000:.2f}", a.low_hz or 0.0, ""),
            ("" if a.high_hz is None else f"{a.high_hz / 1000:.2f}", a.high_hz or 0.0, ""),
            (str(a.source), str(a.source), ""),
            (site, site, ""),
            (date, date, ""),
            (a.note or "", a.note or "", ""),
        )
        items = []
        for column, (text, key, tooltip) in enumerate(values):
            item = QStandardItem(text)
            if tooltip:
                item.setToolTip(tooltip)
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
