"""``evaluate``: a model's metrics on labelled clips, with the per-class ROC-AUC table; and the
comparison of a retrained model with the model it started from, on arrays of scores.

The comparison (:func:`comparison_metrics`) judges a model on held-out clips: macro ROC-AUC, the
precision it keeps at a given recall, how often it still calls the species of a hard negative
(a clip the user said is *not* that species), and the ROC-AUC of each species.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from sklearn.metrics import precision_recall_curve

from trainer.checkpoint import LoadedModel, load_checkpoint
from trainer.data.dataset import ClipDataset
from trainer.data.metadata import Clip, DatasetError, load_training_set
from trainer.metrics import all_metrics, macro_roc_auc, per_class_auc

#: Left in a head-only run's folder: each held-out clip's scores under the new and the parent model.
VALIDATION_SCORES_FILE = "validation_scores.npz"
#: A score at or above this is a call (for false alarms on hard negatives).
CALL_THRESHOLD = 0.5


def evaluate(
    checkpoint: str,
    data: str,
    fold: int | None = None,
    folds: int = 5,
    seed: int = 42,
    skip_bad: bool = False,
    batch_size: int = 32,
) -> tuple[dict[str, float], pd.DataFrame]:
    loaded = load_checkpoint(checkpoint)
    training_set = load_training_set(data, loaded.classes, skip_bad=skip_bad)
    rows = np.arange(len(training_set.clips))
    if fold is not None:
        rows = np.flatnonzero(training_set.folds(folds, seed) == fold)
        if len(rows) == 0:
            raise DatasetError(f"{data}: fold {fold} of {folds} has no clips")
    targets = training_set.targets()[rows]
    scores = clip_probabilities(loaded, [training_set.clips[i] for i in rows], targets, batch_size, skip_bad)
    metrics = all_metrics(targets, scores)
    metrics["clips"] = len(rows)
    return metrics, per_class_auc(targets, scores, loaded.classes)


def clip_probabilities(
    loaded: LoadedModel, clips: list[Clip], targets: np.ndarray, batch_size: int = 32, skip_bad: bool = False
) -> np.ndarray:
    """The model's probabilities for each clip (its first scored window), one column per class
    of the model."""
    dataset = ClipDataset(clips, targets, loaded.frontend, train=False, skip_bad=skip_bad)
    probabilities = []
    with torch.inference_mode():
        for mels, _ in torch.utils.data.DataLoader(dataset, batch_size=batch_size):
            probabilities.append(torch.sigmoid(loaded.model(mels)).numpy())
    return np.concatenate(probabilities) if probabilities else np.zeros((0, len(loaded.classes)), dtype=np.float32)


def align_columns(scores: np.ndarray, classes: Sequence[str], species: Sequence[str]) -> np.ndarray:
    """Scores whose columns are ``classes`` in the order of ``species``; a species not among the
    classes, and a missing (NaN) score, are 0."""
    aligned = np.zeros((len(scores), len(species)), dtype=np.float32)
    for column, code in enumerate(species):
        if code in classes:
            aligned[:, column] = np.nan_to_num(scores[:, list(classes).index(code)], nan=0.0)
    return aligned


def checkpoint_scores(checkpoint: str | Path, clips: list[Clip], targets: np.ndarray, species: list[str]) -> np.ndarray:
    """A checkpoint's probabilities for the clips, in the columns of ``species``."""
    loaded = load_checkpoint(checkpoint)
    return align_columns(clip_probabilities(loaded, clips, targets), loaded.classes, species)


def saved_validation_scores(
    run: Path, lines: Sequence[int], species: list[str], parent_checkpoint: str | Path | None
) -> tuple[np.ndarray, np.ndarray | None] | None:
    """The new and the parent model's scores a head-only run left in ``run`` (in the columns of
    ``species``; the parent's None when there is no parent), or None when there are none, or
    they are for other clips (``lines`` of the metadata) or another parent."""
    path = Path(run) / VALIDATION_SCORES_FILE
    if not path.exists():
        return None
    saved = np.load(path)
    if list(saved["lines"]) != list(lines):
        return None
    if parent_checkpoint is not None and str(saved["parent_checkpoint"]) != str(Path(parent_checkpoint).absolute()):
        return None
    classes = [str(c) for c in saved["classes"]]
    old = align_columns(saved["parent"], classes, species) if parent_checkpoint is not None else None
    return align_columns(saved["new"], classes, species), old


def precision_at_recall(targets: np.ndarray, scores: np.ndarray, recall: float) -> float:
    """Mean over the classes with positives and negatives of the best precision at which the
    class reaches ``recall``; NaN when no class has both."""
    precisions = []
    for k in range(targets.shape[1]):
        positives = targets[:, k] > 0
        if positives.any() and (~positives).any():
            precision, achieved, _ = precision_recall_curve(positives, scores[:, k])
            precisions.append(float(precision[achieved >= recall].max()))
    return float(np.mean(precisions)) if precisions else float("nan")


def hard_negative_alarms(scores: np.ndarray, species: Sequence[str], negative_for: Sequence[str]) -> np.ndarray:
    """For each clip that is a hard negative of a known species (``negative_for``: that species,
    or empty for other clips), whether the model still calls that species."""
    return np.array(
        [
            scores[row, species.index(code)] >= CALL_THRESHOLD
            for row, code in enumerate(negative_for)
            if code in species
        ],
        dtype=bool,
    )


def comparison_metrics(
    targets: np.ndarray,
    scores: np.ndarray,
    species: list[str],
    negative_for: Sequence[str],
    recall: float = 0.8,
) -> dict:
    """A model's scores (clips × ``species``) against the held-out clips' ``targets``: what the
    app shows when it compares a retrained model with its parent."""
    alarms = hard_negative_alarms(scores, species, negative_for)
    table = per_class_auc(targets, scores, species)
    return {
        "roc_auc": macro_roc_auc(targets, scores),
        "precision_at_recall": precision_at_recall(targets, scores, recall),
        "recall": recall,
        # Of the held-out hard negatives, the share where the model still calls their species.
        "false_alarm_rate": float(np.mean(alarms)) if len(alarms) else float("nan"),
        "hard_negatives": len(alarms),
        "clips": len(targets),
        "per_species": {row["class"]: row["roc_auc"] for row in table.to_dict("records") if row["positives"]},
    }
