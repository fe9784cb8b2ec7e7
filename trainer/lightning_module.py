"""The LightningModule: loss, AdamW, the three schedules, metrics each epoch."""

from __future__ import annotations

import numpy as np
import pytorch_lightning as pl
import torch

from trainer.augment import spec_mixup
from trainer.config import TrainConfig
from trainer.metrics import all_metrics
from trainer.model import BirdClassifier, loss_function


class BirdModule(pl.LightningModule):
    def __init__(self, config: dict, classes: list[str], build_pretrained: bool = True) -> None:
        super().__init__()
        # The checkpoint carries the front end and class list (hyper_parameters), see checkpoint.py.
        self.save_hyperparameters({"config": config, "classes": list(classes), "frontend": config["frontend"]})
        self.config = TrainConfig.from_dict(config)
        self.classes = list(classes)
        self.model = BirdClassifier(
            n_classes=len(classes),
            backbone=self.config.backbone,
            pretrained=self.config.pretrained and build_pretrained,
            weights_file=self.config.weights if build_pretrained else None,
            pooling=self.config.pooling,
            dropout=self.config.dropout,
        )
        self.loss = loss_function(self.config.loss)
        self._val_probs: list[np.ndarray] = []
        self._val_targets: list[np.ndarray] = []

    def forward(self, mels: torch.Tensor) -> torch.Tensor:
        return self.model(mels)

    def training_step(self, batch: tuple[torch.Tensor, ...], batch_idx: int) -> torch.Tensor:
        # (mels, targets) or, where clips have weights (pseudo-labels), (mels, targets, weights).
        mels, targets, *rest = batch
        weights = rest[0] if rest else None
        augment = self.config.augment
        if augment.spec_mixup_p and float(torch.rand(1)) < augment.spec_mixup_p and len(mels) > 1:
            if weights is None:
                mels, targets = spec_mixup(mels, targets, augment.spec_mixup_alpha)
            else:
                mels, targets, weights = spec_mixup(mels, targets, augment.spec_mixup_alpha, weights)
        loss = self.loss(self(mels), targets, weights)
        self.log("train_loss", loss, prog_bar=True, on_step=True, on_epoch=True, batch_size=len(mels))
        return loss

    def validation_step(self, batch: tuple[torch.Tensor, ...], batch_idx: int) -> None:
        mels, targets, *_ = batch
        logits = self(mels)
        self.log("val_loss", self.loss(logits, targets), on_epoch=True, batch_size=len(mels))
        self._val_probs.append(torch.sigmoid(logits).float().cpu().numpy())
        self._val_targets.append(targets.float().cpu().numpy())

    def on_validation_epoch_end(self) -> None:
        if not self._val_probs:
            return
        probs = np.concatenate(self._val_probs)
        targets = np.concatenate(self._val_targets)
        self._val_probs.clear()
        self._val_targets.clear()
        metrics = all_metrics(targets, probs)
        auc = metrics["roc_auc"]
        self.log("val_roc_auc", 0.0 if np.isnan(auc) else auc, prog_bar=True)
        self.log("val_log_loss", metrics["log_loss"])
        for key in ("top1", "top5"):
            if not np.isnan(metrics[key]):
                self.log(f"val_{key}", metrics[key])

    def configure_optimizers(self):
        parameters = [p for p in self.parameters() if p.requires_grad]
        optimizer = torch.optim.AdamW(parameters, lr=self.config.lr, weight_decay=self.config.weight_decay)
        if self.config.scheduler == "cosine":
            scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=max(1, self.config.epochs))
            return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": "epoch"}}
        if self.config.scheduler == "plateau":
            scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(optimizer, mode="max", factor=0.5, patience=1)
            return {
                "optimizer": optimizer,
                "lr_scheduler": {"scheduler": scheduler, "monitor": "val_roc_auc", "interval": "epoch"},
            }
        total = int(self.trainer.estimated_stepping_batches)
        scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=self.config.lr, total_steps=max(1, total))
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": "step"}}
