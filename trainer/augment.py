"""Augmentations, each with its own probability (see :class:`AugmentConfig`).

Waveform: gain, background noise, time shift, mixup (Beta(alpha, alpha)). Spectrogram:
time/frequency masking (albumentations XYMasking), cutout (albumentations CoarseDropout), and
spec mixup on the batch.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import TYPE_CHECKING

import numpy as np
import torch

if TYPE_CHECKING:
    import albumentations as A  # noqa: N812


@dataclass(frozen=True)
class AugmentConfig:
    mixup_p: float = 0.5
    mixup_alpha: float = 0.4
    gain_p: float = 0.5
    gain_db: float = 6.0
    noise_p: float = 0.3
    noise_snr_db: tuple[float, float] = (10.0, 30.0)
    shift_p: float = 0.5
    shift_max_s: float = 1.0
    xy_mask_p: float = 0.5
    cutout_p: float = 0.3
    spec_mixup_p: float = 0.0
    spec_mixup_alpha: float = 0.4
    #: Excerpts of unlabelled recordings (``fit --background-dir``) mixed in, at an SNR drawn from the range.
    background_p: float = 0.5
    background_snr_db: tuple[float, float] = (0.0, 20.0)

    def as_dict(self) -> dict:
        values = asdict(self)
        values["noise_snr_db"] = list(self.noise_snr_db)
        values["background_snr_db"] = list(self.background_snr_db)
        return values

    @classmethod
    def from_dict(cls, values: dict) -> AugmentConfig:
        known = {f.name for f in fields(cls)}
        clean = {k: v for k, v in values.items() if k in known}
        for key in ("noise_snr_db", "background_snr_db"):
            if key in clean:
                clean[key] = tuple(clean[key])
        return cls(**clean)

    @classmethod
    def none(cls) -> AugmentConfig:
        return cls(mixup_p=0, gain_p=0, noise_p=0, shift_p=0, xy_mask_p=0, cutout_p=0, spec_mixup_p=0, background_p=0)


def random_gain(wave: np.ndarray, max_db: float, rng: np.random.Generator) -> np.ndarray:
    return wave * np.float32(10 ** (rng.uniform(-max_db, max_db) / 20))


def add_noise(wave: np.ndarray, snr_db: tuple[float, float], rng: np.random.Generator) -> np.ndarray:
    """Pink-ish (1/f) background noise at a random signal-to-noise ratio."""
    power = float(np.mean(wave**2))
    if power <= 0:
        power = 1e-6
    white = rng.standard_normal(len(wave))
    spectrum = np.fft.rfft(white)
    spectrum /= np.sqrt(np.maximum(np.arange(len(spectrum)), 1))
    noise = np.fft.irfft(spectrum, len(wave))
    noise /= np.sqrt(np.mean(noise**2)) + 1e-12
    snr = rng.uniform(*snr_db)
    return (wave + noise * np.sqrt(power / 10 ** (snr / 10))).astype(np.float32)


def mix_background(
    wave: np.ndarray, excerpt: np.ndarray, snr_db: tuple[float, float], rng: np.random.Generator
) -> np.ndarray:
    """``wave`` with ``excerpt`` (a piece of another recording, as long) added at a signal-to-
    background ratio drawn from ``snr_db``; a silent excerpt leaves the wave as it is, and a
    silent wave gets the excerpt at its own level."""
    background = float(np.mean(excerpt.astype(np.float64) ** 2))
    if background <= 0:
        return wave
    power = float(np.mean(wave.astype(np.float64) ** 2))
    scale = np.sqrt(power / (background * 10 ** (rng.uniform(*snr_db) / 10))) if power > 0 else 1.0
    return (wave + excerpt * scale).astype(np.float32)


def time_shift(wave: np.ndarray, max_samples: int, rng: np.random.Generator) -> np.ndarray:
    return np.roll(wave, int(rng.integers(-max_samples, max_samples + 1)))


def mixup_pair(
    a: np.ndarray,
    ya: np.ndarray,
    b: np.ndarray,
    yb: np.ndarray,
    alpha: float,
    rng: np.random.Generator,
    weights: tuple[float, float] | None = None,
) -> tuple[np.ndarray, ...]:
    """``lam * a + (1 - lam) * b`` and the same mix of their targets; with ``weights`` (the two
    clips' loss weights, e.g. a pseudo-label's below a label's), also the same mix of those."""
    lam = float(rng.beta(alpha, alpha))
    mixed = (lam * a + (1 - lam) * b).astype(np.float32), (lam * ya + (1 - lam) * yb).astype(np.float32)
    if weights is None:
        return mixed
    return (*mixed, lam * weights[0] + (1 - lam) * weights[1])


def spectrogram_transform(config: AugmentConfig, n_mels: int, frames: int) -> A.Compose:
    import albumentations as A  # noqa: N812 - the name its docs use; imported when training starts

    return A.Compose(
        [
            A.XYMasking(
                num_masks_x=(1, 3),
                num_masks_y=(1, 3),
                mask_x_length=(max(1, frames // 40), max(2, frames // 10)),
                mask_y_length=(max(1, n_mels // 32), max(2, n_mels // 8)),
                fill=0,
                p=config.xy_mask_p,
            ),
            A.CoarseDropout(
                num_holes_range=(1, 4),
                hole_height_range=(0.05, 0.2),
                hole_width_range=(0.05, 0.2),
                fill=0,
                p=config.cutout_p,
            ),
        ]
    )


def spec_mixup(
    mels: torch.Tensor, targets: torch.Tensor, alpha: float, weights: torch.Tensor | None = None
) -> tuple[torch.Tensor, ...]:
    """Mix each example of the batch with another one (a random permutation); with ``weights``
    (per-example loss weights), those are mixed alike and returned third."""
    lam = float(torch.distributions.Beta(alpha, alpha).sample())
    order = torch.randperm(mels.shape[0], device=mels.device)
    mixed = lam * mels + (1 - lam) * mels[order], lam * targets + (1 - lam) * targets[order]
    if weights is None:
        return mixed
    return (*mixed, lam * weights + (1 - lam) * weights[order])
