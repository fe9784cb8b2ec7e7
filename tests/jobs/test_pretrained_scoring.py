"""Pretrained model kinds in a project: added, scored with overlap, embeddings kept."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from birdview.jobs.scoring import add_model, score
from birdview.store.project import Project, ProjectError
from tests.trainer.perch_standin import band_hz, write_bad_standin, write_standin
from trainer.models.perch import PerchModel

RATE = 22050


def _tone_recording(path: Path, duration_s: float, tone_hz: float, tone_at_s: tuple[float, float]) -> Path:
    rng = np.random.default_rng(0)
    t = np.arange(int(duration_s * RATE)) / RATE
    audio = 0.01 * rng.standard_normal(len(t))
    inside = (t >= tone_at_s[0]) & (t < tone_at_s[1])
    audio[inside] += 0.5 * np.sin(2 * np.pi * tone_hz * t[inside])
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, audio.astype(np.float32), RATE)
    return path


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "birdview", *args], capture_output=True, text=True, timeout=300)


def test_a_perch_model_scores_a_project_with_overlap_and_keeps_its_embeddings(tmp_path: Path) -> None:
    model_file, _ = write_standin(tmp_path / "perch")
    recording = _tone_recording(tmp_path / "audio" / "site_20240521_053000.wav", 21.0, band_hz(2), (10.0, 12.5))
    folder = tmp_path / "project"
    assert _run("add", "--project", str(folder), str(recording)).returncode == 0
    added = _run("models", "--project", str(folder), "--add", "perch-v2", str(model_file))
    assert added.returncode == 0, added.stderr
    assert "Perch v2, 12 classes" in added.stdout and "licence: Apache-2.0" in added.stdout
    scored = _run("score", "--project", str(folder), "--overlap", "0.5")
    assert scored.returncode == 0, scored.stderr
    # 5 s windows every 2.5 s over 21 s: starts 0, 2.5, ... 17.5 (the last reaches past the end)
    assert "8 window(s) of 1 recording(s) scored" in scored.stdout
    with Project.open(folder) as project:
        model = project.active_model()
        assert (model.kind, model.window_s, model.hop_s, model.embedding_dim) == ("perch-v2", 5.0, 2.5, 1536)
        row = project.recordings()[0]
        first, scores = project.predictions(model.version, row.id)
        assert first == 0 and scores.shape == (8, 12)
        tone_class = scores[:, 2]
        # the tone at 10..12.5 s lies in the windows starting at 7.5 s and 10 s (and no others)
        assert set(np.flatnonzero(tone_class > 0.5)) == {3, 4}
        stored = np.asarray(project.embeddings(model.version, row.id), dtype=np.float32)
        # the same windows scored again, outside the project, give the embeddings kept
        perch = PerchModel(model_file)
        again = np.concatenate([perch.infer(chunk.inputs)[1] for chunk in perch.chunks(recording, 2.5)])
        np.testing.assert_allclose(stored, again, rtol=2e-3, atol=2e-3)


def test_a_perch_file_of_the_wrong_shape_is_refused_and_the_project_unchanged(tmp_path: Path) -> None:
    bad, _ = write_bad_standin(tmp_path / "bad", "output_width")
    with Project.create(tmp_path / "project", species=[]) as project:
        with pytest.raises(ProjectError, match=r"perch_v2\.onnx"):
            add_model(project, "perch-v2", file=bad)
        assert project.models() == [] and project.species_codes() == []


def test_scoring_with_an_overlap_the_model_was_not_scored_with_needs_rescore(tmp_path: Path) -> None:
    model_file, _ = write_standin(tmp_path / "perch")
    recording = _tone_recording(tmp_path / "audio" / "r.wav", 12.0, band_hz(0), (1.0, 2.0))
    with Project.create(tmp_path / "project", species=[]) as project:
        project.add_recordings([recording])
        add_model(project, "perch-v2", file=model_file)
    assert score(tmp_path / "project").windows == 3
    with pytest.raises(ProjectError, match="birdview score --rescore"):
        score(tmp_path / "project", overlap=0.5)
    assert score(tmp_path / "project", overlap=0.5, rescore=True).windows == 4


def test_a_checkpoint_keeps_the_pooled_feature_before_its_head_as_embedding(tmp_path: Path, checkpoint: Path) -> None:
    from trainer.inference import TorchScorer
    from trainer.models.trained import TrainedModel

    recording = _tone_recording(tmp_path / "audio" / "r.wav", 12.0, 3000.0, (1.0, 2.0))
    with Project.create(tmp_path / "project", species=[]) as project:
        project.add_recordings([recording])
        model = add_model(project, checkpoint)
        assert model.kind == "birdview-train" and model.embedding_dim > 0
    assert score(tmp_path / "project", engine="torch").windows == 3
    scorer = TorchScorer(checkpoint)
    trained = TrainedModel(scorer, checkpoint)
    expected = np.concatenate([trained.infer(c.inputs)[1] for c in trained.chunks(recording, 5.0)])
    with Project.open(tmp_path / "project") as project:
        stored = np.asarray(project.embeddings(model.version, project.recordings()[0].id), dtype=np.float32)
        _, scores = project.predictions(model.version, project.recordings()[0].id)
    assert stored.shape == (3, model.embedding_dim)
    np.testing.assert_allclose(stored, expected, rtol=1e-2, atol=1e-2)
    # the head applied to the kept embedding gives the kept probabilities
    head = scorer.model.classifier
    logits = stored @ head.weight.detach().numpy().T + head.bias.detach().numpy()
    np.testing.assert_allclose(scores, 1 / (1 + np.exp(-logits)), atol=1e-2)


def test_a_model_whose_file_is_gone_keeps_its_scores_when_rescoring_fails(tmp_path: Path) -> None:
    model_file, _ = write_standin(tmp_path / "perch")
    recording = _tone_recording(tmp_path / "audio" / "r.wav", 12.0, band_hz(0), (1.0, 2.0))
    with Project.create(tmp_path / "project", species=[]) as project:
        project.add_recordings([recording])
        model = add_model(project, "perch-v2", file=model_file)
        assert model.path.is_absolute()
        with pytest.raises(ProjectError, match="already model version 1"):
            add_model(project, "perch-v2", file=model_file)
    assert score(tmp_path / "project").windows == 3
    model_file.rename(tmp_path / "moved.onnx")
    for options in ({"rescore": True}, {"overlap": 0.5, "rescore": True}):
        with pytest.raises(ProjectError, match=r"perch_v2\.onnx"):
            score(tmp_path / "project", **options)
        with Project.open(tmp_path / "project") as project:
            assert project.scored_windows(1, project.recordings()[0].id) == 3
            assert project.model(1).hop_s == 5.0


def test_adding_known_recordings_with_a_site_sets_their_site(tmp_path: Path) -> None:
    recording = _tone_recording(tmp_path / "audio" / "r.wav", 3.0, 1000.0, (1.0, 2.0))
    assert _run("add", "--project", str(tmp_path / "p"), str(recording)).returncode == 0
    again = _run("add", "--project", str(tmp_path / "p"), "--site", "algonquin", str(recording))
    with Project.open(tmp_path / "p") as project:
        assert project.recordings()[0].site == "algonquin"
    assert "0 recording(s) added" in again.stdout
