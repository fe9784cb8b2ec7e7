"""The review queue: candidate detections from a model's predictions, and verdicts on them.

Every verdict is committed at once as the labels ``birdview.store.labels.verdict_labels`` makes
(source ``model_review``, with the model's score and version, the species reviewed and the
verdict). A new verdict on a window replaces the earlier one; a batch of verdicts is one undo step.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace

import numpy as np

from birdview.store.labels import Source, Verdict, read_verdict, verdict_labels
from birdview.store.project import Annotation, Project, ProjectError, RecordingRow
from birdview.store.selection import Selection, start_of
from birdview.store.sites import site_of

ORDERS = ("score", "uncertainty", "time", "most informative")
INFORMATIVE = "most informative"
#: The slots of every 10 candidates in the "most informative" order: 7 nearest the species'
#: threshold (margin sampling), 2 top-scored and 1 at random, so that precision can still be
#: estimated without the bias of looking only near the boundary.
MIX = ("margin", "margin", "margin", "top", "margin", "margin", "margin", "top", "margin", "random")
MIX_TEXT = (
    "Most informative: of every 10 candidates, 7 nearest the species' threshold, "
    "2 top-scored and 1 at random (seeded), so precision can be estimated without bias."
)
MIX_SEED = 0
VERDICTS = Verdict.values()
SHOW = ("unreviewed", "reviewed", "all")


@dataclass(frozen=True)
class Candidate:
    recording_id: int
    window: int
    start_s: float
    end_s: float
    species: str
    score: float
    model_version: int

    def key(self) -> tuple[int, float, str]:
        return (self.recording_id, self.start_s, self.species)


def _verdict_labels(project: Project, version: int) -> dict[tuple[int, float, str], list[Annotation]]:
    """Earlier verdicts on this model's windows, by (recording, start, species reviewed)."""
    found: dict[tuple[int, float, str], list[Annotation]] = {}
    for label in project.annotations(source=Source.MODEL_REVIEW):
        if label.model_version != version:
            continue
        key = (label.recording_id, label.start_s, label.reviewed_species or label.species)
        found.setdefault(key, []).append(label)
    return found


def candidates(
    project: Project,
    version: int,
    species: str | Sequence[str] | None = None,
    min_score: float = 0.5,
    max_score: float = 1.0,
    order: str = "score",
    threshold: float = 0.5,
    show: str = "unreviewed",
    recording_ids: Sequence[int] | None = None,
    allowed: Mapping[int, Collection[str] | None] | None = None,
    selection: Selection | None = None,
) -> list[Candidate]:
    """The windows scored within [min_score, max_score] for the species, in ``order``; with
    ``allowed`` (recording id -> species shown, None for all), only those species per recording;
    with ``selection``, only windows starting at its sites, dates and hours."""
    if order not in ORDERS:
        raise ProjectError(f"order must be one of {', '.join(ORDERS)}, not {order!r}")
    if show not in SHOW:
        raise ProjectError(f"show must be one of {', '.join(SHOW)}, not {show!r}")
    model = project.model(version)
    wanted = [species] if isinstance(species, str) else list(species or model.classes)
    position = {code: column for column, code in enumerate(model.classes)}
    unknown = [code for code in wanted if code not in position]
    if unknown:
        raise ProjectError(f"model {version} does not predict {', '.join(unknown)}")
    wanted = list(dict.fromkeys(wanted))
    target = np.full(len(model.classes), -1, dtype=np.int64)  # model column -> index in wanted
    target[[position[code] for code in wanted]] = np.arange(len(wanted))
    # Scores are stored as float16 (about 3 significant digits): compare at that precision.
    lowest = np.full(len(wanted), min_score - 5e-4, dtype=np.float32)
    highest = np.float32(max_score + 5e-4)
    chosen = project.recordings() if selection is None else selected_recordings(project, selection)
    rows = [r for r in chosen if recording_ids is None or r.id in recording_ids]
    parts = []
    for recording, (_, window, code, score) in zip(
        rows, _entries(project, version, rows, target, lowest, wanted, allowed), strict=True
    ):
        inside = score <= highest
        if selection is not None and selection.needs_clock:
            inside &= selection.mask(recording, window * model.hop_s)
        starts = window[inside] * model.hop_s
        ends = np.minimum(starts + model.window_s, recording.duration_s)
        ids = np.full(len(starts), recording.id, dtype=np.int64)
        parts.append((ids, window[inside], code[inside], score[inside].astype(np.float64), starts, ends))
    found = _Found(*(np.concatenate(p) for p in zip(*parts, strict=True))) if parts else _Found.empty()
    if show != "all":
        found = found.take(_reviewed(project, version, found, wanted) == (show == "reviewed"))
    if order == INFORMATIVE:
        return order_candidates(project, found.candidates(wanted, version), order, threshold)
    return found.take(found.order(order, threshold, wanted)).candidates(wanted, version)


@dataclass(frozen=True)
class _Found:
    """Candidates as arrays: recording id, window, index in the species wanted, score, start, end."""

    ids: np.ndarray
    windows: np.ndarray
    codes: np.ndarray
    scores: np.ndarray
    starts: np.ndarray
    ends: np.ndarray

    @classmethod
    def empty(cls) -> _Found:
        return cls(*(np.zeros(0, dtype) for dtype in (np.int64, np.int64, np.int64, float, float, float)))

    def take(self, chosen: np.ndarray) -> _Found:
        return _Found(*(values[chosen] for values in vars(self).values()))

    def order(self, order: str, threshold: float, wanted: Sequence[str]) -> np.ndarray:
        """The places in ``order``, as :func:`order_candidates` sorts (stable: ties keep theirs)."""
        if order == "score":
            return np.lexsort((self.starts, self.ids, -self.scores))
        if order == "uncertainty":
            return np.lexsort((self.starts, self.ids, np.abs(self.scores - threshold)))
        rank = {code: n for n, code in enumerate(sorted(wanted))}
        by_name = np.array([rank[code] for code in wanted], dtype=np.int64)[self.codes]
        return np.lexsort((by_name, self.starts, self.ids))

    def species(self, wanted: Sequence[str]) -> list[str]:
        return np.asarray(wanted, dtype=object)[self.codes].tolist() if len(self.codes) else []

    def candidates(self, wanted: Sequence[str], version: int) -> list[Candidate]:
        columns = (self.ids, self.windows, self.starts, self.ends)
        return [
            Candidate(rid, window, start, end, code, score, version)
            for (rid, window, start, end), code, score in zip(
                zip(*(values.tolist() for values in columns), strict=True),
                self.species(wanted),
                self.scores.tolist(),
                strict=True,
            )
        ]


def _reviewed(project: Project, version: int, found: _Found, wanted: Sequence[str]) -> np.ndarray:
    """Whether each candidate has a verdict."""
    earlier = _verdict_labels(project, version)
    keys = zip(found.ids.tolist(), found.starts.tolist(), found.species(wanted), strict=True)
    return np.array([key in earlier for key in keys], dtype=bool)


def _entries(
    project: Project,
    version: int,
    rows: Sequence[RecordingRow],
    target: np.ndarray,
    lowest: np.ndarray,
    wanted: Sequence[str],
    allowed: Mapping[int, Collection[str] | None] | None,
) -> Iterator[tuple[int, np.ndarray, np.ndarray, np.ndarray]]:
    """(recording id, window, index in ``wanted``, score) of each recording's scores at or above
    ``lowest``, only the species ``allowed`` in it."""
    if allowed is None:
        yield from project.prediction_entries_of(version, [r.id for r in rows], target, lowest)
        return
    for recording in rows:
        shown = allowed.get(recording.id)
        counted = target
        if shown is not None:
            counted = np.where(np.isin(target, [i for i, code in enumerate(wanted) if code in shown]), target, -1)
        yield recording.id, *project.prediction_entries(version, recording.id, counted, lowest)


# -- a Selection (sites, dates, hours) over the project's recordings and labels -----------------


def sited(project: Project, recordings: Sequence[RecordingRow] | None = None) -> list[RecordingRow]:
    """The recordings (all the project's by default) with the site :func:`site_of` reads (as given
    when added, else the file name's prefix) in ``site``: what a :class:`Selection` judges."""
    rows = project.recordings() if recordings is None else recordings
    return [row if row.site else replace(row, site=site_of(project, row)) for row in rows]


def in_hours(selection: Selection, recording: object) -> bool:
    """Whether some moment of the recording falls in the selection's hours of the day (always,
    without hours; never without a start time when there are hours)."""
    if selection.hours is None:
        return True
    start = start_of(recording)
    if start is None:
        return False
    duration_m = float(getattr(recording, "duration_s", 0.0) or 0.0) / 60.0
    first, last = selection.hours
    if last <= first:
        last += 24 * 60  # wraps past midnight
    begin = start.hour * 60 + start.minute + start.second / 60.0
    end = begin + max(duration_m, 1e-6)
    day = -1
    while first + day * 1440 < end:
        if first + day * 1440 < end and last + day * 1440 > begin:
            return True
        day += 1
    return False


def selected_recordings(project: Project, selection: Selection) -> list[RecordingRow]:
    """The recordings at the selection's sites with some time in its dates and hours (sites read
    as :func:`sited` does), in the project's order."""
    return [row for row in selection.recordings(sited(project)) if in_hours(selection, row)]


def selected_labels(project: Project, selection: Selection, **filters: object) -> tuple[list[Annotation], dict]:
    """The labels (``filters`` as :meth:`Project.annotations` takes them) that start inside the
    selection, and their recordings by id (with their sites)."""
    rows = {row.id: row for row in selected_recordings(project, selection)}
    kept: list[Annotation] = []
    by_recording: dict[int, list[Annotation]] = {}
    for label in project.annotations(**filters):
        if label.recording_id in rows:
            by_recording.setdefault(label.recording_id, []).append(label)
    for recording_id, labels in by_recording.items():
        mask = selection.mask(rows[recording_id], [label.start_s for label in labels])
        kept.extend(label for label, keep in zip(labels, mask, strict=True) if keep)
    return kept, rows


def order_candidates(project: Project, found: list[Candidate], order: str, threshold: float = 0.5) -> list[Candidate]:
    """The candidates in ``order`` (a new list); "most informative" uses each species' threshold
    (the summary's, else ``threshold``)."""
    found = list(found)
    if order == "score":
        found.sort(key=lambda c: (-c.score, c.recording_id, c.start_s))
    elif order == "uncertainty":
        found.sort(key=lambda c: (abs(c.score - threshold), c.recording_id, c.start_s))
    elif order == INFORMATIVE:
        chosen = dict(project.get_setting("species_thresholds", {}) or {})
        found = [c for _, c in informative_order(found, lambda code: float(chosen.get(code, threshold)))]
    else:
        found.sort(key=lambda c: (c.recording_id, c.start_s, c.species))
    return found


def informative_order(
    found: Sequence[Candidate], threshold_of: Callable[[str], float], seed: int = MIX_SEED
) -> list[tuple[str, Candidate]]:
    """(slot kind, candidate) in the "most informative" order: the slots of :data:`MIX`, repeated;
    a margin slot takes the unplaced candidate nearest its species' threshold, a top slot the
    best-scored one, a random slot one drawn with a seeded generator (reproducible). A kind that
    has run out gives its slot to the margin ones."""
    margin = sorted(found, key=lambda c: (abs(c.score - threshold_of(c.species)), c.recording_id, c.start_s, c.species))
    top = sorted(found, key=lambda c: (-c.score, c.recording_id, c.start_s, c.species))
    shuffled = [found[i] for i in np.random.default_rng(seed).permutation(len(found))]
    pools = {"margin": margin, "top": top, "random": shuffled}
    cursor = dict.fromkeys(pools, 0)
    placed: set[tuple[int, float, str]] = set()
    result: list[tuple[str, Candidate]] = []

    def take(kind: str) -> Candidate | None:
        pool = pools[kind]
        while cursor[kind] < len(pool) and pool[cursor[kind]].key() in placed:
            cursor[kind] += 1
        return pool[cursor[kind]] if cursor[kind] < len(pool) else None

    while len(result) < len(found):
        kind = MIX[len(result) % len(MIX)]
        candidate = take(kind)
        if candidate is None:
            kind, candidate = "margin", take("margin")
        placed.add(candidate.key())
        result.append((kind, candidate))
    return result


def verdict_of(project: Project, candidate: Candidate) -> str | None:
    return read_verdict(_verdict_labels(project, candidate.model_version).get(candidate.key(), []), candidate.species)


def verdicts_of(project: Project, chosen: Sequence[Candidate]) -> list[str | None]:
    """The verdicts of many candidates (of one model) with one query."""
    if not chosen:
        return []
    earlier = _verdict_labels(project, chosen[0].model_version)
    return [read_verdict(earlier.get(c.key(), []), c.species) for c in chosen]


def record_verdicts(
    project: Project,
    chosen: Sequence[Candidate],
    verdict: str,
    species: str | None = None,
    author: str | None = None,
) -> list[Annotation]:
    """Verdicts on candidates, replacing earlier ones on the same windows; one undo step."""
    if not chosen:
        return []
    earlier = _verdict_labels(project, chosen[0].model_version)
    remove = [a.id for c in chosen for a in earlier.get(c.key(), [])]
    add = [label for c in chosen for label in verdict_labels(c, verdict, species, author)]
    description = f"{verdict} {len(chosen)} detection(s)" if len(chosen) > 1 else f"{verdict} detection"
    return project.replace_annotations(remove, add, description)


def queue_with_progress(
    project: Project, version: int, show: str = "unreviewed", **filters: object
) -> tuple[list[Candidate], int, int]:
    """The queue the filters select, with (reviewed, total) of all their candidates: one pass."""
    order = str(filters.pop("order", "score"))
    if order not in ORDERS:
        raise ProjectError(f"order must be one of {', '.join(ORDERS)}, not {order!r}")
    everything = candidates(project, version, show="all", order="time", **filters)
    reviewed = _verdict_labels(project, version)
    done = [c.key() in reviewed for c in everything]
    if show == "all":
        queue = everything
    else:
        queue = [c for c, d in zip(everything, done, strict=True) if d == (show == "reviewed")]
    # Ordered after the reviewed ones are left out: the mix of "most informative" holds in the queue.
    threshold = float(filters.get("threshold", 0.5))
    return order_candidates(project, queue, order, threshold), sum(done), len(everything)


def progress(project: Project, version: int, **filters: object) -> tuple[int, int]:
    """(reviewed, total) among the candidates the filters select."""
    filters = {k: v for k, v in filters.items() if k not in ("show", "order")}
    everything = candidates(project, version, show="all", **filters)
    reviewed = _verdict_labels(project, version)
    return sum(1 for c in everything if c.key() in reviewed), len(everything)
