"""Cutting audio clips of labels, and naming them (the BirdCLEF layout that uses them: birdclef.py)."""

from __future__ import annotations

import errno
import os
import shutil
from pathlib import Path

import numpy as np
import soundfile as sf

from birdview.audio.recording import Recording
from birdview.store.paths import MAX_NAME_BYTES, atomic_write, safe_component

BACKGROUND = "background"
#: The folder of train_audio/ where a retraining set links its base dataset's audio.
BASE_FOLDER = "_base"
#: Folders of train_audio/ that are not species: hard negatives, and a retrain's linked base dataset.
RESERVED_FOLDERS = (BACKGROUND, BASE_FOLDER)


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
