"""``pseudo-label``: a model's scores on unlabelled recordings, written as a BirdCLEF-layout folder.

Each selected window becomes a clip of its own (the context the model saw, at the model's rate,
FLAC) under ``train_audio/<species>/``, listed in ``train_metadata.csv`` with ``fold`` -1 (always
in training). Hard targets (``--threshold``): the classes scored at or above it, windows with none
left out. Soft targets (``--soft``): every window, with each class's probability raised to
``--power`` in ``soft_labels``. ``pseudo_labels.json`` names the model's classes and front end,
which ``fit`` checks against its own before reading the folder.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import soundfile as sf

from trainer.data.dataset import read_segment
from trainer.data.layout import AUDIO_FOLDER, METADATA_FILE
from trainer.data.metadata import DatasetError, TrainingSet, load_training_set
from trainer.data.safe_names import child_path, safe_name
from trainer.frontend import FrontEndConfig, to_model_rate
from trainer.inference import Scorer, TorchScorer, expand_audio, predict

PSEUDO_FILE = "pseudo_labels.json"
NEGATIVE_FOLDER = "background"
#: Soft targets below this are left out of ``soft_labels`` (they read back as 0).
SOFT_FLOOR = 1e-3


class PseudoLabelError(ValueError):
    """Nothing to pseudo-label, or pseudo-labels that do not fit the run."""


@dataclass
class PseudoLabels:
    folder: Path
    windows_scored: int
    windows_kept: int
    per_class: dict[str, int]


def _check_scorers(scorers: Sequence[Scorer]) -> None:
    first = scorers[0]
    for scorer in scorers[1:]:
        if scorer.classes != first.classes:
            raise PseudoLabelError(f"{scorer.name}: its class list differs from {first.name}'s; cannot ensemble")
        if scorer.frontend != first.frontend:
            raise PseudoLabelError(f"{scorer.name}: its front end differs from {first.name}'s; cannot ensemble")


def targets_of(
    probabilities: np.ndarray, threshold: float, soft: bool, power: float, max_share: float = 1.0
) -> tuple[np.ndarray, np.ndarray]:
    """(targets, kept rows): hard: 1 where a probability reaches the threshold, rows with one;
    soft: probability ** power, every row. ``max_share`` < 1: a class is a hard target in at most
    that share of the windows, its highest-scored ones (a class the model calls everywhere, e.g.
    on the site's noise, is not taught back to it everywhere)."""
    if soft:
        return probabilities**power, np.arange(len(probabilities))
    hard = (probabilities >= threshold).astype(np.float32)
    if max_share < 1:
        allowed = max(1, int(np.ceil(max_share * len(probabilities))))
        ranks = np.argsort(np.argsort(-probabilities, axis=0, kind="stable"), axis=0)
        hard[ranks >= allowed] = 0
    return hard, np.flatnonzero(hard.any(axis=1))


def pseudo_label(
    checkpoints: Sequence[str | Path],
    audio: Sequence[str | Path],
    out: str | Path,
    threshold: float = 0.5,
    soft: bool = False,
    power: float = 1.0,
    batch_size: int = 32,
    skip_bad: bool = False,
    on_file: Callable[[int, int, Path], None] | None = None,
    max_share: float = 1.0,
) -> PseudoLabels:
    """Score ``audio`` (files or folders) with the checkpoints (several: their mean) and write the
    selected windows to ``out``. A PseudoLabelError when there is nothing to score or (hard
    targets) no window reaches the threshold."""
    if not 0 < threshold < 1:
        raise PseudoLabelError(f"--threshold must be between 0 and 1, not {threshold}")
    if power <= 0:
        raise PseudoLabelError(f"--power must be above 0, not {power}")
    if not 0 < max_share <= 1:
        raise PseudoLabelError(f"--max-share must be in (0, 1], not {max_share}")
    if not checkpoints:
        raise PseudoLabelError("no model given: pass --checkpoint CKPT")
    scorers = [TorchScorer(path) for path in checkpoints]
    _check_scorers(scorers)
    paths = expand_audio(audio)
    if not paths:
        raise PseudoLabelError("no recordings given: pass --audio DIR")
    table, skipped = predict(paths, scorers, batch_size, skip_bad=skip_bad, on_file=on_file)
    if table.empty:
        raise PseudoLabelError(f"nothing was scored: all {len(paths)} file(s) were skipped ({'; '.join(skipped)})")
    classes, frontend = scorers[0].classes, scorers[0].frontend
    targets, kept = targets_of(table[classes].to_numpy(np.float64), threshold, soft, power, max_share)
    if len(kept) == 0:
        best = float(table[classes].to_numpy().max())
        raise PseudoLabelError(
            f"no window of the {len(table)} scored in {len(paths)} recording(s) has a score at or above "
            f"{threshold} (the highest is {best:.3f}): lower --threshold, or use --soft"
        )
    out = Path(out)
    rows = _write_windows(table, targets, kept, classes, frontend, out, soft)
    per_class = dict(zip(classes, (targets[kept] >= 0.5).sum(axis=0).astype(int).tolist(), strict=True))
    _write_metadata(out, rows)
    summary = {
        "classes": list(classes),
        "frontend": frontend.as_dict(),
        "checkpoints": [str(Path(c).absolute()) for c in checkpoints],
        "threshold": threshold,
        "soft": soft,
        "power": power,
        "max_share": max_share,
        "windows_scored": len(table),
        "windows_kept": len(kept),
        "per_class": per_class,
        "skipped": skipped,
    }
    (out / PSEUDO_FILE).write_text(json.dumps(summary, indent=2), encoding="utf-8")
    return PseudoLabels(out, len(table), len(kept), per_class)


def _window_audio(path: Path, start_s: float, frontend: FrontEndConfig) -> np.ndarray:
    """The context the model saw for the window starting at ``start_s``, at the model's rate."""
    info = sf.info(str(path))
    begin = start_s - (frontend.context_s - frontend.window_s) / 2
    count = int(np.ceil(frontend.context_s * info.samplerate))
    samples, rate = read_segment(path, round(begin * info.samplerate), count)
    wave = to_model_rate(samples, rate, frontend)
    return np.pad(wave, (0, max(0, frontend.context_samples - len(wave))))[: frontend.context_samples]


def _write_windows(
    table: pd.DataFrame,
    targets: np.ndarray,
    kept: np.ndarray,
    classes: list[str],
    frontend: FrontEndConfig,
    out: Path,
    soft: bool,
) -> list[list[str]]:
    audio_root = out / AUDIO_FOLDER
    rows = []
    for row in kept:
        window = table.iloc[int(row)]
        order = np.argsort(-targets[row])
        positive = [classes[k] for k in order if targets[row, k] >= 0.5]
        primary = positive[0] if positive else ""
        folder = primary or NEGATIVE_FOLDER
        source = Path(window["file"])
        name = f"{safe_name(source.stem)}_{safe_name(str(window['row_id']).rsplit('_', 1)[-1])}.flac"
        path = child_path(audio_root, folder, name)
        path.parent.mkdir(parents=True, exist_ok=True)
        sf.write(path, _window_audio(source, float(window["start_s"]), frontend), frontend.sample_rate)
        soft_labels = {classes[k]: round(float(targets[row, k]), 4) for k in order if targets[row, k] >= SOFT_FLOOR}
        rows.append(
            [
                primary,
                repr(positive[1:]),
                path.relative_to(audio_root).as_posix(),
                repr(soft_labels) if soft else "",
                "-1",
                str(source),
                f"{float(window['start_s']):g}",
            ]
        )
    return rows


def _write_metadata(out: Path, rows: list[list[str]]) -> None:
    with open(out / METADATA_FILE, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(
            ["primary_label", "secondary_labels", "filename", "soft_labels", "fold", "source_file", "source_start_s"]
        )
        writer.writerows(rows)


def read_pseudo_labels(
    folder: str | Path, classes: list[str] | None, frontend: FrontEndConfig, weight: float = 1.0, skip_bad: bool = False
) -> TrainingSet:
    """A pseudo-label folder as training clips (fold -1, each weighing ``weight``), after checking
    that the model that made it had the run's classes and front end."""
    folder = Path(folder)
    summary_path = folder / PSEUDO_FILE
    if summary_path.exists():
        try:
            summary = json.loads(summary_path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise DatasetError(f"{summary_path}: not readable ({exc})") from None
        made_with = list(summary.get("classes", []))
        if classes is not None and made_with != list(classes):
            extra = sorted(set(made_with) - set(classes))
            missing = sorted(set(classes) - set(made_with))
            detail = f"; it has {extra[:5]} the run lacks" if extra else ""
            detail += f"; it lacks {missing[:5]}" if missing else ""
            raise DatasetError(
                f"{folder}: pseudo-labels made by a model with other classes ({len(made_with)} against the run's "
                f"{len(classes)}{detail or '; in another order'}); make them again with a model of this class list"
            )
        theirs = FrontEndConfig.from_dict(summary.get("frontend", {}))
        if theirs != frontend:
            differ = [key for key, value in frontend.as_dict().items() if theirs.as_dict().get(key) != value]
            raise DatasetError(
                f"{folder}: pseudo-labels made with another front end ({', '.join(differ)} differ from the run's); "
                "make them again with a model of this front end"
            )
    pseudo = load_training_set(folder, classes, skip_bad=skip_bad)
    for clip in pseudo.clips:
        clip.fold = -1
        clip.weight *= weight
    return pseudo
