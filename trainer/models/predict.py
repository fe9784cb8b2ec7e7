"""Per-window probabilities (and embeddings) of any model kind for a list of recordings: the table
``birdview-train predict --model`` writes, in the layout of the checkpoint path (file, row_id,
start_s, end_s, one column per class)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from trainer.models.base import WindowModel
from trainer.window_stream import InferenceError


def predict_windows(
    paths: Sequence[str | Path],
    model: WindowModel,
    hop_s: float | None = None,
    skip_bad: bool = False,
    on_file: Callable[[int, int, Path], None] | None = None,
    on_warning: Callable[[str], None] | None = None,
) -> tuple[pd.DataFrame, dict[str, np.ndarray], list[str]]:
    """(table, embeddings per file (windows, dim) float16, files skipped with why)."""
    info = model.info
    hop = hop_s or info.window_s
    frames, embeddings, skipped = [], {}, []
    for number, raw in enumerate(paths):
        path = Path(raw)
        if on_file is not None:
            on_file(number, len(paths), path)
        try:
            if not path.exists():
                raise InferenceError(f"{path}: file not found")
            if path.is_dir():
                raise InferenceError(f"{path}: is a folder with no audio files")
            index, scores, vectors = [], [], []
            for chunk in model.chunks(path, hop, on_truncated=on_warning):
                probabilities, embedding = model.infer(chunk.inputs)
                index.append(chunk.index)
                scores.append(probabilities)
                vectors.append(embedding.astype(np.float16))
        except InferenceError as exc:
            if not skip_bad:
                raise
            skipped.append(str(exc))
            continue
        windows = np.concatenate(index)
        starts = windows * hop
        ends = starts + info.window_s
        table = pd.DataFrame(np.concatenate(scores), columns=info.classes)
        table.insert(0, "end_s", np.round(ends, 6))
        table.insert(0, "start_s", np.round(starts, 6))
        table.insert(0, "row_id", [f"{path.stem}_{_seconds(e)}" for e in ends])
        table.insert(0, "file", str(path))
        frames.append(table)
        embeddings[str(path)] = np.concatenate(vectors)
    if not frames:
        return pd.DataFrame(columns=["file", "row_id", "start_s", "end_s", *info.classes]), embeddings, skipped
    return pd.concat(frames, ignore_index=True), embeddings, skipped


def _seconds(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else f"{value:g}"
