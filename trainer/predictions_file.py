"""Predictions files: what ``birdview-train predict --model M --out FILE.npz`` writes (one per
``--shard i/n`` of a job array) and ``birdview import-predictions`` merges into a project.

One NumPy ``.npz`` archive, read with ``allow_pickle=False`` (it holds no Python objects): the
model's identity as JSON (kind, name, SHA-256 of its file, class list, window, hop, sample rate,
embedding size) so that an import can refuse the output of another model or window length; per
scored file its path, content hash (the project's: size, first and last MiB) and size; and per
file its windows' probabilities and embeddings as float16, what a project keeps. It is written
under a temporary name and renamed when complete: a job killed midway leaves no file to import.
"""

from __future__ import annotations

import hashlib
import json
import os
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from trainer.models.base import WindowModel
from trainer.window_stream import InferenceError

FORMAT = "birdview-predictions"
FORMAT_VERSION = 1
_HASH_BLOCK = 1 << 20  # as birdview.store.project.content_hash


class PredictionsFileError(ValueError):
    """A file that is not a readable predictions file; the message names it."""


def content_hash(path: str | Path) -> str:
    """SHA-1 of the size, the first and the last MiB: the hash a birdview project keeps of each
    recording (birdview.store.project.content_hash), so a file is recognised wherever it is mounted."""
    path = Path(path)
    size = path.stat().st_size
    digest = hashlib.sha1(str(size).encode())
    with open(path, "rb") as handle:
        digest.update(handle.read(_HASH_BLOCK))
        if size > _HASH_BLOCK:
            handle.seek(max(_HASH_BLOCK, size - _HASH_BLOCK))
            digest.update(handle.read(_HASH_BLOCK))
    return digest.hexdigest()


def file_sha256(path: str | Path) -> str | None:
    """SHA-256 of a model file; None for a folder (BirdNET's package) or a missing file."""
    path = Path(path)
    if not path.is_file():
        return None
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 22), b""):
            digest.update(block)
    return digest.hexdigest()


def model_identity(model: WindowModel, hop_s: float, shard: str | None = None) -> dict:
    info = model.info
    return {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "kind": info.kind,
        "name": info.name,
        "source": str(info.source),
        "model_sha256": file_sha256(info.source),
        "classes": list(info.classes),
        "window_s": float(info.window_s),
        "hop_s": float(hop_s),
        "sample_rate": int(info.sample_rate),
        "embedding_dim": int(info.embedding_dim),
        "shard": shard,
    }


class PredictionsWriter:
    """Writes a predictions file one scored file at a time (memory: one file's windows)."""

    def __init__(self, out: str | Path, identity: dict) -> None:
        self.out = Path(out)
        self.out.parent.mkdir(parents=True, exist_ok=True)
        self.partial = self.out.with_name(self.out.name + ".partial")
        self.identity = identity
        self.files: list[str] = []
        self.hashes: list[str] = []
        self.sizes: list[int] = []
        self.windows: list[int] = []
        self.archive = zipfile.ZipFile(self.partial, "w", zipfile.ZIP_DEFLATED, allowZip64=True)

    def _array(self, name: str, array: np.ndarray) -> None:
        with self.archive.open(f"{name}.npy", "w", force_zip64=True) as handle:
            array = np.asarray(array)
            np.lib.format.write_array(handle, array if array.flags.c_contiguous else array.copy(), allow_pickle=False)

    def add(self, path: str | Path, scores: np.ndarray, embeddings: np.ndarray) -> None:
        number = len(self.files)
        self._array(f"scores_{number}", np.asarray(scores, dtype=np.float16))
        self._array(f"embeddings_{number}", np.asarray(embeddings, dtype=np.float16))
        path = Path(path).absolute()
        self.files.append(str(path))
        self.hashes.append(content_hash(path))
        self.sizes.append(path.stat().st_size)
        self.windows.append(len(scores))

    def close(self, skipped: Sequence[str] = ()) -> Path:
        self._array("identity", np.array(json.dumps(self.identity)))
        self._array("files", np.array(self.files, dtype=str))
        self._array("hashes", np.array(self.hashes, dtype=str))
        self._array("sizes", np.array(self.sizes, dtype=np.int64))
        self._array("windows", np.array(self.windows, dtype=np.int64))
        self._array("skipped", np.array(list(skipped), dtype=str))
        self.archive.close()
        os.replace(self.partial, self.out)
        return self.out

    def abandon(self) -> None:
        self.archive.close()
        self.partial.unlink(missing_ok=True)


def write_predictions_file(
    paths: Sequence[str | Path],
    model: WindowModel,
    hop_s: float,
    out: str | Path,
    shard: str | None = None,
    skip_bad: bool = False,
    on_file: Callable[[int, int, Path], None] | None = None,
    on_warning: Callable[[str], None] | None = None,
) -> tuple[Path, int, int, list[str]]:
    """Score ``paths`` with ``model`` every ``hop_s`` seconds into a predictions file: (the file,
    the files scored, their windows, the files skipped with why)."""
    from trainer.inference import check_audio_path

    writer = PredictionsWriter(out, model_identity(model, hop_s, shard))
    skipped: list[str] = []
    try:
        for number, raw in enumerate(paths):
            path = Path(raw)
            if on_file is not None:
                on_file(number, len(paths), path)
            try:
                check_audio_path(path)
                scores, vectors = [], []
                for chunk in model.chunks(path, hop_s, on_truncated=on_warning):
                    probabilities, embeddings = model.infer(chunk.inputs)
                    scores.append(np.asarray(probabilities, dtype=np.float16))
                    vectors.append(np.asarray(embeddings, dtype=np.float16))
            except InferenceError as exc:
                if not skip_bad:
                    raise
                skipped.append(str(exc))
                continue
            dim = model.info.embedding_dim
            writer.add(
                path,
                np.concatenate(scores) if scores else np.zeros((0, len(model.info.classes)), np.float16),
                np.concatenate(vectors) if vectors else np.zeros((0, dim), np.float16),
            )
        scored, windows = len(writer.files), sum(writer.windows)
        return writer.close(skipped), scored, windows, skipped
    except BaseException:
        writer.abandon()
        raise


@dataclass
class PredictionsFile:
    path: Path
    identity: dict
    files: list[str]
    hashes: list[str]
    sizes: list[int]
    windows: list[int]
    skipped: list[str]

    def _load(self, name: str) -> np.ndarray:
        try:
            with np.load(self.path, allow_pickle=False) as archive:
                return archive[name]
        except (OSError, ValueError, KeyError, zipfile.BadZipFile, EOFError) as exc:
            raise PredictionsFileError(f"{self.path}: {name} cannot be read ({exc})") from None

    def scores(self, number: int) -> np.ndarray:
        return self._load(f"scores_{number}")

    def embeddings(self, number: int) -> np.ndarray:
        return self._load(f"embeddings_{number}")

    def shape(self, name: str) -> tuple[int, ...]:
        """The shape of an array, read from its header only."""
        try:
            with zipfile.ZipFile(self.path) as archive, archive.open(f"{name}.npy") as handle:
                version = np.lib.format.read_magic(handle)
                if version == (1, 0):
                    shape, _, _ = np.lib.format.read_array_header_1_0(handle)
                else:
                    shape, _, _ = np.lib.format.read_array_header_2_0(handle)
                return tuple(shape)
        except (OSError, ValueError, KeyError, zipfile.BadZipFile, EOFError) as exc:
            raise PredictionsFileError(f"{self.path}: {name} cannot be read ({exc})") from None


def read_predictions_file(path: str | Path) -> PredictionsFile:
    """The file's identity and list of scored files (the arrays are read when asked for)."""
    path = Path(path)
    what = "not a predictions file written by birdview-train predict --out FILE.npz"
    if not path.is_file():
        raise PredictionsFileError(f"{path}: no such file")
    try:
        with np.load(path, allow_pickle=False) as archive:
            identity = json.loads(str(np.asarray(archive["identity"]).reshape(-1)[0]))
            files = [str(f) for f in archive["files"]]
            hashes = [str(h) for h in archive["hashes"]]
            sizes = [int(s) for s in archive["sizes"]]
            windows = [int(w) for w in archive["windows"]]
            skipped = [str(s) for s in archive["skipped"]]
    except (OSError, ValueError, KeyError, zipfile.BadZipFile, EOFError, TypeError) as exc:
        raise PredictionsFileError(f"{path}: {what} ({exc})") from None
    if not isinstance(identity, dict) or identity.get("format") != FORMAT:
        raise PredictionsFileError(f"{path}: {what}")
    if int(identity.get("format_version", 0)) > FORMAT_VERSION:
        raise PredictionsFileError(
            f"{path}: written by a newer birdview-train (format {identity.get('format_version')}); update birdview"
        )
    if not len(files) == len(hashes) == len(sizes) == len(windows):
        raise PredictionsFileError(f"{path}: {what} (its file lists differ in length)")
    return PredictionsFile(path, identity, files, hashes, sizes, windows, skipped)
