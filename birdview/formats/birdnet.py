"""BirdNET-Analyzer results: its CSV (``Start (s),End (s),Scientific name,Common name,Confidence,File``)
or its Raven tables (read by the Raven reader)."""

from __future__ import annotations

import csv
from pathlib import Path

from birdview.formats import raven
from birdview.formats.labels import LabelFileError, TableLabel, check_times, gathered, number, read_table, score
from birdview.store.paths import atomic_write

REQUIRED = ("Start (s)", "End (s)", "Confidence")


def read(path: Path, problems: list[str] | None = None) -> list[TableLabel]:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise LabelFileError(f"{path}: cannot read ({exc})") from None
    first = text.split("\n", 1)[0]
    if "\t" in first and "Begin Time (s)" in first:
        return raven.read(path, problems=problems)
    _, rows = read_table(path, REQUIRED, "BirdNET-Analyzer CSV", exact=False, text=text)
    labels: list[TableLabel] = []
    found: list[str] = []
    for line, cell, where in rows:
        names = [cell[c] for c in ("Scientific name", "Common name") if cell.get(c)]
        if not names or names[0].lower() == "nocall":
            continue
        try:
            start, end = number(cell["Start (s)"], "Start (s)", where), number(cell["End (s)"], "End (s)", where)
            check_times(start, end, where)
            labels.append(
                TableLabel(
                    start,
                    end,
                    None,
                    None,
                    names,
                    score=score(cell["Confidence"], "Confidence", where),
                    recording=cell.get("File") or None,
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
