"""Sliding-window inference over recordings of any length, streamed and batched.

A recording is read in chunks of windows (never whole), resampled to the model's rate, cut into
context-length windows centred on each scored window, turned into mels by the model's own front
end and scored in batches. Optional test-time shifts, smoothing over neighbouring windows and an
ensemble of models (mean or min).
"""

from __future__ import annotations

import math
import queue
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np
import pandas as pd
import soundfile as sf
import torch

from trainer.checkpoint import load_checkpoint
from trainer.data.dataset import read_segment
from trainer.frontend import FrontEndConfig, MelFrontEnd, to_model_rate

SMOOTHING_KERNEL = (0.1, 0.2, 0.4, 0.2, 0.1)
CHUNK_WINDOWS = 48


class InferenceError(ValueError):
    pass


class Scorer(Protocol):
    frontend: FrontEndConfig
    classes: list[str]
    name: str

    def logits(self, mels: np.ndarray) -> np.ndarray: ...


class TorchScorer:
    def __init__(self, checkpoint: str | Path, threads: int | None = None) -> None:
        loaded = load_checkpoint(checkpoint)
        self.model = loaded.model
        self.frontend = loaded.frontend
        self.classes = loaded.classes
        self.name = str(checkpoint)
        if threads:
            torch.set_num_threads(threads)

    @torch.inference_mode()
    def logits(self, mels: np.ndarray) -> np.ndarray:
        return self.model(torch.from_numpy(mels)).numpy()


ENGINES = ("auto", "openvino", "onnxruntime", "torch")


def openvino_available() -> bool:
    try:
        import openvino  # noqa: F401
    except ImportError:
        return False
    return True


def load_scorer(path: str | Path, threads: int | None = None, engine: str = "auto", precision: str = "fp32") -> Scorer:
    """A checkpoint (.ckpt) or its ONNX export (.onnx) on the chosen engine.

    ``auto`` runs OpenVINO where it is installed (the fastest on a CPU) and falls back to PyTorch
    for a checkpoint or ONNX Runtime for an export. ``precision`` bf16 needs OpenVINO.
    """
    if engine not in ENGINES:
        raise InferenceError(f"engine must be one of {', '.join(ENGINES)}, not {engine!r}")
    is_onnx = str(path).endswith(".onnx")
    if precision != "fp32" and engine not in ("auto", "openvino"):
        raise InferenceError(f"precision {precision} needs the openvino engine, not {engine}")
    if engine == "auto":
        if openvino_available():
            engine = "openvino"
        elif precision != "fp32":
            raise InferenceError(f"precision {precision} needs OpenVINO (pip install openvino)")
        else:
            engine = "onnxruntime" if is_onnx else "torch"
    if engine == "openvino":
        from trainer.openvino_backend import OpenVinoScorer

        return OpenVinoScorer(path, threads=threads, precision=precision)
    if engine == "onnxruntime":
        if not is_onnx:
            raise InferenceError(f"{path}: onnxruntime needs an ONNX export (birdview-train export)")
        from trainer.onnx_export import OnnxScorer

        return OnnxScorer(path, threads=threads)
    if is_onnx:
        raise InferenceError(f"{path}: the torch engine needs a checkpoint (.ckpt), not an ONNX file")
    return TorchScorer(path, threads=threads)


@dataclass
class WindowBatch:
    file: Path
    index: np.ndarray  # window numbers (0 = the first 5 s)
    waves: np.ndarray  # (windows, context samples) at the model's rate


AUDIO_EXTENSIONS = (".wav", ".flac", ".ogg", ".oga", ".opus", ".mp3", ".aif", ".aiff")


def expand_audio(paths: Sequence[str | Path]) -> list[Path]:
    """Files as given; folders replaced by the audio files under them, sorted."""
    found: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            found.extend(sorted(p for p in path.rglob("*") if p.suffix.lower() in AUDIO_EXTENSIONS))
        else:
            found.append(path)
    return found


def window_count(duration_s: float, window_s: float) -> int:
    return max(1, math.ceil(duration_s / window_s - 1e-9))


def iter_windows(
    path: Path,
    frontend: FrontEndConfig,
    shift_s: float = 0.0,
    chunk_windows: int = CHUNK_WINDOWS,
    start_window: int = 0,
) -> Iterator[WindowBatch]:
    """Context windows of a file, chunk by chunk; window w is scored for [w*window_s, (w+1)*window_s)."""
    try:
        info = sf.info(str(path))
    except (sf.LibsndfileError, RuntimeError, OSError) as exc:
        raise InferenceError(f"{path}: cannot be read ({exc})") from None
    rate = info.samplerate
    n_windows = window_count(info.frames / rate, frontend.window_s)
    window, context = frontend.window_s, frontend.context_s
    margin = (context - window) / 2
    for first in range(start_window, n_windows, chunk_windows):
        last = min(n_windows, first + chunk_windows)
        chunk_start_s = first * window - margin + shift_s
        chunk_len_s = (last - first) * window + 2 * margin
        try:
            native, rate = read_segment(path, round(chunk_start_s * rate), round(chunk_len_s * rate))
        except (sf.LibsndfileError, RuntimeError, OSError) as exc:
            raise InferenceError(f"{path}: decoding failed near {chunk_start_s:.0f} s ({exc})") from None
        audio = to_model_rate(native, rate, frontend)
        step = frontend.window_samples
        need = (last - first - 1) * step + frontend.context_samples
        if len(audio) < need:
            audio = np.pad(audio, (0, need - len(audio)))
        waves = np.lib.stride_tricks.sliding_window_view(audio[:need], frontend.context_samples)[::step]
        yield WindowBatch(path, np.arange(first, last), waves)


def prefetched(iterator: Iterator[WindowBatch], depth: int = 1) -> Iterator[WindowBatch]:
    """The same chunks, decoded on a helper thread while the caller scores the previous one.

    Decoding releases the GIL, so it overlaps with the model; errors reach the caller in order.
    """
    done = object()
    slots: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def offer(item: object) -> bool:
        while not stop.is_set():
            try:
                slots.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for item in iterator:
                if not offer(item):
                    return
            offer(done)
        except BaseException as exc:  # handed to the consumer, raised there
            offer(exc)

    worker = threading.Thread(target=produce, name="birdview-decode", daemon=True)
    worker.start()
    try:
        while True:
            item = slots.get()
            if item is done:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        worker.join()


def smooth(probabilities: np.ndarray, kernel: Sequence[float] = SMOOTHING_KERNEL) -> np.ndarray:
    """Weighted average over neighbouring windows of one file (weights renormalised at the ends)."""
    kernel = np.asarray(kernel, dtype=np.float64)
    if len(probabilities) < 2:
        return probabilities
    half = len(kernel) // 2
    padded = np.pad(probabilities, ((half, half), (0, 0)))
    weight = np.pad(np.ones(len(probabilities)), (half, half))
    out = np.zeros_like(probabilities, dtype=np.float64)
    norm = np.zeros(len(probabilities))
    for offset, k in enumerate(kernel):
        out += k * padded[offset : offset + len(probabilities)]
        norm += k * weight[offset : offset + len(probabilities)]
    return (out / norm[:, None]).astype(np.float32)


def _score_file(
    path: Path, scorers: Sequence[Scorer], batch_size: int, shifts: Sequence[float]
) -> tuple[np.ndarray, list[np.ndarray]]:
    """Per scorer: (windows, classes) probabilities averaged over the shifts."""
    per_scorer: list[np.ndarray] = []
    index = None
    frontends: dict[FrontEndConfig, MelFrontEnd] = {}
    for scorer in scorers:
        frontend = frontends.setdefault(scorer.frontend, MelFrontEnd(scorer.frontend))
        total = None
        for shift in shifts:
            parts, indices = [], []
            for chunk in prefetched(iter_windows(path, scorer.frontend, shift)):
                for start in range(0, len(chunk.waves), batch_size):
                    waves = chunk.waves[start : start + batch_size]
                    mels = frontend.numpy(waves)
                    parts.append(1 / (1 + np.exp(-scorer.logits(mels).astype(np.float64))))
                indices.append(chunk.index)
            probabilities = np.concatenate(parts)
            total = probabilities if total is None else total + probabilities
            index = np.concatenate(indices)
        per_scorer.append(total / len(shifts))
    return index, per_scorer


def predict(
    paths: Sequence[str | Path],
    scorers: Sequence[Scorer],
    batch_size: int = 32,
    shifts: Sequence[float] = (0.0,),
    smoothing: bool = False,
    ensemble: str = "mean",
    skip_bad: bool = False,
    on_file: Callable[[int, int, Path], None] | None = None,
) -> tuple[pd.DataFrame, list[str]]:
    """Probabilities per window for every file: columns file, row_id, start_s, end_s, then one per
    class. Returns the table and the files skipped (with skip_bad) and why."""
    if not scorers:
        raise InferenceError("no model given")
    classes = scorers[0].classes
    for scorer in scorers[1:]:
        if scorer.classes != classes:
            raise InferenceError(f"{scorer.name}: its class list differs from {scorers[0].name}'s; cannot ensemble")
    if ensemble not in ("mean", "min"):
        raise InferenceError(f"ensemble must be mean or min, not {ensemble!r}")
    window_s = scorers[0].frontend.window_s
    frames, skipped = [], []
    for number, raw in enumerate(paths):
        path = Path(raw)
        if on_file is not None:
            on_file(number, len(paths), path)
        try:
            if not path.exists():
                raise InferenceError(f"{path}: file not found")
            index, per_scorer = _score_file(path, scorers, batch_size, shifts)
        except InferenceError as exc:
            if not skip_bad:
                raise
            skipped.append(str(exc))
            continue
        stacked = np.stack(per_scorer)
        probabilities = stacked.mean(axis=0) if ensemble == "mean" else stacked.min(axis=0)
        if smoothing:
            probabilities = smooth(probabilities)
        ends = (index + 1) * window_s
        table = pd.DataFrame(probabilities.astype(np.float32), columns=classes)
        table.insert(0, "end_s", ends)
        table.insert(0, "start_s", index * window_s)
        table.insert(0, "row_id", [f"{path.stem}_{_seconds(e)}" for e in ends])
        table.insert(0, "file", str(path))
        frames.append(table)
    if not frames:
        return pd.DataFrame(columns=["file", "row_id", "start_s", "end_s", *classes]), skipped
    return pd.concat(frames, ignore_index=True), skipped


def _seconds(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


def write_table(table: pd.DataFrame, out: str | Path) -> Path:
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    if out.suffix == ".parquet":
        table.to_parquet(out, index=False)
    else:
        table.to_csv(out, index=False, float_format="%.6g")
    return out


def write_submission(table: pd.DataFrame, classes: list[str], out: str | Path) -> Path:
    """Kaggle's format: row_id, then one probability column per class in class-list order."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    table[["row_id", *classes]].to_csv(out, index=False, float_format="%.6g")
    return out


def shard(paths: Sequence[str | Path], spec: str) -> list[str | Path]:
    """``i/n``: the i-th of n interleaved parts of the sorted list (0 <= i < n)."""
    try:
        part, parts = (int(x) for x in spec.split("/"))
    except ValueError:
        raise InferenceError(f"--shard {spec!r}: expected i/n, e.g. 0/4") from None
    if not 0 <= part < parts:
        raise InferenceError(f"--shard {spec!r}: i must be in 0..{parts - 1}")
    return sorted(paths, key=str)[part::parts]
