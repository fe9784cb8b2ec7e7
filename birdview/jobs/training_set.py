"""A retraining job's training set: the project's labels that count for training (confirmed or
user-drawn calls and every hard negative, an all-zero target; the rule is
:func:`birdview.store.labels.counts_for_training`) cut as clips into a BirdCLEF-layout folder
(:mod:`birdview.formats.birdclef`), optionally with a base dataset, and its validation split:
by recording, so that no recording is in both.
"""

from __future__ import annotations

import csv
import hashlib
from dataclasses import dataclass
from pathlib import Path

from birdview.audio.recording import Recording
from birdview.formats.birdclef import ClipLabel, write_birdclef
from birdview.formats.clips import BASE_FOLDER
from birdview.store import labels as label_rules
from birdview.store.labels import Kind
from birdview.store.paths import UnsafePathError, atomic_write, staged_writes
from birdview.store.project import Annotation, Project, ProjectError, RecordingRow
from trainer.data.layout import AUDIO_FOLDER, METADATA_FILE

#: What a training set adds to the trainer's columns: the validation fold (0: held out, 1: in
#: training, -1: a base dataset's row, always in training), the label and, for a hard negative,
#: the species it is not.
TRAINING_COLUMNS = ("fold", "label_id", "negative_for")
#: The class list of the set: the model's classes, then any new species, one a line.
SPECIES_FILE = "species.txt"
#: Labels cut as clips in a training set are written losslessly: FLAC is several times faster to
#: write than Vorbis.
AUDIO_FORMAT = "flac"


@dataclass
class TrainingData:
    folder: Path
    species_file: Path
    labels: list[int]
    train_recordings: list[int]
    valid_recordings: list[int]


def validation_recordings(recording_ids: list[int], fraction: float) -> set[int]:
    """About ``fraction`` of the recordings (at least one, none of fewer than two), chosen by a
    hash of their ids: the same recordings each time."""
    if len(recording_ids) < 2:
        return set()
    ordered = sorted(recording_ids, key=lambda i: hashlib.sha1(str(i).encode()).hexdigest())
    count = max(1, round(len(ordered) * fraction))
    return set(ordered[:count])


def build_training_data(
    project: Project,
    out: Path,
    classes: list[str],
    window_s: float = 5.0,
    valid_fraction: float = 0.25,
    base_data: Path | None = None,
    valid_recordings: list[int] | None = None,
) -> TrainingData:
    """The project's training labels cut as clips into ``out`` in a BirdCLEF layout. Folder and
    clip names are safe names inside ``out`` (whatever the species are called); a failure to
    write (a full disk...) raises :class:`ProjectError` naming the file and leaves no clips."""
    labels = label_rules.training_labels(project)
    if not labels:
        raise ProjectError("no labels to learn from: confirm or draw calls, or mark hard negatives first")
    recordings = {r.id: r for r in project.recordings()}
    used = sorted({a.recording_id for a in labels})
    # The user's own held-out recordings (labels kept aside for checking), or an automatic split.
    valid = set(valid_recordings) if valid_recordings else validation_recordings(used, valid_fraction)
    out.mkdir(parents=True, exist_ok=True)
    opened: dict[int, Recording] = {}
    try:
        # Scratch data of one job: all of it or none, not flushed to disk file by file.
        with staged_writes(sync=False):
            clips = _clip_labels(labels, recordings, opened, valid, window_s)
            base_rows = _base_rows(base_data, out) if base_data is not None else []
            write_birdclef(out, clips, TRAINING_COLUMNS, AUDIO_FORMAT, base_rows)
            found = {a.species for a in labels if a.species}
            found |= {str(row["primary_label"]) for row in base_rows if row["primary_label"]}
            species = list(classes) + sorted(found - set(classes))
            species_file = out / SPECIES_FILE
            with atomic_write(species_file) as temp:
                temp.write_text("\n".join(species) + "\n")
    except (OSError, UnsafePathError) as exc:
        raise ProjectError(f"cannot write the training set: {exc}") from None
    finally:
        for handle in opened.values():
            handle.close()
    return TrainingData(out, species_file, [a.id for a in labels], [i for i in used if i not in valid], sorted(valid))


def _clip_labels(
    labels: list[Annotation],
    recordings: dict[int, RecordingRow],
    opened: dict[int, Recording],
    valid: set[int],
    window_s: float,
) -> list[ClipLabel]:
    """Each label as a clip of at least ``window_s`` (padded evenly), with its fold and id."""
    clips = []
    for label in labels:
        if label.recording_id not in opened:
            opened[label.recording_id] = Recording.open(recordings[label.recording_id].path)
        negative = label.kind == Kind.HARD_NEGATIVE
        extra = {
            "fold": 0 if label.recording_id in valid else 1,
            "label_id": label.id,
            "negative_for": label.species if negative else "",
        }
        pad = max(0.0, (window_s - (label.end_s - label.start_s)) / 2)
        recording = opened[label.recording_id]
        clips.append(ClipLabel(recording, label.start_s, label.end_s, label.species, label.kind, pad, extra))
    return clips


def _base_rows(base: Path, out: Path) -> list[dict[str, object]]:
    """Rows of a BirdCLEF-layout base dataset, always in training; its audio linked, not copied."""
    link = out / AUDIO_FOLDER / BASE_FOLDER
    link.parent.mkdir(parents=True, exist_ok=True)
    if not link.exists():
        link.symlink_to((base / AUDIO_FOLDER).absolute(), target_is_directory=True)
    rows = []
    with open(base / METADATA_FILE, newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            rows.append(
                {
                    "primary_label": row.get("primary_label", ""),
                    "secondary_labels": row.get("secondary_labels", "[]"),
                    "type": row.get("type", ""),
                    "filename": f"{BASE_FOLDER}/{row['filename']}",
                    "rating": row.get("rating", "5"),
                    "fold": -1,
                }
            )
    return rows
