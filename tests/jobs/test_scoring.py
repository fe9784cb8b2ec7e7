from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest

from birdview.jobs.scoring import add_model, prepare_fast_copy, score, windows_to_score
from birdview.store.project import Project, ProjectError
from tests.synthetic_birds import SPECIES, soundscape
from trainer.inference import TorchScorer, predict


@pytest.fixture
def project(tmp_path: Path) -> Project:
    audio = tmp_path / "audio"
    audio.mkdir()
    soundscape(audio / "A_20240521_053000.wav", 62.0, [(6.0, "whistle")], seed=1)
    soundscape(audio / "B_20240521_060000.wav", 240.0, [(100.0, "pulses")], seed=2)
    project = Project.create(tmp_path / "project", species=[])
    project.add_recordings([audio])
    yield project
    project.close()


def test_scores_stored_equal_the_trainers_predict(project: Project, checkpoint: Path) -> None:
    model = add_model(project, checkpoint)
    assert model.active and model.classes == list(SPECIES) and set(SPECIES) <= set(project.species_codes())
    result = score(project.folder)
    assert (result.windows, result.recordings, result.cancelled) == (13 + 48, 2, False)
    expected, _ = predict([r.path for r in project.recordings()], [TorchScorer(checkpoint)])
    for recording in project.recordings():
        first, stored = project.predictions(model.version, recording.id)
        wanted = expected[expected["file"] == str(recording.path)][list(SPECIES)].to_numpy()
        assert first == 0 and stored.shape == wanted.shape
        np.testing.assert_allclose(stored, wanted, atol=2e-3)  # stored as float16
    assert windows_to_score(project, model.version) == {}
    assert score(project.folder).windows == 0  # nothing left to do


def test_scoring_uses_the_models_onnx_copy(project: Project, checkpoint: Path) -> None:
    model = add_model(project, checkpoint)
    copy = prepare_fast_copy(project.folder, model.version)
    assert copy == project.folder / "models" / "model-v1.onnx" and copy.exists()
    assert prepare_fast_copy(project.folder, model.version) == copy  # once per version
    expected, _ = predict([r.path for r in project.recordings()], [TorchScorer(checkpoint)])
    score(project.folder)
    recording = project.recordings()[0]
    wanted = expected[expected["file"] == str(recording.path)][list(SPECIES)].to_numpy()
    np.testing.assert_allclose(project.predictions(1, recording.id)[1], wanted, atol=2e-3)
    # the copy gives the embeddings too: every scored window keeps its pooled feature
    assert project.embeddings(1, recording.id).shape == (13, model.embedding_dim)
    copy.write_bytes(b"not a model")
    with pytest.raises(ProjectError, match=r"model-v1\.onnx"):
        score(project.folder, recording_ids=[project.recordings()[1].id])


def test_a_stopped_model_export_leaves_no_copy(project: Project, checkpoint: Path) -> None:
    model = add_model(project, checkpoint)
    stop = threading.Event()
    stop.set()  # the window closed while the export ran
    assert prepare_fast_copy(project.folder, model.version, cancel=stop) is None
    assert not list((project.folder / "models").glob("*.onnx"))
    assert score(project.folder).windows == 61  # scoring converts the checkpoint itself instead


def test_cancel_then_resume_scores_only_what_is_left(project: Project, checkpoint: Path) -> None:
    model = add_model(project, checkpoint)
    cancel = threading.Event()
    seen = []

    def progress(p) -> None:
        seen.append(p.windows_done)
        if p.windows_done >= 20:
            cancel.set()

    first = score(project.folder, cancel=cancel, on_progress=progress, chunk_windows=8)
    assert first.cancelled and 20 <= first.windows < 61
    assert seen[-1] == first.windows and all(p < 61 for p in seen)
    left = sum(windows_to_score(project, model.version).values())
    assert left == 61 - first.windows
    second = score(project.folder)
    assert second.windows == left and not second.cancelled


def test_no_model_and_bad_model_are_clear(project: Project, tmp_path: Path) -> None:
    with pytest.raises(ProjectError, match="no model to score with"):
        score(project.folder)
    (tmp_path / "junk.ckpt").write_bytes(b"junk")
    with pytest.raises(ProjectError, match=r"junk\.ckpt: cannot be used as a model"):
        add_model(project, tmp_path / "junk.ckpt")


def test_headless_models_and_score(project: Project, checkpoint: Path) -> None:
    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "birdview", *args], capture_output=True, text=True, timeout=300)

    added = run("models", "--project", str(project.folder), "--add", str(checkpoint))
    assert added.returncode == 0, added.stderr
    assert "added model version 1: model.ckpt, 4 classes" in added.stdout
    scored = run("score", "--project", str(project.folder))
    assert scored.returncode == 0, scored.stderr
    assert "61 window(s) of 2 recording(s) scored" in scored.stdout
    assert "windows" in scored.stderr
    listed = run("models", "--project", str(project.folder), "--activate", "1")
    assert listed.stdout.splitlines()[1].startswith("1\t*")
