"""ONNX export (fixed mel shape, dynamic batch) and inference through ONNX Runtime.

The class list, front-end settings and training config travel in the ONNX file's metadata,
exactly as they do in a checkpoint.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch

from trainer.checkpoint import load_checkpoint
from trainer.frontend import FrontEndConfig
from trainer.model import WithEmbedding

INPUT_NAME = "mel"
OUTPUT_NAME = "logits"
#: The pooled feature before the head; exports made before it existed have only the logits.
EMBEDDING_NAME = "embedding"


class OnnxExportError(RuntimeError):
    pass


def export_onnx(checkpoint: str | Path, out: str | Path, opset: int = 17) -> Path:
    import onnx

    loaded = load_checkpoint(checkpoint)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    frontend = loaded.frontend
    example = torch.zeros(1, 1, frontend.n_mels, frontend.frames)
    try:
        torch.onnx.export(
            WithEmbedding(loaded.model).eval(),
            (example,),
            str(out),
            input_names=[INPUT_NAME],
            output_names=[OUTPUT_NAME, EMBEDDING_NAME],
            dynamic_axes={INPUT_NAME: {0: "batch"}, OUTPUT_NAME: {0: "batch"}, EMBEDDING_NAME: {0: "batch"}},
            opset_version=opset,
            dynamo=False,
        )
    except Exception as exc:
        raise OnnxExportError(f"{checkpoint}: ONNX export failed ({type(exc).__name__}: {exc})") from None
    model = onnx.load(str(out))
    for key, value in {
        "birdview.classes": json.dumps(loaded.classes),
        "birdview.frontend": json.dumps(frontend.as_dict()),
        "birdview.config": json.dumps(loaded.config),
    }.items():
        entry = model.metadata_props.add()
        entry.key, entry.value = key, value
    onnx.save(model, str(out))
    return out


def read_metadata(meta: dict[str, str], path: str | Path) -> tuple[list[str], FrontEndConfig]:
    """The class list and front end an export carries in its metadata."""
    if "birdview.classes" not in meta:
        raise OnnxExportError(f"{path}: not a birdview-train export (no class list in its metadata)")
    return json.loads(meta["birdview.classes"]), FrontEndConfig.from_dict(json.loads(meta["birdview.frontend"]))


class OnnxScorer:
    def __init__(self, path: str | Path, threads: int | None = None) -> None:
        import onnxruntime as ort

        options = ort.SessionOptions()
        if threads:
            options.intra_op_num_threads = threads
            options.inter_op_num_threads = 1
        try:
            self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        except Exception as exc:
            raise OnnxExportError(f"{path}: not a loadable ONNX model ({exc})") from None
        self.classes, self.frontend = read_metadata(self.session.get_modelmeta().custom_metadata_map, path)
        self.name = str(path)
        outputs = {output.name: output for output in self.session.get_outputs()}
        embedding = outputs.get(EMBEDDING_NAME)
        self.embedding_dim = int(embedding.shape[-1]) if embedding is not None else 0
        self._names = [OUTPUT_NAME, EMBEDDING_NAME] if embedding is not None else [OUTPUT_NAME]

    def logits(self, mels: np.ndarray) -> np.ndarray:
        return self.session.run([OUTPUT_NAME], {INPUT_NAME: mels.astype(np.float32)})[0]

    def outputs(self, mels: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        """(logits, embeddings); embeddings None for an export made before they were exported."""
        found = self.session.run(self._names, {INPUT_NAME: mels.astype(np.float32)})
        return found[0], (found[1] if len(found) > 1 else None)
