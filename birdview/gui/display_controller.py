"""Display settings: loaded from QSettings at start-up, applied to the spectrogram and the
overview when the display panel (or a View menu key for brightness and contrast) changes them,
and saved again. ``spectrogramChanged(settings)`` after new spectrogram settings are applied, for
what is drawn over the spectrogram; ``message(text)`` is for the status bar."""

from __future__ import annotations

from PySide6.QtCore import QObject, QSettings, Signal

from birdview.gui.display_panel import DisplayPanel, load_settings, save_settings
from birdview.gui.navigation import AddAction
from birdview.gui.overview_strip import OverviewStrip
from birdview.gui.spectrogram_view import SpectrogramView
from birdview.spectrogram.settings import DisplaySettings, SpectrogramSettings


class DisplayController(QObject):
    spectrogramChanged = Signal(object)  # SpectrogramSettings
    message = Signal(str)

    def __init__(
        self, settings: QSettings, view: SpectrogramView, overview: OverviewStrip, parent: QObject | None = None
    ) -> None:
        super().__init__(parent)
        self.settings, self.view, self.overview = settings, view, overview
        spectrogram, display = load_settings(settings)
        view.set_spectrogram_settings(spectrogram)
        view.set_display_settings(display)
        overview.set_display_settings(display)
        self.panel = DisplayPanel(spectrogram, display)
        self.panel.spectrogramChanged.connect(self.apply_spectrogram)
        self.panel.displayChanged.connect(self.apply_display)

    def add_actions(self, add: AddAction) -> None:
        """The View menu's brightness and contrast entries."""
        add("Brighter", lambda: self.nudge_levels(-5, 0), "Ctrl+Up")
        add("Darker", lambda: self.nudge_levels(5, 0), "Ctrl+Down")
        add("More contrast", lambda: self.nudge_levels(0, -5), "Ctrl+Right")
        add("Less contrast", lambda: self.nudge_levels(0, 5), "Ctrl+Left")

    def apply_spectrogram(self, settings: SpectrogramSettings) -> None:
        recording = self.view.recording
        if recording is not None and settings.channel >= recording.info.channels:
            self.message.emit(f"{recording.path.name} has {recording.info.channels} channel(s); showing the last one")
        self.view.set_spectrogram_settings(settings)
        self.overview.set_recording(recording, settings)
        self.spectrogramChanged.emit(settings)
        save_settings(self.settings, settings, self.view.display_settings)

    def apply_display(self, settings: DisplaySettings) -> None:
        self.view.set_display_settings(settings)
        self.overview.set_display_settings(settings)
        save_settings(self.settings, self.view.spectrogram_settings, settings)

    def nudge_levels(self, ceiling_db: float, range_db: float) -> None:
        """Move the brightest level by ``ceiling_db`` and widen the range by ``range_db`` (10 dB at least)."""
        current = self.view.display_settings
        new_range = max(10.0, current.db_ceiling - current.db_floor + range_db)
        ceiling = current.db_ceiling + ceiling_db
        settings = current.with_changes(db_ceiling=ceiling, db_floor=ceiling - new_range)
        self.panel.set_values(self.view.spectrogram_settings, settings)
        self.apply_display(settings)
