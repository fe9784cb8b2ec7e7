"""Blocks of predictions: chunks joined into blocks of up to an hour, each block's maxima, queries
that skip the blocks that cannot hold a score (the same answers as reading every block), and
schema 7's migration of a project stored a chunk at a time."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import numpy as np
import pytest

from birdview.review.queue import candidates, record_verdicts
from birdview.review.summary import detections_by_time, species_overview, summarise
from birdview.store import predictions
from birdview.store.project import Annotation, Project
from birdview.store.schema import MIGRATIONS, SCHEMA_VERSION

CLASSES = [f"sp{i:03d}" for i in range(40)]
CHUNK = 48  # what scoring stores at a time


def _season_scores(windows: int, seed: int) -> np.ndarray:
    """Mostly tiny scores, a few species scoring 0.01-1, none at all in some stretches."""
    rng = np.random.default_rng(seed)
    scores = (rng.random((windows, len(CLASSES)), dtype=np.float32) ** 2) * 0.005
    hits = rng.poisson(0.8, size=windows)
    hits[windows // 3 : windows // 2] = 0  # a quiet night
    rows = np.repeat(np.arange(windows), hits)
    cols = rng.choice(12, size=len(rows), p=np.arange(12, 0, -1) / 78)
    scores[rows, cols] = 0.01 + 0.99 * rng.beta(0.7, 3.0, size=len(rows))
    return scores


def _add_recordings(project: Project, folder: Path, count: int, duration_s: float) -> list[int]:
    from datetime import datetime, timedelta

    from birdview.audio.recording import RecordingInfo

    folder.mkdir(parents=True, exist_ok=True)
    ids = []
    for i in range(count):
        start = datetime(2025, 5, 1, 0, 0) + timedelta(days=i)
        path = folder / f"S{i % 2:02d}_{start:%Y%m%d_%H%M%S}.wav"
        path.touch()
        info = RecordingInfo(path, duration_s, 32000, 1, int(duration_s * 32000), "WAV", start)
        ids.append(project.add_probed(info, f"hash{i}", site=f"S{i % 2:02d}").id)
    return ids


@pytest.fixture
def scored(tmp_path: Path) -> tuple[Project, int, dict[int, np.ndarray]]:
    """Three recordings of 2,000 windows stored 48 at a time, as scoring stores them."""
    project = Project.create(tmp_path / "project", species=CLASSES)
    model = project.register_model("/m.ckpt", CLASSES, activate=True)
    stored = {}
    for n, rid in enumerate(_add_recordings(project, tmp_path / "audio", 3, 2000 * 5.0)):
        scores = _season_scores(2000, seed=n)
        for first in range(0, 2000, CHUNK):
            project.store_predictions(model.version, rid, scores[first : first + CHUNK], first_window=first)
        stored[rid] = scores
    yield project, model.version, stored
    project.close()


def _reading_every_block(monkeypatch: pytest.MonkeyPatch) -> None:
    """Project.prediction_blocks as it read before blocks had maxima: every block, one at a time."""
    original = Project.prediction_blocks

    def every(self, version, recording_id, columns=None, min_score=None):
        n_classes = len(self.model(version).classes)
        for first, windows, blob, encoding in self.db.execute(
            "SELECT first_window, windows, scores, encoding FROM predictions WHERE model_version = ? "
            "AND recording_id = ? ORDER BY first_window",
            (version, recording_id),
        ).fetchall():
            yield first, predictions.decode(encoding, blob, windows, n_classes, columns)

    assert original is not every
    monkeypatch.setattr(Project, "prediction_blocks", every)


def _expected(scores: np.ndarray) -> np.ndarray:
    """What a sparse store reads back: float16, scores below the floor as 0."""
    back = scores.astype(np.float16).astype(np.float32)
    back[back < np.float32(np.float16(predictions.SPARSE_FLOOR))] = 0
    return back


def test_chunks_are_joined_into_blocks_of_an_hour_and_read_back_the_same(scored) -> None:
    project, version, stored = scored
    rid = next(iter(stored))
    blocks = project.db.execute(
        "SELECT first_window, windows, encoding FROM predictions WHERE recording_id = ? ORDER BY first_window", (rid,)
    ).fetchall()
    assert [(first, windows) for first, windows, _ in blocks] == [(0, 720), (720, 720), (1440, 560)]
    assert {encoding for _, _, encoding in blocks} == {predictions.SPARSE}
    first, scores = project.predictions(version, rid)
    assert first == 0
    np.testing.assert_array_equal(scores, _expected(stored[rid]))
    first, part = project.predictions(version, rid, 3590.0, 3700.0, columns=[3, 0])
    np.testing.assert_array_equal(part, _expected(stored[rid])[first : first + len(part)][:, [3, 0]])
    peaks = project.prediction_peaks(version, rid, 3590.0, 3700.0)
    np.testing.assert_array_equal(peaks, _expected(stored[rid])[first : first + len(part)].max(axis=0))
    assert project.scored_windows(version, rid) == 2000


def test_a_chunk_is_not_joined_where_that_would_change_what_reads_back(tmp_path: Path) -> None:
    project = Project.create(tmp_path / "project", species=CLASSES)
    model = project.register_model("/m.ckpt", CLASSES, activate=True)
    (rid,) = _add_recordings(project, tmp_path / "audio", 1, 1000.0)
    busy = np.random.default_rng(0).uniform(0.0, 0.9, size=(48, len(CLASSES))).astype(np.float32)  # dense, exact
    quiet = _season_scores(48, seed=1)  # sparse
    project.store_predictions(model.version, rid, busy, first_window=0)
    project.store_predictions(model.version, rid, quiet, first_window=48)  # another encoding: a block of its own
    project.store_predictions(model.version, rid, quiet, first_window=120)  # not after the last block
    project.store_predictions(model.version, rid, quiet, first_window=168)  # after it: joined
    blocks = project.db.execute("SELECT first_window, windows, encoding FROM predictions ORDER BY 1").fetchall()
    assert blocks == [(0, 48, "dense"), (48, 48, "sparse"), (120, 96, "sparse")]
    _, back = project.predictions(model.version, rid, columns=None, start_s=0, end_s=47 * 5.0)
    np.testing.assert_array_equal(back[:48], busy.astype(np.float16).astype(np.float32))
    project.close()


def test_each_block_keeps_its_maxima_and_they_go_with_it(scored) -> None:
    project, version, _ = scored
    rows = project.db.execute(
        "SELECT p.windows, p.scores, p.encoding, m.maxima FROM predictions AS p "
        "JOIN prediction_maxima AS m USING (model_version, recording_id, first_window)"
    ).fetchall()
    assert len(rows) == project.db.execute("SELECT count(*) FROM predictions").fetchone()[0] == 9
    for windows, blob, encoding, maxima in rows:
        assert maxima == predictions.stored_maxima(encoding, blob, windows, len(CLASSES))
        entries = np.frombuffer(maxima, dtype=predictions.MAXIMUM)
        block = predictions.decode(encoding, blob, windows, len(CLASSES))
        np.testing.assert_array_equal(entries["score"].astype(np.float32), block.max(axis=0)[entries["column"]])
    project.discard_predictions(version)
    assert project.db.execute("SELECT count(*) FROM prediction_maxima").fetchone()[0] == 0


@pytest.mark.parametrize("threshold", [0.005, 0.01, 0.3, 0.5, 0.9, 0.999])
def test_queries_find_the_same_with_the_maxima_as_reading_every_block(scored, monkeypatch, threshold) -> None:
    project, version, stored = scored
    rid = next(iter(stored))
    record_verdicts(project, candidates(project, version, "sp001", min_score=0.5)[:3], "confirm")
    with_maxima = {
        "rare": candidates(project, version, "sp011", min_score=threshold, show="all", order="time"),
        "common": candidates(project, version, "sp000", min_score=threshold, order="score"),
        "several": candidates(project, version, ["sp001", "sp007"], min_score=threshold, show="all"),
        "all": candidates(project, version, None, min_score=threshold, show="all", order="time"),
        "summary": summarise(project, version, "sp001", threshold=threshold).detections,
        "by time": detections_by_time(project, version, "sp000", threshold=threshold).by_date.tolist(),
        "overview": [(r.species, r.detections) for r in species_overview(project, version, threshold=threshold)],
        "blocks": [(f, b.tolist()) for f, b in project.prediction_blocks(version, rid, [0, 5], threshold)],
    }
    _reading_every_block(monkeypatch)
    every_block = {
        "rare": candidates(project, version, "sp011", min_score=threshold, show="all", order="time"),
        "common": candidates(project, version, "sp000", min_score=threshold, order="score"),
        "several": candidates(project, version, ["sp001", "sp007"], min_score=threshold, show="all"),
        "all": candidates(project, version, None, min_score=threshold, show="all", order="time"),
        "summary": summarise(project, version, "sp001", threshold=threshold).detections,
        "by time": detections_by_time(project, version, "sp000", threshold=threshold).by_date.tolist(),
        "overview": [(r.species, r.detections) for r in species_overview(project, version, threshold=threshold)],
    }
    assert {k: v for k, v in with_maxima.items() if k != "blocks"} == every_block
    assert len(every_block["common"]) > 0 or threshold >= 0.9
    # The blocks handed over hold every window at or above the threshold, and nothing else differs.
    expected = _expected(stored[rid])[:, [0, 5]]
    for first, block in with_maxima["blocks"]:
        np.testing.assert_array_equal(np.array(block), expected[first : first + len(block)])
    covered = np.zeros(len(expected), dtype=bool)
    for first, block in with_maxima["blocks"]:
        covered[first : first + len(block)] = True
    assert not np.any((expected >= threshold).any(axis=1) & ~covered)


def test_blocks_without_a_species_are_not_read(tmp_path: Path, monkeypatch) -> None:
    project = Project.create(tmp_path / "project", species=CLASSES)
    version = project.register_model("/m.ckpt", CLASSES, activate=True).version
    (rid,) = _add_recordings(project, tmp_path / "audio", 1, 2000 * 5.0)
    scores = _season_scores(2000, seed=2)
    scores[:, 20] = 0.0
    scores[800, 20] = 0.8  # in the second block only
    for first in range(0, 2000, CHUNK):
        project.store_predictions(version, rid, scores[first : first + CHUNK], first_window=first)
    read = []
    original = predictions.decode_run

    def counted(blocks, classes, columns):
        read.extend(windows for _, _, windows in blocks)
        return original(blocks, classes, columns)

    monkeypatch.setattr(predictions, "decode_run", counted)
    assert list(project.prediction_blocks(version, rid, [39], 0.5)) == []  # sp039 never scores
    assert read == []
    ((first, block),) = project.prediction_blocks(version, rid, [20], 0.5)
    assert (first, len(block), read) == (720, 720, [720])
    assert np.flatnonzero(block[:, 0]).tolist() == [80]
    read.clear()
    assert sum(len(b) for _, b in project.prediction_blocks(version, rid, [20], 0.005)) == 2000  # below the floor
    project.close()


# -- schema 7: a project stored a chunk at a time, before blocks had maxima --------------------------


def _version_6_project(folder: Path, scores: dict[str, np.ndarray]) -> None:
    """A project as birdview 6 stored it: every 48-window chunk a block of its own, no maxima."""
    folder.mkdir()
    connection = sqlite3.connect(folder / "project.sqlite", isolation_level=None)
    for step in MIGRATIONS[:6]:
        if callable(step):
            step(connection)
        else:
            connection.executescript(step)
    connection.execute("INSERT INTO meta VALUES ('schema_version', '6')")
    connection.executemany("INSERT INTO species(code) VALUES (?)", [(code,) for code in CLASSES])
    connection.execute(
        "INSERT INTO models(path, created_at, classes, active, hop_s) VALUES ('/m.ckpt', 't', ?, 1, 5.0)",
        (str(CLASSES).replace("'", '"'),),
    )
    for rid, name in enumerate(scores, 1):
        connection.execute(
            "INSERT INTO recordings(id, path, name, size, content_hash, duration_s, sample_rate, channels, added_at, "
            "start_time, site) VALUES (?, ?, ?, 1, 'h', ?, 32000, 1, 't', '2025-05-01T04:00:00', 'S00')",
            (rid, f"/{name}.wav", f"{name}.wav", len(scores[name]) * 5.0),
        )
        for first in range(0, len(scores[name]), CHUNK):
            encoding, blob = predictions.encode(scores[name][first : first + CHUNK])
            connection.execute(
                "INSERT INTO predictions(model_version, recording_id, first_window, windows, scores, encoding) "
                "VALUES (1, ?, ?, ?, ?, ?)",
                (rid, first, len(scores[name][first : first + CHUNK]), blob, encoding),
            )
    connection.execute(
        "INSERT INTO annotations(recording_id, start_s, end_s, species, kind, status, source, score, model_version, "
        "reviewed_species, verdict, created_at, updated_at) "
        "VALUES (1, 50.0, 55.0, 'sp000', 'call', 'confirmed', 'model_review', 0.8, 1, 'sp000', 'confirm', 't', 't')"
    )
    connection.close()


def test_schema_7_joins_the_chunks_and_keeps_every_score_and_label(tmp_path: Path) -> None:
    busy = np.random.default_rng(5).uniform(0.0, 0.9, size=(150, len(CLASSES))).astype(np.float32)
    scores = {"quiet": _season_scores(1500, seed=3), "busy": busy, "short": _season_scores(30, seed=4)}
    # What version 6 read back, block by block.
    before = {}
    for name, values in scores.items():
        parts = [predictions.encode(values[f : f + CHUNK]) for f in range(0, len(values), CHUNK)]
        before[name] = np.concatenate(
            [
                predictions.decode(e, b, len(values[f : f + CHUNK]), len(CLASSES))
                for (e, b), f in zip(parts, range(0, len(values), CHUNK), strict=True)
            ]
        )
    folder = tmp_path / "old"
    _version_6_project(folder, scores)
    with Project.open(folder) as project:
        assert project.db.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()[0] == str(
            SCHEMA_VERSION
        )
        for rid, name in enumerate(scores, 1):
            _, back = project.predictions(1, rid)
            np.testing.assert_array_equal(back, before[name])
            assert project.scored_windows(1, rid) == len(scores[name])
        blocks = project.db.execute(
            "SELECT recording_id, first_window, windows, encoding FROM predictions ORDER BY 1, 2"
        ).fetchall()
        assert [b[:3] for b in blocks if b[0] == 1] == [(1, 0, 720), (1, 720, 720), (1, 1440, 60)]
        assert [b[:3] for b in blocks if b[0] == 3] == [(3, 0, 30)]
        assert {b[3] for b in blocks if b[0] == 2} == {"dense"}
        (count,) = project.db.execute("SELECT count(*) FROM prediction_maxima").fetchone()
        assert count == len(blocks)
        (label,) = project.annotations()
        assert (label.species, label.verdict, label.score) == ("sp000", "confirm", 0.8)
        found = candidates(project, 1, "sp000", min_score=0.5, show="all", order="time")
        expected = sorted(
            (rid, int(w)) for rid, name in enumerate(scores, 1) for w in np.flatnonzero(before[name][:, 0] >= 0.4995)
        )
        assert [(c.recording_id, c.window) for c in found] == expected
        # Scoring goes on where it stopped: the next chunk joins the last block.
        more = _season_scores(48, seed=9)
        project.store_predictions(1, 1, more, first_window=1500)
        assert project.db.execute(
            "SELECT windows FROM predictions WHERE recording_id = 1 ORDER BY first_window DESC LIMIT 1"
        ).fetchone() == (108,)
        _, tail = project.predictions(1, 1, start_s=1500 * 5.0)
        np.testing.assert_array_equal(tail, _expected(more))


def test_a_project_made_now_opens_with_its_maxima_table(tmp_path: Path) -> None:
    with Project.create(tmp_path / "new", species=CLASSES) as project:
        tables = {r[0] for r in project.db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        assert "prediction_maxima" in tables
        assert project.annotations() == [] and Annotation  # the store's usual API is unaffected
