"""Similarity search through the approximate index (usearch) beyond EXACT_LIMIT stored windows."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import numpy as np
import pytest

from birdview.audio.recording import RecordingInfo
from birdview.cli import main
from birdview.review import similarity
from birdview.review.similarity import Query, search, stored_windows, update_index
from birdview.store.embedding_index import EmbeddingIndex
from birdview.store.project import Project
from tests.review.test_similarity import TARGETS, _write
from tests.trainer.perch_standin import write_standin

DIM, WINDOW_S, WINDOWS = 32, 3.0, 300
#: (recording number, window) of each planted copy of the target; the example is the first.
PLANTED = [(0, 10), (0, 200), (1, 55), (2, 7), (2, 150), (2, 299)]


def _recording(folder: Path, project: Project, number: int, windows: int, site: str | None = None):
    placeholder = folder / f"rec{number}.wav"
    placeholder.touch()
    info = RecordingInfo(
        path=placeholder,
        duration_s=windows * WINDOW_S,
        sample_rate=48000,
        channels=1,
        frames=int(windows * WINDOW_S * 48000),
        format="WAV",
        start_time=datetime(2024, 5, 1),
    )
    return project.add_probed(info, f"hash{number}", site=site)


def _vectors(rng: np.random.Generator, target: np.ndarray, number: int, windows: int) -> np.ndarray:
    vectors = rng.standard_normal((windows, DIM)).astype(np.float32)
    for recording, window in PLANTED:
        if recording == number and window < windows:
            vectors[window] = target * rng.uniform(0.5, 2.0) + 0.05 * rng.standard_normal(DIM)
    return vectors


def _target() -> np.ndarray:
    return np.random.default_rng(99).standard_normal(DIM).astype(np.float32)


@pytest.fixture
def project(tmp_path: Path):
    rng, target = np.random.default_rng(0), _target()
    with Project.create(tmp_path / "project", species=[]) as project:
        model = project.register_model("m", ["x"], window_s=WINDOW_S, kind="birdnet", embedding_dim=DIM, activate=True)
        for number in range(3):
            recording = _recording(tmp_path, project, number, WINDOWS, site="north" if number == 2 else "south")
            vectors = _vectors(rng, target, number, WINDOWS)
            for first in range(0, WINDOWS, 100):  # in chunks, as scoring stores them
                block = vectors[first : first + 100]
                project.store_predictions(model.version, recording.id, np.zeros((len(block), 1)), first, block)
        yield project


def _example(project: Project) -> Query:
    number, window = PLANTED[0]
    return Query(project.recordings()[number], window * WINDOW_S, window * WINDOW_S + WINDOW_S)


def _keys(hits) -> list[tuple[int, int]]:
    return [(hit.recording_id, hit.window) for hit in hits]


def _agree(approximate, exact, share: float = 0.8) -> bool:
    """An approximate index may miss a few noise windows (HNSW builds in parallel, so not the same
    way each time): most of the exact hits are found, and those found come in the same order."""
    found, wanted = _keys(approximate), _keys(exact)
    common = set(found) & set(wanted)
    same_order = [k for k in found if k in common] == [k for k in wanted if k in common]
    return len(common) >= share * len(wanted) and same_order


def _planted(project: Project, skip_example: bool = True) -> set[tuple[int, int]]:
    ids = [r.id for r in project.recordings()]
    planted = {(ids[number], window) for number, window in PLANTED}
    return planted - {(ids[PLANTED[0][0]], PLANTED[0][1])} if skip_example else planted


def _index(project: Project) -> EmbeddingIndex:
    return EmbeddingIndex(project.embedding_files, project.active_model().version, DIM)


def test_the_index_finds_what_exact_search_finds(project: Project, monkeypatch) -> None:
    version = project.active_model().version
    said: list[str] = []
    exact = search(project, version, [_example(project)], top=20, exact=True)
    assert not _index(project).exists()
    monkeypatch.setattr(similarity, "EXACT_LIMIT", 100)
    approximate = search(project, version, [_example(project)], top=20, say=said.append)
    assert _index(project).exists() and any("building the similarity index" in s for s in said)
    planted = _planted(project)
    assert set(_keys(exact[: len(planted)])) == planted
    assert set(_keys(approximate[: len(planted)])) == planted
    assert _agree(approximate, exact)  # re-ranked by the stored embeddings: the same order
    similarity_of = {key: h.similarity for key, h in zip(_keys(exact), exact, strict=True)}
    for key, hit in zip(_keys(approximate), approximate, strict=True):
        assert key not in similarity_of or hit.similarity == pytest.approx(similarity_of[key], abs=2e-3)
    ids = [r.id for r in project.recordings()]
    assert (ids[PLANTED[0][0]], PLANTED[0][1]) not in _keys(approximate)  # the example itself is left out
    # Several examples, each window's best match; and a site narrows the search.
    examples = [_example(project), Query(project.recordings()[1], 55 * WINDOW_S, 56 * WINDOW_S)]
    for kwargs in ({"combine": "max"}, {"site": "north"}, {"recording_ids": [ids[0], ids[1]]}):
        monkeypatch.setattr(similarity, "EXACT_LIMIT", 10)
        approximate = search(project, version, examples, top=8, **kwargs)
        assert _agree(approximate, search(project, version, examples, top=8, exact=True, **kwargs))
        assert len(approximate) == 8
    north = search(project, version, examples, top=8, site="north")
    assert {hit.recording_id for hit in north} == {ids[2]}
    assert set(_keys(north[:3])) == {(ids[2], w) for n, w in PLANTED if n == 2}


def test_below_the_limit_search_is_exact_and_no_index_is_built(project: Project, monkeypatch) -> None:
    version = project.active_model().version
    assert update_index(project, version) is None  # what scoring calls: nothing for a small project
    search(project, version, [_example(project)], top=5)
    assert not _index(project).exists() and not list(project.embedding_files.model_folder(version).glob("index*"))
    # The limit counts the windows a search covers: one site's 300 windows stay exact.
    monkeypatch.setattr(similarity, "EXACT_LIMIT", WINDOWS)
    search(project, version, [_example(project)], top=5, site="north")
    assert not _index(project).exists()
    search(project, version, [_example(project)], top=5)
    assert _index(project).exists()


def test_new_windows_are_added_and_rewritten_ones_replaced(project: Project, monkeypatch, tmp_path: Path) -> None:
    version = project.active_model().version
    monkeypatch.setattr(similarity, "EXACT_LIMIT", 100)
    built = update_index(project, version)
    assert built is not None and built.added == 3 * WINDOWS and built.rebuilt == "missing"
    assert update_index(project, version).added == 0  # up to date: nothing to do
    # A newly scored recording, one planted copy in it: scoring's hook appends its windows.
    rng = np.random.default_rng(5)
    late = _recording(tmp_path, project, 3, 120)
    vectors = rng.standard_normal((120, DIM)).astype(np.float32)
    vectors[42] = _target() * 3
    project.store_predictions(version, late.id, np.zeros((120, 1)), 0, vectors)
    change = update_index(project, version)
    assert (change.added, change.removed, change.rebuilt) == (120, 0, None)
    assert _index(project).indexed() == stored_windows(project, version)
    hits = search(project, version, [_example(project)], top=10)
    assert (late.id, 42) in _keys(hits[: len(_planted(project)) + 1])
    # Windows written again (their old entries no longer hold) are replaced at the next update.
    vectors[42] = rng.standard_normal(DIM)
    vectors[7] = _target()
    project.store_predictions(version, late.id, np.zeros((120, 1)), 0, vectors)
    hits = search(project, version, [_example(project)], top=10)
    assert (late.id, 7) in _keys(hits) and (late.id, 42) not in _keys(hits)
    assert _agree(hits, search(project, version, [_example(project)], top=10, exact=True))
    assert _index(project).indexed()[late.id] == 120


def test_every_window_of_a_parallel_build_can_be_found(project: Project, monkeypatch, tmp_path: Path) -> None:
    """usearch's parallel add strands about 1 node in 1,000 (found by no search); the index adds
    those again, so each stored window is the first hit for its own embedding."""
    version = project.active_model().version
    monkeypatch.setattr(similarity, "EXACT_LIMIT", 100)
    big = _recording(tmp_path, project, 3, 6000)
    vectors = np.random.default_rng(11).standard_normal((6000, DIM)).astype(np.float32)
    project.store_predictions(version, big.id, np.zeros((6000, 1)), 0, vectors)
    assert update_index(project, version).total == 3 * WINDOWS + 6000
    found = _index(project).search(vectors, 1)
    first = [int(keys[0]) if len(keys) else -1 for keys, _ in found]
    lost = [w for w, key in enumerate(first) if key != (big.id << 32 | w)]
    assert lost == []


@pytest.mark.parametrize("damage", ["truncated", "garbage", "no sidecar", "bad sidecar", "no index", "stale size"])
def test_a_damaged_index_is_rebuilt_with_a_message(project: Project, monkeypatch, damage: str) -> None:
    version = project.active_model().version
    monkeypatch.setattr(similarity, "EXACT_LIMIT", 100)
    update_index(project, version)
    index = _index(project)
    if damage == "truncated":
        index.path.write_bytes(index.path.read_bytes()[: index.path.stat().st_size // 2])
    elif damage == "garbage":
        index.path.write_bytes(b"\x80\x04not an index" * 100)  # nothing here is ever unpickled
    elif damage == "no sidecar":
        index.sidecar.unlink()
    elif damage == "bad sidecar":
        index.sidecar.write_text("{not json")
    elif damage == "no index":
        index.path.unlink()
    else:
        state = json.loads(index.sidecar.read_text())
        state["file_bytes"] += 1
        index.sidecar.write_text(json.dumps(state))
    said: list[str] = []
    hits = search(project, version, [_example(project)], top=10, say=said.append)
    assert len(said) == 1 and "building it again" in said[0], said
    assert ("damaged" in said[0]) or ("missing" in said[0])
    assert _agree(hits, search(project, version, [_example(project)], top=10, exact=True))
    assert _index(project).indexed() == stored_windows(project, version)
    said.clear()
    search(project, version, [_example(project)], top=10, say=said.append)
    assert said == []  # rebuilt once, then used as it is


def test_discarding_the_predictions_removes_the_index(project: Project, monkeypatch) -> None:
    version = project.active_model().version
    monkeypatch.setattr(similarity, "EXACT_LIMIT", 100)
    update_index(project, version)
    assert _index(project).exists()
    project.discard_predictions(version)
    assert not _index(project).exists() and update_index(project, version) is None


@pytest.fixture
def scored_folder(tmp_path: Path, monkeypatch) -> Path:
    """Recordings with a planted call, scored by the Perch stand-in with the limit set low: scoring
    itself builds the index."""
    monkeypatch.setattr(similarity, "EXACT_LIMIT", 10)
    (tmp_path / "audio").mkdir()
    for number in TARGETS:
        _write(tmp_path / "audio" / f"site{number}_2024052{number}_050000.wav", TARGETS[number], (), number)
    model, _ = write_standin(tmp_path / "perch")
    folder = tmp_path / "project"
    assert main(["add", "--project", str(folder), str(tmp_path / "audio")]) == 0
    assert main(["models", "--project", str(folder), "--add", "perch-v2", str(model)]) == 0
    assert main(["score", "--project", str(folder)]) == 0
    return folder


def test_scoring_keeps_the_index_current_and_search_can_be_forced_exact(
    scored_folder: Path, tmp_path: Path, capsys
) -> None:
    def indexed_and_stored() -> tuple[dict, dict]:
        with Project.open(scored_folder) as project:
            model = project.active_model()
            index = EmbeddingIndex(project.embedding_files, model.version, model.embedding_dim)
            return index.indexed(), stored_windows(project, model.version)

    indexed, stored = indexed_and_stored()
    assert indexed and indexed == stored  # built by scoring, once past the limit
    late = tmp_path / "late_20240530_050000.wav"
    _write(late, (2,), (), 9)
    assert main(["add", "--project", str(scored_folder), str(late)]) == 0
    assert main(["score", "--project", str(scored_folder)]) == 0
    indexed, stored = indexed_and_stored()
    assert len(indexed) == 4 and indexed == stored  # its windows appended by the scoring job
    out = tmp_path / "hits.csv"
    like = ["--like", "site0_20240520_050000.wav:5-10", "--top", "10", "--out", str(out)]
    assert main(["search", "--project", str(scored_folder), *like]) == 0
    approximate = out.read_text()
    assert "late_20240530_050000.wav,10.000,15.000" in approximate  # the planted copy in its window 2
    assert main(["search", "--project", str(scored_folder), *like, "--exact"]) == 0
    assert out.read_text() == approximate or _same_rows(out.read_text(), approximate)
    # Rescoring discards the embeddings and the index with them; scoring builds it again.
    assert main(["score", "--project", str(scored_folder), "--rescore"]) == 0
    indexed, stored = indexed_and_stored()
    assert indexed and indexed == stored


def _same_rows(first: str, second: str) -> bool:
    """The same windows in the same order (similarities may differ in the last digit)."""
    rows = [[line.rsplit(",", 1)[0] for line in text.splitlines()] for text in (first, second)]
    return rows[0] == rows[1]


def test_a_head_on_embeddings_searches_its_base_models_index(project: Project, monkeypatch) -> None:
    base = project.active_model().version
    head = project.register_model(
        "head.pt", ["x"], frontend={"base_version": base}, window_s=WINDOW_S, kind="embedding-head"
    ).version
    for recording in project.recordings():  # the head scored from the stored embeddings
        project.store_predictions(head, recording.id, np.zeros((WINDOWS, 1)), 0)
    monkeypatch.setattr(similarity, "EXACT_LIMIT", 100)
    assert update_index(project, head) is None  # a head keeps no embeddings of its own
    hits = search(project, head, [_example(project)], top=10)
    assert _index(project).exists()  # the base model's
    exact = search(project, base, [_example(project)], top=10, exact=True)
    planted = _planted(project)
    assert set(_keys(exact[: len(planted)])) == planted
    assert len(set(_keys(hits[: len(planted)])) & planted) >= len(planted) - 1  # approximate: may miss one
    assert _agree(hits, exact)
