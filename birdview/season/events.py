"""The moments a season's tables count, placed on the recorder's clock: the model's detections, the
confirmed calls, and the time recorded (effort), each by site, date and hour of the day.

Every table (per site and date, hour or week; detection histories) sums these, so all of them
count the same things. A moment is placed by its start (a window's, a label's) on the recorder's
clock: the start time in the recording's file name plus the offset. The selection
(:class:`birdview.store.selection.Selection`) decides which moments count, the same way for the
detections, the confirmed calls and the effort. Recordings without a start time cannot be placed:
they are left out and counted (:attr:`Scope.undated`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import numpy as np
import pandas as pd

from birdview.review.queue import sited
from birdview.review.summary import DEFAULT_THRESHOLD, reviews, thresholds
from birdview.store.labels import Kind, Status, Verdict
from birdview.store.project import Project, ProjectError, RecordingRow
from birdview.store.selection import Selection, start_of

#: The site of recordings that have none (neither given with ``add --site`` nor in the file name).
NO_SITE = "(no site)"
#: Scores are stored as float16 (about 3 significant digits): compare at that precision.
_TOLERANCE = 5e-4
MOMENT_COLUMNS = ["site", "day", "hour", "species"]
EFFORT_COLUMNS = ["site", "day", "hour", "seconds"]


@dataclass(frozen=True)
class Scope:
    """The recordings a table covers: those the selection keeps that have a start time (their
    site filled in as birdview shows it), and those left out for want of one."""

    selection: Selection
    recordings: list[RecordingRow]
    undated: list[RecordingRow]

    @property
    def sites(self) -> list[str]:
        return sorted({site_name(r) for r in self.recordings}, key=lambda name: (name == NO_SITE, name))


def site_name(recording: RecordingRow) -> str:
    return recording.site or NO_SITE


def scope(project: Project, selection: Selection | None = None) -> Scope:
    """The recordings of the project the selection keeps (their sites as birdview shows them)."""
    selection = selection or Selection()
    every = sited(project)
    chosen = [r for r in selection.recordings(every) if start_of(r) is not None]
    at_sites = Selection(sites=selection.sites).recordings(every)
    return Scope(selection, chosen, [r for r in at_sites if start_of(r) is None])


def clock(start: datetime, offsets_s: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(day as a date ordinal, hour of the day 0-23) of moments ``offsets_s`` seconds after
    ``start``, on the recorder's clock."""
    since = start.hour * 3600 + start.minute * 60 + start.second + start.microsecond / 1e6
    since = since + np.asarray(offsets_s, dtype=np.float64)
    day = np.floor(since / 86400.0)
    hour = np.minimum((since - day * 86400.0) // 3600.0, 23)
    return start.date().toordinal() + day.astype(np.int64), hour.astype(np.int64)


def _frame(
    columns: list[str], parts: dict[str, list[np.ndarray]], sites: list[str], species: list[str]
) -> pd.DataFrame:
    if not parts["day"]:
        return pd.DataFrame({c: pd.Series(dtype=object if c in ("site", "species") else "int64") for c in columns})
    data = {name: np.concatenate(values) for name, values in parts.items()}
    frame = pd.DataFrame(
        {
            "site": np.asarray(sites, dtype=object)[data.pop("site")],
            "day": data.pop("day"),
            "hour": data.pop("hour"),
        }
    )
    if "species" in data:
        frame["species"] = np.asarray(species, dtype=object)[data.pop("species")]
    for name, values in data.items():
        frame[name] = values
    return frame[columns]


# -- effort: the time recorded ---------------------------------------------------------------------


def _pieces(recording: RecordingRow, start: datetime, selection: Selection) -> tuple[np.ndarray, np.ndarray]:
    """The recording cut at every full hour (and at the selection's times of day): (middle of each
    piece as seconds from the start, its length), the pieces the selection keeps."""
    since = start.hour * 3600 + start.minute * 60 + start.second + start.microsecond / 1e6
    end = since + float(recording.duration_s or 0.0)
    cuts = [np.array([since, end]), np.arange(np.ceil(since / 3600.0) * 3600.0, end, 3600.0)]
    if selection.hours is not None:
        days = np.arange(np.floor(since / 86400.0), np.floor(end / 86400.0) + 1) * 86400.0
        cuts += [days + selection.hours[0] * 60.0, days + selection.hours[1] * 60.0]
    bounds = np.unique(np.concatenate(cuts))
    bounds = bounds[(bounds >= since) & (bounds <= end)]
    lengths = np.diff(bounds)
    middles = bounds[:-1] + lengths / 2 - since
    kept = (lengths > 0) & selection.mask(recording, middles)
    return middles[kept], lengths[kept]


def effort(scope: Scope) -> pd.DataFrame:
    """Seconds recorded per site, day (date ordinal) and hour of the day, within the selection."""
    sites = scope.sites
    index = {name: i for i, name in enumerate(sites)}
    parts: dict[str, list[np.ndarray]] = {"site": [], "day": [], "hour": [], "seconds": []}
    for recording in scope.recordings:
        start = start_of(recording)
        middles, lengths = _pieces(recording, start, scope.selection)
        day, hour = clock(start, middles)
        parts["site"].append(np.full(len(day), index[site_name(recording)]))
        parts["day"].append(day)
        parts["hour"].append(hour)
        parts["seconds"].append(lengths)
    frame = _frame(EFFORT_COLUMNS, parts, sites, [])
    if frame.empty:
        frame["seconds"] = frame["seconds"].astype(np.float64)
        return frame
    return frame.groupby(["site", "day", "hour"], as_index=False)["seconds"].sum()


# -- the model's detections --------------------------------------------------------------------------


def species_cuts(project: Project, codes: Sequence[str], threshold: float | None = None) -> dict[str, float]:
    """Each species' threshold: ``threshold`` for all when given, else the one applied for it
    (Review ▸ Summary ▸ Apply), else the default."""
    chosen = thresholds(project)
    return {c: float(threshold) if threshold is not None else float(chosen.get(c, DEFAULT_THRESHOLD)) for c in codes}


def _rejected_windows(project: Project, version: int, codes: Sequence[str], hop_s: float) -> dict[int, np.ndarray]:
    """Per recording, ``window * len(codes) + species index`` of the windows the user rejected
    (or relabelled as another species) for the model's species."""
    found: dict[int, list[int]] = {}
    column = {code: j for j, code in enumerate(codes)}
    for code, given in reviews(project, version).items():
        if code not in column:
            continue
        for review in given:
            if review.verdict not in (Verdict.REJECT, Verdict.RELABEL):
                continue
            window = round(review.start_s / hop_s)
            if abs(window * hop_s - review.start_s) < 1e-3:
                found.setdefault(review.recording_id, []).append(window * len(codes) + column[code])
    return {rid: np.unique(np.array(keys, dtype=np.int64)) for rid, keys in found.items()}


def detections(
    project: Project,
    version: int,
    scope: Scope,
    species: Sequence[str] | None = None,
    threshold: float | None = None,
) -> pd.DataFrame:
    """The model's windows at or above each species' threshold (see :func:`species_cuts`) whose
    start the selection keeps: site, day, hour, species and ``rejected`` (the user rejected the
    window, or relabelled it as another species). One pass over the stored blocks, all the
    species at once."""
    model = project.model(version)
    position = {code: i for i, code in enumerate(model.classes)}
    codes = list(model.classes) if species is None else list(dict.fromkeys(species))
    unknown = [c for c in codes if c not in position]
    if unknown:
        raise ProjectError(f"model {model.label} does not predict {', '.join(unknown)}")
    parts: dict[str, list[np.ndarray]] = {"site": [], "day": [], "hour": [], "species": [], "rejected": []}
    if not codes:
        return _frame([*MOMENT_COLUMNS, "rejected"], parts, [], []).astype({"rejected": bool})
    target = np.full(len(model.classes), -1, dtype=np.int64)  # model column -> index in codes
    target[[position[c] for c in codes]] = np.arange(len(codes))
    cuts = species_cuts(project, codes, threshold)
    lowest = (np.array([cuts[c] for c in codes], dtype=np.float64) - _TOLERANCE).astype(np.float32)
    rejected = _rejected_windows(project, version, codes, model.hop_s)
    sites = scope.sites
    index = {name: i for i, name in enumerate(sites)}
    found = project.prediction_entries_of(version, [r.id for r in scope.recordings], target, lowest)
    for recording, (_, window, column, _) in zip(scope.recordings, found, strict=True):
        if not len(window):
            continue
        offsets = window * model.hop_s
        kept = scope.selection.mask(recording, offsets)
        window, column, offsets = window[kept], column[kept], offsets[kept]
        day, hour = clock(start_of(recording), offsets)
        parts["site"].append(np.full(len(day), index[site_name(recording)]))
        parts["day"].append(day)
        parts["hour"].append(hour)
        parts["species"].append(column)
        keys = rejected.get(recording.id)
        no = np.zeros(len(day), dtype=bool)
        parts["rejected"].append(no if keys is None else np.isin(window * len(codes) + column, keys))
    return _frame([*MOMENT_COLUMNS, "rejected"], parts, sites, codes).astype({"rejected": bool})


def unscored(project: Project, version: int, scope: Scope) -> list[RecordingRow]:
    """The recordings in scope the model has not scored (their detections are missing)."""
    scored = project.scored_recordings(version)
    return [r for r in scope.recordings if r.id not in scored]


# -- confirmed calls ---------------------------------------------------------------------------------


def confirmed(project: Project, scope: Scope, species: Sequence[str] | None = None) -> pd.DataFrame:
    """Confirmed calls (confirmed verdicts, relabels to the species, calls drawn or imported as
    confirmed) whose start the selection keeps: site, day, hour, species. A call confirmed twice
    at the same moment (verdicts on two models' windows) counts once."""
    wanted = None if species is None else set(species)
    by_id = {r.id: r for r in scope.recordings}
    grouped: dict[int, dict[tuple[float, str], None]] = {}
    for label in project.annotations(kind=Kind.CALL, status=Status.CONFIRMED):
        if label.recording_id not in by_id or not label.species:
            continue
        if wanted is not None and label.species not in wanted:
            continue
        grouped.setdefault(label.recording_id, {})[(round(label.start_s, 3), label.species)] = None
    codes = sorted({code for found in grouped.values() for _, code in found})
    position = {code: i for i, code in enumerate(codes)}
    sites = scope.sites
    index = {name: i for i, name in enumerate(sites)}
    parts: dict[str, list[np.ndarray]] = {"site": [], "day": [], "hour": [], "species": []}
    for rid, found in grouped.items():
        recording = by_id[rid]
        offsets = np.array([start for start, _ in found], dtype=np.float64)
        column = np.array([position[code] for _, code in found], dtype=np.int64)
        kept = scope.selection.mask(recording, offsets)
        day, hour = clock(start_of(recording), offsets[kept])
        parts["site"].append(np.full(len(day), index[site_name(recording)]))
        parts["day"].append(day)
        parts["hour"].append(hour)
        parts["species"].append(column[kept])
    return _frame(MOMENT_COLUMNS, parts, sites, codes)
