"""A recording's scoring windows, decoded and turned into mels chunk by chunk.

A recording is never read whole. Each chunk of windows is decoded, resampled to the model's rate
and cut into context-length windows centred on each scored window. ``mel_chunks`` shares every
chunk between worker threads: each decodes its part and computes its mels with one torch thread.
On a CPU, windows side by side use the cores better than torch's threads inside one STFT (about
2 against 3.4 ms of core time a window on two cores), and decoding runs in parallel as well.
"""

from __future__ import annotations

import math
import os
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf
import torch

from trainer.data.dataset import read_segment
from trainer.frontend import FrontEndConfig, MelFrontEnd, to_model_rate

CHUNK_WINDOWS = 48
RESAMPLING_GUARD_SAMPLES = 512
#: Frames read to tell whether a file decodes at a point (the end, then a binary search).
PROBE_FRAMES = 4096


class InferenceError(ValueError):
    pass


@dataclass
class WindowChunk:
    index: np.ndarray  # window numbers: window w starts at w * hop_s
    inputs: np.ndarray  # a model's inputs, one row per window: mels (windows, 1, n_mels, frames) or audio


def window_count(duration_s: float, window_s: float, hop_s: float | None = None) -> int:
    """Windows that cover a recording: every ``hop_s`` seconds (default: one after the other) until
    one reaches its end; the last may run past the end (it is zero-padded)."""
    if hop_s is None or hop_s >= window_s:
        return max(1, math.ceil(duration_s / (hop_s or window_s) - 1e-9))
    return 1 + max(0, math.ceil((duration_s - window_s) / hop_s - 1e-9))


@dataclass(frozen=True)
class WindowGeometry:
    """Where a model's windows lie: at ``sample_rate``, ``window_s`` scored every ``hop_s``, each
    seen with ``context_s`` of audio centred on it."""

    sample_rate: int
    window_s: float
    context_s: float
    hop_s: float

    @classmethod
    def of(cls, frontend: FrontEndConfig, hop_s: float | None = None) -> WindowGeometry:
        return cls(frontend.sample_rate, frontend.window_s, frontend.context_s, hop_s or frontend.window_s)

    @property
    def context_samples(self) -> int:
        return round(self.context_s * self.sample_rate)

    @property
    def hop_samples(self) -> int:
        return round(self.hop_s * self.sample_rate)


def default_workers() -> int:
    """The CPU cores this process may use."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS and Windows have no affinity call
        return os.cpu_count() or 1


def _rate_frames_channels(path: Path) -> tuple[int, int, int]:
    try:
        info = sf.info(str(path))
    except (sf.LibsndfileError, RuntimeError, OSError) as exc:
        raise InferenceError(f"{path}: cannot be read ({exc})") from None
    return info.samplerate, info.frames, info.channels


def check_channel(name: str, channels: int, channel: int | None) -> None:
    """Refuse a channel the file does not have, naming the file and how many channels it has."""
    if channel is not None and not 0 <= channel < channels:
        raise InferenceError(
            f"{name} has {channels} channel{'s' if channels != 1 else ''}: it has no channel {channel + 1} to score"
        )


def read_channel_segment(path: str | Path, start_frame: int, n_frames: int, channel: int) -> tuple[np.ndarray, int]:
    """Samples [start_frame, start_frame + n_frames) of one channel (0-based) at the file's rate,
    zero-padded (``read_segment`` reads the mono mix instead)."""
    with sf.SoundFile(str(path)) as handle:
        out = np.zeros(n_frames, dtype=np.float32)
        first, last = max(0, start_frame), min(handle.frames, start_frame + n_frames)
        if last > first:
            handle.seek(first)
            block = handle.read(last - first, dtype="float32", always_2d=True)[:, channel]
            out[first - start_frame : first - start_frame + len(block)] = block
        return out, handle.samplerate


def _decoding_error(path: Path, position: int, count: int) -> str | None:
    """None where ``count`` frames from ``position`` decode, else the decoder's complaint."""
    try:
        with sf.SoundFile(str(path)) as handle:
            handle.seek(position)
            handle.read(count, dtype="float32")
    except (sf.LibsndfileError, RuntimeError, OSError) as exc:
        return str(exc).removeprefix("Error : ").strip().rstrip(".") or type(exc).__name__
    return None


def decodable_frames(path: str | Path, frames: int) -> tuple[int, str | None]:
    """How many of a file's ``frames`` (as its header says) decode, and why decoding stops there
    (None: all of them). One read at the end for a sound file; for a truncated one (a FLAC or an
    MP3 cut short loses sync there) a binary search by seeking, to ``PROBE_FRAMES`` frames."""
    path = Path(path)
    count = min(PROBE_FRAMES, frames)
    if count <= 0:
        return frames, None
    reason = _decoding_error(path, frames - count, count)
    if reason is None:
        return frames, None
    at_start = _decoding_error(path, 0, count)
    if at_start is not None:
        return 0, at_start
    low, high = 0, frames - count  # decodes at low, not at high
    while high - low > count:
        middle = (low + high) // 2
        error = _decoding_error(path, middle, count)
        if error is None:
            low = middle
        else:
            high, reason = middle, error
    return low + count, reason


def _decodable_part(path: Path, native_rate: int, frames: int, on_truncated: Callable[[str], None] | None) -> int:
    """The frames to score: all of them, or those before the point where decoding stops."""
    readable, reason = decodable_frames(path, frames)
    if readable >= frames:
        return frames
    if readable <= 0:
        raise InferenceError(f"{path}: cannot be decoded, not even its first samples ({reason})")
    if on_truncated is not None:
        on_truncated(
            f"{path}: truncated or damaged: decoding stops at {readable / native_rate:.1f} s of "
            f"{frames / native_rate:.1f} s ({reason}); only the windows before that point are scored"
        )
    return readable


def _resampling_guard(native_rate: int, model_rate: int) -> tuple[int, int]:
    """Extra samples read on each side of a part that is resampled, (native, at the model's rate).

    The resampler's filter rings for about 100 samples (of the lower rate) at the ends of what it
    is given; resampling a little more and cutting it off makes every part equal to the whole file
    resampled at once. A whole number of the rates' common periods keeps the cut on a sample of both.
    """
    if native_rate == model_rate:
        return 0, 0
    common = math.gcd(native_rate, model_rate)
    native_unit, model_unit = native_rate // common, model_rate // common
    units = math.ceil(RESAMPLING_GUARD_SAMPLES / min(native_unit, model_unit))
    return units * native_unit, units * model_unit


def read_windows(
    path: Path,
    frontend: FrontEndConfig | WindowGeometry,
    first: int,
    last: int,
    native_rate: int,
    shift_s: float = 0.0,
    end_frame: int | None = None,
    channel: int | None = None,
) -> np.ndarray:
    """Context windows ``first`` .. ``last - 1`` of a file: (windows, context samples) at the model's
    rate, zero-padded before the start and after the end. Window w is scored for
    [w * hop_s, w * hop_s + window_s) and its context is centred on that. ``end_frame``: where the
    file stops decoding (see decodable_frames); nothing from there on is read, it counts as silence.
    ``channel``: one channel (0-based) of the file; None, the mean of its channels (mono)."""
    geometry = frontend if isinstance(frontend, WindowGeometry) else WindowGeometry.of(frontend)
    margin = (geometry.context_s - geometry.window_s) / 2
    start_s = first * geometry.hop_s - margin + shift_s
    length_s = (last - first - 1) * geometry.hop_s + geometry.context_s
    guard_native, guard_model = _resampling_guard(native_rate, geometry.sample_rate)
    start, count = round(start_s * native_rate) - guard_native, round(length_s * native_rate) + 2 * guard_native

    def read(begin: int, frames: int) -> tuple[np.ndarray, int]:
        if channel is None:
            return read_segment(path, begin, frames)
        return read_channel_segment(path, begin, frames, channel)

    try:
        if end_frame is not None and start + count > end_frame:
            native, rate = read(start, max(0, end_frame - start))
            native = np.pad(native, (0, count - len(native)))
        else:
            native, rate = read(start, count)
    except (sf.LibsndfileError, RuntimeError, OSError) as exc:
        raise InferenceError(f"{path}: decoding failed near {start_s:.0f} s ({exc})") from None
    audio = to_model_rate(native, rate, geometry.sample_rate)[guard_model:]
    step = geometry.hop_samples
    need = (last - first - 1) * step + geometry.context_samples
    if len(audio) < need:
        audio = np.pad(audio, (0, need - len(audio)))
    return np.lib.stride_tricks.sliding_window_view(audio[:need], geometry.context_samples)[::step]


#: Turns (windows, samples) of audio into a model's inputs for those windows, in a worker thread.
Transform = Callable[[np.ndarray], np.ndarray]


def _transformed(
    path: Path,
    geometry: WindowGeometry,
    transform: Transform,
    first: int,
    last: int,
    native_rate: int,
    shift_s: float,
    end: dict,
) -> np.ndarray:
    torch.set_num_threads(1)  # this worker thread only; the caller's count is restored afterwards
    return transform(read_windows(path, geometry, first, last, native_rate, shift_s, **end))


def _parts(first: int, last: int, workers: int) -> list[tuple[int, int]]:
    edges = np.linspace(first, last, min(workers, last - first) + 1).round().astype(int)
    return list(zip(edges[:-1].tolist(), edges[1:].tolist(), strict=True))


def mel_chunks(
    path: str | Path,
    frontend: MelFrontEnd,
    shift_s: float = 0.0,
    chunk_windows: int = CHUNK_WINDOWS,
    start_window: int = 0,
    workers: int | None = None,
    on_truncated: Callable[[str], None] | None = None,
    hop_s: float | None = None,
    channel: int | None = None,
) -> Iterator[WindowChunk]:
    """The mels of a file's windows from ``start_window`` on, chunk by chunk, in order (see
    window_chunks). ``hop_s``: seconds between windows (default: the window, no overlap)."""
    return window_chunks(
        path,
        WindowGeometry.of(frontend.config, hop_s),
        frontend.numpy,
        shift_s,
        chunk_windows,
        start_window,
        workers,
        on_truncated,
        channel,
    )


def window_chunks(
    path: str | Path,
    geometry: WindowGeometry,
    transform: Transform,
    shift_s: float = 0.0,
    chunk_windows: int = CHUNK_WINDOWS,
    start_window: int = 0,
    workers: int | None = None,
    on_truncated: Callable[[str], None] | None = None,
    channel: int | None = None,
) -> Iterator[WindowChunk]:
    """A file's windows from ``start_window`` on, as ``transform`` makes them into a model's
    inputs (mels, or the audio itself), chunk by chunk, in order. ``channel``: one channel
    (0-based) of the file; None, the mean of its channels (a channel it lacks: InferenceError).

    While the caller scores a chunk, the workers prepare the next one. Errors (an unreadable file,
    a decoding failure) reach the caller in order; stopping early cancels the work in flight. A
    file that stops decoding before its end (truncated) yields the windows of the part that
    decodes, and ``on_truncated`` is told where it stops, in a sentence naming the file.
    """
    path = Path(path)
    native_rate, header_frames, channels = _rate_frames_channels(path)
    check_channel(path.name, channels, channel)
    frames = _decodable_part(path, native_rate, header_frames, on_truncated)
    end = {} if frames == header_frames else {"end_frame": frames}
    if channel is not None:
        end["channel"] = channel
    n_windows = window_count(frames / native_rate, geometry.window_s, geometry.hop_s)
    workers = max(1, workers or default_workers())
    threads_before = torch.get_num_threads()
    pool = ThreadPoolExecutor(workers, thread_name_prefix="birdview-mels")
    pending: deque[tuple[int, int, list[Future]]] = deque()

    def submit(first: int) -> None:
        last = min(n_windows, first + chunk_windows)
        parts = _parts(first, last, workers)
        futures = [
            pool.submit(_transformed, path, geometry, transform, a, b, native_rate, shift_s, end) for a, b in parts
        ]
        pending.append((first, last, futures))

    def collect() -> WindowChunk:
        first, last, futures = pending.popleft()
        return WindowChunk(np.arange(first, last), np.concatenate([future.result() for future in futures]))

    try:
        for first in range(start_window, n_windows, chunk_windows):
            submit(first)
            if len(pending) > 1:
                yield collect()
        while pending:
            yield collect()
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
        torch.set_num_threads(threads_before)
