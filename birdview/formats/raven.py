"""Raven Pro selection tables (tab-separated), including BirdNET-Analyzer's Raven output."""

from __future__ import annotations

import csv
from pathlib import Path

from birdview.audio.measure import RAVEN_COLUMNS
from birdview.formats.labels import (
    LabelFileError,
    TableLabel,
    check_band,
    check_times,
    decode_name,
    gathered,
    number,
    read_table,
    score,
)
from birdview.store.paths import atomic_write

REQUIRED = ("Begin Time (s)", "End Time (s)")
SPECIES_COLUMNS = ("Species", "Species Code", "Annotation", "Label", "Class", "Common Name", "label", "species")
IGNORED_NAMES = {"", "nocall"}


def _channel(value: object, where: str) -> int | None:
    """Raven's ``Channel`` (1 the first) as a channel from 0; None where the cell is empty."""
    channel = number(value, "Channel", where, optional=True)
    if channel is None:
        return None
    if channel != int(channel) or channel < 1:
        raise LabelFileError(f"{where}: Channel {value} is not a channel number (1, 2, ...)")
    return int(channel) - 1


def read(path: Path, label_column: str | None = None, problems: list[str] | None = None) -> list[TableLabel]:
    """The table's labels. Raven lists a selection once per view (Spectrogram 1, Waveform 1...):
    a row that repeats a Selection number with the same times, frequencies and species is that
    selection in another view and is left out; one that repeats it with other content is a label
    of its own and is imported with a warning. Every malformed row is named (one refusal)."""
    path = Path(path)
    header, rows = read_table(path, REQUIRED, "Raven selection table", delimiter="\t")
    if label_column is not None and label_column not in header:
        raise LabelFileError(f"{path}:1: no column {label_column!r}; columns are {', '.join(header)}")
    name_columns = [label_column] if label_column else [c for c in SPECIES_COLUMNS if c in header]
    score_column = "Confidence" if "Confidence" in header else "Score" if "Score" in header else None
    has_offset = "File Offset (s)" in header
    labels: list[TableLabel] = []
    found: list[str] = []
    first_of: dict[str, tuple[int, tuple]] = {}  # selection number: its first line and content
    for line, cell, where in rows:
        try:
            names = [cell[c] for c in name_columns if cell.get(c)]
            begin = number(cell["Begin Time (s)"], "Begin Time (s)", where)
            end = number(cell["End Time (s)"], "End Time (s)", where)
            if has_offset:
                offset = number(cell["File Offset (s)"], "File Offset (s)", where, optional=True)
                if offset is not None:
                    begin, end = offset, offset + (end - begin)
            low = number(cell.get("Low Freq (Hz)"), "Low Freq (Hz)", where, optional=True)
            high = number(cell.get("High Freq (Hz)"), "High Freq (Hz)", where, optional=True)
            warning = None
            recording = cell.get("Begin Path") or cell.get("Begin File") or None
            channel = _channel(cell.get("Channel"), where)
            selection = cell.get("Selection")
            if selection:
                content = (begin, end, low, high, tuple(names), recording, channel)
                first = first_of.setdefault(selection, (line, content))
                if first[0] != line:
                    if first[1] == content:
                        continue  # the same selection shown in another view (e.g. Waveform 1)
                    warning = (
                        f"{where}: selection {selection} is also on line {first[0]} with other times, frequencies "
                        "or species; imported as a label of its own"
                    )
            if names and names[0].lower() in IGNORED_NAMES:
                continue
            kind = cell.get("Kind") or "call"
            if names and "Kind" not in cell:
                names[0], kind = decode_name(names[0])
            if end < begin:
                check_times(begin, end, where)
            if low is not None and high is not None and low > high:
                check_band(low, high, where, ("Low Freq (Hz)", "High Freq (Hz)"))
            labels.append(
                TableLabel(
                    start_s=begin,
                    end_s=end,
                    low_hz=low,
                    high_hz=high,
                    names=names,
                    kind=kind,
                    status=cell.get("Status") or None,
                    score=score(cell[score_column], score_column, where) if score_column else None,
                    recording=recording,
                    line=line,
                    source=path,
                    warning=warning,
                    channel=channel,
                )
            )
        except LabelFileError as exc:
            found += exc.problems
    return gathered(labels, found, problems)


HEADER = [
    "Selection",
    "View",
    "Channel",
    "Begin Time (s)",
    "End Time (s)",
    "Low Freq (Hz)",
    "High Freq (Hz)",
    "Species",
    "Common Name",
    "Kind",
    "Status",
    "Score",
    "Begin Path",
    "File Offset (s)",
]


#: Raven Pro's measurement columns (see :mod:`birdview.audio.measure`), written after HEADER's.
MEASUREMENT_COLUMNS = list(RAVEN_COLUMNS)


def write(path: Path, rows: list[dict], measurements: bool = False) -> Path:
    """rows: dicts with the HEADER's keys (Selection and View are filled in here) and, with
    ``measurements``, the MEASUREMENT_COLUMNS' (formatted cells; a missing one is left empty),
    written after HEADER's. Written whole or not at all."""
    header = HEADER + MEASUREMENT_COLUMNS if measurements else HEADER
    with atomic_write(path) as temp, open(temp, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, delimiter="\t", lineterminator="\n")
        writer.writerow(header)
        for number_, row in enumerate(rows, start=1):
            writer.writerow([number_, "Spectrogram 1", row.get("Channel", 1)] + [row.get(c, "") for c in header[3:]])
    return path
