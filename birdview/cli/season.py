"""``birdview`` subcommands — a season of recorders: detections per site and period, and detection
histories for occupancy models."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from birdview.cli.common import open_project
from birdview.cli.filters import add_filter_options, selection_of, threshold_option

if TYPE_CHECKING:
    from birdview.store.project import ModelRow, Project


def _model(project: Project, version: int | None) -> ModelRow:
    from birdview.store.project import ProjectError

    model = project.model(version) if version else project.active_model()
    if model is None:
        raise ProjectError("no model in the project (birdview models --add ..., then birdview score)")
    return model


def _species(project: Project, model: ModelRow | None, given: list[str]) -> list[str]:
    """Codes for species given as codes or names; a ProjectError names the unknown ones."""
    from birdview.store.project import ProjectError

    codes, unknown = [], []
    for text in given:
        code = project.resolve_species(text) or (text if model is not None and text in model.classes else None)
        (codes if code else unknown).append(code or text)
    if unknown:
        raise ProjectError(
            f"unknown species {', '.join(map(repr, unknown))}: give species codes, common or scientific names "
            "of the project"
        )
    return list(dict.fromkeys(codes))


def _left_out(command: str, undated: int, unscored: int, model: ModelRow | None) -> None:
    if undated:
        print(
            f"birdview {command}: {undated} recording(s) without a start time left out: no date or hour to place "
            "them in (the start time is read from the file name, e.g. SITE_20240521_053000.wav)",
            file=sys.stderr,
        )
    if unscored and model is not None:
        print(
            f"birdview {command}: warning: {unscored} recording(s) not scored by model {model.label}: their recorded "
            "hours count, their detections are missing (birdview score)",
            file=sys.stderr,
        )


def _nothing(attrs: dict, where: str) -> str:
    """Why a table is empty, in words."""
    if not attrs["recordings"]:
        return (
            f"no recording in {where} has a start time: {attrs['undated']} recording(s) without one cannot be "
            "placed in a date or hour (the start time is read from the file name, e.g. SITE_20240521_053000.wav)"
        )
    if attrs["recorded_hours"] <= 0:
        return f"no recorded time in {where}: the {attrs['recordings']} recording(s) there have none at those hours"
    return (
        f"no detections or confirmed calls in {where} ({attrs['recorded_hours']:.1f} recorded hours); "
        "--species CODE lists a species' zeros"
    )


def summary(argv: list[str]) -> int:
    """``birdview summary``: detections, confirmed calls and effort per site and period."""
    from birdview.season.files import write_csv
    from birdview.season.tables import detection_table, parse_by
    from birdview.store.project import ProjectError

    parser = argparse.ArgumentParser(
        prog="birdview summary",
        description="Detections (the model's windows at or above each species' threshold, less those rejected), "
        "confirmed calls, recorded hours and detections per recorded hour, per site and date, hour of the day or "
        "ISO week (the recorder's clock), one row per site, period and species.",
    )
    parser.add_argument("--project", type=Path, required=True)
    parser.add_argument("--by", default="site,date", help="site,date (default), site,hour or site,week")
    parser.add_argument(
        "--species", nargs="+", action="extend", metavar="CODE", help="only these (default: every species found)"
    )
    parser.add_argument(
        "--threshold",
        type=threshold_option,
        default=None,
        help="per-species (the default: each species' own, else 0.5) or one score for all, e.g. 0.8",
    )
    parser.add_argument("--model", type=int, metavar="VERSION", help="default: the active model")
    add_filter_options(parser)
    parser.add_argument("--out", type=Path, required=True, help="the table, CSV")
    args = parser.parse_args(argv)
    try:
        by = parse_by(args.by)
    except ValueError as exc:
        parser.error(str(exc))
    with open_project(args.project) as project:
        selection = selection_of(args, project)
        model = _model(project, args.model)
        species = _species(project, model, args.species) if args.species else None
        table = detection_table(project, model.version, selection, by, species, args.threshold)
        if table.empty:
            raise ProjectError(_nothing(table.attrs, selection.describe()))
        rounded = table.round({"recorded_hours": 4, "per_hour": 4})
        print(write_csv({args.out: rounded})[0])
    _left_out("summary", table.attrs["undated"], table.attrs["unscored"], model)
    print(
        f"{len(table)} row(s): {table['site'].nunique()} site(s), {table['period'].nunique()} {by[1]}(s), "
        f"{table['species'].nunique()} species; {int(table['detections'].sum())} detection(s) by model "
        f"{model.label}, {int(table['confirmed'].sum())} confirmed; {selection.describe()}",
        file=sys.stderr,
    )
    return 0


def occupancy(argv: list[str]) -> int:
    """``birdview occupancy``: a species' detection history per site and occasion, and its effort."""
    from birdview.season.files import write_csv
    from birdview.season.occupancy import SOURCES, check_species, detection_history, parse_occasion

    parser = argparse.ArgumentParser(
        prog="birdview occupancy",
        description="A species' detection history for occupancy models: one row per site, one column per occasion "
        "(named by its first date): 1 detected, 0 surveyed and not detected, NA not surveyed; and the hours recorded "
        "per site and occasion in a second file beside it (NAME_effort.csv).",
    )
    parser.add_argument("--project", type=Path, required=True)
    parser.add_argument("--species", required=True, metavar="CODE")
    parser.add_argument("--occasion", default="1d", help="days per occasion: 1d (default), 7d, ...")
    parser.add_argument(
        "--source",
        choices=SOURCES,
        default="detections",
        help="detections: the model's, at or above the species' threshold, less those rejected (default); "
        "labels: confirmed calls",
    )
    parser.add_argument("--model", type=int, metavar="VERSION", help="with --source detections: default the active")
    parser.add_argument("--threshold", type=threshold_option, default=None, help="per-species (default) or a score")
    add_filter_options(parser)
    parser.add_argument("--out", type=Path, required=True, help="the history, CSV")
    args = parser.parse_args(argv)
    days = parse_occasion(args.occasion)
    with open_project(args.project) as project:
        model = _model(project, args.model) if args.source == "detections" else None
        code = check_species(project, args.species, None if model is None else model.version)
        selection = selection_of(args, project)
        history = detection_history(
            project, code, days, selection, args.source, None if model is None else model.version, args.threshold
        )
        effort_path = args.out.with_name(f"{args.out.stem}_effort{args.out.suffix or '.csv'}")
        print(write_csv({args.out: history.table(), effort_path: history.effort_table()})[0])
    _left_out("occupancy", history.undated, 0, model)
    what = f"detections by model {model.label}" if model is not None else "confirmed calls"
    print(
        f"detection history of {code} from {what}: {len(history.sites)} site(s) × {len(history.occasions)} "
        f"occasion(s) of {days} day(s), {history.occasions[0]} to {history.last}; detected in "
        f"{int(history.detected.sum())} of {int((history.surveyed | history.detected).sum())} surveyed cell(s); "
        f"{selection.describe()}",
        file=sys.stderr,
    )
    print(f"effort (hours recorded per site and occasion): {effort_path}", file=sys.stderr)
    return 0


COMMANDS = {"summary": summary, "occupancy": occupancy}
