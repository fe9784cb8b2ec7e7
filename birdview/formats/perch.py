"""The Perch / hoplite annotation CSV: ``recording,start_offset_s,end_offset_s,label,label_type``.
``label_type`` positive / negative / uncertain is how hard negatives travel between tools."""

from __future__ import annotations

import csv
from pathlib import Path

from birdview.formats.labels import LabelFileError, TableLabel, check_times, number

HEADER = ["recording", "start_offset_s", "end_offset_s", "label", "label_type"]
KIND_OF = {"positive": "call", "negative": "hard_negative", "uncertain": "uncertain"}
TYPE_OF = {kind: label_type for label_type, kind in KIND_OF.items()}


def read(path: Path) -> list[TableLabel]:
    path = Path(path)
    try:
        rows = list(csv.reader(path.read_text(encoding="utf-8-sig").splitlines()))
    except (OSError, UnicodeDecodeError) as exc:
        raise LabelFileError(f"{path}: cannot read ({exc})") from None
    header = [h.strip() for h in rows[0]] if rows else []
    missing = [c for c in HEADER if c not in header]
    if missing:
        raise LabelFileError(f"{path}:1: not a Perch annotation CSV (no {', '.join(missing)} column)")
    index = {name: i for i, name in enumerate(header)}
    labels = []
    for line, row in enumerate(rows[1:], start=2):
        if not any(c.strip() for c in row):
            continue
        if len(row) != len(header):
            raise LabelFileError(f"{path}:{line}: {len(row)} fields, the header has {len(header)}")
        cell = {name: row[i].strip() for name, i in index.items()}
        where = f"{path}:{line}"
        label_type = cell["label_type"].lower()
        if label_type not in KIND_OF:
            raise LabelFileError(f"{where}: label_type {cell['label_type']!r} is not positive, negative or uncertain")
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
    return labels


def write(path: Path, rows: list[dict]) -> Path:
    with open(path, "w", newline="", encoding="utf-8") as handle:
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
