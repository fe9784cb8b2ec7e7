"""What every reader produces and every writer consumes."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

#: How many problems a refusal lists before "and N more".
MAX_LISTED = 10


class LabelFileError(ValueError):
    """A malformed label file; the message names the file and line. ``problems`` holds one line
    per problem found (``file:line: what``), so that the problems of several rows and files can
    be gathered into one refusal."""

    def __init__(self, message: str, problems: Sequence[str] = ()) -> None:
        super().__init__(message)
        self.problems = list(problems) or [message]
        #: Some of the problems are labels reaching outside their recording, which clipping mends.
        self.clippable = False


def refusal(problems: Sequence[str], outcome: str = "", hint: str = "") -> LabelFileError:
    """One error for all the problems found: a single one as it is, more as a count and a list of
    the first MAX_LISTED, then ``and N more``. ``outcome`` (e.g. "nothing was imported") ends the
    first line; ``hint`` is a last line."""
    problems = list(problems)
    if len(problems) == 1:
        message = problems[0] + (f"; {outcome}" if outcome else "")
    else:
        listed = [f"  {p}" for p in problems[:MAX_LISTED]]
        if len(problems) > MAX_LISTED:
            listed.append(f"  and {len(problems) - MAX_LISTED} more")
        message = "\n".join([f"{len(problems)} problems" + (f"; {outcome}" if outcome else "") + ":", *listed])
    if hint:
        message += f"\n{hint}"
    return LabelFileError(message, problems)


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
    #: Where in the line, for formats whose lines hold several labels (AOEF: "sound event 3").
    place: str = ""
    #: Something the reader did that the person importing should hear of (the label is imported).
    warning: str | None = None
    #: The channel the table puts it on, from 0 (Raven's ``Channel`` 1 is 0); None: not said.
    channel: int | None = None

    @property
    def where(self) -> str:
        return f"{self.source}:{self.line}" + (f": {self.place}" if self.place else "")


def gathered(labels: list[TableLabel], found: Sequence[str], problems: list[str] | None) -> list[TableLabel]:
    """What a reader returns: its good labels, with the problems of its other rows added to
    ``problems`` when the caller gathers them (an import names every problem of every file at
    once), or else raised as one refusal."""
    if found:
        if problems is None:
            raise refusal(found)
        problems += found
    return labels


def number(value: object, column: str, where: str, optional: bool = False) -> float | None:
    """A cell as a finite number. Empty (or ``nan``, how pandas writes a missing value) is None
    when ``optional``; ``inf``, ``-inf`` and numbers too large for a float are refused."""
    result = None
    if value is not None and value != "" and not (isinstance(value, str) and "_" in value):  # float() takes 1_0
        try:
            result = float(value)  # the common case first: imports of 100 000 rows call this a lot
        except (TypeError, ValueError):
            pass
        else:
            if result - result == 0:  # finite (inf - inf and nan - nan are nan)
                return result
    text = "" if value is None else str(value).strip()
    if text == "" or (optional and text.lower() == "nan"):
        if optional:
            return None
        raise LabelFileError(f"{where}: {column} is empty")
    if result is None:
        raise LabelFileError(f"{where}: {column} {text!r} is not a number")
    raise LabelFileError(f"{where}: {column} {text} is not a finite number")


def score(value: object, column: str, where: str) -> float | None:
    """An optional confidence or score: a number from 0 to 1, or empty. ``nan`` is refused: a
    missing score is an empty cell, and a score that is not a number is a broken file."""
    if isinstance(value, str) and value.strip().lower() == "nan":
        raise LabelFileError(f"{where}: {column} nan is not a number from 0 to 1")
    result = number(value, column, where, optional=True)
    if result is not None and not 0.0 <= result <= 1.0:
        raise LabelFileError(f"{where}: {column} {result} is not between 0 and 1")
    return result


def check_times(start: float, end: float, where: str) -> None:
    """A span that ends before it starts is malformed. Whether the span lies within its
    recording (start at or after 0 s...) is checked on import, where the recording is known."""
    if end < start:
        raise LabelFileError(f"{where}: ends at {end} s, before it starts ({start} s)")


def check_band(low: float | None, high: float | None, where: str, columns: tuple[str, str]) -> None:
    if low is not None and high is not None and low > high:
        raise LabelFileError(f"{where}: {columns[0]} {low} is above {columns[1]} {high}")


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
    width, strip = len(header), str.strip
    for line, row in enumerate(rows[1:], start=2):
        cells = list(map(strip, row))
        if not any(cells):
            continue
        if len(row) < width or (exact and len(row) != width):
            raise LabelFileError(f"{path}:{line}: {len(row)} fields, the header has {width}")
        found.append((line, dict(zip(header, cells, strict=False)), f"{path}:{line}"))  # extra cells: exact=False
    return header, found
