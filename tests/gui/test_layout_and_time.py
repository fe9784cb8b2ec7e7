"""One time convention in every table and the status bar (wall clock where the start is known,
the offset from the file start otherwise and in the tooltip), and a layout that leaves the
spectrogram most of the window: narrow docks, columns fitted to their content, elided text in
tooltips, the Retrain curves readable with Advanced settings open."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import QEvent, Qt
from PySide6.QtGui import QHelpEvent
from PySide6.QtWidgets import QApplication, QDockWidget, QTableView, QToolTip

from birdview.audio.recording import RecordingInfo
from birdview.gui.labels_panel import COLUMNS as LABEL_COLUMNS
from birdview.gui.main_window import MainWindow
from birdview.gui.recordings_panel import COLUMNS as RECORDING_COLUMNS
from birdview.gui.sizing import ElidedTextTooltips, header_text_width, is_elided
from birdview.spectrogram.clock import UNKNOWN, date_text, moment, start_of, wall_clock
from birdview.store.labels import Annotation
from birdview.store.project import RecordingRow
from tests.conftest import open_project_window, write_tone_file

WITH_START, WITHOUT_START = "SITE_20240521_053000.wav", "nostart.wav"
LONG_NOTE = "heard twice, a second bird answering further off; " * 6


# -- the data layer: one function for both conventions ------------------------------------------


def _row(start_time: str | None) -> RecordingRow:
    return RecordingRow(1, Path("x.wav"), "x.wav", 1, "h", 60.0, 32000, 1, start_time, None)


def test_wall_clock_where_the_start_is_known_and_the_offset_where_not() -> None:
    assert wall_clock(_row("2024-05-21T05:30:00"), 12.0) == (
        "2024-05-21 05:30:12.0",
        "0:00:12.0 from the start of the file",
    )
    info = RecordingInfo(Path("a.wav"), 60.0, 32000, 1, 1, "WAV", datetime(2024, 5, 21, 5, 30))
    assert wall_clock(info, 12.04) == ("2024-05-21 05:30:12.0", "0:00:12.0 from the start of the file")
    text, tooltip = wall_clock(_row(None), 12.0)
    assert text == "0:00:12.0" and tooltip.startswith("0:00:12.0 from the start of the file")
    assert wall_clock(None, 3725.25, 0.01)[0] == "1:02:05.25"
    assert wall_clock(_row("2024-05-21T05:30:00"), 61.0, step=1.0)[0] == "2024-05-21 05:31:01"
    assert wall_clock(_row("not a time"), 1.0)[0] == "0:00:01.0"
    assert wall_clock(_row("2024-05-21T05:30:00"), float("nan"))[0] == "--:--:--"


def test_rounding_carries_into_the_next_day_and_the_date_follows() -> None:
    row = _row("2024-05-21T23:59:59")
    assert wall_clock(row, 0.97)[0] == "2024-05-22 00:00:00.0"
    assert date_text(row, 0.97) == "2024-05-22" and date_text(row) == "2024-05-21"
    assert date_text(_row(None), 5.0) == UNKNOWN
    assert moment(row, 0.5) == datetime(2024, 5, 21, 23, 59, 59, 500000)
    assert start_of(row) == datetime(2024, 5, 21, 23, 59, 59) and start_of(object()) is None


# -- the window ---------------------------------------------------------------------------------


@pytest.fixture
def window(qtbot, tmp_path: Path, fake_streams, checkpoint: Path):
    def write(folder: Path) -> None:
        write_tone_file(folder / WITH_START, duration_s=30.0)
        write_tone_file(folder / WITHOUT_START, duration_s=30.0, seed=1)

    win = open_project_window(qtbot, tmp_path, fake_streams, checkpoint, write)
    rows = {row.name: row for row in win.project.recordings()}
    for row in rows.values():
        win.project.add_annotations(
            [
                Annotation(row.id, 12.0, 14.5, 1000.0, 6000.0, species="asbfly"),
                Annotation(row.id, 20.0, 21.0, species="ashdro1", kind="hard_negative", note=LONG_NOTE),
            ]
        )
    win.labeling.refresh()
    yield win
    win.shutdown()


def _settle(window: MainWindow, width: int, height: int) -> None:
    window.resize(width, height)
    window.show()
    for _ in range(5):
        QApplication.processEvents()
    assert (window.width(), window.height()) == (width, height)


def _raise(window: MainWindow, name: str) -> None:
    dock = window.findChild(QDockWidget, name)
    dock.show()
    dock.raise_()
    QApplication.processEvents()


def _path(window: MainWindow, name: str) -> Path:
    return next(path for path in window.recordings if path.name == name)


def _score(window: MainWindow) -> None:
    """Predictions of version 1 (high for the first species in window 2 of each recording) and
    the review queue refilled from them."""
    model = window.project.model(1)
    for row in window.project.recordings():
        scores = np.zeros((6, len(model.classes)), dtype=np.float32)
        scores[2, 0] = 0.9
        window.project.store_predictions(1, row.id, scores)
    window.review.panel.expected_only.setChecked(False)
    window.review.reload()
    assert len(window.review.queue) == 2


@pytest.mark.parametrize("size", [(1400, 820), (1920, 1080)])
def test_the_spectrogram_gets_at_least_60_percent_of_the_width(window: MainWindow, size: tuple[int, int]) -> None:
    _settle(window, *size)
    assert window.view.width() >= 0.6 * window.width(), (window.view.width(), window.width())
    for name in ("Review", "Retrain", "Display"):  # whichever right-hand dock is up
        _raise(window, name)
        assert window.view.width() >= 0.6 * window.width(), (name, window.view.width())


def _hover_tooltip(table: QTableView, index) -> str:
    """What hovering the cell shows (the view's own tooltip handling, as a mouse would trigger it)."""
    QToolTip.hideText()
    position = table.visualRect(index).center()
    event = QHelpEvent(QEvent.Type.ToolTip, position, table.viewport().mapToGlobal(position))
    QApplication.sendEvent(table.viewport(), event)
    return QToolTip.text() if QToolTip.isVisible() else ""


def _check_columns(table: QTableView) -> int:
    """No shown column narrower than its header text; every cell cut short shows its whole text
    when hovered. Returns how many cells were cut short."""
    model = table.model()
    assert isinstance(table.itemDelegate(), ElidedTextTooltips)
    elided = 0
    for column in range(model.columnCount()):
        if table.isColumnHidden(column):
            continue
        header = model.headerData(column, Qt.Orientation.Horizontal)
        assert table.columnWidth(column) >= header_text_width(table, column), (header, table.columnWidth(column))
        for row in range(model.rowCount()):
            index = model.index(row, column)
            if is_elided(table, index):
                elided += 1
                table.scrollTo(index)
                assert str(index.data()) in _hover_tooltip(table, index), (header, index.data())
    return elided


def test_columns_fit_their_headers_and_elided_text_has_a_tooltip(window: MainWindow) -> None:
    _score(window)
    _settle(window, 1400, 820)
    window.show_recording(_path(window, WITH_START))
    assert window.labeling.panel.row_count() == 2
    _check_columns(window.recordings_panel)
    assert _check_columns(window.labeling.panel.table) >= 1  # the long note is cut short
    _raise(window, "Review")
    _check_columns(window.review.panel.table)
    _raise(window, "Retrain")
    window.retrain.refresh_versions()
    _check_columns(window.retrain.panel.versions)


def test_retrain_curves_keep_a_readable_height_with_advanced_settings_open(window: MainWindow) -> None:
    _settle(window, 1400, 820)
    _raise(window, "Retrain")
    panel = window.retrain.panel
    panel.advanced_toggle.setChecked(True)
    for _ in range(5):
        QApplication.processEvents()
    assert panel.advanced.isVisibleTo(window)
    assert panel.curves.isVisibleTo(window) and panel.curves.height() >= 120, panel.curves.height()
    assert window.view.width() >= 0.6 * window.width()


def _labels_cells(window: MainWindow, name: str) -> dict[str, tuple[str, str]]:
    """The first label's (text, tooltip) by column, for the recording ``name`` shown."""
    window.show_recording(_path(window, name))
    panel = window.labeling.panel
    panel.table.sortByColumn(LABEL_COLUMNS.index("Start"), Qt.SortOrder.AscendingOrder)
    cells = {}
    for column, header in enumerate(LABEL_COLUMNS):
        index = panel.proxy.index(0, column)
        cells[header] = (index.data(), index.data(Qt.ItemDataRole.ToolTipRole) or "")
    return cells


def test_labels_show_wall_clock_times_or_offsets_with_site_and_date(window: MainWindow) -> None:
    cells = _labels_cells(window, WITH_START)
    assert cells["Start"] == ("2024-05-21 05:30:12.0", "0:00:12.0 from the start of the file")
    assert cells["End"][0] == "2024-05-21 05:30:14.5" and "0:00:14.5" in cells["End"][1]
    assert cells["Site"][0] == "SITE" and cells["Date"][0] == "2024-05-21"
    cells = _labels_cells(window, WITHOUT_START)
    assert cells["Start"][0] == "0:00:12.0" and "0:00:12.0 from the start of the file" in cells["Start"][1]
    assert cells["Site"][0] == UNKNOWN and cells["Date"][0] == UNKNOWN


def test_review_shows_wall_clock_times_or_offsets_with_site_and_date(window: MainWindow) -> None:
    _score(window)
    table = window.review.panel.table
    headers = [table.horizontalHeaderItem(c).text() for c in range(table.columnCount())]
    assert {"Time", "Site", "Date", "Verdict"} <= set(headers)
    rows = {}
    for row in range(table.rowCount()):
        cells = {h: table.item(row, c) for c, h in enumerate(headers)}
        rows[cells["Recording"].text()] = cells
    start = window.review.queue[0].start_s
    offset = f"0:00:{start:04.1f}"
    timed, untimed = rows[WITH_START], rows[WITHOUT_START]
    assert timed["Time"].text() == f"2024-05-21 05:30:{start:04.1f}"
    assert timed["Time"].toolTip() == f"{offset} from the start of the file"
    assert timed["Site"].text() == "SITE" and timed["Date"].text() == "2024-05-21"
    assert untimed["Time"].text() == offset and offset in untimed["Time"].toolTip()
    assert untimed["Site"].text() == UNKNOWN and untimed["Date"].text() == UNKNOWN
    # a verdict's message in the status bar reads the same clock
    said: list[str] = []
    window.statusBar().messageChanged.connect(said.append)
    candidate = window.review.queue[window.review.position]
    window.review.verdict("confirm")
    expected = "2024-05-21 05:30:" if window.project.recording(candidate.recording_id).start_time else "0:00:"
    assert any(message.startswith(f"confirm: {candidate.species} at {expected}") for message in said), said


def test_recordings_list_and_status_bar_follow_the_same_convention(window: MainWindow) -> None:
    panel = window.recordings_panel
    assert set(RECORDING_COLUMNS) >= {"File", "Site", "Date", "Start"}
    timed, untimed = _path(window, WITH_START), _path(window, WITHOUT_START)
    assert panel.text(timed, "File") == WITH_START
    assert panel.text(timed, "Site") == "SITE"
    assert panel.text(timed, "Date") == "2024-05-21"
    assert panel.text(timed, "Start") == "2024-05-21 05:30:00"
    assert panel.text(untimed, "Start") == UNKNOWN
    assert "No start time" in panel.tooltip(untimed, "Start")

    label = window.navigation.cursor_label
    window.show_recording(_path(window, WITHOUT_START))
    assert "start time unknown" in window.statusBar().currentMessage()
    window.view.cursorMoved.emit(12.0, 4000.0)
    assert label.text().startswith("0:00:12.00")
    window.show_recording(_path(window, WITH_START))
    message = window.statusBar().currentMessage()
    assert WITH_START in message and "SITE" in message and "from 2024-05-21 05:30:00" in message
    window.view.cursorMoved.emit(12.0, 4000.0)
    assert label.text().startswith("2024-05-21 05:30:12.00") and label.toolTip().startswith("0:00:12.00")


def test_dock_contents_scroll_instead_of_widening_their_dock(window: MainWindow) -> None:
    _settle(window, 1400, 820)
    docks = {
        name: window.findChild(QDockWidget, name) for name in ("Recordings", "Labels", "Display", "Review", "Retrain")
    }
    for name, dock in docks.items():
        assert dock.minimumSizeHint().width() < 300, (name, dock.minimumSizeHint().width())
    assert {window.dockWidgetArea(docks[name]) for name in ("Recordings", "Labels")} == {
        Qt.DockWidgetArea.LeftDockWidgetArea
    }
    assert set(window.tabifiedDockWidgets(docks["Display"])) == {docks["Review"], docks["Retrain"]}
