"""The review workflow as the user sees it: the candidate drawn above the spectrogram in its own
colour and captioned, its species' track shown, a close-up in the Review dock; verdicts as
compact marks; captions that never overlap; the View menu's switch per kind of label."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyqtgraph as pg
import pytest
from PySide6.QtCore import QEvent, QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QHelpEvent, QImage
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QToolTip

from birdview.gui.annotation_layer import SELECTED_COLOUR
from birdview.gui.candidate_view import CANDIDATE_COLOUR
from birdview.gui.main_window import MainWindow
from birdview.store.project import Annotation
from tests.conftest import open_project_window, write_tone_file
from tests.synthetic_birds import SPECIES, soundscape

WHISTLE, PULSES = SPECIES.index("whistle"), SPECIES.index("pulses")


def _pixels(image: QImage) -> np.ndarray:
    """(rows, columns, rgb) of a widget's grab."""
    image = image.convertToFormat(QImage.Format.Format_RGB32)
    width, height = image.width(), image.height()
    raw = np.frombuffer(image.constBits(), dtype=np.uint8, count=image.bytesPerLine() * height)
    bgra = raw.reshape(height, image.bytesPerLine() // 4, 4)[:, :width]
    return bgra[:, :, 2::-1].astype(float)


def _to_pixel(window: MainWindow, seconds: float, height: float = 0.5) -> tuple[int, int]:
    """The view's pixel at a time and a height (0 bottom, 1 top of the shown band)."""
    view = window.view
    _, (y0, y1) = view.view_box.viewRange()
    point = view.mapFromScene(view.view_box.mapViewToScene(QPointF(seconds, y0 + height * (y1 - y0))))
    return point.x(), point.y()


def _wait_drawn(window: MainWindow, qtbot) -> None:
    assert window.wait_until_ready(30)
    qtbot.waitUntil(window.review.panel.preview.is_ready, timeout=30_000)


def _visible_text_rects(window: MainWindow) -> list[tuple[str, QRectF]]:
    """Every caption on the spectrogram where the user sees it (after a paint places them)."""
    view = window.view
    view.grab()
    inside = view.view_box.sceneBoundingRect()
    found = []
    for item in view.scene().items():
        if isinstance(item, pg.TextItem) and item.isVisible() and item.toPlainText():
            rect = item.textItem.sceneBoundingRect()
            if rect.intersects(inside):
                found.append((item.toPlainText(), rect))
    return found


def _overlapping(rects: list[tuple[str, QRectF]]) -> list[tuple[str, str]]:
    return [
        (a, b)
        for i, (a, ra) in enumerate(rects)
        for b, rb in rects[i + 1 :]
        if ra.intersected(rb).width() > 0.5 and ra.intersected(rb).height() > 0.5
    ]


@pytest.fixture
def quiet_window(qtbot, tmp_path: Path, fake_streams, checkpoint: Path):
    """Two minutes of quiet noise (a tone at 8-10 s), so that the candidate's pixels are comparable."""

    def write(folder: Path) -> None:
        write_tone_file(folder / "Q_20240521_053000.wav", duration_s=120.0)

    win = open_project_window(qtbot, tmp_path, fake_streams, checkpoint, write)
    yield win
    win.shutdown()


@pytest.fixture
def busy_window(qtbot, tmp_path: Path, fake_streams, checkpoint: Path):
    """Two minutes of synthetic birds, every window scored for every species."""

    def write(folder: Path) -> None:
        calls = [(t, SPECIES[i % 4]) for i, t in enumerate(np.arange(2.0, 118.0, 4.5))]
        soundscape(folder / "B_20240521_053000.wav", 120.0, calls)

    win = open_project_window(qtbot, tmp_path, fake_streams, checkpoint, write)
    row = win.project.recordings()[0]
    rng = np.random.default_rng(3)
    win.project.store_predictions(1, row.id, rng.uniform(0.05, 1.0, size=(24, 4)).astype(np.float32))
    yield win
    win.shutdown()


def test_the_candidate_is_drawn_above_the_image_in_its_own_colour(quiet_window: MainWindow, qtbot) -> None:
    window = quiet_window
    row = window.project.recordings()[0]
    scores = np.full((24, 4), 0.01, dtype=np.float32)
    scores[8, WHISTLE] = 0.3  # 40-45 s, below the track threshold (0.5)
    window.project.store_predictions(1, row.id, scores)
    window.review.panel.min_score.setValue(0.2)
    window.review.start()
    assert window.review.current.start_s == 40.0
    _wait_drawn(window, qtbot)
    t0, t1 = window.view.view_range()
    assert (t0 + t1) / 2 == pytest.approx(42.5, abs=0.5)  # the view is centred on it

    pixels = _pixels(window.view.grab().toImage())
    _, y_top = _to_pixel(window, 0, 0.7)
    _, y_bottom = _to_pixel(window, 0, 0.3)  # clear of captions and marks
    x_start, _ = _to_pixel(window, 40.0)
    x_end, _ = _to_pixel(window, 45.0)
    x_out, _ = _to_pixel(window, 50.0)  # quiet noise there too
    width = x_end - x_start
    assert width > 20
    inside = pixels[y_top:y_bottom, x_start + 5 : x_end - 5].reshape(-1, 3).mean(axis=0)
    outside = pixels[y_top:y_bottom, x_out : x_out + width - 10].reshape(-1, 3).mean(axis=0)
    colour = np.array(QColor(CANDIDATE_COLOUR).getRgb()[:3], dtype=float)
    assert np.abs(inside - outside).max() > 15  # the tint is over the image, not beneath it
    assert np.linalg.norm(inside - colour) < np.linalg.norm(outside - colour) - 15  # tinted towards it
    # Its sides are drawn in the candidate's colour.
    edge = pixels[y_top:y_bottom, x_start - 1 : x_start + 2].reshape(-1, 3)
    assert np.abs(edge - colour).max(axis=1).min() < 40
    assert np.median(np.abs(edge - colour).max(axis=1)) < 40
    # No label, track or selection uses that colour.
    from birdview.gui.annotation_layer import KIND_COLOURS
    from birdview.gui.probability_panel import TRACK_COLOURS

    others = {c.lower() for c in (*KIND_COLOURS.values(), SELECTED_COLOUR, *TRACK_COLOURS)}
    assert CANDIDATE_COLOUR.lower() not in others

    # Captioned with its species and score although below the threshold, and its track shown.
    panel = window.probabilities
    assert panel.threshold > 0.3
    assert window.labeling.layer.shown_captions[0] == f"{panel.display_name('whistle')} 0.30"
    caption = window.labeling.layer.pinned_caption.textItem.sceneBoundingRect()
    left, right = (window.view.mapFromScene(caption.topLeft()).x(), window.view.mapFromScene(caption.topRight()).x())
    assert right >= x_start - 10 and left <= x_end + 10  # beside the window (or in it)
    assert window.view.mapFromScene(caption.topLeft()).y() < y_top  # at the top, clear of the call's band
    assert "whistle" in panel.curves


def test_the_candidates_track_is_shown_without_losing_the_users_choice(busy_window: MainWindow, qtbot) -> None:
    window = busy_window
    row = window.project.recordings()[0]
    scores = np.full((24, 4), 0.01, dtype=np.float32)
    scores[3, WHISTLE] = 0.9
    scores[10, PULSES] = 0.8
    window.project.store_predictions(1, row.id, scores)
    panel = window.probabilities
    panel.clear_species()
    panel.add_species("downsweep")  # the user's own choice
    window.review.start()
    assert window.review.current.species == "whistle"
    assert set(panel.curves) == {"downsweep", "whistle"}
    assert "under review" in panel.legend.text()
    QTest.keyClick(window, Qt.Key.Key_S)  # on to the pulses candidate
    assert window.review.current.species == "pulses"
    assert set(panel.curves) == {"downsweep", "pulses"}
    window.review.panel.min_score.setValue(0.95)  # nothing left to review
    assert window.review.queue == []
    assert panel.chosen == ["downsweep"] and set(panel.curves) == {"downsweep"}
    assert not window.candidate_overlay.visible and window.labeling.layer.shown_captions == []


def test_the_review_dock_shows_the_candidate_close_up_and_plays_it(
    busy_window: MainWindow, qtbot, fake_streams
) -> None:
    window = busy_window
    window.review.panel.min_score.setValue(0.5)
    window.review.start()
    candidate = window.review.current
    _wait_drawn(window, qtbot)
    preview = window.review.panel.preview
    assert preview.isVisible() and preview.view.isVisible()
    t0, t1 = preview.view.view_range()
    assert t0 == pytest.approx(max(0.0, candidate.start_s - 1.5), abs=0.05)
    assert t1 == pytest.approx(min(120.0, candidate.end_s + 1.5), abs=0.05)
    image = _pixels(preview.view.grab().toImage())
    assert image.shape[0] >= 140 and image.shape[1] >= 150
    assert image.std() > 10  # a spectrogram, not an empty box
    assert "whistle" in preview.title.text() or candidate.species in preview.title.text()
    assert f"{candidate.score:.2f}" in preview.title.text()
    QTest.mouseClick(preview.play_button, Qt.MouseButton.LeftButton)
    assert window.player.playing and fake_streams.made
    assert candidate.start_s <= window.player.position_s <= candidate.end_s
    window.stop_playback()


def test_fifty_verdicts_are_compact_marks_and_no_captions_overlap(busy_window: MainWindow, qtbot) -> None:
    window = busy_window
    project = window.project
    row = project.recordings()[0]
    imported = [
        Annotation(row.id, float(t), float(t) + 2.0, species=SPECIES[i % 4], source="import")
        for i, t in enumerate(np.arange(1.0, 115.0, 3.0))
    ]
    imported += [
        Annotation(row.id, float(t), float(t) + 1.0, 3000.0, 6000.0, species="pulses", source="import")
        for t in np.arange(2.0, 110.0, 7.0)
    ]
    project.add_annotations(imported, "import")
    project.add_annotation(Annotation(row.id, 50.0, 52.0, 2000.0, 5000.0, species="upsweep"))
    window.labeling.refresh()
    window.review.panel.min_score.setValue(0.0)
    window.review.panel.order.setCurrentText("time")
    window.review.start()
    keys = [Qt.Key.Key_Y, Qt.Key.Key_N, Qt.Key.Key_N, Qt.Key.Key_U, Qt.Key.Key_N]
    for i in range(50):
        QTest.keyClick(window, keys[i % len(keys)])
    assert window.review.panel.counter.text().startswith("50 of")
    _wait_drawn(window, qtbot)
    layer = window.labeling.layer

    for start, span in ((0.0, 120.0), (30.0, 30.0), (40.0, 8.0), (0.0, 60.0)):
        window.view.set_view(start, span)
        assert window.wait_until_ready(30)
        shown = _visible_text_rects(window)
        assert shown, "some captions are shown"
        assert _overlapping(shown) == [], f"overlapping captions at {start}+{span} s"
        marks = layer.shown_marks()
        reviewed = [a for a in layer.annotations if a.source == "model_review"]
        assert marks and len(marks) == len(reviewed)
        mark_rects = [mark.mapRectToScene(mark.rect()) for mark in marks]
        assert max(rect.height() for rect in mark_rects) < 10  # a strip, not full-height boxes
        assert not any(rect.intersects(caption) for rect in mark_rects for _, caption in shown)
        assert not any(text.startswith("NOT ") for text, _ in shown)  # verdicts are not captioned
        mark = marks[len(marks) // 2]
        tooltip = mark.toolTip()
        assert mark.annotation.species in tooltip and f"{mark.annotation.score:.2f}" in tooltip
    # Hovering over a mark shows its details.
    window.view.set_view(30.0, 30.0)
    assert window.wait_until_ready(30)
    window.view.grab()
    mark = next(m for m in layer.shown_marks() if 35.0 <= m.annotation.start_s <= 50.0)
    centre = window.view.mapFromScene(mark.mapToScene(mark.rect().center()))
    QToolTip.hideText()
    event = QHelpEvent(QEvent.Type.ToolTip, centre, window.view.viewport().mapToGlobal(centre))
    QApplication.sendEvent(window.view.viewport(), event)
    assert QToolTip.text() == mark.toolTip()
    QToolTip.hideText()
    # A click selects its label (which then shows in the selection's colour).
    QTest.mouseClick(window.view.viewport(), Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, centre)
    assert layer.selected_id == mark.annotation.id
    pixels = _pixels(window.view.grab().toImage())
    assert np.abs(pixels[centre.y(), centre.x()] - QColor(SELECTED_COLOUR).getRgb()[:3]).max() < 30
    # The candidate's caption is there whenever the candidate is in view.
    candidate = window.review.current
    window.view.set_view(candidate.start_s - 10, 25)
    assert window.wait_until_ready(30)
    texts = [text for text, _ in _visible_text_rects(window)]
    assert f"{window.probabilities.display_name(candidate.species)} {candidate.score:.2f}" in texts


def test_each_kind_of_label_can_be_hidden_from_the_view_menu(busy_window: MainWindow, qtbot) -> None:
    window = busy_window
    project = window.project
    row = project.recordings()[0]
    project.add_annotation(Annotation(row.id, 10.0, 12.0, species="whistle", source="import"), "import")
    drawn = project.add_annotation(Annotation(row.id, 14.0, 15.0, 2000.0, 4000.0, species="upsweep"))
    window.review.panel.min_score.setValue(0.0)
    window.review.panel.order.setCurrentText("time")
    window.review.start()
    for _ in range(4):
        QTest.keyClick(window, Qt.Key.Key_N)
    window.view.set_view(0.0, 30.0)
    assert window.wait_until_ready(30)
    layer = window.labeling.layer
    view_menu = next(a.menu() for a in window.menuBar().actions() if a.text() == "&View")
    toggles = {a.text(): a for a in view_menu.actions() if a.isCheckable()}
    assert {"Show imported labels", "Show reviewed labels", "Show drawn labels"} <= set(toggles)

    def sources() -> set[str]:
        window.view.grab()
        return {box.annotation.source for box in layer.boxes.values() if box.isVisible()}

    assert sources() == {"import", "user", "model_review"}
    toggles["Show reviewed labels"].trigger()
    assert sources() == {"import", "user"} and layer.shown_marks() == []
    toggles["Show imported labels"].trigger()
    assert sources() == {"user"}
    assert all(not text.startswith("whistle") for text in layer.shown_captions[1:])
    toggles["Show drawn labels"].trigger()
    assert sources() == set()
    for name in ("Show reviewed labels", "Show imported labels", "Show drawn labels"):
        toggles[name].trigger()
    assert sources() == {"import", "user", "model_review"}
    assert drawn.id in layer.boxes
