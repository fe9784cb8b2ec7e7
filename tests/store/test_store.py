from __future__ import annotations

import shutil
import signal
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from birdview.store.project import Annotation, Project, ProjectError
from birdview.store.schema import MIGRATIONS, SCHEMA_VERSION
from tests.conftest import write_tone_file

SPECIES = ["amecro", "barswa", "comkin"]


@pytest.fixture
def project(tmp_path: Path) -> Project:
    project = Project.create(tmp_path / "proj", species=SPECIES)
    yield project
    project.close()


@pytest.fixture
def recording(project: Project, tmp_path: Path):
    added, problems = project.add_recordings([write_tone_file(tmp_path / "SITE_20240521_053000.wav", duration_s=30)])
    assert problems == []
    return added[0]


def test_new_project_database_settings(project: Project) -> None:
    assert project.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert project.db.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    assert project.db.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()[0] == str(SCHEMA_VERSION)
    assert project.species_codes() == SPECIES


def test_adding_recordings_records_what_the_panel_shows(project: Project, tmp_path: Path, recording) -> None:
    assert recording.duration_s == pytest.approx(30.0)
    assert recording.sample_rate == 32000 and recording.channels == 1
    assert recording.start_time == "2024-05-21T05:30:00"
    assert len(recording.content_hash) == 40
    (tmp_path / "broken.wav").write_bytes(b"nope")
    added, problems = project.add_recordings([tmp_path / "broken.wav", recording.path])
    assert added == [] and len(problems) == 1 and "broken.wav: not a readable audio file" in problems[0]
    assert len(project.recordings()) == 1


def test_labels_are_stored_filtered_and_validated(project: Project, recording) -> None:
    a = project.add_annotation(Annotation(recording.id, 1.0, 2.0, 2000, 5000, "amecro"))
    b = project.add_annotation(Annotation(recording.id, 10.0, 12.0, species="barswa", kind="hard_negative"))
    assert a.id and b.id and a.created_at
    assert [x.id for x in project.annotations(recording_id=recording.id, start_s=1.5, end_s=9.0)] == [a.id]
    assert [x.id for x in project.annotations(kind="hard_negative")] == [b.id]
    assert project.annotation(b.id).whole_band
    with pytest.raises(ProjectError, match="unknown species 'zzz'"):
        project.add_annotation(Annotation(recording.id, 1, 2, species="zzz"))
    with pytest.raises(ProjectError, match="cannot end"):
        project.add_annotation(Annotation(recording.id, 5, 2, species="amecro"))
    with pytest.raises(ProjectError, match="kind must be"):
        project.update_annotation(a.id, kind="maybe")
    assert project.annotation(a.id).kind == "call"  # the refused edit changed nothing


def test_undo_redo_over_edits_batches_and_imports(project: Project, recording) -> None:
    a = project.add_annotation(Annotation(recording.id, 1.0, 2.0, species="amecro"))
    project.update_annotation(a.id, species="barswa", low_hz=1000.0, high_hz=3000.0)
    imported = project.import_annotations(
        [Annotation(recording.id, t, t + 1, species="comkin", source="import") for t in (5.0, 7.0, 9.0)]
    ).added
    project.update_annotations([x.id for x in imported], "confirm all", status="confirmed")
    project.delete_annotations([a.id])
    assert project.count_annotations() == 3

    assert project.undo() == "delete labels"
    assert project.annotation(a.id).species == "barswa"
    assert project.undo() == "confirm all"
    assert {x.status for x in project.annotations(species="comkin")} == {"unreviewed"}
    assert project.undo() == "import"
    assert project.count_annotations() == 1
    assert project.undo() == "edit label"
    restored = project.annotation(a.id)
    assert (restored.species, restored.low_hz) == ("amecro", None)
    assert project.redo() == "edit label"
    assert project.redo() == "import"
    assert project.count_annotations() == 4
    assert project.redo() == "confirm all"
    assert {x.status for x in project.annotations(species="comkin")} == {"confirmed"}
    project.add_annotation(Annotation(recording.id, 20, 21, species="amecro"))
    assert project.redo() is None  # a new edit ends the redo history


def test_undone_state_is_on_disk(project: Project, recording, tmp_path: Path) -> None:
    a = project.add_annotation(Annotation(recording.id, 1.0, 2.0, species="amecro"))
    project.delete_annotations([a.id])
    project.undo()
    with Project.open(project.folder) as again:
        assert again.annotation(a.id).species == "amecro"


def test_importing_the_same_labels_twice_adds_nothing(project: Project, recording) -> None:
    labels = [Annotation(recording.id, 1.0, 2.0, 100.0, 900.0, "amecro", source="import")]
    assert len(project.import_annotations(labels).added) == 1
    again = project.import_annotations(labels)
    assert again.added == [] and again.duplicates == 1
    assert project.count_annotations() == 1


def test_migration_from_the_first_schema(tmp_path: Path) -> None:
    folder = tmp_path / "old"
    folder.mkdir()
    connection = sqlite3.connect(folder / "project.sqlite")
    connection.executescript(MIGRATIONS[0])
    connection.execute("INSERT INTO meta VALUES ('schema_version', '1')")
    connection.execute("INSERT INTO species(code) VALUES ('amecro')")
    connection.execute(
        "INSERT INTO recordings(path, name, size, content_hash, duration_s, sample_rate, channels, added_at) "
        "VALUES ('/x.wav', 'x.wav', 1, 'h', 10, 32000, 1, 't')"
    )
    connection.execute(
        "INSERT INTO annotations(recording_id, start_s, end_s, species, kind, status, source, created_at, updated_at) "
        "VALUES (1, 1.5, 2.5, 'amecro', 'call', 'confirmed', 'user', 't', 't')"
    )
    connection.commit()
    connection.close()
    with Project.open(folder) as project:
        assert project.db.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()[0] == str(
            SCHEMA_VERSION
        )
        (label,) = project.annotations()
        assert (label.start_s, label.species, label.status, label.note, label.channel) == (
            1.5,
            "amecro",
            "confirmed",
            None,
            None,
        )
        assert project.recordings()[0].site is None
        project.update_annotation(label.id, note="faint")
        assert project.annotation(label.id).note == "faint"


def test_relink_finds_moved_recordings_by_name_and_hash(project: Project, recording, tmp_path: Path) -> None:
    moved = tmp_path / "archive" / "2024"
    moved.mkdir(parents=True)
    shutil.move(recording.path, moved / recording.name)
    decoy = tmp_path / "archive" / "decoy"
    decoy.mkdir()
    write_tone_file(decoy / recording.name, duration_s=5)  # same name, other content: not it
    assert project.missing_recordings() == [recording]
    relinked = project.relink([tmp_path / "archive"])
    assert relinked == [(recording, moved / recording.name)]
    assert project.missing_recordings() == []


def test_a_full_disk_refuses_the_edit_and_keeps_what_was_saved(project: Project, recording) -> None:
    saved = project.add_annotation(Annotation(recording.id, 1.0, 2.0, species="amecro"))
    pages = project.db.execute("PRAGMA page_count").fetchone()[0]
    project.db.execute(f"PRAGMA max_page_count = {pages}")
    many = [Annotation(recording.id, float(t), t + 0.5, species="barswa", note="x" * 2000) for t in range(200)]
    with pytest.raises(ProjectError, match=r"full.*nothing of it was saved"):
        project.add_annotations(many)
    project.db.execute("PRAGMA max_page_count = 1073741823")
    assert [a.id for a in project.annotations()] == [saved.id]


CRASH_SCRIPT = textwrap.dedent(
    """
    import sys, time
    from birdview.store.project import Annotation, Project
    project = Project.open(sys.argv[1])
    recording = project.recordings()[0]
    for i in range(100000):
        label = project.add_annotation(Annotation(recording.id, i * 0.01, i * 0.01 + 0.5, species="amecro"))
        print(label.id, flush=True)
    """
)


def test_labels_reported_made_survive_sigkill(project: Project, recording, tmp_path: Path) -> None:
    script = tmp_path / "edit.py"
    script.write_text(CRASH_SCRIPT)
    process = subprocess.Popen(
        [sys.executable, str(script), str(project.folder)],
        stdout=subprocess.PIPE,
        text=True,
        cwd=Path(__file__).resolve().parents[2],
    )
    reported = []
    for line in process.stdout:
        reported.append(int(line))
        if len(reported) == 300:
            process.send_signal(signal.SIGKILL)
            break
    process.wait()
    reported += [int(line) for line in process.stdout.read().split()]  # anything printed before it died
    with Project.open(project.folder) as reopened:
        stored = {a.id for a in reopened.annotations()}
    assert len(reported) >= 300
    assert set(reported) <= stored


def test_models_and_predictions_round_trip(project: Project, recording) -> None:
    import numpy as np

    first = project.register_model("/models/v1.ckpt", SPECIES, {"n_mels": 128}, metrics={"roc_auc": 0.8})
    second = project.register_model("/models/v2.ckpt", SPECIES, parent=first.version, activate=True)
    assert project.active_model().version == second.version and second.parent == first.version
    project.activate_model(first.version)
    assert [m.active for m in project.models()] == [True, False]
    scores = np.random.default_rng(0).random((1500, 3)).astype(np.float32)
    project.store_predictions(first.version, recording.id, scores)
    assert project.scored_windows(first.version, recording.id) == 1500
    start, part = project.predictions(first.version, recording.id, 3600.0, 3700.0)  # windows 720..740
    assert start == 720 and part.shape == (21, 3)
    np.testing.assert_allclose(part, scores[720:741], atol=1e-3)
    whole = project.predictions(first.version, recording.id)[1]
    assert whole.shape == (1500, 3)
    with pytest.raises(ProjectError, match="predictions must be"):
        project.store_predictions(first.version, recording.id, np.zeros((4, 5)))


def test_a_moved_project_keeps_its_retrained_models(tmp_path: Path) -> None:
    """Models and logs written inside the project folder are found after the folder moves;
    a model file outside it keeps its own path."""
    outside = tmp_path / "downloads" / "base.ckpt"
    outside.parent.mkdir()
    outside.write_bytes(b"base")
    with Project.create(tmp_path / "here" / "project", species=[]) as project:
        run = project.folder / "jobs" / "20261130-060000" / "run"
        run.mkdir(parents=True)
        (run / "best.ckpt").write_bytes(b"retrained")
        (run.parent / "log.txt").write_text("epoch 1")
        project.register_model(outside, ["a"])
        project.register_model(run / "best.ckpt", ["a"], parent=1, log_path=str(run.parent / "log.txt"))
    shutil.move(tmp_path / "here" / "project", tmp_path / "project-moved")
    with Project.open(tmp_path / "project-moved") as moved:
        base, retrained = moved.models()
        assert base.path == outside
        assert retrained.path == tmp_path / "project-moved" / "jobs" / "20261130-060000" / "run" / "best.ckpt"
        assert retrained.path.read_bytes() == b"retrained"
        assert Path(retrained.log_path).read_text() == "epoch 1"
