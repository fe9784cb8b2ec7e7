"""Reviewing by keyboard alone, with real key events sent where the keyboard is (the focused
widget, as a hand on a keyboard would): Ctrl+R and one verdict key per candidate, keys that act
wherever the focus is but a text field, Enter and Esc in the Species field, a key per dock, and
every key shown in its menu and in Help ▸ Keyboard shortcuts. The project on disk is the judge."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QDockWidget, QWidget

from birdview.gui.main_window import MainWindow
from birdview.gui.review_panel import VERDICT_COLUMN
from birdview.gui.shortcuts import DOCK_KEYS, menu_actions
from birdview.review.queue import Candidate, verdicts_of
from birdview.store.project import Project
from tests.conftest import open_project_window, write_tone_file
from tests.synthetic_birds import SPECIES

WINDOWS = 16  # 80 s in 5 s windows
CANDIDATES = WINDOWS * len(SPECIES)
CTRL = Qt.KeyboardModifier.ControlModifier
VERDICT_OF_KEY = {Qt.Key.Key_Y: "confirm", Qt.Key.Key_N: "reject", Qt.Key.Key_U: "uncertain"}
NATIVE = QKeySequence.SequenceFormat.NativeText


@pytest.fixture
def window(qtbot, tmp_path: Path, fake_streams, checkpoint: Path):
    def write(folder: Path) -> None:
        write_tone_file(folder / "A_20240521_053000.wav", duration_s=80.0)

    win = open_project_window(qtbot, tmp_path, fake_streams, checkpoint, write)
    row = win.project.recordings()[0]
    # Every window scores every species between 0.99 and 0.55, each a different score: 64
    # candidates above the review's default 0.5, in a known order.
    scores = np.linspace(0.99, 0.55, CANDIDATES, dtype=np.float32).reshape(WINDOWS, len(SPECIES))
    win.project.store_predictions(1, row.id, scores)
    win.project.add_species([("hen", "Hen", "Gallus gallus")])
    win.labeling.species_field.set_species(win.project.species_table())
    win.activateWindow()
    qtbot.waitUntil(win.isActiveWindow)
    yield win
    win.shutdown()


def press(key: Qt.Key, modifier: Qt.KeyboardModifier = Qt.KeyboardModifier.NoModifier) -> QWidget:
    """One key, to whatever has the keyboard; returns that widget."""
    widget = QApplication.focusWidget()
    assert widget is not None, "nothing has the keyboard"
    QTest.keyClick(widget, key, modifier)
    return widget


def stored_verdicts(window: MainWindow, candidates: list[Candidate]) -> list[str | None]:
    with Project.open(window.project.folder) as fresh:  # a second connection: what is on disk
        return verdicts_of(fresh, candidates)


def reviewed(window: MainWindow) -> int:
    with Project.open(window.project.folder) as fresh:
        return len({(a.recording_id, a.start_s, a.reviewed_species) for a in fresh.annotations(source="model_review")})


def test_fifty_candidates_take_one_ctrl_r_and_fifty_verdict_keys(window: MainWindow, qtbot) -> None:
    field = window.labeling.species_field
    field.setFocus()  # the keyboard is in a text field, as after typing a species
    qtbot.waitUntil(field.hasFocus)
    sent: list[tuple[Qt.Key, QWidget]] = []
    sent.append((Qt.Key.Key_R, press(Qt.Key.Key_R, CTRL)))
    review = window.review
    assert review.panel.counter.text() == f"0 of {CANDIDATES} reviewed"
    assert window.view.hasFocus()  # Ctrl+R gave the keyboard to the spectrogram
    queue = list(review.queue)
    assert len(queue) == CANDIDATES and review.current == queue[0]

    keys = [Qt.Key.Key_Y, Qt.Key.Key_N, Qt.Key.Key_U] * 16 + [Qt.Key.Key_Y, Qt.Key.Key_N]
    for number, key in enumerate(keys):
        assert review.current == queue[number]  # each key judged the one shown and showed the next
        sent.append((key, press(key)))
    assert len(sent) == 1 + 50  # and nothing else: no click, no focus change, no other key
    assert all(widget is window.view for _, widget in sent[1:])

    assert stored_verdicts(window, queue[:50]) == [VERDICT_OF_KEY[key] for key in keys]
    assert stored_verdicts(window, queue[50:]) == [None] * (CANDIDATES - 50)
    assert Counter(stored_verdicts(window, queue[:50])) == {"confirm": 17, "reject": 17, "uncertain": 16}
    assert reviewed(window) == 50
    assert review.panel.counter.text() == f"50 of {CANDIDATES} reviewed"
    verdicts = [review.panel.table.item(row, VERDICT_COLUMN).text() for row in (49, 50)]
    assert verdicts == ["reject", ""]
    assert review.current == queue[50]


def test_species_field_types_letters_enter_sets_the_species_esc_cancels(window: MainWindow, qtbot) -> None:
    review, field = window.review, window.labeling.species_field
    review.start()
    queue = list(review.queue)
    QTest.mouseClick(field, Qt.MouseButton.LeftButton)  # the user clicks into the field
    qtbot.waitUntil(field.hasFocus)
    QTest.keyClicks(field, "hen")  # N is the reject key: here it is a letter of the name
    assert field.text() == "hen" and reviewed(window) == 0 and review.current == queue[0]

    press(Qt.Key.Key_Return)
    assert window.view.hasFocus() and field.text() == "hen"
    assert reviewed(window) == 0  # Enter sets the species; it is no verdict
    assert press(Qt.Key.Key_R) is window.view
    assert stored_verdicts(window, queue[:1]) == ["relabel"]
    with Project.open(window.project.folder) as fresh:
        made = {(a.species, a.kind, a.status) for a in fresh.annotations(source="model_review")}
    assert made == {(queue[0].species, "hard_negative", "rejected"), ("hen", "call", "confirmed")}
    assert field.text() == "hen" and review.current == queue[1]

    press(Qt.Key.Key_L, CTRL)  # Labels ▸ Type a species
    assert field.hasFocus() and field.selectedText() == "hen"
    QTest.keyClicks(field, "upsweep")
    assert field.text() == "upsweep"
    press(Qt.Key.Key_Escape)
    assert window.view.hasFocus() and field.text() == "hen"  # back to what it held: nothing applied
    assert reviewed(window) == 1
    press(Qt.Key.Key_R)
    assert stored_verdicts(window, queue[:2]) == ["relabel", "relabel"]
    with Project.open(window.project.folder) as fresh:
        relabelled = [a for a in fresh.annotations(source="model_review") if a.kind == "call"]
    assert [a.species for a in relabelled] == ["hen", "hen"]  # not "upsweep"

    press(Qt.Key.Key_L, CTRL)
    QTest.keyClicks(field, "Gallus gallus")  # a scientific name becomes the code
    press(Qt.Key.Key_Enter)
    assert window.view.hasFocus() and field.text() == "hen"
    press(Qt.Key.Key_L, CTRL)
    QTest.keyClicks(field, "wren")
    press(Qt.Key.Key_Return)
    assert field.hasFocus() and "Unknown species 'wren'" in window.statusBar().currentMessage()
    press(Qt.Key.Key_Escape)
    assert window.view.hasFocus() and field.text() == "hen" and reviewed(window) == 2


def test_verdict_keys_act_wherever_the_focus_is_but_in_a_text_field(window: MainWindow, qtbot) -> None:
    review = window.review
    review.start()
    queue = list(review.queue)
    panels = (
        ("Recordings", window.recordings_panel),
        ("Labels", window.labeling.panel.table),
        ("Review", review.panel.table),
        ("Review", review.panel.order),  # a drop-down list
        ("Review", review.panel.auto_play),  # a tick box
        ("Display", window.display_panel.colormap),
        ("Retrain", window.retrain.panel.versions),
        ("Retrain", window.retrain.panel.log),  # read-only text: not a field to type in
    )
    for number, (dock, widget) in enumerate(panels):
        window.findChild(QDockWidget, dock).raise_()
        widget.setFocus()
        qtbot.waitUntil(widget.hasFocus)
        assert press(Qt.Key.Key_Y) is widget
        assert stored_verdicts(window, queue[: number + 1]) == ["confirm"] * (number + 1), dock
    assert press(Qt.Key.Key_B) is widget and review.current == queue[len(panels) - 1]  # B and S too
    assert press(Qt.Key.Key_S) is widget and review.current == queue[len(panels)]

    # In a text field letters type; Esc, or Enter once it is applied, goes back to the spectrogram.
    done = reviewed(window)
    window.findChild(QDockWidget, "Review").raise_()
    review.panel.min_score.setFocus()
    qtbot.waitUntil(review.panel.min_score.hasFocus)
    press(Qt.Key.Key_Y)
    assert reviewed(window) == done
    press(Qt.Key.Key_Escape)
    assert window.view.hasFocus()
    labels_filter = window.labeling.panel.species_filter
    labels_filter.setFocus()
    qtbot.waitUntil(labels_filter.hasFocus)
    QTest.keyClicks(labels_filter, "nun")
    assert labels_filter.text() == "nun" and reviewed(window) == done
    press(Qt.Key.Key_Return)
    assert window.view.hasFocus() and labels_filter.text() == "nun"
    press(Qt.Key.Key_N)
    assert reviewed(window) == done + 1


def test_a_selected_label_takes_its_keys_from_the_review_and_the_menus_say_so(window: MainWindow, qtbot) -> None:
    review, labeling = window.review, window.labeling
    review.start()
    queue = list(review.queue)
    window.view.setFocus()
    press(Qt.Key.Key_Y)  # the first candidate confirmed: a label on screen
    (label,) = window.project.annotations(source="model_review")
    labeling.jump_to(label)  # the user clicks it in the Labels panel
    window.view.setFocus()
    assert shown_keys(review.actions["confirm"]) == "Y" and shown_keys(labeling.actions["confirm"]) == "C"
    assert shown_keys(review.actions["reject"]) == "" and labeling.actions["reject"].isEnabled()
    press(Qt.Key.Key_X)  # rejects the selected label, not the candidate on screen
    assert window.project.annotation(label.id).status == "rejected"
    assert stored_verdicts(window, queue[:2]) == ["confirm", None]
    press(Qt.Key.Key_Escape)  # in the spectrogram: drops the selection
    assert labeling.layer.selected_id is None and not labeling.actions["reject"].isEnabled()
    assert shown_keys(review.actions["reject"]) == "N, X" and shown_keys(review.actions["confirm"]) == "Y, C"
    press(Qt.Key.Key_X)
    assert stored_verdicts(window, queue[:2]) == ["confirm", "reject"]


def shown_keys(action: QAction) -> str:
    """The keys a menu shows beside an entry: after a tab in its text, else its first shortcut."""
    text = action.text()
    return text.split("\t", 1)[1] if "\t" in text else action.shortcut().toString(NATIVE)


def enabled_keys(window: MainWindow) -> list[str]:
    return [
        sequence.toString(NATIVE)
        for action in window.findChildren(QAction)
        if action.isEnabled()
        for sequence in action.shortcuts()
    ]


def test_every_key_is_in_its_menu_and_in_the_shortcuts_dialog(window: MainWindow, qtbot) -> None:
    review, labeling = window.review, window.labeling
    review.start()
    entries = list(menu_actions(window))
    in_menus = {id(action) for _, action in entries}
    with_keys = [action for action in window.findChildren(QAction) if action.shortcuts()]
    assert with_keys and all(id(action) in in_menus for action in with_keys)  # no hidden key
    for _, action in entries:  # every key an entry has is shown beside it
        assert shown_keys(action) == ", ".join(s.toString(NATIVE) for s in action.shortcuts())
    menus: dict[str, dict[str, str]] = {}
    for path, action in entries:
        menus.setdefault(path, {})[action.text().split("\t")[0]] = shown_keys(action)
    assert {name: keys for name, keys in menus["Review"].items() if keys} == {
        "Start reviewing": "Ctrl+R",
        "Confirm": "Y, C",
        "Reject (hard negative)": "N, X",
        "Uncertain": "U",
        "Relabel with the Species field": "R",
        "Next candidate": "S",
        "Previous candidate": "B",
    }
    assert menus["Labels"]["Type a species"] == "Ctrl+L" and menus["View"]["Back to the spectrogram"] == "Esc"

    # One key, one enabled action, with nothing selected, a box, or a label selected.
    for select in (lambda: None, lambda: window.view.set_selection(1.0, 2.0, 1000.0, 3000.0)):
        select()
        keys = enabled_keys(window)
        assert len(keys) == len(set(keys)), sorted(k for k in keys if keys.count(k) > 1)
    window.view.setFocus()
    press(Qt.Key.Key_Escape)
    press(Qt.Key.Key_Y)
    labeling.jump_to(window.project.annotations()[0])
    keys = enabled_keys(window)
    assert len(keys) == len(set(keys)) and labeling.actions["relabel"].isEnabled()

    window.view.setFocus()
    press(Qt.Key.Key_F1)  # Help ▸ Keyboard shortcuts
    dialog = window.findChild(QWidget, "shortcuts_dialog")
    assert dialog is not None and dialog.isVisible()
    rows = dialog.rows()
    expected = [
        (", ".join(s.toString(NATIVE) for s in action.shortcuts()), action.text().split("\t")[0].replace("&", ""), path)
        for path, action in menu_actions(window)
        if action.shortcuts()
    ]
    assert rows == expected
    assert {("Y", "Confirm", "Review"), ("C", "Confirm label", "Labels"), ("F1", "Keyboard shortcuts", "Help")} <= set(
        rows
    )
    assert ("Ctrl+R", "Start reviewing", "Review") in rows and ("Space", "Play / pause", "Playback") in rows


def test_a_key_hides_and_shows_each_dock(window: MainWindow, qtbot) -> None:
    view_menu = {action.text(): action for path, action in menu_actions(window) if path == "View"}
    inside = {
        "Recordings": window.recordings_panel,
        "Labels": window.labeling.panel.table,
        "Display": window.display_panel.colormap,
        "Review": window.review.panel.table,
        "Retrain": window.retrain.panel.versions,
    }
    assert set(inside) == set(DOCK_KEYS)
    for name, key in DOCK_KEYS.items():
        dock = window.findChild(QDockWidget, name)
        action = window.keys.dock_actions[name]
        assert action is dock.toggleViewAction() and view_menu[name] is action
        assert action.isCheckable() and action.shortcut().toString() == key
        window.view.setFocus()
        if dock.visibleRegion().isEmpty():  # behind another dock's tab: its key brings it forward
            press(getattr(Qt.Key, f"Key_{key}"))
        qtbot.waitUntil(lambda dock=dock: not dock.visibleRegion().isEmpty())
        assert action.isChecked()
        inside[name].setFocus()
        qtbot.waitUntil(inside[name].hasFocus)
        press(getattr(Qt.Key, f"Key_{key}"))
        assert not dock.isVisible() and not action.isChecked()
        qtbot.waitUntil(window.view.hasFocus)  # the keyboard did not stay in a hidden panel
        press(getattr(Qt.Key, f"Key_{key}"))
        qtbot.waitUntil(lambda dock=dock: not dock.visibleRegion().isEmpty())
        assert action.isChecked()
