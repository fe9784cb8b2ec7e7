"""Retraining from the window: start, live progress, compare, activate, roll back, cancel, kill."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest

from birdview.gui.main_window import MainWindow
from tests.conftest import open_project_window
from tests.synthetic_birds import recording, write_audio


@pytest.fixture
def window(qtbot, tmp_path: Path, fake_streams, checkpoint: Path):
    def write(folder: Path) -> None:
        rng = np.random.default_rng(3)
        for index in range(3):
            calls = [(w * 5 + 1.0, "whistle" if w % 2 == 0 else "distractor") for w in range(6)]
            write_audio(folder / f"R{index}_20240521_0{index}0000.wav", recording(30.0, calls, rng))

    win = open_project_window(qtbot, tmp_path, fake_streams, checkpoint, write)
    with qtbot.waitSignal(win.scoring.finished, timeout=120_000):
        win.scoring.start()
    yield win
    if win.retrain.job is not None and win.retrain.job.process.running:
        win.retrain.job.process.cancel(grace_s=1)
    win.shutdown()


def _review_by_keyboard(window: MainWindow) -> None:
    """Y on whistle windows, N on the others, as a user would."""
    review = window.review
    review.panel.species.setCurrentText("whistle")
    review.panel.min_score.setValue(0.0)
    review.start()
    while review.current is not None:
        key = Qt.Key.Key_Y if review.current.window % 2 == 0 else Qt.Key.Key_N
        before = review.position
        QTest.keyClick(window, key)
        if review.position == before:  # the last one: the queue does not move on
            break


def test_quick_retrain_compare_activate_and_roll_back(window: MainWindow, qtbot) -> None:
    _review_by_keyboard(window)
    assert window.review.panel.counter.text() == "18 of 18 reviewed"
    retrain = window.retrain
    with qtbot.waitSignal(retrain.finished, timeout=300_000) as blocker:
        assert retrain.start("quick", epochs=5)
        assert not retrain.start("quick")  # a second job is refused, and says so
        assert "already running" in retrain.panel.state.text()
    model = blocker.args[0]
    assert model is not None and model.version == 2 and model.parent == 1
    assert len(retrain._losses) > 0  # the live loss curve got the steps
    assert retrain.panel.comparison.item(0, 0).text() == "macro ROC-AUC"
    assert retrain.panel.activate_button.isEnabled()
    assert window.project.active_model().version == 1
    with qtbot.waitSignal(window.scoring.finished, timeout=120_000):
        retrain.activate_new()  # activating rescores with the new model in the background
    assert window.project.active_model().version == 2
    row = window.project.recordings()[0]
    assert window.project.scored_windows(2, row.id) == 6
    with qtbot.waitSignal(window.scoring.finished, timeout=120_000):
        retrain.activate_version(1)  # roll back
    assert window.project.active_model().version == 1
    assert retrain.panel.versions.rowCount() == 2


def test_cancel_and_kill_leave_the_app_and_the_model_alone(window: MainWindow, qtbot) -> None:
    _review_by_keyboard(window)
    retrain = window.retrain
    with qtbot.waitSignal(retrain.finished, timeout=120_000):
        assert retrain.start("full", epochs=50)
        qtbot.waitUntil(lambda: len(retrain._losses) > 0, timeout=120_000)
        retrain.cancel()
    assert "cancelled" in retrain.panel.state.text()
    with qtbot.waitSignal(retrain.finished, timeout=120_000):
        assert retrain.start("full", epochs=50)
        qtbot.waitUntil(lambda: len(retrain._losses) > 0, timeout=120_000)
        os.kill(retrain.job.process.read_state().pid, signal.SIGKILL)
    assert "failed" in retrain.panel.state.text() and "killed" in retrain.panel.state.text()
    assert window.project.active_model().version == 1 and len(window.project.models()) == 1
    window.view.zoom(0.5)  # the window still works
    assert len(window.project.annotations()) == 18


def test_advanced_settings_hold_out_the_recordings_the_user_picks(window: MainWindow, qtbot) -> None:
    _review_by_keyboard(window)
    retrain = window.retrain
    retrain.panel.advanced_toggle.setChecked(True)
    assert retrain.panel.advanced.isVisibleTo(window)
    assert retrain.panel.valid_list.count() == 3
    retrain.panel.valid_list.item(2).setSelected(True)
    retrain.panel.epochs.setValue(2)
    with qtbot.waitSignal(retrain.finished, timeout=300_000) as blocker:
        assert retrain.start("quick")
    chosen = window.project.recordings()[2].id
    assert retrain.job.data.valid_recordings == [chosen]
    assert blocker.args[0] is not None and blocker.args[0].metrics["new"]["clips"] == 6


def test_full_retrain_with_the_unlabelled_recordings_says_what_it_adds_first(
    window: MainWindow, qtbot, tmp_path: Path, monkeypatch
) -> None:
    _review_by_keyboard(window)
    (tmp_path / "site").mkdir()
    site = write_audio(tmp_path / "site" / "S0_20240522_050000.wav", recording(60.0, [], np.random.default_rng(8)))
    window.project.add_recordings([site])  # a recording nobody labelled
    retrain = window.retrain
    retrain.panel.advanced_toggle.setChecked(True)
    retrain.panel.epochs.setValue(1)
    retrain.panel.background.setChecked(True)
    qtbot.waitUntil(
        lambda: "Background from 1 unlabelled recording(s)" in retrain.panel.estimate.text(), timeout=30_000
    )
    assert "pseudo-label" not in retrain.panel.estimate.text()
    retrain.panel.pseudo_round.setChecked(True)
    qtbot.waitUntil(lambda: "scores 12 windows of 1 unlabelled" in retrain.panel.estimate.text(), timeout=30_000)
    assert "In all:" in retrain.panel.estimate.text()
    asked: list[str] = []

    def answer(choice):
        def question(parent, title, text, *args):
            asked.append(text)
            return choice

        return question

    from PySide6.QtWidgets import QMessageBox

    monkeypatch.setattr(QMessageBox, "question", answer(QMessageBox.StandardButton.No))
    with qtbot.waitSignal(retrain.finished, timeout=30_000) as blocker:
        assert retrain.start("full")
    assert blocker.args[0] is None and retrain.job is None and retrain.panel.state.text() == "Not started."
    assert "One pseudo-label round" in asked[0] and asked[0].endswith("Start it?")
    monkeypatch.setattr(QMessageBox, "question", answer(QMessageBox.StandardButton.Yes))
    with qtbot.waitSignal(retrain.finished, timeout=120_000):
        assert retrain.start("full")
        qtbot.waitUntil(lambda: retrain.job is not None, timeout=60_000)
        assert "with background mixing and one pseudo-label round over 1 unlabelled" in retrain.panel.state.text()
        command = retrain.job.process.read_state().command
        listing = retrain.job.process.folder / "unlabelled.txt"
        assert command[command.index("--background-dir") + 1] == str(listing)
        assert command[command.index("--rounds") + 1 :][:3] == ["1", "--unlabelled", str(listing)]
        assert listing.read_text().split() == [str(site.absolute())]
        retrain.cancel()
    assert "cancelled" in retrain.panel.state.text()


def test_a_job_that_finished_while_the_app_was_closed_is_picked_up_in_the_background(qtbot, tmp_path: Path) -> None:
    """Opening the project registers finished jobs off the GUI thread; one that cannot be
    registered (here: its training set is gone) is reported, not raised."""
    from PySide6.QtCore import QSettings

    from birdview.jobs.child_process import DONE, ChildProcessJob, JobState
    from birdview.store.project import Project

    Project.create(tmp_path / "project", species=[]).close()
    job = ChildProcessJob(tmp_path / "project" / "jobs" / "20260101-000000")
    job.folder.mkdir(parents=True)
    job.write_state(JobState(DONE, ["fit"], checkpoint=str(tmp_path / "best.ckpt"), extra={"data": "/gone"}))
    settings = QSettings(str(tmp_path / "birdview.ini"), QSettings.Format.IniFormat)
    win = MainWindow(settings=settings, stream_factory=lambda *args: None)
    qtbot.addWidget(win)
    win.open_project(tmp_path / "project")
    qtbot.waitUntil(lambda: "Not added: 20260101-000000" in win.statusBar().currentMessage(), timeout=30_000)
    assert win.retrain.panel.versions.rowCount() == 0
    win.shutdown()
