from __future__ import annotations

import subprocess
import sys
from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from birdview.review.queue import candidates, record_verdicts
from birdview.review.summary import THRESHOLDS, detections_per_hour, set_threshold, summarise, thresholds
from birdview.store.project import Project
from tests.conftest import write_tone_file


@pytest.fixture
def reviewed(tmp_path: Path) -> Project:
    """One species, 200 windows; detections above 0.8 are all right, below 0.4 all wrong."""
    project = Project.create(tmp_path / "p", species=["amecro"])
    project.add_recordings([write_tone_file(tmp_path / "SITE_20240521_050000.wav", duration_s=1000)])
    model = project.register_model("/m.ckpt", ["amecro"], activate=True)
    recording = project.recordings()[0]
    scores = np.linspace(0.01, 0.99, 200, dtype=np.float32)[:, None]
    project.store_predictions(model.version, recording.id, scores)
    rng = np.random.default_rng(0)
    for candidate in candidates(project, model.version, min_score=0.01):
        right = rng.random() < np.clip((candidate.score - 0.4) / 0.4, 0, 1)
        record_verdicts(project, [candidate], "confirm" if right else "reject")
    yield project
    project.close()


def test_counts_curve_and_threshold_for_a_precision(reviewed: Project) -> None:
    summary = summarise(reviewed, 1, "amecro")
    assert summary.confirmed + summary.rejected == summary.detections == 200
    assert summary.curve is not None and summary.curve[1] > 0  # higher scores are more often right
    p = summary.probability_correct(np.array([0.2, 0.6, 0.95]))
    assert p[0] < 0.2 < 0.3 < p[1] < 0.8 < p[2]
    assert np.all(np.diff(np.nan_to_num(summary.precision)) >= -1e-9)  # precision grows with the threshold
    threshold = summary.threshold_for(0.9)
    assert threshold is not None and 0.45 < threshold < 0.8
    index = int(np.flatnonzero(threshold == THRESHOLDS)[0])
    assert summary.precision[index] >= 0.9 > summary.precision[index - 1]
    # the estimate agrees with the verdicts themselves above that threshold
    above = [c for c in candidates(reviewed, 1, min_score=threshold, show="all")]
    from birdview.review.queue import verdict_of

    observed = np.mean([verdict_of(reviewed, c) == "confirm" for c in above])
    assert abs(observed - summary.precision[index]) < 0.08
    assert summary.threshold_for(1.01) is None


def test_detections_per_hour_use_wall_clock(reviewed: Project) -> None:
    hours, counts = detections_per_hour(reviewed, 1, "amecro", 0.5)
    assert hours == [datetime(2024, 5, 21, 5, 0)]
    assert counts.tolist() == [len(candidates(reviewed, 1, min_score=0.5, show="all"))]


def test_per_species_thresholds_are_kept(reviewed: Project) -> None:
    set_threshold(reviewed, "amecro", 0.73)
    with Project.open(reviewed.folder) as again:
        assert thresholds(again) == {"amecro": 0.73}


def _detections(project: Project, *arguments: str) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "birdview", "detections", "--project", str(project.folder), *arguments]
    return subprocess.run(command, capture_output=True, text=True, timeout=120)


def test_detections_export_with_verdicts(reviewed: Project, tmp_path: Path) -> None:
    set_threshold(reviewed, "amecro", 0.9)
    result = _detections(reviewed, "--out", str(tmp_path / "d.txt"))
    assert result.returncode == 0, result.stderr
    table = pd.read_csv(tmp_path / "d.txt", sep="\t")
    assert len(table) == len(candidates(reviewed, 1, min_score=0.9, show="all"))
    assert set(table["Status"]) <= {"confirm", "reject"} and (table["Score"] >= 0.9 - 1e-3).all()
    birdnet = _detections(reviewed, "--format", "birdnet", "--threshold", "0.5", "--out", str(tmp_path / "d.csv"))
    assert birdnet.returncode == 0, birdnet.stderr
    csv = pd.read_csv(tmp_path / "d.csv")
    assert list(csv.columns) == [
        "Start (s)",
        "End (s)",
        "Scientific name",
        "Common name",
        "Confidence",
        "File",
        "Verdict",
    ]


def test_summary_dialog_shows_and_applies_the_threshold(reviewed: Project, qtbot, tmp_path: Path) -> None:
    from birdview.gui.summary_dialog import SummaryDialog

    applied = []
    dialog = SummaryDialog(reviewed, lambda species, value: applied.append((species, value)))
    qtbot.addWidget(dialog)
    dialog.show()
    assert dialog.counts.text().startswith("amecro: ") and "of 200 detections" in dialog.counts.text()
    expected = summarise(reviewed, 1, "amecro").threshold_for(0.9)
    assert dialog.threshold == pytest.approx(expected)
    assert dialog.threshold_line.value() == pytest.approx(expected)
    x, y = dialog.precision_curve.getData()
    assert len(x) == len(THRESHOLDS) and y[-1] > y[0]
    dialog.apply()
    assert applied == [("amecro", pytest.approx(expected))] and thresholds(reviewed)["amecro"] == pytest.approx(
        expected
    )
    dialog.target.setValue(0.6)
    assert dialog.threshold < expected
    assert dialog.export("raven", str(tmp_path / "d.txt")) > 0
