"""The label rules of birdview.store.labels, and the schema step that gave review labels their
own columns."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass, fields
from pathlib import Path

import numpy as np
import pytest

from birdview.review.queue import Candidate, candidates, record_verdicts, verdict_of
from birdview.store import labels
from birdview.store.labels import (
    Annotation,
    Kind,
    Source,
    Status,
    Verdict,
    counts_for_training,
    drawn_label,
    read_verdict,
    verdict_labels,
)
from birdview.store.project import KINDS, SOURCES, STATUSES, Project, ProjectError
from birdview.store.schema import MIGRATIONS, SCHEMA_VERSION
from tests.conftest import write_tone_file


@dataclass(frozen=True)
class _Detection:
    recording_id: int = 1
    start_s: float = 10.0
    end_s: float = 15.0
    species: str = "amecro"
    score: float = 0.8
    model_version: int = 2


def test_the_choices_are_the_strings_stored_and_written() -> None:
    assert Kind.values() == KINDS == ("call", "hard_negative", "uncertain")
    assert Status.values() == STATUSES == ("unreviewed", "confirmed", "rejected")
    assert Source.values() == SOURCES == ("user", "model_review", "import")
    assert Verdict.values() == ("confirm", "reject", "uncertain", "relabel")
    assert Kind.HARD_NEGATIVE == "hard_negative" and str(Kind.HARD_NEGATIVE) == "hard_negative"
    assert f"{Status.CONFIRMED}" == "confirmed" and json.dumps([Source.MODEL_REVIEW]) == '["model_review"]'
    assert ("call", True) in {(Kind.CALL, True)}  # hashes like its string
    assert Kind.parse("uncertain") is Kind.UNCERTAIN
    with pytest.raises(ProjectError, match="kind must be one of call, hard_negative, uncertain, not 'song'"):
        Kind.parse("song")
    with pytest.raises(ProjectError, match="verdict must be one of"):
        Verdict.parse("maybe")


def test_the_annotation_keeps_its_positional_order() -> None:
    names = [f.name for f in fields(Annotation)]
    assert names[:14] == [
        "recording_id",
        "start_s",
        "end_s",
        "low_hz",
        "high_hz",
        "species",
        "kind",
        "status",
        "source",
        "score",
        "model_version",
        "author",
        "note",
        "channel",
    ]
    assert names[14:] == ["reviewed_species", "verdict", "id", "created_at", "updated_at"]
    default = Annotation(1, 0.0, 1.0)
    assert (default.kind, default.status, default.source) == ("call", "unreviewed", "user")
    assert type(default.kind) is str


def test_a_drawn_call_is_confirmed_and_other_kinds_are_left_unreviewed() -> None:
    call = drawn_label(3, 1.0, 2.0, 2000.0, 6000.0, "amecro", "call", nyquist_hz=16000.0)
    assert (call.kind, call.status, call.source) == ("call", "confirmed", "user")
    assert (call.recording_id, call.start_s, call.end_s, call.low_hz, call.high_hz, call.species) == (
        3,
        1.0,
        2.0,
        2000.0,
        6000.0,
        "amecro",
    )
    for kind in ("hard_negative", "uncertain"):
        label = drawn_label(3, 1.0, 2.0, 2000.0, 6000.0, None, kind)
        assert (label.kind, label.status, label.source) == (kind, "unreviewed", "user")
    with pytest.raises(ProjectError, match="kind must be one of"):
        drawn_label(3, 1.0, 2.0, 2000.0, 6000.0, None, "song")


def test_a_box_over_the_whole_band_is_a_time_span() -> None:
    span = drawn_label(1, 1.0, 2.0, 0.0, 16000.0, "amecro", nyquist_hz=16000.0)
    assert span.whole_band and (span.low_hz, span.high_hz) == (None, None)
    nearly = drawn_label(1, 1.0, 2.0, 0.5, 15900.0, "amecro", nyquist_hz=16000.0)
    assert nearly.whole_band
    box = drawn_label(1, 1.0, 2.0, 0.0, 15000.0, "amecro", nyquist_hz=16000.0)
    assert (box.low_hz, box.high_hz) == (0.0, 15000.0)
    unknown_top = drawn_label(1, 1.0, 2.0, 0.0, 16000.0, "amecro")
    assert not unknown_top.whole_band


@pytest.mark.parametrize(
    ("verdict", "species", "made"),
    [
        ("confirm", None, [("amecro", "call", "confirmed")]),
        ("reject", None, [("amecro", "hard_negative", "rejected")]),
        ("uncertain", None, [("amecro", "uncertain", "unreviewed")]),
        ("relabel", "barswa", [("amecro", "hard_negative", "rejected"), ("barswa", "call", "confirmed")]),
    ],
)
def test_each_verdict_makes_its_labels_and_reads_back(verdict: str, species: str | None, made: list[tuple]) -> None:
    detection = _Detection()
    found = verdict_labels(detection, verdict, species, author="ana")
    assert [(a.species, a.kind, a.status) for a in found] == made
    for label in found:
        assert (label.source, label.score, label.model_version, label.author) == ("model_review", 0.8, 2, "ana")
        assert (label.recording_id, label.start_s, label.end_s, label.whole_band) == (1, 10.0, 15.0, True)
        assert (label.reviewed_species, label.verdict, label.note) == ("amecro", verdict, None)
    assert read_verdict(found, detection.species) == verdict


def test_verdict_edge_cases() -> None:
    detection = _Detection()
    same = verdict_labels(detection, "relabel", "amecro")
    assert [(a.kind, a.verdict) for a in same] == [("call", "confirm")]
    with pytest.raises(ProjectError, match="relabel needs the right species"):
        verdict_labels(detection, "relabel")
    with pytest.raises(ProjectError, match="verdict must be one of confirm, reject, uncertain, relabel"):
        verdict_labels(detection, "maybe")
    assert read_verdict([], "amecro") is None
    # a review label edited later reads as what it has become
    (confirmed,) = verdict_labels(detection, "confirm")
    assert read_verdict([Annotation(1, 10.0, 15.0, species="amecro", kind="hard_negative")], "amecro") == "reject"
    assert read_verdict([confirmed], "amecro") == Verdict.CONFIRM


@pytest.mark.parametrize(
    ("kind", "status", "source", "species", "counts"),
    [
        ("hard_negative", "rejected", "model_review", "amecro", True),
        ("hard_negative", "unreviewed", "import", None, True),
        ("call", "confirmed", "import", "amecro", True),
        ("call", "unreviewed", "user", "amecro", True),
        ("call", "unreviewed", "import", "amecro", False),
        ("call", "rejected", "user", "amecro", False),
        ("call", "confirmed", "user", None, False),
        ("uncertain", "confirmed", "user", "amecro", False),
    ],
)
def test_which_labels_count_for_training(
    kind: str, status: str, source: str, species: str | None, counts: bool
) -> None:
    label = Annotation(1, 0.0, 1.0, species=species, kind=kind, status=status, source=source)
    assert counts_for_training(label) is counts


def test_training_labels_of_a_project(tmp_path: Path) -> None:
    with Project.create(tmp_path / "p", species=["amecro"]) as project:
        (recording,), _ = project.add_recordings([write_tone_file(tmp_path / "a.wav", duration_s=5)])
        kept = project.add_annotations(
            [
                drawn_label(recording.id, 0.0, 1.0, 100.0, 900.0, "amecro"),
                drawn_label(recording.id, 1.0, 2.0, 100.0, 900.0, None, "hard_negative"),
            ]
        )
        project.add_annotations([Annotation(recording.id, 2.0, 3.0, species="amecro", source="import")])
        assert [a.id for a in labels.training_labels(project)] == [a.id for a in kept]


# -- schema 5 ---------------------------------------------------------------------------------------


def _version_4_project(folder: Path) -> None:
    """A project as birdview wrote it before schema 5: the reviewed species in ``note``."""
    folder.mkdir()
    connection = sqlite3.connect(folder / "project.sqlite")
    for script in MIGRATIONS[:4]:
        assert isinstance(script, str)
        connection.executescript(script)
    connection.execute("INSERT INTO meta VALUES ('schema_version', '4')")
    connection.executemany("INSERT INTO species(code) VALUES (?)", [("amecro",), ("barswa",)])
    connection.execute(
        "INSERT INTO recordings(path, name, size, content_hash, duration_s, sample_rate, channels, added_at) "
        "VALUES ('/x.wav', 'x.wav', 1, 'h', 60, 32000, 1, 't')"
    )
    connection.execute(
        "INSERT INTO models(path, created_at, classes, active) VALUES ('/m.ckpt', 't', ?, 1)", ('["amecro", "barswa"]',)
    )
    rows = [
        # a relabel of an amecro detection to barswa: two labels, both with the reviewed species in note
        (0.0, "amecro", "hard_negative", "rejected", "model_review", "amecro"),
        (0.0, "barswa", "call", "confirmed", "model_review", "amecro"),
        # a confirmed barswa detection
        (5.0, "barswa", "call", "confirmed", "model_review", "barswa"),
        # a rejected amecro detection
        (10.0, "amecro", "hard_negative", "rejected", "model_review", "amecro"),
        # an uncertain one without a note (the species is the one reviewed)
        (15.0, "amecro", "uncertain", "unreviewed", "model_review", None),
        # the user's own label, with a real note: untouched
        (20.0, "amecro", "call", "confirmed", "user", "faint, behind a wren"),
    ]
    connection.executemany(
        "INSERT INTO annotations(recording_id, start_s, end_s, species, kind, status, source, score, model_version, "
        "note, created_at, updated_at) VALUES (1, ?, ? + 5, ?, ?, ?, ?, 0.7, 1, ?, 't', 't')",
        [(start, start, species, kind, status, source, note) for start, species, kind, status, source, note in rows],
    )
    connection.commit()
    connection.close()


def test_schema_5_moves_the_reviewed_species_out_of_note(tmp_path: Path) -> None:
    folder = tmp_path / "old"
    _version_4_project(folder)
    with Project.open(folder) as project:
        assert project.db.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()[0] == str(
            SCHEMA_VERSION
        )
        assert SCHEMA_VERSION >= 6
        found = [(a.start_s, a.species, a.source, a.reviewed_species, a.verdict, a.note) for a in project.annotations()]
        assert found == [
            (0.0, "amecro", "model_review", "amecro", "relabel", None),
            (0.0, "barswa", "model_review", "amecro", "relabel", None),
            (5.0, "barswa", "model_review", "barswa", "confirm", None),
            (10.0, "amecro", "model_review", "amecro", "reject", None),
            (15.0, "amecro", "model_review", "amecro", "uncertain", None),
            (20.0, "amecro", "user", None, None, "faint, behind a wren"),
        ]
        # the queue reads the new columns: the old verdicts are still verdicts on the same windows
        relabelled = Candidate(1, 0, 0.0, 5.0, "amecro", 0.7, 1)
        assert verdict_of(project, relabelled) == "relabel"
        assert verdict_of(project, Candidate(1, 1, 5.0, 10.0, "barswa", 0.7, 1)) == "confirm"
        assert verdict_of(project, Candidate(1, 1, 5.0, 10.0, "amecro", 0.7, 1)) is None
        # a new verdict replaces the migrated one
        record_verdicts(project, [relabelled], "confirm")
        assert verdict_of(project, relabelled) == "confirm"
        assert [(a.species, a.verdict) for a in project.annotations(start_s=0.0, end_s=0.0)] == [("amecro", "confirm")]


def test_the_queue_writes_the_review_columns_and_leaves_note_free(tmp_path: Path) -> None:
    with Project.create(tmp_path / "p", species=["amecro", "barswa"]) as project:
        (recording,), _ = project.add_recordings([write_tone_file(tmp_path / "a.wav", duration_s=10)])
        model = project.register_model("/m.ckpt", ["amecro", "barswa"], activate=True)
        project.store_predictions(model.version, recording.id, np.array([[0.9, 0.1], [0.2, 0.8]], dtype=np.float32))
        first, second = candidates(project, model.version, order="time")
        record_verdicts(project, [first], "relabel", species="barswa")
        record_verdicts(project, [second], "reject")
        stored = project.db.execute(
            "SELECT start_s, species, reviewed_species, verdict, note FROM annotations ORDER BY start_s, id"
        ).fetchall()
        assert stored == [
            (0.0, "amecro", "amecro", "relabel", None),
            (0.0, "barswa", "amecro", "relabel", None),
            (5.0, "barswa", "barswa", "reject", None),
        ]
        # the user may now write a note on a review label without changing what was reviewed
        (label,) = [a for a in project.annotations() if a.start_s == 5.0]
        project.update_annotation(label.id, note="a wren after all")
        assert verdict_of(project, second) == "reject"


def test_a_verdict_outside_the_choices_is_refused(tmp_path: Path) -> None:
    with Project.create(tmp_path / "p", species=["amecro"]) as project:
        (recording,), _ = project.add_recordings([write_tone_file(tmp_path / "a.wav", duration_s=5)])
        with pytest.raises(ProjectError, match="verdict must be one of"):
            project.add_annotation(Annotation(recording.id, 0.0, 1.0, verdict="maybe"))
