"""The BirdCLEF layout that ``birdview-train fit`` reads: ``train_metadata.csv`` and the clips under
``train_audio/<species folder>/``, with the trainer's own names for both (trainer/data/metadata.py).

One writer for every such folder birdview makes: ``birdview export --format birdclef`` and the
training set of a retraining job. Each row has the trainer's columns (:data:`COLUMNS`) and the
caller's own after them: the export's say where each clip was cut from (:data:`EXPORT_COLUMNS`),
the training set's give the validation fold and the label (``fold``, ``label_id``,
``negative_for``); the trainer reads ``fold`` and ignores the others.

Hard negatives (and labels without a species) are an empty ``primary_label``, an all-zero target,
under ``train_audio/background/``. Folder and clip names are safe names of the species and the
recording (:func:`birdview.formats.clips.species_folder`, :func:`clip_name`), each path is checked
to stay inside the folder (:func:`child_path`), and all files are written or, when one fails, none
(:func:`staged_writes`).
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from birdview.audio.recording import Recording
from birdview.formats.clips import clip_name, species_folder, write_clip
from birdview.store.labels import Kind
from birdview.store.paths import atomic_write, child_path, staged_writes, unique_name
from trainer.data.layout import AUDIO_FOLDER, METADATA_FILE

#: The trainer's columns, first in every row.
COLUMNS = ("primary_label", "secondary_labels", "type", "filename", "rating")
#: What an export adds: where each clip was cut from, and the label's kind.
EXPORT_COLUMNS = ("source_recording", "source_start_s", "source_end_s", "kind")
#: The rating of a user's own label (the best on xeno-canto's scale).
RATING = "5"


@dataclass(frozen=True)
class ClipLabel:
    """One label to cut as a clip: ``start_s``..``end_s`` of ``recording`` (plus ``pad_s`` each
    side), its species and kind, and its values of the caller's extra columns."""

    recording: Recording
    start_s: float
    end_s: float
    species: str | None
    kind: str
    pad_s: float = 0.0
    extra: Mapping[str, object] = field(default_factory=dict)

    @property
    def negative(self) -> bool:
        return self.kind == Kind.HARD_NEGATIVE or not self.species


def export_extra(recording: Recording, start_s: float, end_s: float, kind: str) -> dict[str, object]:
    """The values of :data:`EXPORT_COLUMNS` for one clip."""
    return {
        "source_recording": str(recording.path),
        "source_start_s": f"{start_s:.3f}",
        "source_end_s": f"{end_s:.3f}",
        "kind": kind,
    }


def write_birdclef(
    out: Path,
    labels: Iterable[ClipLabel],
    extra_columns: Sequence[str] = (),
    audio_format: str = "ogg",
    more_rows: Iterable[Mapping[str, object]] = (),
) -> Path:
    """Cut each label as a clip into ``out/train_audio/`` (``audio_format``: a file extension,
    e.g. ``ogg`` or ``flac``) and write ``out/train_metadata.csv``: the trainer's columns, then
    ``extra_columns`` (each label's :attr:`ClipLabel.extra`; a column a label lacks is empty).
    ``more_rows`` are further rows, by column, whose audio is already in place (a linked base
    dataset). Returns the metadata file; inside an enclosing :func:`staged_writes` the files
    are renamed into place when it ends."""
    header = [*COLUMNS, *extra_columns]
    rows: list[list[object]] = []
    used: set[str] = set()
    with staged_writes() as batch:
        batch.mkdir(out)
        for label in labels:
            folder = species_folder({"kind": label.kind, "species": label.species})
            name = unique_name(
                Path(folder),
                clip_name(label.recording.path.stem, label.start_s, label.end_s, label.species, audio_format),
                used,
            )
            target = child_path(out, AUDIO_FOLDER, folder, name)
            write_clip(label.recording, label.start_s, label.end_s, target, label.pad_s)
            trainer_columns = {
                "primary_label": "" if label.negative else label.species,
                "secondary_labels": "[]",
                "type": label.kind,
                "filename": f"{folder}/{name}",
                "rating": RATING,
            }
            rows.append(_row(header, {**label.extra, **trainer_columns}))
        rows += [_row(header, row) for row in more_rows]
        metadata = child_path(out, METADATA_FILE)
        with atomic_write(metadata) as temp, open(temp, "w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(header)
            writer.writerows(rows)
    return metadata


def _row(header: Sequence[str], values: Mapping[str, object]) -> list[object]:
    return ["" if values.get(column) is None else values[column] for column in header]
