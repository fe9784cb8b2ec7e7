"""The recordings list as a Qt item model: one row per recording, grouped site ▸ date (each group
with its number of recordings and hours recorded) or flat, narrowed by a
:class:`~birdview.store.selection.Selection`.

A model, not a widget per row: a project of 10,000 recordings is listed in a few tens of
milliseconds and the view draws only the rows on screen. Rows are kept by path in the order they
were given; the groups are rebuilt (one model reset, coalesced) when recordings are added or the
filter or grouping changes, and a recording's cells are updated in place when it has been read.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from PySide6.QtCore import QAbstractItemModel, QModelIndex, QObject, QPersistentModelIndex, Qt, QTimer
from PySide6.QtGui import QBrush, QColor, QFont

from birdview.audio.filenames import parse_start_time, site_prefix
from birdview.review.queue import in_hours
from birdview.spectrogram.clock import UNKNOWN
from birdview.spectrogram.ticks import format_time
from birdview.store.selection import Selection

COLUMNS = ("File", "Site", "Date", "Start", "Duration", "Sample rate", "Channels", "Status")
FILE, SITE, DATE, START, DURATION, STATUS = (
    COLUMNS.index(c) for c in ("File", "Site", "Date", "Start", "Duration", "Status")
)
NO_SITE, NO_DATE = "(no site)", "(no start time)"
PATH_ROLE = Qt.ItemDataRole.UserRole
_TOP = QModelIndex()
_ROLES = frozenset(
    int(role)
    for role in (
        Qt.ItemDataRole.DisplayRole,
        Qt.ItemDataRole.ToolTipRole,
        Qt.ItemDataRole.FontRole,
        Qt.ItemDataRole.ForegroundRole,
        Qt.ItemDataRole.UserRole,
    )
)
_ERROR, _WARNING = QBrush(QColor("#d03030")), QBrush(QColor("#c08000"))


@dataclass
class Entry:
    """One recording as listed; ``site``, ``start_time`` and ``duration_s`` are what a Selection reads."""

    path: Path
    site: str | None
    start_time: datetime | None
    duration_s: float = 0.0
    #: The cells' text, File to Channels, or a callable making them when first shown.
    cells: tuple[str, ...] | Callable[[], tuple[str, ...]] = ()
    status: str = "checking…"
    state: str = "pending"  # 'pending', 'ok' or 'failed'
    warning: bool = False
    _date: tuple = (None, NO_DATE)

    @property
    def date(self) -> str:
        if self._date[0] is not self.start_time:  # worked out once per start time
            text = f"{self.start_time:%Y-%m-%d}" if self.start_time is not None else NO_DATE
            self._date = (self.start_time, text)
        return self._date[1]

    def text(self, column: int) -> str:
        if column == STATUS:
            return self.status
        if callable(self.cells):
            self.cells = self.cells()
        if self.cells:
            return self.cells[column]
        if column == FILE:
            return self.path.name
        if column == SITE and self.site:
            return self.site
        return ""


@dataclass(eq=False)
class Node:
    """A row of the tree: a site or date group (``children``) or a recording (``path``)."""

    kind: str  # 'root', 'site', 'date' or 'recording'
    key: tuple
    parent: Node | None = None
    row: int = 0
    children: list[Node] = field(default_factory=list)
    path: Path | None = None
    count: int = 0
    failed: int = 0
    hours: float = 0.0
    ident: int = 0  # the index's internal id: its place in the model's node list


def hours_text(hours: float) -> str:
    return f"{hours:.1f} h" if hours < 100 else f"{hours:,.0f} h"


class RecordingsModel(QAbstractItemModel):
    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._entries: dict[Path, Entry] = {}
        self.selection = Selection()
        self.grouped = True
        self._root = Node("root", ())
        self._nodes: list[Node] = []  # by internal id
        self._leaf: dict[Path, Node] = {}
        self._dirty = False
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(0)
        self._timer.timeout.connect(self.flush)
        self._spans: dict[int, tuple[Node, int, int]] = {}  # changed rows by parent, not yet said
        self._changes = QTimer(self)
        self._changes.setSingleShot(True)
        self._changes.setInterval(30)
        self._changes.timeout.connect(self._emit_changes)

    # -- entries ------------------------------------------------------------------------------

    def paths(self) -> list[Path]:
        return list(self._entries)

    def entry(self, path: Path) -> Entry | None:
        return self._entries.get(path)

    def entries(self) -> Iterable[Entry]:
        return self._entries.values()

    def add(
        self,
        path: Path,
        site: str | None,
        start_time: datetime | None = None,
        duration_s: float = 0.0,
        cells: tuple[str, ...] | Callable[[], tuple[str, ...]] = (),
    ) -> Entry:
        """List a file (once; later calls return its entry)."""
        entry = self._entries.get(path)
        if entry is None:
            start = start_time if start_time is not None else parse_start_time(path)
            entry = self._entries[path] = Entry(path, site or site_prefix(path), start, duration_s, cells)
            self._restructure()
        return entry

    def update(self, path: Path, **changes: object) -> None:
        """Change a listed recording's facts; its cells are redrawn, or the groups rebuilt when
        its site or date changed."""
        entry = self._entries[path]
        before = (entry.site, entry.date, entry.state, entry.duration_s)
        for name, value in changes.items():
            setattr(entry, name, value)
        if (entry.site, entry.date) != before[:2]:
            self._restructure()
            return
        node = self._leaf.get(path)
        if self._dirty:
            return
        if (node is not None) != self._keeps(entry):  # its duration now reaches into the hours, or not
            self._restructure()
        elif node is not None:
            if (entry.state, entry.duration_s) != before[2:]:
                self._recount(node.parent)
            self._changed(node)

    # -- filter and grouping ------------------------------------------------------------------

    def set_selection(self, selection: Selection) -> None:
        if selection != self.selection:
            self.selection = selection
            self._restructure(now=True)

    def set_grouped(self, grouped: bool) -> None:
        if grouped != self.grouped:
            self.grouped = grouped
            self._restructure(now=True)

    def _keeps(self, entry: Entry) -> bool:
        if self.selection.everything:
            return True
        return bool(self.selection.recordings([entry])) and in_hours(self.selection, entry)

    def _restructure(self, now: bool = False) -> None:
        self._dirty = True
        if now:
            self.flush()
        elif not self._timer.isActive():
            self._timer.start()

    def flush(self) -> None:
        """Rebuild the groups now if something asked for it (before reading indexes)."""
        if not self._dirty:
            return
        self._timer.stop()
        self.beginResetModel()
        self._spans = {}
        self._build()
        self._dirty = False
        self.endResetModel()

    def _build(self) -> None:
        root = Node("root", ())
        nodes: list[Node] = [root]
        leaves: dict[Path, Node] = {}

        def child(parent: Node, node: Node) -> Node:
            node.parent, node.row, node.ident = parent, len(parent.children), len(nodes)
            parent.children.append(node)
            nodes.append(node)
            return node

        kept = [entry for entry in self._entries.values() if self._keeps(entry)]
        if self.grouped:
            groups: dict[str | None, dict[str, list[Entry]]] = {}
            for entry in kept:
                groups.setdefault(entry.site, {}).setdefault(entry.date, []).append(entry)
            for site in sorted(groups, key=lambda s: (s is None, s or "")):
                site_node = child(root, Node("site", (site,)))
                for date in sorted(groups[site], key=lambda d: (d == NO_DATE, d)):
                    date_node = child(site_node, Node("date", (site, date)))
                    for entry in groups[site][date]:
                        leaves[entry.path] = child(date_node, Node("recording", (entry.path,), path=entry.path))
                    self._count(date_node)
                self._count(site_node)
        else:
            for entry in kept:
                leaves[entry.path] = child(root, Node("recording", (entry.path,), path=entry.path))
        self._count(root)
        self._root, self._nodes, self._leaf = root, nodes, leaves

    def _count(self, node: Node) -> None:
        if node.kind == "date" or (node.kind == "root" and not self.grouped):
            entries = [self._entries[c.path] for c in node.children]
            node.count = len(entries)
            node.failed = sum(e.state == "failed" for e in entries)
            node.hours = sum(e.duration_s for e in entries) / 3600.0
        else:
            node.count = sum(c.count for c in node.children)
            node.failed = sum(c.failed for c in node.children)
            node.hours = sum(c.hours for c in node.children)

    def _recount(self, node: Node | None) -> None:
        while node is not None:
            self._count(node)
            if node.kind != "root":
                self._changed(node)
            node = node.parent

    def _changed(self, node: Node) -> None:
        """The node's cells changed: said to the view once per event-loop turn, one span of rows
        per group (thousands of files checked one after another cost a few repaints)."""
        span = self._spans.get(node.parent.ident if node.parent is not None else -1)
        rows = (node.row, node.row) if span is None else (min(span[1], node.row), max(span[2], node.row))
        self._spans[node.parent.ident if node.parent is not None else -1] = (node.parent, *rows)
        if not self._changes.isActive():
            self._changes.start()

    def _emit_changes(self) -> None:
        spans, self._spans = self._spans, {}
        for parent, first, last in spans.values():
            if parent is not self._nodes_parent(parent):
                continue  # rebuilt meanwhile: the reset said it all
            children = parent.children
            if last >= len(children):
                continue
            self.dataChanged.emit(
                self.createIndex(first, 0, children[first].ident),
                self.createIndex(last, len(COLUMNS) - 1, children[last].ident),
            )

    def _nodes_parent(self, parent: Node) -> Node | None:
        return self._nodes[parent.ident] if parent.ident < len(self._nodes) else None

    # -- what the view and the tests read -----------------------------------------------------

    @property
    def shown(self) -> int:
        """Recordings the filter keeps."""
        self.flush()
        return self._root.count

    @property
    def shown_hours(self) -> float:
        self.flush()
        return self._root.hours

    def shown_paths(self) -> list[Path]:
        """The recordings the filter keeps, in the order listed."""
        self.flush()
        return list(self._leaf)

    def groups(self) -> dict[str, dict[str, tuple[int, float]]]:
        """{site: {date: (recordings, hours recorded)}} as the tree groups them."""
        self.flush()
        return {
            _site_text(s.key[0]): {d.key[1]: (d.count, round(d.hours, 6)) for d in s.children}
            for s in self._root.children
            if s.kind == "site"
        }

    def index_of(self, path: Path) -> QModelIndex:
        self.flush()
        node = self._leaf.get(path)
        return QModelIndex() if node is None else self.createIndex(node.row, 0, self._id(node))

    def group_index(self, site: str | None, date: str | None = None) -> QModelIndex:
        self.flush()
        for node in self._root.children:
            if node.kind == "site" and node.key[0] == site:
                if date is None:
                    return self.createIndex(node.row, 0, self._id(node))
                for day in node.children:
                    if day.key[1] == date:
                        return self.createIndex(day.row, 0, self._id(day))
        return QModelIndex()

    def node(self, index: QModelIndex | QPersistentModelIndex) -> Node:
        return self._nodes[index.internalId()] if index.isValid() else self._root

    def path_at(self, index: QModelIndex | QPersistentModelIndex) -> Path | None:
        return self.node(index).path if index.isValid() else None

    def group_nodes(self) -> list[Node]:
        return [node for node in self._nodes if node.kind in ("site", "date")]

    @staticmethod
    def _id(node: Node) -> int:
        return node.ident

    # -- QAbstractItemModel -------------------------------------------------------------------

    def index(self, row: int, column: int, parent: QModelIndex | QPersistentModelIndex = _TOP) -> QModelIndex:
        node = self.node(parent)
        if not (0 <= row < len(node.children) and 0 <= column < len(COLUMNS)):
            return QModelIndex()
        return self.createIndex(row, column, self._id(node.children[row]))

    def parent(self, index: QModelIndex | QPersistentModelIndex = _TOP) -> QModelIndex:  # type: ignore[override]
        if not index.isValid():
            return QModelIndex()
        up = self._nodes[index.internalId()].parent
        if up is None or up.kind == "root":
            return QModelIndex()
        return self.createIndex(up.row, 0, self._id(up))

    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = _TOP) -> int:
        if parent.isValid() and parent.column() != 0:
            return 0
        return len(self.node(parent).children)

    def columnCount(self, parent: QModelIndex | QPersistentModelIndex = _TOP) -> int:
        return len(COLUMNS)

    def hasChildren(self, parent: QModelIndex | QPersistentModelIndex = _TOP) -> bool:
        return self.rowCount(parent) > 0

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole):
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return COLUMNS[section]
        return None

    def flags(self, index: QModelIndex | QPersistentModelIndex) -> Qt.ItemFlag:
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        return Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable

    def data(self, index: QModelIndex | QPersistentModelIndex, role: int = Qt.ItemDataRole.DisplayRole):
        if role not in _ROLES or not index.isValid():  # most roles a view asks for: nothing, at once
            return None
        node, column = self._nodes[index.internalId()], index.column()
        if node.kind == "recording":
            return self._recording_data(self._entries[node.path], column, role)
        if role == Qt.ItemDataRole.DisplayRole:
            return self._group_text(node, column)
        if role == Qt.ItemDataRole.ToolTipRole:
            return self._group_tooltip(node)
        if role == Qt.ItemDataRole.FontRole and column == FILE and node.kind == "site":
            font = QFont()
            font.setBold(True)
            return font
        if role == Qt.ItemDataRole.ForegroundRole and column == STATUS and node.failed:
            return _ERROR
        return None

    def _recording_data(self, entry: Entry, column: int, role: int):
        if role == Qt.ItemDataRole.DisplayRole:
            return entry.text(column)
        if role == PATH_ROLE:
            return str(entry.path)
        if role == Qt.ItemDataRole.ToolTipRole:
            if column == START and entry.state == "ok" and entry.start_time is None:
                return f"{entry.path}\nNo start time in the file name: times count from its start"
            return f"{entry.path}\n{entry.status}"
        if role == Qt.ItemDataRole.ForegroundRole:
            if entry.state == "failed":
                return _ERROR
            if entry.warning:
                return _WARNING
        return None

    def _group_text(self, node: Node, column: int) -> str:
        if column == FILE:
            name = _site_text(node.key[0]) if node.kind == "site" else node.key[1]
            return f"{name} ({node.count})"
        if column == DURATION:
            return hours_text(node.hours)
        if column == STATUS:
            text = f"{node.count} recording{'' if node.count == 1 else 's'}"
            return text + (f", {node.failed} ✖" if node.failed else "")
        return ""

    def _group_tooltip(self, node: Node) -> str:
        name = _site_text(node.key[0]) if node.kind == "site" else f"{_site_text(node.key[0])}, {node.key[1]}"
        text = f"{name} ({node.count}): {node.count} recording(s), {hours_text(node.hours)} recorded"
        if node.failed:
            text += f"; {node.failed} cannot be read"
        return text


def _site_text(site: str | None) -> str:
    return site if site else NO_SITE


def recording_cells(name: str, site: str | None, date: str, start: str, duration_s: float, rate: int, channels: int):
    """The cells of a readable recording, but its status (File to Channels)."""
    return (
        name,
        site or UNKNOWN,
        date,
        start,
        format_time(duration_s),
        f"{rate / 1000:g} kHz",
        str(channels),
        "",
    )
