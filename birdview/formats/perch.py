"""The Perch / hoplite annotation CSV: ``recording,start_offset_s,end_offset_s,label,label_type``.
``label_type`` positive / negative / uncertain is how hard negatives travel between tools."""

from __future__ import annotations

import csv
from pathlib import Path

from birdview.formats.labels import LabelFileError, TableLabel, check_times, gathered, number, read_table
from birdview.store.paths import atomic_write

HEADER = ["recording", "start_offset_s", "end_offset_s", "label", "label_type"]
KIND_OF = {"positive": "call", "negative": "hard_negative", "uncertain": "uncertain"}
TYPE_OF = {kind: label_type for label_type, kind in KIND_OF.items()}


def read(path: Path, problems: list[str] | None = None) -> list[TableLabel]:
    path = Path(path)
    _, rows = read_table(path, tuple(HEADER), "Perch annotation CSV")
    labels: list[TableLabel] = []
    found: list[str] = []
    for line, cell, where in rows:
        try:
            label_type = cell["label_type"].lower()
            if label_type not in KIND_OF:
                raise LabelFileError(
                    f"{where}: label_type {cell['label_type']!r} is not positive, negative or uncertain"
                )
            start = number(cell["start_offset_s"], "start_offset_s", where)
            end = number(cell["end_offset_s"], "end_offset_s", where)
            check_times(start, end, where)
            labels.append(
                TableLabel(
                    start,
                    end,
                    None,
                    None,
                    [cell["label"]] if cell["label"] else [],
                    KIND_OF[label_type],
                    recording=cell["recording"],
                    line=line,
                    source=path,
                )
            )
        except LabelFileError as exc:
            found += exc.problems
    return gathered(labels, found, problems)


def write(path: Path, rows: list[dict]) -> Path:
    """Written whole or not at all."""
    with atomic_write(path) as temp, open(temp, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(HEADER)
        for row in rows:
            writer.writerow(
                [
                    row["path"],
                    f"{row['start_s']:.6f}",
                    f"{row['end_s']:.6f}",
                    row["species"] or "",
                    TYPE_OF[row["kind"]],
                ]
            )
    return path
