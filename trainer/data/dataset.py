"""Clips to model inputs: crop, waveform augmentation, the shared mel front end, spec augmentation."""

from __future__ import annotations

import logging
import threading
from typing import Protocol

import numpy as np
import soundfile as sf
import torch
from torch.utils.data import Dataset

from trainer.augment import (
    AugmentConfig,
    add_noise,
    mix_background,
    mixup_pair,
    random_gain,
    spectrogram_transform,
    time_shift,
)
from trainer.data.metadata import Clip, DatasetError, TrainingSet
from trainer.frontend import FrontEndConfig, MelFrontEnd, to_model_rate

log = logging.getLogger(__name__)


class Background(Protocol):
    """Excerpts of unlabelled recordings (trainer.data.background.BackgroundSource)."""

    def excerpt(self, n_samples: int, rng: np.random.Generator) -> np.ndarray: ...


def read_segment(path, start_frame: int, n_frames: int) -> tuple[np.ndarray, int]:
    """Samples [start_frame, start_frame + n_frames) of a file at its own rate, zero-padded, mono."""
    with sf.SoundFile(str(path)) as handle:
        rate = handle.samplerate
        out = np.zeros(n_frames, dtype=np.float32)
        first = max(0, start_frame)
        last = min(handle.frames, start_frame + n_frames)
        if last > first:
            handle.seek(first)
            if handle.channels == 1:
                target = out[first - start_frame : last - start_frame]
                handle.read(last - first, dtype="float32", out=target)
            else:
                block = handle.read(last - first, dtype="float32", always_2d=True).mean(axis=1)
                out[first - start_frame : first - start_frame + len(block)] = block
    return out, rate


class ClipDataset(Dataset):
    """Training (random crop, augmented) or validation (fixed crop: the first scored window) examples.

    Items are (mel, target); with ``weights`` (each clip's weight in the loss) (mel, target, weight).
    ``background``: excerpts of unlabelled recordings mixed into training clips."""

    def __init__(
        self,
        clips: list[Clip],
        targets: np.ndarray,
        frontend: FrontEndConfig,
        train: bool,
        augment: AugmentConfig | None = None,
        skip_bad: bool = False,
        seed: int = 0,
        weights: np.ndarray | None = None,
        background: Background | None = None,
    ) -> None:
        self.clips = clips
        self.weights = weights
        self.background = background if train else None
        self.targets = targets
        self.config = frontend
        self.train = train
        self.augment = augment if (augment is not None and train) else AugmentConfig.none()
        self.skip_bad = skip_bad
        self.seed = seed
        self._frontend: MelFrontEnd | None = None
        self._spec_transform = spectrogram_transform(self.augment, frontend.n_mels, frontend.frames)
        self._info: dict[str, tuple[int, int]] = {}
        self._lock = threading.Lock()
        self.bad: list[str] = []

    def __len__(self) -> int:
        return len(self.clips)

    def _rng(self) -> np.random.Generator:
        # Drawn from torch's generator, which the run's --seed sets (and PyTorch seeds per
        # DataLoader worker), so a seeded run crops and augments the same way every time.
        return np.random.default_rng(int(torch.randint(0, 2**31 - 1, (1,))))

    def _file_info(self, clip: Clip) -> tuple[int, int]:
        key = str(clip.path)
        with self._lock:
            if key not in self._info:
                info = sf.info(key)
                self._info[key] = (int(info.frames), int(info.samplerate))
            return self._info[key]

    def crop(self, index: int, rng: np.random.Generator | None) -> np.ndarray:
        """The context-length waveform (at the model's rate) for clip ``index``."""
        clip = self.clips[index]
        try:
            frames, rate = self._file_info(clip)
            region_start = int((clip.start_s or 0.0) * rate)
            region_end = min(frames, int(clip.end_s * rate)) if clip.end_s is not None else frames
            context = round(self.config.context_s * rate)
            if rng is not None:
                latest = max(region_start, region_end - context)
                offset = int(rng.integers(region_start, latest + 1))
            else:
                centre = region_start + int(self.config.window_s * rate / 2)
                offset = centre - context // 2
            samples, rate = read_segment(clip.path, offset, context)
        except (sf.LibsndfileError, RuntimeError, OSError) as exc:
            raise DatasetError(f"line {clip.line}: audio file {clip.path} cannot be read ({exc})") from None
        wave = to_model_rate(samples, rate, self.config)
        n = self.config.context_samples
        return np.pad(wave, (0, max(0, n - len(wave))))[:n]

    def __getitem__(self, index: int) -> tuple[torch.Tensor, ...]:
        rng = self._rng() if self.train else None
        try:
            wave = self.crop(index, rng)
        except DatasetError as exc:
            if not self.skip_bad:
                raise
            self.bad.append(str(exc))
            log.warning("skipping: %s", exc)
            return self[int(self._rng().integers(len(self)))]
        target = self.targets[index].copy()
        weight = None if self.weights is None else float(self.weights[index])
        if self.train:
            wave, target, weight = self._augment_wave(wave, target, weight, rng)
        if self._frontend is None:
            self._frontend = MelFrontEnd(self.config)
        mel = self._frontend.numpy(wave)[0, 0]
        if self.train:
            self._spec_transform.set_random_seed(int(rng.integers(2**31 - 1)))  # albumentations keeps its own
            mel = self._spec_transform(image=mel)["image"]
        item = torch.from_numpy(np.ascontiguousarray(mel[None], dtype=np.float32)), torch.from_numpy(target)
        if weight is None:
            return item
        return (*item, torch.tensor(weight, dtype=torch.float32))

    def _augment_wave(
        self, wave: np.ndarray, target: np.ndarray, weight: float | None, rng: np.random.Generator
    ) -> tuple[np.ndarray, np.ndarray, float | None]:
        """The clip's augmented wave and target, and its loss weight (mixed as its target is)."""
        aug = self.augment
        if aug.mixup_p and rng.random() < aug.mixup_p and len(self) > 1:
            other = int(rng.integers(len(self)))
            try:
                other_wave, other_target = self.crop(other, rng), self.targets[other]
                if weight is None:
                    wave, target = mixup_pair(wave, target, other_wave, other_target, aug.mixup_alpha, rng)
                else:
                    pair = (weight, float(self.weights[other]))
                    wave, target, weight = mixup_pair(
                        wave, target, other_wave, other_target, aug.mixup_alpha, rng, pair
                    )
            except DatasetError:
                if not self.skip_bad:
                    raise
        if self.background is not None and aug.background_p and rng.random() < aug.background_p:
            wave = mix_background(wave, self.background.excerpt(len(wave), rng), aug.background_snr_db, rng)
        if aug.gain_p and rng.random() < aug.gain_p:
            wave = random_gain(wave, aug.gain_db, rng)
        if aug.noise_p and rng.random() < aug.noise_p:
            wave = add_noise(wave, aug.noise_snr_db, rng)
        if aug.shift_p and rng.random() < aug.shift_p:
            wave = time_shift(wave, int(aug.shift_max_s * self.config.sample_rate), rng)
        return wave, target, weight


def split_datasets(
    training_set: TrainingSet,
    frontend: FrontEndConfig,
    augment: AugmentConfig,
    fold: int = 0,
    n_folds: int = 5,
    secondary_coef: float = 1.0,
    skip_bad: bool = False,
    seed: int = 42,
    background: Background | None = None,
) -> tuple[ClipDataset, ClipDataset]:
    """(training, validation) datasets: fold ``fold`` of ``n_folds`` is the validation set."""
    targets = training_set.targets(secondary_coef)
    folds = training_set.folds(n_folds, seed)
    if not (folds == fold).any():
        raise DatasetError(
            f"{training_set.root}: fold {fold} has no clips; with {len(training_set.clips)} clips use "
            f"fewer folds (--folds) or more data per species"
        )
    train_rows = np.flatnonzero(folds != fold)
    valid_rows = np.flatnonzero(folds == fold)
    clips = training_set.clips
    weights = training_set.weights()[train_rows]
    train_set = ClipDataset(
        [clips[i] for i in train_rows],
        targets[train_rows],
        frontend,
        True,
        augment,
        skip_bad,
        seed,
        weights=None if np.all(weights == 1) else weights,
        background=background,
    )
    valid_set = ClipDataset([clips[i] for i in valid_rows], targets[valid_rows], frontend, False, skip_bad=skip_bad)
    return train_set, valid_set
