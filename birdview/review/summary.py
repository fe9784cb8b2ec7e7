"""What the verdicts say about a model, per species.

Precision by threshold is estimated the way BirdNET's guide does it: a logistic curve of verdict
(confirmed = 1, rejected or relabelled = 0) against the logit of the score, fitted on the
reviewed detections; the precision at threshold t is the curve's mean over every detection with
a score of at least t (reviewed or not). The threshold for a wanted precision is the lowest that
reaches it.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import numpy as np
from sklearn.linear_model import LogisticRegression

from birdview.review.queue import Candidate, candidates, verdict_of, verdicts_of
from birdview.store.project import Project, ProjectError

THRESHOLDS = np.round(np.arange(0.01, 1.0, 0.01), 2)


def _logit(scores: np.ndarray) -> np.ndarray:
    clipped = np.clip(scores, 1e-4, 1 - 1e-4)
    return np.log(clipped / (1 - clipped))


@dataclass
class SpeciesSummary:
    species: str
    confirmed: int
    rejected: int
    uncertain: int
    detections: int
    #: precision estimated at each of THRESHOLDS (NaN where there is no detection above it);
    #: None until there are both confirmed and rejected verdicts to fit.
    precision: np.ndarray | None = None
    curve: tuple[float, float] | None = None  # (intercept, slope) on logit(score)
    scores: np.ndarray = field(default_factory=lambda: np.zeros(0))

    def probability_correct(self, scores: np.ndarray) -> np.ndarray:
        if self.curve is None:
            raise ProjectError(f"{self.species}: needs confirmed and rejected verdicts to fit a curve")
        intercept, slope = self.curve
        return 1 / (1 + np.exp(-(intercept + slope * _logit(np.asarray(scores)))))

    def threshold_for(self, target_precision: float) -> float | None:
        """The lowest threshold whose estimated precision reaches the target, or None."""
        if self.precision is None:
            return None
        reached = np.flatnonzero(np.nan_to_num(self.precision, nan=0.0) >= target_precision)
        return float(THRESHOLDS[reached[0]]) if len(reached) else None


def summarise(project: Project, version: int, species: str, min_score: float = 0.0) -> SpeciesSummary:
    everything = candidates(project, version, species, min_score=max(min_score, 1e-3), show="all")
    verdicts = [(c, verdict_of(project, c)) for c in everything]
    confirmed = [c.score for c, v in verdicts if v == "confirm"]
    wrong = [c.score for c, v in verdicts if v in ("reject", "relabel")]
    summary = SpeciesSummary(
        species,
        len(confirmed),
        len(wrong),
        sum(1 for _, v in verdicts if v == "uncertain"),
        len(everything),
        scores=np.array([c.score for c in everything]),
    )
    if confirmed and wrong:
        x = _logit(np.array(confirmed + wrong))[:, None]
        y = np.array([1] * len(confirmed) + [0] * len(wrong))
        model = LogisticRegression(C=1e6).fit(x, y)
        summary.curve = (float(model.intercept_[0]), float(model.coef_[0, 0]))
        correct = summary.probability_correct(summary.scores)
        summary.precision = np.array(
            [correct[summary.scores >= t].mean() if (summary.scores >= t).any() else np.nan for t in THRESHOLDS]
        )
    return summary


def detections_per_hour(
    project: Project, version: int, species: str, threshold: float
) -> tuple[list[datetime | float], np.ndarray]:
    """Detections at or above the threshold counted per clock hour (recordings with a start time)
    or per hour since the start of their file (those without)."""
    counts: dict[datetime | float, int] = {}
    names = {r.id: r for r in project.recordings()}
    for candidate in candidates(project, version, species, min_score=threshold, show="all", order="time"):
        recording = names[candidate.recording_id]
        if recording.start_time:
            moment = datetime.fromisoformat(recording.start_time) + timedelta(seconds=candidate.start_s)
            hour: datetime | float = moment.replace(minute=0, second=0, microsecond=0)
        else:
            hour = float(candidate.start_s // 3600)
        counts[hour] = counts.get(hour, 0) + 1
    hours = sorted(counts, key=lambda h: (isinstance(h, float), h if isinstance(h, float) else h.timestamp()))
    return hours, np.array([counts[h] for h in hours])


def thresholds(project: Project) -> dict[str, float]:
    return dict(project.get_setting("species_thresholds", {}))


def set_threshold(project: Project, species: str, value: float) -> None:
    chosen = thresholds(project)
    chosen[species] = float(value)
    project.set_setting("species_thresholds", chosen)


def detection_rows(
    project: Project,
    version: int,
    species: str | None,
    threshold: float | None,
    allowed: Mapping[int, Collection[str] | None] | None = None,
) -> list[dict]:
    """Detections above their species' threshold (or the one given), with their verdicts, as rows
    for the Raven and BirdNET writers; with ``allowed`` (recording id → species shown, None or
    missing for all), only the species allowed in each recording."""
    per_species = thresholds(project)
    model = project.model(version)
    recordings = {r.id: r for r in project.recordings()}
    names = {code: (common, scientific) for code, common, scientific in project.species_table()}
    codes = [species] if species else model.classes
    cuts = {code: threshold if threshold is not None else per_species.get(code, 0.5) for code in codes}
    found = [
        c
        for c in candidates(project, version, codes, min_score=min(cuts.values()), show="all", order="time")
        if c.score >= cuts[c.species] - 5e-4
    ]
    kept = []
    for c in found:
        shown = allowed.get(c.recording_id) if allowed is not None else None
        if shown is None or c.species in shown:
            kept.append(c)
    rows = []
    for c, verdict in zip(kept, verdicts_of(project, kept), strict=True):
        common, scientific = names.get(c.species, (None, None))
        rows.append(_row(recordings[c.recording_id], c, verdict or "unreviewed", common, scientific))
    rows.sort(key=lambda r: (r["path"], r["start_s"], r["species"]))
    return rows


def _row(
    recording, candidate: Candidate, verdict: str, common: str | None = None, scientific: str | None = None
) -> dict:
    return {
        "common": common,
        "scientific": scientific,
        "path": str(recording.path),
        "start_s": candidate.start_s,
        "end_s": candidate.end_s,
        "species": candidate.species,
        "score": candidate.score,
        "status": verdict,
        "kind": "call",
        "low_hz": None,
        "high_hz": None,
        "nyquist": recording.sample_rate / 2,
    }
