"""Inference windows per second on this machine's CPU threads, the three ways, in one run.

    python benchmarks/inference_benchmark.py [--minutes 10] [--threads 2] [--backbone tf_efficientnet_b0]

A model with random weights (no download) and the 182 BirdCLEF classes; a generated recording.
  baseline   a plain per-window loop: read 5 s, mel, eager PyTorch forward of one window
  batched    birdview-train predict with PyTorch: streamed chunks, batches of 32, inference_mode
  onnx       birdview-train predict with the ONNX export in ONNX Runtime
  model only the network on ready-made mels, batch 32: PyTorch eager, ONNX Runtime fp32, and
             ONNX Runtime with dynamic INT8 quantisation
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.synthetic_birds import soundscape
from trainer.classes import load_species
from trainer.config import TrainConfig
from trainer.data.dataset import read_segment
from trainer.frontend import MelFrontEnd, to_model_rate
from trainer.inference import TorchScorer, predict
from trainer.lightning_module import BirdModule
from trainer.onnx_export import OnnxScorer, export_onnx
from trainer.train import save_module


def per_window_baseline(path: Path, scorer: TorchScorer, limit: int) -> float:
    frontend = MelFrontEnd(scorer.frontend)
    config = scorer.frontend
    start = time.perf_counter()
    for window in range(limit):
        native, rate = read_segment(path, window * config.window_samples, config.context_samples)
        mel = frontend(torch.from_numpy(to_model_rate(native, rate, config))[None])
        with torch.no_grad():
            scorer.model(mel)
    return limit / (time.perf_counter() - start)


def model_only(fn, mels: np.ndarray, repeats: int) -> float:
    fn(mels)  # warm-up
    start = time.perf_counter()
    for _ in range(repeats):
        fn(mels)
    return repeats * len(mels) / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--backbone", default="tf_efficientnet_b0")
    parser.add_argument("--baseline-windows", type=int, default=40)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    work = Path(tempfile.mkdtemp(prefix="birdview-bench-"))
    classes = load_species()
    config = TrainConfig(data="-", backbone=args.backbone, pretrained=False)
    checkpoint = save_module(BirdModule(config.as_dict(), classes), work / "model.ckpt")
    onnx_path = export_onnx(checkpoint, work / "model.onnx")
    audio = soundscape(work / "soundscape.flac", args.minutes * 60, [])
    windows = int(args.minutes * 60 / 5)
    torch_scorer = TorchScorer(checkpoint)
    onnx_scorer = OnnxScorer(onnx_path, threads=args.threads)
    print(f"{args.backbone}, 182 classes, {args.threads} threads, {windows} windows of 5 s ({args.minutes:g} min)")

    baseline = per_window_baseline(audio, torch_scorer, args.baseline_windows)
    start = time.perf_counter()
    predict([audio], [torch_scorer], batch_size=32)
    batched = windows / (time.perf_counter() - start)
    start = time.perf_counter()
    predict([audio], [onnx_scorer], batch_size=32)
    onnx_rate = windows / (time.perf_counter() - start)

    mels = np.random.default_rng(0).standard_normal((32, 1, 128, 313)).astype(np.float32)
    torch_model = model_only(torch_scorer.logits, mels, 3)
    onnx_model = model_only(onnx_scorer.logits, mels, 5)
    int8_model = None
    try:
        from onnxruntime.quantization import QuantType, quantize_dynamic

        quantize_dynamic(str(onnx_path), str(work / "model.int8.onnx"), weight_type=QuantType.QInt8)
        int8_model = model_only(OnnxScorer(work / "model.int8.onnx", threads=args.threads).logits, mels, 5)
    except Exception as exc:
        print(f"INT8 quantisation failed: {exc}")

    rows = [
        ("end to end: per-window eager loop (baseline)", baseline),
        ("end to end: batched inference_mode", batched),
        ("end to end: ONNX Runtime", onnx_rate),
        ("model only: PyTorch eager, batch 32", torch_model),
        ("model only: ONNX Runtime fp32, batch 32", onnx_model),
    ]
    if int8_model is not None:
        rows.append(("model only: ONNX Runtime dynamic INT8, batch 32", int8_model))
    print("\n| path | windows/s | × baseline | × real time |")
    print("|---|---|---|---|")
    for name, rate in rows:
        print(f"| {name} | {rate:.1f} | {rate / baseline:.1f}× | {rate * 5:.0f}× |")
    day = 24 * 3600 / 5
    print(f"\n24 h recording end to end with ONNX Runtime: {day / onnx_rate / 60:.1f} min")


if __name__ == "__main__":
    main()
