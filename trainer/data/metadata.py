"""Reading and checking a BirdCLEF-layout training set.

``DIR/train_metadata.csv`` lists clips under ``DIR/train_audio/``: ``primary_label``,
``secondary_labels`` (a Python-list string), ``filename``, optional ``rating``, optional
``start``/``end`` seconds (a clip cut from a long recording), optional ``soft_labels`` (a
Python-dict string of species to targets in [0, 1], as pseudo-labels are written) and optional
``weight`` (the clip's share of the loss). An empty or ``background`` ``primary_label`` is a
hard negative (all-zero target, or its ``soft_labels``). Every problem names the file and line;
with ``skip_bad`` bad rows are left out and listed instead.
"""

from __future__ import annotations

import ast
import csv
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import soundfile as sf

from trainer.data.layout import AUDIO_FOLDER, METADATA_FILE

__all__ = ["AUDIO_FOLDER", "METADATA_FILE"]
NEGATIVE_LABELS = {"", "background", "nocall", "noise"}
REQUIRED_COLUMNS = ("primary_label", "filename")


class DatasetError(ValueError):
    """A problem in the training data; the message names the file and line."""


@dataclass
class Clip:
    path: Path
    primary: str | None  # None: hard negative
    secondary: list[str]
    rating: float | None
    start_s: float | None
    end_s: float | None
    line: int
    #: From an optional ``fold`` column: the validation fold chosen by whoever built the set
    #: (e.g. by recording, so that no recording is in both); -1 = always in training.
    fold: int | None = None
    #: Soft targets (species -> value in [0, 1]) that replace the labels' ones where given.
    soft: dict[str, float] | None = None
    #: The clip's weight in the loss.
    weight: float = 1.0

    @property
    def is_negative(self) -> bool:
        return self.primary is None


@dataclass
class TrainingSet:
    root: Path
    clips: list[Clip]
    classes: list[str]
    skipped: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def targets(self, secondary_coef: float = 1.0) -> np.ndarray:
        index = {name: i for i, name in enumerate(self.classes)}
        y = np.zeros((len(self.clips), len(self.classes)), dtype=np.float32)
        for row, clip in enumerate(self.clips):
            for name in clip.secondary:
                y[row, index[name]] = max(y[row, index[name]], secondary_coef)
            if clip.primary is not None:
                y[row, index[clip.primary]] = 1.0
            for name, value in (clip.soft or {}).items():
                y[row, index[name]] = value
        return y

    def weights(self) -> np.ndarray:
        return np.array([clip.weight for clip in self.clips], dtype=np.float32)

    def folds(self, n_folds: int = 5, seed: int = 42) -> np.ndarray:
        """Fold number of each clip: the ``fold`` column where the data has one; the clips
        without one stratified by primary label (hard negatives are a stratum). Pseudo-labels
        and background negatives have fold -1 (always in training)."""
        given = np.array([clip.fold if clip.fold is not None else -2 for clip in self.clips], dtype=int)
        open_rows = np.flatnonzero(given == -2)
        folds = np.where(given == -2, -1, given)
        if len(open_rows) == 0:
            return folds
        strata = np.array([self.clips[i].primary or "__negative__" for i in open_rows])
        counts = pd.Series(strata).value_counts()
        # Labels rarer than the number of folds cannot be spread; they go to training (fold -1).
        common = np.isin(strata, counts[counts >= n_folds].index)
        if common.sum() >= n_folds:
            from sklearn.model_selection import StratifiedKFold  # only where folds are drawn

            splitter = StratifiedKFold(n_splits=n_folds, shuffle=True, random_state=seed)
            rows = np.flatnonzero(common)
            for fold, (_, valid) in enumerate(splitter.split(rows, strata[common])):
                folds[open_rows[rows[valid]]] = fold
        return folds


def _parse_secondary(value: object, where: str) -> list[str]:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return []
    text = str(value).strip()
    if not text or text == "[]":
        return []
    try:
        parsed = ast.literal_eval(text)
    except (ValueError, SyntaxError):
        raise DatasetError(f"{where}: secondary_labels {text!r} is not a list like ['a', 'b']") from None
    if not isinstance(parsed, (list, tuple)):
        raise DatasetError(f"{where}: secondary_labels {text!r} is not a list like ['a', 'b']")
    return [str(x).strip() for x in parsed if str(x).strip()]


def _parse_soft(value: object, where: str) -> dict[str, float] | None:
    text = "" if value is None or (isinstance(value, float) and np.isnan(value)) else str(value).strip()
    if not text:
        return None
    try:
        parsed = ast.literal_eval(text)
    except (ValueError, SyntaxError):
        parsed = None
    if not isinstance(parsed, dict):
        raise DatasetError(f"{where}: soft_labels {text!r} is not a mapping like {{'a': 0.8}}")
    soft = {}
    for name, target in parsed.items():
        if not isinstance(target, (int, float)) or isinstance(target, bool) or not 0 <= target <= 1:
            raise DatasetError(f"{where}: soft_labels: the target of {name!r} is {target!r}, not a number in [0, 1]")
        soft[str(name).strip()] = float(target)
    return soft


def _optional_float(value: object, column: str, where: str) -> float | None:
    if value is None or (isinstance(value, float) and np.isnan(value)) or str(value).strip() == "":
        return None
    try:
        return float(value)
    except ValueError:
        raise DatasetError(f"{where}: {column} {value!r} is not a number") from None


def read_metadata_csv(csv_path: Path) -> pd.DataFrame:
    if not csv_path.exists():
        raise DatasetError(f"{csv_path}: not found (a BirdCLEF-layout folder has {METADATA_FILE})")
    try:
        frame = pd.read_csv(csv_path, dtype=str, keep_default_na=False)
    except pd.errors.ParserError as exc:
        raise DatasetError(f"{csv_path}: malformed CSV ({exc})") from None
    except (pd.errors.EmptyDataError, UnicodeDecodeError) as exc:
        raise DatasetError(f"{csv_path}: not a readable CSV ({exc})") from None
    missing = [c for c in REQUIRED_COLUMNS if c not in frame.columns]
    if missing:
        raise DatasetError(f"{csv_path}:1: missing column(s) {', '.join(missing)}; found {', '.join(frame.columns)}")
    _check_field_counts(csv_path, len(frame.columns))
    return frame


def _check_field_counts(csv_path: Path, expected: int) -> None:
    """pandas quietly pads short rows; a row with missing fields is an error naming its line."""
    with open(csv_path, newline="", encoding="utf-8") as handle:
        reader = csv.reader(handle)
        next(reader, None)
        for row in reader:
            if row and len(row) != expected:
                raise DatasetError(f"{csv_path}:{reader.line_num}: expected {expected} fields, found {len(row)}")


def load_training_set(
    root: str | Path,
    classes: list[str] | None = None,
    min_rating: float | None = None,
    skip_bad: bool = False,
    check_audio: bool = True,
) -> TrainingSet:
    """Read and check ``root``. ``classes`` None: the labels found in the data, sorted."""
    root = Path(root)
    csv_path = root / METADATA_FILE
    frame = read_metadata_csv(csv_path)
    has_rating = "rating" in frame.columns
    clips: list[Clip] = []
    skipped: list[str] = []
    known = set(classes) if classes is not None else None

    for row_index, row in enumerate(frame.to_dict("records")):
        line = row_index + 2
        where = f"{csv_path}:{line}"
        try:
            clip = _clip_from_row(row, root, where, known, check_audio)
        except DatasetError as exc:
            if not skip_bad:
                raise
            skipped.append(str(exc))
            continue
        rating = clip.rating if has_rating else None
        if min_rating is not None and rating is not None and rating < min_rating:
            continue
        clips.append(clip)

    if not clips:
        raise DatasetError(f"{csv_path}: no usable clips" + (f" ({len(skipped)} skipped)" if skipped else ""))
    classes = labels_of(clips) if classes is None else classes
    return TrainingSet(
        root=root, clips=clips, classes=list(classes), skipped=skipped, warnings=_warnings(clips, classes)
    )


def labels_of(clips: list[Clip]) -> list[str]:
    """The labels the clips name (primary, secondary and soft), sorted."""
    labels = {c.primary for c in clips if c.primary} | {s for c in clips for s in c.secondary}
    return sorted(labels | {name for c in clips for name in (c.soft or {})})


def _warnings(clips: list[Clip], classes: list[str]) -> list[str]:
    positives = {c.primary for c in clips if c.primary}
    empty = [name for name in classes if name not in positives]
    if not empty:
        return []
    shown = ", ".join(empty[:10]) + (" …" if len(empty) > 10 else "")
    return [f"{len(empty)} of {len(classes)} classes have no clip with that primary label: {shown}"]


def combine(sets: list[TrainingSet], classes: list[str] | None) -> TrainingSet:
    """One training set of several folders' clips (the first folder is the set's root); ``classes``
    None: the labels found in all of them."""
    clips = [clip for one in sets for clip in one.clips]
    classes = labels_of(clips) if classes is None else classes
    index = set(classes)
    for one in sets:
        unknown = sorted(
            {name for c in one.clips for name in [c.primary, *c.secondary, *(c.soft or {})]} - index - {None}
        )
        if unknown:
            raise DatasetError(f"{one.root}: species {', '.join(map(repr, unknown))} are not among the run's classes")
    return TrainingSet(
        root=sets[0].root,
        clips=clips,
        classes=list(classes),
        skipped=[line for one in sets for line in one.skipped],
        warnings=_warnings(clips, classes),
    )


def _clip_from_row(row: dict, root: Path, where: str, known: set[str] | None, check_audio: bool) -> Clip:
    primary_text = str(row.get("primary_label", "")).strip()
    primary = None if primary_text.lower() in NEGATIVE_LABELS else primary_text
    secondary = _parse_secondary(row.get("secondary_labels"), where)
    soft = _parse_soft(row.get("soft_labels"), where)
    if known is not None:
        named = [primary, *secondary, *(soft or {})]
        unknown = [name for name in named if name is not None and name not in known]
        if unknown:
            raise DatasetError(f"{where}: unknown species {', '.join(map(repr, unknown))} (not in the class list)")
    filename = str(row.get("filename", "")).strip()
    if not filename:
        raise DatasetError(f"{where}: filename is empty")
    path = root / AUDIO_FOLDER / filename
    start = _optional_float(row.get("start"), "start", where)
    end = _optional_float(row.get("end"), "end", where)
    if start is not None and end is not None and end <= start:
        raise DatasetError(f"{where}: end ({end}) is not after start ({start})")
    if check_audio:
        _check_audio(path, where)
    rating = _optional_float(row.get("rating"), "rating", where)
    fold = _optional_float(row.get("fold"), "fold", where)
    weight = _optional_float(row.get("weight"), "weight", where)
    if weight is not None and not weight > 0:
        raise DatasetError(f"{where}: weight {weight} is not above 0")
    return Clip(
        path=path,
        primary=primary,
        secondary=secondary,
        rating=rating,
        start_s=start,
        end_s=end,
        line=int(where.rsplit(":", 1)[1]),
        fold=None if fold is None else int(fold),
        soft=soft,
        weight=1.0 if weight is None else weight,
    )


def _check_audio(path: Path, where: str) -> None:
    if not path.exists():
        raise DatasetError(f"{where}: audio file {path} not found")
    if path.stat().st_size == 0:
        raise DatasetError(f"{where}: audio file {path} is empty")
    try:
        info = sf.info(str(path))
    except (sf.LibsndfileError, RuntimeError) as exc:
        raise DatasetError(f"{where}: audio file {path} cannot be read ({exc})") from None
    if info.frames <= 0:
        raise DatasetError(f"{where}: audio file {path} has no samples")
