"""Inference windows per second on this machine's CPU threads, every engine, in one run.

    python benchmarks/inference_benchmark.py [--minutes 10] [--threads 2] [--backbone tf_efficientnet_b0]

A model with random weights (no download) and the 182 BirdCLEF classes; a generated recording,
as FLAC and as 16-bit WAV (what AudioMoth and Song Meter recorders write).
  baseline   a plain per-window loop: read 5 s, mel, eager PyTorch forward of one window
  end to end birdview-train predict (chunks decoded and turned into mels by one worker thread per
             core while the model scores the previous chunk; batches of 32) with PyTorch
             inference_mode, ONNX Runtime, and OpenVINO in fp32 and bf16
  model only the network on ready-made mels, batch 32, each engine
Each end-to-end figure is compared with the baseline on the same file format.

What bf16 does to accuracy is measured by benchmarks/precision_benchmark.py.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import numpy as np
import soundfile as sf
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.synthetic_birds import soundscape
from trainer.classes import load_species
from trainer.config import TrainConfig
from trainer.data.dataset import read_segment
from trainer.frontend import MelFrontEnd, to_model_rate
from trainer.inference import TorchScorer, load_scorer, predict
from trainer.lightning_module import BirdModule
from trainer.onnx_export import export_onnx
from trainer.openvino_backend import bf16_supported
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


def end_to_end(audio: Path, scorer, windows: int, threads: int) -> float:
    start = time.perf_counter()
    predict([audio], [scorer], batch_size=32, workers=threads)
    return windows / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--backbone", default="tf_efficientnet_b0")
    parser.add_argument("--baseline-windows", type=int, default=60)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    work = Path(tempfile.mkdtemp(prefix="birdview-bench-"))
    classes = load_species()
    config = TrainConfig(data="-", backbone=args.backbone, pretrained=False)
    checkpoint = save_module(BirdModule(config.as_dict(), classes), work / "model.ckpt")
    onnx_path = export_onnx(checkpoint, work / "model.onnx")
    flac = soundscape(work / "soundscape.flac", args.minutes * 60, [])
    wav = work / "soundscape.wav"
    sf.write(wav, sf.read(flac, dtype="int16")[0], sf.info(flac).samplerate, subtype="PCM_16")
    windows = int(args.minutes * 60 / 5)
    engines = {
        "PyTorch inference_mode": load_scorer(checkpoint, args.threads, "torch"),
        "ONNX Runtime fp32": load_scorer(onnx_path, args.threads, "onnxruntime"),
        "OpenVINO fp32": load_scorer(onnx_path, args.threads, "openvino"),
        "OpenVINO bf16": load_scorer(onnx_path, args.threads, "openvino", "bf16"),
    }
    bf16 = "native" if bf16_supported() else "not supported by this CPU: runs as fp32"
    print(f"{args.backbone}, 182 classes, {args.threads} threads, {windows} windows of 5 s ({args.minutes:g} min)")
    print(f"bf16: {bf16}")

    mels = np.random.default_rng(0).standard_normal((32, 1, 128, 313)).astype(np.float32)
    rates: dict[str, list[float]] = defaultdict(list)
    ratios: dict[str, list[float]] = defaultdict(list)
    for _ in range(args.rounds):  # each figure against the baseline of its own round: this machine's speed drifts
        for label, audio in (("FLAC", flac), ("WAV", wav)):
            baseline = per_window_baseline(audio, engines["PyTorch inference_mode"], args.baseline_windows)
            measured = {f"{label}, end to end: per-window eager loop (baseline)": baseline}
            for name, scorer in engines.items():
                measured[f"{label}, end to end: {name}"] = end_to_end(audio, scorer, windows, args.threads)
            if label == "FLAC":
                for name, scorer in engines.items():
                    repeats = 3 if "PyTorch" in name else 6
                    measured[f"model only: {name}, batch 32"] = model_only(scorer.logits, mels, repeats)
            for name, rate in measured.items():
                rates[name].append(rate)
                ratios[name].append(rate / baseline)

    print(f"\nMedians of {args.rounds} rounds; × baseline is per round (the range in brackets).")
    print("\n| path | windows/s | × baseline | × real time |")
    print("|---|---|---|---|")
    order = [name for name in rates if not name.startswith("model")] + [n for n in rates if n.startswith("model")]
    for name in order:
        rate, ratio = float(np.median(rates[name])), float(np.median(ratios[name]))
        spread = f" ({min(ratios[name]):.1f}–{max(ratios[name]):.1f})" if "baseline)" not in name else ""
        print(f"| {name} | {rate:.1f} | {ratio:.1f}×{spread} | {rate * 5:.0f}× |")
    day = 24 * 3600 / 5
    best_name, best = max(((n, float(np.median(r))) for n, r in rates.items() if "FLAC, end" in n), key=lambda x: x[1])
    print(f"\n24 h recording ({best_name}): {day / best / 60:.1f} min")


if __name__ == "__main__":
    main()
