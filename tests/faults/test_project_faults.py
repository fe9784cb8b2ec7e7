"""Damaged, empty, foreign and incomplete project databases: refused with a message naming the
file and the way out, never rebuilt or written into; backups and `birdview recover`."""

from __future__ import annotations

import hashlib
import os
import shutil
import sqlite3
from pathlib import Path

import pytest

from birdview.cli import main
from birdview.store import integrity
from birdview.store.project import DATABASE, Annotation, Project, ProjectDamagedError, ProjectError
from tests.conftest import write_tone_file


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def recording(tmp_path: Path) -> Path:
    return write_tone_file(tmp_path / "rec.wav", duration_s=30.0)


def _project_with_labels(folder: Path, recording: Path, count: int = 40) -> Project:
    project = Project.create(folder, species=["amecro", "barswa"])
    project.add_recordings([recording])
    rid = project.recordings()[0].id
    for i in range(count):
        project.add_annotation(Annotation(rid, i * 0.5, i * 0.5 + 0.4, species="amecro", note="n" * 200))
    return project


def _corrupt_annotations(database: Path) -> None:
    """Overwrite the middle of the annotations table's root page, keeping the file's size and time."""
    connection = sqlite3.connect(str(database))
    root = connection.execute("SELECT rootpage FROM sqlite_master WHERE name = 'annotations'").fetchone()[0]
    page_size = connection.execute("PRAGMA page_size").fetchone()[0]
    connection.close()
    status = database.stat()
    with open(database, "r+b") as handle:
        handle.seek((root - 1) * page_size + 8)
        handle.write(b"\xff" * 64)
    os.utime(database, ns=(status.st_atime_ns, status.st_mtime_ns))


def _run(argv: list[str], capsys) -> tuple[int, str, str]:
    code = main(argv)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"", "empty, 0 bytes"),
        (b"this is a text file, not a database\n" * 10, "not an SQLite database"),
    ],
)
def test_an_empty_or_foreign_file_is_refused_and_left_as_it_is(tmp_path, recording, capsys, content, reason) -> None:
    folder = tmp_path / "project"
    folder.mkdir()
    (folder / DATABASE).write_bytes(content)
    code, _, err = _run(["add", "--project", str(folder), str(recording)], capsys)
    assert code == 2
    assert "not a birdview project or damaged" in err and reason in err and DATABASE in err
    assert (folder / DATABASE).read_bytes() == content
    with pytest.raises(ProjectDamagedError, match="not a birdview project or damaged"):
        Project.open(folder, create=True)
    assert (folder / DATABASE).read_bytes() == content


def test_another_programs_sqlite_database_is_not_turned_into_a_project(tmp_path, capsys) -> None:
    folder = tmp_path / "project"
    folder.mkdir()
    connection = sqlite3.connect(str(folder / DATABASE))
    connection.execute("CREATE TABLE photos (id INTEGER PRIMARY KEY, name TEXT)")
    connection.commit()
    connection.close()
    before = _digest(folder / DATABASE)
    out = tmp_path / "o.csv"
    code, _, err = _run(["export", "--project", str(folder), "--format", "perch", "--out", str(out)], capsys)
    assert code == 2 and "photos" in err
    assert _digest(folder / DATABASE) == before


def test_a_damaged_page_is_refused_with_the_way_out_and_nothing_is_written(tmp_path, recording, capsys) -> None:
    folder = tmp_path / "project"
    with _project_with_labels(folder, recording) as project:
        project.start_backup().join()
    _corrupt_annotations(folder / DATABASE)
    # A new process state: the file was never checked by "this" process in its damaged form.
    integrity._verified.clear()
    before = _digest(folder / DATABASE)
    code, _, err = _run(["add", "--project", str(folder), str(write_tone_file(tmp_path / "b.wav"))], capsys)
    assert code == 2
    assert str(folder / DATABASE) in err and "damaged" in err
    assert f"birdview recover --project {folder}" in err
    assert "Traceback" not in err
    assert _digest(folder / DATABASE) == before


def test_damage_found_while_open_stops_every_later_write(tmp_path, recording) -> None:
    folder = tmp_path / "project"
    _project_with_labels(folder, recording).close()
    Project.open(folder).close()  # checked once in this process
    _corrupt_annotations(folder / DATABASE)  # e.g. a bad sector later: same size and time
    project = Project.open(folder)
    before = _digest(folder / DATABASE)
    with pytest.raises(ProjectDamagedError, match=r"damaged.*no backup"):
        project.annotations()
    rid = project.recordings()[0].id
    with pytest.raises(ProjectDamagedError):
        project.add_annotation(Annotation(rid, 1.0, 2.0, species="amecro"))
    project.close()
    assert _digest(folder / DATABASE) == before


def test_a_truncated_database_is_refused_and_recover_restores_the_last_backup(tmp_path, recording, capsys) -> None:
    folder = tmp_path / "project"
    with _project_with_labels(folder, recording, count=40) as project:
        project.start_backup().join()
        saved_labels = project.count_annotations()
    database = folder / DATABASE
    database.write_bytes(database.read_bytes()[: database.stat().st_size // 2])
    truncated = _digest(database)
    integrity._verified.clear()
    with pytest.raises(ProjectDamagedError, match="recover"):
        Project.open(folder)

    code, out, _ = _run(["recover", "--project", str(folder)], capsys)
    assert code == 0 and "40 label(s)" in out
    moved = [p for p in folder.glob("damaged-*/" + DATABASE)]
    assert len(moved) == 1 and _digest(moved[0]) == truncated  # kept, never deleted
    with Project.open(folder) as project:
        assert project.count_annotations() == saved_labels


def test_recover_without_a_backup_says_so_and_changes_nothing(tmp_path, recording, capsys) -> None:
    folder = tmp_path / "project"
    _project_with_labels(folder, recording, count=3).close()
    database = folder / DATABASE
    database.write_bytes(database.read_bytes()[:3000])
    before = _digest(database)
    code, _, err = _run(["recover", "--project", str(folder)], capsys)
    assert code == 2 and "no usable backup" in err
    assert _digest(folder / DATABASE) == before


def test_edits_lost_with_the_write_ahead_log_are_noticed(tmp_path, recording, capsys) -> None:
    folder = tmp_path / "project"
    project = _project_with_labels(folder, recording, count=5)  # left open: the edits are in the -wal
    assert (folder / (DATABASE + "-wal")).stat().st_size > 0
    copy = tmp_path / "copied"
    copy.mkdir()
    shutil.copy(folder / DATABASE, copy / DATABASE)  # copied without its -wal
    shutil.copy(folder / (DATABASE + ".edits"), copy / (DATABASE + ".edits"))
    project.close()

    with pytest.raises(ProjectDamagedError, match=r"saved edit\(s\) are missing.*-wal"):
        Project.open(copy)
    code, _, err = _run(["add", "--project", str(copy), str(recording)], capsys)
    assert code == 2 and "--keep-current" in err
    code, out, _ = _run(["recover", "--project", str(copy), "--keep-current"], capsys)
    assert code == 0 and "kept the current database" in out
    with Project.open(copy) as kept:
        assert kept.count_annotations() < 5


def test_backups_are_made_every_so_many_edits_and_only_the_newest_are_kept(tmp_path, recording, monkeypatch) -> None:
    monkeypatch.setattr(integrity, "BACKUP_EVERY_EDITS", 4)
    monkeypatch.setattr(integrity, "KEEP_BACKUPS", 3)
    folder = tmp_path / "project"
    with _project_with_labels(folder, recording, count=24) as project:
        edits = project.edits()
    found = integrity.backups(folder)
    assert len(found) == 3
    assert integrity.backup_edits(found[0]) <= edits
    with sqlite3.connect(str(found[0])) as connection:
        labels = connection.execute("SELECT count(*) FROM annotations").fetchone()[0]
    assert labels == 24  # a backup asked for while one ran followed it: the newest holds everything


def test_a_backup_is_made_at_open_only_when_it_would_hold_something_new(tmp_path, recording) -> None:
    folder = tmp_path / "project"
    _project_with_labels(folder, recording, count=2).close()
    with Project.open(folder) as project:
        project.backup_if_due(min_interval_s=0)
    assert len(integrity.backups(folder)) == 1
    with Project.open(folder) as project:
        project.backup_if_due(min_interval_s=0)
    assert len(integrity.backups(folder)) == 1  # nothing new: no second copy
    with Project.open(folder) as project:
        project.add_annotation(Annotation(project.recordings()[0].id, 9.0, 9.5, species="barswa"))
        project.backup_if_due(min_interval_s=0)
    assert len(integrity.backups(folder)) == 2


def test_a_project_being_created_when_the_process_dies_leaves_no_half_made_database(tmp_path) -> None:
    folder = tmp_path / "project"
    folder.mkdir()
    # What a killed creation leaves: only the temporary file, which the next open ignores.
    (folder / f".{DATABASE}.99999.new").write_bytes(b"SQLite format 3\x00" + b"\x00" * 100)
    with Project.create(folder, species=["amecro"]) as project:
        assert project.species_codes() == ["amecro"]


def test_the_window_names_a_damaged_project_and_keeps_running(qtbot, tmp_path, recording) -> None:
    from PySide6.QtCore import QSettings
    from PySide6.QtWidgets import QMessageBox

    from birdview.gui.main_window import MainWindow

    folder = tmp_path / "project"
    _project_with_labels(folder, recording, count=3).close()
    database = folder / DATABASE
    database.write_bytes(database.read_bytes()[:1500])
    before = _digest(database)
    integrity._verified.clear()
    window = MainWindow(settings=QSettings(str(tmp_path / "b.ini"), QSettings.Format.IniFormat))
    qtbot.addWidget(window)
    window.show()
    assert window.open_project(folder) is None
    assert window.project is None
    box = window.findChild(QMessageBox, "project_problem")
    assert box is not None and box.isVisible()
    assert str(database) in box.text() and "damaged" in box.text()
    assert _digest(database) == before
    with pytest.raises(ProjectError):
        Project.open(folder)


def test_recover_leaves_a_whole_project_alone_unless_a_backup_is_named(tmp_path, recording, capsys) -> None:
    folder = tmp_path / "project"
    with _project_with_labels(folder, recording, count=2) as project:
        project.start_backup().join()
        rid = project.recordings()[0].id
        for i in range(3):  # edits the backup does not hold
            project.add_annotation(Annotation(rid, 20.0 + i, 20.5 + i, species="barswa"))
    before = _digest(folder / DATABASE)
    code, _, err = _run(["recover", "--project", str(folder)], capsys)
    assert code == 2 and "whole" in err and "--backup FILE" in err
    assert _digest(folder / DATABASE) == before and not list(folder.glob("damaged-*"))

    backup = integrity.backups(folder)[0]
    code, out, _ = _run(["recover", "--project", str(folder), "--backup", str(backup)], capsys)
    assert code == 0 and "2 label(s)" in out and "3 saved edit(s) behind" in out
    with Project.open(folder) as project:
        assert project.count_annotations() == 2
