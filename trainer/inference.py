"""Sliding-window inference over recordings of any length, streamed and batched.

The windows' mels come from ``trainer.window_stream`` (chunks decoded and turned into mels by
worker threads, never a whole recording) and are scored in batches. Optional test-time shifts,
smoothing over neighbouring windows and an ensemble of models (mean or min).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Protocol

import numpy as np
import pandas as pd
import torch

from trainer.checkpoint import load_checkpoint
from trainer.frontend import FrontEndConfig, MelFrontEnd
from trainer.window_stream import InferenceError, mel_chunks

SMOOTHING_KERNEL = (0.1, 0.2, 0.4, 0.2, 0.1)

log = logging.getLogger(__name__)


class Scorer(Protocol):
    frontend: FrontEndConfig
    classes: list[str]
    name: str

    def logits(self, mels: np.ndarray) -> np.ndarray: ...


class TorchScorer:
    """A checkpoint in PyTorch, on the CPU or a CUDA GPU (bf16 there runs under autocast)."""

    def __init__(
        self, checkpoint: str | Path, threads: int | None = None, device: str = "cpu", precision: str = "fp32"
    ) -> None:
        loaded = load_checkpoint(checkpoint)
        self.device = torch.device(device)
        self.model = loaded.model.to(self.device).eval()
        self.frontend = loaded.frontend
        self.classes = loaded.classes
        self.name = str(checkpoint)
        self.bf16 = precision == "bf16" and self.device.type == "cuda"
        self.embedding_dim = self.model.classifier.in_features
        if threads:
            torch.set_num_threads(threads)

    @torch.inference_mode()
    def logits(self, mels: np.ndarray) -> np.ndarray:
        return self.outputs(mels)[0]

    @torch.inference_mode()
    def outputs(self, mels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(logits, the pooled embeddings before the head)."""
        batch = torch.from_numpy(mels).to(self.device)
        with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.bf16):
            embedding = self.model.embed(batch)
            logits = self.model.classifier(embedding)
        return logits.float().cpu().numpy(), embedding.float().cpu().numpy()


ENGINES = ("auto", "openvino", "onnxruntime", "torch", "cuda")
ENGINE_HELP = (
    "auto: PyTorch on a CUDA GPU where there is one (for a .ckpt), else OpenVINO where installed, "
    "else PyTorch (.ckpt) or ONNX Runtime (.onnx)"
)


def openvino_available() -> bool:
    try:
        import openvino  # noqa: F401
    except ImportError:
        return False
    return True


def cuda_available() -> bool:
    return torch.cuda.is_available()


def resolve_engine(engine: str, is_onnx: bool, precision: str = "fp32") -> str:
    """The engine ``auto`` stands for here: PyTorch on a CUDA GPU for a checkpoint where PyTorch
    sees one, else OpenVINO where installed (the fastest on a CPU), else PyTorch for a checkpoint
    or ONNX Runtime for an export."""
    if engine not in ENGINES:
        raise InferenceError(f"engine must be one of {', '.join(ENGINES)}, not {engine!r}")
    if engine != "auto":
        return engine
    if not is_onnx and cuda_available():
        return "cuda"
    if openvino_available():
        return "openvino"
    if precision != "fp32":
        raise InferenceError(f"precision {precision} needs OpenVINO (pip install openvino) or a CUDA GPU")
    return "onnxruntime" if is_onnx else "torch"


def load_scorer(path: str | Path, threads: int | None = None, engine: str = "auto", precision: str = "fp32") -> Scorer:
    """A checkpoint (.ckpt) or its ONNX export (.onnx) on the chosen engine (see resolve_engine).

    ``precision`` bf16 needs OpenVINO (on a CPU with bf16) or the cuda engine.
    """
    is_onnx = str(path).endswith(".onnx")
    engine = resolve_engine(engine, is_onnx, precision)
    if precision != "fp32" and engine not in ("openvino", "cuda"):
        raise InferenceError(f"precision {precision} needs the openvino or cuda engine, not {engine}")
    if engine == "openvino":
        from trainer.openvino_backend import OpenVinoScorer

        return OpenVinoScorer(path, threads=threads, precision=precision)
    if engine == "onnxruntime":
        if not is_onnx:
            raise InferenceError(f"{path}: onnxruntime needs an ONNX export (birdview-train export)")
        from trainer.onnx_export import OnnxScorer

        return OnnxScorer(path, threads=threads)
    if is_onnx:
        raise InferenceError(f"{path}: the {engine} engine needs a checkpoint (.ckpt), not an ONNX file")
    if engine == "cuda" and not cuda_available():
        raise InferenceError("the cuda engine needs a CUDA GPU, and PyTorch sees none here")
    return TorchScorer(path, threads=threads, device="cuda" if engine == "cuda" else "cpu", precision=precision)


AUDIO_EXTENSIONS = (".wav", ".flac", ".ogg", ".oga", ".opus", ".mp3", ".aif", ".aiff")


def expand_audio(paths: Sequence[str | Path]) -> list[Path]:
    """Files as given; folders replaced by the audio files under them, sorted, and recording
    lists (``.txt``, one path a line) by the recordings they name. A folder with none stays in the
    list as it is, so that ``predict`` reports it rather than silently scoring nothing."""
    from trainer.data.recording_list import is_recording_list, read_recording_list

    found: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if is_recording_list(path):
            found.extend(read_recording_list(path))
        elif path.is_dir():
            inside = sorted(p for p in path.rglob("*") if p.suffix.lower() in AUDIO_EXTENSIONS and p.is_file())
            found.extend(inside or [path])
        else:
            found.append(path)
    return found


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


def probabilities(scorer: Scorer, mels: np.ndarray, batch_size: int = 32) -> np.ndarray:
    """Sigmoid of the scorer's logits, batch by batch: (windows, classes) in float64."""
    parts = [scorer.logits(mels[start : start + batch_size]) for start in range(0, len(mels), batch_size)]
    return 1 / (1 + np.exp(-np.concatenate(parts).astype(np.float64)))


def _score_file(
    path: Path,
    scorers: Sequence[Scorer],
    batch_size: int,
    shifts: Sequence[float],
    workers: int | None,
    on_truncated: Callable[[str], None] | None = None,
) -> tuple[np.ndarray, list[np.ndarray]]:
    """Per scorer: (windows, classes) probabilities averaged over the shifts. Scorers with the same
    front end share each chunk's mels: an ensemble decodes and computes them once. A truncated
    file's decodable part is scored, and ``on_truncated`` told where decoding stops (once)."""
    truncation: list[str] = []
    totals: list[np.ndarray | None] = [None] * len(scorers)
    index = np.empty(0, dtype=int)
    groups: dict[FrontEndConfig, list[int]] = {}
    for number, scorer in enumerate(scorers):
        groups.setdefault(scorer.frontend, []).append(number)
    for config, members in groups.items():
        frontend = MelFrontEnd(config)
        for shift in shifts:
            parts: dict[int, list[np.ndarray]] = {number: [] for number in members}
            indices = []
            for chunk in mel_chunks(path, frontend, shift, workers=workers, on_truncated=truncation.append):
                for number in members:
                    parts[number].append(probabilities(scorers[number], chunk.inputs, batch_size))
                indices.append(chunk.index)
            index = np.concatenate(indices)
            for number in members:
                scores = np.concatenate(parts[number])
                totals[number] = scores if totals[number] is None else totals[number] + scores
    if truncation and on_truncated is not None:
        on_truncated(truncation[0])
    return index, [total / len(shifts) for total in totals]


def predict(
    paths: Sequence[str | Path],
    scorers: Sequence[Scorer],
    batch_size: int = 32,
    shifts: Sequence[float] = (0.0,),
    smoothing: bool = False,
    ensemble: str = "mean",
    skip_bad: bool = False,
    on_file: Callable[[int, int, Path], None] | None = None,
    workers: int | None = None,
    on_warning: Callable[[str], None] | None = None,
) -> tuple[pd.DataFrame, list[str]]:
    """Probabilities per window for every file: columns file, row_id, start_s, end_s, then one per
    class. Returns the table and the files skipped (with skip_bad) and why. ``workers``: threads
    that decode and compute mels (default: one per core). A file that stops decoding before its
    end (truncated) has the windows before that point scored, and ``on_warning`` (default: this
    module's logger) is told the file and the time."""
    warn = on_warning if on_warning is not None else log.warning
    if not scorers:
        raise InferenceError("no model given")
    classes = scorers[0].classes
    for scorer in scorers[1:]:
        if scorer.classes != classes:
            raise InferenceError(f"{scorer.name}: its class list differs from {scorers[0].name}'s; cannot ensemble")
        if scorer.frontend.window_s != scorers[0].frontend.window_s:
            raise InferenceError(
                f"{scorer.name}: scores {scorer.frontend.window_s} s windows, {scorers[0].name} "
                f"{scorers[0].frontend.window_s} s; cannot ensemble"
            )
    if ensemble not in ("mean", "min"):
        raise InferenceError(f"ensemble must be mean or min, not {ensemble!r}")
    window_s = scorers[0].frontend.window_s
    frames, skipped = [], []
    for number, raw in enumerate(paths):
        path = Path(raw)
        if on_file is not None:
            on_file(number, len(paths), path)
        try:
            check_audio_path(path)
            index, per_scorer = _score_file(path, scorers, batch_size, shifts, workers, warn)
        except InferenceError as exc:
            if not skip_bad:
                raise
            skipped.append(str(exc))
            continue
        stacked = np.stack(per_scorer)
        probabilities = stacked.mean(axis=0) if ensemble == "mean" else stacked.min(axis=0)
        if smoothing:
            probabilities = smooth(probabilities)
        frames.append(window_table(path, classes, index * window_s, (index + 1) * window_s, probabilities))
    return join_tables(frames, classes), skipped


def check_audio_path(path: Path) -> None:
    """InferenceError unless ``path`` is a file there is to score."""
    if not path.exists():
        raise InferenceError(f"{path}: file not found")
    if path.is_dir():
        raise InferenceError(f"{path}: is a folder with no audio files")


def window_table(
    path: Path, classes: Sequence[str], starts: np.ndarray, ends: np.ndarray, probabilities: np.ndarray
) -> pd.DataFrame:
    """One file's windows as ``predict`` writes them: file, row_id (``<stem>_<end s>``, BirdCLEF's),
    start_s, end_s, then one probability column per class."""
    table = pd.DataFrame(probabilities.astype(np.float32), columns=list(classes))
    table.insert(0, "end_s", np.round(ends, 6))
    table.insert(0, "start_s", np.round(starts, 6))
    table.insert(0, "row_id", [f"{path.stem}_{_seconds(e)}" for e in np.round(ends, 6)])
    table.insert(0, "file", str(path))
    return table


def join_tables(frames: list[pd.DataFrame], classes: Sequence[str]) -> pd.DataFrame:
    if not frames:
        return pd.DataFrame(columns=["file", "row_id", "start_s", "end_s", *classes])
    return pd.concat(frames, ignore_index=True)


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
