"""Call density: how many of a species' detections are its calls, from the verdicts on a sample.

As in Perch's call-density workflow (Navine et al. 2024, "All thresholds barred"), the detections
(windows at or above the species' threshold, in the selection) are cut into score strata, the
quartiles of their scores; the verdicts in each stratum are taken as a random sample of it (the
Review order "most informative" keeps a random share for this), so the precision is

    precision = sum over strata of (detections in the stratum / detections) x (confirmed / judged),

which corrects for verdicts given mostly near the threshold or at the top. The call density is
then ``detections x precision`` calls, and that per recorded hour. Its interval is a stratified
bootstrap: the verdicts of each stratum resampled with replacement (``RESAMPLES``, seeded), the
estimate recomputed, the 5th to 95th percentiles kept.

Judged verdicts are confirmed (a call of the species), rejected and relabelled (not one); uncertain
ones are left out. A stratum with fewer than ``MIN_PER_STRATUM`` verdicts is merged with the one
above it (the top one with the one below); below ``MIN_VERDICTS`` verdicts in all there is no
estimate, and :attr:`Density.needs` says how many more are needed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from birdview.review.summary import MIN_VERDICTS, Review, reviews
from birdview.season.events import Scope, site_name, species_cuts
from birdview.store.labels import Verdict
from birdview.store.project import Project, ProjectError
from birdview.store.selection import start_of

#: Score strata (quartiles of the detections' scores), before merging thin ones.
STRATA = 4
#: A stratum keeps at least this many verdicts (else it joins its neighbour).
MIN_PER_STRATUM = 2
#: The interval's coverage, bootstrap resamples and seed.
INTERVAL = 0.90
RESAMPLES = 1000
SEED = 0
#: Scores are stored as float16 (about 3 significant digits): compare at that precision.
_TOLERANCE = 5e-4


@dataclass(frozen=True)
class Detections:
    """A species' detections in the selection: recording, window start (s) and score each."""

    species: str
    threshold: float
    recording_ids: np.ndarray
    starts: np.ndarray
    scores: np.ndarray

    def __len__(self) -> int:
        return len(self.scores)


@dataclass(frozen=True)
class Verdicts:
    """The judged verdicts on those detections: where, the score, and whether it was the species."""

    recording_ids: np.ndarray
    scores: np.ndarray
    correct: np.ndarray

    def __len__(self) -> int:
        return len(self.scores)

    @property
    def confirmed(self) -> int:
        return int(self.correct.sum())


@dataclass(frozen=True)
class Stratum:
    #: The lowest and highest score of the detections in the stratum.
    low: float
    high: float
    detections: int
    judged: int
    confirmed: int

    @property
    def precision(self) -> float:
        return self.confirmed / self.judged if self.judged else float("nan")


@dataclass(frozen=True)
class Density:
    species: str
    threshold: float
    detections: int
    recorded_hours: float
    verdicts: int
    confirmed: int
    strata: tuple[Stratum, ...] = ()
    #: The stratified precision and its interval; None below the minimum of verdicts.
    precision: float | None = None
    precision_low: float | None = None
    precision_high: float | None = None

    @property
    def estimated(self) -> bool:
        return self.precision is not None

    @property
    def calls(self) -> float | None:
        """Estimated calls among the detections: detections x precision."""
        return None if self.precision is None else self.detections * self.precision

    @property
    def calls_interval(self) -> tuple[float, float] | None:
        if self.precision is None:
            return None
        return self.detections * self.precision_low, self.detections * self.precision_high

    @property
    def per_hour(self) -> float | None:
        if self.calls is None or self.recorded_hours <= 0:
            return None
        return self.calls / self.recorded_hours

    @property
    def needs(self) -> str:
        """Why there is no estimate ('' when there is one)."""
        if self.estimated:
            return ""
        if not self.detections:
            return "no detections"
        more = MIN_VERDICTS - self.verdicts
        return (
            f"too few verdicts for an estimate: {self.verdicts} of the {self.detections} detections judged, "
            f"{more} more needed (at least {MIN_VERDICTS})"
        )

    def describe(self) -> str:
        """The estimate in words, with its sample size, or why there is none."""
        if not self.estimated:
            return self.needs
        low, high = self.calls_interval
        text = (
            f"{self.calls:.1f} calls ({round(INTERVAL * 100)} % interval {low:.1f}–{high:.1f}) among "
            f"{self.detections} detections: precision {self.precision:.3f} ({self.precision_low:.3f}–"
            f"{self.precision_high:.3f}) from {self.verdicts} verdicts ({self.confirmed} confirmed) in "
            f"{len(self.strata)} score strata"
        )
        if self.per_hour is not None:
            text += f"; {self.per_hour:.2f} calls per recorded hour ({self.recorded_hours:.2f} h)"
        return text


def detections_in(
    project: Project, version: int, scope: Scope, species: str, threshold: float | None = None
) -> Detections:
    """The species' windows at or above its threshold (``threshold`` if given) that start in the
    selection, with their scores."""
    model = project.model(version)
    if species not in model.classes:
        raise ProjectError(f"model {model.label} does not predict {species}")
    cut = species_cuts(project, [species], threshold)[species]
    target = np.full(len(model.classes), -1, dtype=np.int64)
    target[model.classes.index(species)] = 0
    lowest = np.array([cut - _TOLERANCE], dtype=np.float32)
    recording_ids, starts, scores = [], [], []
    found = project.prediction_entries_of(version, [r.id for r in scope.recordings], target, lowest)
    for recording, (_, window, _, score) in zip(scope.recordings, found, strict=True):
        offsets = window * model.hop_s
        kept = scope.selection.mask(recording, offsets)
        recording_ids.append(np.full(int(kept.sum()), recording.id, dtype=np.int64))
        starts.append(offsets[kept])
        scores.append(score[kept].astype(np.float64))
    if not scores:
        return Detections(species, cut, np.zeros(0, np.int64), np.zeros(0), np.zeros(0))
    return Detections(species, cut, np.concatenate(recording_ids), np.concatenate(starts), np.concatenate(scores))


def verdicts_on(
    project: Project, version: int, found: Detections, given: Mapping[str, list[Review]] | None = None
) -> Verdicts:
    """The judged verdicts on the detections (uncertain ones left out); ``given``: the model's
    verdicts per species (:func:`birdview.review.summary.reviews`), when already read."""
    detected = {
        (int(r), round(float(s), 3)): float(score)
        for r, s, score in zip(found.recording_ids, found.starts, found.scores, strict=True)
    }
    ids, scores, correct = [], [], []
    given = reviews(project, version) if given is None else given
    for review in given.get(found.species, []):
        key = (review.recording_id, round(review.start_s, 3))
        if key not in detected or not review.counts:
            continue
        ids.append(review.recording_id)
        scores.append(detected[key])
        correct.append(review.verdict == Verdict.CONFIRM)
    return Verdicts(np.array(ids, dtype=np.int64), np.array(scores), np.array(correct, dtype=bool))


def strata_cuts(scores: np.ndarray, judged: np.ndarray, count: int = STRATA) -> np.ndarray:
    """Lower bounds of the score strata: the detections' lowest score and their quartiles (a
    stratum runs from its cut up to the next one), strata with fewer than MIN_PER_STRATUM judged
    scores merged with the stratum above (the top one with the one below)."""
    cuts = np.unique(np.quantile(scores, np.linspace(0, 1, count + 1)[:-1]))
    while len(cuts) > 1:
        thin = np.flatnonzero(np.bincount(stratum_of(judged, cuts), minlength=len(cuts)) < MIN_PER_STRATUM)
        if not len(thin):
            break
        k = int(thin[0])
        cuts = np.delete(cuts, k + 1 if k + 1 < len(cuts) else k)
    return cuts


def stratum_of(scores: np.ndarray, cuts: np.ndarray) -> np.ndarray:
    return np.clip(np.searchsorted(cuts, scores, side="right") - 1, 0, len(cuts) - 1)


def stratified_precision(
    found: Detections, judged: Verdicts, resamples: int = RESAMPLES, seed: int = SEED
) -> tuple[float, float, float, tuple[Stratum, ...]]:
    """(precision, low, high, strata) of the detections from the verdicts (see the module)."""
    cuts = strata_cuts(found.scores, judged.scores)
    where_found = stratum_of(found.scores, cuts)
    where_judged = stratum_of(judged.scores, cuts)
    rng = np.random.default_rng(seed)
    strata = []
    estimate, spread = 0.0, np.zeros(resamples)
    for k in range(len(cuts)):
        members = found.scores[where_found == k]
        outcomes = judged.correct[where_judged == k].astype(np.float64)
        strata.append(
            Stratum(float(members.min()), float(members.max()), len(members), len(outcomes), int(outcomes.sum()))
        )
        weight = len(members) / len(found)
        estimate += weight * outcomes.mean()
        drawn = rng.integers(0, len(outcomes), size=(resamples, len(outcomes)))
        spread += weight * outcomes[drawn].mean(axis=1)
    tail = (1 - INTERVAL) / 2
    low, high = np.quantile(spread, [tail, 1 - tail])
    return float(estimate), float(min(low, estimate)), float(max(high, estimate)), tuple(strata)


def call_density(
    project: Project,
    version: int,
    scope: Scope,
    species: str,
    recorded_hours: float,
    threshold: float | None = None,
    found: Detections | None = None,
    judged: Verdicts | None = None,
) -> Density:
    """The species' call density in the selection (see the module's docstring); ``found`` and
    ``judged``: its detections and the verdicts on them, when already read."""
    found = found if found is not None else detections_in(project, version, scope, species, threshold)
    judged = judged if judged is not None else verdicts_on(project, version, found)
    base = {
        "species": species,
        "threshold": found.threshold,
        "detections": len(found),
        "recorded_hours": recorded_hours,
        "verdicts": len(judged),
        "confirmed": judged.confirmed,
    }
    if not len(found) or len(judged) < MIN_VERDICTS:
        return Density(**base)
    precision, low, high, strata = stratified_precision(found, judged)
    return Density(**base, strata=strata, precision=precision, precision_low=low, precision_high=high)


def site_precision(scope: Scope, judged: Verdicts) -> dict[str, tuple[int, int]]:
    """(confirmed, judged) verdicts on the detections per site."""
    sites = {r.id: site_name(r) for r in scope.recordings if start_of(r) is not None}
    counts: dict[str, tuple[int, int]] = {}
    for rid, right in zip(judged.recording_ids, judged.correct, strict=True):
        name = sites.get(int(rid))
        if name is None:
            continue
        confirmed, total = counts.get(name, (0, 0))
        counts[name] = (confirmed + int(right), total + 1)
    return counts
