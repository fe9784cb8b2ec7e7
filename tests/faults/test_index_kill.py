"""kill -9 while the similarity index is being built or saved: the next search still answers as
exact search does (a half-written index is noticed and built again), and the labels and stored
embeddings are untouched."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from datetime import datetime
from pathlib import Path

import numpy as np

from birdview.audio.recording import RecordingInfo
from birdview.review import similarity
from birdview.review.similarity import Query, search, stored_windows
from birdview.store.embedding_index import EmbeddingIndex
from birdview.store.project import Annotation, Project

DIM, WINDOW_S, RECORDINGS, WINDOWS = 32, 3.0, 8, 2500

BUILD = textwrap.dedent(
    """
    import sys
    from birdview.review import similarity
    from birdview.store.project import Project

    similarity.EXACT_LIMIT = 100
    with Project.open(sys.argv[1]) as project:
        print("building", flush=True)
        similarity.update_index(project, project.active_model().version)
        print("built", flush=True)
    """
)


def _project(folder: Path) -> Project:
    project = Project.create(folder / "project", species=["wren"])
    model = project.register_model("m", ["wren"], window_s=WINDOW_S, kind="birdnet", embedding_dim=DIM, activate=True)
    rng = np.random.default_rng(4)
    for number in range(RECORDINGS):
        placeholder = folder / f"rec{number}.wav"
        placeholder.touch()
        info = RecordingInfo(
            placeholder, WINDOWS * WINDOW_S, 48000, 1, int(WINDOWS * WINDOW_S * 48000), "WAV", datetime(2024, 5, 1)
        )
        recording = project.add_probed(info, f"hash{number}")
        vectors = rng.standard_normal((WINDOWS, DIM)).astype(np.float32)
        project.store_predictions(model.version, recording.id, np.zeros((WINDOWS, 1)), 0, vectors)
    project.add_annotation(Annotation(1, 0.0, 3.0, species="wren", status="confirmed"))
    return project


def _build(folder: Path, kill_after_s: float | None = None) -> float | None:
    """Build the index in another process: the seconds it took, or None when it was killed
    (kill -9) ``kill_after_s`` seconds after it began."""
    child = subprocess.Popen(
        [sys.executable, "-c", BUILD, str(folder)],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])},
    )
    assert child.stdout.readline().strip() == "building"
    started = time.perf_counter()
    if kill_after_s is None:
        assert child.stdout.readline().strip() == "built" and child.wait(120) == 0
        return time.perf_counter() - started
    time.sleep(kill_after_s)
    if child.poll() is not None:
        return time.perf_counter() - started
    child.send_signal(signal.SIGKILL)
    child.wait(60)
    return None


def test_a_killed_index_build_leaves_search_right(tmp_path: Path, monkeypatch) -> None:
    project = _project(tmp_path)
    version = project.active_model().version
    index = EmbeddingIndex(project.embedding_files, version, DIM)
    embeddings_before = [project.embeddings(version, r.id).copy() for r in project.recordings()]
    labels_before = project.annotations()
    example = Query(project.recordings()[3], 30 * WINDOW_S, 31 * WINDOW_S)
    exact = search(project, version, [example], top=10, exact=True)
    monkeypatch.setattr(similarity, "EXACT_LIMIT", 100)
    whole = _build(project.folder)
    assert index.indexed() == stored_windows(project, version)
    killed = 0
    for number, share in enumerate((0.25, 0.7)):  # of a whole build; of the adds after a recording is rescored
        for rewrite in (False, True):
            if rewrite:  # scoring writes a recording again: its entries are replaced at the next build
                recording = project.recordings()[number]
                vectors = project.embeddings(version, recording.id).astype(np.float32)
                project.store_predictions(version, recording.id, np.zeros((WINDOWS, 1)), 0, vectors)
            else:
                index.delete()
            killed += _build(project.folder, kill_after_s=share * whole) is None
            said: list[str] = []
            found = search(project, version, [example], top=10, say=said.append)
            assert [(h.recording_id, h.window) for h in found] == [(h.recording_id, h.window) for h in exact], said
            assert index.indexed() == stored_windows(project, version)
    assert killed >= 2, f"only {killed} of 4 builds were cut short (a whole one took {whole:.1f} s)"
    assert project.annotations() == labels_before
    for recording, before in zip(project.recordings(), embeddings_before, strict=True):
        np.testing.assert_array_equal(project.embeddings(version, recording.id), before)
    project.close()
