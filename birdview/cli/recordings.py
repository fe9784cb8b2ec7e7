"""``birdview`` subcommands on recordings: what birdview reads of files, adding and relinking them, sites."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from birdview.audio.recording import AudioFileError, find_audio_files, probe
from birdview.cli.common import open_project
from birdview.spectrogram.ticks import format_time

if TYPE_CHECKING:
    pass


def _info(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="birdview info", description="Print what birdview reads of recordings.")
    parser.add_argument("paths", nargs="+", help="recordings or folders")
    args = parser.parse_args(argv)
    problems: list[str] = []
    files = find_audio_files(args.paths, problems)
    for problem in problems:  # folders with no audio files
        print(f"birdview: {problem}", file=sys.stderr)
    failures = len(problems)
    print("path\tduration\tsample_rate\tchannels\tstart_time\tstatus")
    for path in files:
        try:
            info = probe(path)
        except AudioFileError as exc:
            failures += 1
            print(f"{path}\t\t\t\t\terror: {exc.problem}")
            print(f"birdview: {exc}", file=sys.stderr)
            continue
        start = info.start_time.isoformat(sep=" ") if info.start_time else ""
        status = f"warning: {info.warning}" if info.warning else "ok"
        print(f"{path}\t{format_time(info.duration_s, 0.001)}\t{info.sample_rate}\t{info.channels}\t{start}\t{status}")
    return 1 if failures else 0


def _add(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="birdview add", description="Add recordings to a project (created if need be)."
    )
    parser.add_argument("--project", type=Path, required=True)
    parser.add_argument("--site", help="recorder site of these recordings")
    parser.add_argument("paths", nargs="+", help="recordings or folders")
    args = parser.parse_args(argv)
    problems: list[str] = []
    files = find_audio_files(args.paths, problems)  # folders with no audio files are problems
    if not files:
        for problem in problems:
            print(f"birdview: {problem}", file=sys.stderr)
        print("0 recording(s) added")
        return 1
    with open_project(args.project, create=True) as project:
        added, failed = project.add_recordings(files, site=args.site)
        problems += failed
        for row in added:
            print(f"added\t{row.path}\t{format_time(row.duration_s)}")
        for problem in problems:
            print(f"birdview: {problem}", file=sys.stderr)
        print(f"{len(added)} recording(s) added; the project has {len(project.recordings())}")
    return 1 if problems and not added else 0


def _relink(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="birdview relink", description="Find moved recordings by name and hash.")
    parser.add_argument("--project", type=Path, required=True)
    parser.add_argument("folders", nargs="+")
    args = parser.parse_args(argv)
    with open_project(args.project) as project:
        for row, new in project.relink(args.folders):
            print(f"relinked\t{row.path}\t{new}")
        still = project.missing_recordings()
        for row in still:
            print(f"birdview: still missing: {row.path}", file=sys.stderr)
    return 1 if still else 0


def _sites(argv: list[str]) -> int:
    from birdview.store.sites import Site, recordings_per_site, set_site, site, sites

    parser = argparse.ArgumentParser(
        prog="birdview sites", description="List the recorder sites, or set one's place and time zone."
    )
    parser.add_argument("--project", type=Path, required=True)
    parser.add_argument("--set", metavar="NAME", help="the site to set (values not given are kept)")
    parser.add_argument("--lat", type=float, help="with --set: latitude in degrees north (-90 to 90)")
    parser.add_argument("--lon", type=float, help="with --set: longitude in degrees east (-180 to 180)")
    parser.add_argument("--timezone", help="with --set: IANA time zone, e.g. Europe/Amsterdam")
    parser.add_argument("--list", action="store_true", help="list the sites (the default without --set)")
    args = parser.parse_args(argv)
    if args.set is None and (args.lat is not None or args.lon is not None or args.timezone is not None):
        parser.error("--lat, --lon and --timezone go with --set NAME")
    with open_project(args.project) as project:
        if args.set is not None:
            old = site(project, args.set.strip()) or Site(args.set)
            new = set_site(
                project,
                args.set,
                old.latitude if args.lat is None else args.lat,
                old.longitude if args.lon is None else args.lon,
                old.timezone if args.timezone is None else args.timezone,
            )
            place = f"{new.latitude}, {new.longitude}" if new.has_place else "no place"
            print(f"site {new.name}: {place}; time zone {new.timezone or 'unknown'}", file=sys.stderr)
        if args.list or args.set is None:
            counts = recordings_per_site(project)
            known = {s.name: s for s in sites(project)}
            print("site\tlatitude\tlongitude\ttimezone\trecordings")
            for name in sorted(known.keys() | counts.keys()):
                values = [getattr(known.get(name), column, None) for column in ("latitude", "longitude", "timezone")]
                cells = "\t".join("" if value is None else str(value) for value in values)
                print(f"{name}\t{cells}\t{counts.get(name, 0)}")
    return 0


COMMANDS = {"info": _info, "add": _add, "relink": _relink, "sites": _sites}
