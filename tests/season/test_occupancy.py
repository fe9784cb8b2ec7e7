"""Detection histories (1 / 0 / NA per site and occasion) and their effort, as ``birdview occupancy``
writes them, against what the planted scores and verdicts give (tests/season/season_fixture.py)."""

from __future__ import annotations

import csv
from datetime import date, timedelta
from pathlib import Path

import pandas as pd
import pytest

from birdview.cli import main
from birdview.season.occupancy import detection_history, parse_occasion
from birdview.store.project import ProjectError
from birdview.store.selection import Selection
from tests.season.season_fixture import EVERYTHING, Season


def _expected(
    season: Season, species: str, days: int, selection: Selection = EVERYTHING, source: str = "detections"
) -> tuple[list[str], dict[str, list[str]], dict[str, list[float]]]:
    """(occasion names, cells per site, hours per site) counted from the planted list."""
    hours = season.effort("date", selection)
    surveyed = sorted({d for (_, d), h in hours.items() if h > 0})
    first = selection.date_from or date.fromisoformat(surveyed[0])
    last = selection.date_to or date.fromisoformat(surveyed[-1])
    count = -(-((last - first).days + 1) // days)
    names = [(first + timedelta(days=k * days)).isoformat() for k in range(count)]

    def occasion(day: str) -> int:
        return (date.fromisoformat(day) - first).days // days

    sites = []
    for _, site, start, length in season.recordings(selection):
        moments = [start + timedelta(minutes=m) for m in range(int(length * 60))]
        if any(season.kept(m, Selection(date_from=selection.date_from, date_to=selection.date_to)) for m in moments):
            sites.append(site)
    effort = {site: [0.0] * count for site in sites}
    for (site, day), h in hours.items():
        effort[site][occasion(day)] += h
    found = season.detections("date", selection)[0] if source == "detections" else season.confirmed("date", selection)
    seen = {(site, occasion(day)) for (site, day, code), n in found.items() if code == species and n}
    cells = {
        site: ["1" if (site, k) in seen else "0" if effort[site][k] > 0 else "NA" for k in range(count)]
        for site in effort
    }
    return names, cells, effort


def _read(path: Path) -> tuple[list[str], dict[str, list[str]]]:
    with open(path, newline="", encoding="utf-8") as handle:
        rows = list(csv.reader(handle))
    assert rows[0][0] == "site"
    return rows[0][1:], {row[0]: row[1:] for row in rows[1:]}


@pytest.mark.parametrize(
    ("occasion", "source", "filters"),
    [
        ("1d", "detections", {}),
        ("7d", "detections", {}),
        ("1d", "labels", {}),
        ("2d", "detections", {"sites": "A,B", "date_from": "2024-04-29", "hours": "05-06"}),
        ("1d", "labels", {"date_from": "2024-05-02", "date_to": "2024-05-08"}),
    ],
)
def test_history_and_effort_files(
    season: Season, tmp_path: Path, capsys: pytest.CaptureFixture, occasion: str, source: str, filters: dict
) -> None:
    out = tmp_path / "history.csv"
    options = []
    for option, key in (("--site", "sites"), ("--from", "date_from"), ("--to", "date_to"), ("--hours", "hours")):
        if key in filters:
            options += [option, filters[key]]
    argv = ["occupancy", "--project", str(season.project.folder), "--species", "amecro", "--occasion", occasion]
    assert main([*argv, "--source", source, *options, "--out", str(out)]) == 0
    names, cells, effort = _expected(season, "amecro", parse_occasion(occasion), Selection.parse(**filters), source)
    columns, written = _read(out)
    assert columns == names and written == cells
    assert set(written) >= {"A", "B"} and {"1", "0", "NA"} <= {c for row in written.values() for c in row}
    effort_columns, hours = _read(tmp_path / "history_effort.csv")
    assert effort_columns == names
    assert {site: [float(h) for h in row] for site, row in hours.items()} == {
        site: pytest.approx(row) for site, row in effort.items()
    }
    err = capsys.readouterr().err
    assert "history_effort.csv" in err and "1 recording(s) without a start time" in err


def test_occasions_start_at_the_first_surveyed_date_or_from(season: Season) -> None:
    history = detection_history(season.project, "amecro", 7)
    assert history.occasions == [date(2024, 5, 1), date(2024, 5, 8)] and history.last == date(2024, 5, 13)
    later = detection_history(season.project, "amecro", 7, Selection.parse(date_from="2024-05-02"))
    assert later.occasions == [date(2024, 5, 2), date(2024, 5, 9)]
    assert later.undated == 1


def test_rejected_and_low_scores_read_0_and_calls_1(season: Season) -> None:
    """C on 2 May: every amecro detection rejected; B on 8 May: amecro only below its threshold, but
    a call drawn there (tests/season/season_fixture.py)."""
    kept, rejected = season.detections("date")
    assert rejected[("C", "2024-05-02", "amecro")] > 0 and not kept[("C", "2024-05-02", "amecro")]
    detections = detection_history(season.project, "amecro", 1).table().set_index("site")
    labels = detection_history(season.project, "amecro", 1, source="labels").table().set_index("site")
    assert detections.loc["C", "2024-05-02"] == 0 and detections.loc["B", "2024-05-08"] == 0
    assert labels.loc["B", "2024-05-08"] == 1
    assert detections.loc["A", "2024-05-01"] == 1 and pd.isna(detections.loc["A", "2024-05-03"])


@pytest.mark.parametrize(("text", "days"), [("1d", 1), ("7d", 7), ("2w", 14), (" 3D ", 3)])
def test_occasion_lengths(text: str, days: int) -> None:
    assert parse_occasion(text) == days


@pytest.mark.parametrize("text", ["0d", "d", "7", "1 month"])
def test_bad_occasion_lengths(text: str) -> None:
    with pytest.raises(ProjectError, match="--occasion"):
        parse_occasion(text)
