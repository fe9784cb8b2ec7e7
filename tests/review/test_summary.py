from __future__ import annotations

import subprocess
import sys
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression

from birdview.review.queue import candidates, record_verdicts, verdicts_of
from birdview.review.summary import (
    MIN_EACH,
    MIN_VERDICTS,
    THRESHOLDS,
    detections_by_time,
    fit_logistic,
    needs_message,
    set_threshold,
    species_overview,
    summarise,
    thresholds,
)
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
    above = candidates(reviewed, 1, min_score=0.5, show="all")
    assert summary.threshold == 0.5 and summary.detections == len(above) == 100  # not every window
    assert summary.confirmed + summary.rejected == summary.detections and summary.unreviewed == 0
    assert summary.verdicts_confirmed + summary.verdicts_rejected == 200  # the fit uses every verdict
    assert summary.fit is not None and summary.fit[1] > 0  # higher scores are more often right
    p = summary.probability_correct(np.array([0.2, 0.6, 0.95]))
    assert p[0] < 0.2 < 0.3 < p[1] < 0.8 < p[2]
    curve = summary.precision
    assert np.all(np.diff(curve.precision) >= -1e-9)  # precision grows with the threshold
    threshold = summary.threshold_for(0.9)
    assert threshold is not None and 0.45 < threshold < 0.8 and threshold in THRESHOLDS
    assert summary.precision_at(threshold)[0] >= 0.9 > summary.precision_at(threshold - 0.01)[0]
    # the estimate agrees with the verdicts themselves above that threshold
    chosen = candidates(reviewed, 1, min_score=threshold, show="all")
    observed = np.mean([verdict == "confirm" for verdict in verdicts_of(reviewed, chosen)])
    assert abs(observed - summary.precision_at(threshold)[0]) < 0.08
    assert summary.threshold_for(1.01) is None
    assert "not reached within the reviewed scores" in summary.threshold_message(1.01)


def test_the_fit_is_scikit_learns_logistic_regression(reviewed: Project) -> None:
    summary = summarise(reviewed, 1, "amecro")
    x = np.log(summary.reviewed_scores / (1 - summary.reviewed_scores))[:, None]
    model = LogisticRegression(C=1e6).fit(x, summary.reviewed_correct.astype(int))
    assert summary.fit == pytest.approx((model.intercept_[0], model.coef_[0, 0]), rel=1e-3)
    # resamples as weights: the same fit as on the resampled points
    rng = np.random.default_rng(3)
    drawn = rng.integers(0, len(x), len(x))
    weights = np.bincount(drawn, minlength=len(x))[None, :]
    both = fit_logistic(x[:, 0], summary.reviewed_correct, weights)[0]
    again = LogisticRegression(C=1e6).fit(x[drawn], summary.reviewed_correct[drawn].astype(int))
    assert both == pytest.approx([again.intercept_[0], again.coef_[0, 0]], rel=1e-3)


def test_detections_by_time_use_wall_clock(reviewed: Project) -> None:
    times = detections_by_time(reviewed, 1, "amecro", 0.5)
    assert times.by_hour.tolist() == [0] * 5 + [100] + [0] * 18  # the file starts at 05:00 and lasts 1000 s
    assert times.recorded_by_hour[5] == pytest.approx(1000) and times.recorded_by_hour.sum() == pytest.approx(1000)
    assert times.dates == [date(2024, 5, 21)] and times.by_date.tolist() == [100] and times.undated == 0


# -- a project as the issue describes it: 40 windows above the threshold, 12 of them reviewed ------

#: Verdicts on 12 of the 40 detections, lowest score first: overlapping, not separated by the score.
TWELVE = ["reject", "relabel", "confirm", "reject", "confirm", "confirm"]
TWELVE += ["uncertain", "confirm", "reject", "confirm", "confirm", "confirm"]


def _dawn_project(folder: Path, extra_verdicts: int = 0) -> Project:
    """Two recordings, SITE_20240521_053000 (40 min) and SITE_20240522_235000 (20 min, over
    midnight), and one without a start time; 40 windows of amecro above 0.5 (10 at 05:30, 10 at
    06:03, 10 at 23:58 on the 22nd, 10 at 00:00 on the 23rd), the others below 0.5; 12 reviewed
    (TWELVE), and ``extra_verdicts`` more of the other 28, right as often as (score - 0.3) / 0.6."""
    audio = folder / "audio"
    audio.mkdir(parents=True)
    for name, seconds in (("SITE_20240521_053000", 2400), ("SITE_20240522_235000", 1200), ("nodate", 100)):
        write_tone_file(audio / f"{name}.wav", duration_s=seconds, sample_rate=1000, tone_hz=200)
    project = Project.create(folder / "project", species=["amecro", "norcar"])
    project.add_recordings([audio])
    model = project.register_model("/m.ckpt", ["amecro", "norcar"], activate=True)
    by_name = {r.name: r for r in project.recordings()}
    rng = np.random.default_rng(7)
    high = rng.permutation(np.linspace(0.52, 0.98, 40))
    placed = {"SITE_20240521_053000.wav": [range(0, 10), range(400, 410)]}
    placed["SITE_20240522_235000.wav"] = [range(100, 110), range(130, 140)]
    given = 0
    for name, ranges in [*placed.items(), ("nodate.wav", [])]:
        recording = by_name[name]
        windows = int(recording.duration_s // 5)
        scores = np.zeros((windows, 2), dtype=np.float32)
        scores[:, 0] = rng.uniform(0.02, 0.45, windows)
        scores[:, 1] = rng.uniform(0.0, 0.3, windows)
        for window in (w for r in ranges for w in r):
            scores[window, 0] = high[given]
            given += 1
        project.store_predictions(model.version, recording.id, scores)
    above = sorted(candidates(project, model.version, "amecro", min_score=0.5, show="all"), key=lambda c: c.start_s)
    chosen = sorted(above[::3][:12], key=lambda c: c.score)
    for candidate, verdict in zip(chosen, TWELVE, strict=True):
        record_verdicts(project, [candidate], verdict, species="norcar" if verdict == "relabel" else None)
    rest = candidates(project, model.version, "amecro", min_score=0.5, show="unreviewed")
    for index in rng.choice(len(rest), size=extra_verdicts, replace=False):
        candidate = rest[int(index)]
        right = rng.random() < (candidate.score - 0.3) / 0.6
        record_verdicts(project, [candidate], "confirm" if right else "reject")
    return project


@pytest.fixture
def dawn(tmp_path: Path) -> Project:
    project = _dawn_project(tmp_path)
    yield project
    project.close()


def test_counts_are_the_candidates_above_the_threshold(dawn: Project) -> None:
    summary = summarise(dawn, 1, "amecro")
    assert summary.detections == len(candidates(dawn, 1, "amecro", min_score=0.5, show="all")) == 40
    assert (summary.confirmed, summary.rejected, summary.uncertain, summary.unreviewed) == (7, 4, 1, 28)
    assert (summary.verdicts_confirmed, summary.verdicts_rejected) == (7, 4)  # relabelled counts as wrong
    (row,) = [r for r in species_overview(dawn, 1) if r.species == "amecro"]
    assert (row.detections, row.confirmed, row.rejected, row.uncertain, row.unreviewed) == (40, 7, 4, 1, 28)
    assert row == summary.as_counts()
    at_08 = summarise(dawn, 1, "amecro", threshold=0.8)
    assert at_08.detections == len(candidates(dawn, 1, "amecro", min_score=0.8, show="all"))
    set_threshold(dawn, "amecro", 0.8)
    assert summarise(dawn, 1, "amecro").detections == at_08.detections
    assert [r.detections for r in species_overview(dawn, 1) if r.species == "amecro"] == [at_08.detections]


def test_the_curve_spans_the_reviewed_scores_within_its_band(dawn: Project) -> None:
    summary = summarise(dawn, 1, "amecro")
    curve = summary.precision
    judged = [c.score for c in candidates(dawn, 1, "amecro", min_score=0.5, show="reviewed")]
    judged = [s for s, v in zip(sorted(judged), TWELVE, strict=True) if v != "uncertain"]
    assert summary.reviewed_range == (min(judged), max(judged))
    assert (curve.thresholds[0], curve.thresholds[-1]) == (min(judged), max(judged))
    assert np.all(np.diff(curve.thresholds) > 0) and np.all(np.isfinite(curve.precision))
    assert np.all(curve.low <= curve.precision) and np.all(curve.precision <= curve.high)
    assert np.all((curve.low >= 0) & (curve.high <= 1)) and np.mean(curve.high - curve.low) > 0.05
    assert "bootstrap" in curve.method and "500 resamples" in curve.method
    again = summarise(dawn, 1, "amecro")  # seeded: the same band every time
    np.testing.assert_array_equal(again.precision.low, curve.low)
    offered = summary.threshold_for(0.8)
    assert offered is None or min(judged) <= offered <= max(judged)
    assert not summary.separated
    x, y = summary.verdict_points()
    assert sorted(x) == sorted(judged) and np.all(y[summary.reviewed_correct] > 0.9)
    assert np.all(y[~summary.reviewed_correct] < 0.1)


def test_the_band_narrows_with_more_verdicts(dawn: Project, tmp_path: Path) -> None:
    few = summarise(dawn, 1, "amecro").precision
    with _dawn_project(tmp_path / "more", extra_verdicts=28) as project:
        more = summarise(project, 1, "amecro")
    assert more.verdicts_confirmed + more.verdicts_rejected == 39
    common = THRESHOLDS[(few.thresholds[0] <= THRESHOLDS) & (few.thresholds[-1] >= THRESHOLDS)]
    common = common[(common >= more.precision.thresholds[0]) & (common <= more.precision.thresholds[-1])]
    width_few = np.interp(common, few.thresholds, few.high - few.low)
    width_more = np.interp(common, more.precision.thresholds, more.precision.high - more.precision.low)
    assert len(common) > 20 and width_more.mean() < 0.7 * width_few.mean()  # about sqrt(11 / 39)
    assert np.all(width_more <= width_few + 1e-9)


def test_no_threshold_below_the_minimum_of_verdicts(dawn: Project) -> None:
    assert (MIN_VERDICTS, MIN_EACH) == (10, 3)
    # drop verdicts until 4 confirmed and 2 rejected are left (undo one batch at a time)
    while True:
        summary = summarise(dawn, 1, "amecro")
        if summary.verdicts_confirmed + summary.verdicts_rejected <= 6:
            break
        dawn.undo()
    confirmed, rejected = summary.verdicts_confirmed, summary.verdicts_rejected
    more = max(MIN_EACH - confirmed, 0) + max(MIN_EACH - rejected, 0)
    more = max(more, MIN_VERDICTS - confirmed - rejected)
    assert summary.needed == more > 0
    assert summary.precision is None and summary.fit is None and summary.threshold_for(0.5) is None
    assert f"needs {more} more verdicts" in summary.threshold_message(0.9)
    assert summary.threshold_message(0.9).startswith("No threshold yet")
    assert [r.needed for r in species_overview(dawn, 1) if r.species == "amecro"] == [more]
    assert needs_message(9, 0).startswith("needs 3 more verdicts (3 more rejected)")
    assert needs_message(2, 2).startswith("needs 6 more verdicts (1 more confirmed and 1 more rejected)")
    assert needs_message(6, 3).startswith("needs 1 more verdict:") and needs_message(7, 3) == ""


def test_hour_of_day_and_date_on_the_recorders_clock(dawn: Project) -> None:
    times = detections_by_time(dawn, 1, "amecro")
    expected = np.zeros(24, dtype=int)
    expected[[5, 6, 23, 0]] = 10  # 05:30, 06:03, 23:58 on the 22nd, 00:00:50 on the 23rd
    assert times.by_hour.tolist() == expected.tolist() and times.undated == 0
    assert times.dates == [date(2024, 5, 21), date(2024, 5, 22), date(2024, 5, 23)]
    assert times.by_date.tolist() == [20, 10, 10]
    assert times.recorded_by_hour[5] == pytest.approx(1800) and times.recorded_by_hour[6] == pytest.approx(600)
    assert times.recorded_by_hour[23] == pytest.approx(600) and times.recorded_by_hour[0] == pytest.approx(600)
    assert times.recorded_by_date.tolist() == pytest.approx([2400, 600, 600])
    everything = detections_by_time(dawn, 1, "amecro", threshold=0.01)
    assert everything.undated == 20  # the file without a start time: counted, not placed
    gap = detections_by_time(dawn, 1, "norcar", threshold=0.9)
    assert gap.by_hour.sum() == 0 and len(gap.dates) == 3


def test_a_model_of_thousands_of_classes_is_read_once_per_recording(tmp_path: Path, monkeypatch) -> None:
    classes = [f"sp{i:04d}" for i in range(6522)]
    project = Project.create(tmp_path / "p", species=classes)
    project.add_recordings([write_tone_file(tmp_path / "SITE_20240521_053000.wav", duration_s=3600, sample_rate=1000)])
    model = project.register_model("/birdnet", classes, kind="birdnet", activate=True)
    recording = project.recordings()[0]
    scores = np.zeros((720, len(classes)), dtype=np.float32)
    scores[:50, 10] = 0.9
    scores[100:103, 4000] = 0.7
    scores[200, 6521] = 0.3  # below the threshold, but reviewed
    project.store_predictions(model.version, recording.id, scores)
    (low,) = candidates(project, model.version, "sp6521", min_score=0.2)
    record_verdicts(project, [low], "reject")
    reads = []
    original = Project.prediction_blocks

    def counted(self, version, recording_id, columns=None, min_score=None):
        reads.append(None if columns is None else len(columns))
        return original(self, version, recording_id, columns, min_score)

    monkeypatch.setattr(Project, "prediction_blocks", counted)
    rows = species_overview(project, model.version)
    assert [(r.species, r.detections) for r in rows] == [("sp0010", 50), ("sp4000", 3), ("sp6521", 0)]
    assert rows[2].verdicts_rejected == 1 and rows[2].needed == 9
    assert reads == [None]  # one pass over the recording's blocks, all classes at once
    reads.clear()
    summary = summarise(project, model.version, "sp0010")
    times = detections_by_time(project, model.version, "sp0010")
    assert summary.detections == 50 and times.by_hour[5] == 50 and reads == [1, 1]  # one column each
    project.close()


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
    assert dialog.counts.text().startswith("amecro: 100 detections above 0.50: ")
    expected = summarise(reviewed, 1, "amecro").threshold_for(0.9)
    assert dialog.threshold == pytest.approx(expected)
    assert dialog.threshold_line.value() == pytest.approx(expected)
    x, y = dialog.precision_curve.getData()
    assert x[0] == pytest.approx(0.01, abs=1e-3) and x[-1] == pytest.approx(0.99, abs=1e-3) and y[-1] > y[0]
    dialog.apply()
    assert applied == [("amecro", pytest.approx(expected))] and thresholds(reviewed)["amecro"] == pytest.approx(
        expected
    )
    assert dialog.counts.text().startswith(f"amecro: {dialog.summary.detections} detections above {expected:.2f}")
    assert dialog.table.item(0, 4).text() == f"{expected:.2f}"
    dialog.target.setValue(0.6)
    assert dialog.threshold < expected
    assert dialog.export("raven", str(tmp_path / "d.txt")) > 0
