"""A text file listing recordings, one path a line: what ``fit --background-dir`` and
``--unlabelled`` (and ``predict``/``pseudo-label --audio``) accept besides a folder, so that a
caller whose recordings lie in many folders (birdview's project) need not copy or link them.

Blank lines and lines starting with ``#`` are skipped; a relative path is taken from the list
file's own folder.
"""

from __future__ import annotations

from pathlib import Path

from trainer.data.metadata import DatasetError

LIST_SUFFIX = ".txt"


def is_recording_list(path: str | Path) -> bool:
    path = Path(path)
    return path.suffix.lower() == LIST_SUFFIX and path.is_file()


def read_recording_list(path: str | Path) -> list[Path]:
    """The recordings a list file names, in its order. A DatasetError naming the file when it
    cannot be read or names none."""
    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise DatasetError(f"recording list {path}: cannot be read ({exc})") from None
    recordings = []
    for line in lines:
        entry = line.strip()
        if not entry or entry.startswith("#"):
            continue
        recording = Path(entry)
        recordings.append(recording if recording.is_absolute() else path.parent / recording)
    if not recordings:
        raise DatasetError(f"recording list {path}: names no recording (one path a line)")
    return recordings
