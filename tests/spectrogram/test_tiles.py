from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from birdview.audio.recording import Recording
from birdview.spectrogram.cache import TileDiskCache, TileMemoryCache
from birdview.spectrogram.overview import OverviewBuilder
from birdview.spectrogram.service import TileService
from birdview.spectrogram.settings import SpectrogramSettings
from birdview.spectrogram.tiles import (
    TILE_COLUMNS,
    TileKey,
    compute_tile,
    frequency_extent,
    hz_to_y,
    level_for_view,
    tiles_for_range,
)
from tests.conftest import SAMPLE_RATE, write_tone_file


def _column_times(tile) -> np.ndarray:
    n = tile.db.shape[1]
    return tile.x0 + (np.arange(n) + 0.5) * (tile.x1 - tile.x0) / n


def _row_y(tile) -> np.ndarray:
    n = tile.db.shape[0]
    return tile.y0 + (np.arange(n) + 0.5) * (tile.y1 - tile.y0) / n


def _key(recording: Recording, settings: SpectrogramSettings, level: int, index: int) -> TileKey:
    return TileKey(str(recording.path), recording.frames, settings, level, index)


@pytest.mark.parametrize("level", [0, 3, 9])
def test_tone_is_brightest_at_its_time_and_frequency(tmp_path: Path, level: int) -> None:
    path = write_tone_file(tmp_path / "tone.wav", duration_s=60.0, tone_start_s=30.0, tone_end_s=40.0, tone_hz=5000)
    recording = Recording.open(path)
    settings = SpectrogramSettings(n_fft=1024, overlap=0.75, scale="linear")
    index = tiles_for_range(35.0, 35.0, recording.frames, SAMPLE_RATE, settings, level)[0]
    tile = compute_tile(recording, _key(recording, settings, level, index))
    row, column = np.unravel_index(np.argmax(tile.db), tile.db.shape)
    assert _row_y(tile)[row] == pytest.approx(5000, abs=SAMPLE_RATE / 1024)
    assert 30.0 - 0.1 <= _column_times(tile)[column] <= 40.0 + 0.1
    # A full-scale sine reads 0 dB; this one has amplitude 0.5 (-6 dB).
    assert tile.db.max() == pytest.approx(-6.0, abs=1.5)
    # Outside the tone the noise floor is far below.
    quiet = _column_times(tile) < 29.0
    if quiet.any():
        assert tile.db[:, quiet].max() < -40


def test_mel_scale_puts_the_tone_on_its_mel_row(tmp_path: Path) -> None:
    path = write_tone_file(tmp_path / "tone.wav", duration_s=10.0, tone_start_s=2.0, tone_end_s=4.0, tone_hz=3000)
    recording = Recording.open(path)
    settings = SpectrogramSettings(scale="mel", mel_bands=128)
    tile = compute_tile(recording, _key(recording, settings, 0, 0))
    assert tile.db.shape[0] == 128
    row = np.unravel_index(np.argmax(tile.db), tile.db.shape)[0]
    mel_step = (tile.y1 - tile.y0) / 128
    assert _row_y(tile)[row] == pytest.approx(hz_to_y(3000.0, settings), abs=1.5 * mel_step)


def test_tile_geometry_and_last_partial_tile(tmp_path: Path) -> None:
    path = write_tone_file(tmp_path / "tone.wav", duration_s=10.0)
    recording = Recording.open(path)
    settings = SpectrogramSettings(n_fft=512, overlap=0.5, scale="linear")  # hop 256
    indices = tiles_for_range(0, 10.0, recording.frames, SAMPLE_RATE, settings, 0)
    frames = recording.frames // 256 + 1
    assert len(indices) == -(-frames // TILE_COLUMNS)
    last = compute_tile(recording, _key(recording, settings, 0, indices[-1]))
    assert last.db.shape == (257, frames - TILE_COLUMNS * indices[-1])
    assert last.x1 == pytest.approx((frames - 0.5) * 256 / SAMPLE_RATE)
    assert frequency_extent(settings, SAMPLE_RATE) == pytest.approx((-31.25, 16031.25))


def test_level_gives_at_least_one_column_per_pixel() -> None:
    settings = SpectrogramSettings(n_fft=1024, overlap=0.75)  # hop 256
    assert level_for_view(1.0, 1000, settings, SAMPLE_RATE) == 0
    day = level_for_view(86400.0, 1000, settings, SAMPLE_RATE)
    columns_per_pixel = 86400 * SAMPLE_RATE / 256 / 2**day / 1000
    assert 1.0 <= columns_per_pixel < 2.0


def test_memory_cache_evicts_least_recently_used_by_bytes(tmp_path: Path) -> None:
    path = write_tone_file(tmp_path / "tone.wav", duration_s=30.0)
    recording = Recording.open(path)
    settings = SpectrogramSettings(n_fft=256, overlap=0.5)
    tiles = [compute_tile(recording, _key(recording, settings, 0, i)) for i in range(3)]
    cache = TileMemoryCache(max_bytes=tiles[0].nbytes * 2 + 10)
    cache.put(tiles[0])
    cache.put(tiles[1])
    assert cache.get(tiles[0].key) is tiles[0]  # 0 is now the most recently used
    cache.put(tiles[2])
    assert cache.get(tiles[1].key) is None
    assert cache.get(tiles[0].key) is tiles[0]
    assert cache.nbytes <= cache.max_bytes


def test_disk_cache_round_trip_and_invalidation(tmp_path: Path) -> None:
    path = write_tone_file(tmp_path / "tone.wav", duration_s=5.0)
    recording = Recording.open(path)
    settings = SpectrogramSettings()
    tile = compute_tile(recording, _key(recording, settings, 0, 0))
    disk = TileDiskCache(tmp_path / "cache")
    disk.put(tile)
    back = disk.get(tile.key)
    assert back is not None
    np.testing.assert_allclose(back.db, tile.db, atol=0.1)  # stored as float16
    assert (back.x0, back.x1) == pytest.approx((tile.x0, tile.x1))
    # The cache keys on the content, not the modification time: the same samples written again
    # keep their tiles; other samples do not.
    write_tone_file(path, duration_s=5.0)
    assert disk.get(tile.key) is not None
    write_tone_file(path, duration_s=5.0, tone_start_s=1.0, tone_end_s=3.0, tone_hz=1000)  # its tiles are stale
    assert disk.get(tile.key) is None


def test_service_computes_in_order_and_serves_from_memory(tmp_path: Path) -> None:
    path = write_tone_file(tmp_path / "tone.wav", duration_s=30.0)
    recording = Recording.open(path)
    settings = SpectrogramSettings()
    service = TileService(workers=1)
    try:
        keys = [_key(recording, settings, 0, i) for i in (2, 0, 1)]
        arrived = []
        ready = service.request(recording, keys, arrived.append, lambda k, e: arrived.append(e))
        assert ready == []
        for _ in range(500):
            if len(arrived) == 3:
                break
            import time

            time.sleep(0.01)
        assert [tile.key.index for tile in arrived] == [2, 0, 1]
        again = service.request(recording, keys, arrived.append, lambda k, e: None)
        assert {t.key for t in again} == set(keys)
    finally:
        service.shutdown()


def test_overview_covers_the_whole_file_and_shows_the_tone(tmp_path: Path) -> None:
    path = write_tone_file(tmp_path / "tone.flac", duration_s=600.0, tone_start_s=300.0, tone_end_s=330.0)
    recording = Recording.open(path)
    builder = OverviewBuilder(recording, SpectrogramSettings(), max_columns=512).start()
    assert builder.wait(timeout=30)
    assert builder.fraction_done == 1.0
    image, (x0, x1, _, _) = builder.snapshot()
    assert image.shape[1] <= 512
    assert x1 >= 600.0 - 1 and x0 <= 0
    column_times = x0 + (np.arange(image.shape[1]) + 0.5) * (x1 - x0) / image.shape[1]
    loud = column_times[image.max(axis=0) > -30]
    assert loud.min() >= 299 and loud.max() <= 331
