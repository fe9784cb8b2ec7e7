"""What a spectrogram is computed with (changes invalidate tiles) and how it is shown."""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace

WINDOWS = ("hann", "hamming", "blackman", "boxcar")
#: Frequency scales: linear Hz, mel (Slaney: linear below 1 kHz, logarithmic above) and logarithmic.
SCALES = ("linear", "mel", "log")
FFT_SIZES = (128, 256, 512, 1024, 2048, 4096, 8192)
OVERLAPS = (0.0, 0.5, 0.75, 0.875)
MEL_BANDS = (16, 512)


@dataclass(frozen=True)
class SpectrogramSettings:
    n_fft: int = 1024
    overlap: float = 0.75
    window: str = "hann"
    #: Mel by default: bird song spreads over octaves, and low calls (owls, ~0.5 kHz) get room.
    scale: str = "mel"
    #: Bands (display rows) of the mel and log scales (a viewing choice; the model's own mels are
    #: trainer.frontend's).
    mel_bands: int = 160
    channel: int = 0

    def __post_init__(self) -> None:
        if self.n_fft not in FFT_SIZES:
            raise ValueError(f"FFT size must be one of {FFT_SIZES}, not {self.n_fft}")
        if not 0.0 <= self.overlap < 1.0:
            raise ValueError(f"overlap must be in [0, 1), not {self.overlap}")
        if self.window not in WINDOWS:
            raise ValueError(f"window must be one of {WINDOWS}, not {self.window!r}")
        if self.scale not in SCALES:
            raise ValueError(f"frequency scale must be one of {SCALES}, not {self.scale!r}")
        if not MEL_BANDS[0] <= self.mel_bands <= MEL_BANDS[1]:
            raise ValueError(f"bands must be within {MEL_BANDS[0]}-{MEL_BANDS[1]}, not {self.mel_bands}")

    @property
    def hop(self) -> int:
        return max(1, round(self.n_fft * (1.0 - self.overlap)))

    def with_changes(self, **changes: object) -> SpectrogramSettings:
        return replace(self, **changes)

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class DisplaySettings:
    colormap: str = "viridis"
    #: Levels (dB mapped to the lowest and the highest colour) set by hand: used when
    #: ``auto_level`` is off (see birdview.spectrogram.levels for the automatic ones).
    db_floor: float = -110.0
    db_ceiling: float = -30.0
    freq_min_hz: float = 0.0
    #: None shows up to the Nyquist frequency of the recording. 12 kHz holds nearly all bird song.
    freq_max_hz: float | None = 12000.0
    #: Seconds shown when a recording is opened.
    default_span_s: float = 60.0
    #: Levels from the visible part of the spectrogram, worked out again whenever the view changes.
    auto_level: bool = True
    #: Every channel of a multichannel recording in a pane of its own, stacked (as Raven and
    #: Audacity show them); off, only SpectrogramSettings.channel is shown.
    stack_channels: bool = True

    def with_changes(self, **changes: object) -> DisplaySettings:
        return replace(self, **changes)

    def as_dict(self) -> dict:
        return asdict(self)
