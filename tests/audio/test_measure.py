"""Raven-style measurements of generated tones and chirps equal their values by construction: peak,
centre, 5 % and 95 % frequencies within an FFT bin or two, durations within a hop, energy and SNR
in dB from the amplitudes and the noise written."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from birdview.audio import measure
from birdview.audio.measure import (
    FFT_SIZE,
    HOP,
    MeasureError,
    Measurements,
    Selection,
    format_value,
    measure_box,
    measure_boxes,
)
from birdview.audio.recording import Recording

RATE = 48000
BIN = RATE / FFT_SIZE  # 93.75 Hz
HOP_S = HOP / RATE  # 5.3 ms
NOISE = 0.001


def _write(path: Path, signal: np.ndarray, noise: float = NOISE, seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    noisy = signal + rng.standard_normal(signal.shape) * noise
    sf.write(path, noisy.astype(np.float32), RATE)
    return path


def _tone(
    duration_s: float = 1.0, start_s: float = 0.25, end_s: float = 0.75, hz: float = 3000.0, amplitude: float = 0.5
) -> np.ndarray:
    t = np.arange(round(duration_s * RATE)) / RATE
    on = (t >= start_s) & (t < end_s)
    return np.where(on, amplitude * np.sin(2 * np.pi * hz * t), 0.0)


def _measure(path: Path, box: Selection) -> Measurements:
    recording = Recording.open(path)
    try:
        return measure_box(recording, box)
    finally:
        recording.close()


def test_a_3_khz_tone_peaks_and_centres_at_3_khz(tmp_path: Path) -> None:
    path = _write(tmp_path / "tone.wav", _tone())
    m = _measure(path, Selection(0.25, 0.75, 1000.0, 5000.0))
    assert m.raven()["Delta Time (s)"] == pytest.approx(0.5)
    assert m.raven()["Delta Freq (Hz)"] == pytest.approx(4000.0)
    assert abs(m.peak_freq_hz - 3000) <= BIN
    assert abs(m.center_freq_hz - 3000) <= BIN
    # A pure tone's energy lies in its bin and the Hann window's two neighbours.
    assert 3000 - 2 * BIN <= m.freq_5_hz <= 3000 <= m.freq_95_hz <= 3000 + 2 * BIN
    assert m.bw_90_hz == pytest.approx(m.freq_95_hz - m.freq_5_hz) and m.bw_90_hz <= 3 * BIN
    assert 0.25 <= m.peak_time_s <= 0.75


def test_the_calls_duration_within_a_wider_box_is_measured_within_a_hop(tmp_path: Path) -> None:
    path = _write(tmp_path / "tone.wav", _tone(start_s=0.3, end_s=0.7))
    m = _measure(path, Selection(0.1, 0.9, 2000.0, 4000.0))
    assert m.delta_time_s == pytest.approx(0.8)
    # 90 % of a steady 0.4 s tone's energy lies between 5 % and 95 % of its duration.
    assert m.time_5_s == pytest.approx(0.3 + 0.05 * 0.4, abs=HOP_S)
    assert m.time_95_s == pytest.approx(0.3 + 0.95 * 0.4, abs=HOP_S)
    assert m.dur_90_s == pytest.approx(0.9 * 0.4, abs=HOP_S)


def test_a_linear_chirp_from_2_to_6_khz(tmp_path: Path) -> None:
    t = np.arange(RATE) / RATE
    on = (t >= 0.25) & (t < 0.75)
    rise = (6000.0 - 2000.0) / 0.5  # Hz per second
    phase = 2 * np.pi * (2000.0 * (t - 0.25) + rise / 2 * (t - 0.25) ** 2)
    path = _write(tmp_path / "chirp.wav", np.where(on, 0.5 * np.sin(phase), 0.0))
    m = _measure(path, Selection(0.25, 0.75, 1000.0, 8000.0))
    # Equal energy per Hz from 2 to 6 kHz: the centre at 4 kHz, 5 % and 95 % at 2.2 and 5.8 kHz.
    assert abs(m.center_freq_hz - 4000) <= BIN
    assert abs(m.freq_5_hz - 2200) <= 2 * BIN
    assert abs(m.freq_95_hz - 5800) <= 2 * BIN
    assert abs(m.bw_90_hz - 3600) <= 2 * BIN
    assert 2000 - BIN <= m.peak_freq_hz <= 6000 + BIN


def test_peak_time_and_frequency_of_a_loud_burst(tmp_path: Path) -> None:
    signal = _tone(start_s=0.2, end_s=0.8, hz=3000.0, amplitude=0.05) + _tone(
        start_s=0.6, end_s=0.62, hz=4500.0, amplitude=0.5
    )
    m = _measure(_write(tmp_path / "burst.wav", signal), Selection(0.2, 0.8, 1000.0, 8000.0))
    assert abs(m.peak_freq_hz - 4500) <= BIN
    assert m.peak_time_s == pytest.approx(0.61, abs=HOP_S)
    assert abs(m.center_freq_hz - 4500) <= BIN  # the burst carries most of the energy


def test_energy_is_in_db_of_a_full_scale_sine_lasting_one_second(tmp_path: Path) -> None:
    quiet = _measure(_write(tmp_path / "q.wav", _tone(amplitude=0.25)), Selection(0.25, 0.75, 1000.0, 5000.0))
    loud = _measure(_write(tmp_path / "l.wav", _tone(amplitude=0.5)), Selection(0.25, 0.75, 1000.0, 5000.0))
    # A sine of amplitude A lasting d seconds: 10·log10(A²·d) dB FS.
    assert loud.energy_db == pytest.approx(10 * math.log10(0.5**2 * 0.5), abs=0.2)  # -9.03 dB
    assert loud.energy_db - quiet.energy_db == pytest.approx(20 * math.log10(2), abs=0.05)  # +6.02 dB


def test_snr_of_a_tone_over_known_noise_and_of_a_louder_one(tmp_path: Path) -> None:
    box = Selection(0.25, 0.75, 1000.0, 5000.0)
    quiet = _measure(_write(tmp_path / "q.wav", _tone(amplitude=0.01)), box)
    loud = _measure(_write(tmp_path / "l.wav", _tone(amplitude=0.02)), box)
    # Tone power A²/2 over white noise's power in the band, σ²·(4 kHz / 24 kHz).
    expected = 10 * math.log10((0.01**2 / 2) / (NOISE**2 * 4000 / 24000))
    assert quiet.snr_db == pytest.approx(expected, abs=2.0)  # 24.8 dB; percentiles of noisy frames
    assert loud.snr_db - quiet.snr_db == pytest.approx(20 * math.log10(2), abs=0.5)
    assert loud.raven()["SNR NIST Quick (dB)"] == loud.snr_db


def test_a_label_without_a_band_is_measured_over_the_whole_band(tmp_path: Path) -> None:
    m = _measure(_write(tmp_path / "tone.wav", _tone()), Selection(0.25, 0.75))
    assert (m.low_hz, m.high_hz, m.delta_freq_hz) == (0.0, 24000.0, 24000.0)
    assert abs(m.peak_freq_hz - 3000) <= BIN and abs(m.center_freq_hz - 3000) <= BIN


def test_the_labels_channel_is_measured_and_the_first_by_default(tmp_path: Path) -> None:
    stereo = np.stack([_tone(hz=2000.0), _tone(hz=5000.0)], axis=1)
    path = _write(tmp_path / "stereo.wav", stereo)
    first = _measure(path, Selection(0.25, 0.75, 1000.0, 8000.0))
    second = _measure(path, Selection(0.25, 0.75, 1000.0, 8000.0, channel=1))
    assert (first.channel, second.channel) == (0, 1)
    assert abs(first.peak_freq_hz - 2000) <= BIN and abs(second.peak_freq_hz - 5000) <= BIN


def test_a_long_box_measured_block_by_block_gives_the_same_numbers(tmp_path: Path, monkeypatch) -> None:
    path = _write(tmp_path / "tone.wav", _tone(duration_s=3.0, start_s=0.5, end_s=2.5))
    box = Selection(0.4, 2.6, 1000.0, 5000.0)
    whole = _measure(path, box)
    monkeypatch.setattr(measure, "CHUNK_FRAMES", 7)
    assert _measure(path, box).raven() == pytest.approx(whole.raven(), rel=1e-6)


def test_only_the_audio_around_the_box_is_read(tmp_path: Path, monkeypatch) -> None:
    path = _write(tmp_path / "long.wav", _tone(duration_s=60.0, start_s=30.0, end_s=30.5))
    reads: list[tuple[int, int]] = []
    original = Recording.read

    def read(self, start: int, stop: int, channel: int | None = 0) -> np.ndarray:
        reads.append((start, stop))
        return original(self, start, stop, channel)

    monkeypatch.setattr(Recording, "read", read)
    m = _measure(path, Selection(30.0, 30.5, 1000.0, 5000.0))
    assert abs(m.peak_freq_hz - 3000) <= BIN
    # The box and its noise margins (the box's duration, at least 0.5 s, on each side), plus half a frame.
    assert min(a for a, _ in reads) >= (30.0 - 0.5) * RATE - FFT_SIZE
    assert max(b for _, b in reads) <= (30.5 + 0.5) * RATE + FFT_SIZE


def test_boxes_that_cannot_be_measured_are_named_and_the_others_measured(tmp_path: Path) -> None:
    path = _write(tmp_path / "tone.wav", _tone())
    recording = Recording.open(path)
    boxes = [
        Selection(0.25, 0.75, 1000.0, 5000.0),
        Selection(0.5, 2.5, 1000.0, 5000.0),
        Selection(0.25, 0.75, 30000.0, 40000.0),
        Selection(0.25, 0.75, channel=3),
    ]
    try:
        good, past_end, above_nyquist, channel = measure_boxes(recording, boxes)
    finally:
        recording.close()
    assert isinstance(good, Measurements) and abs(good.peak_freq_hz - 3000) <= BIN
    assert isinstance(past_end, MeasureError)
    assert str(past_end) == "tone.wav: 0.5–2.5 s reaches past the end of the recording (1 s)"
    assert isinstance(above_nyquist, MeasureError) and "24000 Hz" in str(above_nyquist)
    assert str(channel) == "tone.wav: channel 4 asked for; the recording has 1"


def test_digital_silence_has_no_peak_and_empty_cells(tmp_path: Path) -> None:
    path = _write(tmp_path / "silence.wav", np.zeros(RATE), noise=0.0)
    m = _measure(path, Selection(0.25, 0.75, 1000.0, 5000.0))
    assert math.isnan(m.peak_freq_hz) and math.isnan(m.energy_db) and math.isnan(m.snr_db)
    assert format_value("Peak Freq (Hz)", m.peak_freq_hz) == ""
    assert format_value("Delta Time (s)", m.delta_time_s) == "0.500000"
