from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest

from birdview.audio.playback import AudioDeviceError, Player
from birdview.audio.recording import Recording
from tests.conftest import write_tone_file

OUTPUT_RATE = 16000


def _play_to_end(player: Player, timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while player.playing and time.monotonic() < deadline:
        time.sleep(0.02)
    player.stop()


def _band_energy(x: np.ndarray, rate: int, low: float, high: float) -> float:
    spectrum = np.abs(np.fft.rfft(x)) ** 2
    freqs = np.fft.rfftfreq(len(x), 1 / rate)
    return float(spectrum[(freqs >= low) & (freqs <= high)].sum())


def test_position_advances_in_real_time_and_stops_at_the_end(tmp_path: Path, fake_streams) -> None:
    recording = Recording.open(write_tone_file(tmp_path / "t.wav", duration_s=3.0))
    player = Player(stream_factory=fake_streams, output_rate=OUTPUT_RATE)
    player.play(recording, start_s=1.0, end_s=2.0)
    time.sleep(0.4)
    middle = player.position_s
    assert 1.1 < middle < 1.8
    _play_to_end(player)
    assert player.position_s == pytest.approx(2.0, abs=0.01)
    assert len(fake_streams.made[0].output()) == pytest.approx(OUTPUT_RATE, rel=0.1)


def test_played_samples_are_the_recording_resampled(tmp_path: Path, fake_streams) -> None:
    path = write_tone_file(tmp_path / "t.wav", duration_s=2.0, tone_start_s=0, tone_end_s=2.0, tone_hz=1000)
    player = Player(stream_factory=fake_streams, output_rate=OUTPUT_RATE)
    player.play(Recording.open(path), start_s=0.0, end_s=1.0)
    _play_to_end(player)
    out = fake_streams.made[0].output()
    peak = np.fft.rfftfreq(len(out), 1 / OUTPUT_RATE)[np.argmax(np.abs(np.fft.rfft(out)))]
    assert peak == pytest.approx(1000, abs=5)


def test_half_speed_plays_an_octave_lower_for_twice_as_long(tmp_path: Path, fake_streams) -> None:
    path = write_tone_file(tmp_path / "t.wav", duration_s=2.0, tone_start_s=0, tone_end_s=2.0, tone_hz=2000)
    player = Player(stream_factory=fake_streams, output_rate=OUTPUT_RATE)
    player.play(Recording.open(path), start_s=0.0, end_s=0.5, speed=0.5)
    _play_to_end(player)
    out = fake_streams.made[0].output()
    assert len(out) == pytest.approx(OUTPUT_RATE, rel=0.1)  # 0.5 s of file took 1 s
    peak = np.fft.rfftfreq(len(out), 1 / OUTPUT_RATE)[np.argmax(np.abs(np.fft.rfft(out)))]
    assert peak == pytest.approx(1000, abs=5)


def test_band_pass_keeps_the_selected_band(tmp_path: Path, fake_streams) -> None:
    rate = 32000
    t = np.arange(rate) / rate
    mixture = 0.3 * np.sin(2 * np.pi * 500 * t) + 0.3 * np.sin(2 * np.pi * 5000 * t)
    import soundfile as sf

    sf.write(tmp_path / "two.wav", mixture.astype(np.float32), rate)
    player = Player(stream_factory=fake_streams, output_rate=OUTPUT_RATE)
    player.play(Recording.open(tmp_path / "two.wav"), 0.0, 1.0, band_hz=(3000.0, 7000.0))
    _play_to_end(player)
    out = fake_streams.made[0].output()
    kept = _band_energy(out, OUTPUT_RATE, 4900, 5100)
    removed = _band_energy(out, OUTPUT_RATE, 450, 550)
    assert removed < kept / 1000  # at least 30 dB down


def test_no_device_raises_a_clear_error(tmp_path: Path) -> None:
    def no_device(samplerate, channels, callback):
        raise AudioDeviceError("no audio output device (Error querying device -1)")

    player = Player(stream_factory=no_device, output_rate=OUTPUT_RATE)
    with pytest.raises(AudioDeviceError, match="no audio output device"):
        player.play(Recording.open(write_tone_file(tmp_path / "t.wav", duration_s=1.0)), 0.0)
    assert not player.playing
