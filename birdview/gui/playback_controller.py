"""Playback in the window: play the view from the cursor, or the selected box (band-passed when the
display panel says so), or a review candidate, at the display panel's speed; the playhead follows
the sound and the view follows the playhead. ``message(text)`` is for the status bar;
:attr:`PlaybackController.audio_label` names the output device, or says there is none."""

from __future__ import annotations

from PySide6.QtCore import QObject, QTimer, Signal
from PySide6.QtWidgets import QLabel

from birdview.audio.playback import AudioDeviceError, Player, StreamFactory, sounddevice_stream
from birdview.audio.recording import Recording
from birdview.gui.display_panel import DisplayPanel
from birdview.gui.spectrogram_view import SpectrogramView

_PLAYHEAD_MS = 30
NO_AUDIO_TEXT = "No audio output device: playback off"


def audio_output_status() -> str | None:
    """The default output device's name, or None when there is none (as on a server)."""
    try:
        import sounddevice

        return str(sounddevice.query_devices(kind="output")["name"])
    except Exception:
        return None


class PlaybackController(QObject):
    message = Signal(str)

    def __init__(
        self,
        stream_factory: StreamFactory,
        view: SpectrogramView,
        display_panel: DisplayPanel,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.player = Player(stream_factory=stream_factory)
        self.view = view
        self.display_panel = display_panel
        self.recording: Recording | None = None
        self.audio_label = QLabel()
        device = audio_output_status()
        self.audio_available = device is not None or stream_factory is not sounddevice_stream
        if device:
            self.audio_label.setText(f"Audio: {device}")
        else:
            self.audio_label.setText("Audio: test stream" if self.audio_available else NO_AUDIO_TEXT)
        self._timer = QTimer(self, interval=_PLAYHEAD_MS)
        self._timer.timeout.connect(self._follow_playhead)

    def set_recording(self, recording: Recording | None) -> None:
        """Stop playing and play ``recording`` from now on."""
        self.stop()
        self.recording = recording

    def toggle(self) -> None:
        """Stop, or play the selected box or else the view from the cursor (when it is in view)."""
        if self.player.playing:
            self.stop()
            return
        if self.recording is None:
            return
        t0, t1 = self.view.view_range()
        band = None
        if self.view.selection is not None:
            start, end, f0, f1 = self.view.selection
            if self.display_panel.band_pass.isChecked():
                band = (f0, f1)
        else:
            cursor = self.view.cursor_s
            start = cursor if cursor is not None and t0 <= cursor < t1 else t0
            end = None
        try:
            self._play(start, end, band)
        except AudioDeviceError as exc:
            self.audio_label.setText(NO_AUDIO_TEXT)
            self.message.emit(f"Cannot play: {exc}")
            return
        self.view.set_playhead(start)
        self._timer.start()

    def play_span(self, start_s: float, end_s: float) -> None:
        """Play ``start_s`` to ``end_s`` of the recording (a review candidate)."""
        if self.recording is None:
            return
        try:
            self._play(start_s, end_s)
        except AudioDeviceError as exc:
            self.message.emit(f"Cannot play: {exc}")
            return
        self._timer.start()

    def _play(self, start_s: float, end_s: float | None, band_hz: tuple[float, float] | None = None) -> None:
        self.player.play(
            self.recording,
            start_s,
            end_s,
            speed=self.display_panel.playback_speed(),
            band_hz=band_hz,
            # the channel of the pane the box was selected on (another channel's when stacked)
            channel=self.view.selection_channel if self.view.selection is not None else self.view.channel,
        )

    def stop(self) -> None:
        self.player.stop()
        self._timer.stop()

    def _follow_playhead(self) -> None:
        position = self.player.position_s
        self.view.set_playhead(position)
        t0, t1 = self.view.view_range()
        if position > t1 or position < t0:
            span = t1 - t0
            self.view.set_view(position - 0.02 * span, span)
        if not self.player.playing:
            self._timer.stop()
            self.player.stop()
            if self.player.error is not None:
                self.message.emit(f"Playback stopped: {self.player.error}")
