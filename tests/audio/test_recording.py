from __future__ import annotations

from datetime import datetime
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from birdview.audio.filenames import parse_start_time
from birdview.audio.recording import AudioFileError, Recording, find_audio_files, probe
from tests.conftest import write_tone_file


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("20240521_053000.WAV", datetime(2024, 5, 21, 5, 30, 0)),
        ("SITE12_20240521_053000.wav", datetime(2024, 5, 21, 5, 30, 0)),
        ("SMM07257_20230415_231500.flac", datetime(2023, 4, 15, 23, 15, 0)),
        ("S4A1$20240521_053000.wav", datetime(2024, 5, 21, 5, 30, 0)),
        ("2024-05-21_05-30-00.ogg", datetime(2024, 5, 21, 5, 30, 0)),
        ("rec_20240521T053000.mp3", datetime(2024, 5, 21, 5, 30, 0)),
        ("5A8B3C4D.WAV", datetime(2018, 2, 19, 21, 6, 21)),
        ("birds_10s.wav", None),
        ("20241399_999999.wav", None),
        ("DEADBEEF.wav", None),
    ],
)
def test_start_time_from_recorder_file_names(name: str, expected: datetime | None) -> None:
    assert parse_start_time(name) == expected


def test_probe_reports_what_the_recordings_panel_shows(tmp_path: Path) -> None:
    path = write_tone_file(tmp_path / "SITE_20240521_053000.flac", duration_s=12.5, channels=2, sample_rate=48000)
    info = probe(path)
    assert info.duration_s == pytest.approx(12.5)
    assert info.sample_rate == 48000
    assert info.channels == 2
    assert info.start_time == datetime(2024, 5, 21, 5, 30)
    assert info.warning is None


def test_read_returns_the_requested_samples_zero_padded_outside_the_file(tmp_path: Path) -> None:
    path = tmp_path / "ramp.wav"
    sf.write(path, (np.arange(1000) / 1000).astype(np.float32), 8000, subtype="FLOAT")
    recording = Recording.open(path)
    inside = recording.read(100, 110)
    np.testing.assert_allclose(inside, np.arange(100, 110) / 1000, atol=1e-6)
    edge = recording.read(-5, 5)
    np.testing.assert_allclose(edge[:5], 0)
    np.testing.assert_allclose(edge[5:], np.arange(5) / 1000, atol=1e-6)
    after = recording.read(995, 1005)
    np.testing.assert_allclose(after[5:], 0)


def test_stereo_channel_selection(tmp_path: Path) -> None:
    path = tmp_path / "stereo.wav"
    sf.write(path, np.stack([np.full(100, 0.25), np.full(100, -0.5)], axis=1).astype(np.float32), 8000)
    recording = Recording.open(path)
    assert recording.read(0, 10, channel=0)[0] == pytest.approx(0.25, abs=1e-4)
    assert recording.read(0, 10, channel=1)[0] == pytest.approx(-0.5, abs=1e-4)
    assert recording.read(0, 10, channel=None).shape == (10, 2)


def test_missing_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(AudioFileError, match=r"missing\.wav: file not found"):
        probe(tmp_path / "missing.wav")


def test_empty_file_is_named(tmp_path: Path) -> None:
    (tmp_path / "empty.wav").write_bytes(b"")
    with pytest.raises(AudioFileError, match=r"empty.wav: file is empty \(0 bytes\)"):
        probe(tmp_path / "empty.wav")


def test_non_audio_file_is_named(tmp_path: Path) -> None:
    (tmp_path / "notes.wav").write_text("these are field notes, not audio\n" * 50)
    with pytest.raises(AudioFileError, match=r"notes\.wav: not a readable audio file"):
        probe(tmp_path / "notes.wav")


def test_header_without_samples_is_named(tmp_path: Path) -> None:
    sf.write(tmp_path / "silent.wav", np.zeros(0, dtype=np.float32), 8000)
    with pytest.raises(AudioFileError, match=r"silent\.wav: contains no audio samples"):
        probe(tmp_path / "silent.wav")


@pytest.mark.parametrize("suffix", [".wav", ".flac"])
def test_truncated_file_opens_with_a_warning_and_only_its_readable_part(tmp_path: Path, suffix: str) -> None:
    full = write_tone_file(tmp_path / f"full{suffix}", duration_s=30.0, noise=0.05)
    data = full.read_bytes()
    cut = tmp_path / f"cut{suffix}"
    cut.write_bytes(data[: len(data) // 2])
    info = probe(cut)
    assert info.warning is not None
    assert "truncated" in info.warning
    assert 10.0 < info.duration_s < 20.0
    recording = Recording(info)
    block = recording.read(info.frames - 4096, info.frames)
    assert np.abs(block).max() > 0  # the readable part really decodes


def test_find_audio_files_expands_folders(tmp_path: Path) -> None:
    (tmp_path / "day1").mkdir()
    write_tone_file(tmp_path / "day1" / "b.wav", duration_s=1)
    write_tone_file(tmp_path / "day1" / "a.flac", duration_s=1)
    (tmp_path / "day1" / "readme.txt").write_text("x")
    single = write_tone_file(tmp_path / "c.wav", duration_s=1)
    found = find_audio_files([tmp_path / "day1", single])
    assert [p.name for p in found] == ["a.flac", "b.wav", "c.wav"]
