"""The window's one filter: sites, a date range and hours of the day, as a
:class:`~birdview.store.selection.Selection` (the command line's ``--site``, ``--from``, ``--to``,
``--hours``).

:class:`SelectionState` holds it for the whole window and says when it changes
(``selection_changed``); the recordings list, the Labels table, the review queue and the summary
by site and time all follow it. :class:`SelectionBar` edits it, above the recordings list. The
filtering itself is the data layer's (``Selection`` and :mod:`birdview.review.queue`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QCheckBox, QComboBox, QGridLayout, QLabel, QLineEdit, QPushButton, QWidget

from birdview.store.selection import Selection, SelectionError

ALL_SITES = "all sites"


class SelectionState(QObject):
    """The filter shared by the window's lists; ``selection_changed(Selection)``."""

    selection_changed = Signal(object)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.selection = Selection()

    def set_selection(self, selection: Selection) -> None:
        if selection != self.selection:
            self.selection = selection
            self.selection_changed.emit(selection)


class SelectionBar(QWidget):
    """Site (one, or several separated by commas), from and to dates, hours (``04-09``); Enter in a
    field or picking a site applies them; ✕ clears them. ``recordings()`` gives what the filter
    is checked against (to say why it matches nothing); the line under the fields says how many
    recordings and hours it keeps, or what is wrong with it."""

    groupingChanged = Signal(bool)  # True: site ▸ date groups

    def __init__(
        self,
        state: SelectionState,
        recordings: Callable[[], Iterable[object]],
        shown: Callable[[], tuple[int, float]] | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.state = state
        self._recordings = recordings
        self._shown = shown
        layout = QGridLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.setSpacing(2)
        self.site = QComboBox()
        self.site.setEditable(True)
        self.site.addItem(ALL_SITES)
        self.site.lineEdit().setPlaceholderText(ALL_SITES)
        self.site.setToolTip("Site: pick one, or type several separated by commas")
        self.site.setMinimumContentsLength(6)
        self.site.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.date_from = QLineEdit(placeholderText="from YYYY-MM-DD")
        self.date_from.setToolTip("First day (on the recorder's clock), e.g. 2024-05-01; Enter applies")
        self.date_to = QLineEdit(placeholderText="to YYYY-MM-DD")
        self.date_to.setToolTip("Last day, included; Enter applies")
        self.hours = QLineEdit(placeholderText="hours, e.g. 04-09")
        self.hours.setToolTip("Hours of the day, e.g. 04-09 or 05:30-07; 22-04 runs past midnight; Enter applies")
        self.grouped = QCheckBox("By site and date")
        self.grouped.setChecked(True)
        self.grouped.setToolTip("Group the recordings site ▸ date; untick for one flat list")
        self.clear_button = QPushButton("✕")
        self.clear_button.setToolTip("Clear the filter: every recording")
        self.clear_button.setMaximumWidth(28)
        self.summary = QLabel()
        self.summary.setWordWrap(True)
        layout.addWidget(self.site, 0, 0)
        layout.addWidget(self.hours, 0, 1)
        layout.addWidget(self.date_from, 1, 0)
        layout.addWidget(self.date_to, 1, 1)
        layout.addWidget(self.grouped, 2, 0)
        layout.addWidget(self.clear_button, 2, 1)
        layout.addWidget(self.summary, 3, 0, 1, 2)
        for field in (self.date_from, self.date_to, self.hours, self.site.lineEdit()):
            field.returnPressed.connect(self.apply)
        self.site.activated.connect(lambda _index: self.apply())
        self.clear_button.clicked.connect(self.clear)
        self.grouped.toggled.connect(self.groupingChanged)
        state.selection_changed.connect(self._show)

    def set_sites(self, names: Iterable[str]) -> None:
        """The sites offered in the list (the project's)."""
        text = self.site.currentText()
        self.site.blockSignals(True)
        self.site.clear()
        self.site.addItems([ALL_SITES, *sorted(set(names))])
        self.site.setEditText(text)
        self.site.blockSignals(False)

    def _site_text(self) -> str:
        text = self.site.currentText().strip()
        return "" if text == ALL_SITES else text

    def apply(self) -> bool:
        """Read the fields into the shared Selection; False (the message shown) when they cannot be read."""
        try:
            selection = Selection.parse(
                self._site_text() or None,
                self.date_from.text().strip() or None,
                self.date_to.text().strip() or None,
                self.hours.text().strip() or None,
            )
        except SelectionError as exc:
            self._say(str(exc), error=True)
            return False
        if selection == self.state.selection:
            self._show(selection)  # the same filter: say again what it keeps (the fields had an error)
        else:
            self.state.set_selection(selection)  # said through selection_changed
        return True

    def set_fields(self, sites: str = "", date_from: str = "", date_to: str = "", hours: str = "") -> bool:
        """Fill the fields and apply them (as typing them and pressing Enter does)."""
        self.site.setEditText(sites or ALL_SITES)
        self.date_from.setText(date_from)
        self.date_to.setText(date_to)
        self.hours.setText(hours)
        return self.apply()

    def clear(self) -> None:
        self.set_fields()

    def refresh(self) -> None:
        """Say again what the filter keeps (recordings came or went)."""
        self._show(self.state.selection)

    def _show(self, selection: Selection) -> None:
        recordings = list(self._recordings())
        try:
            selection.check(recordings)
        except SelectionError as exc:
            self._say(f"Nothing to show: {exc}", error=True)
            return
        if selection.everything:
            self._say("")
            return
        text = selection.describe()
        if self._shown is not None:
            count, hours = self._shown()
            text = f"{count:,} of {len(recordings):,} recordings ({hours:,.1f} h): {text}"
        self._say(text)

    def _say(self, text: str, error: bool = False) -> None:
        self.summary.setText(text)
        self.summary.setStyleSheet("color: #d03030;" if error else "")
        self.summary.setVisible(bool(text))
