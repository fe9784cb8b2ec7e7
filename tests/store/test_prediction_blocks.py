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
    """Project.prediction_blocks as it read before blocks had maxima: every block, one at a time;
    and Project.prediction_entries(_of) as the scores of those blocks at or above the cuts."""
    original = Project.prediction_blocks

    def every(self, version, recording_id, columns=None, min_score=None):
        n_classes = len(self.model(version).classes)
        for first, windows, blob, encoding in self.db.execute(
            "SELECT first_window, windows, scores, encoding FROM predictions WHERE model_version = ? "
            "AND recording_id = ? ORDER BY first_window",
            (version, recording_id),
        ).fetchall():
            yield first, predictions.decode(encoding, blob, windows, n_classes, columns)

    def entries(self, version, recording_id, target, lowest):
        target, lowest = np.asarray(target), np.asarray(lowest, dtype=np.float32)
        wanted = np.flatnonzero(target >= 0)
        found = [np.zeros(0, np.int64)], [np.zeros(0, np.int64)], [np.zeros(0, np.float32)]
        for first, block in every(self, version, recording_id, wanted.tolist()):
            rows, cols = np.nonzero(block >= lowest[target[wanted]])
            for part, values in zip(found, (first + rows, target[wanted[cols]], block[rows, cols]), strict=True):
                part.append(values)
        window, code, score = (np.concatenate(part) for part in found)
        order = np.lexsort((code, window))
        return window[order], code[order], score[order]

    def entries_of(self, version, recording_ids, target, lowest):
        for recording_id in recording_ids:
            yield recording_id, *entries(self, version, recording_id, target, lowest)

    assert original is not every
    monkeypatch.setattr(Project, "prediction_blocks", every)
    monkeypatch.setattr(Project, "prediction_entries", entries)
    monkeypatch.setattr(Project, "prediction_entries_of", entries_of)


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
        "SELECT p.windows, p.scores, p.encoding, m.maxima, k.peaks FROM predictions AS p "
        "JOIN prediction_maxima AS m USING (model_version, recording_id, first_window) "
        "JOIN prediction_peaks AS k USING (model_version, recording_id, first_window)"
    ).fetchall()
    assert len(rows) == project.db.execute("SELECT count(*) FROM predictions").fetchone()[0] == 9
    for windows, blob, encoding, maxima, peaks in rows:
        assert maxima == predictions.stored_maxima(encoding, blob, windows, len(CLASSES))
        # The peaks: the block's scores from PEAK_FLOOR up, as a sparse block of its windows.
        assert peaks == predictions.stored_peaks(encoding, blob, windows, len(CLASSES))
        block = predictions.decode(encoding, blob, windows, len(CLASSES))
        high = np.where(block >= np.float32(predictions.PEAK_FLOOR), block, 0)
        np.testing.assert_array_equal(predictions.decode(predictions.SPARSE, peaks, windows, len(CLASSES)), high)
        entries = np.frombuffer(maxima, dtype=predictions.MAXIMUM)
        block = predictions.decode(encoding, blob, windows, len(CLASSES))
        np.testing.assert_array_equal(entries["score"].astype(np.float32), block.max(axis=0)[entries["column"]])
    project.discard_predictions(version)
    assert project.db.execute("SELECT count(*) FROM prediction_maxima").fetchone()[0] == 0
    assert project.db.execute("SELECT count(*) FROM prediction_peaks").fetchone()[0] == 0


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


# -- many recordings' scores at once: the blocks read together, the same as block by block ----------


@pytest.fixture
def season(tmp_path: Path) -> tuple[Project, int]:
    """20 recordings (more than a batch of prediction_entries_of), two sites on alternate days,
    stored 48 windows at a time; some have a dense block (scores a sparse one would drop)."""
    project = Project.create(tmp_path / "project", species=CLASSES)
    version = project.register_model("/m.ckpt", CLASSES, activate=True).version
    ids = _add_recordings(project, tmp_path / "audio", 20, 1500 * 5.0)
    for n, rid in enumerate(ids):
        scores = _season_scores(1500, seed=10 + n)
        if n % 3 == 0:
            scores[720:768] = np.random.default_rng(n).uniform(0.0, 0.9, size=(48, len(CLASSES)))
        for first in range(0, 1500, CHUNK):
            project.store_predictions(version, rid, scores[first : first + CHUNK], first_window=first)
    encodings = {e for (e,) in project.db.execute("SELECT encoding FROM predictions")}
    assert encodings == {predictions.DENSE, predictions.SPARSE}
    yield project, version
    project.close()


def _targets() -> dict[str, np.ndarray]:
    one = np.full(len(CLASSES), -1)
    one[3] = 0
    several = np.full(len(CLASSES), -1)
    several[[7, 1, 30]] = [0, 2, 1]  # counted classes out of the columns' order
    return {"one": one, "several": several, "all": np.arange(len(CLASSES))[::-1].copy()}


@pytest.mark.parametrize("threshold", [0.005, 0.01, 0.2, 0.5, 0.9])
def test_many_recordings_at_once_find_what_each_block_holds(season, monkeypatch, threshold) -> None:
    project, version = season
    ids = [r.id for r in project.recordings()][::-1]
    found = {}
    for name, target in _targets().items():
        counted = int((target >= 0).sum())
        lowest = threshold + np.linspace(0.0, 0.1, counted, dtype=np.float32)  # a cut per counted class
        found[name] = [
            [rid, *(a.tolist() for a in parts)]
            for rid, *parts in project.prediction_entries_of(version, ids, target, lowest)
        ]
        found[name + " each"] = [
            [rid, *(a.tolist() for a in project.prediction_entries(version, rid, target, lowest))] for rid in ids
        ]
    _reading_every_block(monkeypatch)
    for name, target in _targets().items():
        counted = int((target >= 0).sum())
        lowest = threshold + np.linspace(0.0, 0.1, counted, dtype=np.float32)
        expected = [
            [rid, *(a.tolist() for a in parts)]
            for rid, *parts in project.prediction_entries_of(version, ids, target, lowest)
        ]
        assert found[name] == expected, name
        assert found[name + " each"] == expected, name
        assert sum(len(parts[1]) for parts in expected) > 0 or threshold >= 0.9


def test_queries_over_many_recordings_are_the_same_as_block_by_block(season, monkeypatch) -> None:
    from birdview.season.tables import detection_table
    from birdview.store.selection import Selection

    project, version = season
    record_verdicts(project, candidates(project, version, "sp001", min_score=0.5)[:5], "confirm")
    record_verdicts(project, candidates(project, version, "sp002", min_score=0.6)[:4], "reject")
    dawn = Selection.parse(sites="S01", hours="01-02")

    def asked() -> dict[str, object]:
        return {
            "informative": candidates(project, version, ["sp002", "sp001", "sp009"], order="most informative"),
            "reviewed": candidates(project, version, ["sp001", "sp002"], show="reviewed", order="score"),
            "range": candidates(project, version, None, min_score=0.3, max_score=0.6, show="all", order="time"),
            "selection": candidates(project, version, "sp000", min_score=0.2, show="all", selection=dawn),
            "allowed": candidates(project, version, None, show="all", allowed={1: {"sp000"}, 4: set()}),
            "table": detection_table(project, version, by=("site", "date"), threshold=0.4).to_dict("records"),
            "hours": detection_table(project, version, dawn, ("site", "hour"), ["sp000", "sp005"]).to_dict("records"),
        }

    found = asked()
    _reading_every_block(monkeypatch)
    expected = asked()
    assert found == expected
    assert all(expected[name] for name in expected)


@pytest.mark.parametrize("wanted", [["sp001", "sp002", "sp003"], ["sp003", "sp001", "sp002"]])
def test_the_queue_orders_are_the_candidates_sorted(tmp_path: Path, wanted: list[str]) -> None:
    """Every order as order_candidates sorts the candidates found (recording by recording, window by
    window, the species as asked): ties (one score for three species in a window; 0.4 and 0.6 as
    far from 0.5) keep that order."""
    from birdview.review.queue import order_candidates

    project = Project.create(tmp_path / "project", species=CLASSES)
    version = project.register_model("/m.ckpt", CLASSES, activate=True).version
    for n, rid in enumerate(_add_recordings(project, tmp_path / "audio", 2, 40 * 5.0)):
        scores = np.zeros((40, len(CLASSES)), dtype=np.float32)
        scores[::3, 1:4] = 0.6 - 0.1 * n  # one score for three species
        scores[1::3, [2, 3]] = 0.4
        scores[2::5, 1] = 0.9
        project.store_predictions(version, rid, scores)
    asked = {"min_score": 0.3, "show": "all", "threshold": 0.5}
    found = candidates(project, version, wanted, order="time", **asked)
    place = {code: n for n, code in enumerate(wanted)}
    generated = sorted(found, key=lambda c: (c.recording_id, c.start_s, place[c.species]))
    for order in ("score", "uncertainty", "time"):
        assert candidates(project, version, wanted, order=order, **asked) == order_candidates(
            project, generated, order, 0.5
        ), order
    project.close()


def test_the_lowest_bits_bound_every_float16_at_or_above_a_score() -> None:
    every = np.arange(0x7C00, dtype=np.uint16)  # the finite non-negative float16s
    scores = every.view(np.float16).astype(np.float32)
    for score in [0.0, 0.01, 0.0099, 0.3, 0.4995, 0.5, 0.5004, 0.9, 0.999, 1.0, 1.0005]:
        bits = predictions._lowest_bits(float(np.float32(score)))
        np.testing.assert_array_equal(every >= bits, scores >= np.float32(score))


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


def test_schema_8_keeps_each_blocks_peaks_and_queries_read_them(season, tmp_path: Path, monkeypatch) -> None:
    project, version = season
    stored = project.db.execute("SELECT first_window, recording_id, peaks FROM prediction_peaks ORDER BY 1, 2")
    stored = stored.fetchall()
    assert len(stored) == project.db.execute("SELECT count(*) FROM predictions").fetchone()[0]
    asked = {"min_score": 0.5, "show": "all", "order": "time"}
    before = candidates(project, version, ["sp000", "sp004"], **asked)
    # As schema 7 left a project: maxima, no peaks.
    project.db.execute("DROP TABLE prediction_peaks")
    project.db.execute("UPDATE meta SET value = '7' WHERE key = 'schema_version'")
    project.close()
    with Project.open(project.folder) as again:
        assert again.db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()[0] == str(
            SCHEMA_VERSION
        )
        migrated = again.db.execute("SELECT first_window, recording_id, peaks FROM prediction_peaks ORDER BY 1, 2")
        assert migrated.fetchall() == stored
        read = []
        original = predictions.entries_run

        def counted(blocks, target, lowest):
            read.extend(len(blob) for _, _, blob, _ in blocks)
            return original(blocks, target, lowest)

        monkeypatch.setattr(predictions, "entries_run", counted)
        assert candidates(again, version, ["sp000", "sp004"], **asked) == before
        peaks_bytes = sum(len(peaks) for _, _, peaks in stored)
        assert 0 < sum(read) <= peaks_bytes  # the peaks were read, not the blocks
        read.clear()
        candidates(again, version, ["sp000"], min_score=0.2, show="all")  # below the peaks' floor: the blocks
        assert sum(read) > peaks_bytes


def test_blocks_without_peaks_or_maxima_are_read_whole(season, monkeypatch) -> None:
    """A block whose peaks are not kept (NULL) is read itself; a block without a row of maxima
    (stored otherwise than by this store) sends the query back to the blocks."""
    project, version = season
    ids = [r.id for r in project.recordings()]
    target = np.full(len(CLASSES), -1)
    target[[0, 4]] = [0, 1]
    lowest = np.array([0.5, 0.6], dtype=np.float32)

    def found() -> list:
        return [
            [rid, *(a.tolist() for a in parts)]
            for rid, *parts in project.prediction_entries_of(version, ids, target, lowest)
        ]

    project.db.execute("DELETE FROM prediction_peaks WHERE first_window = 720")
    without_peaks = found()
    project.db.execute("DELETE FROM prediction_maxima WHERE recording_id = ? AND first_window = 0", (ids[3],))
    without_maxima = found()
    _reading_every_block(monkeypatch)
    assert without_peaks == without_maxima == found()


def test_a_project_made_now_opens_with_its_maxima_table(tmp_path: Path) -> None:
    with Project.create(tmp_path / "new", species=CLASSES) as project:
        tables = {r[0] for r in project.db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        assert "prediction_maxima" in tables
        assert project.annotations() == [] and Annotation  # the store's usual API is unaffected
