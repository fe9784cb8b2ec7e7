"""Labelling in the window with real mouse and keyboard events; the database is the judge."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import QPointF, QSettings, Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QLineEdit

from birdview.gui.labels_panel import COLUMNS
from birdview.gui.main_window import MainWindow
from birdview.store.project import Annotation, Project
from tests.conftest import write_tone_file


@pytest.fixture
def window(qtbot, tmp_path: Path, fake_streams):
    settings = QSettings(str(tmp_path / "birdview.ini"), QSettings.Format.IniFormat)
    # These tests drag boxes at frequencies on a linear 0 Hz .. Nyquist axis, not the default mel 0-12 kHz.
    settings.setValue("spectrogram", '{"scale": "linear"}')
    settings.setValue("display", '{"freq_max_hz": null}')
    win = MainWindow(settings=settings, stream_factory=fake_streams)
    qtbot.addWidget(win)
    win.resize(1300, 800)
    win.show()
    yield win
    win.shutdown()


@pytest.fixture
def opened(window: MainWindow, tmp_path: Path) -> MainWindow:
    (tmp_path / "audio").mkdir()
    write_tone_file(tmp_path / "audio" / "SITE_20240521_053000.wav", duration_s=20.0)
    window.open_project(tmp_path / "project")
    window.open_paths([tmp_path / "audio"])
    assert window.wait_until_ready(30)
    assert window.project is not None and len(window.project.recordings()) == 1
    return window


def _pixel(view, seconds: float, hz: float):
    return view.mapFromScene(view.view_box.mapViewToScene(QPointF(seconds, hz)))


def _drag(qtbot, view, start, end, modifier=Qt.KeyboardModifier.NoModifier) -> None:
    viewport = view.viewport()
    a, b = _pixel(view, *start), _pixel(view, *end)
    QTest.mouseMove(viewport, a)  # the pointer goes there first, as a hand would
    qtbot.wait(10)
    QTest.mousePress(viewport, Qt.MouseButton.LeftButton, modifier, a)
    steps = 20
    for i in range(1, steps + 1):
        QTest.mouseMove(viewport, a + (b - a) * i / steps)
        qtbot.wait(12)  # pyqtgraph handles at most 100 mouse moves a second and drops the rest
    QTest.mouseRelease(viewport, Qt.MouseButton.LeftButton, modifier, b)
    qtbot.wait(20)


def _stored(window: MainWindow) -> list[Annotation]:
    with Project.open(window.project.folder) as fresh:  # a second connection: what is on disk
        return fresh.annotations()


def test_draw_move_and_delete_a_box(opened: MainWindow, qtbot) -> None:
    window = opened
    window.labeling.species_field.setText("asbfly")
    window.view.set_selection(4.0, 6.0, 2000.0, 6000.0)  # Shift+drag selecting is tested in test_viewer
    window.view.setFocus()
    QTest.keyClick(window, Qt.Key.Key_A)
    (label,) = _stored(window)
    assert (label.species, label.kind, label.source) == ("asbfly", "call", "user")
    assert (label.start_s, label.end_s) == pytest.approx((4.0, 6.0), abs=0.05)
    assert (label.low_hz, label.high_hz) == pytest.approx((2000.0, 6000.0), abs=100)
    assert window.labeling.layer.selected_id == label.id

    _drag(qtbot, window.view, (5.0, 4000.0), (8.0, 5000.0))  # drag the box by its middle
    (moved,) = _stored(window)
    assert (moved.start_s, moved.end_s) == pytest.approx((7.0, 9.0), abs=0.05)
    assert (moved.low_hz, moved.high_hz) == pytest.approx((3000.0, 7000.0), abs=100)

    QTest.keyClick(window, Qt.Key.Key_N)
    assert _stored(window)[0].kind == "hard_negative"
    QTest.keyClick(window, Qt.Key.Key_Delete)
    assert _stored(window) == []
    QTest.keyClick(window, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert [a.kind for a in _stored(window)] == ["hard_negative"]
    QTest.keyClick(window, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    QTest.keyClick(window, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert _stored(window)[0].start_s == pytest.approx(4.0, abs=0.05)
    QTest.keyClick(window, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)
    assert _stored(window)[0].start_s == pytest.approx(7.0, abs=0.05)


def test_unknown_species_is_refused_with_a_message(opened: MainWindow, qtbot) -> None:
    window = opened
    window.labeling.species_field.setText("notabird")
    window.view.set_selection(1.0, 2.0, 1000.0, 3000.0)
    window.labeling.add_from_selection("call")
    assert _stored(window) == []
    assert "unknown species 'notabird'" in window.statusBar().currentMessage()


def test_species_field_completes_by_any_name(opened: MainWindow) -> None:
    field = opened.labeling.species_field
    opened.project.add_species([("eurbla", "Eurasian Blackbird", "Turdus merula")])
    field.set_species(opened.project.species_table())
    completer = field.completer()
    completer.setCompletionPrefix("merula")
    assert completer.currentCompletion() == "eurbla — Eurasian Blackbird — Turdus merula"
    field._take_code(completer.currentCompletion())
    assert field.code() == "eurbla"


def test_labels_panel_filters_sorts_and_jumps(opened: MainWindow, qtbot) -> None:
    window = opened
    recording = window.project.recordings()[0]
    window.project.add_annotations(
        [
            Annotation(recording.id, 15.0, 16.0, species="asbfly", kind="hard_negative"),
            Annotation(recording.id, 2.0, 3.0, species="ashdro1", score=0.4),
            Annotation(recording.id, 9.0, 10.0, species="asbfly", status="confirmed", score=0.9),
        ]
    )
    window.labeling.refresh()
    panel = window.labeling.panel
    assert panel.row_count() == 3
    panel.kind_filter.setCurrentText("hard_negative")
    assert panel.row_count() == 1 and panel.annotation_at(0).start_s == 15.0
    panel.kind_filter.setCurrentText("any")
    panel.species_filter.setText("asb")
    assert panel.row_count() == 2
    panel.species_filter.setText("")
    panel.table.sortByColumn(1, Qt.SortOrder.AscendingOrder)
    assert [panel.annotation_at(i).start_s for i in range(3)] == [2.0, 9.0, 15.0]
    window.view.set_view(0.0, 4.0)
    index = panel.proxy.index(2, 0)
    panel.table.clicked.emit(index)
    t0, t1 = window.view.view_range()
    assert t0 <= 15.0 and t1 >= 16.0
    assert window.labeling.layer.selected_id == panel.annotation_at(2).id


def test_edits_are_on_disk_the_moment_they_are_made(opened: MainWindow) -> None:
    window = opened
    window.labeling.species_field.setText("asbfly")
    window.view.set_selection(1.0, 2.0, 0.0, 16000.0)
    made = window.labeling.add_from_selection("call")
    assert made.whole_band
    window.labeling.set_status("rejected")
    assert [(a.id, a.status) for a in _stored(window)] == [(made.id, "rejected")]


def test_import_export_and_relink_from_the_window(opened: MainWindow, tmp_path: Path, qtbot) -> None:
    window = opened
    table = tmp_path / "audacity.txt"
    table.write_text("1\t2\tasbfly\n3\t4\tNOT ashdro1\n5\t6\tZZ unknown bird\n")
    assert window.project_actions.import_labels("audacity", [table], ask_add_unknown=lambda names: False) == 0
    assert "Nothing imported" in window.statusBar().currentMessage() and _stored(window) == []
    asked = []
    added = window.project_actions.import_labels(
        "audacity", [table], ask_add_unknown=lambda names: asked.append(names) or True
    )
    assert added == 3 and asked == [["ZZ unknown bird"]]
    assert window.labeling.panel.row_count() == 3  # the panel shows them at once
    assert len(window.labeling.layer.boxes) == 3
    assert window.project_actions.export_labels("perch", tmp_path / "out.csv", whole_project=False) is not None
    qtbot.waitUntil(lambda: not window.project_actions.exporting, timeout=10000)  # on a worker thread
    written = window.project_actions.last_export.written
    assert len(written) == 1 and len(written[0].read_text().splitlines()) == 4
    assert window.project_actions.relink(tmp_path) == 0  # nothing is missing


def test_labels_past_the_recordings_end_are_clipped_only_when_the_user_agrees(opened: MainWindow, tmp_path) -> None:
    window = opened
    end = window.current.info.duration_s
    table = tmp_path / "late.txt"
    table.write_text(f"1\t2\tasbfly\n{end - 1:.3f}\t{end + 3:.3f}\tasbfly\n")
    asked: list[str] = []
    assert window.project_actions.import_labels("audacity", [table], ask_clip=lambda text: asked.append(text)) == 0
    assert len(asked) == 1 and "after the end" in asked[0] and "late.txt:2" in asked[0]
    assert "Nothing imported" in window.statusBar().currentMessage() and _stored(window) == []
    assert window.project_actions.import_labels("audacity", [table], ask_clip=lambda text: True) == 2
    assert "1 clipped to their recording" in window.statusBar().currentMessage()
    assert max(a.end_s for a in _stored(window)) == pytest.approx(end)


def test_alt_shift_drag_labels_a_time_span_over_the_whole_band(opened: MainWindow, qtbot) -> None:
    window = opened
    modifiers = Qt.KeyboardModifier.ShiftModifier | Qt.KeyboardModifier.AltModifier
    _drag(qtbot, window.view, (3.0, 5000.0), (6.0, 7000.0), modifiers)
    t0, t1, f0, f1 = window.view.selection
    assert (t0, t1) == pytest.approx((3.0, 6.0), abs=0.1) and (f0, f1) == (0.0, 16000.0)
    window.labeling.species_field.setText("asbfly")
    made = window.labeling.add_from_selection("call")
    assert made.whole_band and (made.low_hz, made.high_hz) == (None, None)
    assert _stored(window)[0].whole_band


def test_a_labels_note_is_edited_in_the_panel_saved_at_once_and_undone(opened: MainWindow, qtbot) -> None:
    window = opened
    recording = window.project.recordings()[0]
    (label,) = window.project.add_annotations([Annotation(recording.id, 2.0, 3.0, species="asbfly", note="faint")])
    window.labeling.refresh()
    panel = window.labeling.panel
    cell = panel.proxy.index(0, COLUMNS.index("Note"))
    assert cell.data() == "faint"
    assert not panel.proxy.index(0, COLUMNS.index("Species")).flags() & Qt.ItemFlag.ItemIsEditable

    panel.table.setFocus()
    panel.table.setCurrentIndex(cell)
    QTest.keyClick(panel.table, Qt.Key.Key_F2)  # or a double-click
    editor = panel.table.viewport().findChild(QLineEdit)
    assert editor is not None and editor.text() == "faint"
    qtbot.waitUntil(editor.hasFocus)
    editor.selectAll()
    QTest.keyClicks(editor, "a wren, not a flycatcher")  # letters that are shortcuts elsewhere only type here
    QTest.keyClick(editor, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: _stored(window)[0].note == "a wren, not a flycatcher")
    (stored,) = _stored(window)
    assert (stored.id, stored.species, stored.kind, stored.start_s) == (label.id, "asbfly", "call", 2.0)
    assert panel.proxy.index(0, COLUMNS.index("Note")).data() == "a wren, not a flycatcher"
    assert window.project.undo_description == "edit note"

    window.view.setFocus()
    QTest.keyClick(window, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert _stored(window)[0].note == "faint"
    assert panel.proxy.index(0, COLUMNS.index("Note")).data() == "faint"
