"""The identity birdview gives a class across models: its eBird code where one is known.

``data/ebird_codes.csv`` maps the scientific name of each bird among BirdNET V2.4's classes to its
eBird code (eBird/Clements 2024; scripts/make_ebird_codes.py writes it). A scientific name that is
not there (a frog, an insect, a mammal, a sound such as ``Human vocal``) keeps its name as its code.
"""

from __future__ import annotations

import csv
from functools import cache
from pathlib import Path

from trainer.models.base import BIRD, OTHER, SpeciesName

EBIRD_CODES_FILE = Path(__file__).resolve().parent.parent / "data" / "ebird_codes.csv"


@cache
def ebird_codes() -> dict[str, str]:
    """Scientific name → eBird code, read once."""
    with EBIRD_CODES_FILE.open(newline="", encoding="utf-8") as handle:
        return {row["scientific_name"]: row["ebird_code"] for row in csv.DictReader(handle)}


def species_from_label(scientific: str, common: str | None = None) -> SpeciesName:
    """A class by its scientific name: a bird under its eBird code, anything else under its name."""
    code = ebird_codes().get(scientific)
    if code is None:
        return SpeciesName(scientific, scientific, common, OTHER)
    return SpeciesName(code, scientific, common, BIRD)
