"""The measurement columns picked in the Labels table are remembered in the user's settings: a
window opened later (a restart) shows the same columns, filled. The settings are an INI file of
the test's own, never the user's."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import QSettings, Qt

from birdview.gui.label_measurements import PENDING, SETTINGS_KEY, MeasurementColumns, remembered_columns
from birdview.gui.labels_panel import COLUMNS, LabelsPanel
from birdview.gui.main_window import MainWindow
from birdview.store.project import Annotation, Project
from tests.conftest import write_tone_file


@pytest.fixture
def project_folder(tmp_path: Path) -> Path:
    audio = tmp_path / "audio"
    audio.mkdir()
    tone = write_tone_file(audio / "A_20240521_053000.wav", duration_s=20.0)  # 4 kHz from 8 to 10 s
    folder = tmp_path / "project"
    with Project.create(folder, species=["amecro"]) as project:
        project.add_recordings([tone])
        (row,) = project.recordings()
        project.add_annotations([Annotation(row.id, 8.0, 10.0, 2000.0, 6000.0, "amecro")])
    return folder


def _open_window(qtbot, ini: Path, folder: Path, fake_streams) -> MainWindow:
    window = MainWindow(settings=QSettings(str(ini), QSettings.Format.IniFormat), stream_factory=fake_streams)
    qtbot.addWidget(window)
    window.show()
    window.open_project(folder)
    window.open_paths([folder.parent / "audio" / "A_20240521_053000.wav"])
    assert window.wait_until_ready(30)
    qtbot.waitUntil(lambda: window.labeling.panel.row_count() == 1, timeout=10000)
    return window


def _headers(panel: LabelsPanel) -> list[str]:
    model = panel.model
    return [model.headerData(c, Qt.Orientation.Horizontal) for c in range(len(COLUMNS), model.columnCount())]


def _cells(panel: LabelsPanel) -> list[str]:
    return [panel.proxy.index(0, c).data() for c in range(len(COLUMNS), panel.model.columnCount())]


def test_columns_picked_are_shown_again_after_a_restart(qtbot, tmp_path, project_folder, fake_streams) -> None:
    ini = tmp_path / "birdview.ini"
    window = _open_window(qtbot, ini, project_folder, fake_streams)
    panel = window.labeling.panel
    assert _headers(panel) == []  # none until the user picks some
    for name in ("SNR NIST Quick (dB)", "Peak Freq (Hz)"):
        action = next(a for a in panel.measurements.menu().actions() if a.text() == name)
        action.trigger()
    assert _headers(panel) == ["Peak Freq (Hz)", "SNR NIST Quick (dB)"]
    window.close()  # as the user quits
    window.deleteLater()
    assert "measurement_columns" in ini.read_text()  # on disk

    again = _open_window(qtbot, ini, project_folder, fake_streams)
    panel = again.labeling.panel
    assert _headers(panel) == ["Peak Freq (Hz)", "SNR NIST Quick (dB)"]
    menu = {a.text(): a.isChecked() for a in panel.measurements.menu().actions()}
    assert menu["Peak Freq (Hz)"] and menu["SNR NIST Quick (dB)"] and not menu["Center Freq (Hz)"]
    qtbot.waitUntil(lambda: PENDING not in _cells(panel) and not panel.measurements.busy, timeout=10000)
    assert _cells(panel)[0] == "4000"
    # Dropping one is remembered too.
    panel.measurements.set_shown("SNR NIST Quick (dB)", False)
    again.close()
    assert remembered_columns(QSettings(str(ini), QSettings.Format.IniFormat)) == ["Peak Freq (Hz)"]


def test_a_stored_value_that_cannot_be_read_shows_no_columns(qtbot, tmp_path) -> None:
    settings = QSettings(str(tmp_path / "birdview.ini"), QSettings.Format.IniFormat)
    for stored, shown in (
        ("not json", []),
        ('{"a": 1}', []),
        ('["Peak Freq (Hz)", "No Such Column", "Energy (dB FS)"]', ["Peak Freq (Hz)", "Energy (dB FS)"]),
    ):
        settings.setValue(SETTINGS_KEY, stored)
        panel = LabelsPanel(settings=settings)
        qtbot.addWidget(panel)
        assert isinstance(panel.measurements, MeasurementColumns)
        assert panel.measurements.chosen == shown and _headers(panel) == shown
