"""The waveform strip (View ▸ Waveform, W), the cursor read-out (time, frequency, level) and
the overview read back from the per-user cache, in the real main window."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from PySide6.QtCore import QPoint, QPointF, QSettings, Qt
from PySide6.QtTest import QTest

from birdview.gui.main_window import MainWindow
from birdview.spectrogram.clock import wall_clock
from birdview.spectrogram.tiles import hz_to_y, y_to_hz
from tests.conftest import write_tone_file


@pytest.fixture
def cache_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "user-cache"
    monkeypatch.setenv("BIRDVIEW_CACHE_DIR", str(folder))
    return folder


@pytest.fixture
def settings(tmp_path: Path) -> QSettings:
    return QSettings(str(tmp_path / "birdview.ini"), QSettings.Format.IniFormat)


def _window(qtbot, settings: QSettings, fake_streams) -> MainWindow:
    window = MainWindow(settings=settings, stream_factory=fake_streams)
    qtbot.addWidget(window)
    window.resize(1400, 820)
    window.show()
    return window


@pytest.fixture
def window(qtbot, settings, fake_streams, cache_dir):
    win = _window(qtbot, settings, fake_streams)
    yield win
    win.shutdown()


@pytest.fixture
def tone(tmp_path: Path) -> Path:
    # A 4 kHz tone at 8-10 s over quiet noise; the name gives the recorder's clock.
    return write_tone_file(tmp_path / "20240521_053000.wav", duration_s=20.0, tone_hz=4000.0)


def _open(window: MainWindow, path: Path) -> None:
    window.open_paths([path])
    assert window.wait_until_ready(30), "the view did not finish drawing"


def _waveform_action(window: MainWindow):
    view_menu = next(a.menu() for a in window.menuBar().actions() if a.text() == "&View")
    return next(a for a in view_menu.actions() if a.text() == "Waveform")


def _strip_drawn(window: MainWindow) -> bool:
    strip = window.waveform
    return bool(strip._visible) and strip.drawn_keys == strip._visible


def _check_curve_is_the_envelope(window: MainWindow, samples: np.ndarray, rate: int) -> int:
    """The curve's points are (centre, lowest), (centre, highest) of each column's samples."""
    strip = window.waveform
    x, y = strip.curve.getData()
    assert x is not None and len(x) > 0
    per_column = 1 << strip._level
    centres = x[0::2]
    columns = np.floor(centres * rate / per_column).astype(int)
    assert np.all(np.diff(columns) == 1)  # one stroke per column, in order, no gap
    for i, column in enumerate(columns):
        chunk = samples[column * per_column : (column + 1) * per_column]
        assert y[2 * i] == chunk.min() and y[2 * i + 1] == chunk.max(), column
    return len(columns)


def _lit_rows(window: MainWindow, seconds: float) -> int:
    """Rows of the strip, in the pixel column at ``seconds``, that the curve lights."""
    strip = window.waveform
    image = strip.grab().toImage()
    point = strip.mapFromScene(strip.view_box.mapViewToScene(QPointF(seconds, 0.0)))
    column = [image.pixelColor(point.x(), row) for row in range(image.height())]
    return sum(1 for colour in column if colour.blue() > 150 and colour.green() > 120)


def test_waveform_strip_toggles_and_draws_the_min_max_envelope(window: MainWindow, settings, tone, qtbot) -> None:
    _open(window, tone)
    samples, rate = sf.read(tone, dtype="float32")
    strip, action = window.waveform, _waveform_action(window)
    assert action.isCheckable() and action.shortcut().toString() == "W"
    assert not strip.isVisible() and not action.isChecked()  # off until asked for

    action.trigger()
    assert strip.isVisible() and settings.value("view/waveform", type=bool)
    qtbot.waitUntil(lambda: _strip_drawn(window), timeout=10_000)
    # Above the spectrogram, the same width of plot, the same time range.
    assert strip.geometry().bottom() < window.view.geometry().top()
    assert strip.view_box.viewRange()[0] == pytest.approx(list(window.view.view_range()), abs=1e-6)
    assert _check_curve_is_the_envelope(window, samples, rate) >= 1000  # about a column a pixel
    # The tone (0.5 of full scale) fills the strip's height; the quiet noise is a thin line.
    assert _lit_rows(window, 9.0) > 0.6 * strip.height()
    assert _lit_rows(window, 3.0) < 0.1 * strip.height()

    # Zoomed in, it follows, at a finer level (a few samples a column).
    whole_file_level = strip._level
    window.view.set_view(8.9, 0.3)
    qtbot.waitUntil(lambda: _strip_drawn(window) and strip._level <= 3, timeout=10_000)
    assert whole_file_level >= 8
    assert strip.view_box.viewRange()[0] == pytest.approx([8.9, 9.2], abs=1e-6)
    _check_curve_is_the_envelope(window, samples, rate)

    # W again: hidden (and remembered).
    window.activateWindow()
    QTest.keyClick(window.view, Qt.Key.Key_W)
    if strip.isVisible():  # no key events without a focused window here: the action does the same
        action.trigger()
    assert not strip.isVisible() and not settings.value("view/waveform", type=bool)


def test_waveform_choice_is_remembered(qtbot, settings, fake_streams, cache_dir, tone) -> None:
    settings.setValue("view/waveform", True)
    window = _window(qtbot, settings, fake_streams)
    try:
        assert window.waveform.isVisible() and _waveform_action(window).isChecked()
    finally:
        window.shutdown()


def _move_mouse(window: MainWindow, seconds: float, hz: float) -> tuple[float, float]:
    """Move the mouse over the spectrogram to (seconds, hz); the (seconds, hz) of the pixel reached."""
    view = window.view
    scene = view.view_box.mapViewToScene(QPointF(seconds, float(hz_to_y(hz, view.spectrogram_settings))))
    pixel: QPoint = view.mapFromScene(scene)
    QTest.mouseMove(view.viewport(), pixel)
    QTest.qWait(30)  # the move is delivered through the event loop
    reached = view.view_box.mapSceneToView(view.mapToScene(pixel))
    return reached.x(), float(y_to_hz(reached.y(), view.spectrogram_settings))


def _level_in(text: str) -> float:
    assert text.endswith(" dB"), text
    return float(text.split()[-2])


@pytest.mark.parametrize("scale", ["mel", "linear", "log"])
def test_cursor_readout_gives_time_frequency_and_level(window: MainWindow, tone, qtbot, scale) -> None:
    _open(window, tone)
    settings = window.view.spectrogram_settings.with_changes(scale=scale)
    window.display.apply_spectrogram(settings)
    assert window.wait_until_ready(30)
    label = window.navigation.cursor_label

    seconds, hz = _move_mouse(window, 9.0, 4000.0)
    text = label.text()
    clock = wall_clock(window.current.info, seconds, 0.01)[0]
    assert clock.startswith("2024-05-21 05:30:09")
    assert text.startswith(f"{clock}   {hz / 1000:.2f} kHz   "), text
    assert abs(hz - 4000.0) < 60.0  # the pixel under the mouse, on every scale
    on_tone = _level_in(text)
    assert on_tone == pytest.approx(window.view.level_at(seconds, hz), abs=0.5)

    # Beside the tone (same time, 2 kHz lower) and before it (same band): far quieter.
    _move_mouse(window, 9.0, 2000.0)
    assert _level_in(label.text()) < on_tone - 30
    seconds, _ = _move_mouse(window, 3.0, 4000.0)
    assert label.text().startswith(wall_clock(window.current.info, seconds, 0.01)[0])
    assert abs(seconds - 3.0) < 0.05
    assert _level_in(label.text()) < on_tone - 30


def test_overview_comes_back_from_the_per_user_cache(qtbot, settings, fake_streams, cache_dir, tone) -> None:
    first = _window(qtbot, settings, fake_streams)
    try:
        _open(first, tone)
        assert not first.overview.builder.from_cache
        drawn = first.overview.image.image.copy()
    finally:
        first.shutdown()
    assert len(list((cache_dir / "overviews").glob("*.npz"))) == 1

    second = _window(qtbot, settings, fake_streams)
    try:
        _open(second, tone)
        assert second.overview.builder.from_cache
        assert np.abs(second.overview.image.image - drawn).max() < 0.1
    finally:
        second.shutdown()
