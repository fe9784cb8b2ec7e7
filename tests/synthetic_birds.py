"""A generated BirdCLEF-layout dataset: a few "species" with distinct call shapes in noise.

Used by the trainer tests and benchmarks; small enough to train on in seconds.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import soundfile as sf

RATE = 32000
SPECIES = ("upsweep", "downsweep", "pulses", "whistle")


def _call(kind: str, rng: np.random.Generator) -> np.ndarray:
    if kind == "upsweep":
        t = np.arange(int(0.35 * RATE)) / RATE
        f0, f1 = 2000 * rng.uniform(0.9, 1.1), 5000 * rng.uniform(0.9, 1.1)
        phase = 2 * np.pi * (f0 * t + (f1 - f0) * t**2 / (2 * t[-1]))
    elif kind == "downsweep":
        t = np.arange(int(0.3 * RATE)) / RATE
        f0, f1 = 8000 * rng.uniform(0.95, 1.05), 5500 * rng.uniform(0.95, 1.05)
        phase = 2 * np.pi * (f0 * t + (f1 - f0) * t**2 / (2 * t[-1]))
    elif kind == "pulses":
        t = np.arange(int(0.5 * RATE)) / RATE
        gate = (np.sin(2 * np.pi * 12 * t) > 0.6).astype(float)
        return np.sin(2 * np.pi * 3200 * rng.uniform(0.95, 1.05) * t) * gate
    elif kind == "whistle":
        t = np.arange(int(0.5 * RATE)) / RATE
        phase = 2 * np.pi * (10500 * rng.uniform(0.97, 1.03) * t + 30 * np.sin(2 * np.pi * 6 * t))
    elif kind == "distractor":  # a broadband click train, e.g. rain on the microphone
        t = np.arange(int(0.4 * RATE)) / RATE
        clicks = np.zeros_like(t)
        clicks[:: RATE // 40] = 1.0
        return np.convolve(clicks, rng.standard_normal(64), mode="same")
    else:
        raise ValueError(kind)
    envelope = np.hanning(len(t))
    return np.sin(phase) * envelope


def background(n: int, rng: np.random.Generator, level: float = 0.01) -> np.ndarray:
    spectrum = np.fft.rfft(rng.standard_normal(n))
    spectrum /= np.sqrt(np.maximum(np.arange(len(spectrum)), 1)) ** 0.5
    noise = np.fft.irfft(spectrum, n)
    return noise / noise.std() * level


def recording(
    duration_s: float, calls: list[tuple[float, str]], rng: np.random.Generator, call_level: float = 0.2
) -> np.ndarray:
    audio = background(int(duration_s * RATE), rng)
    for at_s, kind in calls:
        call = _call(kind, rng) * call_level * rng.uniform(0.6, 1.0)
        start = int(at_s * RATE)
        end = min(len(audio), start + len(call))
        audio[start:end] += call[: end - start]
    return audio.astype(np.float32)


def write_audio(path: Path, audio: np.ndarray) -> Path:
    """Any format soundfile knows; in blocks, as libsndfile's Vorbis encoder crashes on large writes."""
    with sf.SoundFile(path, "w", RATE, 1) as out:
        for start in range(0, len(audio), RATE):
            out.write(audio[start : start + RATE])
    return path


def make_dataset(
    root: Path,
    clips_per_species: int = 10,
    negatives: int = 6,
    seed: int = 0,
    duration_s: float = 6.0,
    call_level: float = 0.2,
) -> Path:
    """root/train_metadata.csv and root/train_audio/<label>/<file>.ogg; returns root."""
    rng = np.random.default_rng(seed)
    rows = []
    for species in SPECIES:
        folder = root / "train_audio" / species
        folder.mkdir(parents=True, exist_ok=True)
        for i in range(clips_per_species):
            times = sorted(rng.uniform(0.1, duration_s - 0.6, size=int(rng.integers(3, 6))))
            audio = recording(duration_s, [(t, species) for t in times], rng, call_level)
            name = f"XC{seed}{SPECIES.index(species)}{i:03d}.ogg"
            write_audio(folder / name, audio)
            rows.append([species, "[]", "call", f"{species}/{name}", str(rng.integers(3, 6))])
    folder = root / "train_audio" / "background"
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(negatives):
        audio = recording(duration_s, [], rng)
        name = f"NEG{seed}{i:03d}.ogg"
        write_audio(folder / name, audio)
        rows.append(["", "[]", "", f"background/{name}", "5"])
    with open(root / "train_metadata.csv", "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["primary_label", "secondary_labels", "type", "filename", "rating"])
        writer.writerows(rows)
    return root


def soundscape(path: Path, duration_s: float, calls: list[tuple[float, str]], seed: int = 1) -> Path:
    return write_audio(path, recording(duration_s, calls, np.random.default_rng(seed)))
