"""The list of open recordings, grouped site ▸ date (each group with its number of recordings and
hours recorded) or flat: site, date, start time (wall clock, from the file name), duration,
sample rate, channels, and any problem. The filter bar's :class:`~birdview.store.selection.Selection`
narrows it. A model-based view (:mod:`birdview.gui.recordings_model`): only the rows on screen
are drawn, so 10,000 recordings scroll smoothly.

Picking a recording (click, arrow keys, Enter, double-click) shows it; Enter or double-click on a
group opens or closes it.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QEvent, QModelIndex, QPersistentModelIndex, Qt, QTimer, Signal
from PySide6.QtGui import QFont, QFontMetrics, QHelpEvent, QKeyEvent
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QStyle, QStyleOptionViewItem, QToolTip, QTreeView

from birdview.audio.recording import RecordingInfo
from birdview.gui.recordings_model import COLUMNS, START, RecordingsModel, recording_cells
from birdview.gui.sizing import MAX_COLUMN_WIDTH, ElidedTextTooltips, cell_tooltip
from birdview.spectrogram.clock import UNKNOWN, date_text, start_of, wall_clock
from birdview.store.selection import Selection

__all__ = ["COLUMNS", "START", "RecordingsPanel"]

#: Up to this many recordings shown, every group starts open; above it, only the sites.
OPEN_ALL_UP_TO = 300
#: Columns are fitted to this many groups and recordings (the first listed).
FIT_SAMPLE = 200


class _TreeTooltips(ElidedTextTooltips):
    """A cell cut short shows its whole text in its tooltip, as in the tables."""

    def helpEvent(
        self,
        event: QHelpEvent,
        view: QAbstractItemView,
        option: QStyleOptionViewItem,
        index: QModelIndex | QPersistentModelIndex,
    ) -> bool:
        if event is not None and event.type() == QEvent.Type.ToolTip and isinstance(view, QTreeView):
            text = cell_tooltip(view, QModelIndex(index))
            if text:
                QToolTip.showText(event.globalPos(), text, view)
            else:
                QToolTip.hideText()
            return True
        return super().helpEvent(event, view, option, index)


class RecordingsPanel(QTreeView):
    """``recordingActivated(path)`` when the user picks a recording that opened."""

    recordingActivated = Signal(object)

    def __init__(self, parent: object = None) -> None:
        super().__init__(parent)
        self.recordings_model = RecordingsModel(self)
        self.setModel(self.recordings_model)
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setUniformRowHeights(True)  # the view lays out 10,000 rows without asking each
        self.setExpandsOnDoubleClick(True)
        self.setAllColumnsShowFocus(True)
        self.setTextElideMode(Qt.TextElideMode.ElideRight)
        self.setHorizontalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        self.setItemDelegate(_TreeTooltips(self))
        header = self.header()
        header.setStretchLastSection(True)
        # Columns are fitted here to the first rows (Qt's ResizeToContents would ask every row
        # for every change: seconds with 10,000 recordings); the user may still drag them.
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        self._fit_timer = QTimer(self)
        self._fit_timer.setSingleShot(True)
        self._fit_timer.setInterval(150)
        self._fit_timer.timeout.connect(self.fit_columns)
        self._seen_groups: set[tuple] = set()
        self._open_groups: set[tuple] = set()
        self._current: Path | None = None
        model = self.recordings_model
        model.modelAboutToBeReset.connect(self._remember_open_groups)
        model.modelReset.connect(self._restore_open_groups)
        model.dataChanged.connect(lambda *_: self._fit_timer.isActive() or self._fit_timer.start())
        self.selectionModel().selectionChanged.connect(self._on_selection)
        self.activated.connect(self._on_activated)

    def horizontalHeader(self) -> QHeaderView:  # as a table's, for the column checks shared with tables
        return self.header()

    # -- filling (the recording loader) -------------------------------------------------------

    def paths(self) -> list[Path]:
        return self.recordings_model.paths()

    def has(self, path: Path) -> bool:
        return self.recordings_model.entry(path) is not None

    def add_pending(self, path: Path, site: str | None = None, known: object = None) -> None:
        """List a file at its place in the order given while it is being checked; ``known``: what
        the project knows of it (a RecordingRow: its start, duration and format are shown at once)."""
        model = self.recordings_model
        if model.entry(path) is not None:
            model.update(path, status="checking…", state="pending")
        elif known is not None:  # its cells are made when first shown
            duration = float(getattr(known, "duration_s", 0.0) or 0.0)
            model.add(path, site, start_of(known), duration, cells=lambda: _cells(path, site, known))
        else:
            model.add(path, site)

    def state(self, path: Path) -> str:
        """'pending', 'ok' (can be shown) or 'failed'."""
        entry = self.recordings_model.entry(path)
        return entry.state if entry is not None else "pending"

    def add_recording(self, info: RecordingInfo, site: str | None = None) -> None:
        model = self.recordings_model
        model.add(info.path, site, info.start_time, info.duration_s)
        model.update(
            info.path,
            site=site or model.entry(info.path).site,
            start_time=info.start_time,
            duration_s=info.duration_s,
            cells=lambda: _cells(info.path, site, info),
            status=f"⚠ {info.warning}" if info.warning else "OK",
            state="ok",
            warning=info.warning is not None,
        )

    def add_failure(self, path: Path, problem: str) -> None:
        model = self.recordings_model
        model.add(path, None)
        model.update(path, cells=(), status=f"✖ {problem}", state="failed", warning=False)

    # -- what is shown ------------------------------------------------------------------------

    def status_text(self, path: Path) -> str:
        return self.recordings_model.entry(path).status

    def text(self, path: Path, column: str) -> str:
        """The cell the user sees for a recording under ``column`` (a header)."""
        index = self._index(path, column)
        return str(index.data()) if index.isValid() else self.recordings_model.entry(path).text(COLUMNS.index(column))

    def tooltip(self, path: Path, column: str) -> str:
        return str(self._index(path, column).data(Qt.ItemDataRole.ToolTipRole) or "")

    def _index(self, path: Path, column: str) -> QModelIndex:
        index = self.recordings_model.index_of(path)
        return index.siblingAtColumn(COLUMNS.index(column)) if index.isValid() else index

    def set_selection(self, selection: Selection) -> None:
        """Show only the recordings the filter keeps (some time at its sites, dates and hours)."""
        self.recordings_model.set_selection(selection)

    def set_grouped(self, grouped: bool) -> None:
        """Site ▸ date groups, or one flat list in the order given."""
        self.recordings_model.set_grouped(grouped)

    def is_open(self, site: str | None, date: str | None = None) -> bool:
        index = self.recordings_model.group_index(site, date)
        return index.isValid() and self.isExpanded(index)

    # -- choosing -----------------------------------------------------------------------------

    def select(self, path: Path) -> None:
        self._current = path
        index = self.recordings_model.index_of(path)
        if not index.isValid():
            self.clearSelection()
            return
        parent = index.parent()
        while parent.isValid():
            self.expand(parent)
            parent = parent.parent()
        self.setCurrentIndex(index)
        self.scrollTo(index)

    def _on_selection(self, *_: object) -> None:
        rows = {index.row() for index in self.selectionModel().selectedRows()}
        if len(rows) != 1:
            return
        self._open(self.selectionModel().selectedRows()[0])

    def _on_activated(self, index: QModelIndex) -> None:
        self._open(index)

    def _open(self, index: QModelIndex) -> None:
        path = self.recordings_model.path_at(index)
        if path is not None and self.state(path) == "ok":
            self._current = path
            self.recordingActivated.emit(path)

    def keyPressEvent(self, event: QKeyEvent) -> None:
        index = self.currentIndex()
        if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter) and index.isValid():
            if self.recordings_model.path_at(index) is None:  # a group: open or close it
                self.setExpanded(index.siblingAtColumn(0), not self.isExpanded(index.siblingAtColumn(0)))
            else:
                self._open(index)
            event.accept()
            return
        super().keyPressEvent(event)

    def fit_columns(self) -> None:
        """Each column as wide as its header and the text of the groups and of the first
        :data:`FIT_SAMPLE` recordings listed, up to :data:`MAX_COLUMN_WIDTH` (longer text is cut
        short, and whole in its tooltip)."""
        model, header = self.recordings_model, self.header()
        plain, bold = self.fontMetrics(), QFontMetrics(_bold(self.font()))
        margin = 2 * (self.style().pixelMetric(QStyle.PixelMetric.PM_FocusFrameHMargin, None, self) + 1) + 8
        groups = model.group_nodes()[:FIT_SAMPLE]
        leaves = [model.entry(path) for path in model.shown_paths()[:FIT_SAMPLE]]
        depth = (2 if model.grouped else 0) + (1 if self.rootIsDecorated() else 0)
        for column in range(len(COLUMNS)):
            wanted = header.sectionSizeHint(column)
            texts = [(plain, entry.text(column), depth) for entry in leaves]
            for node in groups:
                index = model.createIndex(node.row, column, node.ident)
                font = bold if node.kind == "site" and column == 0 else plain
                texts.append((font, str(index.data() or ""), 1 if node.kind == "date" else 0))
            for metrics, text, level in texts:
                indent = self.indentation() * level if column == 0 else 0
                wanted = max(wanted, metrics.horizontalAdvance(text) + margin + indent)
            self.setColumnWidth(column, min(wanted, max(MAX_COLUMN_WIDTH, header.sectionSizeHint(column))))

    # -- groups stay open or closed as the user left them across rebuilds ---------------------

    def _remember_open_groups(self) -> None:
        model = self.recordings_model
        for node in model.group_nodes():
            index = model.createIndex(node.row, 0, node.ident)
            (self._open_groups.add if self.isExpanded(index) else self._open_groups.discard)(node.key)

    def _restore_open_groups(self) -> None:
        model = self.recordings_model
        open_all = model.shown <= OPEN_ALL_UP_TO
        for node in model.group_nodes():
            if node.key not in self._seen_groups:
                self._seen_groups.add(node.key)
                if open_all or node.kind == "site":
                    self._open_groups.add(node.key)
            if node.key in self._open_groups:
                self.setExpanded(model.createIndex(node.row, 0, node.ident), True)
        self.setRootIsDecorated(model.grouped)
        self.fit_columns()
        if self._current is not None:
            index = model.index_of(self._current)
            if index.isValid():
                self.selectionModel().blockSignals(True)
                self.setCurrentIndex(index)
                self.selectionModel().blockSignals(False)
                self.viewport().update()


def _bold(font: QFont) -> QFont:
    font = QFont(font)
    font.setBold(True)
    return font


def _cells(path: Path, site: str | None, recording: object) -> tuple[str, ...]:
    start = wall_clock(recording, 0.0, step=1.0)[0] if start_of(recording) is not None else UNKNOWN
    return recording_cells(
        path.name,
        site,
        date_text(recording),
        start,
        float(getattr(recording, "duration_s", 0.0)),
        int(getattr(recording, "sample_rate", 0)),
        int(getattr(recording, "channels", 0)),
    )
