"""What OpenVINO's bf16 does to accuracy: validation macro ROC-AUC of one trained model scored in
fp32 (PyTorch, OpenVINO) and bf16 (OpenVINO), in one run.

    python benchmarks/precision_benchmark.py [--backbone tf_efficientnet_b0] [--epochs 4] [--threads 2]

Trains the backbone from scratch on a generated dataset whose calls are faint (so validation
ROC-AUC stays below 1 and a drop can show), then scores the validation fold's clips each way.
The issue's bar for a cheaper number format: macro ROC-AUC drops by less than 0.005.
"""

from __future__ import annotations

import argparse
import logging
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.synthetic_birds import make_dataset
from trainer.checkpoint import load_checkpoint
from trainer.config import TrainConfig
from trainer.data.dataset import ClipDataset
from trainer.data.metadata import load_training_set
from trainer.inference import load_scorer
from trainer.metrics import macro_roc_auc
from trainer.openvino_backend import bf16_supported
from trainer.train import fit


def validation_mels(checkpoint: Path, data: Path, fold: int) -> tuple[np.ndarray, np.ndarray]:
    loaded = load_checkpoint(checkpoint)
    training_set = load_training_set(str(data), loaded.classes)
    rows = np.flatnonzero(training_set.folds(5, 42) == fold)
    targets = training_set.targets()[rows]
    dataset = ClipDataset([training_set.clips[i] for i in rows], targets, loaded.frontend, train=False)
    mels = np.concatenate([mel.numpy()[None] for mel, _ in dataset])
    return mels, targets


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backbone", default="tf_efficientnet_b0")
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--clips", type=int, default=60, help="clips per species")
    parser.add_argument("--call-level", type=float, default=0.01)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    logging.getLogger("pytorch_lightning").setLevel(logging.ERROR)
    torch.set_num_threads(args.threads)
    work = Path(tempfile.mkdtemp(prefix="birdview-precision-"))
    data = make_dataset(work / "data", args.clips, negatives=args.clips, call_level=args.call_level)
    start = time.perf_counter()
    config = TrainConfig(
        data=str(data),
        out=str(work / "run"),
        species="from-data",
        epochs=args.epochs,
        patience=args.epochs,
        backbone=args.backbone,
        pretrained=False,
        progress="none",
        batch_size=16,
    )
    result = fit(config)
    print(f"{args.backbone} trained from scratch: {args.epochs} epochs in {time.perf_counter() - start:.0f} s")
    mels, targets = validation_mels(result.best_checkpoint, data, config.fold)
    bf16 = "native" if bf16_supported() else "falls back to fp32"
    print(f"validation fold: {len(mels)} clips; bf16 on this CPU: {bf16}")

    rows = []
    reference = None
    for name, engine, precision in (
        ("PyTorch fp32", "torch", "fp32"),
        ("OpenVINO fp32", "openvino", "fp32"),
        ("OpenVINO bf16", "openvino", "bf16"),
    ):
        scorer = load_scorer(result.best_checkpoint, args.threads, engine, precision)
        logits = np.concatenate([scorer.logits(mels[i : i + 32]) for i in range(0, len(mels), 32)])
        scores = 1 / (1 + np.exp(-logits.astype(np.float64)))
        reference = scores if reference is None else reference
        rows.append((name, macro_roc_auc(targets, scores), np.abs(scores - reference).max()))
    print("\n| engine | validation macro ROC-AUC | drop vs PyTorch fp32 | largest probability change |")
    print("|---|---|---|---|")
    for name, auc, change in rows:
        print(f"| {name} | {auc:.4f} | {rows[0][1] - auc:+.4f} | {change:.4f} |")


if __name__ == "__main__":
    main()
