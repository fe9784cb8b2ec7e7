"""The recordings list grouped site ▸ date with counts and hours, the one filter (sites, dates,
hours) that narrows it and that the Labels table and the review queue follow, and Review ▸
Summary by site and time: its heat map's numbers and its PNG and SVG files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from PySide6.QtCore import QSettings, Qt
from PySide6.QtWidgets import QApplication

from birdview.gui.main_window import MainWindow
from birdview.gui.recordings_model import DURATION, FILE, STATUS
from birdview.store.labels import Annotation
from birdview.store.project import Project

SAMPLE_RATE = 1000  # silent files: only their names and lengths matter
SECONDS = 600
#: name → windows (of 5 s) where species "sp1" scores 0.9; every recording is 600 s.
RECORDINGS = {
    "SITEA_20240518_040000.wav": 4,
    "SITEA_20240518_200000.wav": 2,
    "SITEA_20240519_040000.wav": 6,
    "SITEB_20240518_040000.wav": 1,
    "SITEB_20240520_050000.wav": 3,
    "20240519_060000.wav": 5,  # no site in its name
    "nostart.wav": 7,  # no start time either
}
HOURS = SECONDS / 3600
H1, H2 = round(HOURS, 6), round(2 * HOURS, 6)  # the groups' hours, as the model gives them


def _write(folder: Path) -> None:
    folder.mkdir(parents=True)
    for name in RECORDINGS:
        sf.write(folder / name, np.zeros(SECONDS * SAMPLE_RATE, np.int16), SAMPLE_RATE)


@pytest.fixture
def window(qtbot, tmp_path: Path, fake_streams):
    audio = tmp_path / "audio"
    _write(audio)
    project = Project.create(tmp_path / "project", species=["sp1", "sp2"])
    project.add_recordings([audio])
    model = project.register_model("/fake.tflite", ["sp1", "sp2"], kind="birdnet", name="Fake", activate=True)
    for row in project.recordings():
        scores = np.zeros((int(SECONDS // model.hop_s), 2), np.float32)
        scores[: RECORDINGS[row.name], 0] = 0.9
        project.store_predictions(model.version, row.id, scores)
        project.add_annotations(
            [Annotation(row.id, 10.0, 12.0, species="sp1"), Annotation(row.id, 30.0, 31.0, species="sp2")]
        )
    project.close()
    settings = QSettings(str(tmp_path / "birdview.ini"), QSettings.Format.IniFormat)
    win = MainWindow(settings=settings, stream_factory=fake_streams)
    qtbot.addWidget(win)
    win.resize(1400, 820)
    win.show()
    win.open_project(tmp_path / "project")
    assert win.wait_until_ready(60)
    win.review.panel.expected_only.setChecked(False)
    yield win
    win.shutdown()


def _path(window: MainWindow, name: str) -> Path:
    return next(path for path in window.recordings_panel.paths() if path.name == name)


def _settle(qtbot, window: MainWindow) -> None:
    qtbot.waitUntil(lambda: not window.review._workers.active and not window.labeling._workers.active, timeout=20000)
    QApplication.processEvents()


def test_the_tree_groups_recordings_by_site_and_date_with_counts_and_hours(window: MainWindow) -> None:
    panel, model = window.recordings_panel, window.recordings_panel.recordings_model
    assert model.groups() == {
        "SITEA": {"2024-05-18": (2, H2), "2024-05-19": (1, H1)},
        "SITEB": {"2024-05-18": (1, H1), "2024-05-20": (1, H1)},
        "(no site)": {"2024-05-19": (1, H1), "(no start time)": (1, H1)},
    }
    site_a = model.group_index("SITEA")
    assert site_a.data() == "SITEA (3)"
    assert site_a.siblingAtColumn(DURATION).data() == "0.5 h"
    assert site_a.siblingAtColumn(STATUS).data() == "3 recordings"
    day = model.group_index("SITEA", "2024-05-18")
    assert day.data() == "2024-05-18 (2)" and day.siblingAtColumn(DURATION).data() == "0.3 h"
    assert [model.index(row, FILE, day).data() for row in range(model.rowCount(day))] == [
        "SITEA_20240518_040000.wav",
        "SITEA_20240518_200000.wav",
    ]
    assert "2 recording(s), 0.3 h recorded" in day.data(Qt.ItemDataRole.ToolTipRole)
    assert panel.is_open("SITEA") and panel.is_open("SITEA", "2024-05-18")  # few recordings: all open
    # a recording's own row, as before
    path = _path(window, "SITEB_20240520_050000.wav")
    assert panel.text(path, "Site") == "SITEB" and panel.text(path, "Start") == "2024-05-20 05:00:00"
    assert panel.text(path, "Duration") == "0:10:00" and panel.status_text(path) == "OK"
    # flat: one row per recording, in the order given (the project's, by path)
    window.selection_bar.grouped.setChecked(False)
    assert model.rowCount() == len(RECORDINGS) and model.hasChildren(model.index(0, 0)) is False
    window.selection_bar.grouped.setChecked(True)
    assert model.rowCount() == 3 and panel.is_open("SITEA")


def test_picking_a_recording_opens_it_and_enter_opens_a_group(window: MainWindow, qtbot) -> None:
    panel, model = window.recordings_panel, window.recordings_panel.recordings_model
    target = _path(window, "SITEB_20240518_040000.wav")
    panel.setFocus()
    panel.setCurrentIndex(model.index_of(target))
    qtbot.waitUntil(lambda: window.current is not None and window.current.path == target)
    group = model.group_index("SITEB", "2024-05-20")
    panel.setCurrentIndex(group)
    qtbot.keyClick(panel, Qt.Key.Key_Return)
    assert not panel.isExpanded(group)
    qtbot.keyClick(panel, Qt.Key.Key_Return)
    assert panel.isExpanded(group)
    assert window.current.path == target  # a group is not a recording
    other = _path(window, "20240519_060000.wav")
    panel.setCurrentIndex(model.index_of(other))
    qtbot.keyClick(panel, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: window.current.path == other)


def test_filters_narrow_the_tree_and_say_why_nothing_is_left(window: MainWindow) -> None:
    bar, model = window.selection_bar, window.recordings_panel.recordings_model
    assert bar.site.findText("SITEA") > 0 and bar.site.findText("SITEB") > 0  # the project's sites offered
    assert bar.set_fields(sites="SITEA")
    assert set(model.groups()) == {"SITEA"} and model.shown == 3
    assert bar.summary.text() == "3 of 7 recordings (0.5 h): site SITEA"
    assert bar.set_fields(sites="SITEA, SITEB", date_from="2024-05-19")
    assert model.groups() == {"SITEA": {"2024-05-19": (1, H1)}, "SITEB": {"2024-05-20": (1, H1)}}
    assert bar.set_fields(hours="19-21")  # the evening recording only
    assert model.shown_paths() == [_path(window, "SITEA_20240518_200000.wav")]
    assert bar.set_fields(hours="22-04:05")  # past midnight: the 04:00 recordings reach into it
    assert model.shown == 3 and "SITEA_20240518_200000.wav" not in {p.name for p in model.shown_paths()}
    assert not bar.set_fields(date_from="2024-13-01")  # not a date: said, the filter kept as it was
    assert "expected a date" in bar.summary.text() and model.shown == 3
    assert bar.set_fields(sites="NOPE")
    assert model.shown == 0 and "no recordings at site NOPE" in bar.summary.text()
    assert "SITEA" in bar.summary.text()  # the sites there are
    bar.clear()
    assert model.shown == len(RECORDINGS) and bar.summary.text() == ""


def test_labels_table_and_review_queue_follow_the_filter(window: MainWindow, qtbot) -> None:
    labels, review = window.labeling.panel, window.review
    window.show_recording(_path(window, "SITEB_20240520_050000.wav"))
    assert labels.row_count() == 2 and labels.table.isColumnHidden(0)  # the recording on screen
    review.reload()
    assert len(review.queue) == sum(RECORDINGS.values())
    window.selection_bar.set_fields(sites="SITEA", date_from="2024-05-18", date_to="2024-05-18")
    _settle(qtbot, window)
    chosen = {
        window.project.recording_by_path(_path(window, name)).id for name in RECORDINGS if "SITEA_20240518" in name
    }
    assert labels.row_count() == 4 and not labels.table.isColumnHidden(0)
    assert {labels.annotation_at(row).recording_id for row in range(labels.row_count())} == chosen
    assert labels.scope.text() == "Labels in site SITEA; 2024-05-18 to 2024-05-18: 4"
    assert len(review.queue) == 4 + 2 and {c.recording_id for c in review.queue} == chosen
    assert review.panel.counter.text() == "0 of 6 reviewed"
    # the hours are judged per moment: the evening recording's labels and windows
    window.selection_bar.set_fields(sites="SITEA", date_to="2024-05-18", hours="20-21")
    _settle(qtbot, window)
    assert [labels.annotation_at(row).species for row in range(labels.row_count())] == ["sp1", "sp2"]
    assert len(review.queue) == 2
    window.selection_bar.clear()
    _settle(qtbot, window)
    assert labels.row_count() == 2 and labels.table.isColumnHidden(0) and not labels.scope.isVisible()
    assert len(review.queue) == sum(RECORDINGS.values())


def test_summary_by_site_and_time_shows_the_numbers_and_exports_png_and_svg(
    window: MainWindow, qtbot, tmp_path: Path
) -> None:
    dialog = window.open_season_summary()
    qtbot.waitUntil(lambda: dialog.season is not None and not dialog.pending, timeout=30000)
    season = dialog.season
    assert season.species == "sp1" and season.species_list[0] == ("sp1", sum(RECORDINGS.values()) - 7)
    assert season.sites == ["SITEA", "SITEB", "(no site)"]
    assert season.dates == ["2024-05-18", "2024-05-19", "2024-05-20"]
    nan = np.nan
    expected = np.array(
        [
            [(4 + 2) / (2 * HOURS), 6 / HOURS, nan],
            [1 / HOURS, nan, 3 / HOURS],
            [nan, 5 / HOURS, nan],
        ]
    )
    np.testing.assert_allclose(dialog.heat_values, expected)
    np.testing.assert_allclose(dialog.heat_image.image, expected)  # what is drawn
    dialog.value.setCurrentIndex(1)  # detections
    np.testing.assert_allclose(dialog.heat_values, [[6, 6, nan], [1, nan, 3], [nan, 5, nan]])
    assert [item.toPlainText() for item in dialog._cell_text] == ["6", "6", "1", "3", "5"]
    assert dialog.diel_per_hour_shown()[4] == pytest.approx((4 + 6 + 1) / (3 * HOURS))
    assert dialog.diel_per_hour_shown()[20] == pytest.approx(2 / HOURS)
    assert "1 recording(s) without a start time left out" in dialog.note.text()
    # the window's filter applies
    window.selection_bar.set_fields(sites="SITEB")
    qtbot.waitUntil(lambda: not dialog.pending and dialog.season.sites == ["SITEB"], timeout=30000)
    np.testing.assert_allclose(dialog.heat_values, [[1, 3]])
    for which in ("heat", "diel"):
        png, svg = dialog.export(which, tmp_path / f"{which}.png"), dialog.export(which, tmp_path / f"{which}.svg")
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 5000
        text = svg.read_text()
        assert "<svg" in text and svg.stat().st_size > 5000
        assert ("SITEB" in text) if which == "heat" else ("hour of the day" in text)
    with pytest.raises(ValueError, match=r"\.png or an \.svg"):
        dialog.export("heat", tmp_path / "heat.jpg")


def test_a_file_that_cannot_be_read_is_marked_in_its_row_and_its_groups(window: MainWindow, tmp_path: Path) -> None:
    panel, model = window.recordings_panel, window.recordings_panel.recordings_model
    missing = (tmp_path / "SITEA_20240521_040000.wav").absolute()
    window.open_paths([missing])
    assert window.wait_until_ready(30)
    assert panel.status_text(missing) == "✖ file not found" and panel.state(missing) == "failed"
    day = model.group_index("SITEA", "2024-05-21")  # placed by its name while it could not be read
    assert day.siblingAtColumn(STATUS).data() == "1 recording, 1 ✖"
    assert model.group_index("SITEA").siblingAtColumn(STATUS).data() == "4 recordings, 1 ✖"
    assert model.index_of(missing).data(Qt.ItemDataRole.ForegroundRole).color().name() == "#d03030"
    before = window.current
    panel.setCurrentIndex(model.index_of(missing))  # a file that cannot be read does not open
    assert window.current is before
