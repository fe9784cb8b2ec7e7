"""Recorder sites: where each one is (latitude, longitude) and its time zone.

A recording belongs to the site given when it was added, else to the prefix of its file name
(Song Meter's ``SITE_20240521_053000.wav``). A site's place lets BirdNET's geo model say which
species to expect there.
"""

from __future__ import annotations

import math
import sqlite3
import unicodedata
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from birdview.audio.filenames import site_prefix
from birdview.store.errors import ProjectError
from birdview.store.project import Project, RecordingRow


@dataclass(frozen=True)
class Site:
    name: str
    latitude: float | None = None
    longitude: float | None = None
    timezone: str | None = None

    @property
    def has_place(self) -> bool:
        return self.latitude is not None and self.longitude is not None


def _check_name(name: str) -> str:
    text = name.strip()
    if not text or any(unicodedata.category(c) == "Cc" for c in text):
        raise ProjectError(f"site {name!r}: a site needs a visible name without tabs or line breaks")
    return text


def _check_degrees(site: str, what: str, value: float | None, limit: int, example: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ProjectError(f"site {site!r}: {what} {value!r} is not a number; give degrees from -{limit} to {limit}")
    if not -limit <= value <= limit:
        raise ProjectError(f"site {site!r}: {what} {value:g} is outside -{limit}..{limit} (degrees, e.g. {example})")
    return float(value)


def _check_timezone(site: str, timezone: str | None) -> str | None:
    if timezone is None:
        return None
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise ProjectError(
            f"site {site!r}: time zone {timezone!r} is unknown; give an IANA name such as Europe/Amsterdam or UTC"
        ) from None
    return timezone


def set_site(
    project: Project,
    name: str,
    latitude: float | None = None,
    longitude: float | None = None,
    timezone: str | None = None,
) -> Site:
    """Add or replace a site with exactly these values (None leaves a value unknown). Everything
    is checked before anything is written: a refused site leaves the project as it was."""
    name = _check_name(name)
    latitude = _check_degrees(name, "latitude", latitude, 90, "52.1 north, -33.9 south")
    longitude = _check_degrees(name, "longitude", longitude, 180, "5.2 east, -71.5 west")
    if (latitude is None) != (longitude is None):
        raise ProjectError(f"site {name!r}: give latitude and longitude together, or neither")
    new = Site(name, latitude, longitude, _check_timezone(name, timezone))
    with project._transaction():
        project.db.execute(
            "INSERT INTO sites(name, latitude, longitude, timezone) VALUES (?, ?, ?, ?) ON CONFLICT(name) DO UPDATE "
            "SET latitude = excluded.latitude, longitude = excluded.longitude, timezone = excluded.timezone",
            (new.name, new.latitude, new.longitude, new.timezone),
        )
    return new


_SELECT = "SELECT name, latitude, longitude, timezone FROM sites"


def _read(project: Project, where: str = "", parameters: tuple = ()) -> list[Site]:
    try:
        return [Site(*row) for row in project.db.execute(f"{_SELECT} {where} ORDER BY name", parameters)]
    except sqlite3.DatabaseError as exc:
        raise project._database_error(exc) from None


def sites(project: Project) -> list[Site]:
    """The sites given a place or time zone (not those only named by recordings)."""
    return _read(project)


def site(project: Project, name: str) -> Site | None:
    found = _read(project, "WHERE name = ?", (name,))
    return found[0] if found else None


def site_of(project: Project, recording: RecordingRow | int) -> str | None:
    """The recording's site as given when it was added, else its file name's prefix."""
    if isinstance(recording, int):
        recording = project.recording(recording)
    return recording.site or site_prefix(recording.name)


def recordings_per_site(project: Project) -> dict[str, int]:
    counts: dict[str, int] = {}
    for recording in project.recordings():
        name = site_of(project, recording)
        if name is not None:
            counts[name] = counts.get(name, 0) + 1
    return counts


def week_of(moment: datetime) -> int:
    """BirdNET's week of the year: 1 to 48, four to a month (days 1-7, 8-14, 15-21, 22-end)."""
    return (moment.month - 1) * 4 + min((moment.day - 1) // 7, 3) + 1


def recording_week(recording: RecordingRow) -> int | None:
    """The BirdNET week the recording started in; None without a start time."""
    if not recording.start_time:
        return None
    try:
        return week_of(datetime.fromisoformat(recording.start_time))
    except ValueError:
        return None
