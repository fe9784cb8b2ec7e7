"""Moments in recordings as the tables, the status bar and the axes show them (no Qt).

One convention everywhere: the wall-clock date and time (``2024-05-21 05:30:12.0``) where the
recording's start is known (parsed from its file name), else the offset from the file start
(``0:00:12.0``); the offset is always in the tooltip. A recording is anything with a
``start_time``: a datetime (:class:`~birdview.audio.recording.RecordingInfo`), an ISO text (the
project's ``RecordingRow``) or None.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta

from birdview.spectrogram.ticks import format_time

#: Tables show times to a tenth of a second.
TABLE_STEP = 0.1
#: What a table shows for a date or site that is not known.
UNKNOWN = "—"


def start_of(recording: object) -> datetime | None:
    """The recording's start time, or None when it is not known (or cannot be read)."""
    start = getattr(recording, "start_time", None)
    if isinstance(start, datetime):
        return start
    if isinstance(start, str) and start:
        try:
            return datetime.fromisoformat(start)
        except ValueError:
            return None
    return None


def _decimals(step: float) -> int:
    return 0 if step >= 1 else min(6, math.ceil(-math.log10(step) - 1e-9))


def moment(recording: object, offset_s: float, step: float = TABLE_STEP) -> datetime | None:
    """The wall-clock moment ``offset_s`` into the recording, rounded to ``step`` (a rounding that
    carries into the next minute, hour or day does so); None without a start time."""
    start = start_of(recording)
    if start is None or not math.isfinite(offset_s):
        return None
    unit_us = 10 ** (6 - _decimals(step))
    exact = start + timedelta(seconds=offset_s)
    rounded_us = (exact.microsecond + unit_us // 2) // unit_us * unit_us
    return exact.replace(microsecond=0) + timedelta(microseconds=rounded_us)


def wall_clock(recording: object, offset_s: float, step: float = TABLE_STEP) -> tuple[str, str]:
    """``(text, tooltip)`` for a moment ``offset_s`` seconds into ``recording``: the text is the
    wall-clock date and time where the start is known, else the offset from the file start; the
    tooltip gives the offset (and says why there is no clock time)."""
    offset = format_time(offset_s, step)
    when = moment(recording, offset_s, step)
    if when is None:
        why = "no start time in its file name" if math.isfinite(offset_s) else "no time"
        return offset, f"{offset} from the start of the file ({why})"
    decimals = _decimals(step)
    text = when.strftime("%Y-%m-%d %H:%M:%S")
    if decimals:
        text += f".{when.microsecond // 10 ** (6 - decimals):0{decimals}d}"
    return text, f"{offset} from the start of the file"


def date_text(recording: object, offset_s: float = 0.0) -> str:
    """The wall-clock date ``offset_s`` into the recording (``2024-05-21``), :data:`UNKNOWN`
    without a start time."""
    when = moment(recording, offset_s)
    return when.strftime("%Y-%m-%d") if when is not None else UNKNOWN
