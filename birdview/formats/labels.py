"""What every reader produces and every writer consumes."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


class LabelFileError(ValueError):
    """A malformed label file; the message names the file and line."""


@dataclass
class TableLabel:
    start_s: float
    end_s: float
    low_hz: float | None
    high_hz: float | None
    #: Ways the table names the species (code, common or scientific name), best first; empty: none.
    names: list[str]
    kind: str = "call"
    status: str | None = None
    score: float | None = None
    #: The recording the table names (path or file name), if it names one.
    recording: str | None = None
    line: int = 0
    source: Path = field(default_factory=Path)

    @property
    def where(self) -> str:
        return f"{self.source}:{self.line}"


def number(value: object, column: str, where: str, optional: bool = False) -> float | None:
    text = "" if value is None else str(value).strip()
    if text == "" or text.lower() == "nan":
        if optional:
            return None
        raise LabelFileError(f"{where}: {column} is empty")
    try:
        return float(text)
    except ValueError:
        raise LabelFileError(f"{where}: {column} {text!r} is not a number") from None


def check_times(start: float, end: float, where: str) -> None:
    if start < 0 or end < start:
        raise LabelFileError(f"{where}: times {start} to {end} s are not a valid span")


KIND_MARKERS = {"hard_negative": "NOT ", "uncertain": "? "}


def encode_name(name: str | None, kind: str) -> str:
    """A label text that keeps the kind for tools with one text field (Audacity):
    ``NOT code`` for a hard negative, ``? code`` for uncertain."""
    return KIND_MARKERS.get(kind, "") + (name or "")


def decode_name(text: str) -> tuple[str, str]:
    for kind, marker in KIND_MARKERS.items():
        if text.startswith(marker):
            return text[len(marker) :].strip(), kind
    return text.strip(), "call"


def read_table(
    path: Path, required: tuple[str, ...], what: str, delimiter: str = ",", exact: bool = True, text: str | None = None
) -> tuple[list[str], list[tuple[int, dict[str, str], str]]]:
    """The header and the non-empty rows (line number, cell by column name, ``file:line``) of a
    delimited table, with the checks every format shares: readable, its columns, field counts."""
    import csv

    path = Path(path)
    if text is None:
        try:
            text = path.read_text(encoding="utf-8-sig")
        except (OSError, UnicodeDecodeError) as exc:
            raise LabelFileError(f"{path}: cannot read ({exc})") from None
    rows = list(csv.reader(text.splitlines(), delimiter=delimiter))
    header = [h.strip() for h in rows[0]] if rows else []
    missing = [c for c in required if c not in header]
    if missing:
        raise LabelFileError(f"{path}:1: not a {what} (no {', '.join(missing)} column)")
    found = []
    for line, row in enumerate(rows[1:], start=2):
        if not any(cell.strip() for cell in row):
            continue
        if len(row) < len(header) or (exact and len(row) != len(header)):
            raise LabelFileError(f"{path}:{line}: {len(row)} fields, the header has {len(header)}")
        found.append((line, {name: row[i].strip() for i, name in enumerate(header)}, f"{path}:{line}"))
    return header, found
