"""Per-species probability over time for the visible part of a recording."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass

import numpy as np

from birdview.store.project import Project

#: Species whose scores are fetched besides those chosen: enough for the heat map's top rows.
TOP_FETCHED = 12


@dataclass
class Tracks:
    window_s: float
    first_window: int
    classes: list[str]
    scores: np.ndarray  # (windows, classes)
    hop_s: float | None = None  # seconds between window starts (window_s without overlap)

    @property
    def step_s(self) -> float:
        return self.hop_s or self.window_s

    @property
    def starts(self) -> np.ndarray:
        return (self.first_window + np.arange(len(self.scores))) * self.step_s

    def species(self, code: str) -> np.ndarray:
        return self.scores[:, self.classes.index(code)]

    def top_species(self, k: int) -> list[str]:
        """The k species with the highest score anywhere in this range."""
        if not len(self.scores):
            return []
        best = self.scores.max(axis=0)
        return [self.classes[i] for i in np.argsort(-best, kind="stable")[:k]]

    def step_curve(self, code: str) -> tuple[np.ndarray, np.ndarray]:
        """x, y for a stepped line: each window's score held from its start to the next window's."""
        y = self.species(code)
        x = np.append(self.starts, self.starts[-1] + self.step_s) if len(y) else np.zeros(0)
        return x, y

    def detections(self, codes: list[str], threshold: float) -> list[tuple[float, float, str, float]]:
        """(start s, end s, species, score) of every window at or above the threshold."""
        found = []
        for code in codes:
            if code not in self.classes:
                continue
            column = self.species(code)
            for i in np.flatnonzero(column >= threshold):
                start = (self.first_window + i) * self.step_s
                found.append((float(start), float(start + self.window_s), code, float(column[i])))
        return found


def visible_tracks(
    project: Project,
    version: int,
    recording_id: int,
    start_s: float,
    end_s: float,
    chosen: Sequence[str] = (),
    allowed: Collection[str] | None = None,
) -> Tracks:
    """The scores of the chosen species and of the top species in the range, among ``allowed``
    (None: every class of the model). Only those columns are read: a BirdNET model has 6,522."""
    model = project.model(version)
    start_s = max(0.0, start_s)
    peaks = project.prediction_peaks(version, recording_id, start_s, end_s)
    eligible = np.ones(len(model.classes), dtype=bool)
    if allowed is not None:
        wanted = set(allowed)
        eligible = np.array([code in wanted for code in model.classes], dtype=bool)
    order = [int(i) for i in np.argsort(-np.where(eligible, peaks, -1.0), kind="stable") if eligible[i]]
    columns = [model.classes.index(code) for code in chosen if code in model.classes]
    columns += [i for i in order[:TOP_FETCHED] if i not in columns]
    first, scores = project.predictions(version, recording_id, start_s, end_s, columns=columns)
    return Tracks(model.window_s, first, [model.classes[i] for i in columns], scores, model.hop_s)
