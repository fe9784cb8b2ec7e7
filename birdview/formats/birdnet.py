"""BirdNET-Analyzer results: its CSV (``Start (s),End (s),Scientific name,Common name,Confidence,File``)
or its Raven tables (read by the Raven reader)."""

from __future__ import annotations

import csv
from pathlib import Path

from birdview.formats import raven
from birdview.formats.labels import LabelFileError, TableLabel, check_times, number

REQUIRED = ("Start (s)", "End (s)", "Confidence")


def read(path: Path) -> list[TableLabel]:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise LabelFileError(f"{path}: cannot read ({exc})") from None
    first = text.split("\n", 1)[0]
    if "\t" in first and "Begin Time (s)" in first:
        return raven.read(path)
    rows = list(csv.reader(text.splitlines()))
    header = [h.strip() for h in rows[0]] if rows else []
    missing = [c for c in REQUIRED if c not in header]
    if missing:
        raise LabelFileError(f"{path}:1: not a BirdNET-Analyzer CSV (no {', '.join(missing)} column)")
    index = {name: i for i, name in enumerate(header)}
    labels = []
    for line, row in enumerate(rows[1:], start=2):
        if not any(c.strip() for c in row):
            continue
        if len(row) < len(header):
            raise LabelFileError(f"{path}:{line}: {len(row)} fields, the header has {len(header)}")
        cell = {name: row[i].strip() for name, i in index.items()}
        where = f"{path}:{line}"
        names = [cell[c] for c in ("Scientific name", "Common name") if cell.get(c)]
        if not names or names[0].lower() == "nocall":
            continue
        start, end = number(cell["Start (s)"], "Start (s)", where), number(cell["End (s)"], "End (s)", where)
        check_times(start, end, where)
        labels.append(
            TableLabel(
                start,
                end,
                None,
                None,
                names,
                score=number(cell["Confidence"], "Confidence", where, optional=True),
                recording=cell.get("File") or None,
                line=line,
                source=path,
            )
        )
    return labels


def write(path: Path, rows: list[dict]) -> Path:
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["Start (s)", "End (s)", "Scientific name", "Common name", "Confidence", "File", "Verdict"])
        for row in rows:
            writer.writerow(
                [
                    f"{row['start_s']:.3f}",
                    f"{row['end_s']:.3f}",
                    row.get("scientific") or row["species"],
                    row.get("common") or row["species"],
                    "" if row["score"] is None else f"{row['score']:.4f}",
                    row["path"],
                    row["status"],
                ]
            )
    return path
