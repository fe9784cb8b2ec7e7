"""Open audio recordings and read blocks of them by seeking; never the whole file.

A :class:`Recording` is safe to read from several threads at once: each thread gets its own
decoder handle, because libsndfile handles keep a file position.
"""

from __future__ import annotations

import struct
import threading
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import numpy as np
import soundfile as sf

from birdview.audio.filenames import parse_start_time

AUDIO_EXTENSIONS = frozenset({".wav", ".flac", ".ogg", ".oga", ".opus", ".mp3", ".aif", ".aiff", ".w64"})

#: Bytes a probe reads at the end of a file to find out whether it decodes to its end.
_END_PROBE_FRAMES = 4096


class AudioFileError(Exception):
    """A recording that cannot be opened or read; the message names the file and the problem."""

    def __init__(self, path: str | Path, problem: str) -> None:
        self.path = Path(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}")


@dataclass(frozen=True)
class RecordingInfo:
    path: Path
    duration_s: float
    sample_rate: int
    channels: int
    frames: int
    format: str
    start_time: datetime | None
    #: Set when the header promises more audio than the file holds; frames is then the readable part.
    warning: str | None = None


def probe(path: str | Path) -> RecordingInfo:
    """Read a recording's header and check that it decodes to its end.

    Raises :class:`AudioFileError` with a plain-language problem for missing, empty, non-audio
    and unreadable files. A truncated file opens with ``warning`` set and ``frames`` cut to the
    audio that can really be decoded.
    """
    path = Path(path)
    if not path.exists():
        raise AudioFileError(path, "file not found")
    if path.is_dir():
        raise AudioFileError(path, "is a folder, not an audio file")
    size = path.stat().st_size
    if size == 0:
        raise AudioFileError(path, "file is empty (0 bytes)")
    try:
        info = sf.info(str(path))
    except (sf.LibsndfileError, RuntimeError, OSError) as exc:
        detail = str(exc).split(": ", 1)[-1] if ": " in str(exc) else str(exc)
        raise AudioFileError(path, f"not a readable audio file ({detail})") from None
    if info.frames <= 0 or info.samplerate <= 0:
        raise AudioFileError(path, "contains no audio samples")

    frames = info.frames
    warning = None
    declared = _declared_wav_frames(path)
    readable = _readable_frames(path, frames)
    if declared is not None and declared > frames:
        warning = (
            f"file is truncated: header says {declared / info.samplerate:.1f} s, "
            f"only {frames / info.samplerate:.1f} s are in the file"
        )
    if readable < frames:
        if readable <= 0:
            raise AudioFileError(path, "audio data is corrupt: no sample can be decoded")
        frames = readable
        warning = (
            f"file is truncated or corrupt: header says {info.frames / info.samplerate:.1f} s, "
            f"only the first {readable / info.samplerate:.1f} s can be decoded"
        )
    return RecordingInfo(
        path=path,
        duration_s=frames / info.samplerate,
        sample_rate=int(info.samplerate),
        channels=int(info.channels),
        frames=int(frames),
        format=f"{info.format} {info.subtype}",
        start_time=parse_start_time(path),
        warning=warning,
    )


def _declared_wav_frames(path: Path) -> int | None:
    """Frames a RIFF/WAVE header promises (libsndfile silently shortens truncated WAVs)."""
    try:
        with open(path, "rb") as handle:
            header = handle.read(12)
            if len(header) < 12 or header[:4] != b"RIFF" or header[8:12] != b"WAVE":
                return None
            block_align = None
            while True:
                chunk = handle.read(8)
                if len(chunk) < 8:
                    return None
                chunk_id, size = chunk[:4], struct.unpack("<I", chunk[4:])[0]
                if chunk_id == b"fmt ":
                    fmt = handle.read(size + (size & 1))
                    block_align = struct.unpack("<H", fmt[12:14])[0] if len(fmt) >= 14 else None
                elif chunk_id == b"data":
                    # 0 and 0xFFFFFFFF are placeholders of recorders still writing (or RF64).
                    if not block_align or size in (0, 0xFFFFFFFF):
                        return None
                    return size // block_align
                else:
                    handle.seek(size + (size & 1), 1)
    except OSError:
        return None


def _decodes_at(path: Path, position: int, count: int) -> bool:
    try:
        with sf.SoundFile(str(path)) as handle:
            handle.seek(position)
            return len(handle.read(count, dtype="float32")) == count
    except (sf.LibsndfileError, RuntimeError, OSError):
        return False


def _readable_frames(path: Path, frames: int) -> int:
    """How many frames decode; a binary search by seeking when the end does not."""
    count = min(_END_PROBE_FRAMES, frames)
    if _decodes_at(path, frames - count, count):
        return frames
    low, high = 0, frames - count  # decodes at `low` (assumed), not at `high`
    if not _decodes_at(path, 0, count):
        return 0
    while high - low > count:
        middle = (low + high) // 2
        if _decodes_at(path, middle, count):
            low = middle
        else:
            high = middle
    return low + count


class Recording:
    """An open recording: metadata plus thread-safe block reads."""

    def __init__(self, info: RecordingInfo) -> None:
        self.info = info
        self._local = threading.local()
        self._handles: list[sf.SoundFile] = []
        self._lock = threading.Lock()

    @classmethod
    def open(cls, path: str | Path) -> Recording:
        return cls(probe(path))

    @property
    def path(self) -> Path:
        return self.info.path

    @property
    def sample_rate(self) -> int:
        return self.info.sample_rate

    @property
    def frames(self) -> int:
        return self.info.frames

    def _handle(self) -> sf.SoundFile:
        handle = getattr(self._local, "handle", None)
        if handle is None or handle.closed:
            try:
                handle = sf.SoundFile(str(self.info.path))
            except (sf.LibsndfileError, RuntimeError, OSError) as exc:
                raise AudioFileError(self.info.path, f"cannot be reopened ({exc})") from None
            self._local.handle = handle
            with self._lock:
                self._handles.append(handle)
        return handle

    def read(self, start: int, stop: int, channel: int | None = 0) -> np.ndarray:
        """Samples ``[start, stop)`` as float32, zero-padded where the range leaves the file.

        ``channel`` picks one channel (1-D result); ``None`` returns all, shape (n, channels).
        """
        length = max(0, stop - start)
        channels = self.info.channels
        out = np.zeros((length, channels), dtype=np.float32)
        first = max(start, 0)
        last = min(stop, self.info.frames)
        if last > first:
            handle = self._handle()
            try:
                handle.seek(first)
                # Decoded straight into ``out``: no second block of the same size (memory).
                handle.read(last - first, out=out[first - start : last - start])
            except (sf.LibsndfileError, RuntimeError, OSError) as exc:
                self._discard_handle()
                raise AudioFileError(
                    self.info.path, f"decoding failed at {first / self.sample_rate:.2f} s ({exc})"
                ) from None
        if channel is None:
            return out
        return out[:, min(channel, channels - 1)]

    def _discard_handle(self) -> None:
        handle = getattr(self._local, "handle", None)
        if handle is not None:
            handle.close()
            self._local.handle = None

    def close(self) -> None:
        with self._lock:
            for handle in self._handles:
                if not handle.closed:
                    handle.close()
            self._handles.clear()


def find_audio_files(paths: list[str | Path], problems: list[str] | None = None) -> list[Path]:
    """Expand folders (recursively) into their audio files; files are kept as given, in order
    (a missing or unreadable one is left for :func:`probe` to report).

    A folder that holds no audio file adds nothing; when ``problems`` is given, a line
    ``FOLDER: folder with no audio files`` (or why it cannot be read) is appended to it for each."""
    found: list[Path] = []
    for entry in paths:
        entry = Path(entry)
        if entry.is_dir():
            try:
                files = sorted(p for p in entry.rglob("*") if p.suffix.lower() in AUDIO_EXTENSIONS and p.is_file())
            except OSError as exc:
                if problems is None:
                    raise
                problems.append(f"{entry}: folder cannot be read ({exc.strerror or exc})")
                continue
            if not files and problems is not None:
                problems.append(f"{entry}: folder with no audio files")
            found.extend(files)
        else:
            found.append(entry)
    return found
