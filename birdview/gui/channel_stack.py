"""Every channel of a recording as its own spectrogram pane, stacked, sharing the time axis.

The window's main :class:`SpectrogramView` is the first pane (channel 1, or the one channel chosen);
the others are views of their own, put under it in its layout (siblings of the strips linked to it
in time, so that pyqtgraph lines them all up to the pixel), made and dropped as recordings and
settings change, linked to it
in time and frequency: scrolling, zooming, the play cursor, the playhead and the frequency range
move together. A box selected on any pane becomes the main view's selection, with its channel
(``selection_channel``), so labelling and playback act on it; only that pane draws it. Tiles come
from the same :class:`TileService` (each pane is a client of its own, served in turn) and caches,
whose keys hold the channel. ``panesChanged`` tells the label layer which pane shows which channel.

Shown by default: every channel, stacked, as Raven and Audacity show a multichannel file; Display ▸
Channel picks one instead.
"""

from __future__ import annotations

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QBoxLayout

from birdview.gui.spectrogram_view import SpectrogramView
from birdview.spectrogram.service import TileService
from birdview.spectrogram.settings import SpectrogramSettings

#: Panes at most when all channels are stacked (an array recorder's 16 would each be a sliver);
#: the other channels are one choice away in Display ▸ Channel.
MAX_STACKED = 8


def channel_name(channel: int) -> str:
    """How the panes name a channel (0-based): "Ch 1"."""
    return f"Ch {channel + 1}"


class ChannelStack(QObject):
    #: (the main view's channel, or None when the recording has one; [(pane, channel)] of the
    #: other panes), whenever which pane shows which channel changes.
    panesChanged = Signal(object, object)
    message = Signal(str)

    def __init__(self, main: SpectrogramView, tiles: TileService, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.main, self.tiles = main, tiles
        self.extra: list[SpectrogramView] = []
        self.stacked = True
        self._syncing = False
        self._shown: tuple | None = None
        self._layout: QBoxLayout | None = None  # the main view's, where the other panes go
        main.recordingChanged.connect(lambda _recording: self._sync_panes())
        main.selectionChanged.connect(self._on_main_selection)
        main.cursorPlaced.connect(lambda seconds: self._on_cursor(main, seconds))
        main.playheadMoved.connect(self._on_playhead)

    # -- what is shown ----------------------------------------------------------------------------

    def place_in(self, layout: QBoxLayout) -> None:
        """The layout holding the main view: the other panes go under it, each as tall."""
        self._layout = layout

    @property
    def panes(self) -> list[SpectrogramView]:
        return [self.main, *self.extra]

    def shown_channels(self) -> list[int]:
        """The channels on screen, top to bottom (0-based)."""
        recording = self.main.recording
        channels = recording.info.channels if recording is not None else 1
        if self.stacked and channels > 1:
            return list(range(min(channels, MAX_STACKED)))
        return [min(self.main.channel, channels - 1)]

    def set_channels(self, settings: SpectrogramSettings, stacked: bool) -> None:
        """Show ``settings``: every channel stacked, or the one ``settings.channel`` names."""
        self.stacked = stacked
        self.main.set_spectrogram_settings(settings.with_changes(channel=0) if stacked else settings)
        self._sync_panes()

    def _sync_panes(self) -> None:
        channels = self.shown_channels()
        recording = self.main.recording
        if recording is not None and self.stacked and recording.info.channels > len(channels):
            self.message.emit(
                f"{recording.path.name} has {recording.info.channels} channels: the first {len(channels)} are "
                "stacked; Display ▸ Channel shows any one of them"
            )
        while len(self.extra) > len(channels) - 1:
            self._drop(self.extra.pop())
        while len(self.extra) < len(channels) - 1:
            self.extra.append(self._new_pane())
        for pane, channel in zip(self.extra, channels[1:], strict=True):
            pane.set_display_settings(self.main.display_settings)
            pane.set_spectrogram_settings(self.main.spectrogram_settings.with_changes(channel=channel))
            if pane.recording is not recording:
                pane.set_recording(recording)
            pane.view_box.setXLink(self.main.view_box)  # after set_recording: the pane takes the main view's range
            pane.view_box.setYLink(self.main.view_box)
        several = recording is not None and recording.info.channels > 1
        self._label(channels, several)
        shown = (tuple(channels), several, tuple(id(pane) for pane in self.extra))
        if shown != self._shown:
            self._shown = shown
            self.panesChanged.emit(channels[0] if several else None, self.channel_panes())

    def channel_panes(self) -> list[tuple[SpectrogramView, int]]:
        """The panes other than the main view, with their channels."""
        return [(pane, pane.channel) for pane in self.extra]

    def _label(self, channels: list[int], named: bool) -> None:
        """Each pane's frequency axis names its channel; only the bottom one shows the time axis."""
        for pane, channel in zip(self.panes, channels, strict=True):
            if named:
                pane.frequency_axis.setLabel(channel_name(channel), units="kHz")
            else:
                pane.frequency_axis.setLabel("Frequency", units="kHz")
            pane.getPlotItem().showAxis("bottom", pane is self.panes[-1])

    def _new_pane(self) -> SpectrogramView:
        pane = SpectrogramView(self.tiles)
        pane.setObjectName("channel_pane")
        pane.selectionChanged.connect(lambda selection, p=pane: self._on_pane_selection(p, selection))
        pane.cursorPlaced.connect(lambda seconds, p=pane: self._on_cursor(p, seconds))
        pane.cursorMoved.connect(lambda seconds, hz, p=pane: self._on_hover(p, seconds, hz))
        pane.tileFailed.connect(self.main.tileFailed)
        if self._layout is not None:
            index = self._layout.indexOf(self.main) + 1 + len(self.extra)
            self._layout.insertWidget(index, pane, stretch=self._layout.stretch(self._layout.indexOf(self.main)))
        return pane

    def _drop(self, pane: SpectrogramView) -> None:
        pane.view_box.setXLink(None)
        pane.view_box.setYLink(None)
        self.tiles.cancel(pane)
        if self.main.hover_pane is pane:
            self.main.hover_pane = None
        if self.main.selection is not None and self.main.selection_channel == pane.channel:
            self.main.clear_selection()
        if self._layout is not None:
            self._layout.removeWidget(pane)
        pane.hide()
        pane.deleteLater()

    # -- keeping the panes in step ------------------------------------------------------------------

    def _on_pane_selection(self, pane: SpectrogramView, selection: tuple | None) -> None:
        if self._syncing:
            return
        self._syncing = True
        try:
            if selection is not None:
                for other in self.extra:
                    if other is not pane:
                        other.clear_selection()
                self.main.set_selection(*selection, channel=pane.channel)
            elif self.main.selection is not None and self.main.selection_channel == pane.channel:
                self.main.clear_selection()
        finally:
            self._syncing = False

    def _on_main_selection(self, selection: tuple | None) -> None:
        """The main view's selection changed: panes drop theirs unless it is theirs."""
        if self._syncing:
            return
        self._syncing = True
        try:
            for pane in self.extra:
                if selection is None or self.main.selection_channel != pane.channel:
                    pane.clear_selection()
        finally:
            self._syncing = False

    def _on_cursor(self, clicked: SpectrogramView, seconds: float) -> None:
        """A click on any pane places the play cursor on all of them (and drops the selection)."""
        if clicked is not self.main:
            self.main.clear_selection()
        for pane in self.panes:
            if pane is not clicked:
                pane.place_cursor(seconds)

    def _on_playhead(self, seconds: float | None) -> None:
        for pane in self.extra:
            pane.set_playhead(seconds)

    def _on_hover(self, pane: SpectrogramView, seconds: float, hz: float) -> None:
        self.main.hover_pane = pane
        self.main.cursorMoved.emit(seconds, hz)

    # -- waiting (screenshots, tests) ---------------------------------------------------------------

    def visible_tiles_complete(self) -> bool:
        """Every pane has drawn its view (tests, screenshots)."""
        return all(pane.visible_tiles_complete() for pane in self.panes)
