"""``birdview report``: a season's HTML report (see :mod:`birdview.season.report`)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from birdview.cli.common import open_project
from birdview.cli.filters import add_filter_options, selection_of, threshold_option


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="birdview report",
        description="One self-contained HTML page per season: per species, detections by site and date and by "
        "hour of day, the precision the verdicts give, the call density, and a table per site.",
    )
    p.add_argument("--project", type=Path, required=True)
    p.add_argument("--out", type=Path, required=True, metavar="report.html")
    p.add_argument("--species", nargs="+", metavar="CODE", help="default: every species with detections")
    p.add_argument(
        "--threshold",
        type=threshold_option,
        default=None,
        metavar="per-species|SCORE",
        help="per-species (default: each species' own, else 0.5) or one score for all",
    )
    p.add_argument("--model", type=int, metavar="VERSION", help="default: the active model")
    add_filter_options(p)
    return p


def _report(argv: list[str]) -> int:
    from birdview.season.report import ReportError, write_report
    from birdview.store.selection import SelectionError

    args = parser().parse_args(argv)
    try:
        with open_project(args.project) as project:
            selection = selection_of(args, project)
            report = write_report(project, args.out, selection, args.species, args.threshold, args.model)
    except (ReportError, SelectionError) as exc:
        print(f"birdview report: error: {exc}", file=sys.stderr)
        return 2
    for note in report.notes:
        print(f"birdview report: {note}", file=sys.stderr)
    print(args.out)
    print(f"{len(report.species)} species, {report.recorded_hours:.2f} recorded hours", file=sys.stderr)
    return 0


COMMANDS = {"report": _report}
