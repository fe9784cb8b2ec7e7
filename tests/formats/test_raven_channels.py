"""Raven's Channel column: labels of a stereo recording keep their channel through an export
and an import; a channel the recording lacks is refused, naming it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from birdview.formats.labels import LabelFileError
from birdview.formats.transfer import export, import_files
from birdview.store.project import Annotation, Project

HEADER = "Selection\tView\tChannel\tBegin Time (s)\tEnd Time (s)\tLow Freq (Hz)\tHigh Freq (Hz)\tSpecies\n"


@pytest.fixture
def stereo(tmp_path: Path) -> Path:
    path = tmp_path / "audio" / "S1_20240521_050000.wav"
    path.parent.mkdir()
    sf.write(path, np.random.default_rng(0).normal(0, 0.01, (32000 * 10, 2)).astype(np.float32), 32000)
    return path


def _project(folder: Path, audio: Path) -> Project:
    project = Project.create(folder, species=["barswa", "amecro"])
    added, problems = project.add_recordings([audio])
    assert problems == [] and len(added) == 1
    return project


def test_channels_survive_an_export_and_an_import(stereo: Path, tmp_path: Path) -> None:
    with _project(tmp_path / "a", stereo) as project:
        recording = project.recordings()[0]
        project.add_annotations(
            [
                Annotation(recording.id, 1.0, 2.0, 1000, 4000, "barswa", channel=1),
                Annotation(recording.id, 3.0, 4.0, 1000, 4000, "amecro", channel=0),
            ]
        )
        (table,) = export(project, "raven", tmp_path / "out", measure=False)
    assert [line.split("\t")[2] for line in table.read_text().splitlines()[1:]] == ["2", "1"]
    with _project(tmp_path / "b", stereo) as again:
        assert import_files(again, "raven", [table]).added == 2
        assert [(a.species, a.channel) for a in again.annotations()] == [("barswa", 1), ("amecro", 0)]


def test_a_channel_the_recording_lacks_is_refused(stereo: Path, tmp_path: Path) -> None:
    (tmp_path / "sel.txt").write_text(HEADER + "1\tSpectrogram 1\t3\t1.0\t2.0\t1000\t4000\tbarswa\n")
    (tmp_path / "bad.txt").write_text(HEADER + "1\tSpectrogram 1\tleft\t1.0\t2.0\t1000\t4000\tbarswa\n")
    with _project(tmp_path / "p", stereo) as project:
        with pytest.raises(LabelFileError, match=r"sel.txt:2: Channel 3: S1_20240521_050000.wav has 2 channels"):
            import_files(project, "raven", [tmp_path / "sel.txt"], recording=str(stereo))
        with pytest.raises(LabelFileError, match=r"bad.txt:2: Channel 'left' is not a number"):
            import_files(project, "raven", [tmp_path / "bad.txt"], recording=str(stereo))
        assert project.annotations() == []


def test_a_mono_recordings_labels_carry_no_channel(tmp_path: Path) -> None:
    mono = tmp_path / "M_20240521_050000.wav"
    sf.write(mono, np.zeros(32000 * 5, dtype=np.float32), 32000)
    (tmp_path / "sel.txt").write_text(HEADER + "1\tSpectrogram 1\t1\t1.0\t2.0\t1000\t4000\tbarswa\n")
    with _project(tmp_path / "p", mono) as project:
        import_files(project, "raven", [tmp_path / "sel.txt"], recording=str(mono))
        assert [a.channel for a in project.annotations()] == [None]
