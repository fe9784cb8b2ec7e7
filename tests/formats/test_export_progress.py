"""A measured Raven export reports its progress label by label, names the recordings it cannot
read (their labels' rows kept, without measurements) and can be cancelled with nothing written:
what the window's File ▸ Export labels shows."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from birdview.formats.transfer import ExportCancelledError, export
from birdview.store.project import Annotation, Project
from tests.conftest import write_tone_file


@pytest.fixture
def project(tmp_path: Path):
    a = write_tone_file(tmp_path / "A_20240521_053000.wav", duration_s=20.0)
    b = write_tone_file(tmp_path / "B_20240521_060000.wav", duration_s=20.0)
    with Project.create(tmp_path / "project", species=["amecro"]) as project:
        project.add_recordings([a, b])
        ra, rb = project.recordings()
        project.add_annotations(
            [Annotation(ra.id, 8.0, 10.0, 2000.0, 6000.0, "amecro")]
            + [Annotation(rb.id, float(s), s + 1.0, 1000.0, 3000.0, "amecro") for s in range(3)]
        )
        yield project


def test_progress_counts_every_label_and_unreadable_recordings_are_named(project, tmp_path) -> None:
    (tmp_path / "B_20240521_060000.wav").write_bytes(b"not audio at all")
    seen: list[tuple[int, int]] = []
    problems: list[str] = []
    unreadable: dict[str, str] = {}
    (written,) = export(
        project,
        "raven",
        tmp_path / "out.txt",
        problems=problems,
        progress=lambda done, total: seen.append((done, total)),
        unreadable=unreadable,
    )
    assert seen[-1] == (4, 4) and [done for done, _ in seen] == sorted(done for done, _ in seen)
    assert list(unreadable) == [str(tmp_path / "B_20240521_060000.wav")]
    assert "not a readable audio file" in unreadable[str(tmp_path / "B_20240521_060000.wav")]
    assert len(problems) == 3 and all("B_20240521_060000.wav" in p for p in problems)
    header, *rows = written.read_text().splitlines()
    peak = header.split("\t").index("Peak Freq (Hz)")
    cells = sorted(row.split("\t")[peak] for row in rows)
    assert cells[:3] == ["", "", ""] and float(cells[3]) == pytest.approx(4000, abs=70)


def test_a_cancelled_export_raises_and_writes_nothing(project, tmp_path) -> None:
    cancel = threading.Event()

    def progress(done: int, total: int) -> None:
        cancel.set()  # the user presses Cancel after the first label

    with pytest.raises(ExportCancelledError):
        export(project, "raven", tmp_path / "out.txt", progress=progress, cancel=cancel)
    assert not (tmp_path / "out.txt").exists() and list(tmp_path.glob("*.txt")) == []
