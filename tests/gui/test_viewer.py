from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import QPointF, QSettings, Qt

from birdview.gui.main_window import NO_AUDIO_TEXT, MainWindow
from birdview.spectrogram.settings import DisplaySettings
from birdview.spectrogram.tiles import hz_to_y
from tests.conftest import write_tone_file


@pytest.fixture
def settings(tmp_path: Path) -> QSettings:
    return QSettings(str(tmp_path / "birdview.ini"), QSettings.Format.IniFormat)


@pytest.fixture
def window(qtbot, settings: QSettings, fake_streams):
    win = MainWindow(settings=settings, stream_factory=fake_streams)
    qtbot.addWidget(win)
    win.resize(1200, 700)
    win.show()
    yield win
    win.shutdown()


def _open(window: MainWindow, *paths: Path) -> None:
    window.open_paths(list(paths))
    assert window.wait_until_ready(30), "the view did not finish drawing"


def _plot_image(window: MainWindow) -> tuple[np.ndarray, object]:
    """The spectrogram widget as an RGB array, and a function from (seconds, Hz) to (x, y) pixels."""
    view = window.view
    image = view.grab().toImage().convertToFormat(view.grab().toImage().Format.Format_RGB888)
    width, height = image.width(), image.height()
    pixels = np.frombuffer(image.constBits(), dtype=np.uint8)
    pixels = pixels.reshape(height, image.bytesPerLine())[:, : width * 3].reshape(height, width, 3)

    def to_pixel(seconds: float, hz: float) -> tuple[int, int]:
        scene = view.view_box.mapViewToScene(QPointF(seconds, float(hz_to_y(hz, view.spectrogram_settings))))
        point = view.mapFromScene(scene)
        return point.x(), point.y()

    return pixels.astype(float).mean(axis=2), to_pixel


def test_tone_shows_brightest_at_its_time_and_frequency(window: MainWindow, tmp_path: Path) -> None:
    path = write_tone_file(tmp_path / "tone.wav", duration_s=20.0, tone_start_s=8.0, tone_end_s=10.0, tone_hz=4000)
    window.view.set_display_settings(DisplaySettings(colormap="grey", db_floor=-100, db_ceiling=-10, auto_level=False))
    _open(window, path)
    assert window.view.view_range() == pytest.approx((0.0, 20.0), abs=0.01)
    brightness, to_pixel = _plot_image(window)
    left, top = to_pixel(0.0, window.view.frequency_range_hz()[1])
    right, bottom = to_pixel(20.0, 0.0)
    tone_x0, tone_y = to_pixel(8.0, 4000.0)
    tone_x1, _ = to_pixel(10.0, 4000.0)
    # Along the tone's row, the bright run spans exactly the tone's time.
    band = brightness[tone_y - 2 : tone_y + 3, left + 2 : right - 2].max(axis=0)
    bright_columns = np.flatnonzero(band > 200) + left + 2
    assert abs(bright_columns.min() - tone_x0) <= 3
    assert abs(bright_columns.max() - tone_x1) <= 3
    # Across the tone's columns, the brightest row is the tone's frequency.
    row_profile = brightness[top + 2 : bottom - 2, tone_x0 + 5 : tone_x1 - 5].mean(axis=1)
    assert abs(int(np.argmax(row_profile)) + top + 2 - tone_y) <= 3
    # Away from the tone the picture is dark.
    assert brightness[tone_y, to_pixel(4.0, 0)[0]] < 60
    assert brightness[tone_y, (tone_x0 + tone_x1) // 2] > 200


def test_zoom_and_pan_change_the_visible_range(window: MainWindow, tmp_path: Path, qtbot) -> None:
    _open(window, write_tone_file(tmp_path / "long.flac", duration_s=600.0))
    assert window.view.view_range() == pytest.approx((0.0, 60.0), abs=0.01)  # default view on open
    window.view.zoom(0.5)
    assert window.view.view_range() == pytest.approx((15.0, 45.0), abs=0.01)
    qtbot.keyClick(window, Qt.Key.Key_Right)
    assert window.view.view_range() == pytest.approx((18.0, 48.0), abs=0.01)
    qtbot.keyClick(window, Qt.Key.Key_PageDown)
    assert window.view.view_range() == pytest.approx((48.0, 78.0), abs=0.01)
    window.view.show_whole_file()
    assert window.view.view_range() == pytest.approx((0.0, 600.0), abs=0.01)
    window.view.set_view(599.9, 0.01)  # never below the minimum span, never past the end
    t0, t1 = window.view.view_range()
    assert t1 == pytest.approx(600.0, abs=0.01) and t1 - t0 == pytest.approx(0.25, abs=0.01)
    assert window.wait_until_ready(30)
    assert window.view.visible_tiles_complete()


def test_scrollbar_and_overview_move_the_view(window: MainWindow, tmp_path: Path) -> None:
    _open(window, write_tone_file(tmp_path / "long.flac", duration_s=600.0))
    window.scrollbar.setValue(window.scrollbar.maximum())
    assert window.view.view_range() == pytest.approx((540.0, 600.0), abs=0.05)
    window.overview.jumpRequested.emit(300.0)
    assert window.view.view_range() == pytest.approx((270.0, 330.0), abs=0.05)
    region = window.overview.region.getRegion()
    assert region == pytest.approx((270.0, 330.0), abs=0.05)


def test_wheel_zooms_time_only(window: MainWindow, tmp_path: Path) -> None:
    _open(window, write_tone_file(tmp_path / "long.flac", duration_s=600.0))
    _, y_before = window.view.view_box.viewRange()
    view = window.view
    centre = view.mapFromScene(view.view_box.sceneBoundingRect().center())
    from PySide6.QtCore import QPoint
    from PySide6.QtGui import QWheelEvent

    event = QWheelEvent(
        QPointF(centre),
        QPointF(view.mapToGlobal(centre)),
        QPoint(0, 0),
        QPoint(0, 240),
        Qt.MouseButton.NoButton,
        Qt.KeyboardModifier.NoModifier,
        Qt.ScrollPhase.NoScrollPhase,
        False,
    )
    from PySide6.QtWidgets import QApplication

    QApplication.sendEvent(view.viewport(), event)
    t0, t1 = window.view.view_range()
    assert t1 - t0 < 60.0
    assert window.view.view_box.viewRange()[1] == pytest.approx(y_before)


def test_playhead_advances_during_playback(window: MainWindow, tmp_path: Path, qtbot, fake_streams) -> None:
    _open(window, write_tone_file(tmp_path / "tone.wav", duration_s=20.0))
    window.view._on_clicked(2.0, 1000.0)
    qtbot.keyClick(window, Qt.Key.Key_Space)
    assert window.player.playing
    assert window.view.playhead.isVisible()
    positions = []
    for _ in range(6):
        qtbot.wait(150)
        positions.append(window.view.playhead.value())
    assert positions == sorted(positions)
    assert 2.3 < positions[-1] < 3.5
    qtbot.keyClick(window, Qt.Key.Key_Space)
    assert not window.player.playing
    assert len(fake_streams.made) == 1


def test_playback_follows_past_the_view(window: MainWindow, tmp_path: Path, qtbot) -> None:
    _open(window, write_tone_file(tmp_path / "tone.wav", duration_s=20.0))
    window.view.set_view(0.0, 1.0)
    window.toggle_playback()
    qtbot.waitUntil(lambda: window.view.view_range()[0] > 0.5, timeout=4000)
    t0, t1 = window.view.view_range()
    assert t0 <= window.player.position_s <= t1 + 0.1
    window.stop_playback()


def test_selection_plays_only_its_range(window: MainWindow, tmp_path: Path, qtbot) -> None:
    _open(window, write_tone_file(tmp_path / "tone.wav", duration_s=20.0))
    window.view.set_selection(5.0, 5.5, 3000.0, 5000.0)
    window.display_panel.band_pass.setChecked(True)
    window.toggle_playback()
    qtbot.waitUntil(lambda: not window.player.playing, timeout=4000)
    assert window.player.position_s == pytest.approx(5.5, abs=0.01)


def test_without_an_audio_device_the_app_still_works(qtbot, settings: QSettings, tmp_path: Path) -> None:
    from birdview.audio.playback import AudioDeviceError

    def no_device(samplerate, channels, callback):
        raise AudioDeviceError("no audio output device (Error querying device -1)")

    win = MainWindow(settings=settings, stream_factory=no_device)
    qtbot.addWidget(win)
    win.show()
    try:
        _open(win, write_tone_file(tmp_path / "tone.wav", duration_s=5.0))
        win.toggle_playback()
        assert not win.player.playing
        assert win.audio_label.text() == NO_AUDIO_TEXT
        assert "no audio output device" in win.statusBar().currentMessage()
        win.view.zoom(0.5)
        assert win.view.view_range()[1] - win.view.view_range()[0] == pytest.approx(2.5)
    finally:
        win.shutdown()


def test_bad_files_are_listed_with_their_problem_and_good_ones_open(window: MainWindow, tmp_path: Path) -> None:
    good = write_tone_file(tmp_path / "good.wav", duration_s=5.0)
    (tmp_path / "empty.wav").write_bytes(b"")
    (tmp_path / "text.flac").write_text("not audio at all\n" * 100)
    full = write_tone_file(tmp_path / "full.wav", duration_s=10.0, noise=0.05)
    (tmp_path / "cut.wav").write_bytes(full.read_bytes()[: full.stat().st_size // 2])
    missing = tmp_path / "gone.wav"
    _open(window, good, tmp_path / "empty.wav", tmp_path / "text.flac", tmp_path / "cut.wav", missing)
    panel = window.recordings_panel
    assert "file is empty" in panel.status_text((tmp_path / "empty.wav").absolute())
    assert "not a readable audio file" in panel.status_text((tmp_path / "text.flac").absolute())
    assert "file not found" in panel.status_text(missing.absolute())
    assert "truncated" in panel.status_text((tmp_path / "cut.wav").absolute())
    assert any("empty.wav: file is empty" in p for p in window.problems)
    assert window.current is not None
    assert window.current.path.name in {"good.wav", "cut.wav"}
    window.show_recording((tmp_path / "cut.wav").absolute())
    assert window.wait_until_ready(30)
    assert window.view.view_range()[1] == pytest.approx(5.0, abs=0.1)  # only the readable half
    window.show_recording(good.absolute())
    assert window.current.path == good.absolute()


def test_stereo_channel_choice_changes_the_picture(window: MainWindow, tmp_path: Path) -> None:
    path = write_tone_file(tmp_path / "stereo.wav", duration_s=10.0, channels=2)  # tone on channel 1 only
    _open(window, path)
    first = max(window.tiles.cached(k).db.max() for k in window.view.shown_tile_keys())
    window.display_panel.channel.setValue(2)
    assert window.wait_until_ready(30)
    second = max(window.tiles.cached(k).db.max() for k in window.view.shown_tile_keys())
    assert first > -20 and second < -40  # the tone (-6 dB; lower in a mel band wider than a bin) only on channel 1


def test_settings_persist_between_runs(qtbot, settings: QSettings, fake_streams) -> None:
    first = MainWindow(settings=settings, stream_factory=fake_streams)
    qtbot.addWidget(first)
    first.display_panel.fft_size.setCurrentText("2048")
    first.display_panel.colormap.setCurrentText("magma")
    first.display_panel.scale.setCurrentText("linear")
    assert not first.display_panel.mel_bands.isEnabled()  # only the mel and log scales have bands
    first.display_panel.scale.setCurrentText("log")
    assert first.display_panel.mel_bands.isEnabled()
    first.display_panel.mel_bands.setValue(96)
    first.display_panel.db_range.setValue(60)
    first.display_panel.window.setCurrentText("hamming")  # a later change keeps the bands chosen
    assert first.view.spectrogram_settings.mel_bands == 96
    first.shutdown()
    second = MainWindow(settings=settings, stream_factory=fake_streams)
    qtbot.addWidget(second)
    try:
        assert second.view.spectrogram_settings.n_fft == 2048
        assert second.view.spectrogram_settings.scale == "log"
        assert second.view.spectrogram_settings.mel_bands == 96
        assert second.view.display_settings.colormap == "magma"
        assert second.view.display_settings.db_ceiling - second.view.display_settings.db_floor == 60
        assert second.display_panel.fft_size.currentText() == "2048"
    finally:
        second.shutdown()


def test_settings_saved_with_the_old_name_of_mel_bands_are_read(qtbot, settings: QSettings, fake_streams) -> None:
    settings.setValue("spectrogram", '{"n_fft": 512, "scale": "mel", "n_mels": 64}')
    window = MainWindow(settings=settings, stream_factory=fake_streams)
    qtbot.addWidget(window)
    try:
        assert window.view.spectrogram_settings.mel_bands == 64
        assert window.display_panel.mel_bands.value() == 64
    finally:
        window.shutdown()


def test_time_axis_shows_wall_clock_from_the_file_name(window: MainWindow, tmp_path: Path) -> None:
    _open(window, write_tone_file(tmp_path / "SITE_20240521_053000.wav", duration_s=20.0))
    axis = window.view.time_axis
    values = axis.tickValues(0.0, 20.0, 900)[0][1]
    labels = axis.tickStrings(values, 1.0, 1.0)
    assert "05:30:10" in labels
    assert all(label.startswith("05:30:") for label in labels)


def test_screenshot_command_writes_the_view(tmp_path: Path) -> None:
    path = write_tone_file(tmp_path / "tone.wav", duration_s=30.0, tone_start_s=10.0, tone_end_s=12.0)
    out = tmp_path / "shot.png"
    result = subprocess.run(
        [sys.executable, "-m", "birdview", "--screenshot", str(out), "--start", "5", "--span", "10", str(path)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    from PySide6.QtGui import QImage

    image = QImage(str(out))
    assert image.width() > 800 and image.height() > 500
    sample = np.array(
        [[image.pixelColor(x, y).value() for x in range(0, image.width(), 7)] for y in range(0, image.height(), 7)]
    )
    assert sample.std() > 20  # not blank


def test_screenshot_of_nothing_openable_fails_and_says_why(tmp_path: Path) -> None:
    (tmp_path / "empty.wav").write_bytes(b"")
    result = subprocess.run(
        [sys.executable, "-m", "birdview", "--screenshot", str(tmp_path / "s.png"), str(tmp_path / "empty.wav")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 1
    assert "empty.wav: file is empty" in result.stderr
    assert (tmp_path / "s.png").exists()


def test_dropping_files_opens_them(window: MainWindow, tmp_path: Path) -> None:
    from PySide6.QtCore import QMimeData, QUrl
    from PySide6.QtGui import QDropEvent

    path = write_tone_file(tmp_path / "dropped.wav", duration_s=4.0)
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(path))])
    event = QDropEvent(
        QPointF(100, 100), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier
    )
    window.dropEvent(event)
    assert window.wait_until_ready(30)
    assert window.current is not None and window.current.path == path.absolute()


def _drag(qtbot, view, start: tuple[float, float], end: tuple[float, float], modifier) -> None:
    """A real mouse drag on the spectrogram from (s, Hz) to (s, Hz) with a keyboard modifier."""
    from PySide6.QtTest import QTest

    def pixel(point: tuple[float, float]):
        seconds, hz = point
        return view.mapFromScene(
            view.view_box.mapViewToScene(QPointF(seconds, float(hz_to_y(hz, view.spectrogram_settings))))
        )

    viewport = view.viewport()
    a, b = pixel(start), pixel(end)
    QTest.mousePress(viewport, Qt.MouseButton.LeftButton, modifier, a)
    for i in range(1, 11):
        QTest.mouseMove(viewport, a + (b - a) * i / 10)
        qtbot.wait(12)  # pyqtgraph handles at most 100 mouse moves a second and drops the rest
    QTest.mouseRelease(viewport, Qt.MouseButton.LeftButton, modifier, b)


def test_shift_drag_selects_and_ctrl_drag_zooms_to_a_box(window: MainWindow, tmp_path: Path, qtbot) -> None:
    _open(window, write_tone_file(tmp_path / "tone.wav", duration_s=20.0))
    _drag(qtbot, window.view, (4.0, 2000.0), (8.0, 6000.0), Qt.KeyboardModifier.ShiftModifier)
    t0, t1, f0, f1 = window.view.selection
    assert (t0, t1) == pytest.approx((4.0, 8.0), abs=0.1)
    assert (f0, f1) == pytest.approx((2000.0, 6000.0), abs=150)
    _drag(qtbot, window.view, (10.0, 1000.0), (14.0, 5000.0), Qt.KeyboardModifier.ControlModifier)
    assert window.view.view_range() == pytest.approx((10.0, 14.0), abs=0.1)
    assert window.view.frequency_range_hz() == pytest.approx((1000.0, 5000.0), abs=150)


def test_plain_drag_pans(window: MainWindow, tmp_path: Path, qtbot) -> None:
    _open(window, write_tone_file(tmp_path / "long.wav", duration_s=120.0))
    _drag(qtbot, window.view, (40.0, 5000.0), (20.0, 5000.0), Qt.KeyboardModifier.NoModifier)
    assert window.view.view_range() == pytest.approx((20.0, 80.0), abs=0.5)


def test_disk_tile_cache_is_filled(qtbot, settings: QSettings, fake_streams, tmp_path: Path) -> None:
    win = MainWindow(settings=settings, stream_factory=fake_streams, tile_cache_dir=tmp_path / "tiles")
    qtbot.addWidget(win)
    win.show()
    try:
        _open(win, write_tone_file(tmp_path / "tone.wav", duration_s=10.0))
        assert list((tmp_path / "tiles").rglob("*.npz"))
    finally:
        win.shutdown()
