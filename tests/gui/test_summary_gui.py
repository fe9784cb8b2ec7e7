"""Review ▸ Summary on a season-like project: a BirdNET-sized model (6,522 classes) with a few
species calling at dawn and dusk over six dates, some of their detections reviewed."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from birdview.jobs.species_filter import shown_species
from birdview.review.queue import candidates, record_verdicts
from birdview.review.summary import MIN_VERDICTS, detections_by_time, species_overview, summarise
from birdview.store.project import Project

#: (code, common name, scientific name, calls per 5 s window by hour of day, the Beta distribution of
#: its scores in windows without a call (the model's false alarms), verdicts to give)
NAMED = [
    ("eurrob1", "European Robin", "Erithacus rubecula", {4: 0.25, 5: 0.35, 6: 0.2, 20: 0.15, 21: 0.1}, (0.9, 3.5), 70),
    ("eurbla", "Eurasian Blackbird", "Turdus merula", {4: 0.15, 5: 0.2, 6: 0.1, 20: 0.12}, (0.7, 5.0), 14),
    ("sonthr1", "Song Thrush", "Turdus philomelos", {5: 0.06, 6: 0.04, 21: 0.05}, (0.5, 8.0), 6),
    ("tawowl1", "Tawny Owl", "Strix aluco", {21: 0.04}, (0.4, 10.0), 0),
    ("engine", "Engine", None, {5: 0.02, 6: 0.05}, (0.5, 8.0), 0),  # a non-bird class, hidden by default
]
CLASSES = 6522
DAYS = ["20240518", "20240519", "20240520", "20240522", "20240523"]  # none on the 21st
SESSIONS = [("040000", 3 * 3600), ("200000", 2 * 3600)]
SAMPLE_RATE = 1000  # silent files: only their names, lengths and the stored scores matter


def realistic_project(folder: Path, classes: int = CLASSES, seed: int = 0) -> Project:
    """Recordings SITE_<date>_<time>.flac at dawn and dusk, a model of ``classes`` classes scored
    on them (sparse, as BirdNET's are kept), and verdicts given through the review queue on a
    choice of each named species' candidates spread over the scores from 0.1 up: right where a call
    was drawn."""
    rng = np.random.default_rng(seed)
    audio = folder / "audio"
    audio.mkdir(parents=True)
    for day in DAYS:
        for start, seconds in SESSIONS:
            sf.write(audio / f"SITE_{day}_{start}.flac", np.zeros(seconds * SAMPLE_RATE, np.int16), SAMPLE_RATE)
    project = Project.create(folder / "project", species=[])
    codes = [code for code, *_ in NAMED] + [f"x{i:04d}" for i in range(classes - len(NAMED))]
    named = [
        (code, common, scientific, "other" if code == "engine" else "bird") for code, common, scientific, *_ in NAMED
    ]
    project.add_model_species(named + [(code, None, None, "bird") for code in codes[len(NAMED) :]])
    project.add_recordings([audio])
    model = project.register_model("/birdnet.tflite", codes, kind="birdnet", name="BirdNET", activate=True)
    truth: dict[tuple[int, int, str], bool] = {}
    for recording in project.recordings():
        windows = int(recording.duration_s // model.hop_s)
        start = datetime.fromisoformat(recording.start_time)
        hours = np.array([(start + timedelta(seconds=w * model.hop_s)).hour for w in range(windows)])
        scores = np.zeros((windows, len(codes)), dtype=np.float32)
        for column, (code, *_, rate, (a, b), _) in enumerate(NAMED):
            calls = rng.random(windows) < np.array([rate.get(h, 0.0) for h in hours])
            scores[:, column] = np.where(calls, rng.beta(2.0, 1.3, windows), rng.beta(a, b, windows))
            truth.update({(recording.id, w, code): bool(calls[w]) for w in range(windows)})
        noise = rng.random(scores.shape) < 2e-5  # the odd stray score of some other class
        scores[noise] = rng.beta(1.0, 8.0, int(noise.sum()))
        project.store_predictions(model.version, recording.id, scores)
    for code, *_, given in NAMED:
        # as many reviewed in each tenth of the scores from 0.1 up, as a reviewer sampling the range would
        found = candidates(project, model.version, code, min_score=0.1, show="all")
        tenth = np.minimum((np.array([c.score for c in found]) * 10).astype(int), 9)
        chosen = []
        for part, bin_ in enumerate(range(1, 10)):
            members = np.flatnonzero(tenth == bin_)
            size = min(len(members), given // 9 + (part < given % 9))
            chosen += [found[int(i)] for i in rng.choice(members, size=size, replace=False)]
        for candidate in chosen:
            right = truth[(candidate.recording_id, candidate.window, code)]
            record_verdicts(project, [candidate], "confirm" if right else "reject")
    return project


@pytest.fixture(scope="module")
def season(tmp_path_factory) -> Project:
    project = realistic_project(tmp_path_factory.mktemp("season"))
    yield project
    project.close()


def test_overview_lists_only_species_with_detections_or_verdicts(season: Project) -> None:
    rows = species_overview(season, 1)
    codes = [r.species for r in rows]
    assert set(codes) >= {"eurrob1", "eurbla", "sonthr1", "tawowl1", "engine"} and len(codes) < 100
    shown = [r.species for r in species_overview(season, 1, allowed=shown_species(season))]
    assert "engine" not in shown and set(shown) == set(codes) - {"engine"}
    robin = rows[codes.index("eurrob1")]
    assert robin.common == "European Robin" and robin.threshold == 0.5
    assert robin.detections == len(candidates(season, 1, "eurrob1", min_score=0.5, show="all"))
    assert robin.needed == 0 and rows[codes.index("sonthr1")].needed == MIN_VERDICTS - 6


def test_summary_dialog_shows_counts_curve_points_band_and_time_plots(season: Project, qtbot) -> None:
    from birdview.gui.summary_dialog import SummaryDialog

    applied = []
    dialog = SummaryDialog(season, lambda species, value: applied.append((species, value)))
    qtbot.addWidget(dialog)
    dialog.show()
    assert dialog.current_species() == "eurrob1"  # the most detections first
    expected = summarise(season, 1, "eurrob1")
    assert dialog.counts.text().startswith(f"European Robin (eurrob1): {expected.detections} detections above 0.50")
    assert f"{expected.confirmed} confirmed, {expected.rejected} rejected" in dialog.counts.text()
    names = [label.text for _, label in dialog.legend.items]
    assert any("band" in n for n in names) and any("confirmed" in n for n in names)
    assert any("rejected" in n for n in names) and any("precision" in n for n in names)
    assert "bootstrap" in dialog.method_label.text()
    # the curve and its band span the reviewed scores, the verdicts are points at 1 and 0
    x, y = dialog.precision_curve.getData()
    lo, hi = expected.reviewed_range
    assert x[0] == pytest.approx(lo) and x[-1] == pytest.approx(hi) and np.all((y >= 0) & (y <= 1))
    low, high = dialog.band_low.getData()[1], dialog.band_high.getData()[1]
    assert np.all(low <= y + 1e-12) and np.all(y <= high + 1e-12) and np.any(high - low > 0.01)
    confirmed, rejected = dialog.confirmed_points.getData(), dialog.rejected_points.getData()
    assert len(confirmed[0]) == expected.verdicts_confirmed and len(rejected[0]) == expected.verdicts_rejected
    assert np.all(confirmed[1] > 0.9) and np.all(rejected[1] < 0.1)
    # hour of day: 24 bars, all of them at dawn or dusk; dates: five recorded and a gap
    times = detections_by_time(season, 1, "eurrob1")
    hours, counts = dialog.hour_bars.opts["x"], dialog.hour_bars.opts["height"]
    assert len(hours) == 24 and counts.tolist() == times.by_hour.tolist() and counts.sum() == expected.detections
    assert set(np.flatnonzero(counts)) <= {4, 5, 6, 20, 21}
    assert len(dialog.date_bars.opts["x"]) == 6 and dialog.date_bars.opts["height"][3] == 0
    assert dialog.date_unrecorded.opts["height"][3] > 0  # the 21st was not recorded
    # the threshold for the wanted precision, applied
    assert dialog.threshold == expected.threshold_for(0.9) and dialog.threshold is not None
    kept = season.get_setting("species_thresholds", {})
    dialog.apply()
    assert applied == [("eurrob1", dialog.threshold)]
    assert dialog.counts.text().startswith(f"European Robin (eurrob1): {dialog.summary.detections} detections above")
    assert f"above {dialog.threshold:.2f}" in dialog.counts.text() and dialog.summary.detections < expected.detections
    assert dialog.current_species() == "eurrob1" and dialog.table.item(dialog.table.currentRow(), 4).text() == (
        f"{dialog.threshold:.2f}"
    )
    season.set_setting("species_thresholds", kept)  # the other tests see the project as it was


def test_summary_dialog_says_how_many_more_verdicts_are_needed(season: Project, qtbot) -> None:
    from birdview.gui.summary_dialog import SummaryDialog

    dialog = SummaryDialog(season, lambda *_: None)
    qtbot.addWidget(dialog)
    dialog.select_species("sonthr1")
    assert dialog.current_species() == "sonthr1" and dialog.threshold is None
    assert "needs 4 more verdicts" in dialog.threshold_label.text()
    assert dialog.table.item(dialog.table.currentRow(), 5).text() == "needs 4 more"
    assert not dialog.apply_button.isEnabled()
    assert dialog.precision_curve.getData()[0] is None or len(dialog.precision_curve.getData()[0]) == 0
    assert len(dialog.confirmed_points.getData()[0]) + len(dialog.rejected_points.getData()[0]) == 6


def test_summary_dialog_can_show_every_class(season: Project, qtbot) -> None:
    from birdview.gui.summary_dialog import SummaryDialog

    dialog = SummaryDialog(season, lambda *_: None)
    qtbot.addWidget(dialog)
    listed = {dialog.table.item(row, 0).data(256) for row in range(dialog.table.rowCount())}
    assert "engine" not in listed and "eurrob1" in listed
    dialog.select_species("sonthr1")
    dialog.expected_only.setChecked(False)
    listed = {dialog.table.item(row, 0).data(256) for row in range(dialog.table.rowCount())}
    assert "engine" in listed and dialog.current_species() == "sonthr1"  # the choice is kept
    assert dialog.counts.text().startswith("Song Thrush (sonthr1): ")


def test_the_summary_counts_on_a_worker_and_fills_in_when_done(season: Project, qtbot) -> None:
    from birdview.gui.summary_dialog import SummaryDialog

    dialog = SummaryDialog(season, lambda *_: None, background=True)
    qtbot.addWidget(dialog)
    dialog.show()
    # at once: the dialog is up and says what it is doing; the table comes when the count is done
    assert dialog.counts.text().startswith("Counting the detections") and dialog.table.rowCount() == 0
    qtbot.waitUntil(lambda: dialog.table.rowCount() > 0, timeout=30000)
    assert dialog.current_species() == "eurrob1" and "detections above 0.50" in dialog.counts.text()
