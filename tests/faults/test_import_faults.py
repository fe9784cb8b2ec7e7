"""Label files that do not fit their recording (non-finite numbers, times past its end or before
its start, frequencies above its Nyquist frequency, reversed boxes, scores outside 0..1) are
refused whole with every problem named by file and line, or clipped with --clip-to-recording;
Raven selection numbers used twice; two imports of one file at the same time; species added by
a refused import; and the store's own refusals."""

from __future__ import annotations

import json
import math
import re
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from birdview.cli import main
from birdview.formats.labels import LabelFileError
from birdview.formats.transfer import export, import_files
from birdview.store.project import Annotation, Project, ProjectError
from tests.conftest import write_tone_file

ROOT = Path(__file__).resolve().parents[2]
SPECIES = ["amecro", "barswa", "comkin"]
DURATION_S, SAMPLE_RATE = 20.0, 32000  # Nyquist 16 kHz

#: How each format names its numbers in messages about a malformed cell.
COLUMNS = {
    "raven": {"start": "Begin Time (s)", "end": "End Time (s)", "low": "Low Freq (Hz)", "high": "High Freq (Hz)"},
    "audacity": {"start": "start", "end": "end", "low": "low frequency", "high": "high frequency"},
    "birdnet": {"start": "Start (s)", "end": "End (s)"},
    "perch": {"start": "start_offset_s", "end": "end_offset_s"},
    "aoef": {"start": "start time", "end": "end time", "low": "low frequency", "high": "high frequency"},
}
GOOD = {"start": 1.0, "end": 2.0, "low": 1000.0, "high": 4000.0, "species": "amecro", "score": 0.5}


@pytest.fixture
def recording(tmp_path: Path) -> Path:
    folder = tmp_path / "audio"
    folder.mkdir()
    return write_tone_file(folder / "rec.wav", duration_s=DURATION_S, sample_rate=SAMPLE_RATE)


def _project(folder: Path, recording: Path) -> Project:
    project = Project.create(folder, species=SPECIES)
    project.add_recordings([recording])
    return project


@pytest.fixture
def project(tmp_path: Path, recording: Path) -> Project:
    project = _project(tmp_path / "project", recording)
    yield project
    project.close()


def _cell(value: object) -> str:
    return "" if value is None else str(value)


def write_labels(fmt: str, folder: Path, rows: list[dict], recording: Path) -> tuple[Path, list[int]]:
    """A label file of this format holding rows (start, end, low, high, species, score; a value
    may be a string such as "inf"); returns it and the line (AOEF: sound event) of each row."""
    lines: list[int] = []
    if fmt == "raven":
        text = [
            "Selection\tView\tChannel\tBegin Time (s)\tEnd Time (s)\tLow Freq (Hz)\tHigh Freq (Hz)\tSpecies\tConfidence"
        ]
        for i, r in enumerate(rows, start=1):
            text.append(
                f"{i}\tSpectrogram 1\t1\t{r['start']}\t{r['end']}\t{_cell(r['low'])}\t{_cell(r['high'])}\t"
                f"{r['species']}\t{_cell(r['score'])}"
            )
            lines.append(len(text))
        path = folder / "labels.Table.1.selections.txt"
    elif fmt == "audacity":
        text = []
        for r in rows:
            text.append(f"{r['start']}\t{r['end']}\t{r['species']}")
            lines.append(len(text))
            if r["low"] is not None:
                text.append(f"\\\t{r['low']}\t{r['high']}")
        path = folder / "labels.txt"
    elif fmt == "birdnet":
        text = ["Start (s),End (s),Scientific name,Common name,Confidence,File"]
        for r in rows:
            text.append(f"{r['start']},{r['end']},{r['species']},{r['species']},{_cell(r['score'])},{recording.name}")
            lines.append(len(text))
        path = folder / "labels.BirdNET.results.csv"
    elif fmt == "perch":
        text = ["recording,start_offset_s,end_offset_s,label,label_type"]
        for r in rows:
            text.append(f"{recording.name},{r['start']},{r['end']},{r['species']},positive")
            lines.append(len(text))
        path = folder / "labels.csv"
    else:
        return _write_aoef(folder, rows, recording)
    path.write_text("\n".join(text) + "\n")
    return path, lines


def _write_aoef(folder: Path, rows: list[dict], recording: Path) -> tuple[Path, list[int]]:
    """Export a project holding good labels, then write each row's numbers into its sound event
    (as a person editing the JSON, or another tool, would)."""
    with _project(folder / "aoef_source", recording) as source:
        rid = source.recordings()[0].id
        source.add_annotations([Annotation(rid, 1.0 + i, 1.5 + i, 1000.0, 2000.0, "amecro") for i in range(len(rows))])
        path = export(source, "aoef", folder / "labels.json")[0]
    document = json.loads(path.read_text())
    events = sorted(document["data"]["sound_events"], key=lambda e: e["geometry"]["coordinates"][0])
    for event, r in zip(events, rows, strict=True):
        event["geometry"]["coordinates"] = [float(r["start"]), float(r["low"]), float(r["end"]), float(r["high"])]
    path.write_text(json.dumps(document))  # Infinity and NaN as Python's json writes them
    return path, list(range(1, len(rows) + 1))


def _where(fmt: str, path: Path, line: int) -> str:
    return f"{path}:1: sound event {line}" if fmt == "aoef" else f"{path}:{line}"


def _import(project: Project, fmt: str, path: Path, recording: Path, **options: object):
    return import_files(project, fmt, [path], recording=str(recording), **options)


FAULTS = [
    # (fault, formats, the bad row's values, message with {start}/{end}/{low}/{high} for column names)
    ("inf end", "raven audacity birdnet perch aoef", {"end": "inf"}, "{end} inf is not a finite number"),
    ("nan start", "raven audacity birdnet perch aoef", {"start": "nan"}, "{start} nan is not a finite number"),
    (
        "past the end",
        "raven audacity birdnet perch aoef",
        {"end": 25.0},
        "ends at 25.0 s, after the end of rec.wav \\(20.0 s\\)",
    ),
    (
        "negative start",
        "raven audacity birdnet perch aoef",
        {"start": -1.0},
        "starts at -1.0 s, before the start of rec.wav",
    ),
    (
        "above Nyquist",
        "raven audacity aoef",
        {"high": 20000.0},
        "high frequency 20000.0 Hz is above the Nyquist frequency of rec.wav \\(16000 Hz\\)",
    ),
    ("low above high", "raven audacity aoef", {"low": 5000.0, "high": 1000.0}, "{low} 5000.0 is above {high} 1000.0"),
    ("score 7.5", "raven birdnet", {"score": 7.5}, "Confidence 7.5 is not between 0 and 1"),
]
CASES = [
    pytest.param(fmt, values, message, id=f"{fmt}-{fault}")
    for fault, formats, values, message in FAULTS
    for fmt in formats.split()
]


@pytest.mark.parametrize(("fmt", "values", "message"), CASES)
def test_a_label_that_does_not_fit_refuses_the_file(project, recording, tmp_path, fmt, values, message) -> None:
    path, lines = write_labels(fmt, tmp_path, [GOOD, {**GOOD, "start": 3.0, "end": 4.0, **values}], recording)
    columns = {name: re.escape(column) for name, column in COLUMNS[fmt].items()}
    line = lines[1] + (fmt == "audacity" and "{low}" in message)  # Audacity: the box's own line, after its label
    expected = re.escape(_where(fmt, path, line)) + ": " + message.format(**columns)
    with pytest.raises(LabelFileError, match=expected) as refused:
        _import(project, fmt, path, recording)
    assert "nothing was imported" in str(refused.value)
    assert project.count_annotations() == 0  # not even the good first line


def test_inf_end_time_is_refused_by_the_command_naming_file_and_line(project, recording, tmp_path, capsys) -> None:
    path, _ = write_labels("raven", tmp_path, [GOOD, {**GOOD, "end": "inf"}], recording)
    code = main(
        ["import", "--project", str(project.folder), "--format", "raven", "--recording", str(recording), str(path)]
    )
    err = capsys.readouterr().err
    assert code == 2
    assert f"{path}:3: End Time (s) inf is not a finite number; nothing was imported" in err
    assert project.count_annotations() == 0


def test_every_problem_is_named_up_to_ten_then_counted(project, recording, tmp_path) -> None:
    rows = [GOOD] + [{**GOOD, "start": 21.0 + i, "end": 22.0 + i} for i in range(12)] + [{**GOOD, "end": "inf"}]
    path, lines = write_labels("raven", tmp_path, rows, recording)
    with pytest.raises(LabelFileError) as refused:
        _import(project, "raven", path, recording)
    message = str(refused.value)
    assert message.startswith("13 problems; nothing was imported:")
    assert f"{path}:3: starts at 21.0 s, after the end of rec.wav (20.0 s)" in message
    assert f"{path}:12: starts at 30.0 s" in message and f"{path}:13:" not in message
    assert "and 3 more" in message
    assert refused.value.problems[-1] == f"{path}:{lines[-1]}: End Time (s) inf is not a finite number"
    assert project.count_annotations() == 0


def test_problems_of_several_files_are_named_together(project, recording, tmp_path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    first, _ = write_labels("perch", tmp_path / "a", [GOOD, {**GOOD, "end": 25.0}], recording)
    second, _ = write_labels("perch", tmp_path / "b", [{**GOOD, "start": "soon"}], recording)
    with pytest.raises(LabelFileError) as refused:
        import_files(project, "perch", [first, second])
    assert refused.value.problems == [
        f"{first}:3: ends at 25.0 s, after the end of rec.wav (20.0 s)",
        f"{second}:2: start_offset_s 'soon' is not a number",
    ]
    assert project.count_annotations() == 0


def test_a_label_ending_within_the_tolerance_is_kept_as_ending_at_the_end(project, recording, tmp_path) -> None:
    path, _ = write_labels("raven", tmp_path, [{**GOOD, "start": 19.0, "end": 20.08, "high": 16000.4}], recording)
    report = _import(project, "raven", path, recording)
    (label,) = project.annotations()
    assert (report.added, report.clipped) == (1, 0)
    assert (label.end_s, label.low_hz, label.high_hz) == (20.0, 1000.0, 16000.0)


def test_whole_band_boxes_are_stored_without_frequencies(project, recording, tmp_path) -> None:
    path, _ = write_labels("raven", tmp_path, [{**GOOD, "low": 0.0, "high": 15900.0}], recording)
    _import(project, "raven", path, recording)
    assert project.annotations()[0].whole_band


def test_audacity_undefined_frequency_is_not_a_negative_one(project, recording, tmp_path) -> None:
    # Audacity writes -1 for the undefined end of a box that has only one frequency.
    (tmp_path / "a.txt").write_text("1\t2\tamecro\n\\\t-1.000000\t3000.000000\n3\t4\tamecro\n\\\t-5\t3000\n")
    with pytest.raises(LabelFileError) as refused:
        import_files(project, "audacity", [tmp_path / "a.txt"], recording=str(recording))
    assert refused.value.problems == [f"{tmp_path / 'a.txt'}:3: low frequency -5.0 Hz is below 0 Hz"]
    (tmp_path / "a.txt").write_text("1\t2\tamecro\n\\\t-1.000000\t3000.000000\n")
    import_files(project, "audacity", [tmp_path / "a.txt"], recording=str(recording))
    (label,) = project.annotations()
    assert (label.low_hz, label.high_hz, label.whole_band) == (None, 3000.0, True)


OUTSIDE = [
    {**GOOD, "start": 18.0, "end": 25.0},  # ends after the end
    {**GOOD, "start": -1.5, "end": 0.5},  # starts before the start
    {**GOOD, "start": 5.0, "end": 6.0, "low": 12000.0, "high": 24000.0},  # reaches above Nyquist
    {**GOOD, "start": 7.0, "end": 8.0},  # fits
]


def test_clip_to_recording_clips_and_counts(project, recording, tmp_path) -> None:
    path, _ = write_labels("raven", tmp_path, OUTSIDE, recording)
    with pytest.raises(LabelFileError, match="--clip-to-recording") as refused:
        _import(project, "raven", path, recording)
    assert len(refused.value.problems) == 3 and project.count_annotations() == 0
    report = _import(project, "raven", path, recording, clip_to_recording=True)
    assert (report.added, report.clipped) == (4, 3)
    stored = [(a.start_s, a.end_s, a.low_hz, a.high_hz) for a in project.annotations()]
    assert stored == [
        (0.0, 0.5, 1000.0, 4000.0),
        (5.0, 6.0, 12000.0, 16000.0),
        (7.0, 8.0, 1000.0, 4000.0),
        (18.0, 20.0, 1000.0, 4000.0),
    ]


def test_clip_to_recording_from_the_command(project, recording, tmp_path, capsys) -> None:
    path, _ = write_labels("raven", tmp_path, OUTSIDE, recording)
    argv = ["import", "--project", str(project.folder), "--format", "raven", "--recording", str(recording), str(path)]
    assert main(argv) == 2
    assert "3 problems; nothing was imported" in capsys.readouterr().err
    assert main([*argv, "--clip-to-recording"]) == 0
    out = capsys.readouterr().out
    assert "3 label(s) clipped to their recording" in out and "4 label(s) imported" in out
    assert project.count_annotations() == 4


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"start": 22.0, "end": 25.0}, "starts at 22.0 s, after the end of rec.wav \\(20.0 s\\)"),
        ({"low": 17000.0, "high": 20000.0}, "low frequency 17000.0 Hz is above the Nyquist frequency"),
        ({"end": "inf"}, "End Time \\(s\\) inf is not a finite number"),
        ({"low": 5000.0, "high": 1000.0}, "Low Freq \\(Hz\\) 5000.0 is above High Freq \\(Hz\\) 1000.0"),
        ({"score": 7.5}, "Confidence 7.5 is not between 0 and 1"),
    ],
    ids=["wholly past the end", "band wholly above Nyquist", "inf", "low above high", "score 7.5"],
)
def test_clipping_still_refuses_what_it_cannot_mend(project, recording, tmp_path, values, message) -> None:
    path, _ = write_labels("raven", tmp_path, [GOOD, {**GOOD, **values}], recording)
    with pytest.raises(LabelFileError, match=re.escape(f"{path}:3: ") + message):
        _import(project, "raven", path, recording, clip_to_recording=True)
    assert project.count_annotations() == 0


# -- Raven selection numbers ----------------------------------------------------------------------

RAVEN_HEADER = "Selection\tView\tChannel\tBegin Time (s)\tEnd Time (s)\tLow Freq (Hz)\tHigh Freq (Hz)\tSpecies\n"


def test_a_selection_in_another_view_is_one_label(project, recording, tmp_path) -> None:
    path = tmp_path / "views.txt"
    path.write_text(
        RAVEN_HEADER
        + "1\tSpectrogram 1\t1\t1.0\t2.0\t1000\t4000\tbarswa\n1\tWaveform 1\t1\t1.0\t2.0\t1000\t4000\tbarswa\n"
    )
    report = _import(project, "raven", path, recording)
    assert (report.added, report.duplicates, report.warnings) == (1, 0, [])


@pytest.mark.parametrize(
    ("second", "what"),
    [
        ("1\tSpectrogram 1\t1\t5.0\t6.0\t1000\t4000\tbarswa", "times"),
        ("1\tSpectrogram 1\t1\t1.0\t2.0\t1000\t4000\tcomkin", "species"),
    ],
)
def test_a_selection_number_used_twice_for_other_content_is_imported_with_a_warning(
    project, recording, tmp_path, capsys, second, what
) -> None:
    path = tmp_path / "reused.txt"
    path.write_text(RAVEN_HEADER + "1\tSpectrogram 1\t1\t1.0\t2.0\t1000\t4000\tbarswa\n" + second + "\n")
    argv = ["import", "--project", str(project.folder), "--format", "raven", "--recording", str(recording), str(path)]
    assert main(argv) == 0
    captured = capsys.readouterr()
    assert "2 label(s) imported" in captured.out and "1 warning(s)" in captured.out
    assert f"warning: {path}:3: selection 1 is also on line 2 with other times, frequencies or species" in captured.err
    labels = project.annotations()
    assert len(labels) == 2
    if what == "species":
        assert sorted(a.species for a in labels) == ["barswa", "comkin"]
    else:
        assert [a.start_s for a in labels] == [1.0, 5.0]


# -- two imports at once; species of a refused import --------------------------------------------


def test_two_imports_of_one_file_at_the_same_time_add_each_label_once(recording, tmp_path) -> None:
    rows = 3000
    lines = [RAVEN_HEADER.rstrip("\n")]
    for i in range(rows):  # every row a label of its own, all within the recording
        start, low = (i % 190) * 0.1, 500 + (i // 190) * 100
        lines.append(
            f"{i + 1}\tSpectrogram 1\t1\t{start:.1f}\t{start + 0.5:.1f}\t{low}\t{low + 2000}\t{SPECIES[i % 3]}"
        )
    table = tmp_path / "big.txt"
    table.write_text("\n".join(lines) + "\n")
    for round_ in range(3):
        folder = tmp_path / f"project{round_}"
        _project(folder, recording).close()
        command = [sys.executable, "-m", "birdview.cli", "import", "--project", str(folder), "--format", "raven"]
        command += ["--recording", str(recording), str(table)]
        processes = [
            subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            for _ in range(2)
        ]
        outputs = [process.communicate(timeout=120) for process in processes]
        assert [process.returncode for process in processes] == [0, 0], outputs
        with Project.open(folder) as project:
            assert project.count_annotations() == rows
        reports = sorted(out for out, _ in outputs)
        assert f"0 label(s) imported, {rows} already in the project" in reports[0], outputs
        assert f"{rows} label(s) imported, 0 already in the project" in reports[1], outputs


BLACKBIRD = "Turdus merula,Eurasian Blackbird"


@pytest.mark.parametrize(
    ("later_line", "problem"),
    [
        (
            "3.0,6.0,Corvus brachyrhynchos,American Crow,0.8,nowhere.wav",
            "recording 'nowhere.wav' is not in the project",
        ),
        ("soon,6.0,Corvus brachyrhynchos,American Crow,0.8,rec.wav", "Start \\(s\\) 'soon' is not a number"),
        ("3.0,6.0,Corvus brachyrhynchos,American Crow,1.8,rec.wav", "Confidence 1.8 is not between 0 and 1"),
    ],
    ids=["unknown recording", "bad number", "score above 1"],
)
def test_a_refused_import_adds_no_species(project, recording, tmp_path, capsys, later_line, problem) -> None:
    path = tmp_path / "birdnet.csv"
    path.write_text(
        "Start (s),End (s),Scientific name,Common name,Confidence,File\n"
        f"0.0,3.0,{BLACKBIRD},0.9,rec.wav\n{later_line}\n"
    )
    before = project.species_table()
    with pytest.raises(LabelFileError, match=re.escape(f"{path}:3: ") + problem):
        import_files(project, "birdnet", [path], add_unknown=True)
    assert project.species_table() == before and project.count_annotations() == 0
    assert main(["import", "--project", str(project.folder), "--format", "birdnet", "--add-unknown", str(path)]) == 2
    assert f"{path}:3:" in capsys.readouterr().err
    assert project.species_table() == before and project.count_annotations() == 0


def test_species_and_labels_of_an_import_are_added_together_and_undone(project, recording, tmp_path) -> None:
    path = tmp_path / "birdnet.csv"
    path.write_text(
        "Start (s),End (s),Scientific name,Common name,Confidence,File\n"
        f"0.0,3.0,{BLACKBIRD},0.9,rec.wav\n3.0,6.0,amecro,American Crow,0.8,rec.wav\n"
    )
    report = import_files(project, "birdnet", [path], add_unknown=True)
    assert (report.added, report.species_added) == (2, ["Turdus merula"])
    assert ("Turdus merula", "Eurasian Blackbird", "Turdus merula") in project.species_table()
    assert project.undo() == "import 1 birdnet file(s)"
    assert project.count_annotations() == 0
    assert project.redo() == "import 1 birdnet file(s)"
    assert sorted(a.species for a in project.annotations()) == ["Turdus merula", "amecro"]
    again = import_files(project, "birdnet", [path], add_unknown=True)
    assert (again.added, again.duplicates, again.species_added) == (0, 2, [])


# -- the store's own refusals ----------------------------------------------------------------------


BAD_LABELS = [
    pytest.param({"start_s": math.inf, "end_s": math.inf}, "start must be a finite number, not inf", id="inf start"),
    pytest.param({"end_s": math.nan}, "end must be a finite number, not nan", id="nan end"),
    pytest.param({"low_hz": -math.inf}, "low frequency must be a finite number, not -inf", id="-inf low"),
    pytest.param({"high_hz": math.nan}, "high frequency must be a finite number, not nan", id="nan high"),
    pytest.param({"start_s": -0.5}, "cannot start before 0 s \\(-0.5 s\\)", id="negative start"),
    pytest.param(
        {"low_hz": 5000.0, "high_hz": 1000.0},
        "low frequency \\(5000.0 Hz\\) cannot be above its high frequency",
        id="low above high",
    ),
    pytest.param({"score": 7.5}, "score must be from 0 to 1, not 7.5", id="score 7.5"),
    pytest.param({"score": -0.1}, "score must be from 0 to 1, not -0.1", id="score -0.1"),
    pytest.param({"score": math.nan}, "score must be a finite number, not nan", id="nan score"),
]


@pytest.mark.parametrize(("changes", "message"), BAD_LABELS)
def test_the_store_refuses_labels_that_would_break_views_and_exports(project, changes, message) -> None:
    rid = project.recordings()[0].id
    good = Annotation(rid, 1.0, 2.0, 1000.0, 4000.0, "amecro", score=0.5)
    bad = replace(good, **changes)
    with pytest.raises(ProjectError, match=message):
        project.add_annotation(bad)
    with pytest.raises(ProjectError, match=message):
        project.import_annotations([good, bad], new_species=[("eurbla", "Eurasian Blackbird", "Turdus merula")])
    assert project.count_annotations() == 0 and "eurbla" not in project.species_codes()  # all or nothing
    stored = project.add_annotation(good)
    with pytest.raises(ProjectError, match=message):
        project.update_annotation(stored.id, **changes)
    assert project.annotation(stored.id) == stored


def test_odd_numbers_and_nan_scores_are_refused(tmp_path) -> None:
    from birdview.formats.labels import LabelFileError, number, score

    with pytest.raises(LabelFileError, match="'1_0' is not a number"):
        number("1_0", "Begin Time (s)", "t.txt:2")
    with pytest.raises(LabelFileError, match="Confidence nan is not a number from 0 to 1"):
        score("nan", "Confidence", "t.csv:2")
    assert score("", "Confidence", "t.csv:2") is None  # an empty cell is no score
    assert number("nan", "Low Freq (Hz)", "t.txt:2", optional=True) is None  # pandas' missing value


def test_a_species_name_with_a_tab_or_line_break_is_refused(tmp_path) -> None:
    from birdview.store.project import Project, ProjectError

    audio = write_tone_file(tmp_path / "rec.wav", duration_s=10.0)
    with Project.create(tmp_path / "project", species=["amecro"]) as project:
        project.add_recordings([audio])
        table = tmp_path / "t.csv"
        header = "Start (s),End (s),Scientific name,Common name,Confidence,File"
        table.write_text(f'{header}\n1,2,"tab\there",x,0.5,{audio}\n')
        with pytest.raises(ProjectError, match="tabs or line breaks"):
            import_files(project, "birdnet", [table], add_unknown=True)
        assert project.species_codes() == ["amecro"] and project.count_annotations() == 0


def test_an_aoef_export_reads_back_whatever_its_name_and_with_a_byte_order_mark(project, recording, tmp_path) -> None:
    with _project(tmp_path / "source", recording) as source:
        rid = source.recordings()[0].id
        source.add_annotations([Annotation(rid, 1.0 + i, 1.5 + i, 1000.0, 2000.0, "amecro") for i in range(3)])
        plain = export(source, "aoef", tmp_path / "labels_without_suffix")[0]
    marked = tmp_path / "marked.json"
    marked.write_text("\ufeff" + plain.read_text(encoding="utf-8"), encoding="utf-8")
    assert _import(project, "aoef", plain, recording).added == 3
    assert _import(project, "aoef", marked, recording).duplicates == 3
