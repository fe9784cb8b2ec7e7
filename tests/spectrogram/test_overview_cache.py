"""Finished overviews are kept by content hash and settings, read back with no audio read, and
a damaged cache file is ignored and rebuilt; far-out columns cost few seeks."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from birdview.audio.recording import Recording
from birdview.spectrogram.cache import OverviewCache, TileDiskCache, content_identity
from birdview.spectrogram.overview import OVERVIEW_GROUP_FRAMES, OVERVIEW_GROUPS, OverviewBuilder
from birdview.spectrogram.settings import SpectrogramSettings
from birdview.spectrogram.tiles import TileKey, compute_tile
from birdview.store.project import content_hash
from tests.conftest import write_tone_file


@pytest.fixture
def reads(monkeypatch: pytest.MonkeyPatch) -> list[tuple[int, int]]:
    """Every Recording.read (start, stop) from now on."""
    calls: list[tuple[int, int]] = []
    original = Recording.read

    def counting(self: Recording, start: int, stop: int, channel: int | None = 0) -> np.ndarray:
        calls.append((start, stop))
        return original(self, start, stop, channel)

    monkeypatch.setattr(Recording, "read", counting)
    return calls


def _build(path: Path, cache: OverviewCache | None, settings: SpectrogramSettings | None = None) -> OverviewBuilder:
    recording = Recording.open(path)
    builder = OverviewBuilder(recording, settings or SpectrogramSettings(), cache=cache).start()
    assert builder.wait(30)
    assert builder.finished and builder.error is None
    return builder


def test_second_open_reads_the_overview_from_the_cache_without_reading_audio(tmp_path, reads) -> None:
    path = write_tone_file(tmp_path / "20240521_053000.wav", duration_s=30.0)
    cache = OverviewCache(tmp_path / "cache")
    first = _build(path, cache)
    assert not first.from_cache
    assert reads, "the first build reads the audio"
    image, extent = first.snapshot()
    assert len(list((tmp_path / "cache").glob("*.npz"))) == 1

    reads.clear()
    second = _build(path, cache)
    assert second.from_cache
    assert reads == []  # not one sample read
    again, extent_again = second.snapshot()
    assert extent_again == extent
    # Stored as float16 dB: within a tenth of a dB everywhere.
    assert np.abs(again - image).max() < 0.1
    # The tone (4 kHz, 8-10 s) is where it was.
    assert again.max() == pytest.approx(image.max(), abs=0.1)


def test_the_cache_follows_the_content_not_the_path_nor_other_settings(tmp_path, reads) -> None:
    path = write_tone_file(tmp_path / "a.wav", duration_s=20.0)
    cache = OverviewCache(tmp_path / "cache")
    _build(path, cache)
    moved = tmp_path / "elsewhere" / "renamed.wav"
    moved.parent.mkdir()
    shutil.copy(path, moved)
    reads.clear()
    assert _build(moved, cache).from_cache and reads == []

    # Other settings, or other audio, are built anew.
    assert not _build(path, cache, SpectrogramSettings(n_fft=512)).from_cache
    other = write_tone_file(tmp_path / "b.wav", duration_s=20.0, tone_hz=2000.0)
    reads.clear()
    assert not _build(other, cache).from_cache and reads


@pytest.mark.parametrize("damage", ["garbage", "truncated", "wrong shape", "empty"])
def test_a_damaged_cache_file_is_ignored_and_rebuilt(tmp_path, reads, damage) -> None:
    path = write_tone_file(tmp_path / "a.wav", duration_s=20.0)
    cache = OverviewCache(tmp_path / "cache")
    good = _build(path, cache).snapshot()[0]
    (stored,) = (tmp_path / "cache").glob("*.npz")
    data = stored.read_bytes()
    if damage == "garbage":
        stored.write_bytes(b"not an npz file at all" * 100)
    elif damage == "truncated":
        stored.write_bytes(data[: len(data) // 2])
    elif damage == "wrong shape":
        np.savez(stored.with_suffix(""), power_db=np.zeros((3, 4), dtype=np.float16))
    else:
        stored.write_bytes(b"")

    reads.clear()
    rebuilt = _build(path, cache)
    assert not rebuilt.from_cache
    assert reads, "rebuilt from the audio"
    assert np.abs(rebuilt.snapshot()[0] - good).max() < 0.1
    # ... and stored again, whole: the next open reads it.
    reads.clear()
    assert _build(path, cache).from_cache and reads == []


def test_content_identity_is_the_projects_content_hash(tmp_path) -> None:
    small = write_tone_file(tmp_path / "small.wav", duration_s=2.0)
    large = write_tone_file(tmp_path / "large.wav", duration_s=70.0)  # > 2 MiB: head and tail
    for path in (small, large):
        assert content_identity(path) == content_hash(path)


def test_tile_disk_cache_keys_on_content(tmp_path, reads) -> None:
    path = write_tone_file(tmp_path / "a.wav", duration_s=20.0)
    disk = TileDiskCache(tmp_path / "tiles")
    recording = Recording.open(path)
    key = TileKey(str(path), recording.frames, SpectrogramSettings(), 0, 0)
    tile = compute_tile(recording, key)
    disk.put(tile)
    moved = tmp_path / "moved.wav"
    shutil.copy(path, moved)
    found = disk.get(TileKey(str(moved), recording.frames, SpectrogramSettings(), 0, 0))
    assert found is not None
    assert np.abs(found.db - tile.db).max() < 0.1


class _LongSilentRecording:
    """A day at 32 kHz that is not on disk: reads return quiet noise and are counted."""

    def __init__(self) -> None:
        self.sample_rate = 32000
        self.frames = 24 * 3600 * self.sample_rate
        self.path = Path("/nonexistent/day.flac")
        self.reads: list[tuple[int, int]] = []

    def read(self, start: int, stop: int, channel: int | None = 0) -> np.ndarray:
        self.reads.append((start, stop))
        return np.random.default_rng(start).standard_normal(stop - start).astype(np.float32) * 0.01


def test_a_day_long_overview_seeks_a_few_times_a_column() -> None:
    recording = _LongSilentRecording()
    builder = OverviewBuilder(recording, SpectrogramSettings()).start()  # type: ignore[arg-type]
    assert builder.wait(120) and builder.error is None
    assert builder.fraction_done == 1.0
    # One read (seek) per run of frames, OVERVIEW_GROUPS runs a column: 4, not 12.
    assert len(recording.reads) == builder.n_columns * OVERVIEW_GROUPS
    hop = SpectrogramSettings().hop
    lengths = {stop - start for start, stop in recording.reads}
    assert lengths == {(OVERVIEW_GROUP_FRAMES - 1) * hop + SpectrogramSettings().n_fft}
    image, _ = builder.snapshot()
    assert np.isfinite(image).all()


def test_a_recording_whose_file_cannot_be_read_is_not_cached(tmp_path) -> None:
    recording = _LongSilentRecording()
    recording.frames = 2 * 3600 * recording.sample_rate
    cache = OverviewCache(tmp_path / "cache")
    builder = OverviewBuilder(recording, SpectrogramSettings(), cache=cache).start()  # type: ignore[arg-type]
    assert builder.wait(120) and builder.error is None and builder.fraction_done == 1.0
    assert not builder.from_cache
    assert not list(tmp_path.rglob("*.npz"))  # no key without the file's content
