"""``--progress json``: one JSON object a line on stdout, for the app (or a script) to follow.

Lightning runs report through JsonProgress (lightning_progress.py); this module imports no Lightning."""

from __future__ import annotations

import json
import math
import numbers
import sys
from typing import Any, TextIO


def _plain(value: Any) -> Any:
    """JSON's own types: numpy and torch scalars become numbers, NaN and infinity become null."""
    if isinstance(value, dict):
        return {str(key): _plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    if value is None or isinstance(value, (str, bool, int)):
        return value
    if isinstance(value, numbers.Integral):  # numpy integers
        return int(value)
    try:
        number = float(value)
    except (TypeError, ValueError):
        return str(value)
    return number if math.isfinite(number) else None


def json_line(record: dict[str, Any]) -> str:
    """Strict JSON (no NaN, which many readers reject): a metric that is undefined is null."""
    return json.dumps(_plain(record), allow_nan=False)


def emit(record: dict[str, Any], stream: TextIO | None = None) -> None:
    stream = stream or sys.stdout
    stream.write(json_line(record) + "\n")
    stream.flush()
