"""Quick mode (``fit --head-only``): the backbone is frozen, so each clip's embedding is computed
once and only the linear head is trained on the cached embeddings: seconds, not minutes.

Imports no Lightning (about 3.5 s of start-up the app's quick retrain would wait for); writes the
same checkpoint layout as the Lightning runs.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch

from trainer.checkpoint import read_checkpoint, write_checkpoint
from trainer.config import TrainConfig
from trainer.data.dataset import split_datasets
from trainer.evaluate import VALIDATION_SCORES_FILE
from trainer.fit_common import FitResult, initialise_from, log, prepare_run, seed_everything
from trainer.metrics import all_metrics
from trainer.model import BirdClassifier, loss_function
from trainer.progress import Done, TrainStep, Validated, emit


class _Embedder(torch.nn.Module):
    def __init__(self, model: BirdClassifier) -> None:
        super().__init__()
        self.model = model

    def forward(self, mels: torch.Tensor) -> torch.Tensor:
        return self.model.embed(mels)


def _embedding_function(model: BirdClassifier, config: TrainConfig):
    """The frozen backbone's embedding: through OpenVINO on a CPU where it is installed (about 3x
    PyTorch's speed on B0), else PyTorch."""
    embedder = _Embedder(model).eval()
    on_cpu = config.accelerator == "cpu" or (config.accelerator == "auto" and not torch.cuda.is_available())
    if on_cpu:
        try:
            from trainer.openvino_backend import CompiledModule

            compiled = CompiledModule(embedder, config.frontend, threads=torch.get_num_threads())
            return lambda mels: torch.from_numpy(compiled(mels.numpy()))
        except ImportError:
            pass
        except Exception as exc:  # an architecture OpenVINO cannot take: PyTorch does the same work
            log.warning("OpenVINO cannot run this backbone (%s); computing embeddings with PyTorch", exc)
    return embedder


@torch.no_grad()
def _embeddings(embed, dataset, batch_size: int, copies: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
    features, targets = [], []
    for _ in range(copies):
        loader = torch.utils.data.DataLoader(dataset, batch_size=batch_size, shuffle=False)
        for mels, y, *_ in loader:
            features.append(embed(mels))
            targets.append(y)
    return torch.cat(features), torch.cat(targets)


def _balanced_loss(config: TrainConfig, targets: torch.Tensor):
    """The user's few positives against many negatives: with BCE, weight each class's positives by
    its negatives-to-positives ratio (at most 10), so its scores stay calibrated around 0.5."""
    if config.loss != "bce":
        return loss_function(config.loss)
    positives = (targets > 0).sum(dim=0).float()
    ratio = ((len(targets) - positives) / positives.clamp_min(1)).clamp(1.0, 10.0)
    weight = torch.where(positives > 0, ratio, torch.ones_like(ratio))
    return lambda logits, y: torch.nn.functional.binary_cross_entropy_with_logits(logits, y, pos_weight=weight)


def _save_validation_scores(
    out: Path, valid_set, classes: list[str], parent: str | None, initial: np.ndarray, final: np.ndarray
) -> None:
    """validation_scores.npz: each held-out clip's probabilities under the new head and under the
    parent model (the same frozen backbone with the head it started from), so the app compares
    the two models without running the backbone again. Classes the parent lacks are NaN there."""
    parent_classes = read_checkpoint(parent)["hyper_parameters"]["classes"] if parent else []
    parent_scores = np.full_like(initial, np.nan)
    for column, code in enumerate(classes):
        if code in parent_classes:
            parent_scores[:, column] = initial[:, column]
    np.savez(
        out / VALIDATION_SCORES_FILE,
        classes=np.array(classes),
        lines=np.array([clip.line for clip in valid_set.clips]),
        new=final,
        parent=parent_scores,
        parent_checkpoint=np.array(str(Path(parent).absolute()) if parent else ""),
    )


def fit_head_only(config: TrainConfig, progress_stream=None) -> FitResult:
    config, out, training_set = prepare_run(config)
    seed_everything(config.seed)
    train_set, valid_set = split_datasets(
        training_set,
        config.frontend,
        config.augment,
        config.fold,
        config.folds,
        config.secondary_coef,
        config.skip_bad,
        config.seed,
    )
    classes = training_set.classes
    build_pretrained = not config.init_from
    model = BirdClassifier(
        n_classes=len(classes),
        backbone=config.backbone,
        pretrained=config.pretrained and build_pretrained,
        weights_file=config.weights if build_pretrained else None,
        pooling=config.pooling,
        dropout=config.dropout,
    )
    if config.init_from:
        initialise_from(model, classes, config.backbone, config.init_from)
    model.freeze_backbone()
    model.eval()

    copies = 1 if config.augment == config.augment.none() else 2
    embed = _embedding_function(model, config)
    train_x, train_y = _embeddings(embed, train_set, config.batch_size, copies)
    valid_x, valid_y = _embeddings(embed, valid_set, config.batch_size)
    head = model.classifier
    with torch.no_grad():
        initial = torch.sigmoid(head(valid_x)).numpy()
    head.train()
    optimizer = torch.optim.AdamW(head.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    steps_per_epoch = max(1, math.ceil(len(train_x) / config.batch_size))
    total = steps_per_epoch * config.epochs
    scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=config.lr, total_steps=total)
    generator = torch.Generator().manual_seed(config.seed)
    loss_fn = _balanced_loss(config, train_y)
    best_key, best_auc, best_state, step = (-1.0, float("-inf")), -1.0, None, 0
    metrics: dict[str, float] = {}
    for epoch in range(config.epochs):
        order = torch.randperm(len(train_x), generator=generator)
        for start in range(0, len(train_x), config.batch_size):
            rows = order[start : start + config.batch_size]
            loss = loss_fn(head(train_x[rows]), train_y[rows])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            scheduler.step()
            step += 1
            if config.progress == "json":
                emit(TrainStep(epoch, step, total, loss.item()), progress_stream)
        with torch.no_grad():
            probs = torch.sigmoid(head(valid_x)).numpy()
        scores = all_metrics(valid_y.numpy(), probs)
        auc = -1.0 if np.isnan(scores["roc_auc"]) else scores["roc_auc"]
        metrics = {f"val_{k}": v for k, v in scores.items()}
        if config.progress == "json":
            emit(Validated(epoch, step, total, metrics), progress_stream)
        # The best epoch: highest ROC-AUC, and among equals the lowest log loss (AUC alone can peak
        # long before the scores are calibrated).
        key = (auc, -scores["log_loss"])
        if key > best_key:
            best_key, best_auc, best_state = key, auc, {k: v.clone() for k, v in head.state_dict().items()}
    model.eval()

    def save(path: Path) -> Path:
        state = {f"model.{k}": v for k, v in model.state_dict().items()}
        return write_checkpoint(path, state, config.as_dict(), classes)

    last = save(out / "checkpoints" / "last.ckpt")
    head.load_state_dict(best_state)
    best = save(out / "checkpoints" / "best.ckpt")
    metrics["val_roc_auc"] = best_auc
    with torch.no_grad():
        final = torch.sigmoid(head(valid_x)).numpy()
    _save_validation_scores(out, valid_set, classes, config.init_from, initial, final)
    if config.progress == "json":
        emit(Done(str(best), metrics), progress_stream)
    skipped = training_set.skipped + train_set.bad + valid_set.bad
    return FitResult(best, last, metrics, skipped)
