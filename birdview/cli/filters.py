"""The filters every table, export and summary takes: ``--site``, ``--from``, ``--to``, ``--hours``
(:class:`birdview.store.selection.Selection`), read and checked the same way by each subcommand."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from birdview.store.project import Project
    from birdview.store.selection import Selection


def add_filter_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("filters (dates and hours on the recorder's clock)")
    group.add_argument(
        "--site", action="append", metavar="NAME", help="only these sites (repeat, or NAME,NAME); default: all"
    )
    group.add_argument("--from", dest="date_from", metavar="YYYY-MM-DD", help="from this date on")
    group.add_argument("--to", dest="date_to", metavar="YYYY-MM-DD", help="up to this date, inclusive")
    group.add_argument("--hours", metavar="FROM-TO", help="only these hours of the day, e.g. 04-09, 22-04, 05:30-07")


def selection_of(args: argparse.Namespace, project: Project) -> Selection:
    """The selection the options ask for, checked against the project's recordings: a
    ProjectError names the filter when it cannot be read or matches no recording."""
    from birdview.review.queue import sited
    from birdview.store.project import ProjectError
    from birdview.store.selection import Selection, SelectionError
    from birdview.store.sites import sites

    try:
        selection = Selection.parse(args.site, args.date_from, args.date_to, args.hours)
        selection.check(sited(project), [s.name for s in sites(project)])
    except SelectionError as exc:
        raise ProjectError(str(exc)) from None
    return selection


def threshold_option(text: str) -> float | None:
    """``--threshold``: ``per-species`` (None: each species' own threshold) or a score from 0 to 1."""
    if text == "per-species":
        return None
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected 'per-species' or a score from 0 to 1, not {text!r}") from None
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"a threshold is a score from 0 to 1, not {text}")
    return value
