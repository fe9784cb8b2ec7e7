"""``birdview measure``: Raven-style measurements of a project's labels, as a Raven table."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from birdview.cli.common import open_project


def _measure(argv: list[str]) -> int:
    from birdview.formats.labels import LabelFileError
    from birdview.formats.transfer import write_measurements
    from birdview.store.labels import Kind, Source, Status

    parser = argparse.ArgumentParser(
        prog="birdview measure",
        description="Measure labels on their audio as Raven Pro does (peak, centre, 5 % and 95 % frequencies, "
        "90 % bandwidth and duration, energy, SNR) and write one tab-separated Raven table, a row per label: "
        "the selection's columns, then Raven's measurement columns. A label that cannot be measured keeps its row, "
        "with those cells empty, and is listed with the reason.",
    )
    parser.add_argument("--project", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True, help="the table to write (e.g. measurements.txt)")
    parser.add_argument("--species", help="only this species (a code, common or scientific name)")
    parser.add_argument("--kind", choices=Kind.values())
    parser.add_argument("--status", choices=Status.values())
    parser.add_argument("--source", choices=Source.values())
    parser.add_argument("--recording", help="only this recording (a path, file name or stem)")
    args = parser.parse_args(argv)
    with open_project(args.project) as project:
        species = None
        if args.species is not None:
            species = project.resolve_species(args.species)
            if species is None:
                known = ", ".join(code for code, _, _ in project.species_table()) or "none"
                raise LabelFileError(
                    f"--species: {args.species!r} is not a species of {args.project} (it has: {known})"
                )
        recording_id = None
        if args.recording is not None:
            row = project.find_recording(args.recording)
            if row is None:
                raise LabelFileError(f"--recording: {args.recording!r} is not a recording of {args.project}")
            recording_id = row.id
        chosen = project.annotations(
            recording_id=recording_id, species=species, kind=args.kind, status=args.status, source=args.source
        )
        problems: list[str] = []
        written = write_measurements(project, chosen, args.out, problems)
    for problem in problems:
        print(f"birdview measure: not measured: {problem}", file=sys.stderr)
    measured = len(chosen) - len(problems)
    print(written)
    summary = f"{measured} of {len(chosen)} label(s) measured"
    if problems:
        summary += f"; {len(problems)} could not be (listed above, their rows left without measurements)"
    print(summary, file=sys.stderr)
    return 1 if problems else 0


COMMANDS = {"measure": _measure}
