"""Validation metrics (scikit-learn): the BirdCLEF macro ROC-AUC and friends."""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.metrics import log_loss, roc_auc_score, top_k_accuracy_score


def scorable_classes(y_true: np.ndarray) -> np.ndarray:
    """Classes with at least one positive (the BirdCLEF rule) and one negative (AUC needs both)."""
    positives = (y_true > 0).sum(axis=0)
    return np.flatnonzero((positives > 0) & (positives < len(y_true)))


def macro_roc_auc(y_true: np.ndarray, y_score: np.ndarray) -> float:
    """Mean ROC-AUC over the classes that have a positive; NaN when none has."""
    columns = scorable_classes(y_true)
    if len(columns) == 0:
        return float("nan")
    return float(roc_auc_score((y_true[:, columns] > 0).astype(int), y_score[:, columns], average="macro"))


def per_class_auc(y_true: np.ndarray, y_score: np.ndarray, classes: list[str]) -> pd.DataFrame:
    positives = (y_true > 0).sum(axis=0)
    rows = []
    for k in range(len(classes)):
        scorable = 0 < positives[k] < len(y_true)
        auc = roc_auc_score((y_true[:, k] > 0).astype(int), y_score[:, k]) if scorable else float("nan")
        rows.append({"class": classes[k], "positives": int(positives[k]), "roc_auc": auc})
    return pd.DataFrame(rows)


def binary_log_loss(y_true: np.ndarray, y_prob: np.ndarray) -> float:
    """Mean binary cross-entropy over every (example, class) cell."""
    return float(log_loss((y_true.ravel() > 0.5).astype(int), np.clip(y_prob.ravel(), 1e-7, 1 - 1e-7), labels=[0, 1]))


def ranked_accuracy(y_true: np.ndarray, y_score: np.ndarray, k: int = 1) -> float:
    """Share of labelled examples whose strongest label is among the k highest scores."""
    labelled = y_true.max(axis=1) > 0
    if not labelled.any():
        return float("nan")
    labels = y_true[labelled].argmax(axis=1)
    return float(top_k_accuracy_score(labels, y_score[labelled], k=k, labels=np.arange(y_true.shape[1])))


def all_metrics(y_true: np.ndarray, y_prob: np.ndarray) -> dict[str, float]:
    return {
        "roc_auc": macro_roc_auc(y_true, y_prob),
        "log_loss": binary_log_loss(y_true, y_prob),
        "top1": ranked_accuracy(y_true, y_prob, 1),
        # With five classes or fewer every label is in the top five: the figure would mean nothing.
        "top5": ranked_accuracy(y_true, y_prob, 5) if y_true.shape[1] > 5 else float("nan"),
    }
