"""``birdview`` subcommands — a model's detections, and the species shown by default."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from birdview.cli.common import open_project, warn
from birdview.cli.filters import add_filter_options, selection_of

if TYPE_CHECKING:
    pass


def _detections(argv: list[str]) -> int:
    from birdview.formats.transfer import write_detections
    from birdview.review.summary import detection_rows

    parser = argparse.ArgumentParser(
        prog="birdview detections", description="Export a model's detections with their review verdicts."
    )
    parser.add_argument("--project", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--format", choices=["raven", "birdnet"], default="raven")
    parser.add_argument("--model", type=int, metavar="VERSION", help="default: the active model")
    parser.add_argument("--species")
    parser.add_argument("--threshold", type=float, help="default: each species' own threshold, else 0.5")
    parser.add_argument(
        "--species-list",
        type=Path,
        metavar="FILE",
        help="only these species (default: the project's species list, "
        "else those BirdNET expects at each recording's site and week)",
    )
    parser.add_argument("--all-species", action="store_true", help="every species, whatever the species lists say")
    add_filter_options(parser)
    args = parser.parse_args(argv)
    with open_project(args.project) as project:
        model = project.model(args.model) if args.model else project.active_model()
        if model is None:
            print("birdview detections: error: no model in the project", file=sys.stderr)
            return 2
        selection = selection_of(args, project)
        allowed = None if args.all_species else _species_allowed(project, args.species_list)
        chosen = None if selection.everything else selection
        rows = detection_rows(project, model.version, args.species, args.threshold, allowed, chosen)
        if not rows and chosen is not None:
            print(
                f"birdview detections: error: no detections in {selection.describe()} (nothing written)",
                file=sys.stderr,
            )
            return 2
        print(write_detections(args.format, rows, args.out))
    print(f"{len(rows)} detection(s) written", file=sys.stderr)
    return 0


def _species_allowed(project, species_list: Path | None) -> dict[int, frozenset[str] | None]:
    """The species shown per recording, saying on stderr where each filter came from."""
    from birdview.jobs.species_filter import species_filters

    filters = species_filters(project, project.recordings(), species_list)
    warn("detections", list(dict.fromkeys(w for f in filters.values() for w in f.warnings)))
    recordings: dict[tuple[str, str, int], int] = {}
    for f in filters.values():
        key = (f.source, f.reason, -1 if f.species is None else len(f.species))
        recordings[key] = recordings.get(key, 0) + 1
    for (source, reason, count), n in sorted(recordings.items()):
        if count < 0:
            print(f"birdview detections: every species for {n} recording(s): {reason}", file=sys.stderr)
        else:
            print(
                f"birdview detections: {n} recording(s) limited to the {count} species of {source} "
                "(--all-species shows every species)",
                file=sys.stderr,
            )
    return {recording_id: f.species for recording_id, f in filters.items()}


def _species_list(argv: list[str]) -> int:
    from birdview.jobs.species_filter import set_species_list, species_filter

    parser = argparse.ArgumentParser(
        prog="birdview species-list",
        description="Set, clear or show the species shown by default (a species list, else BirdNET's geo model "
        "at the recording's site).",
    )
    parser.add_argument("--project", type=Path, required=True)
    action = parser.add_mutually_exclusive_group(required=True)
    action.add_argument(
        "--set", type=Path, metavar="FILE", help="one species a line: code, name, or Scientific name_Common name"
    )
    action.add_argument("--clear", action="store_true", help="no project-wide species list")
    action.add_argument("--show", action="store_true", help="print the species shown by default")
    parser.add_argument("--recording", help="with --show: for this recording (path, file name or stem)")
    args = parser.parse_args(argv)
    if args.recording and not args.show:
        parser.error("--recording goes with --show")
    with open_project(args.project) as project:
        if args.clear:
            set_species_list(project, None)
            print("the project has no species list now", file=sys.stderr)
            return 0
        if args.set is not None:
            chosen = set_species_list(project, args.set)
            warn("species-list", chosen.warnings)
            print(f"species list {chosen.path}: {len(chosen.codes)} species", file=sys.stderr)
            return 0
        recording = None
        if args.recording:
            recording = project.find_recording(args.recording)
            if recording is None:
                print(f"birdview species-list: error: no recording {args.recording!r} in the project", file=sys.stderr)
                return 2
        shown = species_filter(project, recording)
    warn("species-list", shown.warnings)
    if shown.species is None:
        print(f"# every species: {shown.reason}")
        return 0
    print(f"# {len(shown.species)} species from {shown.source}")
    for code in sorted(shown.species):
        print(code)
    return 0


COMMANDS = {"detections": _detections, "species-list": _species_list}
