"""Unlabelled recordings as background: random excerpts streamed from files of any length.

``fit --background-dir DIR`` mixes excerpts into training clips (see ``augment.mix_background``)
and, with ``--background-as-negatives N``, adds N clips cut from them at random each epoch with
all-zero targets. An excerpt is read by seeking (``read_segment``): a recording is never loaded whole.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf

from trainer.data.dataset import read_segment
from trainer.data.metadata import Clip, DatasetError
from trainer.data.recording_list import is_recording_list, read_recording_list
from trainer.frontend import FrontEndConfig, to_model_rate

AUDIO_EXTENSIONS = (".wav", ".flac", ".ogg", ".oga", ".opus", ".mp3", ".aif", ".aiff")


@dataclass(frozen=True)
class BackgroundFile:
    path: Path
    frames: int
    rate: int


class BackgroundSource:
    """The readable recordings of a folder; :meth:`excerpt` draws a random piece of one of them
    (files weighted by their length)."""

    def __init__(self, files: list[BackgroundFile], frontend: FrontEndConfig, skipped: list[str] | None = None) -> None:
        if not files:
            raise DatasetError("no background recordings")
        self.files = files
        self.config = frontend
        self.skipped = skipped or []
        seconds = np.array([f.frames / f.rate for f in files], dtype=np.float64)
        self._share = seconds / seconds.sum()

    @classmethod
    def from_folder(cls, folder: str | Path, frontend: FrontEndConfig, skip_bad: bool = False) -> BackgroundSource:
        """Every audio file under ``folder``, or every recording a list file (``.txt``, one path a
        line) names. A missing or empty folder or list, and (unless ``skip_bad``) an unreadable or
        empty file, is a DatasetError naming it."""
        folder = Path(folder)
        if is_recording_list(folder):
            paths = read_recording_list(folder)
        elif not folder.is_dir():
            raise DatasetError(f"background folder {folder}: not found (or not a folder or a .txt list)")
        else:
            paths = sorted(p for p in folder.rglob("*") if p.suffix.lower() in AUDIO_EXTENSIONS and p.is_file())
        if not paths:
            raise DatasetError(f"background folder {folder}: no audio files in it ({', '.join(AUDIO_EXTENSIONS)})")
        files, skipped = [], []
        for path in paths:
            try:
                info = sf.info(str(path))
                if info.frames <= 0:
                    raise DatasetError(f"background recording {path}: has no samples")
                files.append(BackgroundFile(path, int(info.frames), int(info.samplerate)))
            except (sf.LibsndfileError, RuntimeError, OSError, DatasetError) as exc:
                message = (
                    str(exc)
                    if isinstance(exc, DatasetError)
                    else f"background recording {path}: cannot be read ({exc})"
                )
                if not skip_bad:
                    raise DatasetError(message) from None
                skipped.append(message)
        if not files:
            raise DatasetError(f"background folder {folder}: none of its {len(paths)} audio files can be read")
        return cls(files, frontend, skipped)

    def excerpt(self, n_samples: int, rng: np.random.Generator) -> np.ndarray:
        """``n_samples`` at the model's rate from a random place of a random recording (zero-padded
        where the recording is shorter)."""
        chosen = self.files[int(rng.choice(len(self.files), p=self._share))]
        native = int(np.ceil(n_samples * chosen.rate / self.config.sample_rate))
        start = int(rng.integers(0, max(0, chosen.frames - native) + 1))
        try:
            samples, rate = read_segment(chosen.path, start, native)
        except (sf.LibsndfileError, RuntimeError, OSError) as exc:
            raise DatasetError(f"background recording {chosen.path}: cannot be read ({exc})") from None
        wave = to_model_rate(samples, rate, self.config)
        return np.pad(wave, (0, max(0, n_samples - len(wave))))[:n_samples].astype(np.float32)

    def negative_clips(self, count: int) -> list[Clip]:
        """``count`` clips with all-zero targets over the recordings (round robin, longest first);
        each epoch crops each of them at a random place."""
        order = sorted(self.files, key=lambda f: -f.frames / f.rate)
        return [
            Clip(
                path=order[i % len(order)].path,
                primary=None,
                secondary=[],
                rating=None,
                start_s=None,
                end_s=None,
                line=0,
                fold=-1,
            )
            for i in range(count)
        ]
