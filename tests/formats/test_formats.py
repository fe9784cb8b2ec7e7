from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import soundfile as sf

from birdview.formats.labels import LabelFileError
from birdview.formats.transfer import UnknownSpeciesError, export, import_files
from birdview.store.project import Annotation, Project
from tests.conftest import write_tone_file

SPECIES = ["amecro", "barswa", "comkin"]


@pytest.fixture
def recordings(tmp_path: Path) -> list[Path]:
    folder = tmp_path / "audio"
    folder.mkdir()
    return [
        write_tone_file(folder / "A_20240521_053000.wav", duration_s=30),
        write_tone_file(folder / "B_20240521_060000.flac", duration_s=20, seed=1),
    ]


def _project(folder: Path, recordings: list[Path]) -> Project:
    project = Project.create(folder, species=SPECIES)
    project.add_recordings(recordings)
    return project


@pytest.fixture
def labelled(tmp_path: Path, recordings: list[Path]) -> Project:
    project = _project(tmp_path / "source", recordings)
    a, b = project.recordings()
    project.add_annotations(
        [
            Annotation(a.id, 1.25, 2.5, 2000.0, 6000.0, "amecro", status="confirmed"),
            Annotation(a.id, 8.0, 9.5, species="barswa", kind="hard_negative", status="rejected", score=0.91),
            Annotation(a.id, 12.0, 12.75, 500.0, 1500.0, "comkin", kind="uncertain"),
            Annotation(b.id, 3.0, 4.0, 3000.0, 9000.0, "barswa", score=0.5),
        ]
    )
    yield project
    project.close()


def _summary(project: Project, frequencies: bool = True, kinds: bool = True) -> list[tuple]:
    names = {r.id: r.name for r in project.recordings()}
    rows = []
    for a in project.annotations():
        row = (names[a.recording_id], round(a.start_s, 3), round(a.end_s, 3), a.species)
        if frequencies:
            row += (a.low_hz and round(a.low_hz, 1), a.high_hz and round(a.high_hz, 1))
        if kinds:
            row += (a.kind,)
        rows.append(row)
    return sorted(rows)


@pytest.mark.parametrize(
    ("fmt", "out", "frequencies", "kinds"),
    [
        ("raven", "labels.txt", True, True),
        ("raven", "raven_tables", True, True),
        ("audacity", "audacity_labels", True, True),
        ("perch", "labels.csv", False, True),
        ("aoef", "labels.json", True, True),
    ],
)
def test_export_then_import_gives_the_same_labels(labelled, recordings, tmp_path, fmt, out, frequencies, kinds) -> None:
    written = export(labelled, fmt, tmp_path / out)
    target = _project(tmp_path / "target", recordings)
    if fmt == "audacity":
        for path in written:  # Audacity tables do not say which recording they belong to
            import_files(target, fmt, [path], recording=path.stem + (".wav" if path.stem.startswith("A") else ".flac"))
    else:
        import_files(target, fmt, written)
    assert _summary(target, frequencies, kinds) == _summary(labelled, frequencies, kinds)
    if fmt == "raven":
        assert {a.status for a in target.annotations()} == {"confirmed", "rejected", "unreviewed"}
    target.close()


def test_birdnet_csv_round_trip_keeps_times_species_and_scores(labelled, recordings, tmp_path) -> None:
    calls = labelled.annotations(kind="call")
    written = export(labelled, "birdnet", tmp_path / "birdnet.csv", calls)
    table = pd.read_csv(written[0])
    assert list(table.columns[:6]) == ["Start (s)", "End (s)", "Scientific name", "Common name", "Confidence", "File"]
    target = _project(tmp_path / "target", recordings)
    import_files(target, "birdnet", written)
    assert _summary(target, False, False) == _summary(labelled, False, False)[:1] + _summary(labelled, False, False)[3:]
    assert sorted(a.score or 0 for a in target.annotations()) == [0, 0.5]


def test_importing_the_same_file_twice_does_not_duplicate(labelled, recordings, tmp_path) -> None:
    written = export(labelled, "perch", tmp_path / "p.csv")
    target = _project(tmp_path / "target", recordings)
    first = import_files(target, "perch", written)
    second = import_files(target, "perch", written)
    assert (first.added, second.added, second.duplicates) == (4, 0, 4)
    assert target.count_annotations() == 4


def test_malformed_file_names_the_line_and_imports_nothing(labelled, recordings, tmp_path) -> None:
    good = export(labelled, "perch", tmp_path / "good.csv")[0]
    bad = tmp_path / "bad.csv"
    bad.write_text(
        "recording,start_offset_s,end_offset_s,label,label_type\n"
        "A_20240521_053000.wav,1.0,2.0,amecro,positive\n"
        "A_20240521_053000.wav,soon,2.0,amecro,positive\n"
    )
    target = _project(tmp_path / "target", recordings)
    with pytest.raises(LabelFileError, match=r"bad.csv:3: start_offset_s 'soon' is not a number"):
        import_files(target, "perch", [good, bad])
    assert target.count_annotations() == 0


def test_unknown_species_are_listed_then_mapped_or_added(recordings, tmp_path) -> None:
    table = tmp_path / "birdnet.csv"
    table.write_text(
        "Start (s),End (s),Scientific name,Common name,Confidence,File\n"
        "0.0,3.0,Corvus brachyrhynchos,American Crow,0.92,A_20240521_053000.wav\n"
        "3.0,6.0,Turdus merula,Eurasian Blackbird,0.81,A_20240521_053000.wav\n"
        "6.0,9.0,nocall,nocall,0.99,A_20240521_053000.wav\n"
    )
    project = _project(tmp_path / "p", recordings)
    with pytest.raises(UnknownSpeciesError) as error:
        import_files(project, "birdnet", [table])
    assert set(error.value.unknown) == {"Corvus brachyrhynchos", "Turdus merula"}
    assert "birdnet.csv:2" in str(error.value) and project.count_annotations() == 0
    with pytest.raises(UnknownSpeciesError, match="Turdus merula"):
        import_files(project, "birdnet", [table], mapping={"American Crow": "amecro"})
    report = import_files(project, "birdnet", [table], mapping={"American Crow": "amecro"}, add_unknown=True)
    assert report.added == 2 and report.species_added == ["Turdus merula"]
    assert sorted(a.species for a in project.annotations()) == ["Turdus merula", "amecro"]
    assert ("Turdus merula", "Eurasian Blackbird", "Turdus merula") in project.species_table()


def test_birdnet_raven_table_with_paths_offsets_and_nocall(recordings, tmp_path) -> None:
    header = (
        "Selection\tView\tChannel\tBegin Time (s)\tEnd Time (s)\tLow Freq (Hz)\tHigh Freq (Hz)\tCommon Name\t"
        "Species Code\tConfidence\tBegin Path\tFile Offset (s)"
    )
    rows = [
        f"1\tSpectrogram 1\t1\t33.0\t36.0\t150\t12000\tAmerican Crow\tamecro\t0.8\t{recordings[0]}\t3.0",
        f"2\tSpectrogram 1\t1\t60.0\t63.0\t150\t12000\tnocall\tnocall\t1.0\t{recordings[1]}\t0.0",
    ]
    (tmp_path / "t.txt").write_text("\n".join([header, *rows]) + "\n")
    project = _project(tmp_path / "p", recordings)
    import_files(project, "birdnet", [tmp_path / "t.txt"])
    (label,) = project.annotations()
    assert (label.start_s, label.end_s, label.species, label.score) == (3.0, 6.0, "amecro", 0.8)
    assert project.recording(label.recording_id).path == recordings[0].absolute()


def test_raven_selection_in_two_views_is_one_label(recordings, tmp_path) -> None:
    text = (
        "Selection\tView\tChannel\tBegin Time (s)\tEnd Time (s)\tLow Freq (Hz)\tHigh Freq (Hz)\tSpecies\n"
        "1\tSpectrogram 1\t1\t1.0\t2.0\t1000\t4000\tbarswa\n"
        "1\tWaveform 1\t1\t1.0\t2.0\t1000\t4000\tbarswa\n"
    )
    (tmp_path / "sel.txt").write_text(text)
    project = _project(tmp_path / "p", recordings)
    report = import_files(project, "raven", [tmp_path / "sel.txt"], recording=str(recordings[0]))
    assert report.added == 1


def test_audacity_frequency_lines_and_point_labels(recordings, tmp_path) -> None:
    (tmp_path / "a.txt").write_text("1.5\t2.5\tamecro\n\\\t1200.5\t4800\n7\t7\tNOT barswa\n")
    project = _project(tmp_path / "p", recordings)
    import_files(project, "audacity", [tmp_path / "a.txt"], recording="A_20240521_053000")
    first, second = project.annotations()
    assert (first.low_hz, first.high_hz, first.kind) == (1200.5, 4800.0, "call")
    assert (second.start_s, second.end_s, second.kind, second.species) == (7.0, 7.0, "hard_negative", "barswa")
    (tmp_path / "b.txt").write_text("\\\t1\t2\n")
    with pytest.raises(LabelFileError, match=r"b.txt:1: a frequency line must follow a label"):
        import_files(project, "audacity", [tmp_path / "b.txt"], recording="A_20240521_053000")


def test_table_without_recording_needs_one(recordings, tmp_path) -> None:
    (tmp_path / "a.txt").write_text("1\t2\tamecro\n")
    project = _project(tmp_path / "p", recordings)
    with pytest.raises(LabelFileError, match=r"a.txt:1: the table does not say which recording; pass --recording"):
        import_files(project, "audacity", [tmp_path / "a.txt"])


def test_birdclef_export_is_what_the_trainer_reads(labelled, tmp_path) -> None:
    from trainer.data.metadata import load_training_set

    written = export(labelled, "birdclef", tmp_path / "bc")
    training_set = load_training_set(tmp_path / "bc", SPECIES)
    assert len(training_set.clips) == 4
    negatives = [c for c in training_set.clips if c.is_negative]
    assert len(negatives) == 1 and "background" in str(negatives[0].path)
    assert (training_set.targets().sum(axis=1) == 0).sum() == 1
    durations = sorted(round(sf.info(str(c.path)).duration, 2) for c in training_set.clips)
    assert durations == [0.75, 1.0, 1.25, 1.5]
    table = pd.read_csv(written[0])
    assert {"source_recording", "source_start_s"} <= set(table.columns)


def test_clip_export_names_carry_recording_and_offset(labelled, tmp_path) -> None:
    written = export(labelled, "clips", tmp_path / "clips", labelled.annotations(species="amecro"), pad_s=0.5)
    assert [p.name for p in written] == ["A_20240521_053000_00001.250-00002.500s_amecro.wav"]
    assert sf.info(str(written[0])).duration == pytest.approx(2.25, abs=0.001)


def test_headless_add_import_export(tmp_path, recordings) -> None:
    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "birdview", *args], capture_output=True, text=True, timeout=120)

    project = tmp_path / "cli_project"
    added = run("add", "--project", str(project), str(recordings[0].parent))
    assert added.returncode == 0, added.stderr
    assert "2 recording(s) added" in added.stdout
    perch = tmp_path / "in.csv"
    perch.write_text(
        "recording,start_offset_s,end_offset_s,label,label_type\n"
        f"{recordings[0].name},1,2,asbfly,positive\n{recordings[1].name},3,4,asbfly,negative\n"
    )
    imported = run("import", "--project", str(project), "--format", "perch", str(perch))
    assert imported.returncode == 0, imported.stderr
    assert "2 label(s) imported" in imported.stdout
    exported = run(
        "export",
        "--project",
        str(project),
        "--format",
        "raven",
        "--out",
        str(tmp_path / "r.txt"),
        "--kind",
        "hard_negative",
    )
    assert exported.returncode == 0, exported.stderr
    table = pd.read_csv(tmp_path / "r.txt", sep="\t")
    assert list(table["Species"]) == ["asbfly"] and list(table["Kind"]) == ["hard_negative"]
    bad = run("import", "--project", str(project), "--format", "perch", str(tmp_path / "missing.csv"))
    assert bad.returncode == 2 and "missing.csv: file not found" in bad.stderr
