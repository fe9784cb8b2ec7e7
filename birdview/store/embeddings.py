"""Every scored window's embedding, kept beside the project database in one file per model and recording.

A file is the recording's windows' embeddings one after the other, float16, nothing else: reading
one recording is a memory map, and searching a season is a matrix product over such maps. The
database says how many windows are scored (their predictions are committed after their
embeddings are written), so a file that a crash left longer is cut back by the next write and
read only as far as the database says.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np

from birdview.store.errors import ProjectError

FOLDER = "embeddings"
DTYPE = np.float16
#: The similarity index's sidecar (birdview.store.embedding_index), beside the embeddings.
INDEX_SIDECAR = "index.json"


class EmbeddingFiles:
    def __init__(self, project_folder: Path) -> None:
        self.root = Path(project_folder) / FOLDER

    def model_folder(self, version: int) -> Path:
        """A model's embeddings, and its similarity index where it has one (birdview.store.embedding_index)."""
        return self.root / f"model-v{int(version)}"

    def path(self, version: int, recording_id: int) -> Path:
        return self.model_folder(version) / f"recording-{int(recording_id)}.f16"

    def norms_path(self, version: int, recording_id: int) -> Path:
        """Each window's embedding length (float32), kept beside them: similarity search divides by it."""
        return self.path(version, recording_id).with_suffix(".norm")

    def write(self, version: int, recording_id: int, first_window: int, embeddings: np.ndarray) -> None:
        """Windows ``first_window`` on; what the file held from there on is replaced."""
        embeddings = np.ascontiguousarray(embeddings, dtype=DTYPE)
        if embeddings.ndim != 2:
            raise ProjectError(f"embeddings must be (windows, dimensions), not {embeddings.shape}")
        path = self.path(version, recording_id)
        norms = np.linalg.norm(embeddings.astype(np.float32), axis=1).astype(np.float32)
        if (path.parent / INDEX_SIDECAR).exists():  # windows already in the similarity index, written again
            from birdview.store.embedding_index import EmbeddingIndex

            EmbeddingIndex(self, version, embeddings.shape[1]).note_rewrite(recording_id, first_window)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            _write_rows(path, first_window, embeddings)
            _write_rows(self.norms_path(version, recording_id), first_window, norms[:, None])
        except OSError as exc:
            raise ProjectError(f"{path}: cannot write embeddings ({exc.strerror or exc})") from None

    def read(self, version: int, recording_id: int, dim: int, windows: int) -> np.ndarray:
        """(windows, dim) float16, read-only; fewer rows where the file holds fewer."""
        path = self.path(version, recording_id)
        if dim <= 0 or windows <= 0 or not path.exists():
            return np.zeros((0, max(dim, 0)), dtype=DTYPE)
        stored = path.stat().st_size // (dim * np.dtype(DTYPE).itemsize)
        rows = min(windows, stored)
        if rows <= 0:
            return np.zeros((0, dim), dtype=DTYPE)
        return np.memmap(path, dtype=DTYPE, mode="r", shape=(rows, dim))

    def norms(self, version: int, recording_id: int, dim: int, windows: int) -> np.ndarray:
        """The lengths of the first ``windows`` embeddings, (windows,) float32; worked out (and kept)
        where the file is missing or short."""
        path = self.norms_path(version, recording_id)
        stored = path.stat().st_size // 4 if path.exists() else 0
        if stored < windows:
            vectors = self.read(version, recording_id, dim, windows)
            norms = np.linalg.norm(np.asarray(vectors[stored:], dtype=np.float32), axis=1).astype(np.float32)
            try:
                _write_rows(path, stored, norms[:, None])
            except OSError:
                return np.linalg.norm(np.asarray(vectors, dtype=np.float32), axis=1).astype(np.float32)
        return np.fromfile(path, dtype=np.float32, count=windows)

    def delete_model(self, version: int) -> None:
        """Its embeddings and its similarity index."""
        shutil.rmtree(self.model_folder(version), ignore_errors=True)

    def bytes_used(self) -> int:
        if not self.root.exists():
            return 0
        return sum(p.stat().st_size for p in self.root.rglob("*.f16"))


def _write_rows(path: Path, first_row: int, rows: np.ndarray) -> None:
    """Rows from ``first_row`` on, replacing what the file held from there; flushed to disk."""
    row_bytes = rows.shape[1] * rows.itemsize
    with open(path, "r+b" if path.exists() else "w+b") as handle:
        handle.truncate(first_row * row_bytes)
        handle.seek(first_row * row_bytes)
        handle.write(np.ascontiguousarray(rows).tobytes())
        handle.flush()
        os.fsync(handle.fileno())
