"""File ▸ Export labels (Raven) from the window: measured on a worker thread, with progress, the
same file as ``birdview export --format raven``; a recording that cannot be read is named and its
labels keep their rows without measurements, the others measured."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
from PySide6.QtCore import QSettings, QTimer

from birdview.cli import main as cli
from birdview.formats import transfer
from birdview.gui.main_window import MainWindow
from birdview.gui.project_actions import ExportOutcome
from birdview.store.project import Annotation, Project
from tests.conftest import write_tone_file


@pytest.fixture
def project_folder(tmp_path: Path) -> Path:
    """Two recordings: A with a 4 kHz tone at 8-10 s (two labels), B with a 2 kHz tone (one label)."""
    audio = tmp_path / "audio"
    audio.mkdir()
    a = write_tone_file(audio / "A_20240521_053000.wav", duration_s=20.0)
    b = write_tone_file(audio / "B_20240521_060000.wav", duration_s=20.0, tone_hz=2000.0)
    folder = tmp_path / "project"
    with Project.create(folder, species=["amecro", "norcar"]) as project:
        project.add_recordings([a, b])
        rows = {Path(r.path).name: r for r in project.recordings()}
        project.add_annotations(
            [
                Annotation(rows[a.name].id, 8.0, 10.0, 2000.0, 6000.0, "amecro"),
                Annotation(rows[a.name].id, 1.0, 2.0, None, None, "norcar"),
                Annotation(rows[b.name].id, 8.0, 10.0, 1000.0, 3000.0, "norcar"),
            ]
        )
    return folder


@pytest.fixture
def window(qtbot, tmp_path: Path, project_folder: Path, fake_streams):
    settings = QSettings(str(tmp_path / "birdview.ini"), QSettings.Format.IniFormat)
    win = MainWindow(settings=settings, stream_factory=fake_streams)
    qtbot.addWidget(win)
    win.show()
    win.open_project(project_folder)
    assert win.project is not None and len(win.project.annotations()) == 3
    yield win
    win.shutdown()


def _table(path: Path) -> list[dict[str, str]]:
    header, *lines = path.read_text().splitlines()
    names = header.split("\t")
    return [dict(zip(names, line.split("\t"), strict=True)) for line in lines]


def _export(window: MainWindow, qtbot, out: Path, **options) -> ExportOutcome:
    actions = window.project_actions
    worker = actions.export_labels("raven", out, whole_project=True, **options)
    assert worker is not None
    qtbot.waitUntil(lambda: not actions.exporting, timeout=30000)
    return actions.last_export


def test_gui_export_measures_on_a_worker_and_writes_what_the_cli_writes(window, qtbot, tmp_path, monkeypatch) -> None:
    measured_on: set[str] = set()
    measure = transfer.measure_boxes

    def slow_measure(recording, boxes):  # long enough for the window to run meanwhile
        measured_on.add(threading.current_thread().name)
        time.sleep(0.3)
        return measure(recording, boxes)

    monkeypatch.setattr(transfer, "measure_boxes", slow_measure)
    ticks: list[float] = []
    timer = QTimer()
    timer.timeout.connect(lambda: ticks.append(time.monotonic()))
    timer.start(20)
    progress: list[tuple[int, int]] = []
    actions = window.project_actions
    worker = actions.export_labels("raven", tmp_path / "gui.txt", whole_project=True)
    worker.progress.connect(progress.append)
    assert actions.export_bar.isVisible() and actions.cancel_export_button.isVisible()
    started = time.monotonic()
    qtbot.waitUntil(lambda: not actions.exporting, timeout=30000)
    timer.stop()
    took = time.monotonic() - started
    assert took >= 0.8  # three labels at 0.3 s each
    # The GUI thread kept running its timers while the labels were measured elsewhere.
    assert threading.main_thread().name not in measured_on and measured_on
    assert len(ticks) >= took / 0.02 / 4
    assert progress and progress[-1] == (3, 3)
    assert not actions.export_bar.isVisible() and not actions.cancel_export_button.isVisible()
    outcome = actions.last_export
    assert outcome.written == [tmp_path / "gui.txt"] and outcome.problems == [] and outcome.labels == 3
    assert "3 label(s) exported to 1 file(s)" in window.statusBar().currentMessage()

    monkeypatch.setattr(transfer, "measure_boxes", measure)
    assert (
        cli(
            ["export", "--project", str(window.project.folder), "--format", "raven", "--out", str(tmp_path / "cli.txt")]
        )
        == 0
    )
    assert (tmp_path / "gui.txt").read_text() == (tmp_path / "cli.txt").read_text()
    rows = _table(tmp_path / "gui.txt")
    assert len(rows) == 3
    tone = next(r for r in rows if r["Species"] == "amecro")
    assert float(tone["Peak Freq (Hz)"]) == pytest.approx(4000, abs=70)
    assert float(tone["Delta Time (s)"]) == pytest.approx(2.0)
    for column in ("Center Freq (Hz)", "Freq 5% (Hz)", "Freq 95% (Hz)", "BW 90% (Hz)", "Energy (dB FS)"):
        assert all(r[column] for r in rows), column
    assert float(next(r for r in rows if r["Low Freq (Hz)"] == "1000.000")["Peak Freq (Hz)"]) == pytest.approx(
        2000, abs=70
    )


def test_an_unreadable_recording_is_named_and_the_others_still_measured(window, qtbot, tmp_path) -> None:
    (tmp_path / "audio" / "B_20240521_060000.wav").unlink()
    outcome = _export(window, qtbot, tmp_path / "labels.txt", show_problems=True)
    rows = _table(tmp_path / "labels.txt")
    assert len(rows) == 3  # every label has its row
    measured = [r for r in rows if "A_2024" in r["Begin Path"]]
    missing = [r for r in rows if "B_2024" in r["Begin Path"]]
    assert len(measured) == 2 and all(r["Peak Freq (Hz)"] for r in measured)
    assert len(missing) == 1 and missing[0]["Peak Freq (Hz)"] == "" and missing[0]["Energy (dB FS)"] == ""
    assert len(outcome.problems) == 1 and list(outcome.unreadable.values()) == ["file not found"]
    message = window.statusBar().currentMessage()
    assert "3 label(s) exported" in message
    assert "1 label(s) without measurements: B_20240521_060000.wav cannot be read (file not found)" in message
    box = window.project_actions.problem_box
    assert box is not None and box.isVisible()
    assert str(tmp_path / "audio" / "B_20240521_060000.wav") in box.text() and "file not found" in box.text()
    box.close()


def test_a_cancelled_export_writes_nothing(window, qtbot, tmp_path, monkeypatch) -> None:
    measure = transfer.measure_boxes
    monkeypatch.setattr(transfer, "measure_boxes", lambda r, boxes: time.sleep(0.3) or measure(r, boxes))
    actions = window.project_actions
    worker = actions.export_labels("raven", tmp_path / "labels.txt", whole_project=True)
    worker.progress.connect(lambda _value: actions.cancel_export_button.click())
    qtbot.waitUntil(lambda: not actions.exporting, timeout=30000)
    assert actions.last_export.cancelled and not (tmp_path / "labels.txt").exists()
    assert window.statusBar().currentMessage() == "Export cancelled; nothing was written"
    assert list(tmp_path.glob("labels*")) == []
