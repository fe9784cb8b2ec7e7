"""Display settings: loaded from QSettings at start-up, applied to the spectrogram and the
overview when the display panel (or a View menu key for brightness and contrast) changes them,
and saved again. ``spectrogramChanged(settings)`` after new spectrogram settings are applied, for
what is drawn over the spectrogram; ``message(text)`` is for the status bar.

With "Auto level" on, the levels come from the visible part of the spectrogram
(:mod:`birdview.spectrogram.levels`): worked out just before the spectrogram or the overview is
painted, when the visible tiles or the view changed since the last time (about a millisecond, on
the GUI thread), and applied to both. The levels set by hand stay in the settings meanwhile:
turning auto off brings them back. Brighter/darker/contrast keys with auto on start from the
automatic levels and turn auto off.

With a :class:`~birdview.gui.channel_stack.ChannelStack`, every pane gets the settings (each its
own channel) and the levels, which are worked out from the visible tiles of all of them.
"""

from __future__ import annotations

from PySide6.QtCore import QObject, QSettings, Signal

from birdview.gui.channel_stack import ChannelStack
from birdview.gui.display_panel import DisplayPanel, load_settings, save_settings
from birdview.gui.navigation import AddAction
from birdview.gui.overview_strip import OverviewStrip
from birdview.gui.spectrogram_view import SpectrogramView
from birdview.spectrogram.levels import Levels, auto_levels, visible_parts
from birdview.spectrogram.settings import DisplaySettings, SpectrogramSettings

#: Automatic levels move only by at least this much (dB), so panning does not make the picture flicker.
LEVEL_HYSTERESIS_DB = 1.0


class DisplayController(QObject):
    spectrogramChanged = Signal(object)  # SpectrogramSettings
    message = Signal(str)

    def __init__(
        self,
        settings: QSettings,
        view: SpectrogramView,
        overview: OverviewStrip,
        parent: QObject | None = None,
        channels: ChannelStack | None = None,
    ) -> None:
        super().__init__(parent)
        self.settings, self.view, self.overview, self.channels = settings, view, overview, channels
        spectrogram, display = load_settings(settings)
        #: What the user chose (levels set by hand included); the view may show automatic levels.
        self.display = display
        self.levels: Levels | None = None  # the automatic levels shown, when auto level is on
        self._seen: tuple | None = None  # what the automatic levels were worked out from
        view.set_display_settings(display)
        self._show(spectrogram, display.stack_channels)
        overview.set_display_settings(display)
        self.panel = DisplayPanel(spectrogram, display)
        self.panel.spectrogramChanged.connect(self.apply_spectrogram)
        self.panel.displayChanged.connect(self.apply_display)
        view.scene().sigPrepareForPaint.connect(self.update_auto_levels)
        overview.scene().sigPrepareForPaint.connect(self.update_auto_levels)
        if channels is not None:
            channels.panesChanged.connect(self._hook_panes)

    def _hook_panes(self, _main_channel: object, panes: list) -> None:
        """The other channels' panes work the levels out too when they are painted."""
        for pane, _channel in panes:
            if not getattr(pane, "levels_hooked", False):
                pane.levels_hooked = True
                pane.scene().sigPrepareForPaint.connect(self.update_auto_levels)

    def add_actions(self, add: AddAction) -> None:
        """The View menu's brightness and contrast entries."""
        add("Brighter", lambda: self.nudge_levels(-5, 0), "Ctrl+Up")
        add("Darker", lambda: self.nudge_levels(5, 0), "Ctrl+Down")
        add("More contrast", lambda: self.nudge_levels(0, -5), "Ctrl+Right")
        add("Less contrast", lambda: self.nudge_levels(0, 5), "Ctrl+Left")

    @property
    def panes(self) -> list[SpectrogramView]:
        return self.channels.panes if self.channels is not None else [self.view]

    def _show(self, settings: SpectrogramSettings, stacked: bool) -> None:
        if self.channels is not None:
            self.channels.set_channels(settings, stacked)
        else:
            self.view.set_spectrogram_settings(settings)

    def apply_spectrogram(self, settings: SpectrogramSettings) -> None:
        recording = self.view.recording
        stacked = self.panel.display_settings().stack_channels
        if recording is not None and not stacked and settings.channel >= recording.info.channels:
            self.message.emit(f"{recording.path.name} has {recording.info.channels} channel(s); showing the last one")
        old = self.view.spectrogram_settings
        self._show(settings, stacked)
        if self.view.spectrogram_settings != old:
            self.overview.set_recording(recording, self.view.spectrogram_settings)
        self.spectrogramChanged.emit(self.view.spectrogram_settings)
        save_settings(self.settings, settings, self.display)

    def apply_display(self, settings: DisplaySettings) -> None:
        if settings.stack_channels != self.display.stack_channels:
            self.display = settings
            self.apply_spectrogram(self.panel.spectrogram_settings())
        self.display = settings
        if not settings.auto_level:
            self.levels = None
        self._seen = None  # work the automatic levels out again at the next paint
        shown = self.shown_settings()
        for pane in self.panes:
            pane.set_display_settings(shown)
        self.overview.set_display_settings(shown)
        self._say_levels()
        save_settings(self.settings, self.view.spectrogram_settings, settings)

    def shown_settings(self) -> DisplaySettings:
        """The settings the spectrogram is drawn with: the user's, with the automatic levels when on."""
        if self.display.auto_level and self.levels is not None:
            return self.display.with_changes(db_floor=self.levels.floor_db, db_ceiling=self.levels.ceiling_db)
        return self.display

    def _say_levels(self) -> None:
        levels = self.levels if self.display.auto_level else None
        self.panel.show_auto_levels(*((levels.floor_db, levels.ceiling_db) if levels else (None, None)))

    def update_auto_levels(self) -> None:
        """Work the automatic levels out from the visible tiles, if they or the view changed, and
        give them to the spectrogram and the overview (only the levels: the rest of what they
        show stays as it was set). The view's own settings say whether auto level is on."""
        if not self.view.display_settings.auto_level or self.view.recording is None:
            return
        tiles = [tile for pane in self.panes for tile in pane.visible_tiles()]
        (t0, t1), (y0, y1) = self.view.view_box.viewRange()
        seen = (tuple(tile.key for tile in tiles), round(t0, 4), round(t1, 4), round(y0, 4), round(y1, 4))
        if seen == self._seen:
            return
        self._seen = seen
        settings, sample_rate = self.view.spectrogram_settings, self.view.recording.sample_rate
        found = auto_levels(visible_parts(tiles, (t0, t1, y0, y1), settings, sample_rate))
        if found is None:
            return
        old = self.levels
        if (
            old is not None
            and abs(found.floor_db - old.floor_db) < LEVEL_HYSTERESIS_DB
            and abs(found.ceiling_db - old.ceiling_db) < LEVEL_HYSTERESIS_DB
        ):
            return
        self.levels = found
        for shown in (*self.panes, self.overview):
            levels = {"db_floor": found.floor_db, "db_ceiling": found.ceiling_db}
            shown.set_display_settings(shown.display_settings.with_changes(**levels))
        self._say_levels()

    def nudge_levels(self, ceiling_db: float, range_db: float) -> None:
        """Move the brightest level by ``ceiling_db`` and widen the range by ``range_db`` (10 dB at
        least), from the levels shown; automatic levels are turned off (the levels are now the user's)."""
        current = self.shown_settings()
        new_range = max(10.0, current.db_ceiling - current.db_floor + range_db)
        ceiling = current.db_ceiling + ceiling_db
        settings = current.with_changes(db_ceiling=ceiling, db_floor=ceiling - new_range, auto_level=False)
        if self.display.auto_level:
            self.message.emit("Auto level is off: the levels are set by hand (Display ▸ Auto level turns it on)")
        self.panel.set_values(self.panel.spectrogram_settings(), settings)
        self.apply_display(settings)
