"""Species and recording names that are not file names (``..``, absolute paths, separators, NUL,
Windows device names, 300 characters, emoji): every exporter and the retrain training set keep
their files inside the output folder, one clip per label, and the names they list exist.
Paths given to `birdview info` and `add` that hold no audio are reported; times are shown
rounded with their carry (59.996 s is 0:01:00.00)."""

from __future__ import annotations

import os
import unicodedata
from datetime import datetime
from pathlib import Path

import pandas as pd
import pytest

from birdview.cli import main
from birdview.formats import audacity, raven
from birdview.formats.transfer import export
from birdview.jobs.training_set import build_training_data
from birdview.spectrogram.ticks import format_time
from birdview.store.paths import UnsafePathError, child_path, safe_component
from birdview.store.project import Annotation, Project
from tests.conftest import write_tone_file

BAD_NAMES = [
    "..",
    ".",
    "",
    "../../../escaped",
    "/abs/path",
    "a/b",
    "a\\b",
    "nul\x00byte",
    "line\nbreak",
    "x" * 300,
    "é" * 300,
    "CON",
    "con.txt",
    "Lpt9",
    ".hidden",
    "  spaces  ",
    'what<>:"|?*',
    "鳥のさえずり🐦",
]
WINDOWS_DEVICES = {"CON", "PRN", "AUX", "NUL"} | {f"{d}{n}" for d in ("COM", "LPT") for n in range(10)}
EXPORTERS = ["raven", "audacity", "clips", "birdclef", "retrain"]


def _files(root: Path) -> set[Path]:
    return {Path(folder) / name for folder, _, names in os.walk(root) for name in names}


# -- the name functions --------------------------------------------------------------------------


@pytest.mark.parametrize("text", BAD_NAMES, ids=repr)
def test_safe_component_gives_one_portable_file_name(text: str) -> None:
    name = safe_component(text)
    assert name not in ("", ".", "..")
    assert "/" not in name and "\\" not in name
    assert not any(unicodedata.category(c) == "Cc" or c in '<>:"|?*' for c in name)
    assert name == name.strip(" .")
    assert name.split(".")[0].upper() not in WINDOWS_DEVICES
    assert len(name.encode("utf-8")) <= 200
    assert safe_component(name) == name  # a safe name is kept as it is


def test_different_names_stay_different_and_plain_names_unchanged() -> None:
    names = [*BAD_NAMES, "a_b", "a-b", "_CON", "unnamed", "x" * 299]
    assert len({safe_component(n) for n in names}) == len(names)
    for plain in ("amecro", "Black-capped Chickadee", "Turdus merula", "鳥のさえずり🐦", "grt.tit"):
        assert safe_component(plain) == plain


def test_safe_component_respects_a_byte_budget_and_reserved_names() -> None:
    assert len(safe_component("🐦" * 100, max_bytes=64).encode("utf-8")) <= 64
    assert safe_component("Background", reserved=("background",)) != "Background"
    assert safe_component("amecro", reserved=("background",)) == "amecro"


def test_child_path_refuses_a_path_leading_outside(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    assert child_path(out, "..", "../../x").parent == out / safe_component("..")
    (out / "link").symlink_to(tmp_path, target_is_directory=True)
    with pytest.raises(UnsafePathError, match="leads outside"):
        child_path(out, "link", "x.wav")


# -- every exporter ------------------------------------------------------------------------------


def _audio(tmp_path: Path, name: str, folder: str = "audio") -> Path:
    (tmp_path / folder).mkdir(exist_ok=True)
    # Written under a plain name first: soundfile cannot tell the format of e.g. "..wav".
    return write_tone_file(tmp_path / folder / "tone.wav", duration_s=3.0).rename(tmp_path / folder / name)


def _project(folder: Path, audio: Path, species: str) -> Project:
    """One recording, a confirmed call of ``species`` and a hard negative of it."""
    project = Project.create(folder, species=["amecro"])
    if any(unicodedata.category(c) == "Cc" for c in species):
        # Refused by add_species now; a project made by an earlier version may still hold one.
        with project.db:
            project.db.execute("INSERT INTO species(code, user_added) VALUES (?, 1)", (species,))
    else:
        project.add_species([(species, None, None)])
    added, problems = project.add_recordings([audio])
    assert added and not problems
    recording = added[0]
    project.add_annotations(
        [
            Annotation(recording.id, 0.5, 1.0, 1000.0, 5000.0, species, status="confirmed"),
            Annotation(recording.id, 1.5, 2.25, species=species, kind="hard_negative", status="rejected"),
            Annotation(recording.id, 2.0, 2.5, species="amecro", status="confirmed"),
        ]
    )
    return project


def _export(project: Project, exporter: str, out: Path) -> list[Path]:
    if exporter == "retrain":
        return [build_training_data(project, out, ["amecro"]).folder / "train_metadata.csv"]
    return export(project, exporter, out)


def _check_export(tmp_path: Path, project: Project, exporter: str, species: str) -> None:
    out = tmp_path / "project" / "jobs" / "out" if exporter == "retrain" else tmp_path / "exported" / "out"
    before = _files(tmp_path)
    written = _export(project, exporter, out)
    appeared = _files(tmp_path) - before
    outside = [p for p in appeared if not p.resolve().is_relative_to(out.resolve())]
    assert not outside, f"written outside {out}: {outside}"
    assert all(p.resolve().is_relative_to(out.resolve()) for p in written)
    labels = project.annotations()
    if exporter in ("raven", "audacity"):
        assert len(written) == 1 and written[0].exists()
        read = raven.read if exporter == "raven" else audacity.read
        if "\n" not in species:  # (a line break in a name breaks these line-based tables)
            names = [label.names[0] for label in read(written[0]) if label.names]
            assert species.strip() in names  # the table keeps the user's text
    elif exporter == "clips":
        assert len({p for p in appeared if p.suffix == ".wav"}) == len(labels)
    else:
        extension = ".flac" if exporter == "retrain" else ".ogg"
        clips = {p for p in appeared if p.suffix == extension}
        assert len(clips) == len(labels)
        table = pd.read_csv(out / "train_metadata.csv", keep_default_na=False, dtype=str)
        listed = {(out / "train_audio" / name).resolve() for name in table["filename"]}
        assert listed == {p.resolve() for p in clips}
        assert species in set(table["primary_label"])  # the table keeps the user's text


@pytest.mark.parametrize("exporter", EXPORTERS)
@pytest.mark.parametrize("species", [n for n in BAD_NAMES if n.strip(" ")], ids=repr)
def test_species_names_never_lead_outside_the_output_folder(tmp_path: Path, exporter: str, species: str) -> None:
    with _project(tmp_path / "project", _audio(tmp_path, "rec.wav"), species) as project:
        _check_export(tmp_path, project, exporter, species)


RECORDING_NAMES = [
    "CON.wav",
    "con.txt.wav",
    "..wav",
    ".hidden.wav",
    "  spaces  .wav",
    "a\\b.wav",
    "鳥のさえずり🐦.wav",
    "y" * 240 + ".wav",
]


@pytest.mark.parametrize("exporter", EXPORTERS)
@pytest.mark.parametrize("file_name", RECORDING_NAMES, ids=repr)
def test_recording_names_never_lead_outside_the_output_folder(tmp_path: Path, exporter: str, file_name: str) -> None:
    with _project(tmp_path / "project", _audio(tmp_path, file_name), "barswa") as project:
        _check_export(tmp_path, project, exporter, "barswa")


def test_two_recordings_with_one_name_get_two_tables(tmp_path: Path) -> None:
    first, second = _audio(tmp_path, "rec.wav", "site1"), _audio(tmp_path, "rec.wav", "site2")
    with Project.create(tmp_path / "project", species=["amecro"]) as project:
        added, _ = project.add_recordings([first, second])
        project.add_annotations([Annotation(r.id, 0.5, 1.0, species="amecro") for r in added])
        written = export(project, "raven", tmp_path / "tables")
    assert sorted(p.name for p in written) == ["rec.Table.1.selections.txt", "rec_2.Table.1.selections.txt"]
    assert all(p.exists() for p in written)


def test_imported_species_named_like_paths_stay_inside_the_export(tmp_path: Path, capsys) -> None:
    """The reported case: `import --add-unknown` of ``../../../escaped`` and an absolute path,
    then `export --format birdclef` wrote audio outside the output folder."""
    audio = _audio(tmp_path, "rec.wav")
    escape_target = tmp_path / "abs_target"
    project = tmp_path / "project"
    assert main(["add", "--project", str(project), str(audio)]) == 0
    table = tmp_path / "labels.csv"
    table.write_text(
        "recording,start_offset_s,end_offset_s,label,label_type\n"
        "rec.wav,0.5,1.0,../../../escaped,positive\n"
        f"rec.wav,1.0,1.5,{escape_target},positive\n"
    )
    assert main(["import", "--project", str(project), "--format", "perch", "--add-unknown", str(table)]) == 0
    out = tmp_path / "deep" / "er" / "bc"
    before = _files(tmp_path)
    assert main(["export", "--project", str(project), "--format", "birdclef", "--out", str(out)]) == 0
    appeared = _files(tmp_path) - before
    assert appeared and all(p.is_relative_to(out) for p in appeared)
    assert not escape_target.exists() and not (tmp_path / "escaped").exists()
    metadata = pd.read_csv(out / "train_metadata.csv", keep_default_na=False)
    assert sorted(metadata["primary_label"]) == sorted(["../../../escaped", str(escape_target)])
    assert all((out / "train_audio" / name).is_file() for name in metadata["filename"])


# -- paths given on the command line -------------------------------------------------------------


@pytest.fixture
def folder_named_like_audio(tmp_path: Path) -> Path:
    folder = tmp_path / "DIR.wav"
    (folder / "sub").mkdir(parents=True)
    (folder / "readme.txt").write_text("no audio here")
    return folder


def test_info_of_a_folder_without_audio_says_so(folder_named_like_audio: Path, capsys) -> None:
    assert main(["info", str(folder_named_like_audio)]) == 1
    err = capsys.readouterr().err
    assert err.splitlines() == [f"birdview: {folder_named_like_audio}: folder with no audio files"]


def test_info_lists_the_readable_files_and_still_reports_the_empty_folder(
    folder_named_like_audio: Path, tmp_path: Path, capsys
) -> None:
    good = _audio(tmp_path, "rec.wav")
    assert main(["info", str(folder_named_like_audio), str(good)]) == 1
    out, err = capsys.readouterr()
    assert f"{good}\t0:00:03.000\t" in out
    assert f"birdview: {folder_named_like_audio}: folder with no audio files" in err


def test_info_of_a_missing_path_says_so(tmp_path: Path, capsys) -> None:
    assert main(["info", str(tmp_path / "gone.wav")]) == 1
    assert f"birdview: {tmp_path / 'gone.wav'}: file not found" in capsys.readouterr().err


def test_add_of_a_folder_without_audio_says_so_and_creates_nothing(
    folder_named_like_audio: Path, tmp_path: Path, capsys
) -> None:
    project = tmp_path / "project"
    assert main(["add", "--project", str(project), str(folder_named_like_audio)]) != 0
    out, err = capsys.readouterr()
    assert f"birdview: {folder_named_like_audio}: folder with no audio files" in err.splitlines()
    assert "0 recording(s) added" in out
    assert not project.exists()


def test_add_of_a_missing_path_fails(tmp_path: Path, capsys) -> None:
    assert main(["add", "--project", str(tmp_path / "project"), str(tmp_path / "gone.wav")]) != 0
    assert "gone.wav: file not found" in capsys.readouterr().err


def test_add_with_one_good_file_and_an_empty_folder(folder_named_like_audio: Path, tmp_path: Path, capsys) -> None:
    good = _audio(tmp_path, "rec.wav")
    assert main(["add", "--project", str(tmp_path / "project"), str(folder_named_like_audio), str(good)]) == 0
    out, err = capsys.readouterr()
    assert "1 recording(s) added" in out
    assert f"birdview: {folder_named_like_audio}: folder with no audio files" in err


# -- times ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("seconds", "step", "shown"),
    [
        (59.996, 0.01, "0:01:00.00"),  # the carry into minutes
        (2.9997, 0.001, "0:00:03.000"),  # into seconds
        (3599.9996, 0.001, "1:00:00.000"),  # into hours
        (86399.6, 1, "24:00:00"),
        (59.994, 0.01, "0:00:59.99"),
        (1.25, 0.5, "0:00:01.3"),
        (0.0, 0.01, "0:00:00.00"),
        (-0.004, 0.01, "0:00:00.00"),  # no "-0"
        (-59.996, 0.01, "-0:01:00.00"),
        (float("nan"), 1, "--:--:--"),
    ],
)
def test_format_time_rounds_before_splitting(seconds: float, step: float, shown: str) -> None:
    assert format_time(seconds, step) == shown


@pytest.mark.parametrize(
    ("seconds", "step", "shown"),
    [
        (59.996, 0.01, "05:31:00.00"),
        (1799.9996, 0.001, "06:00:00.000"),
        (59.6, 1, "05:31:00"),
        (66599.7, 3600, "22 May 00:00:00"),  # the carry into the next day shows the date
    ],
)
def test_wall_clock_rounds_before_splitting(seconds: float, step: float, shown: str) -> None:
    assert format_time(seconds, step, datetime(2024, 5, 21, 5, 30, 0)) == shown


def test_info_shows_a_duration_just_under_three_seconds_as_three(tmp_path: Path, capsys) -> None:
    (tmp_path / "audio").mkdir()
    path = write_tone_file(tmp_path / "audio" / "short.wav", duration_s=2.9997, sample_rate=10000)
    assert main(["info", str(path)]) == 0
    assert f"{path}\t0:00:03.000\t10000\t" in capsys.readouterr().out
