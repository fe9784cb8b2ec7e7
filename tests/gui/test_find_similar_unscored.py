"""Labels ▸ Find similar (F) on an example the model has not scored yet: the window says to score
first and offers to; scoring, then the search, run when the user accepts."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import QSettings, Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QMessageBox

from birdview.cli import main
from birdview.gui.main_window import MainWindow
from birdview.store.project import Annotation
from tests.review.test_similarity import TARGETS, WINDOW, _write
from tests.trainer.perch_standin import write_standin

LATE = "late_20240530_050000.wav"
LATE_TARGETS = (1, 5)


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
    _write(tmp_path / LATE, LATE_TARGETS, (), 9)  # added after scoring: no embeddings yet
    assert main(["add", "--project", str(folder), str(tmp_path / LATE)]) == 0
    settings = QSettings(str(tmp_path / "birdview.ini"), QSettings.Format.IniFormat)
    win = MainWindow(settings=settings, stream_factory=fake_streams)
    qtbot.addWidget(win)
    win.resize(1300, 900)
    win.show()
    win.open_project(folder)
    assert win.wait_until_ready(30)
    yield win
    win.shutdown()


def _press_f_on_a_label_in_the_late_recording(window: MainWindow, qtbot) -> None:
    project = window.project
    late = next(r for r in project.recordings() if r.name == LATE)
    window.show_recording(late.path)
    qtbot.waitUntil(lambda: window.labeling.recording is not None, timeout=10_000)
    start = LATE_TARGETS[0] * WINDOW
    (label,) = project.add_annotations([Annotation(late.id, start, start + WINDOW, species="eurbla")])
    window.labeling.refresh()
    window.labeling.layer.select(label.id)
    window.view.setFocus()
    QTest.keyClick(window, Qt.Key.Key_F)
    qtbot.waitUntil(lambda: window.score_first_box is not None and window.score_first_box.isVisible(), timeout=30_000)


def _button(box: QMessageBox, text: str):
    return next(button for button in box.buttons() if button.text().replace("&", "") == text)


def test_an_unscored_example_offers_to_score_then_finds_the_copies(window: MainWindow, qtbot) -> None:
    _press_f_on_a_label_in_the_late_recording(window, qtbot)
    box = window.score_first_box
    assert f"{LATE} is not scored by" in box.text() and "score it first" in box.text()
    assert "Score the unscored recordings now?" in box.text()
    assert "score the recording first" in window.statusBar().currentMessage()
    late = next(r for r in window.project.recordings() if r.name == LATE)
    assert window.project.scored_windows(1, late.id) == 0
    with qtbot.waitSignal(window.scoring.finished, timeout=120_000):
        _button(box, "Score now").click()
    assert window.project.scored_windows(1, late.id) == 8
    # Find similar runs again by itself, now that the example has embeddings.
    qtbot.waitUntil(lambda: window.review.panel.order.currentData() == "similar", timeout=30_000)
    names = {r.id: r.name[:5] for r in window.project.recordings()}
    planted = {(f"site{n}", w * WINDOW) for n, windows in TARGETS.items() for w in windows}
    planted |= {("late_", w * WINDOW) for w in LATE_TARGETS[1:]}
    queue = window.review.queue
    assert {(names[c.recording_id], c.start_s) for c in queue[: len(planted)]} == planted
    assert "window(s) like it" in window.statusBar().currentMessage()


def test_declining_to_score_leaves_the_project_as_it_was(window: MainWindow, qtbot) -> None:
    _press_f_on_a_label_in_the_late_recording(window, qtbot)
    _button(window.score_first_box, "Cancel").click()
    qtbot.wait(200)
    assert not window.scoring.running
    late = next(r for r in window.project.recordings() if r.name == LATE)
    assert window.project.scored_windows(1, late.id) == 0
    assert window.review.panel.order.currentData() != "similar"
