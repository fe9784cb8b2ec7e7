"""A quick retrain's training set for a pretrained model: the project's training labels as the
stored embeddings of the windows they lie in, with targets for the project's own classes.

Each label takes the windows of the pretrained model that it covers for at least half of the
window or of itself (whichever is shorter). A call sets its species' target to 1; a hard
negative leaves that window's targets at 0 (it is the sound the head must learn to score low).
The split is by recording, as for the other retraining (birdview.jobs.training_set).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from birdview.jobs.training_set import validation_recordings
from birdview.store import labels as label_rules
from birdview.store.labels import Kind
from birdview.store.paths import atomic_write
from birdview.store.project import ModelRow, Project, ProjectError

SET_FILE = "embeddings.npz"


@dataclass
class EmbeddingSet:
    path: Path
    classes: list[str]
    labels: list[int]
    windows: int
    unscored_labels: int
    valid_recordings: list[int]


def build_embedding_set(
    project: Project,
    base: ModelRow,
    out: Path,
    parent: ModelRow | None = None,
    valid_fraction: float = 0.25,
    valid_recordings: list[int] | None = None,
) -> EmbeddingSet:
    """The training set (``embeddings.npz``) of a head on ``base``'s embeddings. ``parent``: the
    model the head would replace, whose stored scores of the held-out windows are kept for the
    comparison (default: ``base``)."""
    parent = parent or base
    labels = label_rules.training_labels(project)
    waiting = len(project.annotations(kind=Kind.CALL.value, status="unreviewed"))
    hint = f"; {waiting} call(s) are unreviewed (imported ones too): confirm them to learn from them" if waiting else ""
    if not labels:
        raise ProjectError(f"no labels to learn from: confirm or draw calls, or mark hard negatives first{hint}")
    classes = sorted({a.species for a in labels if a.kind != Kind.HARD_NEGATIVE and a.species})
    if not classes:
        raise ProjectError(f"no calls to learn from: a head needs confirmed calls of at least one species{hint}")
    column = {code: i for i, code in enumerate(classes)}
    rows: dict[tuple[int, int], dict] = {}
    used_labels, unscored = [], 0
    for label in labels:
        scored = project.scored_windows(base.version, label.recording_id)
        windows = base.windows_covering(label.start_s, label.end_s, scored)
        if not windows:
            unscored += 1
            continue
        used_labels.append(label.id)
        for window in windows:
            row = rows.setdefault((label.recording_id, window), {"targets": set(), "negative_for": ""})
            if label.kind == Kind.HARD_NEGATIVE:
                row["negative_for"] = row["negative_for"] or (label.species or "")
            else:
                row["targets"].add(column[label.species])
    if not rows:
        raise ProjectError(
            f"none of the {len(labels)} label(s) lies in windows scored by {base.label}: score their recordings "
            "first (birdview score)"
        )
    recordings = sorted({recording for recording, _ in rows})
    valid = set(valid_recordings) if valid_recordings else validation_recordings(recordings, valid_fraction)
    keys = sorted(rows)
    x = np.zeros((len(keys), base.embedding_dim), dtype=np.float32)
    parent_scores = np.full((len(keys), len(classes)), np.nan, dtype=np.float32)
    parent_columns = {code: i for i, code in enumerate(parent.classes)}
    shared = [(i, parent_columns[code]) for i, code in enumerate(classes) if code in parent_columns]
    for recording in recordings:
        embeddings = project.embeddings(base.version, recording)
        numbers = [(n, window) for n, (rec, window) in enumerate(keys) if rec == recording]
        x[[n for n, _ in numbers]] = embeddings[[window for _, window in numbers]]
        if recording in valid and shared:
            for n, window in numbers:
                _, score = project.predictions(
                    parent.version,
                    recording,
                    parent.window_start(window),
                    parent.window_start(window),
                    columns=[c for _, c in shared],
                )
                if len(score):
                    parent_scores[n, [i for i, _ in shared]] = score[0]
    y = np.zeros((len(keys), len(classes)), dtype=np.float32)
    for n, key in enumerate(keys):
        y[n, sorted(rows[key]["targets"])] = 1.0
    fold = np.array([0 if rec in valid else 1 for rec, _ in keys], dtype=np.int8)
    out.mkdir(parents=True, exist_ok=True)
    path = out / SET_FILE
    try:
        with atomic_write(path) as temporary, open(temporary, "wb") as handle:
            np.savez(
                handle,
                x=x,
                y=y,
                fold=fold,
                classes=np.array(classes),
                negative_for=np.array([rows[key]["negative_for"] for key in keys]),
                parent=parent_scores,
            )
    except OSError as exc:
        raise ProjectError(f"cannot write the training set {path}: {exc}") from None
    return EmbeddingSet(path, classes, used_labels, len(keys), unscored, sorted(valid))
