"""The Retrain dock's rounds: per retrained version, the labels it used, its ROC-AUC and precision at
recall 0.8 on the held-out labels, and how its detections over the project changed from its
parent's; and a head that cannot train, said in the dock with no version added."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import QSettings
from sklearn.metrics import precision_recall_curve, roc_auc_score

from birdview.gui.main_window import MainWindow
from tests.jobs.test_agile_loop import FIVE_EXAMPLES, HELD_OUT, WINDOW, example_labels, layout, make_project


@pytest.fixture
def window(qtbot, tmp_path: Path, fake_streams):
    folder = make_project(tmp_path, recordings=3)
    settings = QSettings(str(tmp_path / "birdview.ini"), QSettings.Format.IniFormat)
    win = MainWindow(settings=settings, stream_factory=fake_streams)
    qtbot.addWidget(win)
    win.resize(1300, 900)
    win.show()
    win.open_project(folder)
    assert win.wait_until_ready(30)
    yield win
    if win.retrain.job is not None and win.retrain.job.process.running:
        win.retrain.job.process.cancel(grace_s=1)
    win.shutdown()


def _hold_out(window: MainWindow, number: int) -> int:
    """Advanced settings: the user picks the recording to validate on."""
    panel = window.retrain.panel
    panel.advanced_toggle.setChecked(True)
    recording = next(r for r in window.project.recordings() if r.name.startswith(f"rec{number}"))
    for row in range(panel.valid_list.count()):
        panel.valid_list.item(row).setSelected(panel.valid_list.item(row).text() == recording.name)
    return recording.id


def _click_quick(window: MainWindow, qtbot):
    with qtbot.waitSignal(window.retrain.finished, timeout=300_000) as blocker:
        window.retrain.panel.quick_button.click()
    return blocker.args[0]


def _scores(project, model) -> dict[int, np.ndarray]:
    """The head's scores of every window, computed here from the stored embeddings."""
    from trainer.models.head import Head

    head, _ = Head.load(model.path)
    return {
        r.id: head.probabilities(np.asarray(project.embeddings(model.version, r.id), dtype=np.float32))[:, 0]
        for r in project.recordings()
    }


def _held_out_truth(calls: int, negatives: int) -> tuple[list[int], list[bool]]:
    """The held-out recording's labelled windows, and which of them are target calls."""
    targets, distractors = layout(HELD_OUT)
    windows = targets[:calls] + distractors[:negatives]
    return windows, [w in targets for w in windows]


def _precision_at_recall(truth: list[bool], scores: np.ndarray, recall: float = 0.8) -> float:
    precision, achieved, _ = precision_recall_curve(truth, scores)
    return float(precision[achieved >= recall].max())


def test_each_round_shows_its_labels_metrics_and_score_change(window: MainWindow, qtbot) -> None:
    project = window.project
    held_out = _hold_out(window, HELD_OUT)
    project.add_annotations(example_labels(project, FIVE_EXAMPLES))
    first = _click_quick(window, qtbot)
    assert first is not None and first.parent == 1
    table = window.retrain.panel.rounds
    assert table.rowCount() == 1
    cells = [table.item(0, column).text() for column in range(table.columnCount())]
    # Labels: 5 calls and 8 hard negatives in the training recordings, 2 + 2 held out.
    assert cells[0] == f"v{first.version} ← v1"
    assert cells[1] == "13 + 4"
    windows, truth = _held_out_truth(*FIVE_EXAMPLES[HELD_OUT])
    scores = _scores(project, first)
    assert cells[2] == f"{roc_auc_score(truth, scores[held_out][windows]):.3f}"
    assert cells[3] == f"{_precision_at_recall(truth, scores[held_out][windows]):.3f}"
    detected = sum(int((s >= 0.5).sum()) for s in scores.values())
    assert cells[4] == f"— → {detected}"  # the model had no class for it
    assert cells[5] == "—"
    assert "trill: — (new class)" in table.item(0, 4).toolTip()

    # Round 2: the head is activated (the project rescored from the stored embeddings), more labels.
    with qtbot.waitSignal(window.scoring.finished, timeout=120_000):
        window.retrain.panel.activate_button.click()
    ids = {int(r.name[3]): r.id for r in project.recordings()}
    extra_target = layout(1)[0][2]
    from birdview.store.labels import Annotation

    project.add_annotations([Annotation(ids[1], extra_target * WINDOW, (extra_target + 1) * WINDOW, species="trill")])
    second = _click_quick(window, qtbot)
    assert second is not None and second.parent == first.version
    assert table.rowCount() == 2
    cells = [table.item(1, column).text() for column in range(table.columnCount())]
    assert cells[0] == f"v{second.version} ← v{first.version}"
    assert cells[1] == "14 + 4"
    after = _scores(project, second)
    assert cells[2] == f"{roc_auc_score(truth, after[held_out][windows]):.3f}"
    assert cells[3] == f"{_precision_at_recall(truth, after[held_out][windows]):.3f}"
    assert cells[4] == f"{detected} → {sum(int((s >= 0.5).sum()) for s in after.values())}"
    change = np.mean(np.concatenate([np.abs(after[i] - scores[i]) for i in scores]))
    assert cells[5] == f"{change:.3f}"
    assert window.retrain.panel.versions.rowCount() == 3


def test_a_head_that_cannot_train_says_why_and_adds_no_version(window: MainWindow, qtbot) -> None:
    project = window.project
    _hold_out(window, HELD_OUT)
    project.add_annotations(example_labels(project, {0: (3, 0), 1: (2, 0), 2: (1, 0)}))  # calls only
    assert _click_quick(window, qtbot) is None
    said = window.retrain.panel.state.text()
    assert said.startswith("Not started: the head cannot train") and "hard negatives" in said
    assert len(project.models()) == 1
    assert window.retrain.panel.rounds.rowCount() == 0
    assert window.retrain.panel.versions.rowCount() == 1
