"""Class lists: the species a model predicts, in column order."""

from __future__ import annotations

from pathlib import Path

DEFAULT_SPECIES_FILE = Path(__file__).parent / "data" / "birdclef2024_species.txt"


class SpeciesFileError(ValueError):
    pass


def load_species(path: str | Path | None = None) -> list[str]:
    """One code a line (blank lines and # comments ignored); the BirdCLEF 2024 list by default."""
    path = Path(path) if path is not None else DEFAULT_SPECIES_FILE
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise SpeciesFileError(f"{path}: cannot read the species list ({exc.strerror or exc})") from None
    species: list[str] = []
    seen: dict[str, int] = {}
    for number, line in enumerate(lines, start=1):
        code = line.split("#", 1)[0].strip()
        if not code:
            continue
        if code in seen:
            raise SpeciesFileError(f"{path}:{number}: species {code!r} is listed twice (first on line {seen[code]})")
        seen[code] = number
        species.append(code)
    if not species:
        raise SpeciesFileError(f"{path}: the species list is empty")
    return species
