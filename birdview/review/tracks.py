"""Per-species probability over time for the visible part of a recording."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from birdview.store.project import Project


@dataclass
class Tracks:
    window_s: float
    first_window: int
    classes: list[str]
    scores: np.ndarray  # (windows, classes)

    @property
    def starts(self) -> np.ndarray:
        return (self.first_window + np.arange(len(self.scores))) * self.window_s

    def species(self, code: str) -> np.ndarray:
        return self.scores[:, self.classes.index(code)]

    def top_species(self, k: int) -> list[str]:
        """The k species with the highest score anywhere in this range."""
        if not len(self.scores):
            return []
        best = self.scores.max(axis=0)
        return [self.classes[i] for i in np.argsort(-best)[:k]]

    def step_curve(self, code: str) -> tuple[np.ndarray, np.ndarray]:
        """x, y for a stepped line: each window's score held over its 5 s."""
        y = self.species(code)
        x = np.append(self.starts, self.starts[-1] + self.window_s) if len(y) else np.zeros(0)
        return x, y

    def detections(self, codes: list[str], threshold: float) -> list[tuple[float, float, str, float]]:
        """(start s, end s, species, score) of every window at or above the threshold."""
        found = []
        for code in codes:
            column = self.species(code)
            for i in np.flatnonzero(column >= threshold):
                start = (self.first_window + i) * self.window_s
                found.append((float(start), float(start + self.window_s), code, float(column[i])))
        return found


def visible_tracks(project: Project, version: int, recording_id: int, start_s: float, end_s: float) -> Tracks:
    model = project.model(version)
    first, scores = project.predictions(version, recording_id, max(0.0, start_s), end_s)
    return Tracks(model.window_s, first, model.classes, scores)
