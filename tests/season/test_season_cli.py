"""``birdview summary``, and the filters of ``birdview detections`` and ``birdview export``: the files a
user gets, and the message and exit code 2 (and no file) for a filter or input that gives nothing."""

from __future__ import annotations

import csv
import re
from pathlib import Path

import pytest

from birdview.cli import main
from birdview.season.tables import COLUMNS
from birdview.store.selection import Selection
from tests.season.season_fixture import Season

FILTERS = (("--site", "sites"), ("--from", "date_from"), ("--to", "date_to"), ("--hours", "hours"))


def _options(filters: dict) -> list[str]:
    return [item for option, key in FILTERS if key in filters for item in (option, filters[key])]


def _rows(path: Path) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


@pytest.mark.parametrize(("by", "filters"), [("date", {}), ("week", {"sites": "A"}), ("hour", {"hours": "23-06"})])
def test_summary_file(season: Season, tmp_path: Path, capsys: pytest.CaptureFixture, by: str, filters: dict) -> None:
    out = tmp_path / "table.csv"
    argv = ["summary", "--project", str(season.project.folder), "--by", f"site,{by}", "--out", str(out)]
    assert main([*argv, *_options(filters)]) == 0
    rows = _rows(out)
    assert list(rows[0]) == COLUMNS
    selection = Selection.parse(**filters)
    kept, rejected = season.detections(by, selection)
    confirmed = season.confirmed(by, selection)
    hours = season.effort(by, selection)
    for row in rows:
        key = (row["site"], row["period"], row["species"])
        assert int(row["detections"]) == kept[key] and int(row["rejected"]) == rejected[key]
        assert int(row["confirmed"]) == confirmed[key]
        assert float(row["recorded_hours"]) == pytest.approx(hours[key[:2]], abs=1e-4)
        assert float(row["per_hour"]) == pytest.approx(kept[key] / hours[key[:2]], abs=1e-4)
    assert {(r["site"], r["period"]) for r in rows} == set(hours)
    err = capsys.readouterr().err
    # B_nodate.wav, at site B, is left out and said so (not when only site A is asked for)
    assert ("1 recording(s) without a start time left out" in err) == ("B" in selection.sites or not selection.sites)
    assert f"{len(rows)} row(s)" in err


def test_summary_of_chosen_species_at_one_threshold(season: Season, tmp_path: Path) -> None:
    out = tmp_path / "table.csv"
    argv = ["summary", "--project", str(season.project.folder), "--species", "norcar", "--threshold", "0.95"]
    assert main([*argv, "--out", str(out)]) == 0
    rows = _rows(out)
    assert {r["species"] for r in rows} == {"norcar"}
    planted = [p for p in season.planted if p.start and p.species == "norcar" and p.score >= 0.95]
    assert sum(int(r["detections"]) + int(r["rejected"]) for r in rows) == len(planted) > 0


@pytest.mark.parametrize("filters", [{"sites": "A", "hours": "05-06"}, {"date_from": "2024-05-08"}])
def test_detections_export_takes_the_filters(season: Season, tmp_path: Path, filters: dict) -> None:
    out = tmp_path / "detections.csv"
    argv = ["detections", "--project", str(season.project.folder), "--format", "birdnet", "--all-species"]
    assert main([*argv, *_options(filters), "--out", str(out)]) == 0
    selection = Selection.parse(**filters)
    kept, rejected = season.detections("date", selection)
    rows = _rows(out)
    assert len(rows) == sum(kept.values()) + sum(rejected.values()) > 0
    names = {name for name, *_ in season.recordings(selection)}
    assert {Path(r["File"]).name for r in rows} <= names


def test_labels_export_takes_the_filters(season: Season, tmp_path: Path) -> None:
    out = tmp_path / "labels.csv"
    argv = ["export", "--project", str(season.project.folder), "--format", "perch", "--status", "confirmed"]
    assert main([*argv, "--site", "B", "--hours", "04-05", "--out", str(out)]) == 0
    rows = _rows(out)
    selection = Selection.parse(sites="B", hours="04-05")
    assert len(rows) == sum(season.confirmed("date", selection).values()) > 0
    starts = {name: start for name, _, start, _ in season.recordings(selection)}
    for row in rows:
        assert Path(row["recording"]).name in starts
        moment = starts[Path(row["recording"]).name].hour * 3600 + float(row["start_offset_s"])
        assert 4 * 3600 <= moment < 5 * 3600


BAD = [
    (["summary", "--site", "Z"], r"no recordings at site Z \(the project's sites: A, B, C\)"),
    (["summary", "--from", "2024-06-01"], "no recordings in 2024-06-01 to the end: the recordings run from 2024-05-01"),
    (["summary", "--hours", "12-13"], "no recorded time in 12:00-13:00"),
    (["summary", "--species", "dodo"], "unknown species 'dodo'"),
    (["summary", "--from", "1 May"], "expected a date as YYYY-MM-DD"),
    (["occupancy", "--species", "amecro", "--site", "Z"], "no recordings at site Z"),
    (["occupancy", "--species", "amecro", "--from", "2023-01-01", "--to", "2023-02-01"], "no recordings in 2023-01-01"),
    (["occupancy", "--species", "amecro", "--occasion", "14d"], r"an occasion of 14 days is longer than the study"),
    (["occupancy", "--species", "dodo"], "unknown species 'dodo'"),
    (["occupancy", "--species", "amecro", "--occasion", "1m"], "--occasion '1m'"),
    (["detections", "--all-species", "--site", "Z"], "no recordings at site Z"),
    (["detections", "--all-species", "--site", "C", "--hours", "10-11"], r"no detections in site C; 10:00-11:00"),
    (["export", "--format", "perch", "--to", "2024-04-01"], "no recordings in the start to 2024-04-01"),
    (["export", "--format", "perch", "--hours", "12-13"], r"no labels start in 12:00-13:00"),
]


@pytest.mark.parametrize(("argv", "message"), BAD)
def test_bad_input_says_why_and_writes_nothing(
    season: Season, tmp_path: Path, capsys: pytest.CaptureFixture, argv: list[str], message: str
) -> None:
    out = tmp_path / "out.csv"
    assert main([argv[0], "--project", str(season.project.folder), *argv[1:], "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert f"birdview {argv[0]}: error:" in err
    assert not list(tmp_path.iterdir())  # no file, not even an empty one
    assert re.search(message, err), err


def test_bad_period_is_a_usage_error(season: Season, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    out = tmp_path / "table.csv"
    with pytest.raises(SystemExit) as stopped:
        main(["summary", "--project", str(season.project.folder), "--by", "site,month", "--out", str(out)])
    assert stopped.value.code == 2 and not out.exists()
    assert "expected one of site,date, site,hour, site,week" in capsys.readouterr().err
