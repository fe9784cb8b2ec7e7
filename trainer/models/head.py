"""A classifier head on a pretrained model's embeddings: the project's own classes (a species, a
call type, ``noise_generator``) learnt from a few confirmed windows and hard negatives, in seconds,
as BirdNET-Analyzer's Train tab and Perch's agile modelling do.

The training set is one ``.npz`` (written by birdview from the project's stored embeddings):
``x`` (windows, dim), ``y`` (windows, classes), ``fold`` (0 held out, 1 training), ``classes``,
``negative_for`` (the species a hard-negative row is not, else ""), ``parent`` (the held-out
rows' scores under the model the head replaces; NaN where it has no such class) and, optionally,
``weak`` (rows that are unlabelled windows taken as negatives, not the user's labels). The head is saved
as plain tensors and lists, read back with the weights-only loader.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import IO

import numpy as np
import torch

from trainer.checkpoint import CheckpointError, load_plain
from trainer.evaluate import comparison_metrics
from trainer.metrics import macro_roc_auc
from trainer.models.base import ModelError, ModelInfo, SpeciesName, WindowModel, sigmoid
from trainer.progress import Done, Started, TrainStep, Validated, emit
from trainer.window_stream import WindowChunk

HEAD_KIND = "embedding-head"
HEAD_FILE = "head.pt"
COMPARISON_FILE = "comparison.json"


@dataclass
class Head:
    weight: np.ndarray  # (classes, dim)
    bias: np.ndarray  # (classes,)
    classes: list[str]

    def probabilities(self, embeddings: np.ndarray) -> np.ndarray:
        return sigmoid(np.asarray(embeddings, dtype=np.float32) @ self.weight.T + self.bias)

    def save(self, path: str | Path, base: dict) -> Path:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        torch.save(
            {
                "weight": torch.from_numpy(self.weight),
                "bias": torch.from_numpy(self.bias),
                "classes": list(self.classes),
                "base": json.dumps(base),
            },
            path,
        )
        return path

    @classmethod
    def load(cls, path: str | Path) -> tuple[Head, dict]:
        try:
            saved = load_plain(path, "classifier head")
        except CheckpointError as exc:
            raise ModelError(str(exc)) from None
        if not isinstance(saved, dict) or not {"weight", "bias", "classes"} <= set(saved):
            raise ModelError(f"{path}: not a birdview classifier head (weight, bias and classes expected)")
        weight, bias = saved["weight"].float().numpy(), saved["bias"].float().numpy()
        classes = [str(code) for code in saved["classes"]]
        if weight.shape[0] != len(classes) or bias.shape != (len(classes),):
            raise ModelError(f"{path}: the head's weights do not match its {len(classes)} classes")
        return cls(weight, bias, classes), json.loads(saved.get("base") or "{}")


class HeadModel:
    """A pretrained model with a head of the project's classes: its windows and embeddings, the
    head's probabilities."""

    def __init__(self, base: WindowModel, head: Head, name: str | None = None) -> None:
        self.base, self.head = base, head
        if head.weight.shape[1] != base.info.embedding_dim:
            raise ModelError(
                f"the head takes {head.weight.shape[1]}-d embeddings, {base.info.name} gives {base.info.embedding_dim}"
            )
        self.info: ModelInfo = replace(
            base.info,
            kind=HEAD_KIND,
            name=name or f"head on {base.info.name}",
            species=tuple(SpeciesName(code) for code in head.classes),
        )

    def chunks(
        self,
        path: str | Path,
        hop_s: float,
        start_window: int = 0,
        chunk_windows: int = 48,
        on_truncated: Callable[[str], None] | None = None,
        channel: int | None = None,
    ) -> Iterator[WindowChunk]:
        return self.base.chunks(path, hop_s, start_window, chunk_windows, on_truncated, channel)

    def infer(self, inputs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        _, embeddings = self.base.infer(inputs)
        return self.head.probabilities(embeddings), embeddings


def _balanced_weights(y: torch.Tensor) -> torch.Tensor:
    """Each class's positives weighted by its negatives-to-positives ratio (1 to 10): a few
    examples against many negatives still pull the scores of the class up to 0.5."""
    positives = (y > 0).sum(dim=0).float()
    ratio = ((len(y) - positives) / positives.clamp_min(1)).clamp(1.0, 10.0)
    return torch.where(positives > 0, ratio, torch.ones_like(ratio))


def fit_head(
    data: str | Path,
    out: str | Path,
    epochs: int = 300,
    lr: float = 0.01,
    weight_decay: float = 1e-3,
    seed: int = 0,
    progress: str = "none",
    stream: IO[str] | None = None,
    base: dict | None = None,
) -> tuple[Path, dict]:
    """Train the head (full-batch AdamW on standardised-free embeddings, balanced BCE), keep the
    epoch with the best held-out ROC-AUC (then log loss), write ``head.pt`` and the comparison
    with the parent model (``comparison.json``). Returns (head file, comparison)."""
    with np.load(data, allow_pickle=False) as saved:
        x, y, fold = saved["x"].astype(np.float32), saved["y"].astype(np.float32), saved["fold"]
        classes = [str(c) for c in saved["classes"]]
        negative_for = [str(n) for n in saved["negative_for"]]
        parent = saved["parent"].astype(np.float32)
        weak = saved["weak"].astype(bool) if "weak" in saved.files else np.zeros(len(x), dtype=bool)
    train, valid = fold == 1, fold == 0
    if not train.any():
        raise ModelError(f"{data}: no training windows (every labelled window is held out)")
    if len(np.unique(y[train], axis=0)) < 2:
        raise ModelError(
            f"{data}: the training windows are all of one kind ({'calls' if y[train].any() else 'negatives'} "
            "only); a head needs calls and windows without them (hard negatives or another class)"
        )
    torch.manual_seed(seed)
    train_x, train_y = torch.from_numpy(x[train]), torch.from_numpy(y[train])
    valid_x, valid_y = torch.from_numpy(x[valid]), y[valid]
    layer = torch.nn.Linear(x.shape[1], len(classes))
    optimiser = torch.optim.AdamW(layer.parameters(), lr=lr, weight_decay=weight_decay)
    loss_fn = torch.nn.BCEWithLogitsLoss(pos_weight=_balanced_weights(train_y))
    if progress == "json":
        emit(Started(0, 0, epochs), stream)
    best_key, best_state, metrics = (-math.inf, -math.inf), None, {}
    for epoch in range(epochs):
        optimiser.zero_grad()
        loss = loss_fn(layer(train_x), train_y)
        loss.backward()
        optimiser.step()
        if progress == "json" and (epoch % 25 == 0 or epoch == epochs - 1):
            emit(TrainStep(epoch, epoch + 1, epochs, loss.item()), stream)
        if not valid.any():
            best_state = {k: v.detach().clone() for k, v in layer.state_dict().items()}
            continue
        with torch.no_grad():
            scores = torch.sigmoid(layer(valid_x)).numpy()
        found = _validation_metrics(valid_y, scores)
        if progress == "json" and (epoch % 25 == 0 or epoch == epochs - 1):
            emit(Validated(epoch, epoch + 1, epochs, {f"val_{k}": _plain(v) for k, v in found.items()}), stream)
        auc = found["roc_auc"] if not np.isnan(found["roc_auc"]) else -1.0
        key = (auc, -found["log_loss"])
        if key > best_key:
            best_key, best_state = key, {k: v.detach().clone() for k, v in layer.state_dict().items()}
            metrics = {f"val_{k}": v for k, v in found.items()}
    layer.load_state_dict(best_state)
    head = Head(layer.weight.detach().numpy().copy(), layer.bias.detach().numpy().copy(), classes)
    path = head.save(Path(out) / HEAD_FILE, base or {})
    comparison = {
        "mode": "embeddings",
        "windows": {
            "training": int(train.sum()),
            "held_out": int(valid.sum()),
            "weak_negatives": int((weak & train).sum()),
        },
    }
    if valid.any():
        new = head.probabilities(x[valid])
        comparison["new"] = comparison_metrics(y[valid], new, classes, np.array(negative_for)[valid].tolist())
        if not np.isnan(parent[valid]).all():
            old = np.nan_to_num(parent[valid], nan=0.0)
            comparison["old"] = comparison_metrics(y[valid], old, classes, np.array(negative_for)[valid].tolist())
    (Path(out) / COMPARISON_FILE).write_text(json.dumps(comparison, default=_plain))
    if progress == "json":
        emit(Done(str(path), {k: _plain(v) for k, v in metrics.items()}), stream)
    return path, comparison


def _validation_metrics(targets: np.ndarray, scores: np.ndarray) -> dict[str, float]:
    """Macro ROC-AUC over the classes with a held-out positive, and the mean binary log loss."""
    clipped = np.clip(scores, 1e-7, 1 - 1e-7)
    loss = -np.mean(targets * np.log(clipped) + (1 - targets) * np.log(1 - clipped))
    return {"roc_auc": macro_roc_auc(targets, scores), "log_loss": float(loss)}


def _plain(value: object) -> object:
    if isinstance(value, (np.floating, float)):
        return None if math.isnan(float(value)) else float(value)
    if isinstance(value, np.integer):
        return int(value)
    return value
