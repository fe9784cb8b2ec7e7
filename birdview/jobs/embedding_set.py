"""A quick retrain's training set for a pretrained model: the project's training labels as the
stored embeddings of the windows they lie in, with targets for the project's own classes.

Each label takes the windows of the pretrained model that it covers for at least half of the
window or of itself (whichever is shorter). A call sets its species' target to 1; a hard
negative leaves that window's targets at 0 (it is the sound the head must learn to score low).
Up to :data:`WEAK_NEGATIVES` unlabelled windows of the training recordings join as negatives of
every class (training only; the held-out windows stay the user's labels), and the user's own
training windows must hold two kinds of example (calls, and windows without them).
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
#: Unlabelled windows of the training recordings drawn (seeded) as negatives of every class, as
#: agile modelling does (Perch's "weak negatives"): with hard negatives only, a head trained on a few
#: calls and their look-alikes has never seen the background and scores much of it high.
WEAK_NEGATIVES = 1000
#: A window counts as a detection of a class at or above this score (the score change of a round).
CHANGE_THRESHOLD = 0.5
#: Embeddings scored at a time when a new head is compared with its parent over the project.
CHANGE_CHUNK = 16_384


@dataclass
class EmbeddingSet:
    path: Path
    classes: list[str]
    labels: list[int]
    windows: int
    unscored_labels: int
    valid_recordings: list[int]
    #: Unlabelled windows of the training recordings added as negatives (see :func:`_weak_negatives`).
    weak_negatives: int = 0


def build_embedding_set(
    project: Project,
    base: ModelRow,
    out: Path,
    parent: ModelRow | None = None,
    valid_fraction: float = 0.25,
    valid_recordings: list[int] | None = None,
    weak_negatives: int = WEAK_NEGATIVES,
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
    training_recordings = [recording for recording in recordings if recording not in valid]
    for key in _weak_negatives(project, base, training_recordings, set(rows), weak_negatives):
        rows[key] = {"targets": set(), "negative_for": "", "weak": True}
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
    weak = np.array([rows[key].get("weak", False) for key in keys], dtype=bool)
    _check_two_kinds(y[(fold == 1) & ~weak], classes)
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
                weak=weak,
            )
    except OSError as exc:
        raise ProjectError(f"cannot write the training set {path}: {exc}") from None
    return EmbeddingSet(path, classes, used_labels, len(keys), unscored, sorted(valid), int(weak.sum()))


def _weak_negatives(
    project: Project, base: ModelRow, recordings: list[int], labelled: set[tuple[int, int]], count: int
) -> list[tuple[int, int]]:
    """Up to ``count`` (recording, window) drawn evenly (seeded: the same each time) from the
    windows of ``recordings`` that have embeddings and no label."""
    if count <= 0 or not recordings:
        return []
    sizes = np.array([len(project.embeddings(base.version, recording)) for recording in recordings], dtype=np.int64)
    total = int(sizes.sum())
    if not total:
        return []
    drawn = np.random.default_rng(0).choice(total, size=min(total, count + len(labelled)), replace=False)
    drawn.sort()
    ends = np.cumsum(sizes)
    owners = np.searchsorted(ends, drawn, side="right")
    found = []
    for index, owner in zip(drawn.tolist(), owners.tolist(), strict=True):
        key = (recordings[owner], index - int(ends[owner] - sizes[owner]))
        if key not in labelled:
            found.append(key)
    if len(found) > count:
        keep = np.random.default_rng(1).choice(len(found), size=count, replace=False)
        found = [found[i] for i in sorted(keep.tolist())]
    return found


def _check_two_kinds(train_y: np.ndarray, classes: list[str]) -> None:
    """A head learns to tell windows apart: its training windows must hold at least two kinds of
    example (calls of a class and windows without it: hard negatives or another class's calls)."""
    kinds = {tuple(row) for row in train_y.astype(np.int8).tolist()}
    if len(kinds) >= 2:
        return
    fix = "mark hard negatives (N in review) or confirm calls of another species in the training recordings"
    if not train_y.size or not train_y.any():
        raise ProjectError(
            f"the head cannot train: its training recordings hold no confirmed calls, only hard negatives; "
            f"confirm calls of {', '.join(classes)} in recordings other than the held-out ones"
        )
    raise ProjectError(
        f"the head cannot train: its {len(train_y)} training window(s) are all calls of {', '.join(classes)}, "
        f"one kind of example only; it needs windows without them too: {fix}"
    )


def score_change(
    project: Project, base: ModelRow, head, parent: ModelRow | None, threshold: float = CHANGE_THRESHOLD
) -> dict:
    """How a new head's scores differ from its parent's over every window the base model has
    embeddings for (read from the stored embeddings; no network runs): per class of the head, the
    windows at or above ``threshold`` before (None where the parent has no such class) and after,
    and the mean absolute change of the scores of the classes both have.

    The parent's scores are its head's on the same embeddings when it is a head on ``base``, else
    its stored predictions (the windows it has scored)."""
    from trainer.models.base import ModelError
    from trainer.models.head import Head

    parent_head = None
    parent_classes: list[str] = []
    if parent is not None:
        if parent.kind == "embedding-head" and int(parent.frontend.get("base_version", -1)) == base.version:
            try:
                parent_head = Head.load(parent.path)[0]
                parent_classes = parent_head.classes
            except ModelError:
                parent_head = None
        else:
            parent_classes = list(parent.classes)
    position = {code: i for i, code in enumerate(parent_classes)}
    shared = [(i, position[code]) for i, code in enumerate(head.classes) if code in position]
    new_columns = [i for i, _ in shared]
    old_columns = [j for _, j in shared]
    after = np.zeros(len(head.classes), dtype=np.int64)
    before = np.zeros(len(shared), dtype=np.int64)
    windows, compared, total_change = 0, 0, 0.0
    for recording in project.recordings():
        embeddings = project.embeddings(base.version, recording.id)
        if not len(embeddings):
            continue
        stored = None
        if shared and parent_head is None:
            stored = np.full((len(embeddings), len(shared)), np.nan, dtype=np.float32)
            for first, block in project.prediction_blocks(parent.version, recording.id, old_columns):
                block = block[: max(0, len(stored) - first)]
                stored[first : first + len(block)] = block
        for first in range(0, len(embeddings), CHANGE_CHUNK):
            block = np.asarray(embeddings[first : first + CHANGE_CHUNK], dtype=np.float32)
            new = head.probabilities(block)
            after += (new >= threshold).sum(axis=0)
            windows += len(block)
            if not shared:
                continue
            if parent_head is not None:
                old = parent_head.probabilities(block)[:, old_columns]
            else:
                old = stored[first : first + len(block)]
                have = ~np.isnan(old).any(axis=1)
                old, new = old[have], new[have]
            before += (old >= threshold).sum(axis=0)
            total_change += float(np.abs(new[:, new_columns] - old).sum())
            compared += old.size
    counts = dict.fromkeys(head.classes)
    for n, (i, _) in enumerate(shared):
        counts[head.classes[i]] = int(before[n])
    return {
        "threshold": threshold,
        "windows": windows,
        "parent": parent.version if parent is not None else None,
        "per_species": {code: {"before": counts[code], "after": int(after[i])} for i, code in enumerate(head.classes)},
        "mean_abs_change": total_change / compared if compared else None,
    }
