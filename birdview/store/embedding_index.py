"""An approximate nearest-neighbour index over one model's stored embeddings, for similarity search
in projects too large for the exact matrix product (see ``birdview.review.similarity``).

usearch's HNSW graph, cosine metric, vectors kept as int8 (scalar quantisation): on 1,024-d
embeddings it builds about twice as fast as float16 on a CPU without float16 arithmetic and takes
half the memory; the candidates it returns are ranked again with the stored float16 embeddings,
which makes up for the coarser int8 distances (benchmarks/ann_benchmark.py measured it).

Two files beside the model's embeddings, neither of them a pickle:

- ``index.usearch``: usearch's own file. A window's key is ``recording_id << 32 | window``.
- ``index.json``: how many windows of each recording the index holds (always the first ones), the
  index file's size and entry count, and the parameters it was built with. An index file that does
  not match it (a crash between the two renames, a truncated or foreign file) is rebuilt from the
  stored embeddings, with a message saying so.

Changes are made under a lock file (``index.lock``), so that a search and a scoring job of one
project do not write the index at the same time.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from birdview.store.embeddings import INDEX_SIDECAR, EmbeddingFiles
from birdview.store.errors import ProjectError

INDEX_NAME = "index.usearch"
SIDECAR_NAME = INDEX_SIDECAR
LOCK_NAME = "index.lock"
FORMAT = 1
#: usearch parameters, chosen by benchmarks/ann_benchmark.py (recall@100 against exact search). int8
#: alone ranks only about 0.87 of the true top 100 right whatever the search depth, float16 about
#: 0.99 but builds half as fast: int8 with the exact re-ranking of twice as many candidates reaches
#: 0.98. ``EXPANSION_SEARCH`` is the search depth (usearch searches at least as deep as it is asked
#: for candidates).
DTYPE = "i8"
CONNECTIVITY = 16
EXPANSION_ADD = 128
EXPANSION_SEARCH = 512
#: Rows converted and added per call: bounded memory (128 MB of float32 at 1,024 dimensions).
ADD_BATCH = 32_768

_thread_locks: dict[Path, threading.Lock] = {}
_thread_locks_guard = threading.Lock()
#: Index files memory-mapped for searching, by path, with the file's (inode, size, mtime): mapping
#: one walks all its nodes, so a session maps it once, and again after it changed.
_views: dict[Path, tuple[tuple[int, int, int], object]] = {}


def keys_of(recording_id: int, first: int, stop: int) -> np.ndarray:
    """The keys of windows ``first`` to ``stop - 1`` of a recording."""
    return (np.uint64(recording_id) << np.uint64(32)) | np.arange(first, stop, dtype=np.uint64)


def split_keys(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(recording ids, windows) of keys."""
    keys = np.asarray(keys, dtype=np.uint64)
    return (keys >> np.uint64(32)).astype(np.int64), (keys & np.uint64(0xFFFFFFFF)).astype(np.int64)


@dataclass(frozen=True)
class IndexChange:
    added: int
    removed: int
    #: Why the index was built from scratch (None: it was brought up to date, or nothing changed).
    rebuilt: str | None
    seconds: float
    total: int


class _UnusableError(Exception):
    """The index files are missing, damaged or do not match each other."""


class EmbeddingIndex:
    """The index of one model's embeddings (``version``: the model whose embeddings are stored)."""

    def __init__(self, files: EmbeddingFiles, version: int, dim: int) -> None:
        self.files = files
        self.version = int(version)
        self.dim = int(dim)
        self.folder = files.model_folder(version)
        self.path = self.folder / INDEX_NAME
        self.sidecar = self.folder / SIDECAR_NAME

    def exists(self) -> bool:
        return self.path.exists() or self.sidecar.exists()

    def indexed(self) -> dict[int, int]:
        """Windows held per recording, as the sidecar says ({} without a usable one)."""
        try:
            return self._read_sidecar()[0]
        except _UnusableError:
            return {}

    # -- keeping it up to date ---------------------------------------------------------------------

    def update(
        self, stored: Mapping[int, int], say: Callable[[str], None] | None = None, threads: int = 0
    ) -> IndexChange:
        """Make the index hold exactly the first ``stored[recording_id]`` windows of each recording:
        the windows scored since it was saved are added, those no longer stored removed. A missing
        or damaged index is built from the stored embeddings (``say`` is told why)."""
        started = time.perf_counter()
        stored = {int(r): int(n) for r, n in stored.items() if int(n) > 0}
        with self._locked():
            reason = None
            try:
                indexed, rewritten = self._read_sidecar()
            except _UnusableError as problem:
                reason, indexed, rewritten = str(problem), {}, {}
            removals, additions = _plan(indexed, rewritten, stored)
            index = None
            try:
                if reason is None:
                    # Up to date: only a look at the file (memory-mapped); else it is read whole.
                    index = self._open(indexed, view=not (removals or additions or rewritten))
            except _UnusableError as problem:
                reason = str(problem)
                removals, additions = _plan({}, {}, stored)
            if index is not None and not (removals or additions or rewritten):
                return IndexChange(0, 0, None, time.perf_counter() - started, len(index))
            to_add = sum(stop - first for first, stop in additions.values())
            if reason is not None:
                index = self._new()
                if self.exists() and say is not None:
                    say(
                        f"the similarity index of model {self.version} is {reason}: building it again from the "
                        f"{to_add:,} stored embeddings"
                    )
                elif say is not None:
                    say(
                        f"building the similarity index of model {self.version} over {to_add:,} stored embeddings "
                        "(once; scoring adds to it from then on)"
                    )
            removed = 0
            if reason is not None:
                indexed = {}
            try:
                if removals:
                    keys = np.concatenate([keys_of(r, first, stop) for r, (first, stop) in removals.items()])
                    removed = int(np.sum(index.remove(keys)))
                indexed.update({r: first for r, (first, _) in removals.items()})
                for recording_id, (first, stop) in additions.items():
                    self._add(index, recording_id, first, stop, threads)
                    indexed[recording_id] = stop
            except (RuntimeError, MemoryError) as exc:  # usearch's own errors; the saved index is left as it was
                raise ProjectError(f"{self.path}: cannot update the similarity index ({exc})") from None
            self._save(index, {r: n for r, n in indexed.items() if n > 0})
            return IndexChange(to_add, removed, reason, time.perf_counter() - started, len(index))

    def _new(self):
        from usearch.index import Index

        return Index(
            ndim=self.dim,
            metric="cos",
            dtype=DTYPE,
            connectivity=CONNECTIVITY,
            expansion_add=EXPANSION_ADD,
            expansion_search=EXPANSION_SEARCH,
        )

    def note_rewrite(self, recording_id: int, first_window: int) -> None:
        """The embeddings of a recording are being written again from ``first_window`` on: the
        index entries from there on no longer hold, and are replaced at the next update."""
        if self.indexed().get(int(recording_id), 0) <= first_window:  # the usual case: no lock taken
            return
        with self._locked():
            try:
                indexed, rewritten = self._read_sidecar()
                state = json.loads(self.sidecar.read_text(encoding="utf-8"))
            except (_UnusableError, OSError, ValueError):
                return
            if indexed.get(int(recording_id), 0) <= first_window:
                return
            rewritten[int(recording_id)] = min(first_window, rewritten.get(int(recording_id), first_window))
            state["rewritten"] = {str(r): n for r, n in rewritten.items()}
            _replace_text(self.sidecar, json.dumps(state))

    def delete(self) -> None:
        self._forget_view()
        for path in (self.sidecar, self.path):
            path.unlink(missing_ok=True)

    # -- searching ---------------------------------------------------------------------------------

    def search(self, vectors: np.ndarray, count: int) -> list[tuple[np.ndarray, np.ndarray]]:
        """For each query vector, up to ``count`` nearest keys and their (int8-approximate) cosine
        similarities, nearest first. The index is memory-mapped, not read whole. Raises
        ProjectError where the index is missing or damaged (``update`` builds it again)."""
        try:
            indexed, _ = self._read_sidecar()
            index = self._open(indexed, view=True)
        except _UnusableError as problem:
            raise ProjectError(f"{self.path}: the similarity index is {problem}") from None
        index.expansion_search = max(EXPANSION_SEARCH, int(count))
        vectors = np.ascontiguousarray(np.atleast_2d(vectors), dtype=np.float32)
        matches = index.search(vectors, int(count))
        counts = getattr(matches, "counts", None)  # one query: Matches, holding only what it found
        found = []
        for row in range(len(vectors)):
            valid = len(matches.keys) if counts is None else int(counts[row])
            keys = np.atleast_2d(matches.keys)[row][:valid]
            distances = np.atleast_2d(matches.distances)[row][:valid]
            found.append((np.asarray(keys, dtype=np.uint64), 1.0 - np.asarray(distances, dtype=np.float32)))
        return found

    # -- files -------------------------------------------------------------------------------------

    def _read_sidecar(self) -> tuple[dict[int, int], dict[int, int]]:
        if not self.sidecar.exists():
            raise _UnusableError("missing" if not self.path.exists() else f"damaged ({SIDECAR_NAME} is missing)")
        try:
            state = json.loads(self.sidecar.read_text(encoding="utf-8"))
            wanted = {"format": FORMAT, "dim": self.dim, "dtype": DTYPE, "connectivity": CONNECTIVITY}
            if any(state.get(key) != value for key, value in wanted.items()):
                raise _UnusableError("of another format or build")
            indexed = {int(r): int(n) for r, n in state["recordings"].items()}
            rewritten = {int(r): int(n) for r, n in state.get("rewritten", {}).items()}
            count, size = int(state["count"]), int(state["file_bytes"])
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            raise _UnusableError(f"damaged ({SIDECAR_NAME} unreadable)") from None
        if not self.path.exists():
            raise _UnusableError(f"missing ({INDEX_NAME} is gone)")
        if self.path.stat().st_size != size or count != sum(indexed.values()):
            raise _UnusableError(f"damaged ({INDEX_NAME} does not match {SIDECAR_NAME})")
        return indexed, rewritten

    def _open(self, indexed: Mapping[int, int], view: bool):
        from usearch.index import Index

        if view:
            try:
                status = self.path.stat()
            except OSError:
                raise _UnusableError(f"missing ({INDEX_NAME} is gone)") from None
            signature = (status.st_ino, status.st_size, status.st_mtime_ns)
            with _thread_locks_guard:
                kept = _views.get(self.path)
            if kept is not None and kept[0] == signature and len(kept[1]) == sum(indexed.values()):
                return kept[1]
        try:
            meta = Index.metadata(os.fspath(self.path))
            if not meta or int(meta["dimensions"]) != self.dim:
                raise _UnusableError(f"damaged ({INDEX_NAME} is not an index of {self.dim}-d vectors)")
            index = Index.restore(os.fspath(self.path), view=view)
        except (ValueError, RuntimeError, OSError, KeyError, TypeError) as exc:
            raise _UnusableError(f"damaged ({INDEX_NAME}: {exc})") from None
        if index is None or len(index) != sum(indexed.values()):
            raise _UnusableError(f"damaged ({INDEX_NAME} does not match {SIDECAR_NAME})")
        if view:
            with _thread_locks_guard:
                _views[self.path] = (signature, index)
        return index

    def _forget_view(self) -> None:
        with _thread_locks_guard:
            _views.pop(self.path, None)

    def _add(self, index, recording_id: int, first: int, stop: int, threads: int) -> None:
        rows = self.files.read(self.version, recording_id, self.dim, stop)
        if len(rows) < stop:
            raise ProjectError(
                f"{self.files.path(self.version, recording_id)}: holds {len(rows)} embeddings, the project "
                f"{stop}; score the recording again (birdview score --rescore)"
            )
        for start in range(first, stop, ADD_BATCH):
            end = min(start + ADD_BATCH, stop)
            vectors = np.asarray(rows[start:end], dtype=np.float32)  # usearch normalises them for the cosine
            keys = keys_of(recording_id, start, end)
            index.add(keys, vectors, threads=threads)
            _reconnect(index, keys, vectors)

    def _save(self, index, indexed: Mapping[int, int]) -> None:
        temporary = self.path.with_name(self.path.name + ".tmp")
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            index.save(os.fspath(temporary))
            with open(temporary, "rb+") as handle:
                os.fsync(handle.fileno())
            state = {
                "format": FORMAT,
                "library": _usearch_version(),
                "dim": self.dim,
                "dtype": DTYPE,
                "connectivity": CONNECTIVITY,
                "expansion_add": EXPANSION_ADD,
                "count": len(index),
                "file_bytes": temporary.stat().st_size,
                "recordings": {str(r): n for r, n in sorted(indexed.items())},
            }
            # The sidecar goes first: an index file left without a matching sidecar is rebuilt.
            self._forget_view()
            self.sidecar.unlink(missing_ok=True)
            os.replace(temporary, self.path)
            _replace_text(self.sidecar, json.dumps(state))
        except (OSError, RuntimeError) as exc:
            temporary.unlink(missing_ok=True)
            raise ProjectError(f"{self.path}: cannot save the similarity index ({exc})") from None

    @contextmanager
    def _locked(self) -> Iterator[None]:
        """One writer at a time: a thread lock within the process, a file lock between processes
        (where the system has ``fcntl``)."""
        with _thread_locks_guard:
            lock = _thread_locks.setdefault(self.path, threading.Lock())
        with lock:
            try:
                import fcntl
            except ImportError:  # Windows: the thread lock only
                yield
                return
            self.folder.mkdir(parents=True, exist_ok=True)
            with open(self.folder / LOCK_NAME, "a+b") as handle:
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
                try:
                    yield
                finally:
                    fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def _reconnect(index, keys: np.ndarray, vectors: np.ndarray) -> int:
    """Add again, one at a time, the windows of a batch that a search for themselves does not find.
    usearch's parallel ``add`` can leave a node stored but unreachable (unum-cloud/USearch#735:
    about 1 in 1,000 of a batch, never found however near the query); adding it again alone links
    it. The check costs about 40 % of the parallel build, which stays twice as fast as a
    single-threaded one on two cores. Returns how many were added again."""
    if len(keys) < 2:
        return 0
    depth = index.expansion_search
    index.expansion_search = EXPANSION_ADD
    try:
        matches = index.search(vectors, 1)
    finally:
        index.expansion_search = depth
    found = np.asarray(matches.keys, dtype=np.uint64).reshape(len(keys), -1)[:, 0]
    lost = np.flatnonzero(found != keys)
    if len(lost):
        index.remove(keys[lost])
        index.add(keys[lost], vectors[lost], threads=1)
    return len(lost)


def _plan(
    indexed: Mapping[int, int], rewritten: Mapping[int, int], stored: Mapping[int, int]
) -> tuple[dict[int, tuple[int, int]], dict[int, tuple[int, int]]]:
    """What to remove and add, per recording: (first, stop) windows, to go from holding the first
    ``indexed`` windows of each recording (those from ``rewritten`` on no longer hold) to holding
    the first ``stored`` ones."""
    removals, additions = {}, {}
    for recording_id, have in indexed.items():
        keep = min(stored.get(recording_id, 0), rewritten.get(recording_id, have))
        if keep < have:
            removals[recording_id] = (keep, have)
    for recording_id, wanted in stored.items():
        have = removals.get(recording_id, (indexed.get(recording_id, 0),))[0]
        if wanted > have:
            additions[recording_id] = (have, wanted)
    return removals, additions


def _replace_text(path: Path, text: str) -> None:
    temporary = path.with_name(path.name + ".tmp")
    with open(temporary, "w", encoding="utf-8") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, path)


def _usearch_version() -> str:
    try:
        import usearch

        return f"usearch {usearch.__version__}"
    except (ImportError, AttributeError):
        return "usearch"
