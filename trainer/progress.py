"""``--progress json``: one JSON object a line on stdout, for the app (or a script) to follow.

Lightning runs report through JsonProgress (lightning_progress.py); this module imports no Lightning."""

from __future__ import annotations

import json
import sys
from typing import Any, TextIO


def emit(record: dict[str, Any], stream: TextIO | None = None) -> None:
    stream = stream or sys.stdout
    stream.write(json.dumps(record, default=float) + "\n")
    stream.flush()
