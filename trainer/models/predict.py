"""Per-window probabilities (and embeddings) of any model kind for a list of recordings: the table
``birdview-train predict --model`` writes, in the layout of the checkpoint path (file, row_id,
start_s, end_s, one column per class)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from trainer.inference import check_audio_path, join_tables, window_table
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
            check_audio_path(path)
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
        starts = np.concatenate(index) * hop
        frames.append(window_table(path, info.classes, starts, starts + info.window_s, np.concatenate(scores)))
        embeddings[str(path)] = np.concatenate(vectors)
    return join_tables(frames, info.classes), embeddings, skipped
