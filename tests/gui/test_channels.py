"""A stereo recording's channels stacked, one spectrogram pane each, sharing the time axis; labels
carry the channel of the pane they were drawn on."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from PySide6.QtCore import QPointF, QRectF, QSettings

from birdview.gui.main_window import MainWindow
from birdview.gui.spectrogram_view import SpectrogramView
from birdview.spectrogram.settings import DisplaySettings
from birdview.spectrogram.tiles import hz_to_y
from birdview.store.labels import Annotation

RATE = 32000
CALL_S, CALL_HZ = (2.0, 3.0), 3000.0


def write_stereo_call_on_channel_2(path: Path, duration_s: float = 12.0) -> Path:
    """The same quiet noise on both channels; a 3 kHz tone burst at 2-3 s on channel 2 only."""
    rng = np.random.default_rng(3)
    t = np.arange(int(duration_s * RATE)) / RATE
    left = (rng.standard_normal(len(t)) * 0.001).astype(np.float32)
    right = left.copy()
    on = (t >= CALL_S[0]) & (t < CALL_S[1])
    right[on] += 0.5 * np.sin(2 * np.pi * CALL_HZ * t[on])
    sf.write(path, np.stack([left, right], axis=1), RATE)
    return path


def _window(qtbot, tmp_path: Path, fake_streams, name: str = "birdview.ini") -> MainWindow:
    settings = QSettings(str(tmp_path / name), QSettings.Format.IniFormat)
    window = MainWindow(settings=settings, stream_factory=fake_streams)
    qtbot.addWidget(window)
    window.resize(1200, 800)
    window.show()
    return window


@pytest.fixture
def stereo(tmp_path: Path) -> Path:
    folder = tmp_path / "audio"
    folder.mkdir()
    return write_stereo_call_on_channel_2(folder / "stereo.wav")


@pytest.fixture
def window(qtbot, tmp_path: Path, fake_streams, stereo: Path):
    win = _window(qtbot, tmp_path, fake_streams)
    # fixed grey levels: the same sound is the same pixel on either pane
    win.view.set_display_settings(DisplaySettings(colormap="grey", db_floor=-110, db_ceiling=-20, auto_level=False))
    win.open_project(tmp_path / "project")
    win.open_paths([stereo])
    assert win.wait_until_ready(60), "the panes did not finish drawing"
    yield win
    win.shutdown()


def _brightness(pane: SpectrogramView) -> tuple[np.ndarray, object]:
    """A pane as grey levels, and a function from (seconds, Hz) to its (x, y) pixel."""
    image = pane.grab().toImage()
    image = image.convertToFormat(image.Format.Format_RGB888)
    width, height = image.width(), image.height()
    pixels = np.frombuffer(image.constBits(), dtype=np.uint8).reshape(height, image.bytesPerLine())
    pixels = pixels[:, : width * 3].reshape(height, width, 3).astype(float).mean(axis=2)

    def to_pixel(seconds: float, hz: float) -> tuple[int, int]:
        scene = pane.view_box.mapViewToScene(QPointF(seconds, float(hz_to_y(hz, pane.spectrogram_settings))))
        point = pane.mapFromScene(scene)
        return point.x(), point.y()

    return pixels, to_pixel


def _patch(pixels: np.ndarray, to_pixel, seconds: float, hz: float, half: int = 3) -> float:
    x, y = to_pixel(seconds, hz)
    return float(np.median(pixels[y - half : y + half + 1, x - half : x + half + 1]))


def test_stereo_shows_a_pane_per_channel_differing_only_where_the_call_is(window: MainWindow) -> None:
    panes = window.channels.panes
    assert len(panes) == 2 and all(pane.isVisible() for pane in panes)
    assert [pane.channel for pane in panes] == [0, 1]
    assert [pane.frequency_axis.labelText for pane in panes] == ["Ch 1", "Ch 2"]
    assert window.display_panel.channel.text() == "All, stacked"  # the default, as Raven and Audacity
    # one time axis, under the bottom pane; the panes show the same time
    assert not panes[0].getPlotItem().getAxis("bottom").isVisible()
    assert panes[1].getPlotItem().getAxis("bottom").isVisible()
    assert panes[1].view_range() == pytest.approx(panes[0].view_range())

    (top, top_at), (bottom, bottom_at) = _brightness(panes[0]), _brightness(panes[1])
    call = (sum(CALL_S) / 2, CALL_HZ)
    # grey: black is quiet, white loud; the call is white on channel 2 and absent from channel 1
    assert _patch(bottom, bottom_at, *call) - _patch(top, top_at, *call) > 100
    for elsewhere in ((7.0, CALL_HZ), (sum(CALL_S) / 2, 8000.0), (10.0, 1000.0)):
        assert abs(_patch(bottom, bottom_at, *elsewhere) - _patch(top, top_at, *elsewhere)) < 8


def test_time_cursor_and_playhead_move_together(window: MainWindow) -> None:
    main, pane = window.channels.panes
    window.view.set_view(1.0, 4.0)
    assert pane.view_range() == pytest.approx((1.0, 5.0), abs=1e-6)
    pane.set_view(3.0, 2.0)  # scrolling or zooming on channel 2 moves channel 1 (and the scrollbar)
    assert main.view_range() == pytest.approx((3.0, 5.0), abs=1e-6)
    pane.view_box.clicked.emit(4.0, 1000.0)  # a click on channel 2 places the play cursor
    assert main.cursor_s == pytest.approx(4.0) and main.cursor_line.isVisible()
    main.set_playhead(4.5)  # as playback does
    assert pane.playhead.isVisible() and pane.playhead.value() == pytest.approx(4.5)


def test_a_box_drawn_on_channel_2_is_stored_and_drawn_there(window: MainWindow, qtbot, tmp_path, fake_streams) -> None:
    main, pane = window.channels.panes
    project, recording = window.project, window.labeling.recording
    everywhere = project.add_annotation(Annotation(recording.id, 6.0, 7.0, 1000.0, 2000.0))  # no channel
    window.labeling.refresh()
    y0, y1 = float(hz_to_y(2500.0, pane.spectrogram_settings)), float(hz_to_y(3500.0, pane.spectrogram_settings))
    pane.view_box.selectionDragged.emit(QRectF(QPointF(2.0, y0), QPointF(3.0, y1)), True, False)  # Shift+drag
    assert pane.selection_item.isVisible() and not main.selection_item.isVisible()
    assert window.view.selection_channel == 1
    window.labeling.actions["add"].trigger()  # A
    drawn = [a for a in project.annotations(recording_id=recording.id) if a.id != everywhere.id]
    assert len(drawn) == 1 and drawn[0].channel == 1  # channel 2, counted from 0
    assert not pane.selection_item.isVisible()  # labelled: the box is now the label's

    def drawn_on(win: MainWindow) -> dict[int, set[int]]:
        layers = [win.labeling.layer, *win.labeling.layer.others]
        labels = (drawn[0].id, everywhere.id)
        return {label: {i for i, layer in enumerate(layers) if label in layer.boxes} for label in labels}

    assert drawn_on(window) == {drawn[0].id: {1}, everywhere.id: {0, 1}}
    box = window.labeling.layer.others[0].boxes[drawn[0].id]
    assert box.scene() is pane.scene()
    box.setPos(QPointF(4.0, box.pos().y()))  # dragged later on its pane
    box.sigRegionChangeFinished.emit(box)
    moved = project.annotation(drawn[0].id)
    assert moved.start_s == pytest.approx(4.0) and moved.channel == 1
    assert window.labeling.layer.selected_id == drawn[0].id  # the label dragged is the one selected
    window.shutdown()

    again = _window(qtbot, tmp_path, fake_streams, "again.ini")
    try:
        again.open_project(tmp_path / "project")
        assert again.wait_until_ready(60)
        assert again.current is not None and len(again.channels.panes) == 2
        assert drawn_on(again) == {drawn[0].id: {1}, everywhere.id: {0, 1}}
        # One channel chosen: only its labels (and those of no channel) are drawn.
        again.display_panel.channel.setValue(1)
        assert again.wait_until_ready(60)
        assert len(again.channels.panes) == 1 and again.view.channel == 0
        assert again.view.frequency_axis.labelText == "Ch 1"
        assert drawn_on(again) == {drawn[0].id: set(), everywhere.id: {0}}
        again.display_panel.channel.setValue(2)
        assert again.wait_until_ready(60)
        assert again.view.channel == 1 and drawn_on(again) == {drawn[0].id: {0}, everywhere.id: {0}}
    finally:
        again.shutdown()


def test_a_mono_file_has_one_pane(qtbot, tmp_path: Path, fake_streams, stereo: Path) -> None:
    from tests.conftest import write_tone_file

    window = _window(qtbot, tmp_path, fake_streams)
    try:
        mono = write_tone_file(tmp_path / "mono.wav", duration_s=5.0)
        window.open_paths([stereo, mono])
        assert window.wait_until_ready(60)
        window.show_recording(stereo.absolute())
        assert window.wait_until_ready(60) and len(window.channels.panes) == 2
        window.show_recording(mono.absolute())
        assert window.wait_until_ready(60)
        assert window.channels.panes == [window.view]
        assert window.view.frequency_axis.labelText == "Frequency"
        assert window.view.getPlotItem().getAxis("bottom").isVisible()
    finally:
        window.shutdown()


def test_stacking_is_remembered(qtbot, tmp_path: Path, fake_streams, stereo: Path) -> None:
    first = _window(qtbot, tmp_path, fake_streams)
    first.display_panel.channel.setValue(2)
    first.shutdown()
    second = _window(qtbot, tmp_path, fake_streams)
    try:
        assert second.display_panel.channel.value() == 2
        second.open_paths([stereo])
        assert second.wait_until_ready(60)
        assert [pane.channel for pane in second.channels.panes] == [1]
        assert second.view.frequency_axis.labelText == "Ch 2"
        second.display_panel.channel.setValue(0)
        assert second.wait_until_ready(60)
        assert [pane.channel for pane in second.channels.panes] == [0, 1]
    finally:
        second.shutdown()


def test_models_menu_scores_the_chosen_channel(qtbot, tmp_path: Path, fake_streams, checkpoint: Path) -> None:
    from birdview.jobs.scoring import scored_channel
    from tests.conftest import open_project_window

    window = open_project_window(qtbot, tmp_path, fake_streams, checkpoint, write_stereo_call_on_channel_2_in)
    try:
        models = next(a.menu() for a in window.menuBar().actions() if a.text() == "&Models")
        channels = next(a.menu() for a in models.actions() if a.text() == "Score channel")
        texts = [action.text() for action in channels.actions()]
        assert texts[:3] == ["Mix of the channels", "Channel 1", "Channel 2"]
        assert channels.actions()[0].isChecked()  # the mix, as before
        channels.actions()[2].trigger()  # Channel 2
        with qtbot.waitSignal(window.scoring.finished, timeout=120_000) as blocker:
            assert window.scoring.start()
        assert blocker.args[0].windows == 3 and not blocker.args[0].problems
        assert scored_channel(window.project, 1) == 1
        again = MainWindow(settings=window.settings)  # remembered
        assert again.scoring.channel == 1
        again.shutdown()
    finally:
        window.shutdown()


def write_stereo_call_on_channel_2_in(folder: Path) -> None:
    write_stereo_call_on_channel_2(folder / "stereo.wav")
