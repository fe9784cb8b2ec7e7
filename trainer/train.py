"""``fit``: train a classifier on a BirdCLEF-layout folder with Lightning (``--head-only`` runs
without it, see head_only.py)."""

from __future__ import annotations

import logging
from pathlib import Path

import pytorch_lightning as pl
from pytorch_lightning.callbacks import EarlyStopping, ModelCheckpoint
from pytorch_lightning.loggers import CSVLogger, Logger

from trainer.averaging import LastEpochsAverage, ema_callback
from trainer.checkpoint import CheckpointError, read_checkpoint, write_checkpoint
from trainer.config import TrainConfig
from trainer.data.background import BackgroundSource
from trainer.data.datamodule import BirdDataModule
from trainer.data.metadata import TrainingSet
from trainer.fit_common import FitResult, initialise_from, prepare_run, resolve_classes
from trainer.head_only import fit_head_only
from trainer.lightning_module import BirdModule
from trainer.lightning_progress import JsonProgress
from trainer.progress import Done, emit

__all__ = ["FitResult", "check_resumable", "fit", "resolve_classes", "save_module"]

log = logging.getLogger(__name__)


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


def fit(config: TrainConfig, progress_stream=None) -> FitResult:
    if config.head_only:
        return fit_head_only(config, progress_stream)
    config, out, training_set = prepare_run(config)
    pl.seed_everything(config.seed, workers=True)
    background = open_background(config, training_set)

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
        background=background,
    )
    resume_from = out / "checkpoints" / "last.ckpt" if config.resume else None
    if resume_from is not None:
        if not resume_from.exists():
            raise FileNotFoundError(f"{resume_from}: nothing to resume (no earlier run in {out})")
        check_resumable(resume_from, config, training_set.classes)
    module = BirdModule(config.as_dict(), training_set.classes, build_pretrained=not (config.init_from or resume_from))
    if config.init_from and not resume_from:
        initialise_from(module.model, module.classes, config.backbone, config.init_from)
    if config.freeze_backbone:
        module.model.freeze_backbone()

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
    averaging = LastEpochsAverage(out / "checkpoints", config.average_last) if config.average_last else None
    if averaging is not None:
        callbacks.append(averaging)
    if config.ema_decay:
        callbacks.append(ema_callback(config.ema_decay))
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
    # Lightning reads the checkpoint again to restore the run: with the same weights-only unpickler.
    trainer.fit(module, datamodule=datamodule, ckpt_path=str(resume_from) if resume_from else None, weights_only=True)
    best = Path(checkpoints.best_model_path) if checkpoints.best_model_path else out / "checkpoints" / "last.ckpt"
    metrics = {k: float(v) for k, v in trainer.callback_metrics.items()}
    if averaging is not None and averaging.averaged is not None:
        best, metrics = _score_averaged(trainer, module, datamodule, averaging.averaged, checkpoints, metrics)
    skipped = training_set.skipped + datamodule.train_set.bad + datamodule.valid_set.bad
    if config.progress == "json":
        emit(Done(str(best), metrics), progress_stream)
    return FitResult(best, out / "checkpoints" / "last.ckpt", metrics, skipped)


def open_background(config: TrainConfig, training_set: TrainingSet) -> BackgroundSource | None:
    """The background recordings (None without ``background_dir``); with ``background_negatives``
    that many clips cut from them are added to the training set (fold -1: training only)."""
    if not config.background_dir:
        return None
    background = BackgroundSource.from_folder(config.background_dir, config.frontend, config.skip_bad)
    training_set.skipped.extend(background.skipped)
    count = config.background_negatives
    training_set.clips.extend(background.negative_clips(len(training_set.clips) // 4 if count == -1 else count))
    return background


def _score_averaged(
    trainer: pl.Trainer,
    module: BirdModule,
    datamodule: BirdDataModule,
    averaged: Path,
    checkpoints: ModelCheckpoint,
    metrics: dict[str, float],
) -> tuple[Path, dict[str, float]]:
    """The averaged model is the run's model: its validation metrics replace the last epoch's
    (the best epoch's ROC-AUC is kept as ``best_epoch_val_roc_auc``)."""
    module.load_state_dict(read_checkpoint(averaged)["state_dict"])
    scored = trainer.validate(module, datamodule=datamodule, verbose=False)[0]
    best_score = checkpoints.best_model_score
    metrics = {**metrics, **{k: float(v) for k, v in scored.items()}}
    if best_score is not None:
        metrics["best_epoch_val_roc_auc"] = float(best_score)
    return averaged, metrics


def check_resumable(path: Path, config: TrainConfig, classes: list[str]) -> None:
    """Read the run's last checkpoint ourselves before Lightning does (without running code, see
    read_checkpoint), so a damaged or unsuitable one is reported by name, not with a traceback."""
    try:
        checkpoint = read_checkpoint(path)
    except CheckpointError as exc:
        raise CheckpointError(f"cannot resume: {exc}") from None
    if not {"optimizer_states", "loops", "epoch"} <= set(checkpoint):
        raise CheckpointError(
            f"cannot resume: {path}: holds a model but no training state (written by a head-only run?); "
            f"start a new run, with --init-from {path} to start from this model"
        )
    earlier = checkpoint["hyper_parameters"]
    if list(earlier["classes"]) != list(classes):
        raise CheckpointError(
            f"cannot resume: {path}: was trained on {len(earlier['classes'])} classes and this run has "
            f"{len(classes)} (a different species list); start a new run with --init-from {path}"
        )
    if earlier["config"]["backbone"] != config.backbone:
        raise CheckpointError(
            f"cannot resume: {path}: its backbone is {earlier['config']['backbone']!r}, not {config.backbone!r}"
        )


def _devices(text: str) -> int | list[int] | str:
    if "," in text:
        return [int(x) for x in text.split(",") if x.strip()]
    return int(text) if text.lstrip("-").isdigit() else text


def save_module(module: BirdModule, path: Path) -> Path:
    """A checkpoint with the same layout Lightning writes (state_dict + hyper_parameters)."""
    hparams = dict(module.hparams)
    return write_checkpoint(path, module.state_dict(), hparams["config"], hparams["classes"])
