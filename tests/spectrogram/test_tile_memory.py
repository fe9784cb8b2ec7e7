"""Memory of a tile far out on a long, noise-like file (issue 18): a tile whose frames lie close
enough together is decoded in one pass, a block at a time, so the worker never holds the whole
span (at level 7 that was 8.4 M samples: 34 MB, twice over while decoding); and the columns are
the ones computed from the whole signal at once."""

from __future__ import annotations

import tracemalloc
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from birdview.audio.recording import Recording
from birdview.spectrogram import tiles
from birdview.spectrogram.settings import SpectrogramSettings

RATE = 32000


@pytest.fixture(scope="module")
def noise_file(tmp_path_factory) -> Path:
    """Five minutes of loud noise (9.6 M samples): a level-7 tile spans 8.4 M of them."""
    path = tmp_path_factory.mktemp("audio") / "noise.flac"
    rng = np.random.default_rng(3)
    sf.write(path, (rng.standard_normal(300 * RATE) * 0.1).astype(np.float32), RATE, subtype="PCM_16")
    return path


def _reference(signal: np.ndarray, settings: SpectrogramSettings, level: int, first: int, n: int) -> np.ndarray:
    """The columns from the whole signal in memory: each column's sampled frames, their mean power."""
    hop, n_fft = settings.hop, settings.n_fft
    indices = tiles.sampled_frames(first, n, 1 << level, tiles.SPARSE_GROUPS)
    padded = np.concatenate([np.zeros(n_fft), signal, np.zeros(n_fft)]).astype(np.float32)
    starts = indices.reshape(-1) * hop - n_fft // 2 + n_fft
    frames = padded[starts[:, None] + np.arange(n_fft)[None, :]]
    window = np.hanning(n_fft + 1)[:-1].astype(np.float32)
    spectrum = np.fft.rfft(frames * window, axis=1)
    return (np.abs(spectrum) ** 2).reshape(n, indices.shape[1], -1).mean(axis=1)


@pytest.mark.parametrize(("level", "first"), [(5, 0), (6, 100), (7, 0)])
def test_far_out_columns_equal_those_of_the_whole_signal(noise_file: Path, level: int, first: int) -> None:
    settings = SpectrogramSettings(scale="linear")
    signal, _ = sf.read(noise_file, dtype="float32")
    recording = Recording.open(noise_file)
    try:
        n = min(tiles.TILE_COLUMNS, tiles.column_count(recording.frames, settings, level) - first)
        got = tiles.compute_columns(recording, settings, level, first, n)
    finally:
        recording.close()
    np.testing.assert_allclose(got, _reference(signal, settings, level, first, n), rtol=2e-3, atol=1e-6)


def test_a_far_out_tile_holds_a_few_megabytes_not_the_span(noise_file: Path) -> None:
    settings = SpectrogramSettings()
    level = 7
    per_tile = tiles.TILE_COLUMNS * (1 << level) * settings.hop
    assert per_tile > 8_000_000  # the span this tile's frames are spread over
    recording = Recording.open(noise_file)
    key = tiles.TileKey(str(noise_file), recording.frames, settings, level, 0)
    try:
        tiles.compute_tile(recording, key)  # decoder and FFT set up outside the measurement
        tracemalloc.start()
        try:
            tile = tiles.compute_tile(recording, key)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    finally:
        recording.close()
    assert tile.db.shape[1] > 0
    # The span alone, as float32, is 34 MB (it was held twice while decoding); the frames and their
    # FFT take about 28 MB.
    assert peak < 40 * 2**20, f"{peak / 2**20:.1f} MB"
