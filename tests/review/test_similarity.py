"""Find more like this: cosine search over the stored embeddings."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from birdview.cli import main
from birdview.store.project import Project
from tests.trainer.perch_standin import band_hz, write_standin

RATE = 32000
WINDOW = 5.0
#: (recording, window) of each planted copy of the target call; distractors sit in other windows.
TARGETS = {0: (1, 4), 1: (2, 6), 2: (0, 3, 7)}
DISTRACTORS = {0: (2, 6), 1: (0, 4), 2: (5,)}


def _write(path: Path, targets: tuple[int, ...], distractors: tuple[int, ...], seed: int) -> None:
    rng = np.random.default_rng(seed)
    t = np.arange(int(8 * WINDOW * RATE)) / RATE
    audio = 0.02 * rng.standard_normal(len(t))
    for windows, hz in ((targets, band_hz(3)), (distractors, band_hz(8))):
        for window in windows:
            start = window * WINDOW + rng.uniform(0.5, 2.5)
            inside = (t >= start) & (t < start + 1.5)
            audio[inside] += 0.3 * rng.uniform(0.6, 1.0) * np.sin(2 * np.pi * hz * t[inside])
    sf.write(path, audio.astype(np.float32), RATE)


@pytest.fixture(scope="module")
def project_folder(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("similar")
    (root / "audio").mkdir()
    for number in TARGETS:
        _write(
            root / "audio" / f"site{number}_2024052{number}_050000.wav", TARGETS[number], DISTRACTORS[number], number
        )
    model, _ = write_standin(root / "perch")
    folder = root / "project"
    assert main(["add", "--project", str(folder), str(root / "audio")]) == 0
    assert main(["models", "--project", str(folder), "--add", "perch-v2", str(model)]) == 0
    assert main(["score", "--project", str(folder)]) == 0
    return folder


def _hits(out: Path) -> list[tuple[str, float, float]]:
    with open(out, newline="") as handle:
        return [
            (Path(r["recording"]).name[:5], float(r["start_s"]), float(r["similarity"])) for r in csv.DictReader(handle)
        ]


def test_the_planted_copies_come_first_and_the_example_itself_is_left_out(project_folder: Path, tmp_path: Path) -> None:
    out = tmp_path / "hits.csv"
    example = "site0_20240520_050000.wav:5-10"  # the copy in window 1 of recording 0
    assert main(["search", "--project", str(project_folder), "--like", example, "--top", "10", "--out", str(out)]) == 0
    hits = _hits(out)
    planted = {(f"site{n}", w * WINDOW) for n, windows in TARGETS.items() for w in windows} - {("site0", 5.0)}
    assert {(name, start) for name, start, _ in hits[: len(planted)]} == planted
    assert ("site0", 5.0) not in {(name, start) for name, start, _ in hits}
    similarities = [s for *_, s in hits]
    assert similarities == sorted(similarities, reverse=True) and len(hits) == 10


def test_several_examples_combine_and_a_site_narrows_the_search(project_folder: Path, tmp_path: Path) -> None:
    out = tmp_path / "hits.csv"
    examples = ["--like", "site0_20240520_050000.wav:5-10", "--like", "site1_20240521_050000.wav:10-15"]
    for combine in ("mean", "max"):
        args = ["search", "--project", str(project_folder), *examples, "--combine", combine, "--top", "5"]
        assert main([*args, "--out", str(out)]) == 0
        assert {(name, start) for name, start, _ in _hits(out)[:5]} == {
            ("site0", 20.0),
            ("site1", 30.0),
            ("site2", 0.0),
            ("site2", 15.0),
            ("site2", 35.0),
        }
    with Project.open(project_folder) as project:
        for recording in project.recordings():
            project.set_recording_site(recording.id, "north" if recording.name.startswith("site2") else "south")
    assert (
        main(
            ["search", "--project", str(project_folder), *examples, "--site", "north", "--top", "3", "--out", str(out)]
        )
        == 0
    )
    assert {name for name, *_ in _hits(out)} == {"site2"}


def test_bad_examples_are_named(project_folder: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "hits.csv"
    for spec, said in (
        ("nosuch.wav:0-5", "no recording 'nosuch.wav'"),
        ("site0_20240520_050000.wav:30-45", "is 40.0 s long; the span reaches 45 s"),
        ("site0_20240520_050000.wav:5", "expected RECORDING:START-END"),
        ("site0_20240520_050000.wav:9-3", "START must be at least 0 and below END"),
    ):
        assert main(["search", "--project", str(project_folder), "--like", spec, "--out", str(out)]) == 2
        assert said in capsys.readouterr().err
    assert not out.exists()


def test_an_example_in_an_unscored_recording_says_to_score_first(project_folder: Path, tmp_path: Path, capsys) -> None:
    extra = tmp_path / "late_20240530_050000.wav"
    _write(extra, (1,), (), 9)
    assert main(["add", "--project", str(project_folder), str(extra)]) == 0
    assert (
        main(
            [
                "search",
                "--project",
                str(project_folder),
                "--like",
                f"{extra.name}:5-10",
                "--out",
                str(tmp_path / "h.csv"),
            ]
        )
        == 2
    )
    assert "score the recording first (birdview score)" in capsys.readouterr().err


def test_review_keeps_the_hits_as_candidates_of_the_species(project_folder: Path, capsys) -> None:
    from birdview.review.queue import record_verdicts, verdict_of
    from birdview.review.similarity import similar_candidates, similar_list, similar_queue_with_progress

    args = ["search", "--project", str(project_folder), "--like", "site0_20240520_050000.wav:5-10", "--top", "6"]
    with pytest.raises(SystemExit):
        main([*args, "--review"])
    assert "--review needs --species CODE" in capsys.readouterr().err
    assert main([*args, "--review", "--species", "eurbla"]) == 0
    with Project.open(project_folder) as project:
        kept = similar_list(project)
        assert kept["species"] == "eurbla" and len(kept["hits"]) == 6 and len(kept["examples"]) == 1
        found = similar_candidates(project)
        names = {r.id: r.name[:5] for r in project.recordings()}
        planted = {(f"site{n}", w * WINDOW) for n, windows in TARGETS.items() for w in windows} - {("site0", 5.0)}
        assert {(names[c.recording_id], c.start_s) for c in found[: len(planted)]} == planted
        assert [c.score for c in found] == sorted((c.score for c in found), reverse=True)
        assert {c.species for c in found} == {"eurbla"}
        record_verdicts(project, found[:1], "confirm")
        assert verdict_of(project, found[0]) == "confirm"
        queue, done, total = similar_queue_with_progress(project)
        assert (done, total) == (1, 6) and [c.key() for c in queue] == [c.key() for c in found[1:]]
