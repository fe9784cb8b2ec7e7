"""The review queue shows the species expected at each recording and no non-bird classes, unless asked."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from birdview.jobs.species_filter import set_species_list, shown_species
from birdview.review.queue import candidates
from birdview.store.project import Project
from tests.conftest import write_tone_file

CLASSES = [
    ("amecro", "American Crow", "Corvus brachyrhynchos", "bird"),
    ("blujay", "Blue Jay", "Cyanocitta cristata", "bird"),
    ("Dog", "Dog", None, "other"),
]


def test_the_queue_keeps_expected_birds_unless_every_class_is_asked_for(tmp_path: Path) -> None:
    audio = tmp_path / "audio"
    audio.mkdir()
    write_tone_file(audio / "r.wav", duration_s=9.0, sample_rate=8000)
    listed = tmp_path / "garden.txt"
    listed.write_text("# my garden\nCorvus brachyrhynchos_American Crow\n")
    with Project.create(tmp_path / "project", species=[]) as project:
        project.add_recordings([audio])
        project.add_model_species(CLASSES)
        model = project.register_model("m", [c[0] for c in CLASSES], window_s=3.0, kind="birdnet", activate=True)
        recording = project.recordings()[0]
        project.store_predictions(model.version, recording.id, np.full((3, 3), 0.9))

        def queued(allowed) -> set[str]:
            return {c.species for c in candidates(project, model.version, show="all", allowed=allowed)}

        assert queued(None) == {"amecro", "blujay", "Dog"}
        assert queued(shown_species(project)) == {"amecro", "blujay"}  # no list yet: every bird
        assert shown_species(project, non_birds=True) is None  # nothing to hide: no filter at all
        set_species_list(project, listed)
        assert queued(shown_species(project)) == {"amecro"}
        assert queued(shown_species(project, expected_only=False)) == {"amecro", "blujay"}
        assert queued(shown_species(project, expected_only=False, non_birds=True)) == {"amecro", "blujay", "Dog"}
