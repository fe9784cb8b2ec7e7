"""Inference through OpenVINO on the CPU: a checkpoint or its ONNX export, fp32 or bf16.

OpenVINO runs the exported EfficientNet about 1.2x faster than ONNX Runtime in fp32 on the same
threads, and 1.5-1.8x faster again in bf16 on CPUs with bf16 instructions (AVX-512 BF16 or AMX).
bf16 rounds activations to 8 bits of mantissa; ``benchmarks/precision_benchmark.py`` measures
what that does to validation macro ROC-AUC.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # torch, which the front end needs, is not loaded to ask about bf16
    from trainer.frontend import FrontEndConfig

PRECISIONS = ("fp32", "bf16")
_HINTS = {"fp32": "f32", "bf16": "bf16"}


class OpenVinoError(RuntimeError):
    pass


def _read_model(path: Path):
    """(openvino model, classes, front end) from a .onnx export or a .ckpt checkpoint."""
    import openvino as ov

    if path.suffix == ".onnx":
        import onnx

        from trainer.onnx_export import OnnxExportError, read_metadata

        try:
            meta = {p.key: p.value for p in onnx.load(str(path), load_external_data=False).metadata_props}
        except Exception as exc:
            raise OpenVinoError(f"{path}: not a loadable ONNX model ({exc})") from None
        try:
            classes, frontend = read_metadata(meta, path)
        except OnnxExportError as exc:
            raise OpenVinoError(str(exc)) from None
        return ov.Core().read_model(str(path)), classes, frontend

    from trainer.checkpoint import load_checkpoint
    from trainer.model import WithEmbedding

    loaded = load_checkpoint(path)
    try:
        model = convert(WithEmbedding(loaded.model), loaded.frontend)
    except Exception as exc:
        raise OpenVinoError(f"{path}: OpenVINO cannot convert this model ({type(exc).__name__}: {exc})") from None
    return model, loaded.classes, loaded.frontend


def convert(module, frontend: FrontEndConfig):
    """An OpenVINO model of a PyTorch module taking (batch, 1, mels, frames), through an in-memory
    ONNX export (about 1 s for B0; OpenVINO's own tracing takes about 4 s)."""
    import io

    import openvino as ov
    import torch

    buffer = io.BytesIO()
    example = torch.zeros(1, 1, frontend.n_mels, frontend.frames)
    torch.onnx.export(
        module.eval(),
        (example,),
        buffer,
        input_names=["mel"],
        dynamic_axes={"mel": {0: "batch"}},
        opset_version=17,
        dynamo=False,
    )
    return ov.Core().read_model(buffer.getvalue(), b"")


def compile_for_cpu(model, threads: int | None = None, precision: str = "fp32"):
    """A compiled model for this CPU (fixed mel shape, any batch)."""
    import openvino as ov

    if precision not in PRECISIONS:
        raise OpenVinoError(f"precision must be one of {PRECISIONS}, not {precision!r}")
    settings = {"INFERENCE_PRECISION_HINT": _HINTS[precision], "PERFORMANCE_HINT": "LATENCY"}
    if threads:
        settings["INFERENCE_NUM_THREADS"] = threads
    return ov.Core().compile_model(model, "CPU", settings)


class CompiledModule:
    """A PyTorch module (e.g. the backbone's embedding) run by OpenVINO: numpy in, numpy out."""

    def __init__(self, module, frontend: FrontEndConfig, threads: int | None = None) -> None:
        self.request = compile_for_cpu(convert(module, frontend), threads).create_infer_request()

    def __call__(self, mels: np.ndarray) -> np.ndarray:
        result = self.request.infer({0: np.ascontiguousarray(mels, dtype=np.float32)})
        return np.array(result[0], dtype=np.float32)


class OpenVinoScorer:
    """Scores mels with OpenVINO; ``precision`` is what the CPU is asked for, ``used_precision`` what it runs."""

    def __init__(self, path: str | Path, threads: int | None = None, precision: str = "fp32") -> None:
        import openvino as ov

        if precision not in PRECISIONS:
            raise OpenVinoError(f"precision must be one of {PRECISIONS}, not {precision!r}")
        path = Path(path)
        model, self.classes, self.frontend = _read_model(path)
        model.reshape([-1, 1, self.frontend.n_mels, self.frontend.frames])
        try:
            self.compiled = compile_for_cpu(model, threads, precision)
        except Exception as exc:
            raise OpenVinoError(f"{path}: OpenVINO cannot compile this model ({exc})") from None
        self.request = self.compiled.create_infer_request()
        used = self.compiled.get_property("INFERENCE_PRECISION_HINT")
        self.used_precision = "bf16" if used == ov.Type.bf16 else "fp32"
        self.name = str(path)
        outputs = self.compiled.outputs
        self.embedding_dim = int(outputs[1].get_partial_shape()[-1].get_length()) if len(outputs) > 1 else 0

    def logits(self, mels: np.ndarray) -> np.ndarray:
        return self.outputs(mels)[0]

    def outputs(self, mels: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        """(logits, embeddings); embeddings None for an export made before they were exported."""
        result = self.request.infer({0: np.ascontiguousarray(mels, dtype=np.float32)})
        embedding = np.array(result[1], dtype=np.float32) if self.embedding_dim else None
        return np.array(result[0], dtype=np.float32), embedding


def bf16_supported() -> bool:
    """Whether this CPU runs bf16 natively (otherwise OpenVINO falls back to fp32)."""
    import openvino as ov

    return "BF16" in ov.Core().get_property("CPU", "OPTIMIZATION_CAPABILITIES")
