from dataclasses import dataclass
from datetime import date

import numpy as np
import pytest

from birdview.store.selection import Selection, SelectionError, parse_hours


@dataclass
class Rec:
    site: str | None
    start_time: str | None
    duration_s: float = 3600.0


def test_hours_wrap_past_midnight_and_minutes():
    assert parse_hours("04-09") == (240, 540)
    assert parse_hours("22-04") == (1320, 240)
    assert parse_hours("05:30-07") == (330, 420)
    for bad in ("4", "25-03", "04-04", "a-b", "04:70-05"):
        with pytest.raises(SelectionError, match="--hours"):
            parse_hours(bad)


def test_mask_counts_moments_by_the_recorders_clock():
    night = Rec("A", "2024-05-01T23:30:00", 7200)
    offsets = np.arange(0, 7200, 600.0)  # 23:30, 23:40 ... 01:20 the next day
    by_hour = Selection.parse(hours="00-01").mask(night, offsets)
    assert by_hour.tolist() == [False, False, False, True, True, True, True, True, True, False, False, False]
    by_date = Selection.parse(date_from="2024-05-02").mask(night, offsets)
    assert by_date.sum() == 9
    wrapping = Selection.parse(hours="23:45-00:15").mask(night, offsets)
    assert np.flatnonzero(wrapping).tolist() == [2, 3, 4]


def test_sites_and_dates_choose_recordings_and_undated_ones_are_counted():
    recs = [
        Rec("A", "2024-05-01T05:00:00"),
        Rec("B", "2024-05-03T05:00:00"),
        Rec("A", None),
        Rec(None, "2024-05-02T05:00:00"),
    ]
    chosen = Selection.parse(sites="A,B", date_to="2024-05-02").recordings(recs)
    assert chosen == [recs[0]]
    assert Selection.parse(sites=["A"], date_from="2024-04-01").undated(recs) == 1
    assert Selection.parse(sites="A").recordings(recs) == [recs[0], recs[2]]
    assert Selection().recordings(recs) == recs and Selection().everything
    assert Selection.parse(sites="A", date_from="2024-05-01", hours="04-09").describe() == (
        "site A; 2024-05-01 to the end; 04:00-09:00"
    )
    assert Selection.parse(date_from="2024-05-01").date_from == date(2024, 5, 1)


def test_a_filter_that_matches_nothing_says_why():
    recs = [Rec("A", "2024-05-01T05:00:00"), Rec("B", "2024-05-09T05:00:00")]
    with pytest.raises(SelectionError, match=r"no recordings at site C \(the project's sites: A, B\)"):
        Selection.parse(sites="C").check(recs)
    with pytest.raises(SelectionError, match="run from 2024-05-01 to 2024-05-09"):
        Selection.parse(date_from="2024-06-01").check(recs)
    with pytest.raises(SelectionError, match="after --to"):
        Selection.parse(date_from="2024-06-01", date_to="2024-05-01")
    with pytest.raises(SelectionError, match="YYYY-MM-DD"):
        Selection.parse(date_from="1 May")
    assert Selection.parse(sites="B").check(recs) == [recs[1]]
