"""Display numerics: automatic levels from the visible dB values, the log and mel scales' bands,
and the ticks of mel and log frequency axes."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest

from birdview.audio.recording import Recording
from birdview.spectrogram.levels import (
    FLOOR_PERCENTILE,
    HEADROOM_DB,
    LOWEST_HZ,
    MAX_VALUES,
    MIN_RANGE_DB,
    auto_levels,
    lowest_hz,
    visible_part,
    visible_parts,
)
from birdview.spectrogram.settings import SpectrogramSettings
from birdview.spectrogram.ticks import format_khz_short, scale_frequency_ticks
from birdview.spectrogram.tiles import (
    LOG_MIN_HZ,
    TileKey,
    compute_tile,
    frequency_extent,
    hz_to_y,
    tiles_for_range,
    y_to_hz,
)
from tests.conftest import SAMPLE_RATE, write_tone_file


def _background(rows: int = 160, columns: int = 1024, seed: int = 0) -> np.ndarray:
    """dB values of noise: the log of exponentially distributed power, about -80 dB."""
    rng = np.random.default_rng(seed)
    return (-80.0 + 10 * np.log10(rng.exponential(size=(rows, columns)))).astype(np.float32)


def test_a_loud_call_is_below_the_ceiling_and_the_floor_under_the_noise() -> None:
    db = _background()
    db[60:63, 400:450] = -12.0  # a loud call: 50 of 1024 columns, 3 rows
    levels = auto_levels([db])
    assert levels is not None
    assert levels.ceiling_db == pytest.approx(-12.0 + HEADROOM_DB, abs=0.01)  # not saturated
    noise = db[100:, :]
    assert (noise < levels.floor_db).mean() == pytest.approx(FLOOR_PERCENTILE / 100, abs=0.03)
    assert np.median(noise) - levels.floor_db < 8  # the background stays close to the lowest colour


def test_background_alone_is_not_stretched() -> None:
    levels = auto_levels([_background()])
    assert levels.ceiling_db - levels.floor_db == pytest.approx(MIN_RANGE_DB)


def test_a_click_does_not_darken_everything() -> None:
    db = _background(columns=1000)
    db[:, 500] = 0.0  # one column of a loud click
    levels = auto_levels([db])
    assert levels.ceiling_db < -40


def test_digital_silence_is_left_out() -> None:
    db = _background()
    db[:, :512] = -200.0  # half the view is digital silence (zeros)
    levels = auto_levels([db])
    assert levels.floor_db > -90
    assert auto_levels([np.full((10, 10), -200.0, dtype=np.float32)]) is None
    assert auto_levels([]) is None
    assert auto_levels([np.zeros((0, 5), dtype=np.float32)]) is None


def test_visible_part_is_the_tiles_rows_and_columns_in_view() -> None:
    db = np.arange(100 * 256, dtype=np.float32).reshape(100, 256)
    extent = (10.0, 20.0, 0.0, 50.0)  # 256 columns over 10-20 s, 100 rows over 0-50 (y units)
    part = visible_part(db, extent, (15.0, 30.0, 25.0, 40.0))
    assert part.shape == (30, 128)  # rows 50..80, columns 128..256
    assert part[0, 0] == db[50, 128]
    assert visible_part(db, extent, (30.0, 40.0, 0.0, 50.0)).size == 0  # outside in time


def test_rumble_below_50_hz_does_not_set_the_ceiling(tmp_path: Path) -> None:
    assert lowest_hz(SpectrogramSettings(n_fft=4096), SAMPLE_RATE) == LOWEST_HZ
    assert lowest_hz(SpectrogramSettings(n_fft=1024), SAMPLE_RATE) == pytest.approx(93.75)  # a DC offset's leak
    # A DC offset and loud infrasound (as wind gives), a quiet 3 kHz call: the call sets the ceiling.
    t = np.arange(5 * SAMPLE_RATE) / SAMPLE_RATE
    rng = np.random.default_rng(1)
    x = 0.02 + 0.1 * np.sin(2 * np.pi * 8 * t) + 0.001 * rng.standard_normal(len(t))
    x[(t > 2) & (t < 3)] += 0.01 * np.sin(2 * np.pi * 3000 * t[(t > 2) & (t < 3)])
    path = tmp_path / "rumble.wav"
    import soundfile as sf

    sf.write(path, x.astype(np.float32), SAMPLE_RATE)
    recording = Recording.open(path)
    settings = SpectrogramSettings()
    indices = tiles_for_range(0.0, 5.0, recording.frames, SAMPLE_RATE, settings, 0)
    tiles = [compute_tile(recording, TileKey(str(recording.path), recording.frames, settings, 0, i)) for i in indices]
    top = float(hz_to_y(12000.0, settings))
    levels = auto_levels(visible_parts(tiles, (0.0, 5.0, 0.0, top), settings, SAMPLE_RATE))

    def highest(t0: float, t1: float, y0: float, y1: float) -> float:
        parts = [visible_part(tile.db, (tile.x0, tile.x1, tile.y0, tile.y1), (t0, t1, y0, y1)) for tile in tiles]
        return max(float(part.max()) for part in parts if part.size)

    call = highest(2.2, 2.8, float(hz_to_y(1000.0, settings)), top)
    assert levels.ceiling_db == pytest.approx(call + HEADROOM_DB, abs=2)
    below = highest(0.0, 5.0, 0.0, float(hz_to_y(lowest_hz(settings, SAMPLE_RATE), settings)))
    assert below > levels.ceiling_db + 20  # the rumble, left out, would have set it


def test_levels_are_cheap_for_a_wide_tall_view() -> None:
    # 12 tiles of an 8192-point FFT (4097 rows): 12.6 M values, read at most MAX_VALUES of.
    parts = [_background(rows=4097, columns=256, seed=i) for i in range(12)]
    auto_levels(parts)
    started = time.perf_counter()
    for _ in range(5):
        auto_levels(parts)
    per_call = (time.perf_counter() - started) / 5
    assert per_call < 0.05, f"{per_call * 1000:.1f} ms"  # about 1-3 ms; on the GUI thread
    assert MAX_VALUES <= 100_000


@pytest.mark.parametrize("scale", ["mel", "log"])
def test_mel_and_log_bands_put_a_tone_on_its_row_and_noise_is_flat(tmp_path: Path, scale: str) -> None:
    path = write_tone_file(tmp_path / "tone.wav", duration_s=6.0, tone_start_s=2.0, tone_end_s=4.0, tone_hz=3000)
    recording = Recording.open(path)
    settings = SpectrogramSettings(scale=scale, mel_bands=128)
    tile = compute_tile(recording, TileKey(str(recording.path), recording.frames, settings, 0, 0))
    assert tile.db.shape[0] == 128
    assert (tile.y0, tile.y1) == pytest.approx(frequency_extent(settings, SAMPLE_RATE))
    step = (tile.y1 - tile.y0) / 128
    rows_y = tile.y0 + (np.arange(128) + 0.5) * step
    row = np.unravel_index(np.argmax(tile.db), tile.db.shape)[0]
    assert rows_y[row] == pytest.approx(hz_to_y(3000.0, settings), abs=1.5 * step)
    # Before the tone: noise at every height reads alike (bands are the mean of their bins) and no
    # band is empty (the low ones, narrower than a bin, interpolate): no stripes.
    quiet = tile.db[:, : int(tile.db.shape[1] * 1.5 / 6)]
    by_row = np.median(quiet, axis=1)
    low = by_row[rows_y < hz_to_y(800.0, settings)]
    high = by_row[rows_y > hz_to_y(2000.0, settings)]
    assert abs(np.median(low[1:]) - np.median(high)) < 3
    assert np.ptp(low[2:]) < 4  # neighbouring low rows do not alternate bright and dark


def test_log_scale_is_octaves_above_its_lowest_frequency() -> None:
    settings = SpectrogramSettings(scale="log")
    assert hz_to_y(LOG_MIN_HZ, settings) == pytest.approx(0.0)
    assert hz_to_y(0.0, settings) == pytest.approx(0.0)  # 0 Hz is drawn at the bottom
    assert hz_to_y(1600.0, settings) - hz_to_y(800.0, settings) == pytest.approx(1.0)
    assert y_to_hz(hz_to_y(4321.0, settings), settings) == pytest.approx(4321.0)


def _pixels(scale: str, f0: float, f1: float, height: float):
    settings = SpectrogramSettings(scale=scale)
    y0, y1 = float(hz_to_y(f0, settings)), float(hz_to_y(f1, settings))
    return lambda hz: (float(hz_to_y(hz, settings)) - y0) / (y1 - y0) * height


@pytest.mark.parametrize("scale", ["mel", "log"])
def test_scale_ticks_are_labelled_at_1_2_5_down_to_0_1_khz(scale: str) -> None:
    f0 = 0.0 if scale == "mel" else LOG_MIN_HZ
    labelled, minor = scale_frequency_ticks(f0, 12000.0, _pixels(scale, f0, 12000.0, 600), label_px=10, gap_px=4)
    assert [hz for hz in labelled if hz > 0] == [100, 200, 500, 1000, 2000, 5000, 10000]
    assert {300, 400, 3000, 4000, 6000, 8000} <= set(minor)
    assert not set(labelled) & set(minor)
    assert [format_khz_short(hz) for hz in (100, 250, 1000, 12000)] == ["0.1", "0.25", "1", "12"]


def test_scale_ticks_give_way_when_there_is_little_room() -> None:
    to_px = _pixels("mel", 0.0, 12000.0, 150)
    labelled, _ = scale_frequency_ticks(0.0, 12000.0, to_px, label_px=10, gap_px=4)
    positions = sorted(to_px(hz) for hz in labelled)
    assert np.diff(positions).min() >= 14 - 1e-6  # labels never overlap
    assert {1000, 10000} <= set(labelled)  # powers of ten first


def test_scale_ticks_zoomed_in_are_evenly_spaced_round_numbers() -> None:
    labelled, _ = scale_frequency_ticks(2000.0, 4000.0, _pixels("mel", 2000.0, 4000.0, 500), label_px=10)
    assert len(labelled) >= 4
    steps = np.diff(labelled)
    assert np.allclose(steps, steps[0])


def test_the_top_label_is_moved_inside_the_axis() -> None:
    # A label at the very top (16 kHz on a 0-16 kHz axis) is drawn below the top edge, and its
    # neighbour gives way if the moved label would cover it.
    to_px = _pixels("mel", 0.0, 10000.0, 400)
    labelled, _ = scale_frequency_ticks(0.0, 10000.0, to_px, label_px=10, gap_px=4)
    assert 10000 in labelled
