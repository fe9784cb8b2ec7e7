from __future__ import annotations

import os
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
# Overviews the GUI tests finish go to a folder of this run, not the user's ~/.cache.
_CACHE = tempfile.TemporaryDirectory(prefix="birdview-test-cache-")
os.environ.setdefault("BIRDVIEW_CACHE_DIR", _CACHE.name)
# Windows made without a settings file of their own keep their settings (display, channel,
# measurement columns, recent projects) in this run's folder, not the user's ~/.config, so that
# one test's choices never reach another run.
_CONFIG = tempfile.TemporaryDirectory(prefix="birdview-test-config-")
os.environ["XDG_CONFIG_HOME"] = _CONFIG.name

SAMPLE_RATE = 32000


def write_tone_file(
    path: Path,
    duration_s: float = 20.0,
    tone_start_s: float = 8.0,
    tone_end_s: float = 10.0,
    tone_hz: float = 4000.0,
    sample_rate: int = SAMPLE_RATE,
    noise: float = 0.001,
    channels: int = 1,
    seed: int = 0,
) -> Path:
    """Quiet noise with one loud pure tone at a known time and frequency."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(duration_s * sample_rate)) / sample_rate
    x = rng.standard_normal(len(t)) * noise
    on = (t >= tone_start_s) & (t < tone_end_s)
    x[on] += 0.5 * np.sin(2 * np.pi * tone_hz * t[on])
    if channels > 1:
        x = np.stack([x] + [rng.standard_normal(len(t)) * noise for _ in range(channels - 1)], axis=1)
    sf.write(path, x.astype(np.float32), sample_rate)
    return path


@pytest.fixture
def tone_file(tmp_path: Path) -> Path:
    return write_tone_file(tmp_path / "20240521_053000.wav")


class FakeOutputStream:
    """Stands in for a sound card: calls the callback in real time from its own thread and
    keeps everything it was given."""

    def __init__(self, samplerate: int, channels: int, callback, blocksize: int = 512) -> None:
        self.samplerate = samplerate
        self.channels = channels
        self.callback = callback
        self.blocksize = blocksize
        self.blocks: list[np.ndarray] = []
        self._running = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._running.set()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        period = self.blocksize / self.samplerate
        next_time = time.monotonic()
        while self._running.is_set():
            out = np.zeros((self.blocksize, self.channels), dtype=np.float32)
            self.callback(out, self.blocksize, None, None)
            self.blocks.append(out.copy())
            next_time += period
            time.sleep(max(0.0, next_time - time.monotonic()))

    def stop(self) -> None:
        self._running.clear()
        if self._thread is not None:
            self._thread.join(timeout=2)

    def close(self) -> None:
        self.stop()

    def output(self) -> np.ndarray:
        return np.concatenate(self.blocks)[:, 0] if self.blocks else np.zeros(0, dtype=np.float32)


@pytest.fixture
def fake_streams():
    """A stream factory for Player/MainWindow; the list holds every stream it made."""
    made: list[FakeOutputStream] = []

    def factory(samplerate: int, channels: int, callback) -> FakeOutputStream:
        stream = FakeOutputStream(samplerate, channels, callback)
        made.append(stream)
        return stream

    factory.made = made
    return factory


@pytest.fixture(scope="module")
def species_file(tmp_path_factory) -> Path:
    """The generated species (tests/synthetic_birds.py), one a line, as birdview-train --species reads them."""
    from tests.synthetic_birds import SPECIES

    path = tmp_path_factory.mktemp("species") / "species.txt"
    path.write_text("\n".join(SPECIES) + "\n")
    return path


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory) -> Path:
    """A small birdview-train checkpoint with random weights for the four generated species."""
    from tests.synthetic_birds import SPECIES
    from trainer.config import TrainConfig
    from trainer.lightning_module import BirdModule
    from trainer.train import save_module

    config = TrainConfig(data="-", backbone="test_efficientnet", pretrained=False)
    return save_module(BirdModule(config.as_dict(), list(SPECIES)), tmp_path_factory.mktemp("model") / "model.ckpt")


def open_project_window(qtbot, tmp_path: Path, stream_factory, checkpoint: Path, write_recordings):
    """The main window, offscreen, on a new project holding the recordings that
    ``write_recordings(folder)`` writes and the test model (version 1)."""
    from PySide6.QtCore import QSettings

    from birdview.gui.main_window import MainWindow

    settings = QSettings(str(tmp_path / "birdview.ini"), QSettings.Format.IniFormat)
    window = MainWindow(settings=settings, stream_factory=stream_factory)
    qtbot.addWidget(window)
    window.resize(1300, 900)
    window.show()
    audio = tmp_path / "audio"
    audio.mkdir()
    write_recordings(audio)
    window.open_project(tmp_path / "project")
    window.open_paths([audio])
    assert window.wait_until_ready(30)
    assert window.scoring.add(checkpoint) == 1
    return window
