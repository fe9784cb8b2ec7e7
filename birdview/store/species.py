"""Finding a species by what a person or a label file calls it: its code, common name or
scientific name, in any case. One rule for the window's Species field and for imports."""

from __future__ import annotations

from collections.abc import Iterable


class SpeciesNames:
    """The project's species table, held in memory: an exact code first, then a code, a common
    name or a scientific name compared without case (in that order of preference)."""

    def __init__(self, table: Iterable[tuple[str, str | None, str | None]] = ()) -> None:
        self.codes: set[str] = set()
        self.folded: dict[str, str] = {}
        self.add(table)

    def add(self, table: Iterable[tuple[str, str | None, str | None]]) -> None:
        rows = sorted(table, key=lambda row: row[0])
        self.codes.update(code for code, _, _ in rows)
        for column in range(3):  # a code first, then a common name, then a scientific name
            for row in rows:
                if row[column]:
                    self.folded.setdefault(row[column].strip().lower(), row[0])

    def code(self, name: str) -> str | None:
        text = name.strip()
        return text if text in self.codes else self.folded.get(text.lower())
