"""Recording start times parsed from the file names autonomous recorders write.

AudioMoth: ``20240521_053000.WAV``; Song Meter: ``SITE_20240521_053000.wav`` (optionally with a
``$`` separator or milliseconds); others: ``2024-05-21_05-30-00``, ``20240521T053000``;
old AudioMoth firmware: eight hex digits of Unix time (``5A8B3C4D.WAV``).
"""

from __future__ import annotations

import re
from datetime import datetime, timezone
from pathlib import Path

_DATE_TIME = re.compile(
    r"(?<!\d)(?P<y>(?:19|20)\d\d)-?(?P<mo>[01]\d)-?(?P<d>[0-3]\d)"
    r"[_T$\- ]?(?P<h>[0-2]\d)[-:]?(?P<mi>[0-5]\d)[-:]?(?P<s>[0-5]\d)(?!\d)"
)
_HEX_UNIX = re.compile(r"^(?P<hex>[0-9A-Fa-f]{8})$")


def parse_start_time(path: str | Path) -> datetime | None:
    """Return the recording's start time encoded in its file name, or None.

    Times are naive (recorders usually write local or UTC time without saying which);
    hexadecimal Unix times are returned in UTC.
    """
    stem = Path(path).stem
    match = _DATE_TIME.search(stem)
    if match:
        try:
            return datetime(
                int(match["y"]),
                int(match["mo"]),
                int(match["d"]),
                int(match["h"]),
                int(match["mi"]),
                int(match["s"]),
            )
        except ValueError:
            return None
    match = _HEX_UNIX.match(stem)
    if match:
        seconds = int(match["hex"], 16)
        # Only accept plausible recorder dates (2015-2040) so that random hex names are ignored.
        if 1_420_070_400 <= seconds <= 2_208_988_800:
            return datetime.fromtimestamp(seconds, tz=timezone.utc).replace(tzinfo=None)
    return None


def site_prefix(path: str | Path) -> str | None:
    """The recorder's site (or prefix) written before the date and time, as Song Meters name
    files (``SITE_20240521_053000.wav`` → ``SITE``); None where the name has no such prefix."""
    stem = Path(path).stem
    match = _DATE_TIME.search(stem)
    if match is None:
        return None
    prefix = stem[: match.start()].rstrip("_$- ")
    return prefix or None
