from __future__ import annotations

from pathlib import Path

import pytest

from birdview.audio.filenames import site_prefix
from birdview.cli import main
from birdview.store.project import Project, ProjectError
from birdview.store.sites import Site, recording_week, set_site, site, site_of, sites
from tests.conftest import write_tone_file


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """A project with two Song Meter recordings at NORTH, one at SOUTH and an AudioMoth file at EAST."""
    audio = tmp_path / "audio"
    audio.mkdir()
    for name in ("NORTH_20240521_053000.wav", "NORTH_20240522_053000.wav", "SOUTH_20240105_120000.wav"):
        write_tone_file(audio / name, duration_s=2.0, tone_start_s=0.5, tone_end_s=1.0)
    moth = write_tone_file(tmp_path / "20240301_000000.wav", duration_s=2.0, tone_start_s=0.5, tone_end_s=1.0)
    with Project.create(tmp_path / "project", species=[]) as project:
        project.add_recordings([audio])
        project.add_recordings([moth], site="EAST")
    return tmp_path / "project"


def table(capsys: pytest.CaptureFixture[str], folder: Path) -> list[list[str]]:
    assert main(["sites", "--project", str(folder), "--list"]) == 0
    return [line.split("\t") for line in capsys.readouterr().out.splitlines()]


def test_sites_are_set_and_listed_with_their_recordings(folder: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert table(capsys, folder) == [
        ["site", "latitude", "longitude", "timezone", "recordings"],
        ["EAST", "", "", "", "1"],
        ["NORTH", "", "", "", "2"],
        ["SOUTH", "", "", "", "1"],
    ]
    command = ["sites", "--project", str(folder), "--set", "NORTH", "--lat", "52.1", "--lon", "5.2"]
    assert main([*command, "--timezone", "Europe/Amsterdam"]) == 0
    assert main(["sites", "--project", str(folder), "--set", "WEST", "--lat", "-33.9", "--lon", "-71.5"]) == 0
    capsys.readouterr()
    assert table(capsys, folder)[1:] == [
        ["EAST", "", "", "", "1"],
        ["NORTH", "52.1", "5.2", "Europe/Amsterdam", "2"],
        ["SOUTH", "", "", "", "1"],
        ["WEST", "-33.9", "-71.5", "", "0"],
    ]
    # values not given are kept
    assert main(["sites", "--project", str(folder), "--set", "NORTH", "--timezone", "UTC"]) == 0
    with Project.open(folder) as project:
        assert site(project, "NORTH") == Site("NORTH", 52.1, 5.2, "UTC")
        assert [s.name for s in sites(project)] == ["NORTH", "WEST"]


@pytest.mark.parametrize(
    ("values", "named"),
    [
        (["--lat", "95", "--lon", "5"], "latitude 95"),
        (["--lat", "10", "--lon", "-200"], "longitude -200"),
        (["--lat", "nan", "--lon", "5"], "latitude nan"),
        (["--lat", "10", "--lon", "inf"], "longitude inf"),
        (["--lat", "10", "--lon", "5", "--timezone", "Mars/Olympus"], "'Mars/Olympus'"),
    ],
)
def test_bad_values_are_refused_and_change_nothing(
    folder: Path, capsys: pytest.CaptureFixture[str], values: list[str], named: str
) -> None:
    assert main(["sites", "--project", str(folder), "--set", "NORTH", "--lat", "52.1", "--lon", "5.2"]) == 0
    before = table(capsys, folder)
    assert main(["sites", "--project", str(folder), "--set", "NORTH", *values]) == 2
    error = capsys.readouterr().err
    assert named in error and "NORTH" in error
    assert table(capsys, folder) == before


def test_site_names_must_be_visible_and_places_whole(folder: Path) -> None:
    with Project.open(folder) as project:
        for name in ("", "  ", "A\tB", "A\nB"):
            with pytest.raises(ProjectError, match="visible name"):
                set_site(project, name, 1.0, 2.0)
        with pytest.raises(ProjectError, match="latitude and longitude together"):
            set_site(project, "NORTH", 1.0)
        with pytest.raises(ProjectError, match="latitude True is not a number"):
            set_site(project, "NORTH", True, 2.0)
        assert sites(project) == []
        assert set_site(project, " NORTH ").name == "NORTH"


def test_site_from_the_file_name_unless_given(folder: Path) -> None:
    with Project.open(folder) as project:
        by_name = {r.name: r for r in project.recordings()}
        assert site_of(project, by_name["NORTH_20240521_053000.wav"]) == "NORTH"
        assert site_of(project, by_name["SOUTH_20240105_120000.wav"].id) == "SOUTH"
        assert site_of(project, by_name["20240301_000000.wav"]) == "EAST"  # given with add --site
    assert site_prefix("S4A01234$20190311_180000.wav") == "S4A01234"
    assert site_prefix("20240521_053000.WAV") is None
    assert site_prefix("5A8B3C4D.WAV") is None
    assert site_prefix("notes.wav") is None


def test_recording_week_is_birdnets(folder: Path) -> None:
    with Project.open(folder) as project:
        weeks = {r.name: recording_week(r) for r in project.recordings()}
    assert weeks == {
        "NORTH_20240521_053000.wav": 19,  # May, days 15-21: the third week of the fifth month
        "NORTH_20240522_053000.wav": 20,
        "SOUTH_20240105_120000.wav": 1,
        "20240301_000000.wav": 9,
    }
