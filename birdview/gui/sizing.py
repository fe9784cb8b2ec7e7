"""Sizing shared by the panels: table columns fitted to their content (never narrower than their
header, never wider than a cap) with any text that does not fit elided and shown whole in its
tooltip; and dock contents that scroll rather than force their dock wider than it is."""

from __future__ import annotations

from PySide6.QtCore import QEvent, QModelIndex, QPersistentModelIndex, Qt
from PySide6.QtGui import QFontMetrics, QHelpEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QAbstractScrollArea,
    QFrame,
    QHeaderView,
    QScrollArea,
    QStyle,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QTableView,
    QToolTip,
    QWidget,
)

#: The widest a column grows to fit its content; longer text is elided (and in the tooltip).
MAX_COLUMN_WIDTH = 240


def fit_columns(table: QTableView, max_width: int = MAX_COLUMN_WIDTH) -> None:
    """Columns follow their content as rows come and go, each at least as wide as its header and
    at most ``max_width`` (or its header); text cut short ends in "…" and has its whole in the
    tooltip. Call once, after the header labels are set."""
    header = table.horizontalHeader()
    widest_header = max((header.sectionSizeHint(column) for column in range(header.count())), default=0)
    header.setMaximumSectionSize(max(max_width, widest_header))
    header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
    table.setTextElideMode(Qt.TextElideMode.ElideRight)
    table.setHorizontalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
    table.setItemDelegate(ElidedTextTooltips(table))


def header_text_width(table: QTableView, column: int) -> int:
    """The width the header's text needs (without margins)."""
    text = str(table.model().headerData(column, Qt.Orientation.Horizontal) or "")
    return table.horizontalHeader().fontMetrics().horizontalAdvance(text)


def is_elided(table: QTableView, index: QModelIndex) -> bool:
    """Whether the cell's text is wider than the cell shows (so it is drawn cut short)."""
    text = str(index.data(Qt.ItemDataRole.DisplayRole) or "")
    if not text:
        return False
    font = index.data(Qt.ItemDataRole.FontRole) or table.font()
    margin = table.style().pixelMetric(QStyle.PixelMetric.PM_FocusFrameHMargin, None, table) + 1
    available = table.visualRect(index).width() - 2 * margin
    return max(QFontMetrics(font).horizontalAdvance(line) for line in text.splitlines()) > available


def cell_tooltip(table: QTableView, index: QModelIndex) -> str:
    """The tooltip a cell shows: its own, with the whole text first where the cell elides it."""
    own = str(index.data(Qt.ItemDataRole.ToolTipRole) or "")
    if not is_elided(table, index):
        return own
    text = str(index.data(Qt.ItemDataRole.DisplayRole))
    return own if text in own else (f"{text}\n{own}" if own else text)


class ElidedTextTooltips(QStyledItemDelegate):
    """Draws cells as usual; a cell whose text is cut short shows it whole in its tooltip."""

    def helpEvent(
        self,
        event: QHelpEvent,
        view: QAbstractItemView,
        option: QStyleOptionViewItem,
        index: QModelIndex | QPersistentModelIndex,
    ) -> bool:
        if event is not None and event.type() == QEvent.Type.ToolTip and isinstance(view, QTableView):
            if not isinstance(index, QModelIndex):
                index = view.model().index(index.row(), index.column())
            text = cell_tooltip(view, index)
            if text:
                QToolTip.showText(event.globalPos(), text, view)
            else:
                QToolTip.hideText()
            return True
        return super().helpEvent(event, view, option, index)


def scrolling(widget: QWidget) -> QWidget:
    """``widget`` in a frameless scroll area that fills the space it is given, so a dock can be
    narrower or shorter than the widget's minimum (it scrolls then); scroll areas (tables) as they are."""
    if isinstance(widget, QAbstractScrollArea):
        return widget
    area = QScrollArea()
    area.setObjectName(f"{widget.objectName() or type(widget).__name__}Scroll")
    area.setFrameShape(QFrame.Shape.NoFrame)
    area.setWidgetResizable(True)
    area.setWidget(widget)
    return area
