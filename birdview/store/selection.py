"""Which recordings, and which moments in them, a table, export or summary covers: sites, a date
range and a time of day (``--site``, ``--from``, ``--to``, ``--hours 04-09`` on the command line,
the filter boxes in the window).

Dates and hours are on the recorder's clock (the start time in the file name), as every table
shows them. A recording without a start time cannot be placed in a date range or an hour, so a
date or hour filter leaves it out (and :func:`Selection.undated` counts them, to say so).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

import numpy as np


def start_of(recording: object) -> datetime | None:
    """The recording's start time (a datetime or ISO text), None when it is not known."""
    start = getattr(recording, "start_time", None)
    if isinstance(start, str) and start:
        try:
            return datetime.fromisoformat(start)
        except ValueError:
            return None
    return start if isinstance(start, datetime) else None


class SelectionError(ValueError):
    """A filter that cannot be read, or that matches nothing: the message says which and why."""


_HOURS = re.compile(r"^\s*(\d{1,2})(?::(\d{2}))?\s*-\s*(\d{1,2})(?::(\d{2}))?\s*$")


def _minutes(hour: str, minute: str | None, text: str) -> int:
    value = int(hour) * 60 + int(minute or 0)
    if int(hour) > 24 or int(minute or 0) > 59 or value > 24 * 60:
        raise SelectionError(f"--hours {text!r}: {hour}:{minute or '00'} is not a time of day")
    return value


def parse_hours(text: str) -> tuple[int, int]:
    """``"04-09"`` → minutes of the day (240, 540): from 04:00 up to 09:00. ``"22-04"`` wraps past
    midnight; ``"05:30-07"`` takes minutes."""
    found = _HOURS.match(text)
    if found is None:
        raise SelectionError(f"--hours {text!r}: expected FROM-TO in hours of the day, e.g. 04-09 or 05:30-07:00")
    first = _minutes(found.group(1), found.group(2), text)
    last = _minutes(found.group(3), found.group(4), text)
    if first == last:
        raise SelectionError(f"--hours {text!r}: the period is empty (it starts where it ends)")
    return first, last


def parse_date(text: str, option: str) -> date:
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise SelectionError(f"{option} {text!r}: expected a date as YYYY-MM-DD, e.g. 2024-05-01") from None


def _clock(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


@dataclass(frozen=True)
class Selection:
    sites: tuple[str, ...] = ()
    date_from: date | None = None
    date_to: date | None = None  # inclusive
    hours: tuple[int, int] | None = None  # minutes of the day, end exclusive; may wrap past midnight

    @classmethod
    def parse(
        cls,
        sites: str | Sequence[str] | None = None,
        date_from: str | None = None,
        date_to: str | None = None,
        hours: str | None = None,
    ) -> Selection:
        """From the options' text; ``sites`` may be one name, a comma-separated list or a list."""
        if isinstance(sites, str):
            sites = [sites]
        names = tuple(dict.fromkeys(n.strip() for s in sites or () for n in s.split(",") if n.strip()))
        first = parse_date(date_from, "--from") if date_from else None
        last = parse_date(date_to, "--to") if date_to else None
        if first and last and last < first:
            raise SelectionError(f"--from {first} is after --to {last}: no day is in between")
        return cls(names, first, last, parse_hours(hours) if hours else None)

    @property
    def everything(self) -> bool:
        return not self.sites and self.date_from is None and self.date_to is None and self.hours is None

    @property
    def needs_clock(self) -> bool:
        return self.date_from is not None or self.date_to is not None or self.hours is not None

    def describe(self) -> str:
        """``site A, B; 2024-05-01 to 2024-05-31; 04:00-09:00`` (``all recordings`` when none)."""
        parts = []
        if self.sites:
            parts.append("site " + ", ".join(self.sites))
        if self.date_from or self.date_to:
            parts.append(f"{self.date_from or 'the start'} to {self.date_to or 'the end'}")
        if self.hours:
            parts.append(f"{_clock(self.hours[0])}-{_clock(self.hours[1])}")
        return "; ".join(parts) or "all recordings"

    # -- recordings ----------------------------------------------------------------------------

    def _site_kept(self, recording: object) -> bool:
        return not self.sites or getattr(recording, "site", None) in self.sites

    def _span_kept(self, recording: object) -> bool:
        if not self.needs_clock:
            return True
        start = start_of(recording)
        if start is None:
            return False
        end = start + timedelta(seconds=float(getattr(recording, "duration_s", 0.0) or 0.0))
        if self.date_from is not None and end.date() < self.date_from:
            return False
        return not (self.date_to is not None and start.date() > self.date_to)

    def recordings(self, recordings: Iterable[object]) -> list:
        """The recordings at the sites with some time in the date range (the hours are judged
        per moment: :meth:`mask`)."""
        return [r for r in recordings if self._site_kept(r) and self._span_kept(r)]

    def undated(self, recordings: Iterable[object]) -> int:
        """Recordings at the sites left out only because they have no start time."""
        if not self.needs_clock:
            return 0
        return sum(1 for r in recordings if self._site_kept(r) and start_of(r) is None)

    # -- moments -------------------------------------------------------------------------------

    def mask(self, recording: object, offsets_s: np.ndarray | Sequence[float]) -> np.ndarray:
        """Which moments (seconds from the recording's start) the selection keeps."""
        offsets = np.asarray(offsets_s, dtype=np.float64)
        if not self._site_kept(recording):
            return np.zeros(offsets.shape, dtype=bool)
        if not self.needs_clock:
            return np.ones(offsets.shape, dtype=bool)
        start = start_of(recording)
        if start is None:
            return np.zeros(offsets.shape, dtype=bool)
        midnight = datetime.combine(start.date(), datetime.min.time(), tzinfo=start.tzinfo)
        since_midnight = (start - midnight).total_seconds() + offsets
        day = np.floor(since_midnight / 86400.0)
        kept = np.ones(offsets.shape, dtype=bool)
        ordinal = start.date().toordinal() + day
        if self.date_from is not None:
            kept &= ordinal >= self.date_from.toordinal()
        if self.date_to is not None:
            kept &= ordinal <= self.date_to.toordinal()
        if self.hours is not None:
            minute = (since_midnight - day * 86400.0) / 60.0
            first, last = self.hours
            kept &= (minute >= first) & (minute < last) if first < last else (minute >= first) | (minute < last)
        return kept

    def keeps(self, recording: object, offset_s: float) -> bool:
        return bool(self.mask(recording, [offset_s])[0])

    def check(self, recordings: Sequence[object], known_sites: Iterable[str] = ()) -> list:
        """The selected recordings; :class:`SelectionError` naming the filter when none is left."""
        recordings = list(recordings)
        chosen = self.recordings(recordings)
        if chosen or self.everything:
            return chosen
        if not recordings:
            raise SelectionError("the project has no recordings")
        sites = sorted({s for s in known_sites} | {r.site for r in recordings if getattr(r, "site", None)})
        at_sites = [r for r in recordings if self._site_kept(r)]
        if not at_sites:
            known = ", ".join(sites) if sites else "none: set them with birdview add --site"
            raise SelectionError(f"no recordings at site {', '.join(self.sites)} (the project's sites: {known})")
        dated = [start_of(r) for r in at_sites if start_of(r) is not None]
        if not dated:
            raise SelectionError(
                f"no recording {'there ' if self.sites else ''}has a start time (in its file name), "
                "so none can be chosen by date or hour"
            )
        raise SelectionError(
            f"no recordings in {self.describe()}: the recordings {'there ' if self.sites else ''}"
            f"run from {min(dated).date()} to {max(dated).date()}"
        )
