"""Lightning's overhead: training steps per second of birdview-train's LightningModule under
pl.Trainer against a plain PyTorch loop doing the same work, on the same data, in one run.

    python benchmarks/training_benchmark.py [--backbone test_efficientnet] [--steps 60] [--threads 2]

Both use the same model, loss, AdamW, gradient clipping and a DataLoader over the same
in-memory mels (so the figure is the trainer's own overhead, not data loading). Runs alternate
(plain, Lightning, plain, Lightning) and the best of each is kept, as the machine is shared.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from pathlib import Path

import pytorch_lightning as pl
import torch
from torch.utils.data import DataLoader, TensorDataset

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from trainer.config import TrainConfig
from trainer.lightning_module import BirdModule


class _Timer(pl.Callback):
    def on_train_batch_start(self, trainer, module, batch, batch_idx) -> None:
        if batch_idx == 5:  # skip warm-up steps
            self.start = time.perf_counter()

    def on_train_end(self, trainer, module) -> None:
        self.elapsed = time.perf_counter() - self.start


def plain_loop(module: BirdModule, loader: DataLoader, steps: int) -> float:
    optimizer = torch.optim.AdamW(module.parameters(), lr=1e-3, weight_decay=1e-2)
    module.train()
    start = None
    for step, (mels, targets) in enumerate(loader):
        if step == 5:
            start = time.perf_counter()
        if step >= steps:
            break
        loss = module.loss(module(mels), targets)
        optimizer.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(module.parameters(), 1.0)
        optimizer.step()
    return (steps - 5) / (time.perf_counter() - start)


def lightning_loop(module: BirdModule, loader: DataLoader, steps: int, out: Path) -> float:
    timer = _Timer()
    trainer = pl.Trainer(
        max_steps=steps,
        accelerator="cpu",
        devices=1,
        logger=pl.loggers.CSVLogger(str(out)),
        callbacks=[timer],
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        limit_val_batches=0,
        gradient_clip_val=1.0,
        log_every_n_steps=1,
    )
    trainer.fit(module, train_dataloaders=loader)
    return (steps - 5) / timer.elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backbone", default="test_efficientnet")
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    logging.getLogger("pytorch_lightning").setLevel(logging.ERROR)
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    n = args.batch_size * (args.steps + 1)
    data = TensorDataset(torch.randn(n, 1, 128, 313), (torch.rand(n, 182) > 0.98).float())
    loader = DataLoader(data, batch_size=args.batch_size, shuffle=True)
    config = TrainConfig(data="-", backbone=args.backbone, pretrained=False, scheduler="cosine").as_dict()
    plain, lightning = [], []
    out = Path("/tmp/birdview-training-benchmark")
    for _ in range(2):
        plain.append(plain_loop(BirdModule(config, [str(i) for i in range(182)]), loader, args.steps))
        lightning.append(lightning_loop(BirdModule(config, [str(i) for i in range(182)]), loader, args.steps, out))
    best_plain, best_lightning = max(plain), max(lightning)
    print(f"{args.backbone}, batch {args.batch_size}, {args.threads} threads, {args.steps} steps")
    print(f"plain PyTorch loop: {best_plain:.2f} steps/s (runs: {', '.join(f'{x:.2f}' for x in plain)})")
    print(f"Lightning Trainer:  {best_lightning:.2f} steps/s (runs: {', '.join(f'{x:.2f}' for x in lightning)})")
    print(f"Lightning overhead: {(best_plain / best_lightning - 1) * 100:+.1f} %")


if __name__ == "__main__":
    main()
