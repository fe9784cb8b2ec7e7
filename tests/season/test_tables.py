"""Detections per site and date, hour of the day and ISO week, against counts made from the planted
scores and verdicts (tests/season/season_fixture.py)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from birdview.season.tables import COLUMNS, detection_table
from birdview.store.selection import Selection
from tests.season.season_fixture import CUTS, EVERYTHING, SPECIES, Season, make_season


def _check(table: pd.DataFrame, season: Season, by: str, selection: Selection = EVERYTHING) -> None:
    """Every count of the table is the one the planted list gives, and every cell has its row."""
    assert list(table.columns) == COLUMNS
    kept, rejected = season.detections(by, selection)
    confirmed = season.confirmed(by, selection)
    hours = season.effort(by, selection)

    def nonzero(column: str) -> dict:
        return {(r.site, r.period, r.species): getattr(r, column) for r in table.itertuples() if getattr(r, column)}

    assert nonzero("detections") == dict(kept)
    assert nonzero("rejected") == dict(rejected)
    assert nonzero("confirmed") == dict(confirmed)
    cells = table.drop_duplicates(["site", "period"])
    recorded = {(r.site, r.period): r.recorded_hours for r in cells.itertuples()}
    assert recorded == pytest.approx(hours)
    # each species has a row in every cell with recorded time, zeros included
    assert len(table) == len(hours) * table["species"].nunique()
    assert np.allclose(table["per_hour"], table["detections"] / table["recorded_hours"])


@pytest.mark.parametrize("by", ["date", "hour", "week"])
def test_counts_per_site_and_period(season: Season, by: str) -> None:
    table = detection_table(season.project, 1, by=("site", by))
    _check(table, season, by)
    assert sorted(table["species"].unique()) == sorted(SPECIES)
    assert table.attrs["undated"] == 1  # B_nodate.wav: its detections are in no row
    assert table.attrs["thresholds"] == CUTS
    assert list(table["site"].unique()) == ["A", "B", "C", "(no site)"]


def test_a_recording_over_midnight_counts_on_both_dates_and_weeks(season: Season) -> None:
    by_date = detection_table(season.project, 1, by="site,date", species=["amecro"])
    a = by_date[by_date["site"] == "A"].set_index("period")["recorded_hours"]
    assert a.to_dict() == {"2024-05-01": 2.0, "2024-05-02": 2.0, "2024-05-12": 1.0, "2024-05-13": 1.0}
    by_week = detection_table(season.project, 1, by="site,week", species=["amecro"])
    a = by_week[by_week["site"] == "A"].set_index("period")["recorded_hours"]
    assert a.to_dict() == {"2024-W18": 4.0, "2024-W19": 1.0, "2024-W20": 1.0}  # Sunday 12 May, Monday 13 May
    b = by_week[by_week["site"] == "B"].set_index("period")["recorded_hours"]
    assert b.to_dict() == {"2024-W18": 3.0, "2024-W19": 1.0}


@pytest.mark.parametrize(
    "filters",
    [
        {"sites": "A,C"},
        {"date_from": "2024-05-02", "date_to": "2024-05-12"},
        {"hours": "05:30-06:30"},
        {"sites": ["A"], "hours": "23-01"},  # wraps past midnight
        {"sites": "B", "date_from": "2024-05-01", "date_to": "2024-05-01", "hours": "04-06"},
    ],
)
@pytest.mark.parametrize("by", ["date", "hour"])
def test_filters_choose_moments_and_effort_alike(season: Season, filters: dict, by: str) -> None:
    selection = Selection.parse(**filters)
    table = detection_table(season.project, 1, selection, by=("site", by))
    _check(table, season, by, selection)
    assert table.attrs["selection"] == selection.describe()


def test_one_threshold_for_all_and_chosen_species(season: Season) -> None:
    table = detection_table(season.project, 1, by="site,date", species=["norcar", "amecro"], threshold=0.65)
    assert sorted(table["species"].unique()) == ["amecro", "norcar"]
    expected = sum(1 for p in season.planted if p.start and p.species != "bluja" and p.score >= 0.65)
    assert table["detections"].sum() + table["rejected"].sum() == expected
    assert table.attrs["thresholds"] == {"amecro": 0.65, "norcar": 0.65}


def test_without_a_model_only_confirmed_calls_count(season: Season) -> None:
    table = detection_table(season.project, None, by="site,date")
    assert table["detections"].sum() == 0 and table["rejected"].sum() == 0
    assert table["confirmed"].sum() == sum(season.confirmed("date").values())


def test_sparse_blocks_count_as_dense_ones(tmp_path: Path) -> None:
    """A model with many classes keeps its blocks sparse (read as entries, never made dense): the
    same planted scores give the same counts as the dense three-class model."""
    season = make_season(tmp_path)
    project = season.project
    wide = project.register_model("/wide.ckpt", [*SPECIES, *(f"other{i}" for i in range(400))])
    for recording in project.recordings():
        first, scores = project.predictions(1, recording.id)
        padded = np.zeros((len(scores), len(wide.classes)), dtype=np.float32)
        padded[:, : len(SPECIES)] = scores
        project.store_predictions(wide.version, recording.id, padded, first)
    encodings = {e for (e,) in project.db.execute("SELECT encoding FROM predictions WHERE model_version = 2")}
    assert encodings == {"sparse"}
    dense = detection_table(project, 1, by="site,date", species=SPECIES)
    sparse = detection_table(project, wide.version, by="site,date", species=SPECIES)
    # the verdicts were given on model 1's windows: none is taken off model 2's
    assert sparse["rejected"].sum() == 0
    assert (sparse["detections"] == dense["detections"] + dense["rejected"]).all()
    everything = detection_table(project, wide.version, by="site,hour", threshold=0.4)
    planted = sum(1 for p in season.planted if p.start and p.score >= 0.4)
    assert everything["detections"].sum() == planted and set(everything["species"]) == set(SPECIES)
    project.close()
