"""Sharded scoring (birdview-train predict --shard i/n --out part.npz) merged into a project with
birdview import-predictions (birdview.jobs.shards)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from birdview.cli import main as birdview_main
from birdview.jobs.scoring import add_model, score, windows_to_score
from birdview.jobs.shards import import_predictions
from birdview.store.project import Project, ProjectError, content_hash
from tests.synthetic_birds import soundscape
from trainer.cli import main as train_main
from trainer.predictions_file import PredictionsWriter, read_predictions_file
from trainer.predictions_file import content_hash as trainer_content_hash

NAMES = ("A_20240521_053000.wav", "B_20240521_060000.wav", "C_20240521_070000.wav")


@pytest.fixture(scope="module")
def audio(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("audio")
    soundscape(folder / NAMES[0], 62.0, [(6.0, "whistle")], seed=1)
    soundscape(folder / NAMES[1], 100.0, [(50.0, "pulses")], seed=2)
    soundscape(folder / NAMES[2], 31.0, [(3.0, "pulses")], seed=3)
    return folder


def _project(folder: Path, audio: Path, checkpoint: Path) -> Project:
    project = Project.create(folder, species=[])
    project.add_recordings([audio])
    add_model(project, checkpoint)
    return project


@pytest.fixture(scope="module")
def shards(tmp_path_factory, audio: Path, checkpoint: Path) -> list[Path]:
    """The two parts of a job array, as ``predict --shard i/2`` writes them."""
    out = tmp_path_factory.mktemp("shards")
    files = []
    for part in range(2):
        target = out / f"part-{part}.npz"
        args = ["predict", "--model", str(checkpoint), "--engine", "torch", "--audio", str(audio)]
        assert train_main([*args, "--shard", f"{part}/2", "--out", str(target)]) == 0
        files.append(target)
    return files


def _stored(project: Project) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    return {
        r.name: (project.predictions(1, r.id)[1], np.array(project.embeddings(1, r.id))) for r in project.recordings()
    }


def test_merging_shard_outputs_equals_scoring_in_one_go(
    tmp_path: Path, audio: Path, checkpoint: Path, shards, capsys
) -> None:
    with _project(tmp_path / "one-go", audio, checkpoint) as project:
        score(project.folder, engine="torch")
        expected = _stored(project)
    parts = [read_predictions_file(path) for path in shards]
    assert sorted(Path(f).name for part in parts for f in part.files) == sorted(NAMES)
    assert parts[0].identity["shard"] == "0/2" and parts[0].identity["hop_s"] == 5.0
    with _project(tmp_path / "merged", audio, checkpoint) as project:
        result = import_predictions(project, 1, shards)
        assert (result.windows, result.recordings, result.already_scored) == (13 + 20 + 7, 3, 0)
        assert windows_to_score(project, 1) == {}
        for name, (scores, vectors) in _stored(project).items():
            assert scores.shape == expected[name][0].shape and vectors.shape == expected[name][1].shape
            np.testing.assert_allclose(scores, expected[name][0], atol=2e-3)
            np.testing.assert_allclose(vectors, expected[name][1], atol=2e-2)
    # headless, and a second import adds nothing twice
    assert (
        birdview_main(["import-predictions", "--project", str(tmp_path / "merged"), "--model", "1", *map(str, shards)])
        == 0
    )
    assert "0 window(s) of 0 recording(s) imported; 3 recording(s) were scored already" in capsys.readouterr().out


def _rewritten(original: Path, target: Path, **identity) -> Path:
    """A copy of a predictions file with its identity changed."""
    part = read_predictions_file(original)
    writer = PredictionsWriter(target, {**part.identity, **identity})
    for number, name in enumerate(part.files):
        writer.add(name, part.scores(number), part.embeddings(number))
    return writer.close(part.skipped)


def _refused(project: Project, files: list[Path], *patterns: str) -> str:
    with pytest.raises(ProjectError) as caught:
        import_predictions(project, 1, files)
    message = str(caught.value)
    assert message.startswith("nothing imported: "), message
    for pattern in patterns:
        assert pattern in message, message
    assert all(project.scored_windows(1, r.id) == 0 for r in project.recordings())
    return message


def test_shards_of_another_model_or_window_are_refused_with_the_reason(
    tmp_path: Path, audio: Path, checkpoint: Path, shards
) -> None:
    with _project(tmp_path / "project", audio, checkpoint) as project:
        other_file = _rewritten(shards[0], tmp_path / "other.npz", model_sha256="0" * 64, source="/x/other.ckpt")
        _refused(project, [shards[1], other_file], "other.npz: made with another model file: /x/other.ckpt")
        longer = _rewritten(shards[0], tmp_path / "long.npz", window_s=3.0)
        _refused(project, [longer], "long.npz: it has 3 s windows", "5 s windows")
        classes = _rewritten(shards[0], tmp_path / "classes.npz", classes=["a", "b"])
        _refused(project, [classes], "its 2 classes are not the 4 of model v1")
        birdnet = _rewritten(shards[0], tmp_path / "birdnet.npz", kind="birdnet", name="BirdNET V2.4")
        _refused(project, [birdnet], "made with BirdNET V2.4 (birdnet), not the project's model v1 model.ckpt")
        # the command says it too, and exits 2
        assert birdview_main(["import-predictions", "--project", str(project.folder), "--model", "1", str(longer)]) == 2


def test_another_hop_is_refused_once_the_model_has_windows(
    tmp_path: Path, audio: Path, checkpoint: Path, shards
) -> None:
    overlapped = tmp_path / "overlap.npz"
    args = ["predict", "--model", str(checkpoint), "--engine", "torch", "--audio", str(audio / NAMES[2])]
    assert train_main([*args, "--overlap", "0.5", "--out", str(overlapped)]) == 0
    with _project(tmp_path / "project", audio, checkpoint) as project:
        import_predictions(project, 1, [shards[0]])
        with pytest.raises(ProjectError, match=r"every 2\.5 s \(predict --overlap 0\.5\), the project's model v1"):
            import_predictions(project, 1, [overlapped])
    with _project(tmp_path / "fresh", audio, checkpoint) as project:  # nothing scored yet: it takes the hop
        assert import_predictions(project, 1, [overlapped]).windows == 12
        assert project.model(1).hop_s == 2.5


def test_recordings_are_matched_by_path_or_content(tmp_path: Path, audio: Path, checkpoint: Path) -> None:
    moved = tmp_path / "mounted-elsewhere"
    moved.mkdir()
    shutil.copy(audio / NAMES[2], moved / "renamed.wav")
    stranger = tmp_path / "stranger"
    stranger.mkdir()
    soundscape(stranger / "Z.wav", 12.0, [(3.0, "pulses")], seed=9)
    for folder in (moved, stranger):
        args = ["predict", "--model", str(checkpoint), "--engine", "torch", "--audio", str(folder)]
        assert train_main([*args, "--out", str(folder / "part.npz")]) == 0
    assert trainer_content_hash(moved / "renamed.wav") == content_hash(moved / "renamed.wav")
    with _project(tmp_path / "project", audio, checkpoint) as project:
        _refused(project, [stranger / "part.npz"], "Z.wav: not a recording of this project")
        result = import_predictions(project, 1, [moved / "part.npz"])
        assert (result.windows, result.recordings) == (7, 1)
        assert project.scored_windows(1, project.recording_by_path(audio / NAMES[2]).id) == 7


def test_a_predictions_file_is_plain_arrays(shards) -> None:
    with np.load(shards[0], allow_pickle=False) as archive:
        identity = json.loads(str(archive["identity"]))
        assert identity["format"] == "birdview-predictions" and identity["kind"] == "birdview-train"
        assert archive["scores_0"].dtype == np.float16
    assert not list(shards[0].parent.glob("*.partial"))
