"""Playback through sounddevice, streamed from the file: speed change and optional band-pass.

Speed works like a tape recorder's (and Raven's playback rate): 0.5x plays an octave lower,
which brings bat and insect calls into hearing. A producer thread reads, filters and resamples
blocks; the device callback only copies them out, so it never waits on the disk.
"""

from __future__ import annotations

import collections
import threading
from collections.abc import Callable
from typing import Any, Protocol

import numpy as np
import scipy.signal
import soxr

from birdview.audio.recording import AudioFileError, Recording

MIN_SPEED, MAX_SPEED = 0.25, 4.0
_SOURCE_BLOCK_S = 0.1
_QUEUE_SECONDS = 0.5


class AudioDeviceError(Exception):
    """No usable output device (none present, PortAudio missing, or the device refused)."""


class OutputStream(Protocol):
    def start(self) -> None: ...
    def stop(self) -> None: ...
    def close(self) -> None: ...


StreamFactory = Callable[[int, int, Callable[..., None]], OutputStream]


def sounddevice_stream(samplerate: int, channels: int, callback: Callable[..., None]) -> OutputStream:
    """An output stream on the default device; raises AudioDeviceError when there is none."""
    try:
        import sounddevice
    except OSError as exc:  # the PortAudio library itself is missing
        raise AudioDeviceError(f"audio output unavailable: {exc}") from None
    try:
        return sounddevice.OutputStream(samplerate=samplerate, channels=channels, dtype="float32", callback=callback)
    except (sounddevice.PortAudioError, ValueError) as exc:
        raise AudioDeviceError(f"no audio output device ({exc})") from None


def default_output_rate() -> int:
    try:
        import sounddevice

        return int(sounddevice.query_devices(kind="output")["default_samplerate"])
    except Exception:
        return 48000


def band_pass(low_hz: float | None, high_hz: float | None, sample_rate: int) -> np.ndarray | None:
    """Second-order sections of a 4th-order Butterworth filter keeping [low_hz, high_hz]."""
    nyquist = sample_rate / 2
    low = low_hz if low_hz and low_hz > 10 else None
    high = high_hz if high_hz and high_hz < nyquist * 0.98 else None
    if low and high and low < high:
        return scipy.signal.butter(4, [low, high], btype="bandpass", fs=sample_rate, output="sos")
    if low:
        return scipy.signal.butter(4, low, btype="highpass", fs=sample_rate, output="sos")
    if high:
        return scipy.signal.butter(4, high, btype="lowpass", fs=sample_rate, output="sos")
    return None


class Player:
    """Plays one range of one recording at a time; ``position_s`` is the file time being heard."""

    def __init__(self, stream_factory: StreamFactory = sounddevice_stream, output_rate: int | None = None) -> None:
        self._stream_factory = stream_factory
        self._output_rate = output_rate
        self._stream: OutputStream | None = None
        self._producer: threading.Thread | None = None
        self._stop = threading.Event()
        self._chunks: collections.deque[tuple[np.ndarray, float, float]] = collections.deque()
        self._chunk_offset = 0
        self._queued_frames = 0
        self._space = threading.Condition()
        self._source_done = False
        self._position_s = 0.0
        self._end_s = 0.0
        self.error: Exception | None = None

    @property
    def position_s(self) -> float:
        return self._position_s

    @property
    def playing(self) -> bool:
        return self._stream is not None and not (self._source_done and not self._chunks)

    def play(
        self,
        recording: Recording,
        start_s: float,
        end_s: float | None = None,
        speed: float = 1.0,
        band_hz: tuple[float | None, float | None] | None = None,
        channel: int = 0,
    ) -> None:
        """Start playing [start_s, end_s) (to the end of the file when end_s is None)."""
        self.stop()
        speed = float(np.clip(speed, MIN_SPEED, MAX_SPEED))
        output_rate = self._output_rate or default_output_rate()
        start_s = float(np.clip(start_s, 0.0, recording.info.duration_s))
        self._end_s = recording.info.duration_s if end_s is None else min(end_s, recording.info.duration_s)
        self._position_s = start_s
        self._chunks.clear()
        self._chunk_offset = 0
        self._queued_frames = 0
        self._source_done = False
        self._stop.clear()
        self.error = None
        stream = self._stream_factory(output_rate, 1, self._callback)
        self._producer = threading.Thread(
            target=self._produce,
            args=(recording, start_s, self._end_s, speed, band_hz, channel, output_rate),
            name="playback-producer",
            daemon=True,
        )
        self._producer.start()
        self._stream = stream
        try:
            stream.start()
        except Exception as exc:
            self.stop()
            raise AudioDeviceError(f"audio device refused to start ({exc})") from None

    def stop(self) -> None:
        self._stop.set()
        with self._space:
            self._space.notify_all()
        stream, self._stream = self._stream, None
        if stream is not None:
            try:
                stream.stop()
                stream.close()
            except Exception:
                pass
        if self._producer is not None:
            self._producer.join(timeout=2)
            self._producer = None

    def _produce(
        self,
        recording: Recording,
        start_s: float,
        end_s: float,
        speed: float,
        band_hz: tuple[float | None, float | None] | None,
        channel: int,
        output_rate: int,
    ) -> None:
        sample_rate = recording.sample_rate
        sos = band_pass(*band_hz, sample_rate) if band_hz else None
        state = scipy.signal.sosfilt_zi(sos) * 0.0 if sos is not None else None
        resampler = soxr.ResampleStream(sample_rate * speed, output_rate, 1, dtype="float32")
        block = max(1, int(_SOURCE_BLOCK_S * sample_rate))
        position = int(start_s * sample_rate)
        end = int(end_s * sample_rate)
        max_queued = int(_QUEUE_SECONDS * output_rate)
        try:
            while position < end and not self._stop.is_set():
                stop = min(position + block, end)
                samples = recording.read(position, stop, channel)
                if sos is not None:
                    samples, state = scipy.signal.sosfilt(sos, samples, zi=state)
                last = stop >= end
                out = resampler.resample_chunk(samples.astype(np.float32), last=last)
                with self._space:
                    while self._queued_frames > max_queued and not self._stop.is_set():
                        self._space.wait(0.05)
                    self._chunks.append((out, position / sample_rate, stop / sample_rate))
                    self._queued_frames += len(out)
                position = stop
        except AudioFileError as exc:
            self.error = exc
        finally:
            self._source_done = True

    def _callback(self, outdata: np.ndarray, frames: int, time: Any, status: Any) -> None:
        written = 0
        with self._space:
            while written < frames and self._chunks:
                chunk, chunk_start, chunk_end = self._chunks[0]
                take = min(frames - written, len(chunk) - self._chunk_offset)
                outdata[written : written + take, 0] = chunk[self._chunk_offset : self._chunk_offset + take]
                written += take
                self._chunk_offset += take
                if len(chunk):
                    fraction = self._chunk_offset / len(chunk)
                    self._position_s = chunk_start + fraction * (chunk_end - chunk_start)
                if self._chunk_offset >= len(chunk):
                    self._chunks.popleft()
                    self._chunk_offset = 0
                    self._position_s = chunk_end
                self._queued_frames -= take
            self._space.notify_all()
        outdata[written:] = 0
