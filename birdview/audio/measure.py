"""Raven-style measurements of the audio inside a time × frequency box (a label or a selection).

Everything is computed on a spectrogram of the box, made the way Raven Pro 1.6 makes it by default:
a 512-point FFT at the recording's own sample rate, a Hann window of 512 samples and 50 % overlap
(a hop of 256 samples), the power of each cell scaled so that the cells of one frame add up to the
frame's mean square (a sine of amplitude A gives A²/2). The frames are those whose centre lies in the
box: the first centred on its start, then one every hop up to its end (at least one). The cells are
those frames' FFT bins whose frequency lies in the box's band (a band narrower than a bin: the bin
nearest its middle; a label without a band: 0 Hz to the Nyquist frequency). On that grid, as Raven
defines them:

* **Peak Freq** and **Peak Time**: the frequency (bin centre) and time (frame centre, seconds from
  the start of the recording) of the cell with the most power;
* **Freq 5 %**, **Center Freq**, **Freq 95 %**: the bins below which (cumulatively, lowest bin
  first) 5 %, 50 % and 95 % of the box's energy lies; **BW 90 %** = Freq 95 % − Freq 5 %;
* **Time 5 %**, **Time 95 %** (the frames before which 5 % and 95 % of the energy lies) and
  **Dur 90 %** = Time 95 % − Time 5 %: the call's own duration, not the box's;
* **Energy (dB FS)**: the box's energy (the sum of its cells' power times the hop in seconds: the
  band's mean square integrated over the box's duration) in dB relative to a full-scale sine lasting
  one second; a sine of amplitude A lasting d seconds measures 10·log10(A²·d) dB;
* **Delta Time** and **Delta Freq**: the box's own duration and bandwidth.

**SNR NIST Quick** follows the "quick" mode of ``stnr`` in NIST's Speech Quality Assurance package,
which Raven names: the power of 20 ms frames, one every 10 ms, each with its mean removed, as a distribution in
dB; the noise level is its 15th percentile, the signal level its 85th, and the SNR is their
difference in dB. It is an approximation of Raven's value in two ways, both so that it says how the
call stands out of *its surroundings*: the frames cover the box and a margin on each side of it (the
box's duration, at least :data:`MIN_MARGIN_S` and at most :data:`MAX_MARGIN_S`, inside the
recording), and their power is that of the box's band only (Hann-windowed FFT bins), not of the
whole spectrum. Percentiles are taken from the values themselves, not from NIST's 0.25 dB histogram.
A box whose call fills less than 15 % or more than 85 % of these frames gets a smaller SNR than it
deserves.

A label's ``channel`` counts from 0 (as the spectrogram's settings do); a label without one is
measured on the first channel (Raven's Channel 1), not on a mix of the channels.

Only the audio a box needs is read, by seeking, in blocks of at most :data:`CHUNK_FRAMES` frames,
so a box hours long is measured in bounded memory. This module imports nothing above the audio layer.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from birdview.audio.recording import AudioFileError, Recording

#: Raven's default spectrogram: FFT and window size in samples, Hann window, 50 % overlap.
FFT_SIZE = 512
HOP = 256
#: NIST "quick" SNR: frame length and advance, and the percentiles taken as noise and signal levels.
NIST_FRAME_S = 0.020
NIST_ADVANCE_S = 0.010
NOISE_PERCENTILE = 15.0
SIGNAL_PERCENTILE = 85.0
#: Noise context read on each side of a box for the SNR: the box's duration, within these bounds.
MIN_MARGIN_S = 0.5
MAX_MARGIN_S = 10.0
#: Energy of a full-scale sine (amplitude 1) lasting one second: 0 dB FS.
FULL_SCALE_ENERGY = 0.5
#: A box may end this long after the end of its recording (tables round times).
TIME_TOLERANCE_S = 0.1
#: Frames computed at a time (bounds the memory a long box needs).
CHUNK_FRAMES = 2048

#: The Raven column of each measurement, in the order tables list them, and its attribute.
RAVEN_COLUMNS: dict[str, str] = {
    "Delta Time (s)": "delta_time_s",
    "Delta Freq (Hz)": "delta_freq_hz",
    "Peak Freq (Hz)": "peak_freq_hz",
    "Peak Time (s)": "peak_time_s",
    "Center Freq (Hz)": "center_freq_hz",
    "Freq 5% (Hz)": "freq_5_hz",
    "Freq 95% (Hz)": "freq_95_hz",
    "BW 90% (Hz)": "bw_90_hz",
    "Dur 90% (s)": "dur_90_s",
    "Energy (dB FS)": "energy_db",
    "SNR NIST Quick (dB)": "snr_db",
}
#: Decimal places each column is written with.
DECIMALS: dict[str, int] = {name: 6 if name.endswith("(s)") else 3 if "Hz" in name else 2 for name in RAVEN_COLUMNS}


class MeasureError(Exception):
    """A box that cannot be measured; the message says what and where."""


class Box(Protocol):
    """What is measured: a label (``birdview.store.labels.Annotation``) or a selection."""

    @property
    def start_s(self) -> float: ...
    @property
    def end_s(self) -> float: ...
    @property
    def low_hz(self) -> float | None: ...
    @property
    def high_hz(self) -> float | None: ...
    @property
    def channel(self) -> int | None: ...


@dataclass(frozen=True)
class Selection:
    """A box that is not a label (a selection drawn in the window, or a test's)."""

    start_s: float
    end_s: float
    low_hz: float | None = None
    high_hz: float | None = None
    channel: int | None = None


@dataclass(frozen=True)
class Measurements:
    """One box's measurements (see the module's docstring for their definitions). ``low_hz`` and
    ``high_hz`` are the band measured (0 Hz and the Nyquist frequency for a label without one);
    ``channel`` counts from 0. A value that cannot be had (a silent box: no energy) is NaN."""

    begin_s: float
    end_s: float
    low_hz: float
    high_hz: float
    channel: int
    peak_freq_hz: float
    peak_time_s: float
    center_freq_hz: float
    freq_5_hz: float
    freq_95_hz: float
    time_5_s: float
    time_95_s: float
    energy_db: float
    snr_db: float

    @property
    def delta_time_s(self) -> float:
        return self.end_s - self.begin_s

    @property
    def delta_freq_hz(self) -> float:
        return self.high_hz - self.low_hz

    @property
    def bw_90_hz(self) -> float:
        return self.freq_95_hz - self.freq_5_hz

    @property
    def dur_90_s(self) -> float:
        return self.time_95_s - self.time_5_s

    def raven(self) -> dict[str, float]:
        """The measurements under their Raven column names, in Raven's order."""
        return {name: float(getattr(self, attribute)) for name, attribute in RAVEN_COLUMNS.items()}


def format_value(column: str, value: float | None) -> str:
    """A measurement as a table cell: fixed decimals, empty when there is none (NaN)."""
    if value is None or not math.isfinite(value):
        return ""
    return f"{value:.{DECIMALS.get(column, 3)}f}"


def measure_box(recording: Recording, box: Box) -> Measurements:
    """Measure one box of an open recording, reading only the audio it needs (the box and, for the
    SNR, a margin around it). Raises :class:`MeasureError` for a box outside the recording, a
    channel it does not have or numbers that are not finite, and :class:`AudioFileError` when the
    audio cannot be read."""
    info = recording.info
    rate = info.sample_rate
    nyquist = rate / 2
    start, end = float(box.start_s), float(box.end_s)
    low = 0.0 if box.low_hz is None or box.high_hz is None else float(box.low_hz)
    high = nyquist if box.low_hz is None or box.high_hz is None else float(box.high_hz)
    channel = 0 if box.channel is None else int(box.channel)
    _check(info.path.name, info.duration_s, nyquist, info.channels, start, end, low, high, channel)
    end = min(end, info.duration_s)
    high = min(high, nyquist)

    freqs = np.fft.rfftfreq(FFT_SIZE, 1 / rate)
    band = _band(freqs, low, high)
    first, last = round(start * rate), round(end * rate)
    centres = np.arange(first, max(last, first) + 1, HOP)
    spectrum = np.zeros(len(band))
    envelope = np.zeros(len(centres))
    peak, peak_at = -1.0, (0, 0)
    done = 0
    for power in _band_power(recording, channel, centres, FFT_SIZE, band, remove_mean=False):
        envelope[done : done + len(power)] = power.sum(axis=1)
        spectrum += power.sum(axis=0)
        cell = np.unravel_index(int(np.argmax(power)), power.shape)
        if power[cell] > peak:
            peak, peak_at = float(power[cell]), (done + int(cell[0]), int(cell[1]))
        done += len(power)
    total = float(spectrum.sum())
    freq_of, time_of = freqs[band], centres / rate
    if total > 0:
        f5, centre, f95 = (float(freq_of[i]) for i in _fractions(spectrum, (0.05, 0.5, 0.95)))
        t5, t95 = (float(time_of[i]) for i in _fractions(envelope, (0.05, 0.95)))
        peak_freq, peak_time = float(freq_of[peak_at[1]]), float(time_of[peak_at[0]])
        energy = 10 * math.log10(total * HOP / rate / FULL_SCALE_ENERGY)
    else:  # digital silence: nothing to find
        f5 = centre = f95 = t5 = t95 = peak_freq = peak_time = energy = math.nan
    return Measurements(
        begin_s=start,
        end_s=float(box.end_s),
        low_hz=low,
        high_hz=float(high),
        channel=channel,
        peak_freq_hz=peak_freq,
        peak_time_s=peak_time,
        center_freq_hz=centre,
        freq_5_hz=f5,
        freq_95_hz=f95,
        time_5_s=t5,
        time_95_s=t95,
        energy_db=energy,
        snr_db=snr_nist_quick(recording, channel, start, end, low, high),
    )


def measure_boxes(recording: Recording, boxes: Sequence[Box]) -> list[Measurements | MeasureError]:
    """Measure each box of one recording; a box that cannot be measured gets its
    :class:`MeasureError` (naming the recording and what is wrong) in its place, and the others
    are still measured. Audio that cannot be read fails the boxes that need it."""
    results: list[Measurements | MeasureError] = []
    for box in boxes:
        try:
            results.append(measure_box(recording, box))
        except MeasureError as exc:
            results.append(exc)
        except AudioFileError as exc:
            results.append(MeasureError(str(exc)))
    return results


def snr_nist_quick(
    recording: Recording, channel: int, start_s: float, end_s: float, low_hz: float, high_hz: float
) -> float:
    """The box's SNR in dB by NIST's quick method over the box and its margins (see the module's
    docstring); NaN when fewer than two frames fit in the recording or all are silent."""
    rate, frames = recording.sample_rate, recording.frames
    margin = min(max(end_s - start_s, MIN_MARGIN_S), MAX_MARGIN_S)
    length = max(2, round(NIST_FRAME_S * rate))
    length += length % 2
    advance = max(1, round(NIST_ADVANCE_S * rate))
    first = max(0, round((start_s - margin) * rate))
    last = min(frames, round((end_s + margin) * rate)) - length  # the last frame's first sample
    if last < first:
        return math.nan
    centres = np.arange(first, last + 1, advance) + length // 2
    band = _band(np.fft.rfftfreq(length, 1 / rate), low_hz, high_hz)
    levels = np.concatenate(
        [power.sum(axis=1) for power in _band_power(recording, channel, centres, length, band, remove_mean=True)]
    )
    levels = levels[levels > 0]
    if len(levels) < 2:
        return math.nan
    decibels = 10 * np.log10(levels)
    noise, signal = np.percentile(decibels, [NOISE_PERCENTILE, SIGNAL_PERCENTILE])
    return float(signal - noise)


def _check(
    name: str,
    duration: float,
    nyquist: float,
    channels: int,
    start: float,
    end: float,
    low: float,
    high: float,
    channel: int,
) -> None:
    numbers = (("start", start), ("end", end), ("low frequency", low), ("high frequency", high))
    for what, value in numbers:
        if not math.isfinite(value):
            raise MeasureError(f"{name}: {what} {value} is not a finite number")
    if start < 0:
        raise MeasureError(f"{name}: starts at {start:g} s, before the start of the recording")
    if end < start:
        raise MeasureError(f"{name}: ends at {end:g} s, before it starts ({start:g} s)")
    if start >= duration or end > duration + TIME_TOLERANCE_S:
        raise MeasureError(
            f"{name}: {start:g}–{end:g} s reaches past the end of the recording ({round(duration, 3):g} s)"
        )
    if low < 0 or low > high or low >= nyquist:
        raise MeasureError(
            f"{name}: band {low:g}–{high:g} Hz is not within 0–{nyquist:g} Hz (the recording's Nyquist frequency)"
        )
    if not 0 <= channel < channels:
        raise MeasureError(f"{name}: channel {channel + 1} asked for; the recording has {channels}")


def hann(size: int) -> np.ndarray:
    """The periodic Hann window of ``size`` samples (as spectrograms use it)."""
    return 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(size) / size)


def _band(freqs: np.ndarray, low: float, high: float) -> np.ndarray:
    """Indices of the FFT bins in [low, high]; the one nearest its middle when none is."""
    inside = np.flatnonzero((freqs >= low) & (freqs <= high))
    if len(inside):
        return inside
    return np.array([int(np.argmin(np.abs(freqs - (low + high) / 2)))])


def _fractions(values: np.ndarray, fractions: Sequence[float]) -> list[int]:
    """For each fraction, the first index at which the cumulative sum reaches it of the total."""
    cumulative = np.cumsum(values)
    return [min(int(np.searchsorted(cumulative, f * cumulative[-1])), len(values) - 1) for f in fractions]


def _band_power(
    recording: Recording, channel: int, centres: np.ndarray, size: int, band: np.ndarray, remove_mean: bool
) -> Iterator[np.ndarray]:
    """Power of the band's bins (frames × bins, scaled so that all bins of a frame add up to its
    mean square) of Hann-windowed frames of ``size`` samples centred on ``centres`` (evenly
    spaced), a block of frames at a time; samples outside the recording are zeros. With
    ``remove_mean``, each frame's mean is taken out first (done on the spectrum: the windowed
    mean only reaches the two lowest bins of a periodic Hann window)."""
    window = hann(size)
    weight = np.full(size // 2 + 1, 2.0)
    weight[0] = 1.0
    if size % 2 == 0:
        weight[-1] = 1.0
    scale = weight[band] / (size * float(np.sum(window**2)))
    mean_spectrum = np.fft.rfft(window)[:2]
    window32 = window.astype(np.float32)
    step = int(centres[1] - centres[0]) if len(centres) > 1 else 1
    half = size // 2
    for at in range(0, len(centres), CHUNK_FRAMES):
        chunk = centres[at : at + CHUNK_FRAMES]
        first = int(chunk[0]) - half
        audio = recording.read(first, int(chunk[-1]) - half + size, channel=channel)
        frames = np.lib.stride_tricks.sliding_window_view(audio, size)[::step][: len(chunk)]
        spectrum = np.fft.rfft(frames * window32, axis=1)
        if remove_mean:
            spectrum[:, :2] -= frames.mean(axis=1, dtype=np.float64)[:, None] * mean_spectrum
        spectrum = spectrum[:, band].astype(np.complex128)
        yield (spectrum.real**2 + spectrum.imag**2) * scale
