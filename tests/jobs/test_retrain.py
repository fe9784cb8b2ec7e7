"""One-click retraining end to end: a base model that fires on a distractor, hard negatives marked
through the review actions, a quick retrain, and the new model measured on held-out recordings."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import yaml

from birdview.jobs.child_process import ChildProcessJob, JobFinished, trainer_command
from birdview.jobs.retrain import compare, register_finished_jobs, register_result, running_jobs, start_retrain
from birdview.jobs.scoring import add_model, score
from birdview.jobs.soundscapes import SoundscapeOptions
from birdview.review.queue import candidates, record_verdicts
from birdview.store.project import Project, ProjectError
from tests.synthetic_birds import RATE, SPECIES, make_dataset, recording, write_audio
from trainer.augment import AugmentConfig
from trainer.config import TrainConfig
from trainer.progress import Done, PredictStep, TrainStep
from trainer.train import fit

TINY = {
    "backbone": "test_efficientnet",
    "pretrained": False,
    "batch_size": 8,
    "lr": 3e-3,
    "num_workers": 0,
    "progress": "none",
}


@pytest.fixture(scope="module")
def base_model(tmp_path_factory) -> Path:
    """Trained where every whistle clip also has clicks: it learns to fire on clicks too."""
    root = tmp_path_factory.mktemp("base")
    make_dataset(root, clips_per_species=8, negatives=0)
    rng = np.random.default_rng(5)
    for clip in sorted((root / "train_audio" / "whistle").glob("*.ogg")):
        import soundfile as sf

        audio, _ = sf.read(clip, dtype="float32")
        clicks = recording(len(audio) / RATE, [(t, "distractor") for t in rng.uniform(0.2, 5.0, 3)], rng)
        write_audio(clip, (audio + clicks * 1.5).astype(np.float32))
    species = root / "species.txt"
    species.write_text("\n".join(SPECIES) + "\n")
    out = tmp_path_factory.mktemp("base_run")
    result = fit(
        TrainConfig(
            data=str(root),
            out=str(out),
            species=str(species),
            epochs=25,
            folds=4,
            patience=30,
            augment=AugmentConfig.none(),
            **TINY,
        )
    )
    return result.best_checkpoint


def _soundscapes(folder: Path, seed: int) -> list[Path]:
    """Recordings whose 5 s windows hold a whistle, clicks, or nothing, in a known pattern."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    paths = []
    for index in range(4):
        calls = []
        for window in range(8):
            kind = ("whistle", "distractor", None, "distractor")[window % 4]
            if kind:
                calls += [(window * 5 + t, kind) for t in (1.0, 2.5)]
        paths.append(write_audio(folder / f"R{seed}{index}_20240521_0{index}0000.wav", recording(40.0, calls, rng)))
    return paths


def _false_alarms_and_recall(checkpoint: Path, paths: list[Path]) -> tuple[float, float]:
    from trainer.inference import TorchScorer, predict

    table, _ = predict(paths, [TorchScorer(checkpoint)])
    whistle = table["whistle"].to_numpy().reshape(len(paths), 8)
    return float((whistle[:, [1, 3]] >= 0.5).mean()), float((whistle[:, 0] >= 0.5).mean())


def test_quick_retrain_on_hard_negatives_cuts_false_alarms(base_model: Path, tmp_path: Path) -> None:
    held_out = _soundscapes(tmp_path / "held_out", seed=9)
    false_before, recall_before = _false_alarms_and_recall(base_model, held_out)
    assert false_before >= 0.5 and recall_before >= 0.75  # the problem the user sees

    project = Project.create(tmp_path / "project", species=[])
    project.add_recordings(_soundscapes(tmp_path / "audio", seed=1))
    add_model(project, base_model)
    score(project.folder)
    for candidate in candidates(project, 1, "whistle", min_score=0.3):
        verdict = "confirm" if (candidate.window % 4) == 0 else "reject"
        record_verdicts(project, [candidate], verdict)  # what the Y and N keys do
    events = []
    job = start_retrain(project, "quick", on_event=events.append)
    with pytest.raises(ProjectError, match="already running"):
        start_retrain(project, "quick")  # two jobs at once are refused
    state = job.process.wait(300)
    assert state.state == "done", state.message
    assert any(isinstance(e, TrainStep) for e in events) and events[-1] == JobFinished("done", None, state.checkpoint)
    picked_up = register_finished_jobs(project)  # what opening the project does
    assert picked_up.problems == [] and len(picked_up.models) == 1
    model = picked_up.models[0]
    assert model.parent == 1 and model.version == 2 and not model.active
    assert len(model.training_labels) > 0 and Path(model.log_path).exists()
    assert model.metrics["new"]["false_alarm_rate"] < model.metrics["old"]["false_alarm_rate"]

    false_after, recall_after = _false_alarms_and_recall(model.path, held_out)
    assert false_after <= false_before - 0.3
    assert recall_after >= recall_before - 0.25

    project.activate_model(model.version)  # activate, then roll back
    assert project.active_model().version == 2
    project.activate_model(1)
    assert project.active_model().version == 1
    assert register_result(project, job.process.folder).version == 2  # registered once
    assert register_finished_jobs(project).models == []

    # The comparison from the scores the quick job saved equals running both models again.
    from birdview.jobs.retrain import HeldOut

    assert HeldOut.read(job.data.folder).saved_scores(model.path, base_model) is not None
    saved = compare(model.path, base_model, job.data.folder)
    (model.path.parent.parent / "validation_scores.npz").unlink()
    rerun = compare(model.path, base_model, job.data.folder)
    for side in ("new", "old"):
        for key in ("roc_auc", "precision_at_recall", "false_alarm_rate", "hard_negatives", "clips"):
            assert saved[side][key] == pytest.approx(rerun[side][key], abs=1e-3), (side, key)


def test_retrain_cli_prints_the_new_checkpoint(base_model: Path, tmp_path: Path) -> None:
    project = Project.create(tmp_path / "project", species=[])
    project.add_recordings(_soundscapes(tmp_path / "audio", seed=2))
    add_model(project, base_model)
    score(project.folder)
    record_verdicts(project, candidates(project, 1, "whistle", min_score=0.0)[:12], "reject")
    project.close()
    run = subprocess.run(
        [sys.executable, "-m", "birdview", "retrain", "--project", str(tmp_path / "project"), "--epochs", "3"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert run.returncode == 0, run.stderr
    last = run.stdout.strip().splitlines()[-1]
    assert last.endswith(".ckpt") and Path(last).exists()
    listed = subprocess.run(
        [sys.executable, "-m", "birdview", "models", "--project", str(tmp_path / "project")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert len(listed.stdout.strip().splitlines()) == 3  # header + two versions


def test_full_retrain_learns_from_the_unlabelled_recordings(base_model: Path, tmp_path: Path) -> None:
    """Retrain (full) with background mixing and one pseudo-label round over the recordings the
    user has not labelled (the app's advanced settings; issue 19)."""
    project = Project.create(tmp_path / "project", species=[])
    labelled, _ = project.add_recordings(_soundscapes(tmp_path / "audio", seed=4))
    unlabelled = _soundscapes(tmp_path / "site", seed=6)
    project.add_recordings(unlabelled)
    add_model(project, base_model)
    score(project.folder)
    labelled_ids = {r.id for r in labelled}
    for candidate in candidates(project, 1, "whistle", min_score=0.3):
        if candidate.recording_id in labelled_ids:
            record_verdicts(project, [candidate], "confirm" if candidate.window % 4 == 0 else "reject")
    with pytest.raises(ProjectError, match="for full retraining"):
        start_retrain(project, "quick", soundscapes=SoundscapeOptions(background=True))
    events = []
    options = SoundscapeOptions(background=True, pseudo_round=True)
    job = start_retrain(project, "full", epochs=2, on_event=events.append, soundscapes=options)
    listing = job.process.folder / "unlabelled.txt"
    assert listing.read_text().split() == [str(path.absolute()) for path in unlabelled]
    state = job.process.wait(900)
    assert state.state == "done", state.message
    assert state.extra["soundscapes"] == {"background": True, "pseudo_round": True, "recordings": 4}
    assert [e.step for e in events if isinstance(e, PredictStep)] == [0, 1, 2, 3]  # each one scored
    assert sum(isinstance(e, Done) for e in events) == 2  # round 0, then round 1 with pseudo-labels
    run = job.process.folder / "run"
    rounds = json.loads((run / "rounds.json").read_text())
    assert [r["round"] for r in rounds] == [0, 1]
    assert rounds[1]["windows_scored"] == 4 * 8 and rounds[1]["windows_kept"] > 0
    for number in (0, 1):
        config = yaml.safe_load((run / f"round{number}" / "config.yaml").read_text())
        assert config["background_dir"] == str(listing)
    assert Path(state.checkpoint).is_relative_to(run / "round1")
    model = register_result(project, job.process.folder)
    assert model.parent == 1 and model.path == Path(state.checkpoint).absolute()
    assert model.metrics["new"]["clips"] > 0


def test_a_killed_job_is_marked_failed_with_its_log(tmp_path: Path) -> None:
    job = ChildProcessJob(tmp_path / "job")
    script = (
        'import time, sys; print(\'{"stage": "train", "step": 1}\', flush=True); '
        "print('training...', file=sys.stderr, flush=True); time.sleep(60)"
    )
    job.start([sys.executable, "-c", script])
    deadline = time.time() + 20
    while not job.events and time.time() < deadline:
        time.sleep(0.05)
    assert job.events == [TrainStep(step=1)]
    os.kill(job.read_state().pid, signal.SIGKILL)
    state = job.wait(20)
    assert state.state == "failed" and "killed" in state.message and "training..." in state.message


def test_a_crashing_trainer_is_failed_and_nothing_else_changes(tmp_path: Path) -> None:
    job = ChildProcessJob(tmp_path / "job")
    job.start(
        trainer_command(
            [
                "fit",
                "--data",
                str(tmp_path / "nothing"),
                "--out",
                str(tmp_path / "o"),
                "--progress",
                "json",
                "--no-pretrained",
            ]
        )
    )
    state = job.wait(300)
    assert state.state == "failed" and "train_metadata.csv: not found" in state.message


def test_cancel_stops_the_job(tmp_path: Path) -> None:
    job = ChildProcessJob(tmp_path / "job")
    job.start([sys.executable, "-c", "import time; time.sleep(60)"])
    time.sleep(0.5)
    job.cancel(grace_s=5)
    assert job.wait(20).state == "cancelled"


def test_a_job_that_finished_while_the_app_was_closed_is_picked_up(tmp_path: Path) -> None:
    project = Project.create(tmp_path / "project", species=[])
    folder = project.folder / "jobs" / "20260101-000000"
    job = ChildProcessJob(folder)
    job.start([sys.executable, "-c", 'print(\'{"stage": "done", "checkpoint": "/x.ckpt"}\')'])
    job._process.wait(20)
    job._stop_following.set()
    assert ChildProcessJob(folder).read_state().state in ("running", "done")
    assert running_jobs(project) == []  # recovering settles it
    assert ChildProcessJob(folder).read_state().state == "done"
    picked_up = register_finished_jobs(project)  # its checkpoint is not there: said, not raised
    assert picked_up.models == [] and len(picked_up.problems) == 1 and folder.name in picked_up.problems[0]
