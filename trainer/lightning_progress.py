"""The Lightning callback behind ``fit --progress json``."""

from __future__ import annotations

import time
from typing import TextIO

import pytorch_lightning as pl

from trainer.progress import Started, TrainStep, Validated, emit


class JsonProgress(pl.Callback):
    def __init__(self, stream: TextIO | None = None, every_n_steps: int = 1) -> None:
        self.stream = stream
        self.every = max(1, every_n_steps)
        self._started = 0.0

    def on_train_start(self, trainer: pl.Trainer, module: pl.LightningModule) -> None:
        self._started = time.monotonic()
        self._first_step = trainer.global_step
        emit(Started(trainer.current_epoch, trainer.global_step, self._total(trainer)), self.stream)

    @staticmethod
    def _total(trainer: pl.Trainer) -> int:
        total = trainer.estimated_stepping_batches
        return int(total) if total != float("inf") else -1

    def on_train_batch_end(self, trainer: pl.Trainer, module: pl.LightningModule, outputs, batch, batch_idx) -> None:
        step = trainer.global_step
        if step % self.every:
            return
        total = self._total(trainer)
        done = step - self._first_step
        elapsed = time.monotonic() - self._started
        eta = elapsed / done * (total - step) if done > 0 and total > 0 else None
        loss = outputs["loss"].item() if isinstance(outputs, dict) and "loss" in outputs else None
        emit(TrainStep(trainer.current_epoch, step, total, loss, eta), self.stream)

    def on_validation_end(self, trainer: pl.Trainer, module: pl.LightningModule) -> None:
        if trainer.sanity_checking:
            return
        metrics = {k: float(v) for k, v in trainer.callback_metrics.items() if k.startswith("val_")}
        emit(Validated(trainer.current_epoch, trainer.global_step, self._total(trainer), metrics), self.stream)
