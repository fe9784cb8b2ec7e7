"""Retraining on the project's own labels: the training set, the job, the new model version and
its comparison with the model it started from.

The training set: confirmed or user-drawn calls and every hard negative (an all-zero target),
cut as clips into a BirdCLEF-layout folder, optionally with a base dataset. Validation is split
by recording, so no recording is in both. Quick mode trains only the head on cached embeddings
of the active model's backbone; full mode fine-tunes the whole network from the active model
with the trainer's augmentations and schedule.
"""

from __future__ import annotations

import csv
import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from sklearn.metrics import precision_recall_curve

from birdview.audio.recording import Recording
from birdview.formats.clips import clip_name, species_folder, write_clip
from birdview.jobs.scoring import add_model
from birdview.jobs.training import DONE, JobState, TrainingJob, trainer_command
from birdview.store.paths import UnsafePathError, atomic_write, child_path, staged_writes, unique_name
from birdview.store.project import Annotation, ModelRow, Project, ProjectError, RecordingRow

MODES = ("quick", "full")
QUICK_EPOCHS, FULL_EPOCHS = 40, 8
METADATA_HEADER = [
    "primary_label",
    "secondary_labels",
    "type",
    "filename",
    "rating",
    "fold",
    "label_id",
    "negative_for",
]


@dataclass
class TrainingData:
    folder: Path
    species_file: Path
    labels: list[int]
    train_recordings: list[int]
    valid_recordings: list[int]


def training_labels(project: Project) -> list[Annotation]:
    """Calls that are confirmed or were drawn by the user, and all hard negatives."""
    chosen = []
    for label in project.annotations():
        if label.kind == "hard_negative" or (
            label.kind == "call"
            and label.species
            and (label.status == "confirmed" or label.source == "user")
            and label.status != "rejected"
        ):
            chosen.append(label)
    return chosen


def _validation_recordings(recording_ids: list[int], fraction: float) -> set[int]:
    if len(recording_ids) < 2:
        return set()
    ordered = sorted(recording_ids, key=lambda i: hashlib.sha1(str(i).encode()).hexdigest())
    count = max(1, round(len(ordered) * fraction))
    return set(ordered[:count])


def build_training_data(
    project: Project,
    out: Path,
    classes: list[str],
    window_s: float = 5.0,
    valid_fraction: float = 0.25,
    base_data: Path | None = None,
    valid_recordings: list[int] | None = None,
) -> TrainingData:
    """The project's training labels cut as clips into ``out`` in a BirdCLEF layout. Folder and
    clip names are safe names inside ``out`` (whatever the species are called); a failure to
    write (a full disk...) raises :class:`ProjectError` naming the file and leaves no clips."""
    labels = training_labels(project)
    if not labels:
        raise ProjectError("no labels to learn from: confirm or draw calls, or mark hard negatives first")
    recordings = {r.id: r for r in project.recordings()}
    used = sorted({a.recording_id for a in labels})
    # The user's own held-out recordings (labels kept aside for checking), or an automatic split.
    valid = set(valid_recordings) if valid_recordings else _validation_recordings(used, valid_fraction)
    out.mkdir(parents=True, exist_ok=True)
    opened: dict[int, Recording] = {}
    try:
        # Scratch data of one job: all of it or none, not flushed to disk file by file.
        with staged_writes(sync=False):
            rows = _write_clips(labels, recordings, opened, valid, out, window_s)
            if base_data is not None:
                rows += _base_rows(base_data, out)
            metadata = out / "train_metadata.csv"
            with atomic_write(metadata) as temp, open(temp, "w", newline="", encoding="utf-8") as handle:
                writer = csv.writer(handle)
                writer.writerow(METADATA_HEADER)
                writer.writerows(rows)
            found = {a.species for a in labels if a.species} | {r[0] for r in rows if r[0]}
            species = list(classes) + sorted(found - set(classes))
            species_file = out / "species.txt"
            with atomic_write(species_file) as temp:
                temp.write_text("\n".join(species) + "\n")
    except (OSError, UnsafePathError) as exc:
        raise ProjectError(f"cannot write the training set: {exc}") from None
    finally:
        for handle in opened.values():
            handle.close()
    return TrainingData(out, species_file, [a.id for a in labels], [i for i in used if i not in valid], sorted(valid))


def _write_clips(
    labels: list[Annotation],
    recordings: dict[int, RecordingRow],
    opened: dict[int, Recording],
    valid: set[int],
    out: Path,
    window_s: float,
) -> list[list]:
    """Each label's clip under train_audio/<species or background>/; the metadata rows."""
    rows: list[list] = []
    names: set[str] = set()
    for label in labels:
        recording = recordings[label.recording_id]
        if label.recording_id not in opened:
            opened[label.recording_id] = Recording.open(recording.path)
        negative = label.kind == "hard_negative"
        folder = species_folder({"kind": label.kind, "species": label.species})
        # FLAC: lossless and several times faster to write than Vorbis.
        name = unique_name(
            Path(folder), clip_name(recording.path.stem, label.start_s, label.end_s, label.species, "flac"), names
        )
        pad = max(0.0, (window_s - (label.end_s - label.start_s)) / 2)
        target = child_path(out, "train_audio", folder, name)
        write_clip(opened[label.recording_id], label.start_s, label.end_s, target, pad)
        rows.append(
            [
                "" if negative else label.species,
                "[]",
                label.kind,
                f"{folder}/{name}",
                "5",
                0 if label.recording_id in valid else 1,
                label.id,
                label.species if negative else "",
            ]
        )
    return rows


def _base_rows(base: Path, out: Path) -> list[list]:
    """Rows of a BirdCLEF-layout base dataset, always in training; its audio linked, not copied."""
    link = out / "train_audio" / "_base"
    link.parent.mkdir(parents=True, exist_ok=True)
    if not link.exists():
        link.symlink_to((base / "train_audio").absolute(), target_is_directory=True)
    rows = []
    with open(base / "train_metadata.csv", newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            rows.append(
                [
                    row.get("primary_label", ""),
                    row.get("secondary_labels", "[]"),
                    row.get("type", ""),
                    f"_base/{row['filename']}",
                    row.get("rating", "5"),
                    -1,
                    "",
                    "",
                ]
            )
    return rows


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
    job: TrainingJob
    data: TrainingData
    base: ModelRow | None
    mode: str


def start_retrain(
    project: Project,
    mode: str = "quick",
    base_data: Path | None = None,
    epochs: int | None = None,
    on_event: Callable[[dict], None] | None = None,
    extra: list[str] | None = None,
    valid_recordings: list[int] | None = None,
    valid_fraction: float = 0.25,
) -> RetrainJob:
    """Build the data and start the job; refused while another job of the project runs."""
    running = running_jobs(project)
    if running:
        raise ProjectError(f"a training job is already running ({running[0].name}); wait for it or cancel it")
    base = project.active_model()
    folder = project.folder / "jobs" / time.strftime("%Y%m%d-%H%M%S")
    classes = base.classes if base is not None else []
    data = build_training_data(
        project, folder / "data", classes, base.window_s if base else 5.0, valid_fraction, base_data, valid_recordings
    )
    command = retrain_command(data, base, mode, folder / "run", epochs, extra)
    job = TrainingJob(folder, on_event)
    job.start(
        command,
        extra={
            "mode": mode,
            "parent": base.version if base else None,
            "labels": data.labels,
            "valid_recordings": data.valid_recordings,
            "data": str(data.folder),
        },
    )
    return RetrainJob(job, data, base, mode)


def running_jobs(project: Project) -> list[Path]:
    found = []
    for state_file in sorted((project.folder / "jobs").glob("*/state.json")):
        job = TrainingJob(state_file.parent)
        try:
            if job.recover().state == "running":
                found.append(state_file.parent)
        except Exception:
            continue
    return found


def register_result(project: Project, folder: Path) -> ModelRow | None:
    """After a job: register its model as a new version (once), compared with its parent."""
    job = TrainingJob(folder)
    state: JobState = job.recover()
    if state.state != DONE or not state.checkpoint:
        return None
    if state.extra.get("registered"):
        return project.model(state.extra["registered"])
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
    saved = _saved_scores(Path(new_checkpoint), old_checkpoint, held_out)
    if saved is not None:
        new_scores, old_scores = saved
    else:
        new_scores = _model_scores(Path(new_checkpoint), held_out)
        old_scores = None
        if old_checkpoint is not None and Path(old_checkpoint).exists():
            old_scores = _model_scores(Path(old_checkpoint), held_out)
    results = {"new": _metrics(new_scores, held_out, recall)}
    if old_scores is not None:
        results["old"] = _metrics(old_scores, held_out, recall)
    return results


@dataclass
class HeldOut:
    """The training set's fold-0 clips: what both models are judged on."""

    data: Path
    species: list[str]
    clips: list
    targets: np.ndarray
    negative_for: np.ndarray

    @classmethod
    def read(cls, data: Path) -> HeldOut:
        import pandas as pd

        from trainer.data.metadata import load_training_set

        species = [line for line in (data / "species.txt").read_text().split() if line]
        training_set = load_training_set(data, species, skip_bad=True)
        rows = np.flatnonzero(training_set.folds() == 0)
        negative_for = pd.read_csv(data / "train_metadata.csv", dtype=str, keep_default_na=False)["negative_for"]
        clips = [training_set.clips[i] for i in rows]
        negative_for = negative_for.to_numpy()[[clip.line - 2 for clip in clips]]
        return cls(data, species, clips, training_set.targets()[rows], negative_for)


def _align(scores_own: np.ndarray, classes: list[str], species: list[str]) -> np.ndarray:
    """A model's columns in the data's class order; a class the model lacks scores 0."""
    scores = np.zeros((len(scores_own), len(species)), dtype=np.float32)
    for column, code in enumerate(species):
        if code in classes:
            scores[:, column] = np.nan_to_num(scores_own[:, classes.index(code)], nan=0.0)
    return scores


def _saved_scores(
    new_checkpoint: Path, old_checkpoint: Path | None, held_out: HeldOut
) -> tuple[np.ndarray, np.ndarray | None] | None:
    path = new_checkpoint.parent.parent / "validation_scores.npz"
    if not path.exists():
        return None
    saved = np.load(path)
    if list(saved["lines"]) != [clip.line for clip in held_out.clips]:
        return None
    parent = str(saved["parent_checkpoint"])
    if old_checkpoint is not None and parent != str(Path(old_checkpoint).absolute()):
        return None
    classes = [str(c) for c in saved["classes"]]
    old = _align(saved["parent"], classes, held_out.species) if old_checkpoint is not None else None
    return _align(saved["new"], classes, held_out.species), old


def _model_scores(checkpoint: Path, held_out: HeldOut) -> np.ndarray:
    import torch

    from trainer.checkpoint import load_checkpoint
    from trainer.data.dataset import ClipDataset

    loaded = load_checkpoint(checkpoint)
    dataset = ClipDataset(held_out.clips, held_out.targets, loaded.frontend, train=False)
    probabilities = []
    with torch.inference_mode():
        for mels, _ in torch.utils.data.DataLoader(dataset, batch_size=32):
            probabilities.append(torch.sigmoid(loaded.model(mels)).numpy())
    scores_own = np.concatenate(probabilities) if probabilities else np.zeros((0, len(loaded.classes)))
    return _align(scores_own, loaded.classes, held_out.species)


def _metrics(scores: np.ndarray, held_out: HeldOut, recall: float) -> dict:
    from trainer.metrics import macro_roc_auc, per_class_auc

    species, targets = held_out.species, held_out.targets
    alarms = [scores[i, species.index(code)] >= 0.5 for i, code in enumerate(held_out.negative_for) if code in species]
    precisions = []
    for k in range(len(species)):
        positives = targets[:, k] > 0
        if positives.any() and (~positives).any():
            precision, achieved, _ = precision_recall_curve(positives, scores[:, k])
            precisions.append(float(precision[achieved >= recall].max()))
    table = per_class_auc(targets, scores, species)
    return {
        "roc_auc": macro_roc_auc(targets, scores),
        "precision_at_recall": float(np.mean(precisions)) if precisions else float("nan"),
        "recall": recall,
        # Of the held-out hard negatives, the share where the model still calls their species.
        "false_alarm_rate": float(np.mean(alarms)) if alarms else float("nan"),
        "hard_negatives": len(alarms),
        "clips": len(targets),
        "per_species": {row["class"]: row["roc_auc"] for row in table.to_dict("records") if row["positives"]},
    }
