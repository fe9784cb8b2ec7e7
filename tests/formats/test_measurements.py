"""Raven measurement columns in `birdview measure` and `export --format raven`: Raven's column
names after the selection's own, one row per label, readable back with pandas, and labels that
cannot be measured named while the others are still written."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile as sf

from birdview.cli import main
from birdview.formats import raven
from birdview.formats.transfer import export, import_files
from birdview.store.project import Annotation, Project

RATE = 48000
BIN = RATE / 512
MEASUREMENT_HEADER = [
    "Delta Time (s)",
    "Delta Freq (Hz)",
    "Peak Freq (Hz)",
    "Peak Time (s)",
    "Center Freq (Hz)",
    "Freq 5% (Hz)",
    "Freq 95% (Hz)",
    "BW 90% (Hz)",
    "Dur 90% (s)",
    "Energy (dB FS)",
    "SNR NIST Quick (dB)",
]
SELECTION_HEADER = [
    "Selection",
    "View",
    "Channel",
    "Begin Time (s)",
    "End Time (s)",
    "Low Freq (Hz)",
    "High Freq (Hz)",
    "Species",
    "Common Name",
    "Kind",
    "Status",
    "Score",
    "Begin Path",
    "File Offset (s)",
]


def _tones(path: Path, tones: list[tuple[float, float, float]], duration_s: float = 6.0) -> Path:
    """Low noise with tones (start s, end s, Hz) of amplitude 0.5."""
    t = np.arange(round(duration_s * RATE)) / RATE
    x = np.random.default_rng(0).standard_normal(len(t)) * 0.001
    for start, end, hz in tones:
        on = (t >= start) & (t < end)
        x[on] += 0.5 * np.sin(2 * np.pi * hz * t[on])
    sf.write(path, x.astype(np.float32), RATE)
    return path


@pytest.fixture
def project(tmp_path: Path) -> Project:
    audio = tmp_path / "audio"
    audio.mkdir()
    a = _tones(audio / "A_20240521_053000.wav", [(1.0, 1.5, 3000.0), (3.0, 3.5, 5000.0)])
    b = _tones(audio / "B_20240521_060000.wav", [(2.0, 2.25, 2000.0)], duration_s=4.0)
    project = Project.create(tmp_path / "project", species=["amecro", "barswa"])
    project.add_recordings([a, b])
    ra, rb = project.recordings()
    project.add_annotations(
        [
            Annotation(ra.id, 1.0, 1.5, 2000.0, 4000.0, "amecro"),
            Annotation(ra.id, 3.0, 3.5, 4000.0, 6000.0, "barswa"),
            Annotation(rb.id, 2.0, 2.25, 1000.0, 3000.0, "amecro"),
        ]
    )
    yield project
    project.close()


def _read(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, sep="\t")


def test_measure_writes_a_raven_table_with_ravens_column_names(project, tmp_path, capsys) -> None:
    out = tmp_path / "table.txt"
    code = main(["measure", "--project", str(project.folder), "--species", "amecro", "--out", str(out)])
    assert code == 0, capsys.readouterr().err
    assert out.read_text().splitlines()[0].split("\t") == SELECTION_HEADER + MEASUREMENT_HEADER
    table = _read(out)
    assert len(table) == 2 and list(table["Species"]) == ["amecro", "amecro"]
    assert list(table["Begin Time (s)"]) == [1.0, 2.0]
    assert list(table["Delta Time (s)"]) == [0.5, 0.25]
    assert list(table["Delta Freq (Hz)"]) == [2000.0, 2000.0]
    for got, hz in zip(table["Peak Freq (Hz)"], [3000.0, 2000.0], strict=True):
        assert abs(got - hz) <= BIN
    for got, hz in zip(table["Center Freq (Hz)"], [3000.0, 2000.0], strict=True):
        assert abs(got - hz) <= BIN
    assert (table["SNR NIST Quick (dB)"] > 40).all()
    assert table["Energy (dB FS)"].iloc[0] == pytest.approx(-9.03, abs=0.2)  # 0.5 s of amplitude 0.5
    assert "2 of 2 label(s) measured" in capsys.readouterr().err
    # Still a selection table birdview (and Raven) reads.
    assert [(label.start_s, label.names) for label in raven.read(out)] == [(1.0, ["amecro"]), (2.0, ["amecro"])]


def test_an_unknown_species_is_refused_naming_it(project, tmp_path, capsys) -> None:
    out = tmp_path / "table.txt"
    code = main(["measure", "--project", str(project.folder), "--species", "dodo", "--out", str(out)])
    err = capsys.readouterr().err
    assert code == 2 and "'dodo' is not a species of" in err and "amecro, barswa" in err
    assert not out.exists()


def test_labels_that_cannot_be_measured_are_listed_and_the_others_written(project, tmp_path, capsys) -> None:
    ra, rb = project.recordings()
    project.add_annotations([Annotation(ra.id, 5.5, 7.0, 1000.0, 2000.0, "barswa")])  # past the end (6 s)
    rb.path.rename(rb.path.with_suffix(".moved"))
    out = tmp_path / "table.txt"
    code = main(["measure", "--project", str(project.folder), "--out", str(out)])
    err = capsys.readouterr().err
    assert code == 1
    assert "label 4 (barswa, 5.500–7.000 s): A_20240521_053000.wav: 5.5–7 s reaches past the end" in err
    assert f"label 3 (amecro, 2.000–2.250 s): {rb.path}: file not found" in err
    assert "2 of 4 label(s) measured; 2 could not be" in err
    table = _read(out)
    assert len(table) == 4  # every label has its row
    measured = table["Peak Freq (Hz)"].notna()
    assert list(table.loc[measured, "Begin Time (s)"]) == [1.0, 3.0]
    assert table.loc[~measured, "Delta Time (s)"].isna().all()


def test_raven_export_keeps_the_selection_columns_first_and_adds_the_measurements(project, tmp_path) -> None:
    written = export(project, "raven", tmp_path / "labels.txt")
    header = written[0].read_text().splitlines()[0].split("\t")
    assert header == SELECTION_HEADER + MEASUREMENT_HEADER
    table = _read(written[0])
    assert len(table) == 3
    for got, hz in zip(table["Peak Freq (Hz)"], [3000.0, 5000.0, 2000.0], strict=True):
        assert abs(got - hz) <= BIN
    # Per-recording tables too, and what was exported imports back unchanged.
    tables = export(project, "raven", tmp_path / "tables")
    assert all(_read(path).columns[-1] == "SNR NIST Quick (dB)" for path in tables)
    target = Project.create(tmp_path / "target", species=["amecro", "barswa"])
    target.add_recordings([r.path for r in project.recordings()])
    assert import_files(target, "raven", tables).added == 3
    target.close()


def test_raven_export_without_measurements_is_the_selection_table(project, tmp_path) -> None:
    written = export(project, "raven", tmp_path / "labels.txt", measure=False)
    assert written[0].read_text().splitlines()[0].split("\t") == SELECTION_HEADER


def test_raven_export_of_a_missing_recording_leaves_its_cells_empty(project, tmp_path) -> None:
    _, rb = project.recordings()
    rb.path.unlink()
    problems: list[str] = []
    table = _read(export(project, "raven", tmp_path / "labels.txt", problems=problems)[0])
    assert problems == [f"label 3 (amecro, 2.000–2.250 s): {rb.path}: file not found"]
    assert list(table["Peak Freq (Hz)"].isna()) == [False, False, True]


def test_the_export_command_names_a_recording_it_cannot_measure(project, tmp_path, capsys) -> None:
    _, rb = project.recordings()
    rb.path.unlink()
    out = tmp_path / "labels.txt"
    assert main(["export", "--project", str(project.folder), "--format", "raven", "--out", str(out)]) == 0
    err = capsys.readouterr().err
    assert f"birdview export: warning: {rb.path}: file not found; its labels are written without measurements" in err
    assert "not measured" not in err  # the missing file says it all
    table = _read(out)
    assert len(table) == 3 and list(table["Peak Freq (Hz)"].isna()) == [False, False, True]
