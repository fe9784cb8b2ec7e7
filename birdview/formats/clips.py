"""Cutting audio clips of labels, and the BirdCLEF-layout export that ``birdview-train fit`` reads."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import soundfile as sf

from birdview.audio.recording import Recording


def clip_name(stem: str, start_s: float, end_s: float, label: str | None, extension: str) -> str:
    """``<recording>_<start>-<end>s_<label>.<ext>``: the source and offset travel in the name."""
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in (label or "unlabelled"))
    return f"{stem}_{start_s:09.3f}-{end_s:09.3f}s_{safe}.{extension}"


def write_clip(recording: Recording, start_s: float, end_s: float, out: Path, pad_s: float = 0.0) -> Path:
    rate = recording.sample_rate
    first = max(0, int((start_s - pad_s) * rate))
    last = min(recording.frames, int(np.ceil((end_s + pad_s) * rate)))
    audio = recording.read(first, max(last, first + 1), channel=None)
    out.parent.mkdir(parents=True, exist_ok=True)
    # Written in blocks: libsndfile's Vorbis encoder crashes on very large single writes.
    with sf.SoundFile(out, "w", rate, audio.shape[1]) as handle:
        for block in range(0, len(audio), rate):
            handle.write(audio[block : block + rate])
    return out


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
    train_audio/background/ with an empty primary_label (an all-zero target for the trainer)."""
    out.mkdir(parents=True, exist_ok=True)
    rows = []
    for recording, label in items:
        negative = label["kind"] == "hard_negative" or not label["species"]
        folder = "background" if negative else label["species"]
        name = clip_name(recording.path.stem, label["start_s"], label["end_s"], label["species"], "ogg")
        write_clip(recording, label["start_s"], label["end_s"], out / "train_audio" / folder / name, pad_s)
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
    with open(out / "train_metadata.csv", "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(BIRDCLEF_HEADER)
        writer.writerows(rows)
    return out / "train_metadata.csv"
