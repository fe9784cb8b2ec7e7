"""Predictions in dense or sparse blocks, embeddings in files beside the database, windows with overlap."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from birdview.store import predictions
from birdview.store.project import Project, ProjectError
from tests.conftest import write_tone_file

CLASSES = [f"sp{i:04d}" for i in range(3000)]


def _sparse_scores(windows: int, seed: int = 0) -> np.ndarray:
    """BirdNET-like: nearly every score close to 0, a few high ones."""
    rng = np.random.default_rng(seed)
    scores = rng.uniform(0, 0.005, size=(windows, len(CLASSES))).astype(np.float32)
    for window in range(windows):
        scores[window, rng.integers(0, len(CLASSES), 3)] = rng.uniform(0.02, 1.0, 3)
    return scores


def test_a_block_is_kept_sparse_when_smaller_and_reads_back_above_the_floor() -> None:
    scores = _sparse_scores(50)
    encoding, blob = predictions.encode(scores)
    assert encoding == predictions.SPARSE and len(blob) < scores.astype(np.float16).nbytes / 50
    back = predictions.decode(encoding, blob, 50, len(CLASSES))
    kept = scores >= predictions.SPARSE_FLOOR
    np.testing.assert_allclose(back[kept], scores[kept], rtol=1e-3)
    assert np.all(back[~kept] == 0)
    columns = [7, int(np.argmax(scores[0])), 2999]
    np.testing.assert_array_equal(predictions.decode(encoding, blob, 50, len(CLASSES), columns), back[:, columns])


def test_a_block_of_mostly_high_scores_stays_dense_and_exact() -> None:
    scores = np.random.default_rng(1).uniform(0.2, 0.9, size=(30, 182)).astype(np.float32)
    encoding, blob = predictions.encode(scores)
    assert encoding == predictions.DENSE
    np.testing.assert_array_equal(
        predictions.decode(encoding, blob, 30, 182), scores.astype(np.float16).astype(np.float32)
    )


@pytest.fixture
def project(tmp_path: Path) -> Project:
    audio = tmp_path / "audio"
    audio.mkdir()
    write_tone_file(audio / "r.wav", duration_s=30.0, sample_rate=8000)
    with Project.create(tmp_path / "project", species=[]) as project:
        project.add_recordings([audio])
        yield project


def test_many_class_predictions_and_embeddings_round_trip(project: Project) -> None:
    model = project.register_model("pretrained", CLASSES, window_s=3.0, kind="birdnet", embedding_dim=16, activate=True)
    recording = project.recordings()[0]
    scores = _sparse_scores(20, seed=2)
    vectors = np.random.default_rng(3).normal(size=(20, 16)).astype(np.float32)
    project.store_predictions(model.version, recording.id, scores[:12], 0, vectors[:12])
    project.store_predictions(model.version, recording.id, scores[12:], 12, vectors[12:])
    columns = [int(np.argmax(scores[5])), 11]
    first, got = project.predictions(model.version, recording.id, 15.0, 21.0, columns=columns)
    # 3 s windows: those overlapping 15..21 s are 5 (15-18) .. 7 (21-24)
    assert first == 5 and got.shape == (3, 2)
    expected = np.where(scores >= predictions.SPARSE_FLOOR, scores, 0)[5:8][:, columns]
    np.testing.assert_allclose(got, expected, rtol=1e-3)
    peaks = project.prediction_peaks(model.version, recording.id)
    np.testing.assert_allclose(peaks, np.where(scores >= 0.01, scores, 0).max(axis=0), rtol=1e-3)
    stored = project.embeddings(model.version, recording.id)
    np.testing.assert_array_equal(stored, vectors.astype(np.float16))


def test_embeddings_written_but_never_committed_are_not_read_and_are_replaced(project: Project) -> None:
    model = project.register_model("m", CLASSES[:4], window_s=5.0, embedding_dim=8)
    recording = project.recordings()[0]
    project.store_predictions(model.version, recording.id, np.full((3, 4), 0.5), 0, np.ones((3, 8)))
    # a crash between writing the next chunk's embeddings and committing its scores
    project.embedding_files.write(model.version, recording.id, 3, np.full((3, 8), 7.0))
    assert project.embeddings(model.version, recording.id).shape == (3, 8)
    project.store_predictions(model.version, recording.id, np.full((2, 4), 0.5), 3, np.full((2, 8), 2.0))
    stored = np.asarray(project.embeddings(model.version, recording.id))
    assert stored.shape == (5, 8) and np.all(stored[3:] == 2.0)
    assert project.embedding_files.path(model.version, recording.id).stat().st_size == 5 * 8 * 2


def test_wrongly_shaped_embeddings_are_refused_and_nothing_is_stored(project: Project) -> None:
    model = project.register_model("m", CLASSES[:4], window_s=5.0, embedding_dim=8)
    recording = project.recordings()[0]
    with pytest.raises(ProjectError, match=r"embeddings must be \(3, 8\)"):
        project.store_predictions(model.version, recording.id, np.full((3, 4), 0.5), 0, np.ones((3, 5)))
    assert project.scored_windows(model.version, recording.id) == 0


def test_a_model_scored_with_one_hop_refuses_another_unless_discarded(project: Project) -> None:
    model = project.register_model("m", CLASSES[:4], window_s=3.0, embedding_dim=8)
    recording = project.recordings()[0]
    assert project.set_hop(model.version, 1.5).hop_s == 1.5
    project.store_predictions(model.version, recording.id, np.full((19, 4), 0.5), 0, np.ones((19, 8)))
    first, got = project.predictions(model.version, recording.id, 10.0, 12.0)
    # windows every 1.5 s, 3 s long: those overlapping 10..12 s start at 7.5 s (window 5) .. 12 s (window 8)
    assert (first, len(got)) == (5, 4)
    with pytest.raises(ProjectError, match=r"scored every 1\.5 s"):
        project.set_hop(model.version, 3.0)
    assert project.scored_windows(model.version, recording.id) == 19
    project.set_hop(model.version, 3.0, discard=True)
    assert project.scored_windows(model.version, recording.id) == 0
    assert not project.embedding_files.path(model.version, recording.id).exists()


def test_a_head_needs_confirmed_calls_and_says_which_are_waiting(project: Project, tmp_path: Path) -> None:
    from birdview.jobs.embedding_set import build_embedding_set
    from birdview.store.labels import Annotation

    model = project.register_model("birdnet", CLASSES[:4], window_s=3.0, kind="birdnet", embedding_dim=8)
    recording = project.recordings()[0]
    project.store_predictions(model.version, recording.id, np.full((10, 4), 0.5), 0, np.ones((10, 8)))
    project.add_species([("my_call", None, None)])
    project.add_annotations(
        [Annotation(recording.id, 3.5, 4.0, species="my_call", status="unreviewed", source="import")] * 1
    )
    with pytest.raises(ProjectError, match=r"1 call\(s\) are unreviewed .*confirm them"):
        build_embedding_set(project, model, tmp_path / "set")
