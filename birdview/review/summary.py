"""What the verdicts say about a model, per species.

**Detections.** A species' detections are its candidates (scored windows) at or above its
threshold: the one applied for it (Review ▸ Summary ▸ Apply), else 0.5. They are counted block by
block from the stored predictions, all classes at once for the overview
(:func:`species_overview`), one class for a species (:func:`summarise`,
:func:`detections_by_time`): nothing loops over a model's thousands of classes.

**Precision by threshold** is estimated the way BirdNET's guide does it: a logistic regression of
the verdict (confirmed = 1; rejected or relabelled = 0; uncertain left out) on the logit of the
score, fitted on the reviewed detections of any score; the precision at threshold t is the fitted
probability averaged over every detection with a score of at least t (reviewed or not). It is
given only over the range of the reviewed scores (beyond it the fit would extrapolate) and only
from ``MIN_VERDICTS`` verdicts with at least ``MIN_EACH`` confirmed and ``MIN_EACH`` rejected.
The threshold for a wanted precision is the lowest multiple of 0.01 in that range that reaches it.

**Uncertainty.** A 90 % band from a bootstrap over the verdicts: ``RESAMPLES`` resamples of the
reviewed detections (drawn with replacement, seeded, so the band is the same every time), the
logistic refitted on each and the precision curve recomputed; the band runs from the 5th to the
95th percentile at each threshold (widened to the estimate itself where that falls outside). A
resample holding one kind of verdict only gives precision 1 (all confirmed) or 0 (all rejected),
the fit's limit.

**When.** Detections by hour of day and by date on the recorder's clock: the start time in a
recording's file name (``SITE_20240521_053000.wav``) plus the window's offset; with the seconds
recorded in each hour and on each date, so an empty bar can be told from an hour not recorded.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

import numpy as np

from birdview.review.queue import Candidate, candidates, selected_recordings, verdicts_of
from birdview.store.labels import Source, Verdict, read_verdict
from birdview.store.project import ModelRow, Project, ProjectError
from birdview.store.selection import Selection

THRESHOLDS = np.round(np.arange(0.01, 1.0, 0.01), 2)
#: The threshold of a species without one applied.
DEFAULT_THRESHOLD = 0.5
#: A threshold is offered from this many verdicts (confirmed, rejected or relabelled) ...
MIN_VERDICTS = 10
#: ... with at least this many confirmed and this many rejected among them.
MIN_EACH = 3
#: The band's coverage, its bootstrap resamples and their seed.
BAND = 0.90
RESAMPLES = 500
SEED = 0
#: What the band is, in words (the Summary shows it).
BAND_METHOD = (
    f"{round(BAND * 100)} % band: bootstrap over the verdicts ({RESAMPLES} resamples, seed {SEED}), "
    "the logistic refitted on each"
)
#: L2 penalty on the slope, as scikit-learn's LogisticRegression(C=1e6) (the intercept is free).
_RIDGE = 1e-6
#: Scores are stored as float16 (about 3 significant digits): compare at that precision.
_TOLERANCE = 5e-4
_BOOTSTRAP_CHUNK = 100  # resamples evaluated at once (bounds memory with many distinct scores)


def _logit(scores: np.ndarray) -> np.ndarray:
    clipped = np.clip(np.asarray(scores, dtype=np.float64), 1e-4, 1 - 1e-4)
    return np.log(clipped / (1 - clipped))


def _expit(z: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * z))


def fit_logistic(x: np.ndarray, y: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray:
    """(intercept, slope) of the logistic regression of y (0/1) on x, one row per row of
    ``weights`` (how often each point is drawn: a bootstrap resample), by Newton's method with step
    halving, all rows at once. The objective is scikit-learn's LogisticRegression(C=1e6): the
    weighted log-loss plus a tiny L2 penalty on the slope, which keeps the slope finite where the
    verdicts are separated by the score. Rows must hold both kinds of y."""
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    w = np.ones((1, len(x))) if weights is None else np.atleast_2d(np.asarray(weights, dtype=np.float64))
    beta = np.zeros((len(w), 2))

    def objective(b: np.ndarray) -> np.ndarray:
        z = b[:, :1] + b[:, 1:] * x
        return (w * (np.logaddexp(0.0, z) - y * z)).sum(axis=1) + 0.5 * _RIDGE * b[:, 1] ** 2

    current = objective(beta)
    for _ in range(200):
        p = _expit(beta[:, :1] + beta[:, 1:] * x)
        r = w * (p - y)
        v = w * p * (1 - p)
        g0, g1 = r.sum(axis=1), (r * x).sum(axis=1) + _RIDGE * beta[:, 1]
        h00, h01, h11 = v.sum(axis=1) + 1e-12, (v * x).sum(axis=1), (v * x * x).sum(axis=1) + _RIDGE
        det = np.maximum(h00 * h11 - h01**2, 1e-300)
        step = np.stack([(h11 * g0 - h01 * g1) / det, (h00 * g1 - h01 * g0) / det], axis=1)
        scale = np.ones(len(w))
        trial, value = beta, current
        for _ in range(40):
            trial = beta - scale[:, None] * step
            value = objective(trial)
            worse = value > current + 1e-12 * np.maximum(1.0, np.abs(current))
            if not worse.any():
                break
            scale[worse] /= 2
        moved = ~(value > current + 1e-12 * np.maximum(1.0, np.abs(current)))
        beta = np.where(moved[:, None], trial, beta)
        current = np.where(moved, value, current)
        if np.max(np.abs(scale[:, None] * step) * moved[:, None]) < 1e-9:
            break
    return beta


@dataclass(frozen=True)
class Review:
    """A verdict on one of the model's detections: where, its score, and the verdict."""

    recording_id: int
    start_s: float
    score: float
    verdict: str

    @property
    def counts(self) -> bool:
        """Whether the verdict says right or wrong (uncertain ones say neither)."""
        return self.verdict != Verdict.UNCERTAIN

    @property
    def correct(self) -> bool:
        return self.verdict == Verdict.CONFIRM


def reviews(project: Project, version: int) -> dict[str, list[Review]]:
    """The verdicts on the model's detections, per species reviewed, from one query."""
    grouped: dict[tuple[int, float, str], list] = {}
    for label in project.annotations(source=Source.MODEL_REVIEW):
        if label.model_version != version:
            continue
        key = (label.recording_id, label.start_s, label.reviewed_species or label.species)
        grouped.setdefault(key, []).append(label)
    found: dict[str, list[Review]] = {}
    for (recording_id, start_s, species), labels in grouped.items():
        score = next((label.score for label in labels if label.score is not None), None)
        verdict = read_verdict(labels, species)
        if score is None or verdict is None or species is None:
            continue
        found.setdefault(species, []).append(Review(recording_id, start_s, float(score), str(verdict)))
    return found


def needed_verdicts(confirmed: int, rejected: int) -> tuple[int, int, int]:
    """(more verdicts, of which at least this many confirmed, and this many rejected) before a
    threshold is offered; (0, 0, 0) once there are enough."""
    more_confirmed = max(0, MIN_EACH - confirmed)
    more_rejected = max(0, MIN_EACH - rejected)
    return max(more_confirmed + more_rejected, MIN_VERDICTS - confirmed - rejected), more_confirmed, more_rejected


def needs_message(confirmed: int, rejected: int) -> str:
    """What is still missing for a threshold, in words ('' once there is enough)."""
    more, more_confirmed, more_rejected = needed_verdicts(confirmed, rejected)
    if not more:
        return ""
    kinds = [f"{n} more {kind}" for n, kind in ((more_confirmed, "confirmed"), (more_rejected, "rejected")) if n]
    return (
        f"needs {more} more verdict{'s' if more != 1 else ''}"
        + (f" ({' and '.join(kinds)})" if kinds else "")
        + f": a threshold is offered from {MIN_VERDICTS} verdicts with at least {MIN_EACH} confirmed "
        f"and {MIN_EACH} rejected"
    )


def thresholds(project: Project) -> dict[str, float]:
    return dict(project.get_setting("species_thresholds", {}))


def threshold_of(project: Project, species: str) -> float:
    """The threshold applied for the species, else DEFAULT_THRESHOLD."""
    return float(thresholds(project).get(species, DEFAULT_THRESHOLD))


def set_threshold(project: Project, species: str, value: float) -> None:
    chosen = thresholds(project)
    chosen[species] = float(value)
    project.set_setting("species_thresholds", chosen)


# -- the overview: every species with detections or verdicts, in one pass -------------------------


@dataclass(frozen=True)
class SpeciesCounts:
    species: str
    common: str | None
    threshold: float
    #: Candidates at or above the threshold, and the verdicts among them.
    detections: int
    confirmed: int
    rejected: int
    uncertain: int
    #: Verdicts at any score that say right or wrong (what the precision fit uses).
    verdicts_confirmed: int
    verdicts_rejected: int

    @property
    def unreviewed(self) -> int:
        return max(0, self.detections - self.confirmed - self.rejected - self.uncertain)

    @property
    def needed(self) -> int:
        """More verdicts before a threshold is offered (0: enough)."""
        return needed_verdicts(self.verdicts_confirmed, self.verdicts_rejected)[0]


def _allowed_columns(
    position: Mapping[str, int], allowed: Mapping[int, Collection[str] | None] | None, recording_id: int
) -> np.ndarray | None:
    """Which of the model's columns the recording shows (None: all)."""
    shown = allowed.get(recording_id) if allowed is not None else None
    if shown is None:
        return None
    mask = np.zeros(len(position), dtype=bool)
    mask[[position[code] for code in shown if code in position]] = True
    return mask


def species_overview(
    project: Project,
    version: int,
    threshold: float | None = None,
    allowed: Mapping[int, Collection[str] | None] | None = None,
) -> list[SpeciesCounts]:
    """Every species with detections at or above its threshold (``threshold`` for all, if given)
    or with verdicts, most detections first: one pass over the stored blocks, all classes at once,
    and one query for the verdicts. With ``allowed`` (recording id → species shown, None or missing
    for all), only the species allowed in each recording are counted."""
    model = project.model(version)
    classes = model.classes
    cuts = np.full(len(classes), DEFAULT_THRESHOLD if threshold is None else threshold, dtype=np.float64)
    if threshold is None:
        column = {code: i for i, code in enumerate(classes)}
        for code, value in thresholds(project).items():
            if code in column:
                cuts[column[code]] = value
    position = {code: i for i, code in enumerate(classes)}
    counts = np.zeros(len(classes), dtype=np.int64)
    lowest = (cuts - _TOLERANCE).astype(np.float32)  # blocks are float32: compare without converting them
    shown_by_recording: dict[int, np.ndarray | None] = {}
    for recording in project.recordings():
        shown = shown_by_recording[recording.id] = _allowed_columns(position, allowed, recording.id)
        for _, block in project.prediction_blocks(version, recording.id):
            hits = np.count_nonzero(block >= lowest, axis=0)
            counts += hits if shown is None else hits * shown
    judged = {code: found for code, found in reviews(project, version).items() if code in position}
    names = {code: common for code, common, _ in project.species_table()}
    rows = []
    for code in sorted({classes[i] for i in np.flatnonzero(counts)} | set(judged)):
        i = position[code]
        found = judged.get(code, [])
        above = []
        for review in found:
            shown = shown_by_recording.get(review.recording_id)
            if review.score >= cuts[i] - _TOLERANCE and (shown is None or shown[i]):
                above.append(review.verdict)
        rows.append(
            SpeciesCounts(
                code,
                names.get(code),
                float(cuts[i]),
                int(counts[i]),
                sum(v == Verdict.CONFIRM for v in above),
                sum(v in (Verdict.REJECT, Verdict.RELABEL) for v in above),
                sum(v == Verdict.UNCERTAIN for v in above),
                sum(r.counts and r.correct for r in found),
                sum(r.counts and not r.correct for r in found),
            )
        )
    rows.sort(key=lambda r: (-r.detections, -(r.verdicts_confirmed + r.verdicts_rejected), r.species))
    return rows


# -- one species: counts, the precision curve and its band -----------------------------------------


@dataclass(frozen=True)
class _Windows:
    """A species' windows scoring at or above some score: recording, window number and score."""

    recording_ids: np.ndarray
    windows: np.ndarray
    scores: np.ndarray


def _windows(
    project: Project,
    model: ModelRow,
    species: str,
    min_score: float,
    allowed: Mapping[int, Collection[str] | None] | None = None,
    selection: Selection | None = None,
) -> _Windows:
    if species not in model.classes:
        raise ProjectError(f"model {model.version} does not predict {species}")
    column = model.classes.index(species)
    recording_ids, windows, scores = [], [], []
    chosen = project.recordings() if selection is None else selected_recordings(project, selection)
    for recording in chosen:
        shown = allowed.get(recording.id) if allowed is not None else None
        if shown is not None and species not in shown:
            continue
        for first, block in project.prediction_blocks(model.version, recording.id, [column], min_score - _TOLERANCE):
            rows = np.flatnonzero(block[:, 0] >= min_score - _TOLERANCE)
            if selection is not None:
                rows = rows[selection.mask(recording, (first + rows) * model.hop_s)]
            recording_ids.append(np.full(len(rows), recording.id, dtype=np.int64))
            windows.append(first + rows)
            scores.append(block[rows, 0].astype(np.float64))
    if not scores:
        return _Windows(np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0))
    return _Windows(np.concatenate(recording_ids), np.concatenate(windows), np.concatenate(scores))


@dataclass(frozen=True)
class PrecisionCurve:
    """Estimated precision of the detections at or above each threshold, over the reviewed scores,
    with its band (``low`` to ``high``)."""

    thresholds: np.ndarray
    precision: np.ndarray
    low: np.ndarray
    high: np.ndarray
    #: The logistic's probability that a detection scoring exactly that is right (BirdNET's curve).
    probability: np.ndarray
    method: str = BAND_METHOD


@dataclass
class SpeciesSummary:
    species: str
    #: Detections are the candidates at or above this score.
    threshold: float
    detections: int
    #: Verdicts among those detections.
    confirmed: int
    rejected: int
    uncertain: int
    #: The verdicts the fit uses (any score): their scores and whether each was right.
    reviewed_scores: np.ndarray = field(default_factory=lambda: np.zeros(0))
    reviewed_correct: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=bool))
    #: (intercept, slope) of the logistic on logit(score); None below the minimum of verdicts.
    fit: tuple[float, float] | None = None
    precision: PrecisionCurve | None = None
    #: Distinct scores of the detections from the lowest reviewed score up, and how many of each
    #: (what the precision averages over).
    population: tuple[np.ndarray, np.ndarray] = field(default_factory=lambda: (np.zeros(0), np.zeros(0)))

    @property
    def unreviewed(self) -> int:
        return max(0, self.detections - self.confirmed - self.rejected - self.uncertain)

    @property
    def verdicts_confirmed(self) -> int:
        return int(self.reviewed_correct.sum())

    @property
    def verdicts_rejected(self) -> int:
        return int(len(self.reviewed_correct) - self.reviewed_correct.sum())

    @property
    def needed(self) -> int:
        return needed_verdicts(self.verdicts_confirmed, self.verdicts_rejected)[0]

    @property
    def needs(self) -> str:
        """What is missing before a threshold is offered ('' when nothing)."""
        return needs_message(self.verdicts_confirmed, self.verdicts_rejected)

    @property
    def reviewed_range(self) -> tuple[float, float] | None:
        if not len(self.reviewed_scores):
            return None
        return float(self.reviewed_scores.min()), float(self.reviewed_scores.max())

    @property
    def separated(self) -> bool:
        """Whether the score separates the verdicts, every rejected one scoring below every confirmed
        one: the fit is then a step (its slope held finite only by the tiny penalty) and the band,
        made of such steps, narrower than the uncertainty."""
        if not self.verdicts_confirmed or not self.verdicts_rejected:
            return False
        return bool(
            self.reviewed_scores[~self.reviewed_correct].max() < self.reviewed_scores[self.reviewed_correct].min()
        )

    def as_counts(self, common: str | None = None) -> SpeciesCounts:
        """The species' row of :func:`species_overview`, at this summary's threshold."""
        return SpeciesCounts(
            self.species,
            common,
            self.threshold,
            self.detections,
            self.confirmed,
            self.rejected,
            self.uncertain,
            self.verdicts_confirmed,
            self.verdicts_rejected,
        )

    def probability_correct(self, scores: np.ndarray) -> np.ndarray:
        if self.fit is None:
            raise ProjectError(f"{self.species}: {self.needs or 'needs confirmed and rejected verdicts'}")
        intercept, slope = self.fit
        return _expit(intercept + slope * _logit(np.asarray(scores)))

    def precision_at(self, thresholds: np.ndarray) -> np.ndarray:
        """The estimated precision of the detections at or above each threshold."""
        if self.fit is None:
            raise ProjectError(f"{self.species}: {self.needs}")
        return _precision(np.array([self.fit]), *self.population, np.atleast_1d(thresholds))[0]

    def threshold_choices(self) -> np.ndarray:
        """The thresholds offered: multiples of 0.01 within the reviewed scores."""
        if self.precision is None:
            return np.zeros(0)
        lo, hi = self.reviewed_range
        steps = THRESHOLDS
        return steps[(steps >= lo - 1e-9) & (steps <= hi + 1e-9)]

    def threshold_for(self, target_precision: float) -> float | None:
        """The lowest threshold (a multiple of 0.01 within the reviewed scores) whose estimated
        precision reaches the target; None below the minimum of verdicts or where none does."""
        choices = self.threshold_choices()
        if not len(choices):
            return None
        reached = np.flatnonzero(self.precision_at(choices) >= target_precision)
        return float(choices[reached[0]]) if len(reached) else None

    def threshold_message(self, target_precision: float) -> str:
        """The threshold for the wanted precision, or why there is none, in words."""
        if self.precision is None:
            return f"No threshold yet: {self.needs}."
        lo, hi = self.reviewed_range
        found = self.threshold_for(target_precision)
        if found is not None:
            text = f"Threshold for precision {target_precision:.2f}: {found:.2f}"
            if found <= lo + 0.01:
                text += f" (reached at the lowest reviewed scores; review below {lo:.2f} to go lower)"
        elif not len(self.threshold_choices()):
            text = f"No threshold: the reviewed scores ({lo:.2f}–{hi:.2f}) span no step of 0.01"
        else:
            text = (
                f"Precision {target_precision:.2f} is not reached within the reviewed scores ({lo:.2f}–{hi:.2f}): "
                "review more of the high-scoring detections"
            )
        if self.separated:
            wrong = self.reviewed_scores[~self.reviewed_correct].max()
            right = self.reviewed_scores[self.reviewed_correct].min()
            text += (
                f". Caution: the score separates the verdicts (rejected up to {wrong:.2f}, confirmed from "
                f"{right:.2f}), so the fit is a step and its band too narrow: review more detections scoring "
                f"around {wrong:.2f}–{right:.2f}"
            )
        return text + "."

    def verdict_points(self, jitter: float = 0.04, seed: int = SEED) -> tuple[np.ndarray, np.ndarray]:
        """The verdicts as points to plot: (score, 1 for confirmed or 0 for rejected, moved inwards
        by a seeded random amount below ``jitter`` so that equal scores do not hide each other)."""
        spread = np.random.default_rng(seed).uniform(0, jitter, len(self.reviewed_scores))
        y = np.where(self.reviewed_correct, 1.0 - spread, spread)
        return self.reviewed_scores.copy(), y


def _precision(fits: np.ndarray, scores: np.ndarray, counts: np.ndarray, thresholds: np.ndarray) -> np.ndarray:
    """Per fit (row), the mean fitted probability over the detections at or above each threshold;
    where none is, the fitted probability at the threshold itself."""
    fits = np.asarray(fits, dtype=np.float64)
    x = _logit(scores)
    start = np.searchsorted(scores, np.asarray(thresholds) - _TOLERANCE, side="left")
    out = np.empty((len(fits), len(thresholds)))
    for first in range(0, len(fits), _BOOTSTRAP_CHUNK):
        chunk = fits[first : first + _BOOTSTRAP_CHUNK]
        p = _expit(chunk[:, :1] + chunk[:, 1:] * x) * counts
        # Sums from each score up (a trailing 0 for "none above").
        weighted = np.concatenate([np.cumsum(p[:, ::-1], axis=1)[:, ::-1], np.zeros((len(chunk), 1))], axis=1)
        number = np.append(np.cumsum(counts[::-1])[::-1], 0)
        at = _expit(chunk[:, :1] + chunk[:, 1:] * _logit(thresholds))
        with np.errstate(invalid="ignore", divide="ignore"):
            out[first : first + len(chunk)] = np.where(
                number[start] > 0, weighted[:, start] / np.maximum(number[start], 1), at
            )
    return out


def _bootstrap_fits(x: np.ndarray, y: np.ndarray, resamples: int, seed: int) -> np.ndarray:
    """(intercept, slope) per resample of the verdicts; one with a single kind of verdict gets a
    flat fit at 1 (all confirmed) or 0 (all rejected), the logistic's limit."""
    rng = np.random.default_rng(seed)
    weights = rng.multinomial(len(x), np.full(len(x), 1 / len(x)), size=resamples).astype(np.float64)
    right = (weights * y).sum(axis=1)
    both = (right > 0) & (right < weights.sum(axis=1))
    fits = np.empty((resamples, 2))
    fits[~both] = np.stack([np.where(right[~both] > 0, 40.0, -40.0), np.zeros((~both).sum())], axis=1)
    if both.any():
        fits[both] = fit_logistic(x, y, weights[both])
    return fits


def _reviews_in(project: Project, selection: Selection, given: list[Review]) -> list[Review]:
    """The verdicts on windows that start inside the selection, in their order."""
    rows = {row.id: row for row in selected_recordings(project, selection)}
    by_recording: dict[int, list[Review]] = {}
    for review in given:
        if review.recording_id in rows:
            by_recording.setdefault(review.recording_id, []).append(review)
    inside: set[int] = set()
    for recording_id, chosen in by_recording.items():
        mask = selection.mask(rows[recording_id], [review.start_s for review in chosen])
        inside.update(id(review) for review, keep in zip(chosen, mask, strict=True) if keep)
    return [review for review in given if id(review) in inside]


def summarise(
    project: Project,
    version: int,
    species: str,
    threshold: float | None = None,
    allowed: Mapping[int, Collection[str] | None] | None = None,
    resamples: int = RESAMPLES,
    seed: int = SEED,
    selection: Selection | None = None,
) -> SpeciesSummary:
    """A species' detections at or above ``threshold`` (default: its own) with the verdicts among
    them, and, from ``MIN_VERDICTS`` verdicts on, the precision curve over the reviewed scores
    with its bootstrap band (see the module's docstring). With ``selection``, only the windows
    starting at its sites, dates and hours, and the verdicts on them."""
    model = project.model(version)
    cut = threshold_of(project, species) if threshold is None else float(threshold)
    given = reviews(project, version).get(species, [])
    if selection is not None:
        given = _reviews_in(project, selection, given)
    judged = [r for r in given if r.counts]
    uncertain = [r for r in given if not r.counts]
    reviewed_scores = np.array([r.score for r in judged], dtype=np.float64)
    reviewed_correct = np.array([r.correct for r in judged], dtype=bool)
    lowest = min(cut, float(reviewed_scores.min())) if len(reviewed_scores) else cut
    found = _windows(project, model, species, lowest, allowed, selection)
    above = found.scores >= cut - _TOLERANCE
    detected = {
        (int(r), round(model.window_start(int(w)), 3))
        for r, w in zip(found.recording_ids[above], found.windows[above], strict=True)
    }
    verdicts_above = [r.verdict for r in judged + uncertain if (r.recording_id, round(r.start_s, 3)) in detected]
    summary = SpeciesSummary(
        species,
        cut,
        int(above.sum()),
        sum(v == Verdict.CONFIRM for v in verdicts_above),
        sum(v in (Verdict.REJECT, Verdict.RELABEL) for v in verdicts_above),
        sum(v == Verdict.UNCERTAIN for v in verdicts_above),
        reviewed_scores=reviewed_scores,
        reviewed_correct=reviewed_correct,
    )
    if summary.needed:
        return summary
    lo, hi = summary.reviewed_range
    population = found.scores[found.scores >= lo - _TOLERANCE]
    summary.population = tuple(np.unique(population, return_counts=True))
    x, y = _logit(reviewed_scores), reviewed_correct.astype(np.float64)
    intercept, slope = fit_logistic(x, y)[0]
    summary.fit = (float(intercept), float(slope))
    steps = THRESHOLDS
    grid = np.unique(np.concatenate([[lo], steps[(steps > lo) & (steps < hi)], [hi]]))
    estimate = summary.precision_at(grid)
    spread = _precision(_bootstrap_fits(x, y, resamples, seed), *summary.population, grid)
    tail = (1 - BAND) / 2
    low, high = np.quantile(spread, [tail, 1 - tail], axis=0)
    summary.precision = PrecisionCurve(
        grid,
        estimate,
        np.minimum(low, estimate),
        np.maximum(high, estimate),
        summary.probability_correct(grid),
    )
    return summary


# -- when: detections by hour of day and by date ---------------------------------------------------


@dataclass(frozen=True)
class TimeCounts:
    """A species' detections by hour of day (0–23, the recorder's clock) and by date, with the
    seconds recorded in each; detections in recordings without a start time are only counted."""

    threshold: float
    by_hour: np.ndarray
    recorded_by_hour: np.ndarray
    dates: list[date]
    by_date: np.ndarray
    recorded_by_date: np.ndarray
    undated: int

    @property
    def total(self) -> int:
        return int(self.by_hour.sum()) + self.undated


def _start(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None


def detections_by_time(
    project: Project,
    version: int,
    species: str,
    threshold: float | None = None,
    allowed: Mapping[int, Collection[str] | None] | None = None,
) -> TimeCounts:
    """Detections at or above ``threshold`` (default: the species' own) by hour of day and by
    date, at the start of their window on the recorder's clock (the start time in the file name)."""
    model = project.model(version)
    cut = threshold_of(project, species) if threshold is None else float(threshold)
    recordings = {r.id: r for r in project.recordings()}
    starts = {rid: _start(r.start_time) for rid, r in recordings.items()}
    recorded_hour = np.zeros(24)
    recorded_day: dict[date, float] = {}
    for rid, start in starts.items():
        if start is None:
            continue
        moment, end = start, start + timedelta(seconds=recordings[rid].duration_s)
        while moment < end:
            following = moment.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
            seconds = (min(following, end) - moment).total_seconds()
            recorded_hour[moment.hour] += seconds
            recorded_day[moment.date()] = recorded_day.get(moment.date(), 0.0) + seconds
            moment = following
    found = _windows(project, model, species, cut, allowed)
    by_hour = np.zeros(24, dtype=np.int64)
    day_counts: dict[date, int] = {}
    undated = 0
    for rid in np.unique(found.recording_ids):
        offsets = found.windows[found.recording_ids == rid] * model.hop_s
        start = starts.get(int(rid))
        if start is None:
            undated += len(offsets)
            continue
        clock = start.hour * 3600 + start.minute * 60 + start.second + start.microsecond / 1e6 + offsets
        np.add.at(by_hour, (clock // 3600).astype(np.int64) % 24, 1)
        days, number = np.unique((clock // 86400).astype(np.int64), return_counts=True)
        for day, n in zip(days, number, strict=True):
            key = start.date() + timedelta(days=int(day))
            day_counts[key] = day_counts.get(key, 0) + int(n)
    known = set(recorded_day) | set(day_counts)
    dates = []
    if known:
        first, last = min(known), max(known)
        dates = [first + timedelta(days=i) for i in range((last - first).days + 1)]
    return TimeCounts(
        cut,
        by_hour,
        recorded_hour,
        dates,
        np.array([day_counts.get(d, 0) for d in dates], dtype=np.int64),
        np.array([recorded_day.get(d, 0.0) for d in dates]),
        undated,
    )


# -- detections with their verdicts, for the exports -----------------------------------------------


def detection_rows(
    project: Project,
    version: int,
    species: str | None,
    threshold: float | None,
    allowed: Mapping[int, Collection[str] | None] | None = None,
    selection: Selection | None = None,
) -> list[dict]:
    """Detections above their species' threshold (or the one given), with their verdicts, as rows
    for the Raven and BirdNET writers; with ``allowed`` (recording id → species shown, None or
    missing for all), only the species allowed in each recording; with ``selection``, only those
    whose window starts in it (sites, dates, hours of the day)."""
    per_species = thresholds(project)
    model = project.model(version)
    recordings = {r.id: r for r in project.recordings()}
    names = {code: (common, scientific) for code, common, scientific in project.species_table()}
    codes = [species] if species else model.classes
    cuts = {code: threshold if threshold is not None else per_species.get(code, 0.5) for code in codes}
    found = [
        c
        for c in candidates(
            project, version, codes, min_score=min(cuts.values()), show="all", order="time", selection=selection
        )
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
