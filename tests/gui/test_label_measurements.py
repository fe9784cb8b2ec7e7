"""The Labels table's measurement columns: picked from the header's menu, filled from a worker
thread with the numbers a user reads (a 4 kHz tone peaks at 4000 Hz), "—" with the reason for a
label whose recording is gone."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import Qt

from birdview.gui.label_measurements import FAILED, PENDING
from birdview.gui.labels_panel import COLUMNS, LabelsPanel
from birdview.store.project import Annotation, Project
from tests.conftest import write_tone_file


@pytest.fixture
def listed(qtbot, tmp_path: Path):
    audio = tmp_path / "audio"
    audio.mkdir()
    tone = write_tone_file(audio / "A_20240521_053000.wav", duration_s=20.0)  # 4 kHz from 8 to 10 s
    gone = write_tone_file(audio / "B_20240521_060000.wav", duration_s=20.0, tone_hz=2000.0)
    with Project.create(tmp_path / "project", species=["amecro"]) as project:
        project.add_recordings([tone, gone])
        a, b = project.recordings()
        project.add_annotations(
            [Annotation(a.id, 8.0, 10.0, 2000.0, 6000.0, "amecro"), Annotation(b.id, 8.0, 10.0, 1000.0, 3000.0)]
        )
        labels, rows = project.annotations(), {r.id: r for r in project.recordings()}
    gone.unlink()
    panel = LabelsPanel()
    qtbot.addWidget(panel)
    panel.set_annotations(labels, rows)
    return panel


def _cells(panel: LabelsPanel, column: int) -> dict[str, str]:
    """Each row's species (or "") and its text in the column, as the table shows them."""
    proxy = panel.proxy
    return {
        proxy.index(row, COLUMNS.index("Species")).data(): proxy.index(row, column).data()
        for row in range(proxy.rowCount())
    }


def test_measurement_columns_are_picked_from_the_header_menu_and_filled(listed, qtbot) -> None:
    panel = listed
    assert panel.model.columnCount() == len(COLUMNS)
    menu = panel.measurements.menu()
    actions = {action.text(): action for action in menu.actions()}
    assert "Peak Freq (Hz)" in actions and "SNR NIST Quick (dB)" in actions
    actions["Peak Freq (Hz)"].trigger()
    panel.measurements.menu().actions()[list(actions).index("Center Freq (Hz)")].trigger()
    peak, centre = len(COLUMNS), len(COLUMNS) + 1
    assert panel.model.headerData(peak, Qt.Orientation.Horizontal) == "Peak Freq (Hz)"
    assert panel.model.headerData(centre, Qt.Orientation.Horizontal) == "Center Freq (Hz)"
    qtbot.waitUntil(lambda: PENDING not in _cells(panel, peak).values() and not panel.measurements.busy, timeout=10000)
    assert _cells(panel, peak) == {"amecro": "4000", "": FAILED}
    assert _cells(panel, centre)["amecro"] == "4000"
    failed = next(panel.proxy.index(r, peak) for r in range(2) if panel.proxy.index(r, peak).data() == FAILED)
    assert "file not found" in failed.data(Qt.ItemDataRole.ToolTipRole)
    # Filtering refills the rows from what was measured, without measuring again.
    panel.species_filter.setText("amecro")
    assert _cells(panel, peak) == {"amecro": "4000"} and not panel.measurements.busy
    # Unticked, the column goes.
    panel.measurements.set_shown("Peak Freq (Hz)", False)
    assert panel.model.columnCount() == len(COLUMNS) + 1
    assert panel.model.headerData(len(COLUMNS), Qt.Orientation.Horizontal) == "Center Freq (Hz)"
