"""Perch v2 (Google DeepMind, Apache-2.0) from its community ONNX export, a file the user downloads.

What the real files are, from public sources:

- The ONNX file is a conversion of the Kaggle SavedModel google/bird-vocalization-classifier
  (TensorFlow2, perch_v2) by Justin Chu: huggingface.co/justinchuby/Perch-onnx, ``perch_v2.onnx``
  (float32, 409,148,616 bytes; ``perch_v2_no_dft.onnx`` is the same with the DFT as a MatMul). Its
  model card lists input ``inputs`` float32 (batch, 160000) and outputs ``embedding`` (batch, 1536),
  ``spatial_embedding`` (batch, 16, 4, 1536), ``spectrogram`` (batch, 500, 128) and ``label``
  (batch, 14795), the logits. Google's perch-hoplite reads the same names
  (perch_hoplite/zoo/models_onnx.py: input ``inputs``, logits ``label``, frontend ``spectrogram``).
- The input is 5 s of mono audio at 32 kHz. perch-hoplite removes each window's mean and scales its
  peak to 0.25 before the model (zoo_interface.EmbeddingModel.normalize_audio, target_peak 0.25);
  so does ``chunks`` here.
- The ONNX repository has no class list. The SavedModel's ``assets/`` hold ``labels.csv``: a first
  row naming the namespace (``inat2024_fsd50k``), then one class a row in output order, scientific
  names and a few hundred FSD50K sound classes (``Bicycle_bell``); and ``perch_v2_ebird_classes.csv``,
  a namespace row, then the eBird 2021 code of each class or ``no_ebird_code`` (perch-hoplite's
  ClassList.from_csv; the same files are mirrored under assets/ of huggingface.co/cgeorgiaw/Perch).
  Both are looked for beside the ONNX file, or in an ``assets`` folder there.
- Google's tools hand out the raw logits; here, as for every model kind, they go through a sigmoid
  (a ranking by logit is unchanged; a few mirrors call them softmax logits).
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

import numpy as np

from trainer.models.base import BIRD, OTHER, ModelError, ModelInfo, SpeciesName, sigmoid
from trainer.models.taxonomy import species_from_label
from trainer.window_stream import CHUNK_WINDOWS, WindowChunk, WindowGeometry, window_chunks

if TYPE_CHECKING:
    from onnxruntime import InferenceSession

PERCH_KIND = "perch-v2"
PERCH_LICENCE = "Apache-2.0"
PERCH_DOWNLOAD_HELP = (
    "Perch v2 is not bundled: download perch_v2.onnx from https://huggingface.co/justinchuby/Perch-onnx, "
    "and put labels.csv and perch_v2_ebird_classes.csv (in assets/ of Google's Kaggle model "
    "google/bird-vocalization-classifier, TensorFlow2 perch_v2, also at https://huggingface.co/cgeorgiaw/Perch) "
    "in the same folder."
)

SAMPLE_RATE = 32000
WINDOW_S = 5.0
WINDOW_SAMPLES = 160_000
TARGET_PEAK = 0.25
INPUT_NAME = "inputs"
LOGITS_NAME = "label"
EMBEDDING_NAME = "embedding"
LABELS_FILE = "labels.csv"
EBIRD_FILE = "perch_v2_ebird_classes.csv"
NO_EBIRD_CODE = "no_ebird_code"
BATCH_SIZE = 16


def peak_normalised(windows: np.ndarray) -> np.ndarray:
    """Each window (row) without its mean and with its peak at 0.25, as perch-hoplite feeds Perch."""
    centred = windows.astype(np.float32) - windows.mean(axis=1, keepdims=True, dtype=np.float64).astype(np.float32)
    peak = np.abs(centred).max(axis=1, keepdims=True)
    scale = np.divide(TARGET_PEAK, peak, out=np.zeros_like(peak), where=peak > 0)
    return (centred * scale).astype(np.float32)


class PerchModel:
    """Perch v2 from its ONNX export; ``chunks`` yields peak-normalised 5 s windows at 32 kHz."""

    def __init__(self, path: str | Path, labels: str | Path | None = None, threads: int | None = None) -> None:
        self.path = Path(path)
        self.session = _session(self.path, threads)
        self._input, self._batch = _check_input(self.session, self.path)
        labels_path = Path(labels) if labels is not None else _find_labels(self.path)
        names, codes = read_class_lists(labels_path)
        self._outputs = _find_outputs(self.session, self.path, labels_path, len(names))
        self.info = ModelInfo(
            kind=PERCH_KIND,
            name="Perch v2",
            species=species_for(names, codes),
            sample_rate=SAMPLE_RATE,
            window_s=WINDOW_S,
            embedding_dim=self._outputs.embedding_dim,
            licence=PERCH_LICENCE,
            source=str(self.path),
        )

    def chunks(
        self,
        path: str | Path,
        hop_s: float,
        start_window: int = 0,
        chunk_windows: int = CHUNK_WINDOWS,
        on_truncated: Callable[[str], None] | None = None,
        channel: int | None = None,
    ) -> Iterator[WindowChunk]:
        return window_chunks(
            path,
            WindowGeometry(SAMPLE_RATE, WINDOW_S, WINDOW_S, hop_s),
            peak_normalised,
            chunk_windows=chunk_windows,
            start_window=start_window,
            on_truncated=on_truncated,
            channel=channel,
        )

    def infer(self, inputs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Probabilities and embeddings of peak-normalised windows (what ``chunks`` yields)."""
        inputs = np.ascontiguousarray(inputs, dtype=np.float32)
        size = self._batch or BATCH_SIZE
        names = [self._outputs.logits, self._outputs.embedding]
        logits, embeddings = [], []
        for start in range(0, len(inputs), size):
            batch = inputs[start : start + size]
            rows = len(batch)
            if self._batch and rows < self._batch:  # a model with a fixed batch size takes only full batches
                batch = np.pad(batch, ((0, self._batch - rows), (0, 0)))
            batch_logits, batch_embeddings = self.session.run(names, {self._input: batch})
            logits.append(batch_logits[:rows])
            embeddings.append(batch_embeddings[:rows])
        if not logits:
            return (
                np.zeros((0, len(self.info.species)), np.float32),
                np.zeros((0, self.info.embedding_dim), np.float32),
            )
        return sigmoid(np.concatenate(logits)), np.concatenate(embeddings).astype(np.float32)


class _Outputs(NamedTuple):
    logits: str
    embedding: str
    embedding_dim: int


def _session(path: Path, threads: int | None) -> InferenceSession:
    import onnxruntime as ort

    if not path.is_file():
        raise ModelError(f"{path}: no such file. {PERCH_DOWNLOAD_HELP}")
    options = ort.SessionOptions()
    if threads:
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
    try:
        return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    except Exception as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ModelError(
            f"{path}: cannot be loaded as an ONNX model, it may be cut short or another kind of file ({reason}); "
            f"expected Perch v2's ONNX export, with input '{INPUT_NAME}' of shape (batch, {WINDOW_SAMPLES}) float32. "
            f"{PERCH_DOWNLOAD_HELP}"
        ) from None


def _shape(dims: list) -> str:
    return "(" + ", ".join("?" if dim is None else str(dim) for dim in dims) + ")"


def _check_input(session: InferenceSession, path: Path) -> tuple[str, int | None]:
    """The input's name and fixed batch size (None: any); ModelError unless it takes 5 s windows."""
    inputs = session.get_inputs()
    expected = f"(batch, {WINDOW_SAMPLES}) float32"
    if len(inputs) != 1:
        names = ", ".join(f"'{tensor.name}' {_shape(tensor.shape)}" for tensor in inputs)
        raise ModelError(f"{path}: Perch v2 takes one input, '{INPUT_NAME}' {expected}; this model takes {names}")
    tensor = inputs[0]
    shape = list(tensor.shape)
    length_ok = len(shape) == 2 and (not isinstance(shape[1], int) or shape[1] == WINDOW_SAMPLES)
    if not length_ok or tensor.type != "tensor(float)":
        raise ModelError(
            f"{path}: input '{tensor.name}' is {_shape(shape)} {tensor.type}, expected {expected} "
            f"(5 s of mono audio at {SAMPLE_RATE} Hz)"
        )
    return tensor.name, (shape[0] if isinstance(shape[0], int) and shape[0] > 0 else None)


def _find_outputs(session: InferenceSession, path: Path, labels: Path, classes: int) -> _Outputs:
    """The logits and embedding outputs, by name (as the real export has them), else by shape."""
    matrices = {tensor.name: list(tensor.shape) for tensor in session.get_outputs() if len(tensor.shape) == 2}
    widths = _widths(session, path, matrices)
    logits = LOGITS_NAME if LOGITS_NAME in widths else next((n for n, w in widths.items() if w == classes), None)
    if logits is None:
        found = ", ".join(f"'{name}' {_shape(shape)}" for name, shape in matrices.items()) or "none"
        raise ModelError(
            f"{path}: no logits output: expected '{LOGITS_NAME}' of shape (batch, {classes}), one column for each "
            f"of the {classes} classes in {labels}; two-dimensional outputs found: {found}"
        )
    if widths[logits] != classes:
        hint = " (a labels file's first row names its namespace, it is not a class)" * (widths[logits] == classes + 1)
        raise ModelError(
            f"{path}: output '{logits}' is {_shape(matrices[logits])}, expected (batch, {classes}): {labels} lists "
            f"{classes} classes but the model has {widths[logits]}{hint}"
        )
    others = [name for name in widths if name != logits]
    embedding = EMBEDDING_NAME if EMBEDDING_NAME in others else (others[0] if len(others) == 1 else None)
    if embedding is None:
        found = ", ".join(f"'{name}' {_shape(matrices[name])}" for name in others) or "none"
        raise ModelError(
            f"{path}: no embedding output: expected '{EMBEDDING_NAME}' of shape (batch, 1536); "
            f"other two-dimensional outputs found: {found}"
        )
    return _Outputs(logits, embedding, widths[embedding])


def _widths(session: InferenceSession, path: Path, matrices: dict[str, list]) -> dict[str, int]:
    """Each two-dimensional output's width; one silent window is run when the model leaves one open."""
    widths = {name: shape[1] for name, shape in matrices.items() if isinstance(shape[1], int)}
    if len(widths) == len(matrices):
        return widths
    batch = session.get_inputs()[0].shape[0]
    silence = np.zeros((batch if isinstance(batch, int) and batch > 0 else 1, WINDOW_SAMPLES), np.float32)
    try:
        found = session.run(list(matrices), {session.get_inputs()[0].name: silence})
    except Exception as exc:
        raise ModelError(f"{path}: does not run on (1, {WINDOW_SAMPLES}) audio ({exc})") from None
    return {name: int(value.shape[-1]) for name, value in zip(matrices, found, strict=True)}


def _find_labels(model: Path) -> Path:
    folder = model.parent
    candidates = [folder / LABELS_FILE, folder / "assets" / LABELS_FILE]
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    raise ModelError(
        f"{model}: no class list beside it (looked for {' and '.join(str(c) for c in candidates)}). "
        f"{PERCH_DOWNLOAD_HELP}"
    )


def _first_column(path: Path) -> list[str]:
    """A Perch class list: the first column of each row after the first (which names the namespace)."""
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            rows = [row[0].strip() for row in csv.reader(handle) if row and row[0].strip()]
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise ModelError(f"{path}: cannot be read as a class list ({exc})") from None
    if len(rows) < 2:
        raise ModelError(f"{path}: no classes (expected a namespace row, then one class a row)")
    return rows[1:]


def read_class_lists(labels: Path) -> tuple[list[str], list[str | None]]:
    """Perch's class names from ``labels`` and, when ``perch_v2_ebird_classes.csv`` lies beside it, the
    eBird code of each (None where it has none)."""
    names = _first_column(labels)
    ebird = labels.parent / EBIRD_FILE
    if not ebird.is_file():
        return names, [None] * len(names)
    codes = _first_column(ebird)
    if len(codes) != len(names):
        raise ModelError(f"{ebird} lists {len(codes)} classes but {labels} lists {len(names)}: they must match")
    return names, [None if code == NO_EBIRD_CODE else code for code in codes]


def _is_taxon(label: str) -> bool:
    """Scientific names are two or three words; FSD50K sound classes are one word or joined by '_'."""
    return "_" not in label and " " in label


def species_for(names: list[str], codes: list[str | None]) -> tuple[SpeciesName, ...]:
    """Each class's identity: the eBird code birdview's taxonomy knows for the scientific name (so that
    models agree), else Perch's own eBird code, else the name itself (not a bird)."""
    species, taken = [], set()
    for name, code in zip(names, codes, strict=True):
        if not _is_taxon(name):
            found = SpeciesName(name, None, name.replace("_", " "), OTHER)
        else:
            found = species_from_label(name)
            if found.category != BIRD and code:
                found = SpeciesName(code, name, found.common_name, BIRD)
        if found.code in taken:  # two classes the taxonomy lumps: keep them apart by name
            found = SpeciesName(name, found.scientific_name, found.common_name, found.category)
        taken.add(found.code)
        species.append(found)
    return tuple(species)
