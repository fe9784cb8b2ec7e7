from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from birdview.review.queue import candidates, progress, record_verdicts, verdict_of
from birdview.store.project import Project, ProjectError
from tests.conftest import write_tone_file

CLASSES = ["amecro", "barswa", "comkin"]


@pytest.fixture
def project(tmp_path: Path) -> Project:
    project = Project.create(tmp_path / "p", species=CLASSES)
    project.add_recordings(
        [write_tone_file(tmp_path / "A.wav", duration_s=30), write_tone_file(tmp_path / "B.wav", duration_s=20, seed=1)]
    )
    model = project.register_model("/m.ckpt", CLASSES, activate=True)
    a, b = project.recordings()
    scores_a = np.array(
        [[0.9, 0.1, 0.0], [0.55, 0.2, 0.0], [0.2, 0.7, 0.0], [0.48, 0.0, 0.0], [0.0, 0.0, 0.99], [0.3, 0.0, 0.0]],
        dtype=np.float32,
    )
    scores_b = np.array([[0.8, 0.0, 0.0], [0.0, 0.0, 0.0], [0.6, 0.51, 0.0], [0.0, 0.0, 0.0]], dtype=np.float32)
    project.store_predictions(model.version, a.id, scores_a)
    project.store_predictions(model.version, b.id, scores_b)
    yield project
    project.close()


def _describe(found) -> list[tuple]:
    return [(c.recording_id, c.window, c.species, round(c.score, 2)) for c in found]


def test_orders_and_filters(project: Project) -> None:
    assert _describe(candidates(project, 1, "amecro")) == [
        (1, 0, "amecro", 0.9),
        (2, 0, "amecro", 0.8),
        (2, 2, "amecro", 0.6),
        (1, 1, "amecro", 0.55),
    ]
    by_uncertainty = candidates(project, 1, "amecro", min_score=0.4, order="uncertainty", threshold=0.5)
    assert [round(c.score, 2) for c in by_uncertainty] == [0.48, 0.55, 0.6, 0.8, 0.9]
    by_time = candidates(project, 1, min_score=0.5, order="time")
    assert _describe(by_time)[:3] == [(1, 0, "amecro", 0.9), (1, 1, "amecro", 0.55), (1, 2, "barswa", 0.7)]
    assert len(candidates(project, 1, min_score=0.5, max_score=0.6)) == 3  # 0.55, 0.6, 0.51
    first = candidates(project, 1, "barswa", min_score=0.5)[0]
    assert (first.start_s, first.end_s) == (10.0, 15.0)
    last_b = candidates(project, 1, "amecro", min_score=0.6, recording_ids=[2])
    assert _describe(last_b) == [(2, 0, "amecro", 0.8), (2, 2, "amecro", 0.6)]
    with pytest.raises(ProjectError, match="does not predict zzz"):
        candidates(project, 1, "zzz")


def test_each_verdict_writes_the_right_label(project: Project) -> None:
    queue = candidates(project, 1, min_score=0.5)
    confirm, reject, uncertain, relabel = queue[:4]
    (label,) = record_verdicts(project, [confirm], "confirm")
    assert (label.kind, label.status, label.source, label.species) == (
        "call",
        "confirmed",
        "model_review",
        confirm.species,
    )
    assert (label.score, label.model_version) == (pytest.approx(confirm.score, abs=1e-3), 1)
    assert (label.start_s, label.end_s) == (confirm.start_s, confirm.end_s) and label.whole_band
    (label,) = record_verdicts(project, [reject], "reject")
    assert (label.kind, label.status, label.species) == ("hard_negative", "rejected", reject.species)
    (label,) = record_verdicts(project, [uncertain], "uncertain")
    assert label.kind == "uncertain"
    assert relabel.species == "barswa"
    negative, call = record_verdicts(project, [relabel], "relabel", species="amecro")
    assert (negative.kind, negative.species, call.kind, call.species) == ("hard_negative", "barswa", "call", "amecro")
    assert [verdict_of(project, c) for c in queue[:5]] == ["confirm", "reject", "uncertain", "relabel", None]
    assert progress(project, 1, min_score=0.5) == (4, len(queue))
    assert len(candidates(project, 1, min_score=0.5)) == len(queue) - 4  # reviewed ones leave the queue
    assert len(candidates(project, 1, min_score=0.5, show="reviewed")) == 4


def test_a_new_verdict_replaces_the_old_and_undo_restores_it(project: Project) -> None:
    candidate = candidates(project, 1, "comkin")[0]
    record_verdicts(project, [candidate], "confirm")
    record_verdicts(project, [candidate], "reject")
    assert verdict_of(project, candidate) == "reject"
    assert len(project.annotations()) == 1
    project.undo()
    assert verdict_of(project, candidate) == "confirm" and len(project.annotations()) == 1


def test_batch_reject_below_a_score_is_one_undo_step(project: Project) -> None:
    low = candidates(project, 1, "amecro", min_score=0.5, max_score=0.6)
    added = record_verdicts(project, low, "reject")
    assert len(added) == 2 and {a.kind for a in added} == {"hard_negative"}
    assert project.undo() == "reject 2 detection(s)"
    assert project.annotations() == []


def _spread(n: int) -> list:
    from birdview.review.queue import Candidate

    rng = np.random.default_rng(3)
    return [Candidate(1, i, 5.0 * i, 5.0 * i + 5, "amecro", float(s), 1) for i, s in enumerate(rng.uniform(0, 1, n))]


def test_most_informative_mixes_margin_top_and_random() -> None:
    from birdview.review.queue import MIX, informative_order

    found = _spread(50)
    ordered = informative_order(found, lambda _species: 0.5)
    assert sorted(c.window for _, c in ordered) == list(range(50))  # each candidate once
    kinds = [kind for kind, _ in ordered]
    for block in range(5):
        chunk = kinds[block * 10 : block * 10 + 10]
        assert (chunk.count("margin"), chunk.count("top"), chunk.count("random")) == (7, 2, 1)
    assert tuple(kinds[:10]) == MIX
    # The margin slots take the windows nearest the threshold, nearest first.
    margin = [c for kind, c in ordered if kind == "margin"]
    nearest = sorted(
        (c for c in found if c not in {c for kind, c in ordered if kind != "margin"}), key=lambda c: abs(c.score - 0.5)
    )
    assert margin == nearest
    assert [abs(c.score - 0.5) for c in margin[:7]] == sorted(abs(c.score - 0.5) for c in found)[:7]
    # The top slots take the best-scored ones; the whole order is reproducible.
    assert [c.score for kind, c in ordered if kind == "top"][:2] == sorted((c.score for c in found), reverse=True)[:2]
    assert informative_order(found, lambda _species: 0.5) == ordered


def test_most_informative_uses_each_species_threshold(project: Project) -> None:
    from birdview.review.queue import queue_with_progress

    project.set_setting("species_thresholds", {"amecro": 0.85})
    queue, _, _ = queue_with_progress(project, 1, species="amecro", min_score=0.0, order="most informative")
    assert [round(c.score, 2) for c in queue[:3]] == [0.9, 0.8, 0.6]  # nearest 0.85 first
    assert {round(c.score, 2) for c in queue[3:5]} >= {0.55} or len(queue) == 5
