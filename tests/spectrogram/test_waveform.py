"""Waveform envelope tiles: the lowest and highest sample of each column, at every level."""

from __future__ import annotations

import threading

import numpy as np
import pytest
import soundfile as sf

from birdview.audio.recording import Recording
from birdview.spectrogram.service import TileService
from birdview.spectrogram.waveform import (
    EXACT_SAMPLES_MAX,
    WAVE_TILE_COLUMNS,
    WaveKey,
    compute_envelope,
    compute_wave_tile,
    wave_column_count,
    wave_level_for_view,
    wave_tiles_for_range,
)

RATE = 8000


@pytest.fixture
def stereo(tmp_path):
    """13.7 s of stereo noise with a loud burst on channel 1 only; a length that is no whole
    number of columns or tiles at any level."""
    rng = np.random.default_rng(3)
    n = int(13.7 * RATE) + 17
    left = rng.standard_normal(n) * 0.05
    right = rng.standard_normal(n) * 0.02
    right[50_000:50_400] += 0.8 * np.sin(np.arange(400) / 3)
    samples = np.stack([left, right], axis=1).astype(np.float32)
    path = tmp_path / "stereo.wav"
    sf.write(path, samples, RATE, subtype="FLOAT")
    return path, samples


@pytest.mark.parametrize("level", [0, 1, 5, 9, 12])
@pytest.mark.parametrize("channel", [0, 1])
def test_envelope_is_the_min_and_max_of_each_columns_samples(stereo, level, channel) -> None:
    path, samples = stereo
    recording = Recording.open(path)
    x = samples[:, channel]
    per_column = 1 << level
    n_columns = wave_column_count(len(x), level)
    envelope = np.concatenate(
        [
            compute_wave_tile(recording, WaveKey(str(path), recording.frames, channel, level, index)).db
            for index in wave_tiles_for_range(0, 1e9, len(x), RATE, level)
        ],
        axis=1,
    )
    assert envelope.shape == (2, n_columns)
    for c in range(n_columns):
        column = x[c * per_column : (c + 1) * per_column]
        assert envelope[0, c] == column.min(), c
        assert envelope[1, c] == column.max(), c


def test_tiles_span_their_columns_in_seconds(stereo) -> None:
    path, samples = stereo
    recording = Recording.open(path)
    level = 3
    tile = compute_wave_tile(recording, WaveKey(str(path), recording.frames, 0, level, 1))
    assert tile.x0 == pytest.approx(WAVE_TILE_COLUMNS * 8 / RATE)
    assert tile.x1 == pytest.approx(2 * WAVE_TILE_COLUMNS * 8 / RATE)
    assert (tile.y0, tile.y1) == (-1.0, 1.0)
    last = wave_tiles_for_range(0, 1e9, len(samples), RATE, level)[-1]
    end = compute_wave_tile(recording, WaveKey(str(path), recording.frames, 0, level, last))
    assert end.x1 == pytest.approx(wave_column_count(len(samples), level) * 8 / RATE)
    with pytest.raises(ValueError, match="beyond the end"):
        compute_wave_tile(recording, WaveKey(str(path), recording.frames, 0, level, last + 1))


def test_far_out_columns_are_sampled_within_the_true_envelope(stereo) -> None:
    path, samples = stereo
    recording = Recording.open(path)
    level = EXACT_SAMPLES_MAX.bit_length()  # twice the exact limit: sampled
    envelope = compute_envelope(recording, 1, level, 0, 4)
    per_column = 1 << level
    assert envelope.shape == (2, wave_column_count(len(samples), level))
    for c in range(envelope.shape[1]):
        column = samples[c * per_column : (c + 1) * per_column, 1]
        assert column.min() <= envelope[0, c] <= envelope[1, c] <= column.max()


def test_level_for_view_gives_a_column_per_pixel_or_more() -> None:
    assert wave_level_for_view(0.1, 1000, RATE) == 0
    level = wave_level_for_view(60.0, 1000, RATE)  # 480 samples a pixel
    assert (1 << level) <= 480 < (1 << (level + 1))


def test_the_tile_service_makes_waveform_tiles(stereo) -> None:
    path, samples = stereo
    recording = Recording.open(path)
    service = TileService(workers=1, compute=compute_wave_tile)
    done = threading.Event()
    got = []
    key = WaveKey(str(path), recording.frames, 0, 4, 0)
    service.request(recording, [key], lambda tile: (got.append(tile), done.set()), lambda k, e: done.set())
    assert done.wait(10)
    service.shutdown()
    assert got and got[0].db[1, 0] == samples[:16, 0].max()
    assert service.cached(key) is got[0]
