"""A disk that fills up in the middle of an export: `birdview export` exits 2 with one line
naming the file and the reason, and leaves no partial, empty or temporary file; files that were
there before are unchanged, and a folder export removes what it had already written."""

from __future__ import annotations

import csv
import errno
import os
import stat
from pathlib import Path

import pytest
import soundfile as sf

from birdview.cli import main
from birdview.formats.labels import LabelFileError
from birdview.formats.transfer import write_detections
from birdview.jobs.training_set import build_training_data
from birdview.store.paths import WriteFailedError, atomic_write, staged_writes
from birdview.store.project import Annotation, Project, ProjectError
from tests.conftest import write_tone_file

FULL = "No space left on device"


def _files(root: Path) -> dict[Path, bytes]:
    return {Path(d) / n: (Path(d) / n).read_bytes() for d, _, names in os.walk(root) for n in names}


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A project with two recordings and five labels of two species, closed."""
    audio = tmp_path / "audio"
    audio.mkdir()
    a = write_tone_file(audio / "A_20240521_053000.wav", duration_s=6)
    b = write_tone_file(audio / "B_20240521_060000.wav", duration_s=6, seed=1)
    with Project.create(tmp_path / "project", species=["amecro", "barswa"]) as opened:
        (ra, rb), _ = opened.add_recordings([a, b])
        opened.add_annotations(
            [
                Annotation(ra.id, 0.5, 1.0, 1000.0, 5000.0, "amecro", status="confirmed"),
                Annotation(ra.id, 1.5, 2.0, species="barswa", kind="hard_negative"),
                Annotation(ra.id, 3.0, 3.5, species="amecro", status="confirmed"),
                Annotation(rb.id, 0.5, 1.25, species="barswa", status="confirmed"),
                Annotation(rb.id, 2.0, 2.5, species="amecro", status="confirmed"),
            ]
        )
    return tmp_path / "project"


def _disk_fills_in_csv(monkeypatch, writer_number: int, rows_before: int) -> None:
    """The ``writer_number``-th csv writer of the run writes ``rows_before`` rows, then the disk is full."""
    real = csv.writer
    created = []

    class Filling:
        def __init__(self, handle, *args, **kwargs) -> None:
            self.inner, self.rows = real(handle, *args, **kwargs), 0
            created.append(self)
            self.fails = len(created) == writer_number

        def writerow(self, row) -> None:
            if self.fails and self.rows >= rows_before:
                self.inner = None
                raise OSError(errno.ENOSPC, FULL)
            self.rows += 1
            self.inner.writerow(row)

        def writerows(self, rows) -> None:
            for row in rows:
                self.writerow(row)

    monkeypatch.setattr(csv, "writer", Filling)


def _disk_fills_in_audio(monkeypatch, clip_number: int) -> None:
    """Clip ``clip_number`` of the run gets part of its audio written, then the disk is full."""
    real = sf.SoundFile.write
    calls = []

    def write(self, data) -> None:
        calls.append(self.name)
        if len(set(calls)) == clip_number:
            real(self, data[: len(data) // 2])
            raise OSError(errno.ENOSPC, FULL)
        real(self, data)

    monkeypatch.setattr(sf.SoundFile, "write", write)


def _export(project: Path, fmt: str, out: Path, capsys) -> tuple[int, str]:
    code = main(["export", "--project", str(project), "--format", fmt, "--out", str(out)])
    return code, capsys.readouterr().err


def _one_line_naming(err: str, path: Path) -> None:
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("birdview export: error: ")
    assert str(path) in lines[0] and "disk full" in lines[0] and FULL in lines[0]


@pytest.mark.parametrize(("fmt", "name"), [("raven", "labels.txt"), ("birdnet", "labels.csv"), ("perch", "labels.csv")])
def test_full_disk_leaves_an_existing_table_unchanged(project, tmp_path, monkeypatch, capsys, fmt, name) -> None:
    out = tmp_path / "exported"
    out.mkdir()
    (out / name).write_text("the labels of yesterday\n")
    (out / "notes.txt").write_text("keep me\n")
    before = _files(out)
    _disk_fills_in_csv(monkeypatch, writer_number=1, rows_before=2)
    code, err = _export(project, fmt, out / name, capsys)
    assert code == 2
    _one_line_naming(err, out / name)
    assert _files(out) == before  # the old table as it was, no partial or temporary file


@pytest.mark.parametrize(("fmt", "name"), [("raven", "labels.txt"), ("perch", "labels.csv")])
def test_full_disk_leaves_no_file_where_there_was_none(project, tmp_path, monkeypatch, capsys, fmt, name) -> None:
    _disk_fills_in_csv(monkeypatch, writer_number=1, rows_before=1)
    code, err = _export(project, fmt, tmp_path / "new" / "deeper" / name, capsys)
    assert code == 2
    _one_line_naming(err, tmp_path / "new" / "deeper" / name)
    assert not (tmp_path / "new").exists()  # not even the folders it made


def test_full_disk_in_an_aoef_export(project, tmp_path, monkeypatch, capsys) -> None:
    from soundevent import io

    def save(obj, path, *args, **kwargs) -> None:
        Path(path).write_text('{"version": "1.1.0", "data": {')
        raise OSError(errno.ENOSPC, FULL)

    monkeypatch.setattr(io, "save", save)
    target = tmp_path / "exported" / "labels.json"
    code, err = _export(project, "aoef", target, capsys)
    assert code == 2
    _one_line_naming(err, target)
    assert _files(tmp_path / "exported") == {}


def test_full_disk_in_the_second_raven_table_removes_the_first(project, tmp_path, monkeypatch, capsys) -> None:
    out = tmp_path / "tables"
    out.mkdir()
    (out / "other.Table.1.selections.txt").write_text("not ours\n")
    before = _files(out)
    _disk_fills_in_csv(monkeypatch, writer_number=2, rows_before=1)
    code, err = _export(project, "raven", out, capsys)
    assert code == 2
    _one_line_naming(err, out / "B_20240521_060000.Table.1.selections.txt")
    assert _files(out) == before


def test_full_disk_in_an_audacity_folder_export(project, tmp_path, monkeypatch, capsys) -> None:
    from birdview.formats import audacity

    real, calls = audacity.encode_name, []

    def encode_name(name, kind) -> str:  # the disk fills while the third line is written
        calls.append(name)
        if len(calls) == 3:
            raise OSError(errno.ENOSPC, FULL)
        return real(name, kind)

    monkeypatch.setattr(audacity, "encode_name", encode_name)
    out = tmp_path / "audacity"
    code, err = _export(project, "audacity", out, capsys)
    assert code == 2
    _one_line_naming(err, out / "A_20240521_053000.txt")
    assert _files(out) == {}


def test_full_disk_while_cutting_clips_removes_the_clips_already_cut(project, tmp_path, monkeypatch, capsys) -> None:
    out = tmp_path / "clips"
    out.mkdir()
    (out / "mine.wav").write_bytes(b"RIFF....")
    before = _files(out)
    _disk_fills_in_audio(monkeypatch, clip_number=3)
    code, err = _export(project, "clips", out, capsys)
    assert code == 2
    _one_line_naming(err, out / "A_20240521_053000_00003.000-00003.500s_amecro.wav")
    assert _files(out) == before


@pytest.mark.parametrize("where", ["audio", "metadata"])
def test_full_disk_in_a_birdclef_export_leaves_nothing(project, tmp_path, monkeypatch, capsys, where) -> None:
    out = tmp_path / "birdclef"
    if where == "audio":
        _disk_fills_in_audio(monkeypatch, clip_number=4)
        failed = out / "train_audio" / "barswa" / "B_20240521_060000_00000.500-00001.250s_barswa.ogg"
    else:
        _disk_fills_in_csv(monkeypatch, writer_number=1, rows_before=3)
        failed = out / "train_metadata.csv"
    code, err = _export(project, "birdclef", out, capsys)
    assert code == 2
    _one_line_naming(err, failed)
    assert not out.exists()


def test_an_encoder_error_on_a_full_disk_says_disk_full(project, tmp_path, monkeypatch, capsys) -> None:
    """libsndfile reports a failed write as a bare "system error": the free space tells why."""
    import shutil

    def write(self, data) -> None:
        raise sf.LibsndfileError(2, "")

    monkeypatch.setattr(sf.SoundFile, "write", write)
    monkeypatch.setattr(shutil, "disk_usage", lambda path: shutil._ntuple_diskusage(10**9, 10**9, 0))
    code, err = _export(project, "clips", tmp_path / "clips", capsys)
    assert code == 2 and "disk full" in err and ".wav" in err
    assert _files(tmp_path / "clips") == {}


def test_retrain_training_set_on_a_full_disk(project, tmp_path, monkeypatch) -> None:
    out = tmp_path / "job" / "data"
    _disk_fills_in_audio(monkeypatch, clip_number=2)
    with Project.open(project) as opened, pytest.raises(ProjectError, match=r"training set: .*\.flac: .*disk full"):
        build_training_data(opened, out, ["amecro", "barswa"])
    assert _files(tmp_path / "job") == {}


def test_detections_export_on_a_full_disk(tmp_path, monkeypatch) -> None:
    target = tmp_path / "detections.txt"
    target.write_text("earlier detections\n")
    row = {"start_s": 1.0, "end_s": 2.0, "low_hz": None, "high_hz": None, "nyquist": 16000.0, "species": "amecro"}
    row |= {"kind": "call", "status": "confirmed", "score": 0.9, "path": "/a.wav"}
    _disk_fills_in_csv(monkeypatch, writer_number=1, rows_before=1)
    with pytest.raises(LabelFileError, match=r"detections\.txt: cannot write \(disk full"):
        write_detections("raven", [row, row], target)
    assert _files(tmp_path) == {target: b"earlier detections\n"}


# -- the helper itself ---------------------------------------------------------------------------


def test_atomic_write_keeps_permissions_like_a_plain_write(tmp_path) -> None:
    plain = tmp_path / "plain.txt"
    plain.write_text("x")
    with atomic_write(tmp_path / "new.txt") as temp:
        temp.write_text("y")
    assert stat.S_IMODE((tmp_path / "new.txt").stat().st_mode) == stat.S_IMODE(plain.stat().st_mode)
    os.chmod(plain, 0o600)
    with atomic_write(plain) as temp:
        temp.write_text("z")
    assert plain.read_text() == "z" and stat.S_IMODE(plain.stat().st_mode) == 0o600


def test_a_failed_rename_takes_back_the_files_of_the_batch(tmp_path, monkeypatch) -> None:
    (tmp_path / "b.txt").write_text("old b")
    real_replace, calls = os.replace, []

    def replace(source, target) -> None:
        calls.append(target)
        if len(calls) == 3:
            raise OSError(errno.EIO, "Input/output error")
        real_replace(source, target)

    monkeypatch.setattr(os, "replace", replace)
    with pytest.raises(WriteFailedError, match=r"c\.txt: cannot write \(Input/output error\)"), staged_writes():
        for name in ("a.txt", "b.txt", "c.txt"):
            with atomic_write(tmp_path / name) as temp:
                temp.write_text(f"new {name}")
    # a.txt was new and is gone again; b.txt had been replaced already (a rename cannot be undone).
    assert _files(tmp_path) == {tmp_path / "b.txt": b"new b.txt"}


def test_an_error_inside_the_batch_writes_nothing(tmp_path) -> None:
    with pytest.raises(KeyError), staged_writes():
        with atomic_write(tmp_path / "sub" / "a.txt") as temp:
            temp.write_text("a")
        raise KeyError("stop")
    assert _files(tmp_path) == {} and not (tmp_path / "sub").exists()
