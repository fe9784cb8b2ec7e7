"""The window's keyboard: which action holds which key, keys that reach the spectrogram from
anywhere, a key per dock, and Help ▸ Keyboard shortcuts.

Rules (README, "Using the viewer"):

- Every key is a shortcut of a menu action in window context, so it works wherever the focus is
  (spectrogram, tables, buttons, drop-down lists of the docks) except in a text field (the
  Species field, filters, number boxes), where letters type. In a text field Enter applies what
  was typed and Esc leaves it; both give the keyboard back to the spectrogram. Esc elsewhere
  also goes back to the spectrogram, and in the spectrogram drops the selected box and label.
- A key belongs to one enabled action at a time: N and U act on a selected box or label, R, C
  and X on a selected label (the Labels menu); otherwise they are the review queue's verdicts
  (the Review menu), whose actions give those keys up meanwhile (``LabelingController.keysTaken``).
- Help ▸ Keyboard shortcuts is a table made from the menus' actions when it is opened, so it
  always says what the keys are.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING

from PySide6.QtCore import QEvent, QObject, Qt, QTimer
from PySide6.QtGui import QAction, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QAbstractItemView,
    QAbstractSpinBox,
    QApplication,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDockWidget,
    QHeaderView,
    QLabel,
    QLineEdit,
    QMainWindow,
    QMenu,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from birdview.gui.labels_panel import SpeciesField

if TYPE_CHECKING:
    from birdview.gui.labeling import LabelingController
    from birdview.gui.review_panel import ReviewController

#: The key that hides or shows each dock (by its object name); none of them is used elsewhere.
DOCK_KEYS = {"Recordings": "F5", "Labels": "F6", "Display": "F7", "Review": "F8", "Retrain": "F9"}
NATIVE = QKeySequence.SequenceFormat.NativeText
PORTABLE = QKeySequence.SequenceFormat.PortableText


def key_text(sequences: Sequence[QKeySequence]) -> str:
    """Keys as the menus show them: ``Y, C``."""
    return ", ".join(sequence.toString(NATIVE) for sequence in sequences)


def action_name(action: QAction) -> str:
    """An action's text without the keys shown after a tab and without '&' marks."""
    return action.text().split("\t")[0].replace("&", "")


def set_keys(action: QAction, keys: Sequence[str | QKeySequence], name: str | None = None) -> None:
    """Give an action these keys (window context) and show all of them in its menu entry: a menu
    shows only an action's first key by itself, so two keys are written after a tab in its text."""
    sequences = [QKeySequence(key) for key in keys]
    name = action_name(action) if name is None else name
    action.setShortcuts(sequences)
    action.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
    action.setText(f"{name}\t{key_text(sequences)}" if len(sequences) > 1 else name)


def portable(key: str | QKeySequence) -> str:
    """A key as text that compares equal whatever way it was written ('ctrl+r', 'Ctrl+R')."""
    return QKeySequence(key).toString(PORTABLE)


def menu_titled(window: QMainWindow, title: str) -> QMenu:
    """The menu bar's menu of that title ('&View' finds 'View'), added at the end if there is none."""
    for action in window.menuBar().actions():
        if action.menu() is not None and action.text().replace("&", "") == title.replace("&", ""):
            return action.menu()
    return window.menuBar().addMenu(title)


def menu_actions(window: QMainWindow) -> Iterator[tuple[str, QAction]]:
    """(menu path such as 'Review' or 'File ▸ Recent projects', action) for every menu entry."""

    def walk(menu: QMenu, path: str) -> Iterator[tuple[str, QAction]]:
        for action in menu.actions():
            if action.menu() is not None:
                yield from walk(action.menu(), f"{path} ▸ {action_name(action)}")
            elif not action.isSeparator():
                yield path, action

    for top in window.menuBar().actions():
        if top.menu() is not None:
            yield from walk(top.menu(), action_name(top))


def shortcut_rows(window: QMainWindow) -> list[tuple[str, str, str]]:
    """(keys, what, menu) for every shortcut of the window: its menus' actions first, in menu
    order, then actions and QShortcuts that are in no menu (there should be none)."""
    rows: list[tuple[str, str, str]] = []
    listed: set[int] = set()
    for path, action in menu_actions(window):
        listed.add(id(action))
        if action.shortcuts():
            rows.append((key_text(action.shortcuts()), action_name(action), path))
    for action in window.findChildren(QAction):
        if id(action) not in listed and action.shortcuts():
            rows.append((key_text(action.shortcuts()), action_name(action) or action.objectName(), "(no menu)"))
    for shortcut in window.findChildren(QShortcut):
        rows.append((shortcut.key().toString(NATIVE), shortcut.whatsThis() or shortcut.objectName(), "(no menu)"))
    return rows


class ShortcutsDialog(QDialog):
    """Help ▸ Keyboard shortcuts: every shortcut of the window, read from its actions on opening."""

    NOTE = (
        "N and U act on the selected box or label, R, C and X on the selected label; with none "
        "selected they are verdicts on the review candidate.\n"
        "In a text field letters type: Enter applies what you typed (in the Species field: sets the "
        "species) and Esc leaves the field (the Species field goes back to what it held); both return "
        "the keyboard to the spectrogram."
    )

    def __init__(self, window: QMainWindow) -> None:
        super().__init__(window)
        self.setObjectName("shortcuts_dialog")
        self.setWindowTitle("Keyboard shortcuts")
        self.resize(560, 640)
        self._window = window
        layout = QVBoxLayout(self)
        self.table = QTableWidget(0, 3)
        self.table.setHorizontalHeaderLabels(["Keys", "Action", "Menu"])
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.verticalHeader().hide()
        self.table.verticalHeader().setDefaultSectionSize(self.fontMetrics().height() + 6)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.table.horizontalHeader().setStretchLastSection(True)
        layout.addWidget(self.table)
        note = QLabel(self.NOTE)
        note.setWordWrap(True)
        layout.addWidget(note)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.close)
        layout.addWidget(buttons)
        self.refresh()

    def refresh(self) -> None:
        rows = shortcut_rows(self._window)
        self.table.setRowCount(len(rows))
        for row, values in enumerate(rows):
            for column, value in enumerate(values):
                self.table.setItem(row, column, QTableWidgetItem(value))

    def rows(self) -> list[tuple[str, str, str]]:
        """What the table shows, row by row."""
        return [
            tuple(self.table.item(row, column).text() for column in range(3)) for row in range(self.table.rowCount())
        ]


class WindowKeys(QObject):
    """The keys of the main window that belong to no single panel (see the module's rules)."""

    def __init__(
        self, window: QMainWindow, view: QWidget, labeling: LabelingController, review: ReviewController
    ) -> None:
        super().__init__(window)
        self.window, self.view, self.labeling = window, view, labeling
        self.dialog: ShortcutsDialog | None = None
        view_menu = menu_titled(window, "&View")
        view_menu.addSeparator()
        self.back_action = self._add(view_menu, "Back to the spectrogram", "Esc", self.back_to_spectrogram)
        view_menu.addSeparator()
        self.dock_actions: dict[str, QAction] = {}
        self._unseen_when_closed: dict[QDockWidget, bool] = {}
        for name, key in DOCK_KEYS.items():
            dock = window.findChild(QDockWidget, name)
            if dock is None:
                continue
            action = dock.toggleViewAction()  # checkable: ticked while the dock is open
            set_keys(action, [key])
            view_menu.addAction(action)
            window.addAction(action)
            action.triggered.connect(lambda shown, dock=dock: self._dock_toggled(dock, shown))
            dock.installEventFilter(self)
            self.dock_actions[name] = action
        help_menu = menu_titled(window, "&Help")
        self.help_action = self._add(
            help_menu, "Keyboard shortcuts", QKeySequence.StandardKey.HelpContents, self.show_shortcuts
        )
        labeling.keysTaken.connect(review.set_taken_keys)
        review.set_taken_keys(labeling.taken_keys)
        # A new candidate on screen: the keys are verdicts on it, not edits of an earlier selection.
        review.candidateShown.connect(lambda _candidate: labeling.clear_target())
        review.actions["start"].triggered.connect(self.focus_spectrogram)
        QApplication.instance().focusChanged.connect(self._on_focus_changed)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.Close and isinstance(watched, QDockWidget):
            # Open but behind another dock's tab: its key should bring it forward, not close it.
            self._unseen_when_closed[watched] = watched.visibleRegion().isEmpty()
        return False

    def _dock_toggled(self, dock: QDockWidget, shown: bool) -> None:
        """A dock's key: shows it in front of the docks it shares tabs with, or hides it (the
        keyboard then goes back to the spectrogram if it was in there)."""
        if not shown and self._unseen_when_closed.pop(dock, False):
            dock.show()
            shown = True
        if shown:
            dock.raise_()

    def _add(self, menu: QMenu, text: str, key, slot) -> QAction:
        action = QAction(text, self.window)
        set_keys(action, [key])
        action.triggered.connect(slot)
        menu.addAction(action)
        self.window.addAction(action)
        return action

    def focus_spectrogram(self) -> None:
        self.view.setFocus(Qt.FocusReason.ShortcutFocusReason)

    def back_to_spectrogram(self) -> None:
        """Esc: back to the spectrogram; there, drop the selected box and label."""
        if self.view.hasFocus():
            self.labeling.clear_target()
        else:
            self.focus_spectrogram()

    def show_shortcuts(self) -> ShortcutsDialog:
        if self.dialog is None:
            self.dialog = ShortcutsDialog(self.window)
        self.dialog.refresh()
        self.dialog.show()
        self.dialog.raise_()
        return self.dialog

    # -- text fields and hidden docks -------------------------------------------------------------

    def _in_window(self, widget: QWidget) -> bool:
        """In the main window or one of its docks (floating too), not in a dialog or popup."""
        while widget is not None:
            if widget is self.window:
                return True
            if widget.isWindow() and not isinstance(widget, QDockWidget):
                return False
            widget = widget.parentWidget()
        return False

    def _on_focus_changed(self, old: QWidget | None, new: QWidget | None) -> None:
        if new is not None and self._in_window(new):
            self._enter_returns(new)
        try:
            lost = old is not None and not old.isVisible() and self._in_window(old)
        except RuntimeError:  # the widget that had the focus is gone
            lost = False
        if lost:  # its dock was hidden: the keyboard goes back to the spectrogram, not to the next field
            QTimer.singleShot(0, self, self.focus_spectrogram)

    def _enter_returns(self, widget: QWidget) -> None:
        """Enter in a text field of the window (after the field has applied it) gives the keyboard
        back to the spectrogram. Not in a table's cell editor (Enter ends the edit there) nor in the
        Species field (it decides itself, see LabelingController)."""
        if isinstance(widget, QLineEdit):
            edit = widget
        elif isinstance(widget, QAbstractSpinBox) or (isinstance(widget, QComboBox) and widget.isEditable()):
            edit = widget.lineEdit()
        else:
            return
        if edit is None or isinstance(edit, SpeciesField) or edit.property("birdview_enter_returns"):
            return
        parent = edit.parentWidget()
        while parent is not None:
            if isinstance(parent, QAbstractItemView):
                return
            parent = parent.parentWidget()
        edit.setProperty("birdview_enter_returns", True)
        edit.returnPressed.connect(self.focus_spectrogram)
