"""What a field recordist sees on opening a recording: automatic levels, 0-12 kHz on a mel scale,
ticks down to 0.1 kHz that are never cut off, a Raven-like grey map, figures exported as PNG and
SVG, and a first window that says how to begin. Judged on the pixels drawn and the widgets' state."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import QPointF, QSettings, Qt, QUrl
from PySide6.QtGui import QImage, QPainter

from birdview.gui.colormaps import lookup_table
from birdview.gui.main_window import MainWindow
from birdview.spectrogram.levels import Levels
from birdview.spectrogram.tiles import hz_to_y
from tests.conftest import write_tone_file

TONE_HZ = 4000.0


@pytest.fixture
def settings(tmp_path: Path) -> QSettings:
    return QSettings(str(tmp_path / "birdview.ini"), QSettings.Format.IniFormat)


@pytest.fixture
def window(qtbot, settings: QSettings, fake_streams):
    win = MainWindow(settings=settings, stream_factory=fake_streams)
    qtbot.addWidget(win)
    win.resize(1400, 820)
    win.show()
    yield win
    win.shutdown()


@pytest.fixture
def loud_call(tmp_path: Path) -> Path:
    """20 s of quiet noise (-82 dB a bin) with a loud 4 kHz call (-6 dB) from 8 to 10 s."""
    return write_tone_file(tmp_path / "loud_call.wav", duration_s=20.0, tone_start_s=8.0, tone_end_s=10.0)


def _open(window: MainWindow, *paths: Path) -> None:
    window.open_paths(list(paths))
    assert window.wait_until_ready(30), "the view did not finish drawing"


def _grab(window: MainWindow) -> tuple[np.ndarray, object]:
    """The spectrogram widget as drawn (RGB array), and (seconds, Hz) -> (column, row) in it."""
    view = window.view
    window.wait_until_ready(30)
    image = view.grab().toImage().convertToFormat(QImage.Format.Format_RGB888)
    width, height = image.width(), image.height()
    pixels = np.frombuffer(image.constBits(), dtype=np.uint8)
    pixels = pixels.reshape(height, image.bytesPerLine())[:, : width * 3].reshape(height, width, 3).copy()

    def to_pixel(seconds: float, hz: float) -> tuple[int, int]:
        y = float(hz_to_y(hz, view.spectrogram_settings))
        point = view.mapFromScene(view.view_box.mapViewToScene(QPointF(seconds, y)))
        return point.x(), point.y()

    return pixels, to_pixel


def _distance(pixels: np.ndarray, colour: np.ndarray) -> np.ndarray:
    return np.abs(pixels.astype(int) - colour.astype(int)).sum(axis=-1)


def _tone_and_background(window: MainWindow) -> tuple[np.ndarray, np.ndarray]:
    """Pixels of the call (8.3-9.7 s, within 2 px of 4 kHz) and of the background (2-6 s, 1-11 kHz)."""
    pixels, to_pixel = _grab(window)
    x0, y = to_pixel(8.3, TONE_HZ)
    x1, _ = to_pixel(9.7, TONE_HZ)
    tone = pixels[y - 2 : y + 3, x0:x1].reshape(-1, 3)
    b0, top = to_pixel(2.0, 11000.0)
    b1, bottom = to_pixel(6.0, 1000.0)
    background = pixels[top:bottom, b0:b1].reshape(-1, 3)
    return tone, background


def test_auto_level_keeps_a_loud_call_unsaturated_and_the_background_unclipped(window: MainWindow, loud_call) -> None:
    assert window.display_panel.auto_level.isChecked()  # on by default
    assert not window.display_panel.db_ceiling.isEnabled() and not window.display_panel.db_range.isEnabled()
    _open(window, loud_call)
    lut = lookup_table("viridis")
    tone, background = _tone_and_background(window)
    # The call's brightest pixel is below the top colour, and brighter than any background pixel.
    brightest = tone[np.argmax(tone.astype(int).sum(axis=1))]
    assert _distance(brightest, lut[-1]) > 20
    assert brightest.astype(int).sum() > background.astype(int).sum(axis=1).max()
    # The background is neither one flat bottom colour nor the top colour: most of it is above the floor.
    at_bottom = _distance(background, lut[0]) <= 3
    at_top = _distance(background, lut[-1]) <= 3
    assert 0.05 < at_bottom.mean() < 0.5
    assert not at_top.any()
    levels = window.display.levels
    shown = window.view.display_settings
    assert (shown.db_floor, shown.db_ceiling) == (levels.floor_db, levels.ceiling_db)
    assert -95 < levels.floor_db < -75 and -10 < levels.ceiling_db < 10
    assert "dB" in window.display_panel.auto_levels_label.text()

    # Auto off: the levels set by hand (-110 to -30 dB) come back, and the loud call saturates.
    window.display_panel.auto_level.setChecked(False)
    shown = window.view.display_settings
    assert (shown.db_floor, shown.db_ceiling) == (-110.0, -30.0)
    assert window.display_panel.db_ceiling.isEnabled() and window.display_panel.db_range.isEnabled()
    assert window.display_panel.auto_levels_label.text() == ""
    tone, _ = _tone_and_background(window)
    assert (_distance(tone, lut[-1]) <= 3).any()
    # ... and on again, the automatic ones.
    window.display_panel.auto_level.setChecked(True)
    window.view.grab()
    assert window.view.display_settings.db_ceiling == pytest.approx(levels.ceiling_db, abs=1.0)


def test_auto_level_follows_the_view(window: MainWindow, loud_call) -> None:
    _open(window, loud_call)
    window.view.set_view(0.0, 6.0)  # background only
    _grab(window)
    quiet = window.display.levels
    assert quiet.ceiling_db - quiet.floor_db == pytest.approx(30.0)  # not stretched into speckle
    window.view.set_view(6.0, 6.0)  # the loud call
    _grab(window)
    loud = window.display.levels
    assert loud.ceiling_db > quiet.ceiling_db + 30
    assert window.view.display_settings.db_ceiling == loud.ceiling_db
    # The overview strip is drawn with the same levels.
    assert window.overview.display_settings.db_ceiling == loud.ceiling_db


def test_brightness_keys_with_auto_on_start_from_the_automatic_levels(window: MainWindow, loud_call) -> None:
    _open(window, loud_call)
    _grab(window)
    levels: Levels = window.display.levels
    window.display.nudge_levels(-5, 0)  # Ctrl+Up, brighter
    assert not window.display_panel.auto_level.isChecked()
    assert window.view.display_settings.db_ceiling == pytest.approx(levels.ceiling_db - 5)
    assert window.display_panel.db_ceiling.value() == pytest.approx(levels.ceiling_db - 5, abs=0.01)
    assert "Auto level is off" in window.statusBar().currentMessage()


def test_default_view_is_0_to_12_khz_on_a_mel_scale(window: MainWindow, loud_call) -> None:
    _open(window, loud_call)
    assert window.view.spectrogram_settings.scale == "mel"
    assert window.display_panel.scale.currentText() == "mel"
    assert window.view.frequency_range_hz() == pytest.approx((0.0, 12000.0), abs=1.0)
    assert window.display_panel.freq_max.value() == pytest.approx(12.0)
    # A 0.5 kHz owl gets room: more than a tenth of the height is below 0.5 kHz.
    _, to_pixel = _grab(window)
    _, top = to_pixel(0.0, 12000.0)
    _, bottom = to_pixel(0.0, 0.0)
    _, owl = to_pixel(0.0, 500.0)
    assert (bottom - owl) > 0.1 * (bottom - top)


def _axis_labels(window: MainWindow) -> tuple[list[tuple[str, object]], object]:
    """The frequency axis' labels as drawn (text, rectangle), and the axis' rectangle."""
    axis = window.view.frequency_axis
    image = QImage(10, 10, QImage.Format.Format_RGB32)
    painter = QPainter(image)
    try:
        _, _, texts = axis.generateDrawSpecs(painter)
    finally:
        painter.end()
    return [(text, rect) for rect, _flags, text in texts], axis.mapRectFromParent(axis.geometry())


@pytest.mark.parametrize("scale", ["mel", "log"])
def test_mel_and_log_scales_are_ticked_down_to_0_1_khz(window: MainWindow, loud_call, scale: str) -> None:
    _open(window, loud_call)
    window.display_panel.scale.setCurrentText(scale)
    assert window.wait_until_ready(30)
    _grab(window)
    labels, bounds = _axis_labels(window)
    texts = [text for text, _ in labels]
    for wanted in ("0.1", "0.2", "0.5", "1", "2", "5", "10"):
        assert wanted in texts, f"{wanted} kHz not labelled on the {scale} scale: {texts}"
    # Each label sits at its frequency: 1 kHz's label is centred on 1 kHz's row.
    _, to_pixel = _grab(window)
    view = window.view
    one_khz = dict(labels)["1"]
    centre = view.mapFromScene(window.view.frequency_axis.mapToScene(one_khz.center())).y()
    assert abs(centre - to_pixel(0.0, 1000.0)[1]) <= 2
    # Minor ticks between them, without labels.
    minor = window.view.frequency_axis.tickValues(*view.view_box.viewRange()[1], bounds.height())[1][1]
    assert len(minor) >= 6
    for _, rect in labels:
        assert bounds.contains(rect)


@pytest.mark.parametrize("scale", ["linear", "mel", "log"])
def test_the_top_tick_label_is_inside_the_axis(window: MainWindow, loud_call, scale: str) -> None:
    window.display_panel.freq_max.setValue(0)  # up to the Nyquist frequency: a tick at 16 kHz, the top
    window.display_panel.scale.setCurrentText(scale)
    _open(window, loud_call)
    _grab(window)
    labels, bounds = _axis_labels(window)
    top_text, top_rect = min(labels, key=lambda label: label[1].top())
    assert bounds.contains(top_rect), f"{top_text} sticks out of the axis ({top_rect} outside {bounds})"
    if scale == "linear":
        assert top_text == "16"
    # Drawn in the widget: the label's rectangle is within the spectrogram widget.
    view = window.view
    rect = view.mapFromScene(view.frequency_axis.mapRectToScene(top_rect)).boundingRect()
    assert rect.top() >= 0


def test_raven_grey_map_is_white_at_the_bottom_and_black_at_the_top(window: MainWindow, loud_call) -> None:
    table = lookup_table("grey (Raven)")
    assert table[0].min() >= 240 and table[-1].max() == 0
    _open(window, loud_call)
    window.display_panel.colormap.setCurrentText("grey (Raven)")
    # Automatic levels: the background is near white, the call dark, not clipped to black.
    tone, background = _tone_and_background(window)
    assert np.median(background.mean(axis=1)) >= 235
    assert 0 < tone.mean(axis=1).min() < 80
    # Levels set by hand that put the noise below the floor and the call above the top:
    # the noise is the lowest value (white), the call the highest (black).
    window.display_panel.auto_level.setChecked(False)
    window.display_panel.db_ceiling.setValue(-30)
    window.display_panel.db_range.setValue(40)
    tone, background = _tone_and_background(window)
    assert np.median(background.mean(axis=1)) >= 250
    assert tone.mean(axis=1).min() == 0


def test_export_view_writes_png_and_svg_of_the_chosen_size(window: MainWindow, loud_call, tmp_path: Path) -> None:
    _open(window, loud_call)
    exporter = window.view_exporter
    menu_texts = [action.text() for action in window.file_menu.actions()]
    assert "Export view…" in menu_texts

    dialog = exporter.choose()
    assert dialog is not None
    assert dialog.window_size.isChecked()  # the window's size, unless a size is chosen
    dialog.chosen_size.setChecked(True)
    dialog.width_px.setValue(1200)
    dialog.height_px.setValue(700)
    dialog.path.setText(str(tmp_path / "figure.png"))
    dialog.accept()
    image = QImage(str(tmp_path / "figure.png"))
    assert (image.width(), image.height()) == (1200, 700)
    assert "figure.png" in window.statusBar().currentMessage()
    pixels = np.array([[image.pixelColor(x, y).value() for x in range(0, 1200, 9)] for y in range(0, 700, 9)])
    assert pixels.std() > 20  # a picture, not a blank
    # "As in the window": the size the spectrogram has there.
    window_png = tmp_path / "window.png"
    assert exporter.export(window_png, *dialog.window_px) == window_png
    assert (QImage(str(window_png)).width(), QImage(str(window_png)).height()) == dialog.window_px
    # The window is as it was.
    assert window.view.view_box.geometry().width() < 1200

    svg = exporter.export(tmp_path / "figure.svg", 900, 500)
    text = svg.read_text()
    assert "<svg" in text
    assert "Frequency" in text and "kHz" in text and "Time" in text
    assert ">10<" in text or ">10 <" in text or "10</text>" in text  # a tick label, as text
    assert "<image" in text  # the spectrogram itself, embedded


def test_export_without_a_recording_says_so(window: MainWindow) -> None:
    assert window.view_exporter.choose() is None
    assert "Open a recording first" in window.statusBar().currentMessage()


def test_the_empty_window_says_how_to_begin_until_a_recording_opens(
    window: MainWindow, loud_call, tmp_path: Path
) -> None:
    hint = window.start_hint.label
    assert hint.isVisible()
    assert "File ▸ Open files…" in hint.text() and "drop" in hint.text()
    assert "scripts/setup.sh demo" in hint.text() or "open the demo project" in hint.text()
    assert hint.geometry().intersects(window.view.viewport().rect())
    assert "open recordings" in window.start_hint.next_step_label.text()
    # The note is drawn: light text over the dark empty spectrogram.
    image = window.view.grab().toImage().convertToFormat(QImage.Format.Format_Grayscale8)
    centre = hint.geometry().center()
    bright = [
        image.pixelColor(x, centre.y() + dy).value()
        for x in range(hint.x(), hint.x() + hint.width())
        for dy in range(-40, 40, 4)
    ]
    assert max(bright) > 200
    _open(window, loud_call)
    assert not hint.isVisible()
    assert "project" in window.start_hint.next_step_label.text()
    # The demo project's link opens a project; the next step is then a model.
    hint.linkActivated.emit(str(tmp_path / "project"))
    assert window.project is not None
    assert window.start_hint.next_step_label.text() == "Next: Models ▸ Add model…"


def test_files_dropped_on_the_empty_spectrogram_open(window: MainWindow, loud_call) -> None:
    from PySide6.QtCore import QMimeData
    from PySide6.QtGui import QDragEnterEvent, QDropEvent
    from PySide6.QtWidgets import QApplication

    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(loud_call))])
    viewport = window.view.viewport()
    point = viewport.rect().center()
    enter = QDragEnterEvent(
        point, Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier
    )
    QApplication.sendEvent(viewport, enter)
    assert enter.isAccepted()
    drop = QDropEvent(
        QPointF(point), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier
    )
    QApplication.sendEvent(viewport, drop)
    assert window.wait_until_ready(30)
    assert window.current is not None and window.current.path == loud_call.absolute()
