"""Cutting audio clips of labels, and the BirdCLEF-layout export that ``birdview-train fit`` reads."""

from __future__ import annotations

import csv
import errno
import os
import shutil
from pathlib import Path

import numpy as np
import soundfile as sf

from birdview.audio.recording import Recording
from birdview.store.paths import MAX_NAME_BYTES, atomic_write, child_path, safe_component, staged_writes, unique_name

BACKGROUND = "background"
#: Folders of train_audio/ that are not species: hard negatives, and a retrain's linked base dataset.
RESERVED_FOLDERS = (BACKGROUND, "_base")


def clip_name(stem: str, start_s: float, end_s: float, label: str | None, extension: str) -> str:
    """``<recording>_<start>-<end>s_<label>.<ext>``: the source and offset travel in the name.
    The recording's stem and the label are made safe file-name parts (:func:`safe_component`)."""
    recording = safe_component(stem, max_bytes=96)
    species = safe_component(label or "unlabelled", max_bytes=64)
    return safe_component(f"{recording}_{start_s:09.3f}-{end_s:09.3f}s_{species}.{extension}", MAX_NAME_BYTES)


def species_folder(label: dict | None) -> str:
    """The folder of a label's clips in a BirdCLEF layout: ``background`` for hard negatives and
    unlabelled clips, else its species as a safe name (never ``background`` or ``_base``)."""
    if label is None or label.get("kind") == "hard_negative" or not label.get("species"):
        return BACKGROUND
    return safe_component(label["species"], reserved=RESERVED_FOLDERS)


def write_clip(recording: Recording, start_s: float, end_s: float, out: Path, pad_s: float = 0.0) -> Path:
    """Cut ``start_s``..``end_s`` (plus ``pad_s`` each side) to ``out``; its suffix picks the
    format. Written whole or not at all (:func:`atomic_write`)."""
    rate = recording.sample_rate
    first = max(0, int((start_s - pad_s) * rate))
    last = min(recording.frames, int(np.ceil((end_s + pad_s) * rate)))
    audio = recording.read(first, max(last, first + 1), channel=None)
    extension = out.suffix.lstrip(".").upper()
    audio_format = extension if extension in sf.available_formats() else None
    with atomic_write(out) as temp:
        try:
            # Written in blocks: libsndfile's Vorbis encoder crashes on very large single writes.
            with sf.SoundFile(temp, "w", rate, audio.shape[1], format=audio_format) as handle:
                for block in range(0, len(audio), rate):
                    handle.write(audio[block : block + rate])
        except (RuntimeError, AssertionError) as exc:  # libsndfile's errors, and soundfile's short write
            raise _encoder_error(temp, exc) from exc
    return out


def _encoder_error(temp: Path, exc: Exception) -> OSError:
    """libsndfile reports a failed write without errno: call it a full disk when the disk is."""
    try:
        full = shutil.disk_usage(temp.parent).free < 1024 * 1024
    except OSError:
        full = False
    if full:
        return OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
    return OSError(errno.EIO, f"the audio encoder failed ({exc or type(exc).__name__})")


BIRDCLEF_HEADER = [
    "primary_label",
    "secondary_labels",
    "type",
    "filename",
    "rating",
    "source_recording",
    "source_start_s",
    "source_end_s",
    "kind",
]


def write_birdclef(out: Path, items: list[tuple[Recording, dict]], pad_s: float = 0.0) -> Path:
    """train_metadata.csv plus train_audio/<label>/<clip>.ogg; hard negatives under
    train_audio/background/ with an empty primary_label (an all-zero target for the trainer).
    Folder and clip names are safe names of the species and recording (the species itself is
    kept in primary_label); all files are written or, when one fails, none."""
    rows, used = [], set()
    with staged_writes() as batch:
        batch.mkdir(out)
        for recording, label in items:
            negative = label["kind"] == "hard_negative" or not label["species"]
            folder = species_folder(label)
            name = unique_name(
                Path(folder),
                clip_name(recording.path.stem, label["start_s"], label["end_s"], label["species"], "ogg"),
                used,
            )
            write_clip(recording, label["start_s"], label["end_s"], child_path(out, "train_audio", folder, name), pad_s)
            rows.append(
                [
                    "" if negative else label["species"],
                    "[]",
                    label["kind"],
                    f"{folder}/{name}",
                    "5",
                    str(recording.path),
                    f"{label['start_s']:.3f}",
                    f"{label['end_s']:.3f}",
                    label["kind"],
                ]
            )
        metadata = child_path(out, "train_metadata.csv")
        with atomic_write(metadata) as temp, open(temp, "w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(BIRDCLEF_HEADER)
            writer.writerows(rows)
    return metadata
