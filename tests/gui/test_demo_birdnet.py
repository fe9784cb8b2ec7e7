"""The demo as `scripts/setup.sh demo` builds it: the bundled real song scored by BirdNET, whose
detections the window shows with their common names."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import QSettings

from birdview.cli import main
from birdview.gui.main_window import MainWindow

pytest.importorskip("ai_edge_litert", reason="the birdnet extra (pip install -e '.[birdnet]') is not installed")

SONG = Path(__file__).resolve().parents[2] / "assets" / "demo" / "source" / "birds_10s.wav"


def test_the_demo_song_opens_with_birdnet_tracks_and_common_names(qtbot, tmp_path: Path, fake_streams) -> None:
    folder = tmp_path / "demo"
    assert main(["add", "--project", str(folder), "--site", "DEMO-SITE", str(SONG)]) == 0
    assert main(["sites", "--project", str(folder), "--set", "DEMO-SITE", "--lat", "45.5", "--lon", "-78.3"]) == 0
    assert main(["models", "--project", str(folder), "--add", "birdnet"]) == 0
    assert main(["score", "--project", str(folder)]) == 0
    window = MainWindow(
        settings=QSettings(str(tmp_path / "b.ini"), QSettings.Format.IniFormat), stream_factory=fake_streams
    )
    qtbot.addWidget(window)
    window.resize(1400, 820)
    window.show()
    window.open_project(folder)
    assert window.wait_until_ready(60) and window.current is not None
    window.refresh_tracks()
    panel = window.probabilities
    assert panel.isVisible() and panel.tracks is not None
    # BirdNET's strongest call in the song: a Tennessee Warbler (eBird code tenwar) at 3-6 s.
    assert "tenwar" in panel.chosen and "■ Tennessee Warbler" in panel.legend.text()
    captions = [caption.textItem.toPlainText() for caption in panel.captions if caption.isVisible()]
    assert any(text.startswith("Tennessee Warbler 0.") for text in captions), captions
    starts = [start for start, _, code, _ in panel.shown_detections if code == "tenwar"]
    assert 3.0 in starts
    # Every species BirdNET knows has its names in the project: the Species field completes them.
    field = window.labeling.species_field
    entries = field.completer().model().stringList()
    assert "tenwar — Tennessee Warbler — Leiothlypis peregrina" in entries and len(entries) > 6000
    assert window.project.resolve_species("leiothlypis PEREGRINA") == "tenwar"
    assert window.project.species_categories()["Human vocal"] == "other"
