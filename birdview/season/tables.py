"""Detections per site and period: the season's summary table.

One row per (site, period, species): ``detections`` (the model's windows at or above the
species' threshold, less those the user rejected), ``confirmed`` (confirmed calls), ``rejected``
(the windows taken off), ``recorded_hours`` (the time recorded at the site in the period: the
effort) and ``per_hour`` (detections per recorded hour; empty where nothing was recorded).
Periods are on the recorder's clock: a date (``2024-05-01``), an hour of the day over all dates
(``05:00``, the hour from 05:00 to 06:00) or an ISO week (``2024-W18``). Every site and period
with recorded time has a row for every species counted, zeros included, so that a period without
detections can be told from one without recordings.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

import numpy as np
import pandas as pd

from birdview.season import events
from birdview.season.events import NO_SITE, Scope, scope
from birdview.store.project import Project
from birdview.store.selection import Selection

__all__ = ["BY", "COLUMNS", "NO_SITE", "detection_table", "parse_by", "period_labels"]

COLUMNS = ["site", "period", "species", "detections", "confirmed", "rejected", "recorded_hours", "per_hour"]
#: What a table can be by: the site and one period.
BY = {("site", "date"), ("site", "hour"), ("site", "week")}
PERIODS = ("date", "hour", "week")


def parse_by(by: str | Sequence[str]) -> tuple[str, str]:
    """``"site,week"`` or ``("site", "week")`` → ``("site", "week")``; ValueError names the choices."""
    parts = tuple(p.strip() for p in (by.split(",") if isinstance(by, str) else by))
    if parts not in BY:
        choices = ", ".join(sorted(",".join(b) for b in BY))
        raise ValueError(f"--by {','.join(parts)!r}: expected one of {choices}")
    return parts  # type: ignore[return-value]


def _week(ordinal: int) -> str:
    year, week, _ = date.fromordinal(ordinal).isocalendar()
    return f"{year}-W{week:02d}"


def period_labels(period: str, day: np.ndarray | pd.Series, hour: np.ndarray | pd.Series) -> np.ndarray:
    """The period of moments (day as a date ordinal, hour of the day) as text."""
    day, hour = np.asarray(day, dtype=np.int64), np.asarray(hour, dtype=np.int64)
    if period == "hour":
        names, where = np.array([f"{h:02d}:00" for h in range(24)], dtype=object), hour
    else:
        unique, where = np.unique(day, return_inverse=True)
        name = date.fromordinal if period == "date" else _week
        names = np.array([str(name(int(d))) for d in unique], dtype=object)
    return names[where] if len(where) else np.array([], dtype=object)


def _count(frame: pd.DataFrame, period: str, name: str) -> pd.DataFrame:
    keyed = pd.DataFrame(
        {
            "site": frame["site"],
            "period": period_labels(period, frame["day"], frame["hour"]),
            "species": frame["species"],
        }
    )
    return keyed.groupby(["site", "period", "species"]).size().rename(name).reset_index()


def table_from(
    found: pd.DataFrame, calls: pd.DataFrame, recorded: pd.DataFrame, period: str, species: Sequence[str] | None
) -> pd.DataFrame:
    """The table from the moments of :mod:`birdview.season.events` (detections with ``rejected``,
    confirmed calls, effort in seconds)."""
    hours = pd.DataFrame(
        {
            "site": recorded["site"],
            "period": period_labels(period, recorded["day"], recorded["hour"]),
            "recorded_hours": recorded["seconds"].to_numpy(dtype=np.float64) / 3600.0,
        }
    )
    hours = hours.groupby(["site", "period"], as_index=False)["recorded_hours"].sum()
    kept, dropped = found[~found["rejected"]], found[found["rejected"]]
    counts = [
        _count(kept, period, "detections"),
        _count(calls, period, "confirmed"),
        _count(dropped, period, "rejected"),
    ]
    codes = (
        list(dict.fromkeys(species))
        if species is not None
        else sorted(set().union(*(set(c["species"]) for c in counts)))
    )
    cells = hours[["site", "period"]]
    if species is None:
        # Also cells with calls but no recorded time (none, unless durations are wrong).
        cells = pd.concat([cells, *(c[["site", "period"]] for c in counts)]).drop_duplicates()
    grid = cells.merge(pd.DataFrame({"species": pd.Series(codes, dtype=object)}), how="cross")
    for count in counts:
        grid = grid.merge(count, on=["site", "period", "species"], how="left")
    grid = grid.merge(hours, on=["site", "period"], how="left")
    for name in ("detections", "confirmed", "rejected"):
        grid[name] = grid[name].fillna(0).astype(np.int64)
    grid["recorded_hours"] = grid["recorded_hours"].fillna(0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        per_hour = grid["detections"] / grid["recorded_hours"]
    grid["per_hour"] = per_hour.where(grid["recorded_hours"] > 0)
    grid["last"] = grid["site"] == NO_SITE  # recordings without a site after the sites
    return grid.sort_values(["last", "site", "period", "species"], ignore_index=True)[COLUMNS]


def detection_table(
    project: Project,
    version: int | None,
    selection: Selection | None = None,
    by: str | Sequence[str] = ("site", "date"),
    species: Sequence[str] | None = None,
    threshold: float | None = None,
) -> pd.DataFrame:
    """One row per (site, period, species) of the recordings the selection keeps (see the module's
    docstring for the columns). ``version``: the model whose detections are counted (None: only
    confirmed calls); ``species``: those codes (default: every species with a detection or a
    confirmed call in the selection); ``threshold``: one for all species (default: each species'
    own, else 0.5).

    ``attrs`` says what was left out: ``undated`` (recordings without a start time, which cannot
    be placed in a period), ``unscored`` (recordings the model has not scored); and ``thresholds``
    (per species counted), ``selection`` (the filter in words), ``recorded_hours`` (in all) and
    ``recordings`` (those counted)."""
    _, period = parse_by(by)
    chosen = scope(project, selection)
    found = _detections(project, version, chosen, species, threshold)
    calls = events.confirmed(project, chosen, species)
    recorded = events.effort(chosen)
    table = table_from(found, calls, recorded, period, species)
    table.attrs.update(attributes(project, version, chosen, table["species"].unique(), threshold))
    table.attrs["recorded_hours"] = float(recorded["seconds"].sum()) / 3600.0
    table.attrs["recordings"] = len(chosen.recordings)
    return table


def _detections(
    project: Project, version: int | None, chosen: Scope, species: Sequence[str] | None, threshold: float | None
) -> pd.DataFrame:
    if version is None:
        return pd.DataFrame({"site": [], "day": [], "hour": [], "species": [], "rejected": pd.Series(dtype=bool)})
    model = project.model(version)
    if species is not None:
        species = [code for code in species if code in model.classes]
    return events.detections(project, version, chosen, species, threshold)


def attributes(
    project: Project, version: int | None, chosen: Scope, codes: Sequence[str], threshold: float | None
) -> dict:
    return {
        "undated": len(chosen.undated),
        "unscored": 0 if version is None else len(events.unscored(project, version, chosen)),
        "thresholds": events.species_cuts(project, list(codes), threshold),
        "selection": chosen.selection.describe(),
    }
