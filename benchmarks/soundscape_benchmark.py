"""Clips → soundscapes: how much background mixing, pseudo-label rounds and checkpoint averaging
add to a model trained on labelled clips, scored on held-out soundscapes of the same 'site'.

    python benchmarks/soundscape_benchmark.py [--out benchmarks/data/soundscapes] [--epochs 8]

Its own generator (not the tests'): six species with distinct calls, labelled focal clips
(loud calls over white-ish hiss), and soundscapes of a site with another background (wind
rumble, rain clicks, an insect-like stridulation) where calls are quieter and overlap. The
unlabelled soundscapes and the held-out ones (truth per 5 s window) come from that site.
Every model is trained from scratch (no pretrained weights); each row is scored by macro
ROC-AUC over the held-out windows (``birdview-train evaluate`` on windows = the sliding-window
scores) and timed.
"""

from __future__ import annotations

import argparse
import csv
import json
import logging
import sys
import time
import warnings
from dataclasses import replace
from pathlib import Path

import numpy as np
import soundfile as sf
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from trainer.config import TrainConfig
from trainer.evaluate import evaluate
from trainer.frontend import FrontEndConfig
from trainer.rounds import fit_rounds
from trainer.train import fit

RATE = 16000
SPECIES = ("trill", "twonote", "buzz", "warble", "hoot", "chip")
WINDOW_S = 5.0


def _call(kind: str, rng: np.random.Generator) -> np.ndarray:
    """One call of a species, at unit peak."""
    if kind == "trill":  # fast frequency-modulated notes around 4 kHz
        t = np.arange(int(0.6 * RATE)) / RATE
        f = 4000 * rng.uniform(0.93, 1.07) + 600 * np.sign(np.sin(2 * np.pi * 18 * t))
        wave = np.sin(2 * np.pi * np.cumsum(f) / RATE)
    elif kind == "twonote":  # a high note then a low one
        t = np.arange(int(0.18 * RATE)) / RATE
        high, low = 5200 * rng.uniform(0.95, 1.05), 3600 * rng.uniform(0.95, 1.05)
        gap = np.zeros(int(0.06 * RATE))
        wave = np.concatenate(
            [np.sin(2 * np.pi * high * t) * np.hanning(len(t)), gap, np.sin(2 * np.pi * low * t) * np.hanning(len(t))]
        )
        return wave
    elif kind == "buzz":  # a harmonic buzz at 120 Hz spacing from 2 kHz
        t = np.arange(int(0.5 * RATE)) / RATE
        base = 2000 * rng.uniform(0.95, 1.05)
        wave = sum(np.sin(2 * np.pi * (base + 120 * k) * t) / (1 + k) for k in range(8))
    elif kind == "warble":  # slow wandering pitch 2.5-3.5 kHz
        t = np.arange(int(0.8 * RATE)) / RATE
        f = 3000 * rng.uniform(0.95, 1.05) + 500 * np.sin(2 * np.pi * 3 * t + rng.uniform(0, 6))
        wave = np.sin(2 * np.pi * np.cumsum(f) / RATE)
    elif kind == "hoot":  # a low tone
        t = np.arange(int(0.45 * RATE)) / RATE
        wave = np.sin(2 * np.pi * 900 * rng.uniform(0.95, 1.05) * t)
    elif kind == "chip":  # a short falling sweep 7 → 5 kHz
        t = np.arange(int(0.08 * RATE)) / RATE
        f0, f1 = 7000 * rng.uniform(0.97, 1.03), 5000
        wave = np.sin(2 * np.pi * (f0 * t + (f1 - f0) * t**2 / (2 * t[-1])))
        return wave * np.hanning(len(t))
    else:
        raise ValueError(kind)
    return wave * np.hanning(len(wave)) / max(1e-9, np.abs(wave).max())


def _coloured(n: int, rng: np.random.Generator, slope: float) -> np.ndarray:
    spectrum = np.fft.rfft(rng.standard_normal(n))
    spectrum /= np.maximum(np.arange(len(spectrum)), 1) ** slope
    noise = np.fft.irfft(spectrum, n)
    return noise / (noise.std() + 1e-12)


def _site_background(n: int, rng: np.random.Generator) -> np.ndarray:
    """The site: wind rumble, occasional rain clicks and an insect stridulating at 6–6.5 kHz."""
    audio = _coloured(n, rng, 1.0) * 0.03
    clicks = np.zeros(n)
    clicks[rng.integers(0, n, size=n // RATE * 6)] = rng.uniform(0.05, 0.2, size=n // RATE * 6)
    audio += np.convolve(clicks, rng.standard_normal(48), mode="same")
    t = np.arange(n) / RATE
    insect = np.sin(2 * np.pi * 6200 * t) * (np.sin(2 * np.pi * 30 * t) > 0.3)
    audio += 0.03 * insect * (0.5 + 0.5 * np.sin(2 * np.pi * t / rng.uniform(20, 40)))
    return audio


def _place(audio: np.ndarray, call: np.ndarray, at: int) -> None:
    end = min(len(audio), at + len(call))
    audio[at:end] += call[: end - at]


def _write(path: Path, audio: np.ndarray) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, np.clip(audio, -1, 1).astype(np.float32), RATE, subtype="PCM_16")
    return path


def make_clips(root: Path, per_species: int, rng: np.random.Generator) -> Path:
    """Focal recordings: 5 s, 2–4 loud calls of one species over hiss (another recorder, another place)."""
    rows = []
    for species in SPECIES:
        for i in range(per_species):
            audio = _coloured(int(WINDOW_S * RATE), rng, 0.2) * 0.01
            for at in rng.uniform(0.0, WINDOW_S - 0.9, size=int(rng.integers(2, 5))):
                _place(audio, _call(species, rng) * rng.uniform(0.3, 0.6), int(at * RATE))
            _write(root / "train_audio" / species / f"{species}{i:03d}.wav", audio)
            rows.append([species, "[]", f"{species}/{species}{i:03d}.wav"])
    with open(root / "train_metadata.csv", "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["primary_label", "secondary_labels", "filename"])
        writer.writerows(rows)
    return root


def make_soundscape(duration_s: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """A site recording and its truth (windows × species): bouts of calls, quieter, overlapping."""
    n = int(duration_s * RATE)
    audio = _site_background(n, rng)
    windows = int(duration_s // WINDOW_S)
    truth = np.zeros((windows, len(SPECIES)), dtype=np.float32)
    for _ in range(int(duration_s / 12)):  # bouts
        k = int(rng.integers(len(SPECIES)))
        start = rng.uniform(0, duration_s - 2)
        for at in start + np.cumsum(rng.uniform(0.4, 1.5, size=int(rng.integers(1, 4)))):
            if at >= duration_s - 0.9:
                break
            _place(audio, _call(SPECIES[k], rng) * rng.uniform(0.08, 0.25), int(at * RATE))
            truth[min(windows - 1, int(at // WINDOW_S)), k] = 1
    return audio, truth


def make_site(root: Path, unlabelled: int, heldout: int, duration_s: float, rng: np.random.Generator) -> None:
    for i in range(unlabelled):
        _write(root / "unlabelled" / f"site_u{i:02d}.wav", make_soundscape(duration_s, rng)[0])
    rows = []
    for i in range(heldout):
        audio, truth = make_soundscape(duration_s, rng)
        name = f"site_h{i:02d}.wav"
        _write(root / "heldout" / "train_audio" / name, audio)
        for w, labels in enumerate(truth):
            present = [SPECIES[k] for k in np.flatnonzero(labels)]
            rows.append([present[0] if present else "", repr(present[1:]), name, w * WINDOW_S, (w + 1) * WINDOW_S])
    with open(root / "heldout" / "train_metadata.csv", "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["primary_label", "secondary_labels", "filename", "start", "end"])
        writer.writerows(rows)


def heldout_auc(checkpoint: Path, heldout: Path) -> float:
    return float(evaluate(str(checkpoint), str(heldout))[0]["roc_auc"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default="benchmarks/data/soundscapes")
    parser.add_argument("--clips", type=int, default=15, help="labelled clips per species")
    parser.add_argument("--unlabelled", type=int, default=10, help="unlabelled soundscapes")
    parser.add_argument("--heldout", type=int, default=10, help="held-out soundscapes")
    parser.add_argument("--duration", type=float, default=60.0, help="seconds of each soundscape")
    parser.add_argument("--epochs", type=int, default=12)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threshold", type=float, default=0.5)
    parser.add_argument("--max-share", type=float, default=0.25, help="pseudo-labels: a class in at most this share")
    parser.add_argument("--backbone", default="test_efficientnet")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0, help="the data's seed, and the first training seed")
    parser.add_argument("--seeds", type=int, default=3, help="training seeds: each setting is run with each")
    args = parser.parse_args()
    logging.getLogger("pytorch_lightning").setLevel(logging.ERROR)
    logging.getLogger("lightning.pytorch").setLevel(logging.ERROR)
    warnings.filterwarnings("ignore")
    torch.set_num_threads(args.threads)

    out = Path(args.out)
    rng = np.random.default_rng(args.seed)
    make_clips(out / "clips", args.clips, rng)
    make_site(out, args.unlabelled, args.heldout, args.duration, rng)

    rows: list[dict] = []
    for seed in range(args.seed, args.seed + args.seeds):
        rows.extend(run_seed(args, out, seed))
    (out / "results.json").write_text(json.dumps(rows, indent=2))
    print_table(rows)


def run_seed(args: argparse.Namespace, out: Path, seed: int) -> list[dict]:
    """Every setting with one training seed (the data stay the same): a row each."""
    heldout = out / "heldout"
    runs = out / "runs" / f"seed{seed}"
    frontend = FrontEndConfig(sample_rate=RATE, n_fft=512, hop_length=512, n_mels=48, fmin=300.0, fmax=8000.0)
    base = TrainConfig(
        data=str(out / "clips"),
        out=str(runs / "plain"),
        species="from-data",
        epochs=args.epochs,
        patience=args.epochs,
        batch_size=8,
        lr=5e-3,
        backbone=args.backbone,
        pretrained=False,
        folds=5,
        progress="none",
        seed=seed,
        frontend=frontend,
    )
    rows: list[dict] = []

    def record(name: str, seconds: float, checkpoint: Path | None = None, auc: float | None = None, **extra) -> None:
        auc = heldout_auc(checkpoint, heldout) if auc is None else auc
        rows.append({"seed": seed, "setting": name, "heldout_auc": auc, "seconds": seconds, **extra})
        print(json.dumps(rows[-1]), flush=True)

    started = time.perf_counter()
    plain = fit(base)
    record("plain fit", time.perf_counter() - started, plain.best_checkpoint)

    background = replace(
        base,
        out=str(runs / "rounds"),
        background_dir=str(out / "unlabelled"),
        rounds=args.rounds,
        eval_data=str(heldout),
        pseudo_threshold=args.threshold,
        pseudo_max_share=args.max_share,
    )
    _, records = fit_rounds(background)
    for r in records:
        name = "+ background mixing" if r.round == 0 else f"+ {r.round} pseudo-label round{'s' if r.round > 1 else ''}"
        record(name, r.seconds, auc=r.eval_roc_auc, windows_kept=r.windows_kept, windows_scored=r.windows_scored)

    last_pseudo = str(runs / "rounds" / f"round{args.rounds}" / "pseudo")
    for name, pseudo in (("background mixing", []), (f"round {args.rounds}'s data", [last_pseudo])):
        averaged = replace(
            background, out=str(runs / f"averaged{len(pseudo)}"), rounds=0, pseudo=pseudo, average_last=3
        )
        started = time.perf_counter()
        result = fit(averaged)
        record(f"+ averaging of the last 3 epochs ({name})", time.perf_counter() - started, result.best_checkpoint)
    return rows


def print_table(rows: list[dict]) -> None:
    """Per setting: the mean held-out macro ROC-AUC over the seeds, its range, the gain over plain
    fit (mean of the per-seed differences) and the mean training time."""
    settings = list(dict.fromkeys(row["setting"] for row in rows))
    plain = {row["seed"]: row["heldout_auc"] for row in rows if row["setting"] == settings[0]}
    print("\n| setting | held-out macro ROC-AUC, mean (range) | vs plain fit | training time |")
    print("|---|---|---|---|")
    for setting in settings:
        mine = [row for row in rows if row["setting"] == setting]
        aucs = np.array([row["heldout_auc"] for row in mine])
        gain = np.mean([row["heldout_auc"] - plain[row["seed"]] for row in mine])
        kept = [row["windows_kept"] for row in mine if row.get("windows_kept")]
        note = f" ({'/'.join(map(str, kept))} of {mine[0]['windows_scored']} windows)" if kept else ""
        seconds = np.mean([row["seconds"] for row in mine])
        spread = f"{aucs.mean():.3f} ({aucs.min():.3f}–{aucs.max():.3f})"
        print(f"| {setting}{note} | {spread} | {gain:+.3f} | {seconds:.0f} s |")


if __name__ == "__main__":
    main()
