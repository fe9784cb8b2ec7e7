"""The ``birdview`` command: the GUI, or a headless subcommand over the same data layer. Each module
of this package holds one group of subcommands and lists them in its ``COMMANDS``."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

from birdview.cli import cluster, detections, labels, measure, models, recordings, report, search, season

HEADLESS: dict[str, Callable[[list[str]], int]] = {
    **recordings.COMMANDS,
    **labels.COMMANDS,
    **models.COMMANDS,
    **cluster.COMMANDS,
    **detections.COMMANDS,
    **search.COMMANDS,
    **season.COMMANDS,
    **measure.COMMANDS,
    **report.COMMANDS,
}
SUBCOMMANDS = tuple(HEADLESS)


def _gui_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="birdview",
        description="Review long field recordings for bird calls. Headless subcommands: "
        + ", ".join(SUBCOMMANDS)
        + " (birdview SUBCOMMAND --help).",
    )
    parser.add_argument("paths", nargs="*", help="recordings or folders of recordings to open")
    parser.add_argument("--screenshot", type=Path, metavar="OUT.png", help="render the window to a PNG and exit")
    parser.add_argument("--start", type=float, help="with --screenshot: view start in seconds")
    parser.add_argument("--span", type=float, help="with --screenshot: seconds shown")
    parser.add_argument("--project", type=Path, metavar="DIR", help="open (or create) this project")
    parser.add_argument(
        "--tile-cache", type=Path, metavar="DIR", help="also keep spectrogram tiles on disk here (faster reopening)"
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] in HEADLESS:
        from birdview.formats.labels import LabelFileError
        from birdview.store.project import ProjectError

        try:
            return HEADLESS[argv[0]](argv[1:])
        except (LabelFileError, ProjectError) as exc:
            print(f"birdview {argv[0]}: error: {exc}", file=sys.stderr)
            return 2
    args = _gui_parser().parse_args(argv)
    if args.screenshot is not None:
        from birdview.gui.app import screenshot

        return screenshot(
            args.paths, args.screenshot, args.start, args.span, tile_cache=args.tile_cache, project=args.project
        )
    from birdview.gui.app import run_gui

    return run_gui(args.paths, tile_cache=args.tile_cache, project=args.project)
