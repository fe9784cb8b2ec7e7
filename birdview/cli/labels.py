"""``birdview`` subcommands — labels in and out of a project, and recovering its database."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from birdview.cli.common import open_project, warn
from birdview.cli.filters import add_filter_options, selection_of

if TYPE_CHECKING:
    pass


def _parse_mapping(pairs: list[str]) -> dict[str, str]:
    mapping = {}
    for pair in pairs:
        name, sep, code = pair.partition("=")
        if not sep:
            raise SystemExit(f"birdview import: --map expects NAME=CODE, not {pair!r}")
        mapping[name.strip()] = code.strip()
    return mapping


def _import(argv: list[str]) -> int:
    from birdview.formats.labels import MAX_LISTED
    from birdview.formats.transfer import IMPORT_FORMATS, import_files

    parser = argparse.ArgumentParser(prog="birdview import", description="Import label files into a project.")
    parser.add_argument("--project", type=Path, required=True)
    parser.add_argument("--format", required=True, choices=IMPORT_FORMATS)
    parser.add_argument("--recording", help="the recording of tables that do not name one")
    parser.add_argument("--map", action="append", default=[], metavar="NAME=CODE", help="species name to code")
    parser.add_argument("--add-unknown", action="store_true", help="add species the project does not know")
    parser.add_argument("--label-column", help="Raven: the column holding the species")
    parser.add_argument("--author")
    parser.add_argument(
        "--clip-to-recording",
        action="store_true",
        help="clip times and frequencies that reach outside their recording to it (and count them) instead of "
        "refusing the file; a label wholly outside its recording is still refused",
    )
    parser.add_argument("files", nargs="+")
    args = parser.parse_args(argv)
    with open_project(args.project) as project:
        report = import_files(
            project,
            args.format,
            args.files,
            args.recording,
            _parse_mapping(args.map),
            args.add_unknown,
            args.label_column,
            args.author,
            clip_to_recording=args.clip_to_recording,
        )
    for warning in report.warnings[:MAX_LISTED]:
        print(f"birdview import: warning: {warning}", file=sys.stderr)
    if len(report.warnings) > MAX_LISTED:
        print(f"birdview import: and {len(report.warnings) - MAX_LISTED} more warning(s)", file=sys.stderr)
    if report.species_added:
        print(f"species added: {', '.join(report.species_added)}")
    if report.clipped:
        print(f"{report.clipped} label(s) clipped to their recording")
    if report.warnings:
        print(f"{len(report.warnings)} warning(s)")
    print(f"{report.added} label(s) imported, {report.duplicates} already in the project")
    return 0


def _export(argv: list[str]) -> int:
    from birdview.formats.transfer import EXPORT_FORMATS, export
    from birdview.store.labels import Kind, Status

    parser = argparse.ArgumentParser(prog="birdview export", description="Export a project's labels.")
    parser.add_argument("--project", type=Path, required=True)
    parser.add_argument("--format", required=True, choices=EXPORT_FORMATS)
    parser.add_argument("--out", type=Path, required=True, help="a file, or a folder for per-recording tables/clips")
    parser.add_argument("--species", help="only this species")
    parser.add_argument("--kind", choices=Kind.values())
    parser.add_argument("--status", choices=Status.values())
    parser.add_argument("--pad", type=float, default=0.0, help="clips: seconds added on each side")
    add_filter_options(parser)
    args = parser.parse_args(argv)
    with open_project(args.project) as project:
        selection = selection_of(args, project)
        filters = {"species": args.species, "kind": args.kind, "status": args.status}
        if selection.everything:
            chosen = project.annotations(**filters)
        else:
            from birdview.review.queue import selected_labels

            chosen = selected_labels(project, selection, **filters)[0]
            if not chosen:
                print(
                    f"birdview export: error: no labels start in {selection.describe()} (nothing written)",
                    file=sys.stderr,
                )
                return 2
        problems: list[str] = []
        unreadable: dict[str, str] = {}
        written = export(project, args.format, args.out, chosen, args.pad, problems=problems, unreadable=unreadable)
    for path in written:
        print(path)
    print(f"{len(chosen)} label(s) exported to {len(written)} file(s)", file=sys.stderr)
    unmeasured = [line for line in problems if not any(name in line for name in unreadable)]
    warn("export", [f"{name}: {why}; its labels are written without measurements" for name, why in unreadable.items()])
    warn("export", [f"not measured: {line}" for line in unmeasured])
    return 0


def _recover(argv: list[str]) -> int:
    from birdview.store.integrity import backup_edits, backups, recover

    parser = argparse.ArgumentParser(
        prog="birdview recover",
        description="Restore a project's database from its backups (the damaged one is moved aside, not deleted).",
    )
    parser.add_argument("--project", type=Path, required=True)
    parser.add_argument("--list", action="store_true", help="list the backups and change nothing")
    parser.add_argument("--backup", type=Path, help="restore this backup instead of the newest usable one")
    parser.add_argument(
        "--keep-current", action="store_true", help="accept a whole database that lost its latest edits, as it is"
    )
    args = parser.parse_args(argv)
    if args.list:
        found = backups(args.project)
        print("backup\tedits\tbytes")
        for path in found:
            print(f"{path}\t{backup_edits(path)}\t{path.stat().st_size}")
        if not found:
            print(f"birdview recover: no backups in {args.project}", file=sys.stderr)
        return 0 if found else 1
    result = recover(args.project, args.backup, args.keep_current)
    if result.restored is None:
        print(f"kept the current database as it is: {result.labels} label(s), {result.edits} edit(s)")
        return 0
    print(f"restored {result.restored}: {result.labels} label(s), {result.edits} edit(s)")
    if result.behind:
        print(f"the backup is {result.behind} saved edit(s) behind the database it replaces")
    if result.moved_to is not None:
        print(f"the damaged database was moved to {result.moved_to}")
    return 0


COMMANDS = {"import": _import, "export": _export, "recover": _recover}
