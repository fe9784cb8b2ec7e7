"""Scoring on a Ray cluster (birdview.jobs.cluster): a local Ray of 2 CPUs, started once for the
module and shut down after it."""

from __future__ import annotations

import hashlib
import os
import socket
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest

from birdview.jobs.cluster import ClusterError, InOrderWriter, import_ray, parse_address, score_on_cluster
from birdview.jobs.scoring import add_model, score, windows_to_score
from birdview.store.project import Project
from tests.synthetic_birds import soundscape


@pytest.fixture(scope="module")
def ray_session():
    """One small local Ray for the module: 2 CPUs, no dashboard; scoring joins it (and leaves it)."""
    ray = pytest.importorskip("ray")
    ray.init(
        address="local",
        num_cpus=2,
        include_dashboard=False,
        log_to_driver=False,
        logging_level="warning",
        configure_logging=False,
    )
    yield ray
    ray.shutdown()


def _project(folder: Path, audio: Path, checkpoint: Path) -> Project:
    project = Project.create(folder, species=[])
    project.add_recordings([audio])
    add_model(project, checkpoint)
    return project


@pytest.fixture(scope="module")
def audio(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("audio")
    soundscape(folder / "A_20240521_053000.wav", 62.0, [(6.0, "whistle")], seed=1)
    soundscape(folder / "B_20240521_060000.wav", 240.0, [(100.0, "pulses")], seed=2)
    soundscape(folder / "C_20240521_070000.wav", 31.0, [(3.0, "pulses")], seed=3)
    return folder


@pytest.fixture(scope="module")
def local_scores(tmp_path_factory, audio: Path, checkpoint: Path) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Per recording name: (probabilities, embeddings) as plain ``score`` stores them."""
    with _project(tmp_path_factory.mktemp("local") / "project", audio, checkpoint) as project:
        score(project.folder, engine="torch")
        return {
            r.name: (project.predictions(1, r.id)[1], np.array(project.embeddings(1, r.id)))
            for r in project.recordings()
        }


def _assert_same(project: Project, expected: dict[str, tuple[np.ndarray, np.ndarray]]) -> None:
    for recording in project.recordings():
        if recording.name not in expected:
            assert project.scored_windows(1, recording.id) == 0
            continue
        scores, vectors = expected[recording.name]
        first, stored = project.predictions(1, recording.id)
        assert first == 0 and stored.shape == scores.shape, recording.name
        np.testing.assert_allclose(stored, scores, atol=2e-3)
        np.testing.assert_allclose(np.array(project.embeddings(1, recording.id)), vectors, atol=2e-2)


def test_the_ray_path_scores_as_the_local_path(
    ray_session, tmp_path: Path, audio: Path, checkpoint: Path, local_scores
) -> None:
    copies = tmp_path / "audio"
    copies.mkdir()
    for path in audio.iterdir():
        (copies / path.name).write_bytes(path.read_bytes())
    soundscape(copies / "D_20240521_080000.wav", 20.0, [(3.0, "whistle")], seed=4)
    seen = []
    with _project(tmp_path / "project", copies, checkpoint) as project:
        (copies / "D_20240521_080000.wav").unlink()  # gone since it was added: listed, the others go on
        result = score_on_cluster(project.folder, "local", engine="torch", span_windows=16, on_progress=seen.append)
        assert (result.windows, result.recordings, result.cancelled) == (13 + 48 + 7, 3, False)
        assert len(result.problems) == 1 and "D_20240521_080000.wav: cannot be read" in result.problems[0]
        assert seen and seen[-1].windows_done == 68 and all(p.windows_total == 72 for p in seen)
        _assert_same(project, local_scores)
        names = {r.id: r.name for r in project.recordings()}
        assert {names[i] for i in windows_to_score(project, 1)} == {"D_20240521_080000.wav"}


def test_an_interrupted_run_resumes_where_it_stopped(
    ray_session, tmp_path: Path, audio: Path, checkpoint: Path, local_scores
) -> None:
    cancel = threading.Event()

    def stop_early(progress) -> None:
        if progress.windows_done >= 8:
            cancel.set()

    with _project(tmp_path / "project", audio, checkpoint) as project:
        first = score_on_cluster(
            project.folder, "local", engine="torch", span_windows=8, cancel=cancel, on_progress=stop_early
        )
        assert first.cancelled and 8 <= first.windows < 68
        for recording in project.recordings():  # what is kept is a run of windows from the start
            kept = project.scored_windows(1, recording.id)
            assert len(project.predictions(1, recording.id)[1]) == kept
        left = sum(windows_to_score(project, 1).values())
        assert left == 68 - first.windows
        second = score_on_cluster(project.folder, "local", engine="torch", span_windows=8)
        assert second.windows == left and not second.cancelled and not second.problems
        _assert_same(project, local_scores)
        again = score_on_cluster(project.folder, "local", engine="torch")
        assert (again.windows, again.recordings) == (0, 0)  # nothing left: no work is sent


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _snapshot(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha1(p.read_bytes()).hexdigest() for p in folder.rglob("*") if p.is_file()
    }


def test_an_address_that_does_not_answer_is_named_and_changes_nothing(
    tmp_path: Path, audio: Path, checkpoint: Path
) -> None:
    pytest.importorskip("ray")
    with _project(tmp_path / "project", audio, checkpoint):
        pass
    before = _snapshot(tmp_path / "project")
    address = f"ray://127.0.0.1:{_closed_port()}"
    with pytest.raises(ClusterError, match=f"no Ray cluster answers at {address}.*nothing was changed"):
        score_on_cluster(tmp_path / "project", address, connect_timeout_s=5)
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    command = [sys.executable, "-m", "birdview", "score", "--project", str(tmp_path / "project"), "--cluster", address]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120, env=env)
    assert done.returncode == 2 and f"no Ray cluster answers at {address}" in done.stderr, done.stderr
    assert _snapshot(tmp_path / "project") == before
    with pytest.raises(ClusterError, match="ray://HOST:PORT"):
        parse_address("10.0.0.5:10001")
    assert parse_address("ray://head") == ("head", 10001)


def test_without_ray_the_message_says_how_to_install_it(monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)
    with pytest.raises(ClusterError, match=r"pip install 'birdview\[cluster\]'"):
        import_ray()


def test_spans_are_written_in_window_order() -> None:
    written = []
    writer = InOrderWriter(lambda rid, first, scores, _: written.append((rid, first, len(scores))))
    writer.expect(1, "a", 0)
    writer.expect(2, "b", 5)
    block = np.zeros((4, 2), np.float16)
    assert writer.add(1, 8, block, None) == 0  # waits for 0..7
    assert writer.add(2, 5, block, None) == 4
    assert writer.add(1, 4, block, None) == 0
    assert writer.add(1, 0, block, None) == 12  # 0, 4 and 8 go in order
    assert written == [(2, 5, 4), (1, 0, 4), (1, 4, 4), (1, 8, 4)]
    assert writer.fail(2) and not writer.fail(2)
    assert writer.add(2, 9, block, None) == 0 and writer.windows == 16


def test_workers_get_what_they_do_not_see(ray_session, tmp_path: Path) -> None:
    from birdview.jobs.cluster import _fetched, _mapped

    sent = {"/elsewhere/model.ckpt": ray_session.put(b"weights")}
    recipe = _fetched({"kind": "birdview-train", "path": "/elsewhere/model.ckpt", "fast_copy": None}, sent)
    assert recipe["path"] != "/elsewhere/model.ckpt" and Path(recipe["path"]).read_bytes() == b"weights"
    seen = tmp_path / "model.ckpt"
    seen.write_bytes(b"mine")
    assert _fetched({"path": str(seen)}, {str(seen): sent["/elsewhere/model.ckpt"]})["path"] == str(seen)
    mapping = [("/home/me/audio", "/mnt/audio")]
    assert _mapped("/home/me/audio/site/a.wav", mapping) == "/mnt/audio/site/a.wav"
    assert _mapped("/home/me/audio2/a.wav", mapping) == "/home/me/audio2/a.wav"
