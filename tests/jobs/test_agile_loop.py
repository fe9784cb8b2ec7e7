"""The agile loop on a pretrained model's stored embeddings (issue #16): a head for a call type the
model has no class for, learnt from five examples and a few hard negatives; scoring from the stored
embeddings; how each round's scores changed; a head that cannot train."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from sklearn.metrics import roc_auc_score

from birdview.cli import main
from birdview.jobs.retrain import register_result, retrain_rounds, start_retrain
from birdview.jobs.scoring import score
from birdview.store.labels import Annotation
from birdview.store.project import Project, ProjectError
from tests.trainer.perch_standin import band_hz, write_standin

RATE = 32000
WINDOW = 5.0
WINDOWS = 16
TARGET = "trill"
#: The target call sounds in two bands at once; each distractor in one of them alone, so no single
#: class of the model stands for the target, and a window's loudest band does not tell them apart.
TARGET_BANDS, DISTRACTOR_BANDS = (2, 5), ((2,), (5,))


def layout(number: int) -> tuple[list[int], list[int]]:
    """(target windows, distractor windows) of recording ``number``."""
    targets = sorted((w + number) % WINDOWS for w in (1, 6, 11))
    distractors = sorted((w + number) % WINDOWS for w in (3, 8, 13, 15))
    return targets, distractors


def write_recording(path: Path, number: int) -> Path:
    rng = np.random.default_rng(100 + number)
    t = np.arange(int(WINDOWS * WINDOW * RATE)) / RATE
    audio = 0.02 * rng.standard_normal(len(t))
    targets, distractors = layout(number)
    sounds = [(w, TARGET_BANDS) for w in targets] + [(w, DISTRACTOR_BANDS[k % 2]) for k, w in enumerate(distractors)]
    for window, bands in sounds:
        start = window * WINDOW + rng.uniform(0.5, 2.5)
        inside = (t >= start) & (t < start + 1.5)
        for band in bands:
            audio[inside] += 0.3 * rng.uniform(0.6, 1.0) * np.sin(2 * np.pi * band_hz(band) * t[inside])
    sf.write(path, audio.astype(np.float32), RATE)
    return path


def make_project(root: Path, recordings: int = 4) -> Path:
    """Recordings ``rec0``… scored by a Perch stand-in (its embeddings kept); the project's own
    class ``trill``, which the model does not have."""
    (root / "audio").mkdir(parents=True)
    for number in range(recordings):
        write_recording(root / "audio" / f"rec{number}_2024052{number}_050000.wav", number)
    model, _ = write_standin(root / "perch")
    folder = root / "project"
    assert main(["add", "--project", str(folder), str(root / "audio")]) == 0
    assert main(["models", "--project", str(folder), "--add", "perch-v2", str(model)]) == 0
    assert main(["score", "--project", str(folder)]) == 0
    with Project.open(folder) as project:
        project.add_species([(TARGET, None, None)])
    return folder


def recording_ids(project: Project) -> dict[int, int]:
    """Recording number -> id."""
    return {int(r.name[3]): r.id for r in project.recordings()}


def example_labels(project: Project, plan: dict[int, tuple[int, int]]) -> list[Annotation]:
    """Per recording number, (how many of its target windows, how many of its distractors) as
    labels: the targets as calls of ``trill``, the distractors as its hard negatives."""
    ids = recording_ids(project)
    labels = []
    for number, (calls, negatives) in plan.items():
        targets, distractors = layout(number)
        labels += [Annotation(ids[number], w * WINDOW, (w + 1) * WINDOW, species=TARGET) for w in targets[:calls]]
        labels += [
            Annotation(ids[number], w * WINDOW, (w + 1) * WINDOW, species=TARGET, kind="hard_negative")
            for w in distractors[:negatives]
        ]
    return labels


#: Five examples of the target (3 + 2) and 8 hard negatives in recordings 0 and 1 (training);
#: two of each in recording 2 (held out); recording 3 unlabelled.
FIVE_EXAMPLES = {0: (3, 4), 1: (2, 4), 2: (2, 2)}
HELD_OUT = 2


def quick_round(project: Project, held_out: list[int]):
    job = start_retrain(project, "quick", valid_recordings=held_out)
    state = job.process.wait()
    assert state.state == "done", state.message
    return register_result(project, job.process.folder)


def head_scores(project: Project, model, recording_id: int) -> np.ndarray:
    from trainer.models.head import Head

    head, _ = Head.load(model.path)
    return head.probabilities(np.asarray(project.embeddings(model.version, recording_id), dtype=np.float32))


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    return make_project(tmp_path_factory.mktemp("agile"))


def test_five_examples_separate_the_target_from_the_distractors_on_held_out_recordings(
    folder: Path, tmp_path: Path
) -> None:
    import shutil

    shutil.copytree(folder, tmp_path / "project")
    with Project.open(tmp_path / "project") as project:
        ids = recording_ids(project)
        project.add_annotations(example_labels(project, FIVE_EXAMPLES))
        head = quick_round(project, [ids[HELD_OUT]])
        assert head.kind == "embedding-head" and head.classes == [TARGET]
        project.activate_model(head.version)
        result = score(project.folder)  # from the stored embeddings
        assert result.windows == 4 * WINDOWS and not result.problems
        truth, scores = [], []
        for number in (HELD_OUT, 3):  # recording 3 has no label at all
            targets, distractors = layout(number)
            _, found = project.predictions(head.version, ids[number])
            for window in range(WINDOWS):
                truth.append(window in targets)
                scores.append(found[window, 0])
            # Every distractor scores below every target call.
            assert max(found[distractors, 0]) < min(found[targets, 0])
        assert roc_auc_score(truth, scores) > 0.95
        # What the round kept: the labels it used, and its detections against the model's none.
        (found_round,) = retrain_rounds(project.models())
        assert (found_round.training, found_round.held_out) == (5 + 8, 2 + 2)
        assert found_round.detections_before is None
        expected = sum(int((head_scores(project, head, i) >= 0.5).sum()) for i in ids.values())
        assert found_round.detections_after == expected
        assert found_round.mean_abs_change is None


def test_rescoring_from_stored_embeddings_equals_running_the_network(folder: Path, tmp_path: Path) -> None:
    import shutil

    from trainer.models.head import Head, HeadModel
    from trainer.models.registry import load_model

    shutil.copytree(folder, tmp_path / "project")
    with Project.open(tmp_path / "project") as project:
        ids = recording_ids(project)
        project.add_annotations(example_labels(project, FIVE_EXAMPLES))
        head_row = quick_round(project, [ids[HELD_OUT]])
        project.activate_model(head_row.version)
        score(project.folder)
        base = project.model(int(head_row.frontend["base_version"]))
        network = HeadModel(load_model(base.kind, base.path), Head.load(head_row.path)[0])
        for recording in project.recordings():
            ran = np.concatenate(
                [network.infer(chunk.inputs)[0] for chunk in network.chunks(recording.path, head_row.hop_s)]
            )
            _, stored = project.predictions(head_row.version, recording.id)
            assert stored.shape == ran.shape == (WINDOWS, 1)
            # Stored as float16: equal to its precision.
            np.testing.assert_allclose(stored, ran, atol=2e-3, rtol=2e-3)


def test_a_second_round_reports_its_score_change_against_the_first(folder: Path, tmp_path: Path) -> None:
    import shutil

    shutil.copytree(folder, tmp_path / "project")
    with Project.open(tmp_path / "project") as project:
        ids = recording_ids(project)
        project.add_annotations(example_labels(project, {0: (1, 1), 1: (1, 1), 2: (1, 1)}))
        first = quick_round(project, [ids[HELD_OUT]])
        project.activate_model(first.version)
        project.add_annotations(example_labels(project, {0: (3, 4)}))  # adds to recording 0's labels
        second = quick_round(project, [ids[HELD_OUT]])
        assert second.parent == first.version
        rounds = retrain_rounds(project.models())
        assert [r.version for r in rounds] == [first.version, second.version]
        before = {i: head_scores(project, first, i) for i in ids.values()}
        after = {i: head_scores(project, second, i) for i in ids.values()}
        assert rounds[1].detections_before == sum(int((s >= 0.5).sum()) for s in before.values())
        assert rounds[1].detections_after == sum(int((s >= 0.5).sum()) for s in after.values())
        change = np.mean(np.concatenate([np.abs(after[i] - before[i]).ravel() for i in ids.values()]))
        assert rounds[1].mean_abs_change == pytest.approx(change, rel=1e-4, abs=1e-6)
        assert rounds[1].per_species[TARGET] == (rounds[1].detections_before, rounds[1].detections_after)


def test_a_head_with_one_kind_of_example_is_refused_and_no_version_is_registered(folder: Path, tmp_path: Path) -> None:
    import shutil

    shutil.copytree(folder, tmp_path / "project")
    with Project.open(tmp_path / "project") as project:
        ids = recording_ids(project)
        project.add_annotations(example_labels(project, {0: (3, 0), 1: (2, 0), 2: (1, 0)}))  # calls only
        with pytest.raises(ProjectError) as refused:
            start_retrain(project, "quick", valid_recordings=[ids[HELD_OUT]])
        said = str(refused.value)
        assert "cannot train" in said and "trill" in said and "hard negatives" in said
        assert len(project.models()) == 1
        assert not list((project.folder / "jobs").glob("*/state.json"))


def test_the_trainer_refuses_a_training_set_of_one_kind(tmp_path: Path) -> None:
    from trainer.models.base import ModelError
    from trainer.models.head import fit_head

    rng = np.random.default_rng(0)
    data = tmp_path / "embeddings.npz"
    np.savez(
        data,
        x=rng.standard_normal((6, 8)).astype(np.float32),
        y=np.ones((6, 1), dtype=np.float32),
        fold=np.array([1, 1, 1, 1, 0, 0], dtype=np.int8),
        classes=np.array([TARGET]),
        negative_for=np.array([""] * 6),
        parent=np.full((6, 1), np.nan, dtype=np.float32),
    )
    with pytest.raises(ModelError, match="all of one kind"):
        fit_head(data, tmp_path / "run")
    assert not (tmp_path / "run" / "head.pt").exists()
