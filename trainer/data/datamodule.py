"""The LightningDataModule over the training and validation clips (Lightning is imported here only,
so inference and quick head-only training start without it)."""

from __future__ import annotations

import pytorch_lightning as pl
from torch.utils.data import DataLoader

from trainer.augment import AugmentConfig
from trainer.data.dataset import Background, split_datasets
from trainer.data.metadata import TrainingSet
from trainer.frontend import FrontEndConfig


class BirdDataModule(pl.LightningDataModule):
    def __init__(
        self,
        training_set: TrainingSet,
        frontend: FrontEndConfig,
        augment: AugmentConfig,
        fold: int = 0,
        n_folds: int = 5,
        batch_size: int = 32,
        num_workers: int = 0,
        secondary_coef: float = 1.0,
        skip_bad: bool = False,
        seed: int = 42,
        background: Background | None = None,
    ) -> None:
        super().__init__()
        self.training_set = training_set
        self.train_set, self.valid_set = split_datasets(
            training_set, frontend, augment, fold, n_folds, secondary_coef, skip_bad, seed, background
        )
        self.batch_size = batch_size
        self.num_workers = num_workers

    def train_dataloader(self) -> DataLoader:
        return DataLoader(
            self.train_set,
            batch_size=self.batch_size,
            shuffle=True,
            num_workers=self.num_workers,
            drop_last=len(self.train_set) > self.batch_size,
            persistent_workers=self.num_workers > 0,
        )

    def val_dataloader(self) -> DataLoader:
        return DataLoader(
            self.valid_set,
            batch_size=self.batch_size,
            shuffle=False,
            num_workers=self.num_workers,
            persistent_workers=self.num_workers > 0,
        )
