"""The one front end (audio -> normalised log-mel) used by training, inference and the app.

Its settings travel inside every checkpoint and ONNX file, so a model is always fed what it was
trained on.
"""

from __future__ import annotations

import warnings
from dataclasses import asdict, dataclass, fields, replace
from functools import lru_cache

import librosa
import numpy as np
import soxr
import torch
from torch import nn

NORMALISATIONS = ("standardize", "fixed")
CPU_SLICE = 2
MEL_BAND_GROUPS = 16


@dataclass(frozen=True)
class FrontEndConfig:
    sample_rate: int = 32000
    n_fft: int = 2048
    hop_length: int = 512
    n_mels: int = 128
    fmin: float = 300.0
    fmax: float = 16000.0
    #: Seconds a prediction is made for (BirdCLEF scores 5 s windows).
    window_s: float = 5.0
    #: Seconds of audio the model sees, centred on the scored window (>= window_s).
    context_s: float = 5.0
    #: "standardize": each window to zero mean, unit variance; "fixed": (dB + 80) / 40.
    normalization: str = "standardize"

    def __post_init__(self) -> None:
        if self.normalization not in NORMALISATIONS:
            raise ValueError(f"normalization must be one of {NORMALISATIONS}, not {self.normalization!r}")
        if self.context_s < self.window_s:
            raise ValueError(f"context ({self.context_s} s) must be at least the window ({self.window_s} s)")
        if self.fmax > self.sample_rate / 2:
            raise ValueError(f"fmax {self.fmax} Hz is above the Nyquist frequency of {self.sample_rate} Hz")

    @property
    def context_samples(self) -> int:
        return round(self.context_s * self.sample_rate)

    @property
    def window_samples(self) -> int:
        return round(self.window_s * self.sample_rate)

    @property
    def frames(self) -> int:
        return 1 + self.context_samples // self.hop_length

    def as_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict) -> FrontEndConfig:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in values.items() if k in known})

    def with_changes(self, **changes: object) -> FrontEndConfig:
        return replace(self, **changes)


@lru_cache(maxsize=8)
def _mel_basis(sample_rate: int, n_fft: int, n_mels: int, fmin: float, fmax: float) -> np.ndarray:
    return librosa.filters.mel(sr=sample_rate, n_fft=n_fft, n_mels=n_mels, fmin=fmin, fmax=fmax).astype(np.float32)


def mel_bands(basis: np.ndarray, groups: int = MEL_BAND_GROUPS) -> list[tuple[int, int, int, int]]:
    """(first filter, end filter, first bin, end bin) of consecutive groups of mel filters.

    Each triangular filter spans a few FFT bins, so the filterbank is 98 % zeros. Multiplying each
    group of filters by only the bins it covers gives the same mels with about 8x fewer operations.
    """
    bands = []
    for rows in np.array_split(np.arange(len(basis)), min(groups, len(basis))):
        covered = np.flatnonzero(basis[rows].any(axis=0))
        first, end = (int(covered[0]), int(covered[-1]) + 1) if len(covered) else (0, 0)
        bands.append((int(rows[0]), int(rows[-1]) + 1, first, end))
    return bands


class MelFrontEnd(nn.Module):
    """(batch, samples) waveforms at ``config.sample_rate`` -> (batch, 1, n_mels, frames)."""

    def __init__(self, config: FrontEndConfig) -> None:
        super().__init__()
        self.config = config
        self.register_buffer("window", torch.hann_window(config.n_fft), persistent=False)
        basis = _mel_basis(config.sample_rate, config.n_fft, config.n_mels, config.fmin, config.fmax)
        self.register_buffer("mel_basis", torch.from_numpy(basis), persistent=False)
        self.bands = mel_bands(basis)

    @torch.no_grad()
    def forward(self, waveforms: torch.Tensor) -> torch.Tensor:
        if waveforms.device.type == "cpu" and len(waveforms) > CPU_SLICE:
            # On a CPU the spectra of a whole batch (80 MB for 32 windows) fall out of the cache
            # and cost fresh pages each call; two windows at a time run about 3x faster.
            return torch.cat([self._mel(part) for part in waveforms.split(CPU_SLICE)])
        return self._mel(waveforms)

    def _mel(self, waveforms: torch.Tensor) -> torch.Tensor:
        config = self.config
        spectrum = torch.stft(
            waveforms,
            config.n_fft,
            config.hop_length,
            window=self.window,
            center=True,
            pad_mode="constant",
            return_complex=True,
        )
        power = spectrum.real**2 + spectrum.imag**2
        mel = torch.cat([self.mel_basis[r0:r1, b0:b1] @ power[..., b0:b1, :] for r0, r1, b0, b1 in self.bands], dim=-2)
        db = 10.0 * torch.log10(mel.clamp_min(1e-10))
        if config.normalization == "standardize":
            mean = db.mean(dim=(-2, -1), keepdim=True)
            std = db.std(dim=(-2, -1), keepdim=True)
            normalised = (db - mean) / (std + 1e-6)
        else:
            normalised = (db + 80.0) / 40.0
        return normalised.unsqueeze(1)

    def numpy(self, waveforms: np.ndarray) -> np.ndarray:
        """The same on numpy input (samples,) or (batch, samples); returns (batch, 1, mels, frames)."""
        batch = np.atleast_2d(waveforms).astype(np.float32, copy=False)
        with warnings.catch_warnings():
            # Inference passes read-only sliding-window views; the front end never writes to them.
            warnings.filterwarnings("ignore", message="The given NumPy array is not writable")
            tensor = torch.from_numpy(batch)
        return self(tensor).numpy()


def to_model_rate(samples: np.ndarray, sample_rate: int, config: FrontEndConfig | int) -> np.ndarray:
    """Mix to mono and resample to the front end's rate (or a rate given as a number), with the
    resampler the viewer uses (soxr). samples: (n,) or (n, channels)."""
    target = config if isinstance(config, int) else config.sample_rate
    if samples.ndim == 2:
        samples = samples.mean(axis=1)
    samples = samples.astype(np.float32, copy=False)
    if sample_rate != target:
        samples = soxr.resample(samples, sample_rate, target).astype(np.float32)
    return samples
