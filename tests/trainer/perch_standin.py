"""A small stand-in for Perch v2's ONNX export (about 250 KB, built in milliseconds).

It has the real export's input and outputs, by name and shape (``inputs`` (batch, 160000) ->
``embedding`` (batch, 1536), ``spatial_embedding`` (batch, 16, 4, 1536), ``spectrogram``
(batch, 500, 128), ``label`` (batch, classes)), and its class lists are written as the real ones
are (``labels.csv``, ``perch_v2_ebird_classes.csv``: a namespace row, then one class a row).

Class i is tied to a band around ``band_hz(i)``: its logit is the log of the window's mean energy
at that frequency (10 ms frames, so bands on multiples of 100 Hz do not leak into each other),
minus 2. A tone at ``band_hz(i)`` in a peak-normalised window gives a logit near +5; silence, -9.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

WINDOW_SAMPLES = 160_000
SAMPLE_RATE = 32000
FRAME = 320
EMBEDDING_DIM = 1536
SPECTROGRAM_BINS = 128
LOGIT_OFFSET = 2.0
#: (scientific name or FSD50K class, eBird 2021 code), as Perch's two class lists pair them.
STANDIN_CLASSES = (
    ("Turdus merula", "eurbla"),
    ("Erithacus rubecula", "eurrob1"),
    ("Fringilla coelebs", "comcha"),
    ("Parus major", "gretit1"),
    ("Cyanistes caeruleus", "blutit"),
    ("Troglodytes troglodytes", "winwre4"),
    ("Sylvia atricapilla", "blackc1"),
    ("Phylloscopus collybita", "comchi1"),
    ("Columba palumbus", "cowpig1"),
    ("Strix aluco", "tawowl1"),
    ("Gryllus campestris", "no_ebird_code"),
    ("Bicycle_bell", "no_ebird_code"),
)
BAD_KINDS = ("input_length", "output_width")


def band_hz(index: int) -> float:
    """The frequency class ``index`` of a stand-in listens to."""
    return 500.0 * (index + 1)


def _constant(name: str, value: np.ndarray) -> TensorProto:
    return numpy_helper.from_array(np.asarray(value, dtype=np.float32), name)


def _model(bands: int, samples: int = WINDOW_SAMPLES) -> onnx.ModelProto:
    frames = samples // FRAME
    t = np.arange(FRAME) / SAMPLE_RATE
    freqs = [band_hz(i) for i in range(bands)]
    basis = np.concatenate([np.cos(2 * np.pi * np.outer(t, freqs)), np.sin(2 * np.pi * np.outer(t, freqs))], axis=1)
    pairs = np.concatenate([np.eye(bands), np.eye(bands)])
    rng = np.random.default_rng(0)
    initializers = [
        numpy_helper.from_array(np.array([-1, frames, FRAME], dtype=np.int64), "frame_shape"),
        numpy_helper.from_array(np.array([-1, 1, 1, EMBEDDING_DIM], dtype=np.int64), "cell_shape"),
        numpy_helper.from_array(np.array([1, 16, 4, EMBEDDING_DIM], dtype=np.int64), "grid_shape"),
        _constant("basis", basis),
        _constant("pairs", pairs),
        _constant("eps", 1e-3),
        _constant("offset", LOGIT_OFFSET),
        _constant("to_spectrogram", rng.standard_normal((FRAME, SPECTROGRAM_BINS)) / FRAME),
        _constant("to_embedding", rng.standard_normal((bands, EMBEDDING_DIM)) / bands),
    ]
    nodes = [
        helper.make_node("Reshape", ["inputs", "frame_shape"], ["frames"]),
        helper.make_node("MatMul", ["frames", "to_spectrogram"], ["spectrogram"]),
        helper.make_node("MatMul", ["frames", "basis"], ["projections"]),
        helper.make_node("Mul", ["projections", "projections"], ["squares"]),
        helper.make_node("ReduceMean", ["squares"], ["mean_squares"], axes=[1], keepdims=0),
        helper.make_node("MatMul", ["mean_squares", "pairs"], ["energy"]),
        helper.make_node("Add", ["energy", "eps"], ["floored"]),
        helper.make_node("Log", ["floored"], ["log_energy"]),
        helper.make_node("Sub", ["log_energy", "offset"], ["label"]),
        helper.make_node("MatMul", ["log_energy", "to_embedding"], ["embedding"]),
        helper.make_node("Reshape", ["embedding", "cell_shape"], ["cell"]),
        helper.make_node("Expand", ["cell", "grid_shape"], ["spatial_embedding"]),
    ]

    def tensor(name: str, *dims: int) -> onnx.ValueInfoProto:
        return helper.make_tensor_value_info(name, TensorProto.FLOAT, ["batch", *dims])

    graph = helper.make_graph(
        nodes,
        "perch_v2_standin",
        [tensor("inputs", samples)],
        [
            tensor("embedding", EMBEDDING_DIM),
            tensor("spatial_embedding", 16, 4, EMBEDDING_DIM),
            tensor("spectrogram", frames, SPECTROGRAM_BINS),
            tensor("label", bands),
        ],
        initializers,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="birdview-tests")
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model


def _write_lists(folder: Path, names: list[str]) -> Path:
    codes = dict(STANDIN_CLASSES)
    labels = folder / "labels.csv"
    labels.write_text("\n".join(["inat2024_fsd50k", *names]) + "\n", encoding="utf-8")
    ebird = ["ebird2021", *(codes.get(name, "no_ebird_code") for name in names)]
    (folder / "perch_v2_ebird_classes.csv").write_text("\n".join(ebird) + "\n", encoding="utf-8")
    return labels


def write_standin(folder: str | Path, classes: list[str] | None = None) -> tuple[Path, Path]:
    """``perch_v2.onnx`` and its ``labels.csv`` (with ``perch_v2_ebird_classes.csv``) in ``folder``."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    names = list(classes) if classes is not None else [name for name, _ in STANDIN_CLASSES]
    if not 0 < len(names) <= 31:
        raise ValueError("a stand-in has 1 to 31 classes (bands below 16 kHz)")
    model = folder / "perch_v2.onnx"
    onnx.save(_model(len(names)), str(model))
    return model, _write_lists(folder, names)


def write_bad_standin(folder: str | Path, kind: str) -> tuple[Path, Path]:
    """A stand-in that is wrong in one way: ``input_length`` takes 2.5 s windows (80,000 samples),
    ``output_width`` has one logit more than its labels file has classes."""
    if kind not in BAD_KINDS:
        raise ValueError(f"kind must be one of {BAD_KINDS}, not {kind!r}")
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    names = [name for name, _ in STANDIN_CLASSES]
    model = folder / "perch_v2.onnx"
    if kind == "input_length":
        onnx.save(_model(len(names), samples=WINDOW_SAMPLES // 2), str(model))
    else:
        onnx.save(_model(len(names) + 1), str(model))
    return model, _write_lists(folder, names)
