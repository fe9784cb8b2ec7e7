"""What every model kind offers: its windows, its classes, and (probabilities, embeddings) per window.

A model scores windows of ``window_s`` seconds at its own ``sample_rate``; a recording is cut into
windows every ``hop_s`` seconds (``hop_s`` = ``window_s`` without overlap). ``chunks`` turns a
file into batches of whatever the model takes (raw audio, or mels for birdview-train models), so
that the file is decoded and resampled once, chunk by chunk, never whole; ``infer`` turns one
batch into probabilities (windows, classes) and embeddings (windows, embedding_dim).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import numpy as np

if TYPE_CHECKING:  # the window stream imports torch; this interface stays light (the app imports it)
    from trainer.window_stream import WindowChunk


class ModelError(ValueError):
    """A model that cannot be used: a missing extra, a damaged file, a wrong input or output shape.
    The message names the file (or the extra) and what is wrong."""


#: Category of a class that is a bird (it has an eBird code), and of everything else a model
#: knows (other animals, Human vocal, Dog, Engine, Siren, ...), which users may hide.
BIRD = "bird"
OTHER = "other"


@dataclass(frozen=True)
class SpeciesName:
    """One class of a model, by the identity birdview uses across models: the eBird code where one
    is known for the scientific name, else the scientific name itself."""

    code: str
    scientific_name: str | None = None
    common_name: str | None = None
    category: str = BIRD


@dataclass(frozen=True)
class ModelInfo:
    kind: str  # "birdview-train", "birdnet", "perch-v2"
    name: str  # what the user sees: "BirdNET V2.4", a file name
    species: tuple[SpeciesName, ...]
    sample_rate: int
    window_s: float
    embedding_dim: int
    licence: str
    source: str  # the file (or package folder) the model was read from
    frontend: dict = field(default_factory=dict)  # birdview-train models: their mel front end

    @property
    def classes(self) -> list[str]:
        return [name.code for name in self.species]


class WindowModel(Protocol):
    info: ModelInfo

    def chunks(
        self,
        path: str | Path,
        hop_s: float,
        start_window: int = 0,
        chunk_windows: int = 48,
        on_truncated: Callable[[str], None] | None = None,
        channel: int | None = None,
    ) -> Iterator[WindowChunk]:
        """A file's windows as the model's inputs, chunk by chunk (``channel``: one channel,
        0-based, of the file; None: the mean of its channels)."""
        ...

    def infer(self, inputs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(probabilities (windows, classes) in 0..1, embeddings (windows, embedding_dim)), float32."""
        ...


def hop_for(window_s: float, overlap: float) -> float:
    """Seconds between window starts for an overlap given as a fraction of the window (0 <= o < 1)."""
    if not 0 <= overlap < 1 or not math.isfinite(overlap):
        raise ModelError(f"overlap must be at least 0 and below 1 (a fraction of the window), not {overlap}")
    return round(window_s * (1 - overlap), 6)


def sigmoid(logits: np.ndarray) -> np.ndarray:
    return (1 / (1 + np.exp(-np.clip(logits.astype(np.float64), -60, 60)))).astype(np.float32)
