"""Retraining on the project's own labels: the job (the trainer run in a child process on the
training set of training_set.py), its model registered as a new version with its comparison with
the model it started from, and jobs that finished while the app was closed picked up.

Quick mode trains only the head on cached embeddings of the active model's backbone; full mode
fine-tunes the whole network from the active model with the trainer's augmentations and schedule.
Both models are compared on the held-out recordings' labels, with the trainer's metrics
(trainer/evaluate.py). The model's metrics also keep the labels it used (training and held out)
and, for a head, how its scores over the whole project differ from its parent's
(``score_change``, from the stored embeddings).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from birdview.jobs.child_process import DONE, RUNNING, ChildProcessJob, JobEvent, JobState, trainer_command
from birdview.jobs.scoring import add_model
from birdview.jobs.soundscapes import SoundscapeOptions, trainer_arguments
from birdview.jobs.training_set import SPECIES_FILE, TrainingData, build_training_data
from birdview.store.project import ModelRow, Project, ProjectError
from trainer.data.layout import METADATA_FILE

MODES = ("quick", "full")
QUICK_EPOCHS, FULL_EPOCHS = 40, 8


def retrain_command(
    data: TrainingData,
    base: ModelRow | None,
    mode: str,
    out: Path,
    epochs: int | None = None,
    extra: list[str] | None = None,
) -> list[str]:
    if mode not in MODES:
        raise ProjectError(f"mode must be quick or full, not {mode!r}")
    arguments = [
        "fit",
        "--data",
        str(data.folder),
        "--out",
        str(out),
        "--species",
        str(data.species_file),
        "--progress",
        "json",
        "--fold",
        "0",
        "--folds",
        "2",
        "--batch-size",
        "16",
    ]
    if base is not None:
        arguments += ["--init-from", str(base.path)]
    elif mode == "quick":
        raise ProjectError("quick retraining starts from a model: add one first (Models ▸ Add model)")
    if mode == "quick":
        arguments += ["--head-only", "--epochs", str(epochs or QUICK_EPOCHS), "--lr", "3e-3", "--no-augment"]
    else:
        arguments += ["--epochs", str(epochs or FULL_EPOCHS), "--lr", "3e-4", "--patience", "3"]
    if not data.valid_recordings:
        raise ProjectError("validation needs labels in at least two recordings (split by recording)")
    return trainer_command(arguments + (extra or []))


@dataclass
class RetrainJob:
    process: ChildProcessJob
    data: TrainingData
    base: ModelRow | None
    mode: str


def start_retrain(
    project: Project,
    mode: str = "quick",
    base_data: Path | None = None,
    epochs: int | None = None,
    on_event: Callable[[JobEvent], None] | None = None,
    extra: list[str] | None = None,
    valid_recordings: list[int] | None = None,
    valid_fraction: float = 0.25,
    weak_negatives: int | None = None,
    soundscapes: SoundscapeOptions | None = None,
) -> RetrainJob:
    """Build the data and start the job; refused while another job of the project runs.
    ``on_event`` gets the trainer's progress events, then :class:`JobFinished` (on a thread of
    the job's). ``weak_negatives``: for a head, how many unlabelled windows of the training
    recordings are added as negatives (default :data:`~birdview.jobs.embedding_set.WEAK_NEGATIVES`).
    ``soundscapes``: a full retrain's use of the project's unlabelled recordings (background
    mixing, one pseudo-label round; see soundscapes.py)."""
    soundscapes = soundscapes or SoundscapeOptions()
    if soundscapes.used and mode != "full":
        raise ProjectError("background and pseudo-label rounds are for full retraining (Retrain (full))")
    running = running_jobs(project)
    if running:
        raise ProjectError(f"a training job is already running ({running[0].name}); wait for it or cancel it")
    base = project.active_model()
    folder = project.folder / "jobs" / time.strftime("%Y%m%d-%H%M%S")
    if base is not None and mode == "quick" and base.kind in PRETRAINED_KINDS:
        return _start_head_job(
            project, base, folder, epochs, on_event, valid_recordings, valid_fraction, weak_negatives
        )
    classes = base.classes if base is not None else []
    unlabelled, recordings = trainer_arguments(project, soundscapes, folder)
    data = build_training_data(
        project, folder / "data", classes, base.window_s if base else 5.0, valid_fraction, base_data, valid_recordings
    )
    command = retrain_command(data, base, mode, folder / "run", epochs, (extra or []) + unlabelled)
    process = ChildProcessJob(folder, on_event)
    details = {
        "mode": mode,
        "parent": base.version if base else None,
        "labels": data.labels,
        "valid_recordings": data.valid_recordings,
        "data": str(data.folder),
    }
    if soundscapes.used:
        details["soundscapes"] = {
            "background": soundscapes.background,
            "pseudo_round": soundscapes.pseudo_round,
            "recordings": recordings,
        }
    process.start(command, extra=details)
    return RetrainJob(process, data, base, mode)


#: Model kinds whose quick retraining is a head on their stored embeddings.
PRETRAINED_KINDS = ("birdnet", "perch-v2", "embedding-head")


def embedding_base(project: Project, model: ModelRow) -> ModelRow:
    """The pretrained model whose embeddings a model reads: itself, or a head's base."""
    if model.kind == "embedding-head":
        return project.model(int(model.frontend["base_version"]))
    return model


def _start_head_job(
    project: Project,
    parent: ModelRow,
    folder: Path,
    epochs: int | None,
    on_event: Callable[[JobEvent], None] | None,
    valid_recordings: list[int] | None,
    valid_fraction: float,
    weak_negatives: int | None = None,
) -> RetrainJob:
    """Quick retraining of a pretrained model: a head on its stored embeddings, in a child process."""
    import json

    from birdview.jobs.embedding_set import WEAK_NEGATIVES, build_embedding_set

    base = embedding_base(project, parent)
    weak = WEAK_NEGATIVES if weak_negatives is None else weak_negatives
    built = build_embedding_set(project, base, folder / "data", parent, valid_fraction, valid_recordings, weak)
    if not built.valid_recordings:
        raise ProjectError("validation needs labels in at least two recordings (split by recording)")
    base_info = {"version": base.version, "kind": base.kind, "name": base.name, "embedding_dim": base.embedding_dim}
    arguments = ["fit-head", "--data", str(built.path), "--out", str(folder / "run"), "--progress", "json"]
    arguments += ["--base", json.dumps(base_info)] + (["--epochs", str(epochs)] if epochs else [])
    process = ChildProcessJob(folder, on_event)
    process.start(
        trainer_command(arguments),
        extra={
            "mode": "quick",
            "head": True,
            "parent": parent.version,
            "base_version": base.version,
            "labels": built.labels,
            "valid_recordings": built.valid_recordings,
            "data": str(built.path),
            "unscored_labels": built.unscored_labels,
        },
    )
    data = TrainingData(built.path.parent, built.path, built.labels, [], built.valid_recordings)
    return RetrainJob(process, data, parent, "quick")


def _register_head(project: Project, job: ChildProcessJob, state: JobState) -> ModelRow:
    import json

    from birdview.jobs.embedding_set import score_change
    from trainer.models.head import COMPARISON_FILE, Head

    head_file = Path(state.checkpoint)
    head, _ = Head.load(head_file)
    base = project.model(int(state.extra["base_version"]))
    comparison = json.loads((head_file.parent / COMPARISON_FILE).read_text())
    windows = comparison.get("windows", {})
    weak = int(windows.get("weak_negatives", 0))
    comparison["labels_used"] = {
        "training": int(windows.get("training", 0)) - weak,
        "held_out": int(windows.get("held_out", 0)),
        "unit": "windows",
        "weak_negatives": weak,
    }
    parent = state.extra.get("parent")
    comparison["score_change"] = score_change(project, base, head, project.model(parent) if parent else None)
    return project.register_model(
        head_file,
        head.classes,
        {"base_version": base.version},
        base.window_s,
        parent=state.extra.get("parent"),
        metrics=comparison,
        log_path=str(job.log_file),
        training_labels=state.extra.get("labels", []),
        kind="embedding-head",
        name=f"{', '.join(head.classes[:3])}{'…' if len(head.classes) > 3 else ''} on {base.name}",
        hop_s=base.hop_s,
        sample_rate=base.sample_rate,
        embedding_dim=base.embedding_dim,
        licence=base.licence,
    )


@dataclass(frozen=True)
class RetrainRound:
    """One retrained model version as the Retrain dock's rounds table shows it: the labels it used,
    its metrics on the held-out labels, and how its scores over the project changed from its
    parent's (heads only: a full retrain's scores are known once it has scored the project)."""

    version: int
    parent: int | None
    #: Labelled windows (a head) or clips (a full retrain) it trained on, and those held out.
    training: int | None
    held_out: int | None
    unit: str
    roc_auc: float | None
    precision_at_recall: float | None
    recall: float
    #: Windows at or above ``threshold``, summed over the classes: before (those the parent has;
    #: None when it has none of them) and after (all of the new model's).
    detections_before: int | None
    detections_after: int | None
    #: Per class: (before or None, after).
    per_species: dict[str, tuple[int | None, int]]
    mean_abs_change: float | None
    threshold: float
    #: Unlabelled windows a head also took as negatives (not labels).
    weak_negatives: int = 0


def _number(value: object) -> float | None:
    if isinstance(value, (int, float)) and not isinstance(value, bool) and np.isfinite(value):
        return float(value)
    return None


def retrain_round(model: ModelRow) -> RetrainRound | None:
    """The model's round, or None when it is not a retrained version (no parent, no comparison)."""
    metrics = model.metrics or {}
    if model.parent is None or "new" not in metrics:
        return None
    new = metrics["new"]
    used = metrics.get("labels_used") or {}
    held_out = used.get("held_out", new.get("clips"))
    training = used.get("training")
    if training is None and held_out is not None:  # registered before the split was kept
        training = max(0, len(model.training_labels) - int(held_out))
    unit = used.get("unit", "windows" if model.kind == "embedding-head" else "clips")
    change = metrics.get("score_change") or {}
    per_species = {
        code: (counts.get("before"), int(counts.get("after", 0)))
        for code, counts in (change.get("per_species") or {}).items()
    }
    befores = [before for before, _ in per_species.values() if before is not None]
    return RetrainRound(
        version=model.version,
        parent=model.parent,
        training=None if training is None else int(training),
        held_out=None if held_out is None else int(held_out),
        unit=unit,
        roc_auc=_number(new.get("roc_auc")),
        precision_at_recall=_number(new.get("precision_at_recall")),
        recall=float(new.get("recall", 0.8)),
        detections_before=sum(befores) if befores else None,
        detections_after=sum(after for _, after in per_species.values()) if per_species else None,
        per_species=per_species,
        mean_abs_change=_number(change.get("mean_abs_change")),
        threshold=float(change.get("threshold", 0.5)),
        weak_negatives=int(used.get("weak_negatives", 0)),
    )


def retrain_rounds(models: list[ModelRow]) -> list[RetrainRound]:
    """The retrained versions among ``models``, oldest first."""
    found = [retrain_round(model) for model in sorted(models, key=lambda m: m.version)]
    return [found_round for found_round in found if found_round is not None]


def _job_states(project: Project) -> list[tuple[Path, JobState]]:
    """Each job folder of the project with its state, a job whose process is gone settled first
    (:meth:`ChildProcessJob.recover`); a folder whose state cannot be read is left out."""
    states = []
    for state_file in sorted((project.folder / "jobs").glob("*/state.json")):
        try:
            states.append((state_file.parent, ChildProcessJob(state_file.parent).recover()))
        except Exception:
            continue
    return states


def running_jobs(project: Project) -> list[Path]:
    return [folder for folder, state in _job_states(project) if state.state == RUNNING]


@dataclass
class PickedUp:
    """What :func:`register_finished_jobs` did: the new model versions, and the jobs it could
    not register (each with the reason)."""

    models: list[ModelRow] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def register_finished_jobs(project: Project) -> PickedUp:
    """Jobs that finished while nobody followed them (the app was closed, or crashed): each
    one's model registered as a new version, compared with its parent, once. Can take a while
    (a comparison may run both models): call it off the GUI thread."""
    picked_up = PickedUp()
    for folder, state in _job_states(project):
        if state.state != DONE or state.extra.get("registered"):
            continue
        try:
            model = register_result(project, folder)
        except Exception as exc:  # one broken job folder does not keep the others from registering
            picked_up.problems.append(f"{folder.name}: {exc}")
            continue
        if model is not None:
            picked_up.models.append(model)
    return picked_up


def register_result(project: Project, folder: Path) -> ModelRow | None:
    """After a job: register its model as a new version (once), compared with its parent."""
    job = ChildProcessJob(folder)
    state: JobState = job.recover()
    if state.state != DONE or not state.checkpoint:
        return None
    if state.extra.get("registered"):
        return project.model(state.extra["registered"])
    if state.extra.get("head"):
        model = _register_head(project, job, state)
        state.extra["registered"] = model.version
        job.write_state(state)
        return model
    parent = state.extra.get("parent")
    data = Path(state.extra["data"])
    comparison = compare(Path(state.checkpoint), project.model(parent).path if parent else None, data)
    model = add_model(
        project,
        state.checkpoint,
        parent=parent,
        activate=False,
        metrics=comparison,
        log_path=str(job.log_file),
        training_labels=state.extra.get("labels", []),
    )
    state.extra["registered"] = model.version
    job.write_state(state)
    return model


def compare(new_checkpoint: Path, old_checkpoint: Path | None, data: Path, recall: float = 0.8) -> dict:
    """Both models on the held-out recordings' labels (fold 0): macro ROC-AUC, precision at the
    given recall, false alarms on hard negatives, per-species AUC.

    A quick job leaves each held-out clip's scores under both models (validation_scores.npz):
    they are used when they are for these clips and this parent; otherwise both models run."""
    held_out = HeldOut.read(data)
    saved = held_out.saved_scores(Path(new_checkpoint), old_checkpoint)
    if saved is not None:
        new_scores, old_scores = saved
    else:
        new_scores = held_out.scores(Path(new_checkpoint))
        old_scores = None
        if old_checkpoint is not None and Path(old_checkpoint).exists():
            old_scores = held_out.scores(Path(old_checkpoint))
    results = {"new": held_out.metrics(new_scores, recall)}
    results["labels_used"] = {"training": held_out.training, "held_out": len(held_out.clips), "unit": "clips"}
    if old_scores is not None:
        results["old"] = held_out.metrics(old_scores, recall)
    return results


@dataclass
class HeldOut:
    """The training set's fold-0 clips: what both models are judged on."""

    data: Path
    species: list[str]
    clips: list
    targets: np.ndarray
    negative_for: np.ndarray
    #: How many clips the model was trained on (those not held out).
    training: int = 0

    @classmethod
    def read(cls, data: Path) -> HeldOut:
        import pandas as pd

        from trainer.data.metadata import load_training_set

        species = [line for line in (data / SPECIES_FILE).read_text().split() if line]
        training_set = load_training_set(data, species, skip_bad=True)
        folds = training_set.folds()
        rows = np.flatnonzero(folds == 0)
        negative_for = pd.read_csv(data / METADATA_FILE, dtype=str, keep_default_na=False)["negative_for"]
        clips = [training_set.clips[i] for i in rows]
        negative_for = negative_for.to_numpy()[[clip.line - 2 for clip in clips]]
        return cls(data, species, clips, training_set.targets()[rows], negative_for, int((folds != 0).sum()))

    def saved_scores(
        self, new_checkpoint: Path, old_checkpoint: Path | None
    ) -> tuple[np.ndarray, np.ndarray | None] | None:
        """The scores the new model's run saved for these clips, if it saved any for them."""
        from trainer.evaluate import saved_validation_scores

        lines = [clip.line for clip in self.clips]
        return saved_validation_scores(new_checkpoint.parent.parent, lines, self.species, old_checkpoint)

    def scores(self, checkpoint: Path) -> np.ndarray:
        """The model's scores for these clips, in the columns of :attr:`species`."""
        from trainer.evaluate import checkpoint_scores

        return checkpoint_scores(checkpoint, self.clips, self.targets, self.species)

    def metrics(self, scores: np.ndarray, recall: float) -> dict:
        from trainer.evaluate import comparison_metrics

        return comparison_metrics(self.targets, scores, self.species, list(self.negative_for), recall)
