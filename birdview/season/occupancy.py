"""Detection histories for occupancy models: per site and survey occasion, whether a species was
detected (1), surveyed and not detected (0) or not surveyed (NA), with the effort (hours recorded)
of each cell beside it, as occupancy software (unmarked, RPresence, spOccupancy) reads them.

An occasion is a run of days on the recorder's clock (``1d``, ``7d``), the first starting on the
first date with recorded time in the selection (or on ``--from``), the last ending at the last
such date (or ``--to``; it may be shorter than the others). A site is surveyed in an occasion
when some of its recorded time falls in it and the selection (its hours of the day, say) keeps
that time. What counts as detected is either a confirmed call of the species (``labels``) or one
of the model's detections at or above the species' threshold that the user did not reject
(``detections``): the moments of :mod:`birdview.season.events`, as in the season's tables.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
import pandas as pd

from birdview.season import events
from birdview.season.events import scope
from birdview.store.project import Project, ProjectError
from birdview.store.selection import Selection

SOURCES = ("detections", "labels")
_OCCASION = re.compile(r"^\s*(\d+)\s*([dw])\s*$", re.IGNORECASE)


def parse_occasion(text: str) -> int:
    """``"1d"`` → 1, ``"7d"`` or ``"1w"`` → 7 (days)."""
    found = _OCCASION.match(text)
    if found is None or int(found.group(1)) < 1:
        raise ProjectError(f"--occasion {text!r}: expected a number of days such as 1d or 7d (or weeks: 1w)")
    return int(found.group(1)) * (7 if found.group(2).lower() == "w" else 1)


@dataclass(frozen=True)
class History:
    """A species' detection history: ``detected`` and ``hours`` are (sites, occasions)."""

    species: str
    source: str
    occasion_days: int
    sites: list[str]
    occasions: list[date]  # the first date of each
    last: date  # the study's last date
    detected: np.ndarray
    hours: np.ndarray
    #: Recordings at the sites left out for want of a start time.
    undated: int

    @property
    def surveyed(self) -> np.ndarray:
        return self.hours > 0

    def table(self) -> pd.DataFrame:
        """``site`` and one column per occasion, named by its first date: 1, 0, or NA (missing)."""
        cells = np.where(self.detected, 1, 0).astype(object)
        cells[~self.surveyed & ~self.detected] = pd.NA
        frame = pd.DataFrame(cells, columns=[d.isoformat() for d in self.occasions]).astype("Int64")
        frame.insert(0, "site", self.sites)
        return frame

    def effort_table(self) -> pd.DataFrame:
        """``site`` and one column per occasion: the hours recorded (0 where not surveyed)."""
        frame = pd.DataFrame(np.round(self.hours, 4), columns=[d.isoformat() for d in self.occasions])
        frame.insert(0, "site", self.sites)
        return frame


def check_species(project: Project, text: str, version: int | None = None) -> str:
    """The species code for ``text`` (a code, common or scientific name); a ProjectError names
    what is wrong: unknown, or not predicted by the model whose detections are asked for."""
    model = None if version is None else project.model(version)
    code = project.resolve_species(text) or (text if model is not None and text in model.classes else None)
    if code is None:
        raise ProjectError(f"unknown species {text!r}: give a species code, common or scientific name of the project")
    if model is not None and code not in model.classes:
        raise ProjectError(f"model {model.label} does not predict {code}: use --source labels for its confirmed calls")
    return code


def detection_history(
    project: Project,
    species: str,
    occasion_days: int,
    selection: Selection | None = None,
    source: str = "detections",
    version: int | None = None,
    threshold: float | None = None,
) -> History:
    """The species' detection history over the selection (see the module's docstring).
    ``version``: the model whose detections count (default: the active model); ``threshold``:
    instead of the species' own. A ProjectError says why there is none: no recorded time in the
    selection, or occasions longer than the study."""
    if source not in SOURCES:
        raise ProjectError(f"--source must be one of {', '.join(SOURCES)}, not {source!r}")
    if occasion_days < 1:
        raise ProjectError("an occasion is at least one day long")
    chosen = scope(project, selection)
    recorded = events.effort(chosen)
    recorded = recorded[recorded["seconds"] > 0]
    if recorded.empty:
        why = "no recording there has a start time" if chosen.undated and not chosen.recordings else "no recorded time"
        raise ProjectError(f"{why} in {chosen.selection.describe()}: no site was surveyed")
    if source == "detections":
        if version is None:
            model = project.active_model()
            if model is None:
                raise ProjectError("no model in the project: score the recordings, or use --source labels")
            version = model.version
        found = events.detections(project, version, chosen, [species], threshold)
        found = found[~found["rejected"]]
    else:
        found = events.confirmed(project, chosen, [species])
    first = chosen.selection.date_from or date.fromordinal(int(recorded["day"].min()))
    last = chosen.selection.date_to or date.fromordinal(int(recorded["day"].max()))
    days = (last - first).days + 1
    if occasion_days > days:
        raise ProjectError(
            f"an occasion of {occasion_days} days is longer than the study ({first} to {last}: "
            f"{days} day{'s' if days != 1 else ''})"
        )
    count = -(-days // occasion_days)
    sites = chosen.sites
    row = {name: i for i, name in enumerate(sites)}

    def cells(frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        occasion = (frame["day"].to_numpy(dtype=np.int64) - first.toordinal()) // occasion_days
        inside = (occasion >= 0) & (occasion < count)
        rows = np.array([row[s] for s in frame["site"]], dtype=np.int64)
        return rows[inside], occasion[inside], inside

    hours = np.zeros((len(sites), count))
    r, o, inside = cells(recorded)
    np.add.at(hours, (r, o), recorded["seconds"].to_numpy(dtype=np.float64)[inside] / 3600.0)
    detected = np.zeros((len(sites), count), dtype=bool)
    r, o, _ = cells(found)
    detected[r, o] = True
    occasions = [first + timedelta(days=k * occasion_days) for k in range(count)]
    return History(species, source, occasion_days, sites, occasions, last, detected, hours, len(chosen.undated))
