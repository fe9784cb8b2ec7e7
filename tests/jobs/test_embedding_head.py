"""Quick retraining on a pretrained model's stored embeddings: a head for classes the model lacks."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from birdview.jobs.retrain import register_result, start_retrain
from birdview.jobs.scoring import add_model, score
from birdview.store.labels import Annotation
from birdview.store.project import Project
from tests.synthetic_birds import soundscape

pytest.importorskip("ai_edge_litert", reason="the birdnet extra (pip install -e '.[birdnet]') is not installed")

WINDOW = 3.0
PULSES, SWEEPS, QUIET = (1, 4, 7), (2, 5, 9), (0, 3, 6, 8, 10, 11)


def _project(tmp_path: Path) -> Project:
    audio = tmp_path / "audio"
    audio.mkdir()
    for number in range(4):
        calls = [(w * WINDOW + 1.0, "pulses") for w in PULSES] + [(w * WINDOW + 1.0, "upsweep") for w in SWEEPS]
        soundscape(audio / f"rec{number}.wav", 12 * WINDOW, calls, seed=10 + number)
    project = Project.create(tmp_path / "project", species=[])
    project.add_recordings([audio])
    project.add_species([("pulse_call", None, None), ("sweep_call", None, None)])
    return project


def test_a_head_on_birdnet_embeddings_separates_two_call_types_birdnet_has_no_class_for(tmp_path: Path) -> None:
    project = _project(tmp_path)
    birdnet = add_model(project, "birdnet")
    assert score(project.folder).windows == 4 * 12
    labels = []
    for recording in project.recordings():
        for windows, code in ((PULSES, "pulse_call"), (SWEEPS, "sweep_call")):
            labels += [Annotation(recording.id, w * WINDOW + 1.0, w * WINDOW + 1.5, species=code) for w in windows]
        labels += [
            Annotation(recording.id, w * WINDOW, w * WINDOW + WINDOW, species="pulse_call", kind="hard_negative")
            for w in QUIET[:3]
        ]
    project.add_annotations(labels)

    job = start_retrain(project, "quick")
    state = job.process.wait()
    assert state.state == "done", state.message
    head = register_result(project, job.process.folder)
    assert head.kind == "embedding-head" and head.parent == birdnet.version
    assert sorted(head.classes) == ["pulse_call", "sweep_call"] and head.hop_s == birdnet.hop_s
    assert head.metrics["new"]["roc_auc"] > 0.9
    assert "old" not in head.metrics  # BirdNET has neither class: nothing to compare with

    # Scored from the stored embeddings: BirdNET does not run again (its windows are all scored).
    project.activate_model(head.version)
    assert score(project.folder).windows == 4 * 12
    pulse = head.classes.index("pulse_call")
    truth, scores = [], []
    for recording in project.recordings():
        _, found = project.predictions(head.version, recording.id)
        for window in (*PULSES, *SWEEPS, *QUIET):
            truth.append(window in PULSES)
            scores.append(found[window, pulse])
    assert roc_auc_score(truth, scores) > 0.95
    assert np.array_equal(project.embeddings(head.version, 1), project.embeddings(birdnet.version, 1))
