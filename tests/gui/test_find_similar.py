"""Labels ▸ Find similar (F): the windows like a label, listed in the Review dock."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import QSettings, Qt
from PySide6.QtTest import QTest

from birdview.cli import main
from birdview.gui.main_window import MainWindow
from birdview.store.project import Annotation
from tests.review.test_similarity import TARGETS, WINDOW, _write
from tests.trainer.perch_standin import write_standin


@pytest.fixture
def window(qtbot, tmp_path: Path, fake_streams):
    (tmp_path / "audio").mkdir()
    for number in TARGETS:
        _write(tmp_path / "audio" / f"site{number}_2024052{number}_050000.wav", TARGETS[number], (), number)
    model, _ = write_standin(tmp_path / "perch")
    folder = tmp_path / "project"
    assert main(["add", "--project", str(folder), str(tmp_path / "audio")]) == 0
    assert main(["models", "--project", str(folder), "--add", "perch-v2", str(model)]) == 0
    assert main(["score", "--project", str(folder)]) == 0
    settings = QSettings(str(tmp_path / "birdview.ini"), QSettings.Format.IniFormat)
    win = MainWindow(settings=settings, stream_factory=fake_streams)
    qtbot.addWidget(win)
    win.resize(1300, 900)
    win.show()
    win.open_project(folder)
    assert win.wait_until_ready(30)
    yield win
    win.shutdown()


def test_f_on_a_label_fills_the_queue_with_the_planted_copies(window: MainWindow, qtbot) -> None:
    project = window.project
    first = next(r for r in project.recordings() if r.name.startswith("site0"))
    window.show_recording(first.path)
    qtbot.waitUntil(lambda: window.labeling.recording is not None, timeout=10_000)
    (label,) = project.add_annotations([Annotation(first.id, 5.0, 10.0, species="eurbla")])
    window.labeling.refresh()
    window.labeling.layer.select(label.id)
    window.view.setFocus()
    QTest.keyClick(window, Qt.Key.Key_F)
    qtbot.waitUntil(lambda: window.review.panel.order.currentData() == "similar", timeout=30_000)
    names = {r.id: r.name[:5] for r in project.recordings()}
    planted = {(f"site{n}", w * WINDOW) for n, windows in TARGETS.items() for w in windows} - {("site0", 5.0)}
    queue = window.review.queue
    assert {(names[c.recording_id], c.start_s) for c in queue[: len(planted)]} == planted
    assert {c.species for c in queue} == {"eurbla"}
    table = window.review.panel.table
    assert table.horizontalHeaderItem(1).text() == "Similarity"
    assert table.item(0, 1).text() == f"{queue[0].score:.3f}"
    assert "window(s) like it" in window.statusBar().currentMessage()
    assert window.review.panel.order.currentText().startswith("similar to the examples (")
    # A verdict works as on any candidate.
    assert window.review.verdict("confirm")
    assert window.review.panel.counter.text().startswith("1 of ")
    # The "most informative" order says its mix under the Order box.
    combo = window.review.panel.order
    combo.setCurrentIndex(combo.findData("most informative"))
    assert window.review.panel.order_note.isVisibleTo(window.review.panel)
    assert "7 nearest" in window.review.panel.order_note.text()


def test_f_searches_only_inside_the_windows_filter(window: MainWindow, qtbot) -> None:
    from birdview.store.selection import Selection

    project = window.project
    first = next(r for r in project.recordings() if r.name.startswith("site0"))
    window.show_recording(first.path)
    qtbot.waitUntil(lambda: window.labeling.recording is not None, timeout=10_000)
    (label,) = project.add_annotations([Annotation(first.id, 5.0, 10.0, species="eurbla")])
    window.labeling.refresh()
    window.selection_state.set_selection(Selection.parse(sites="site2"))
    window.labeling.layer.select(label.id)
    window.view.setFocus()
    QTest.keyClick(window, Qt.Key.Key_F)
    qtbot.waitUntil(lambda: window.review.panel.order.currentData() == "similar", timeout=30_000)
    names = {r.id: r.name[:5] for r in project.recordings()}
    queue = window.review.queue
    assert queue and {names[c.recording_id] for c in queue} == {"site2"}
    planted = {w * WINDOW for w in TARGETS[2]}
    assert {c.start_s for c in queue[: len(planted)]} == planted
