"""``fit``: train a classifier on a BirdCLEF-layout folder with Lightning."""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytorch_lightning as pl
import torch
import yaml
from pytorch_lightning.callbacks import EarlyStopping, ModelCheckpoint
from pytorch_lightning.loggers import CSVLogger, Logger

from trainer.checkpoint import read_checkpoint
from trainer.classes import load_species
from trainer.config import TrainConfig
from trainer.data.dataset import BirdDataModule
from trainer.data.metadata import load_training_set
from trainer.frontend import FrontEndConfig
from trainer.lightning_module import BirdModule
from trainer.metrics import all_metrics
from trainer.model import grow_head
from trainer.progress import JsonProgress, emit

log = logging.getLogger(__name__)


@dataclass
class FitResult:
    best_checkpoint: Path
    last_checkpoint: Path
    metrics: dict[str, float]
    skipped: list[str]


def _logger(config: TrainConfig, out: Path) -> Logger:
    if config.logger == "tensorboard":
        from pytorch_lightning.loggers import TensorBoardLogger

        return TensorBoardLogger(str(out), name="logs")
    if config.logger == "wandb":
        import os

        from pytorch_lightning.loggers import WandbLogger

        # Offline unless the user has set WANDB_MODE: runs are synced later with `wandb sync`.
        os.environ.setdefault("WANDB_MODE", "offline")
        return WandbLogger(save_dir=str(out), project="birdview", offline=os.environ["WANDB_MODE"] == "offline")
    return CSVLogger(str(out), name="logs")


def _initialise_from(module: BirdModule, path: str) -> None:
    """Copy weights from an earlier model; classes it did not know get a fresh head row."""
    checkpoint = read_checkpoint(path)
    old_classes = list(checkpoint["hyper_parameters"]["classes"])
    state = {k.removeprefix("model."): v for k, v in checkpoint["state_dict"].items() if k.startswith("model.")}
    head = {k: state.pop(k) for k in list(state) if k.startswith("classifier.")}
    try:
        missing, unexpected = module.model.load_state_dict(state, strict=False)
    except RuntimeError:
        raise ValueError(f"{path}: its network differs from {module.config.backbone!r}") from None
    if unexpected or any(not k.startswith("classifier.") for k in missing):
        raise ValueError(f"{path}: its backbone differs from {module.config.backbone!r}")
    old_head = torch.nn.Linear(head["classifier.weight"].shape[1], len(old_classes))
    old_head.load_state_dict({"weight": head["classifier.weight"], "bias": head["classifier.bias"]})
    module.model.classifier = grow_head(old_head, old_classes, module.classes)


def resolve_classes(species: str | None) -> list[str] | None:
    if species == "from-data":
        return None
    if species in (None, "", "birdclef2024"):
        return load_species()
    return load_species(species)


def _architecture_of(config: TrainConfig) -> TrainConfig:
    """Starting from a checkpoint means its network and front end: take them from it."""
    if not config.init_from:
        return config
    earlier = read_checkpoint(config.init_from)["hyper_parameters"]
    config.backbone = earlier["config"]["backbone"]
    config.pooling = earlier["config"].get("pooling", config.pooling)
    config.frontend = FrontEndConfig.from_dict(earlier["frontend"])
    return config


def fit(config: TrainConfig, progress_stream=None) -> FitResult:
    config.validate()
    config = _architecture_of(config)
    pl.seed_everything(config.seed, workers=True)
    out = Path(config.out)
    out.mkdir(parents=True, exist_ok=True)
    classes = resolve_classes(config.species)
    training_set = load_training_set(config.data, classes, config.min_rating, config.skip_bad)
    for warning in training_set.warnings:
        log.warning(warning)
    if training_set.skipped:
        (out / "skipped.txt").write_text("\n".join(training_set.skipped) + "\n", encoding="utf-8")
    (out / "config.yaml").write_text(yaml.safe_dump(config.as_dict(), sort_keys=False), encoding="utf-8")

    datamodule = BirdDataModule(
        training_set,
        config.frontend,
        config.augment,
        fold=config.fold,
        n_folds=config.folds,
        batch_size=config.batch_size,
        num_workers=config.num_workers,
        secondary_coef=config.secondary_coef,
        skip_bad=config.skip_bad,
        seed=config.seed,
    )
    resume_from = out / "checkpoints" / "last.ckpt" if config.resume else None
    if resume_from is not None and not resume_from.exists():
        raise FileNotFoundError(f"{resume_from}: nothing to resume (no earlier run in {out})")
    module = BirdModule(config.as_dict(), training_set.classes, build_pretrained=not (config.init_from or resume_from))
    if config.init_from and not resume_from:
        _initialise_from(module, config.init_from)
    if config.freeze_backbone or config.head_only:
        module.model.freeze_backbone()
    if config.head_only:
        return _fit_head_only(module, datamodule, config, out, training_set.skipped, progress_stream)

    checkpoints = ModelCheckpoint(
        dirpath=out / "checkpoints",
        filename="best",
        monitor="val_roc_auc",
        mode="max",
        save_last=True,
        enable_version_counter=False,
    )
    callbacks: list[pl.Callback] = [
        checkpoints,
        EarlyStopping(monitor="val_roc_auc", mode="max", patience=config.patience),
    ]
    if config.progress == "json":
        callbacks.append(JsonProgress(progress_stream))
    trainer = pl.Trainer(
        max_epochs=config.epochs,
        max_steps=config.max_steps,
        accelerator=config.accelerator,
        devices=config.devices if config.devices == "auto" else _devices(config.devices),
        num_nodes=config.num_nodes,
        strategy=config.strategy,
        precision=config.precision,
        gradient_clip_val=config.gradient_clip or None,
        callbacks=callbacks,
        logger=_logger(config, out),
        enable_progress_bar=config.progress == "bar",
        enable_model_summary=config.progress == "bar",
        log_every_n_steps=1,
        num_sanity_val_steps=0,
        deterministic=False,
    )
    trainer.fit(module, datamodule=datamodule, ckpt_path=str(resume_from) if resume_from else None)
    best = Path(checkpoints.best_model_path) if checkpoints.best_model_path else out / "checkpoints" / "last.ckpt"
    metrics = {k: float(v) for k, v in trainer.callback_metrics.items()}
    skipped = training_set.skipped + datamodule.train_set.bad + datamodule.valid_set.bad
    if config.progress == "json":
        emit({"stage": "done", "checkpoint": str(best), "metrics": metrics}, progress_stream)
    return FitResult(best, out / "checkpoints" / "last.ckpt", metrics, skipped)


def _devices(text: str) -> int | list[int] | str:
    if "," in text:
        return [int(x) for x in text.split(",") if x.strip()]
    return int(text) if text.lstrip("-").isdigit() else text


class _Embedder(torch.nn.Module):
    def __init__(self, model: torch.nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, mels: torch.Tensor) -> torch.Tensor:
        return self.model.embed(mels)


def _embedding_function(module: BirdModule, config: TrainConfig):
    """The frozen backbone's embedding: through OpenVINO on a CPU where it is installed (about 3x
    PyTorch's speed on B0), else PyTorch."""
    embedder = _Embedder(module.model).eval()
    on_cpu = config.accelerator in ("auto", "cpu") and (config.accelerator == "cpu" or not torch.cuda.is_available())
    if on_cpu:
        try:
            from trainer.openvino_backend import CompiledModule

            compiled = CompiledModule(embedder, module.config.frontend, threads=torch.get_num_threads())
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
        for mels, y in loader:
            features.append(embed(mels))
            targets.append(y)
    return torch.cat(features), torch.cat(targets)


def _fit_head_only(
    module: BirdModule, datamodule: BirdDataModule, config: TrainConfig, out: Path, skipped: list[str], stream
) -> FitResult:
    """Quick mode: the backbone is frozen, so each crop's embedding is computed once and only
    the linear head is trained on the cached embeddings (seconds, not minutes)."""
    copies = 1 if config.augment == config.augment.none() else 2
    module.eval()
    embed = _embedding_function(module, config)
    train_x, train_y = _embeddings(embed, datamodule.train_set, config.batch_size, copies)
    valid_x, valid_y = _embeddings(embed, datamodule.valid_set, config.batch_size)
    head = module.model.classifier
    with torch.no_grad():
        initial = torch.sigmoid(head(valid_x)).numpy()
    head.train()
    optimizer = torch.optim.AdamW(head.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    steps_per_epoch = max(1, math.ceil(len(train_x) / config.batch_size))
    total = steps_per_epoch * config.epochs
    scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=config.lr, total_steps=total)
    generator = torch.Generator().manual_seed(config.seed)
    loss_fn = _balanced_loss(module, train_y)
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
                emit({"stage": "train", "epoch": epoch, "step": step, "total": total, "loss": loss.item()}, stream)
        with torch.no_grad():
            probs = torch.sigmoid(head(valid_x)).numpy()
        scores = all_metrics(valid_y.numpy(), probs)
        auc = -1.0 if np.isnan(scores["roc_auc"]) else scores["roc_auc"]
        metrics = {f"val_{k}": v for k, v in scores.items()}
        if config.progress == "json":
            emit({"stage": "validate", "epoch": epoch, "step": step, "total": total, "metrics": metrics}, stream)
        # The best epoch: highest ROC-AUC, and among equals the lowest log loss (AUC alone can peak
        # long before the scores are calibrated).
        key = (auc, -scores["log_loss"])
        if key > best_key:
            best_key, best_auc, best_state = key, auc, {k: v.clone() for k, v in head.state_dict().items()}
    last = save_module(module, out / "checkpoints" / "last.ckpt")
    head.load_state_dict(best_state)
    best = save_module(module, out / "checkpoints" / "best.ckpt")
    metrics["val_roc_auc"] = best_auc
    with torch.no_grad():
        final = torch.sigmoid(head(valid_x)).numpy()
    _save_validation_scores(out, datamodule.valid_set, module.classes, config.init_from, initial, final)
    if config.progress == "json":
        emit({"stage": "done", "checkpoint": str(best), "metrics": metrics}, stream)
    return FitResult(best, last, metrics, skipped)


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
        out / "validation_scores.npz",
        classes=np.array(classes),
        lines=np.array([clip.line for clip in valid_set.clips]),
        new=final,
        parent=parent_scores,
        parent_checkpoint=np.array(str(Path(parent).absolute()) if parent else ""),
    )


def _balanced_loss(module: BirdModule, targets: torch.Tensor):
    """The user's few positives against many negatives: with BCE, weight each class's positives by
    its negatives-to-positives ratio (at most 10), so its scores stay calibrated around 0.5."""
    if module.config.loss != "bce":
        return module.loss
    positives = (targets > 0).sum(dim=0).float()
    ratio = ((len(targets) - positives) / positives.clamp_min(1)).clamp(1.0, 10.0)
    weight = torch.where(positives > 0, ratio, torch.ones_like(ratio))
    return lambda logits, y: torch.nn.functional.binary_cross_entropy_with_logits(logits, y, pos_weight=weight)


def save_module(module: BirdModule, path: Path) -> Path:
    """A checkpoint with the same layout Lightning writes (state_dict + hyper_parameters)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(".tmp")
    torch.save(
        {
            "state_dict": module.state_dict(),
            "hyper_parameters": dict(module.hparams),
            "pytorch-lightning_version": pl.__version__,
        },
        temporary,
    )
    temporary.replace(path)
    return path
