"""Retrain (full) with the project's unlabelled recordings: which recordings it takes, what it
tells the trainer, and the time it says the options add before the job starts."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import pytest

from birdview.audio.recording import RecordingInfo
from birdview.jobs import soundscapes
from birdview.jobs.child_process import DONE, ChildProcessJob, JobState
from birdview.jobs.soundscapes import (
    DEFAULT_CLIP_EPOCH_S,
    DEFAULT_SCORING_WINDOWS_PER_S,
    SoundscapeOptions,
    estimate_full_retrain,
    trainer_arguments,
    unlabelled_recordings,
)
from birdview.store.project import Annotation, Project, ProjectError


def _recording(project: Project, folder: Path, name: str, hours: float, exists: bool = True):
    path = folder / f"{name}.wav"
    path.touch()
    info = RecordingInfo(path, hours * 3600, 48000, 1, int(hours * 3600 * 48000), "WAV", datetime(2024, 5, 1))
    row = project.add_probed(info, f"hash-{name}")
    if not exists:  # moved away since it was added
        path.unlink()
    return row


@pytest.fixture
def project(tmp_path: Path):
    with Project.create(tmp_path / "project", species=["wren"]) as project:
        project.register_model("m.ckpt", ["wren"], window_s=5.0, hop_s=5.0, activate=True)
        labelled = [_recording(project, tmp_path, f"labelled{i}", 0.5) for i in range(4)]
        for recording in labelled:  # 10 calls in each; site0 has an imported, unreviewed label (not for training)
            project.add_annotations(
                [Annotation(recording.id, 10.0 * i, 10.0 * i + 5, species="wren") for i in range(10)]
            )
        site = [_recording(project, tmp_path, f"site{i}", hours) for i, hours in enumerate((2.0, 1.0))]
        project.add_annotation(Annotation(site[0].id, 0, 5, species="wren", source="import"))
        _recording(project, tmp_path, "moved", 3.0, exists=False)
        yield project


def test_the_unlabelled_recordings_are_those_without_training_labels_on_disk(project: Project) -> None:
    assert [r.name for r in unlabelled_recordings(project)] == ["site0.wav", "site1.wav"]
    folder = project.folder / "jobs" / "j"
    arguments, count = trainer_arguments(project, SoundscapeOptions(background=True, pseudo_round=True), folder)
    listing = folder / "unlabelled.txt"
    assert arguments == ["--background-dir", str(listing), "--rounds", "1", "--unlabelled", str(listing)]
    assert count == 2 and listing.read_text().splitlines() == [str(r.path) for r in unlabelled_recordings(project)]
    assert trainer_arguments(project, SoundscapeOptions(background=True), folder)[0] == [
        "--background-dir",
        str(listing),
    ]
    assert trainer_arguments(project, SoundscapeOptions(), folder) == ([], 0)


def test_without_unlabelled_recordings_the_options_are_refused(project: Project) -> None:
    for recording in unlabelled_recordings(project):
        project.add_annotation(Annotation(recording.id, 0, 5, kind="hard_negative"))
    with pytest.raises(ProjectError, match="need unlabelled recordings"):
        trainer_arguments(project, SoundscapeOptions(pseudo_round=True), project.folder / "jobs" / "j")


def test_the_estimate_counts_clips_epochs_and_windows(project: Project) -> None:
    expected = estimate_full_retrain(project, epochs=8)
    clips = 30  # 40 calls in 4 recordings, one recording held out
    assert expected.fit_s == pytest.approx(clips * 8 * DEFAULT_CLIP_EPOCH_S)
    assert expected.basis.startswith("rough")
    assert expected.windows_to_score == 3 * 3600 // 5 and expected.unlabelled_hours == pytest.approx(3.0)
    scoring = 3 * 3600 / 5 / DEFAULT_SCORING_WINDOWS_PER_S
    assert expected.pseudo_s == pytest.approx((scoring + expected.fit_s, scoring + 2 * expected.fit_s))
    assert 0 < expected.background_s < 0.1 * expected.fit_s
    text = expected.describe(SoundscapeOptions(background=True, pseudo_round=True))
    assert "2 unlabelled recording(s) (3.0 h of audio)" in text and "scores 2,160 windows" in text
    assert text.endswith("then trains again: adds about 2 min. In all: about 2 min.")
    assert expected.describe(SoundscapeOptions()).count("about") == 1  # the plain fit only
    background_only = expected.describe(SoundscapeOptions(background=True))
    assert "pseudo-label" not in background_only and background_only.endswith("In all: about 22 s.")
    assert expected.added_s(SoundscapeOptions(background=True)) == (expected.background_s, expected.background_s)


def test_without_labels_the_estimate_says_so(tmp_path: Path) -> None:
    with Project.create(tmp_path / "empty", species=["wren"]) as project:
        _recording(project, tmp_path, "site", 1.0)
        expected = estimate_full_retrain(project, epochs=8)
    assert expected.clips == 0
    assert expected.describe(SoundscapeOptions(background=True)).startswith("No labels to train on yet")


def test_the_estimate_is_timed_from_the_last_full_retrain(project: Project) -> None:
    labels = [a.id for a in project.annotations() if a.source == "user"]
    held_out = [project.recordings()[0].id]
    job = ChildProcessJob(project.folder / "jobs" / "20240101-000000")
    job.folder.mkdir(parents=True)
    trained = sum(1 for a in project.annotations_by_id(labels) if a.recording_id not in held_out)
    job.write_state(
        JobState(
            DONE,
            ["python", "-m", "trainer.cli", "fit", "--epochs", "5"],
            started_at=1000.0,
            finished_at=1000.0 + trained * 5 * 0.5,  # 0.5 s per clip and epoch
            extra={"mode": "full", "labels": labels, "valid_recordings": held_out},
        )
    )
    expected = estimate_full_retrain(project, epochs=8)
    assert expected.fit_s == pytest.approx(30 * 8 * 0.5)
    assert expected.basis == f"timed from this project's last full retrain, {trained} clips × 5 epochs"
    assert json.loads(job.state_file.read_text())["extra"]["mode"] == "full"


def test_durations_read_as_a_user_expects() -> None:
    assert [soundscapes.duration(s) for s in (12, 600, 7200)] == ["12 s", "10 min", "2.0 h"]
    assert soundscapes.duration_range(96, 118) == "about 2 min"
    assert soundscapes.duration_range(60, 600) == "60 s to 10 min"
