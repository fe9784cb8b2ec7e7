"""``evaluate``: a model's metrics on labelled clips, with the per-class ROC-AUC table."""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch

from trainer.checkpoint import load_checkpoint
from trainer.data.dataset import ClipDataset
from trainer.data.metadata import DatasetError, load_training_set
from trainer.metrics import all_metrics, per_class_auc


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
    dataset = ClipDataset(
        [training_set.clips[i] for i in rows], targets, loaded.frontend, train=False, skip_bad=skip_bad
    )
    probabilities = []
    with torch.inference_mode():
        for mels, _ in torch.utils.data.DataLoader(dataset, batch_size=batch_size):
            probabilities.append(torch.sigmoid(loaded.model(mels)).numpy())
    scores = np.concatenate(probabilities)
    metrics = all_metrics(targets, scores)
    metrics["clips"] = len(rows)
    return metrics, per_class_auc(targets, scores, loaded.classes)
