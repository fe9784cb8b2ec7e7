"""Model output in the window: background scoring, probability tracks, detections."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import QPointF
from PySide6.QtWidgets import QApplication

from birdview.gui.main_window import MainWindow
from tests.conftest import open_project_window
from tests.synthetic_birds import SPECIES, soundscape
from trainer.inference import TorchScorer, predict


@pytest.fixture
def window(qtbot, tmp_path: Path, fake_streams, checkpoint: Path):
    def write(folder: Path) -> None:
        soundscape(folder / "A_20240521_053000.wav", 40.0, [(6.0, "whistle")])

    win = open_project_window(qtbot, tmp_path, fake_streams, checkpoint, write)
    yield win
    win.shutdown()


def test_background_scoring_fills_the_tracks(window: MainWindow, qtbot) -> None:
    with qtbot.waitSignal(window.scoring.finished, timeout=120_000) as blocker:
        assert window.scoring.start(chunk_windows=2)
        assert window.scoring.running  # the window goes on while it runs
        window.view.zoom(0.5)
    assert blocker.args[0].windows == 8 and not blocker.args[0].cancelled
    row = window.project.recordings()[0]
    assert window.project.scored_windows(1, row.id) == 8
    # Scoring waited for the model's ONNX copy, exported in a child process, and used it.
    assert (window.project.folder / "models" / "model-v1.onnx").exists()
    expected, _ = predict([row.path], [TorchScorer(window.project.model(1).path)])
    np.testing.assert_allclose(window.project.predictions(1, row.id)[1], expected[list(SPECIES)], atol=2e-3)
    t0, t1 = window.view.view_range()
    shown = window.probabilities.tracks
    assert shown is not None and shown.scores.shape[1] == 4
    assert shown.starts[0] <= t0 and shown.starts[-1] + 5.0 >= t1  # the visible range has its scores
    assert set(window.probabilities.chosen) <= set(SPECIES) and len(window.probabilities.chosen) == 3
    # The review queue is refilled on a worker thread once scoring ends, without moving the view.
    from birdview.review.queue import queue_with_progress

    queue, done, total = queue_with_progress(window.project, 1, min_score=0.5, max_score=1.0, species=None)
    qtbot.waitUntil(lambda: window.review.panel.counter.text() == f"{done} of {total} reviewed", timeout=20_000)
    assert [c.key() for c in window.review.queue] == [c.key() for c in queue]


def test_fast_scoring_in_bf16_is_a_remembered_choice(window: MainWindow, qtbot, tmp_path: Path) -> None:
    from birdview.jobs.scoring import bf16_available

    action = window.scoring.bf16_action
    if not bf16_available():
        assert not action.isEnabled() and not action.isChecked()
        pytest.skip("this CPU has no bf16: the choice is greyed out")
    action.setChecked(True)
    with qtbot.waitSignal(window.scoring.finished, timeout=120_000) as blocker:
        assert window.scoring.start()
    assert blocker.args[0].windows == 8
    row = window.project.recordings()[0]
    expected, _ = predict([row.path], [TorchScorer(window.project.model(1).path)])
    stored = window.project.predictions(1, row.id)[1]
    assert np.abs(stored - expected[list(SPECIES)].to_numpy()).max() < 0.05
    other = MainWindow(settings=window.settings)  # the next session starts with the same choice
    assert other.scoring.bf16_action.isChecked()
    other.shutdown()


def test_cancelled_scoring_keeps_what_it_did(window: MainWindow, qtbot) -> None:
    with qtbot.waitSignal(window.scoring.finished, timeout=120_000) as blocker:
        window.scoring.start(chunk_windows=1)
        window.scoring.cancel()
    result = blocker.args[0]
    assert result.cancelled and result.windows < 8
    row = window.project.recordings()[0]
    assert window.project.scored_windows(1, row.id) == result.windows


def test_captions_of_species_in_one_window_do_not_overlap(window: MainWindow) -> None:
    row = window.project.recordings()[0]
    scores = np.full((8, 4), 0.1, dtype=np.float32)
    scores[2, [SPECIES.index("whistle"), SPECIES.index("pulses")]] = (0.9, 0.8)  # both in 10-15 s
    window.project.store_predictions(1, row.id, scores)
    panel = window.probabilities
    panel.clear_species()
    panel.add_species("whistle")
    panel.add_species("pulses")
    window.view.set_view(0.0, 40.0)
    window.refresh_tracks()
    assert sorted(panel.shown_captions) == ["pulses 0.80", "whistle 0.90"]
    panel.spectrogram.grab()  # a caption places its text when it is painted
    shown = [caption for caption in panel.captions if caption.isVisible()]
    first, second = (caption.textItem.sceneBoundingRect() for caption in shown)
    assert first.width() > 0 and second.width() > 0
    assert not first.intersects(second)
    assert abs(first.left() - second.left()) < 1  # both start at the window's start, one above the other


def test_captions_never_cover_each_other_and_zooming_in_shows_them_all(window: MainWindow) -> None:
    row = window.project.recordings()[0]
    scores = np.full((8, 4), 0.1, dtype=np.float32)
    scores[:, SPECIES.index("whistle")] = np.linspace(0.9, 0.6, 8)  # every window of the 40 s
    window.project.store_predictions(1, row.id, scores)
    panel = window.probabilities
    panel.clear_species()
    panel.add_species("whistle")

    def painted() -> list:
        panel.spectrogram.grab()  # a caption places its text when it is painted
        return [c.textItem.sceneBoundingRect() for c in panel.captions if c.isVisible()]

    window.resize(1000, 800)  # a narrow spectrogram: 40 s leave a 5 s window less room than a caption
    QApplication.processEvents()
    window.view.set_view(0.0, 40.0)
    window.refresh_tracks()
    wide = painted()
    assert len(panel.shown_detections) == 8 and 2 <= len(wide) < 8  # 5 s is narrower than a caption
    assert not any(a.intersects(b) for i, a in enumerate(wide) for b in wide[i + 1 :])
    assert panel.shown_captions[0] == "whistle 0.90"  # the strongest keeps its caption
    window.view.set_view(0.0, 11.0)
    window.refresh_tracks()
    close = painted()
    assert {"whistle 0.90", "whistle 0.86", "whistle 0.81"} <= set(panel.shown_captions)
    assert not any(a.intersects(b) for i, a in enumerate(close) for b in close[i + 1 :])


def _track_pixels(window: MainWindow) -> tuple[np.ndarray, object]:
    plot = window.probabilities.track_plot
    image = plot.grab().toImage()
    pixels = np.array(
        [[image.pixelColor(x, y).getRgb()[:3] for x in range(image.width())] for y in range(image.height())]
    )

    def to_pixel(seconds: float, p: float):
        point = plot.mapFromScene(plot.getViewBox().mapViewToScene(QPointF(seconds, p)))
        return point.x(), point.y()

    return pixels, to_pixel


def test_track_draws_each_windows_probability_at_its_place(window: MainWindow) -> None:
    row = window.project.recordings()[0]
    scores = np.full((8, 4), 0.1, dtype=np.float32)
    scores[1, SPECIES.index("whistle")] = 0.9  # 5-10 s
    window.project.store_predictions(1, row.id, scores)
    window.probabilities.clear_species()
    window.probabilities.add_species("whistle")
    window.view.set_view(0.0, 40.0)
    window.refresh_tracks()
    pixels, to_pixel = _track_pixels(window)
    yellow = (pixels[:, :, 0] > 200) & (pixels[:, :, 1] > 180) & (pixels[:, :, 2] < 80)  # the first track colour
    x_high, y_high = to_pixel(7.5, 0.9)
    x_low, y_low = to_pixel(25.0, 0.1)
    high_rows = np.flatnonzero(yellow[:, x_high])
    low_rows = np.flatnonzero(yellow[:, x_low])
    assert len(high_rows) and abs(np.median(high_rows) - y_high) <= 3
    assert len(low_rows) and abs(np.median(low_rows) - y_low) <= 3
    detections = window.probabilities.tracks.detections(["whistle"], window.probabilities.threshold)
    assert detections == [(5.0, 10.0, "whistle", pytest.approx(0.9, abs=1e-3))]
    panel = window.probabilities
    assert panel.shown_captions == ["whistle 0.90"]
    # Every heat-map row is named, long codes ("downsweep") elided to the axis, not dropped.
    from PySide6.QtGui import QImage, QPainter

    canvas = QImage(200, 200, QImage.Format.Format_ARGB32)
    painter = QPainter(canvas)
    _, _, texts = panel.heatmap_plot.getAxis("left").generateDrawSpecs(painter)
    painter.end()
    names = [text for _, _, text in texts]
    assert len(names) == len(SPECIES)
    assert all(any(code.startswith(name.rstrip("…")) for code in SPECIES) for name in names)
    box = next(iter(panel.box_items.values())).path().boundingRect()
    assert (box.left(), box.right()) == pytest.approx((5.0, 10.0))
    panel.set_threshold(0.95)
    assert panel.shown_captions == [] and panel.shown_detections == []
    assert all(item.path().isEmpty() for item in panel.box_items.values())


def test_review_queue_by_keyboard(window: MainWindow, qtbot) -> None:
    from PySide6.QtCore import Qt
    from PySide6.QtTest import QTest

    row = window.project.recordings()[0]
    scores = np.zeros((8, 4), dtype=np.float32)
    scores[1, SPECIES.index("whistle")] = 0.95
    scores[4, SPECIES.index("whistle")] = 0.7
    scores[6, SPECIES.index("pulses")] = 0.6
    window.project.store_predictions(1, row.id, scores)
    review = window.review
    review.reload()
    t0, t1 = window.view.view_range()
    assert window.view.view_range() == (t0, t1)  # refilling the queue does not move the view
    review.start()
    assert [(c.window, c.species) for c in review.queue] == [(1, "whistle"), (4, "whistle"), (6, "pulses")]
    assert review.panel.counter.text() == "0 of 3 reviewed"
    t0, t1 = window.view.view_range()
    assert t0 <= 5.0 and t1 >= 10.0  # the view shows the first candidate
    assert window.candidate_region.getRegion() == pytest.approx((5.0, 10.0))

    QTest.keyClick(window, Qt.Key.Key_Y)
    QTest.keyClick(window, Qt.Key.Key_N)  # no box selected: a verdict on the candidate
    assert review.panel.counter.text() == "2 of 3 reviewed"
    assert review.current.window == 6
    QTest.keyClick(window, Qt.Key.Key_B)
    assert review.current.window == 4
    labels = {(a.start_s, a.species): a for a in window.project.annotations()}
    confirmed, rejected = labels[(5.0, "whistle")], labels[(20.0, "whistle")]
    assert (confirmed.kind, confirmed.status, confirmed.source) == ("call", "confirmed", "model_review")
    assert confirmed.score == pytest.approx(0.95, abs=1e-3) and confirmed.model_version == 1
    assert (rejected.kind, rejected.status) == ("hard_negative", "rejected")
    assert len(window.labeling.layer.boxes) >= 1  # the verdicts show as labels at once

    review.panel.min_score.setValue(0.5)
    review.batch("reject")  # what is left in the queue: the 0.6 pulses window
    assert review.panel.counter.text() == "3 of 3 reviewed" and review.queue == []
