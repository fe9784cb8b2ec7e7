"""birdview-train checkpoints and their ONNX exports as a model kind.

The probabilities are those ``birdview-train predict`` computes; the embedding is the pooled
feature the classifier's head reads (exports made before embeddings were exported have none,
``embedding_dim`` 0).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np

from trainer.frontend import MelFrontEnd
from trainer.inference import InferenceError, Scorer, load_scorer
from trainer.models.base import ModelError, ModelInfo, SpeciesName, sigmoid
from trainer.window_stream import CHUNK_WINDOWS, WindowChunk, mel_chunks

TRAINED_KIND = "birdview-train"


class TrainedModel:
    def __init__(self, scorer: Scorer, source: str | Path, batch_size: int = 32) -> None:
        self.scorer = scorer
        self.batch_size = batch_size
        self.frontend = MelFrontEnd(scorer.frontend)
        config = scorer.frontend
        self.info = ModelInfo(
            kind=TRAINED_KIND,
            name=Path(source).name,
            species=tuple(SpeciesName(code) for code in scorer.classes),
            sample_rate=config.sample_rate,
            window_s=config.window_s,
            embedding_dim=int(getattr(scorer, "embedding_dim", 0)),
            licence="yours (trained with birdview-train)",
            source=str(source),
            frontend=config.as_dict(),
        )

    @classmethod
    def load(
        cls, path: str | Path, threads: int | None = None, engine: str = "auto", precision: str = "fp32"
    ) -> TrainedModel:
        try:
            return cls(load_scorer(path, threads=threads, engine=engine, precision=precision), path)
        except (InferenceError, ValueError, RuntimeError) as exc:
            raise ModelError(f"{path}: cannot be used as a model ({exc})") from None

    def chunks(
        self,
        path: str | Path,
        hop_s: float,
        start_window: int = 0,
        chunk_windows: int = CHUNK_WINDOWS,
        on_truncated: Callable[[str], None] | None = None,
        channel: int | None = None,
    ) -> Iterator[WindowChunk]:
        return mel_chunks(
            path,
            self.frontend,
            chunk_windows=chunk_windows,
            start_window=start_window,
            on_truncated=on_truncated,
            hop_s=hop_s,
            channel=channel,
        )

    def infer(self, inputs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        logits, embeddings = [], []
        for start in range(0, len(inputs), self.batch_size):
            batch_logits, batch_embeddings = _outputs(self.scorer, inputs[start : start + self.batch_size])
            logits.append(batch_logits)
            embeddings.append(batch_embeddings)
        return sigmoid(np.concatenate(logits)), np.concatenate(embeddings).astype(np.float32)


def _outputs(scorer: Scorer, mels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    outputs = getattr(scorer, "outputs", None)
    if outputs is None:
        logits, embedding = scorer.logits(mels), None
    else:
        logits, embedding = outputs(mels)
    if embedding is None:
        embedding = np.zeros((len(logits), 0), dtype=np.float32)
    return logits, embedding
