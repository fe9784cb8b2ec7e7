"""Weight averaging: the mean of checkpoints (``fit --average-last K``: the last K epochs), or an
exponential moving average of the weights during training (``fit --ema DECAY``, Lightning's
WeightAveraging over torch.optim.swa_utils.AveragedModel). Either result is an ordinary
checkpoint: predict, evaluate and export take it like any other.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pytorch_lightning as pl
import torch
from pytorch_lightning.callbacks import WeightAveraging
from torch.optim.swa_utils import get_ema_multi_avg_fn

from trainer.checkpoint import CheckpointError, read_checkpoint, write_checkpoint

AVERAGED_FILE = "averaged.ckpt"


def average_states(states: Sequence[dict[str, torch.Tensor]]) -> dict[str, torch.Tensor]:
    """The element-wise mean of floating-point weights; integer buffers (BatchNorm's count of
    batches) are taken from the last state."""
    if not states:
        raise CheckpointError("nothing to average")
    keys = list(states[-1])
    for number, state in enumerate(states):
        if list(state) != keys or any(state[k].shape != states[-1][k].shape for k in keys):
            raise CheckpointError(f"weights {number} have another layout than the last; cannot average them")
    averaged = {}
    for key in keys:
        last = states[-1][key]
        if last.is_floating_point():
            stacked = torch.stack([state[key].detach().to(torch.float64) for state in states])
            averaged[key] = stacked.mean(dim=0).to(last.dtype)
        else:
            averaged[key] = last.clone()
    return averaged


def average_checkpoints(paths: Sequence[str | Path], out: str | Path) -> Path:
    """A checkpoint whose weights are the mean of ``paths``' (same classes, network and front end),
    with the last one's settings."""
    if not paths:
        raise CheckpointError("no checkpoints to average")
    checkpoints = [read_checkpoint(path) for path in paths]
    last = checkpoints[-1]["hyper_parameters"]
    for path, checkpoint in zip(paths, checkpoints, strict=True):
        theirs = checkpoint["hyper_parameters"]
        if list(theirs["classes"]) != list(last["classes"]):
            raise CheckpointError(f"{path}: its class list differs from {paths[-1]}'s; cannot average them")
        if theirs["config"]["backbone"] != last["config"]["backbone"] or theirs["frontend"] != last["frontend"]:
            raise CheckpointError(f"{path}: its network or front end differs from {paths[-1]}'s; cannot average them")
    state = average_states([checkpoint["state_dict"] for checkpoint in checkpoints])
    return write_checkpoint(Path(out), state, last["config"], last["classes"])


class LastEpochsAverage(pl.Callback):
    """Writes the weights after each of the last ``count`` epochs (``epoch-N.ckpt``, older ones
    removed), and at the end of training their mean (``averaged.ckpt``)."""

    def __init__(self, folder: Path, count: int) -> None:
        self.folder = Path(folder)
        self.count = count
        self.written: list[Path] = []
        self.averaged: Path | None = None

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if trainer.sanity_checking or trainer.global_rank != 0:
            return
        hparams = dict(pl_module.hparams)
        state = {k: v.detach().cpu().clone() for k, v in pl_module.state_dict().items()}
        path = self.folder / f"epoch-{trainer.current_epoch}.ckpt"
        self.written.append(write_checkpoint(path, state, hparams["config"], hparams["classes"]))
        while len(self.written) > self.count:
            self.written.pop(0).unlink(missing_ok=True)

    def on_train_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if self.written and trainer.global_rank == 0:
            self.averaged = average_checkpoints(self.written, self.folder / AVERAGED_FILE)


def ema_callback(decay: float) -> WeightAveraging:
    """An exponential moving average of the weights and buffers, updated after every optimiser
    step; validation and the checkpoints use the average."""
    return WeightAveraging(multi_avg_fn=get_ema_multi_avg_fn(decay))
