"""Raven Pro selection tables (tab-separated), including BirdNET-Analyzer's Raven output."""

from __future__ import annotations

import csv
from pathlib import Path

from birdview.formats.labels import LabelFileError, TableLabel, check_times, decode_name, number, read_table

REQUIRED = ("Begin Time (s)", "End Time (s)")
SPECIES_COLUMNS = ("Species", "Species Code", "Annotation", "Label", "Class", "Common Name", "label", "species")
IGNORED_NAMES = {"", "nocall"}


def read(path: Path, label_column: str | None = None) -> list[TableLabel]:
    path = Path(path)
    header, rows = read_table(path, REQUIRED, "Raven selection table", delimiter="\t")
    if label_column is not None and label_column not in header:
        raise LabelFileError(f"{path}:1: no column {label_column!r}; columns are {', '.join(header)}")
    name_columns = [label_column] if label_column else [c for c in SPECIES_COLUMNS if c in header]
    labels, seen_selections = [], set()
    for line, cell, where in rows:
        selection = cell.get("Selection")
        if selection and "View" in cell and selection in seen_selections:
            continue  # the same selection shown in another view (e.g. Waveform 1)
        seen_selections.add(selection)
        names = [cell[c] for c in name_columns if cell.get(c)]
        if names and names[0].lower() in IGNORED_NAMES:
            continue
        kind = cell.get("Kind") or "call"
        if names and "Kind" not in cell:
            names[0], kind = decode_name(names[0])
        begin = number(cell["Begin Time (s)"], "Begin Time (s)", where)
        end = number(cell["End Time (s)"], "End Time (s)", where)
        offset = number(cell.get("File Offset (s)"), "File Offset (s)", where, optional=True)
        if offset is not None:
            begin, end = offset, offset + (end - begin)
        check_times(begin, end, where)
        labels.append(
            TableLabel(
                start_s=begin,
                end_s=end,
                low_hz=number(cell.get("Low Freq (Hz)"), "Low Freq (Hz)", where, optional=True),
                high_hz=number(cell.get("High Freq (Hz)"), "High Freq (Hz)", where, optional=True),
                names=names,
                kind=kind,
                status=cell.get("Status") or None,
                score=number(cell.get("Confidence", cell.get("Score")), "Confidence", where, optional=True),
                recording=cell.get("Begin Path") or cell.get("Begin File") or None,
                line=line,
                source=path,
            )
        )
    return labels


HEADER = [
    "Selection",
    "View",
    "Channel",
    "Begin Time (s)",
    "End Time (s)",
    "Low Freq (Hz)",
    "High Freq (Hz)",
    "Species",
    "Kind",
    "Status",
    "Score",
    "Begin Path",
    "File Offset (s)",
]


def write(path: Path, rows: list[dict]) -> Path:
    """rows: dicts with the HEADER's keys (Selection and View are filled in here)."""
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, delimiter="\t", lineterminator="\n")
        writer.writerow(HEADER)
        for number_, row in enumerate(rows, start=1):
            writer.writerow([number_, "Spectrogram 1", row.get("Channel", 1)] + [row.get(c, "") for c in HEADER[3:]])
    return path
