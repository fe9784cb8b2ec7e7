"""Tile caches: a bounded in-memory LRU and an optional on-disk cache; the on-disk cache of
finished overviews. Both disk caches key a recording by its content (:func:`content_identity`),
so a moved or renamed file keeps its cached pictures and an edited one does not."""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import os
import threading
from collections import OrderedDict
from pathlib import Path

import numpy as np

from birdview.audio.identity import content_hash
from birdview.spectrogram.settings import SpectrogramSettings
from birdview.spectrogram.tiles import TILE_FORMAT, Tile, TileKey

#: Set to a folder to keep the per-user caches there; set empty to keep none.
CACHE_DIR_ENV = "BIRDVIEW_CACHE_DIR"


def content_identity(path: str | Path) -> str:
    """The project's content hash of the file, so a recording is recognised wherever it lies."""
    return content_hash(path)


#: What :func:`cached_identity` says of a file that cannot be read.
MISSING = "missing"
_identities: dict[tuple[str, int, int], str] = {}
_identities_lock = threading.Lock()


def cached_identity(path: str | Path) -> str:
    """:func:`content_identity`, worked out once per file version (size and modification time);
    :data:`MISSING` for a file that cannot be read."""
    try:
        stat = os.stat(path)
    except OSError:
        return MISSING
    version = (str(path), stat.st_size, stat.st_mtime_ns)
    with _identities_lock:
        found = _identities.get(version)
    if found is None:
        try:
            found = content_identity(path)
        except OSError:
            return MISSING
        with _identities_lock:
            if len(_identities) > 4096:
                _identities.clear()
            _identities[version] = found
    return found


def user_cache_dir() -> Path | None:
    """The per-user cache folder: ``$BIRDVIEW_CACHE_DIR`` when set (empty: no per-user cache),
    else ``$XDG_CACHE_HOME/birdview`` (``~/.cache/birdview``)."""
    chosen = os.environ.get(CACHE_DIR_ENV)
    if chosen is not None:
        return Path(chosen) if chosen.strip() else None
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "birdview"


def _trim_folder(folder: Path, max_bytes: int, pattern: str) -> None:
    """Remove the least recently written files until the folder holds at most ``max_bytes``."""
    files = []
    for path in folder.rglob(pattern):
        try:
            stat = path.stat()
        except OSError:
            continue
        files.append((stat.st_mtime, stat.st_size, path))
    total = sum(size for _, size, _ in files)
    for _, size, path in sorted(files):
        if total <= max_bytes:
            break
        path.unlink(missing_ok=True)
        total -= size


class TileMemoryCache:
    """Least-recently-used tiles, bounded by the bytes their images take."""

    def __init__(self, max_bytes: int = 256 * 1024 * 1024) -> None:
        self.max_bytes = max_bytes
        self._tiles: OrderedDict[TileKey, Tile] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    def get(self, key: TileKey) -> Tile | None:
        with self._lock:
            tile = self._tiles.get(key)
            if tile is not None:
                self._tiles.move_to_end(key)
            return tile

    def put(self, tile: Tile) -> None:
        with self._lock:
            old = self._tiles.pop(tile.key, None)
            if old is not None:
                self._bytes -= old.nbytes
            self._tiles[tile.key] = tile
            self._bytes += tile.nbytes
            while self._bytes > self.max_bytes and len(self._tiles) > 1:
                _, evicted = self._tiles.popitem(last=False)
                self._bytes -= evicted.nbytes

    @property
    def nbytes(self) -> int:
        return self._bytes

    def __len__(self) -> int:
        return len(self._tiles)

    def clear(self) -> None:
        with self._lock:
            self._tiles.clear()
            self._bytes = 0


class TileDiskCache:
    """Tiles as float16 ``.npz`` files in a folder, keyed by the recording's content
    (:func:`cached_identity`) and the tile's key without the path.

    Bounded by ``max_bytes``: the oldest files are removed when it grows past it.
    """

    def __init__(self, folder: str | Path, max_bytes: int = 2 * 1024**3) -> None:
        self.folder = Path(folder)
        self.max_bytes = max_bytes
        self.folder.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._writes = 0

    def _file_for(self, key: TileKey) -> Path:
        identity = cached_identity(key.path)
        # The content stands for the file; a file that cannot be read keeps its path in the key.
        where = key if identity == MISSING else dataclasses.replace(key, path="")
        digest = hashlib.sha1(f"{where!r}|{identity}|{TILE_FORMAT}".encode()).hexdigest()
        return self.folder / digest[:2] / f"{digest}.npz"

    def get(self, key: TileKey) -> Tile | None:
        path = self._file_for(key)
        try:
            with np.load(path) as stored:
                x0, x1, y0, y1 = (float(v) for v in stored["extent"])
                return Tile(key=key, db=stored["db"].astype(np.float32), x0=x0, x1=x1, y0=y0, y1=y1)
        except (OSError, KeyError, ValueError):
            return None

    def put(self, tile: Tile) -> None:
        path = self._file_for(tile.key)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            temporary = path.with_suffix(".tmp.npz")
            np.savez(temporary, db=tile.db.astype(np.float16), extent=np.array([tile.x0, tile.x1, tile.y0, tile.y1]))
            os.replace(temporary, path)
        except OSError:
            return  # a full or read-only disk only costs recomputation
        with self._lock:
            self._writes += 1
            if self._writes % 64 == 0:
                self._trim()

    def _trim(self) -> None:
        _trim_folder(self.folder, self.max_bytes, "*.npz")


class OverviewCache:
    """Finished overviews (the mean power of every column) as ``.npz`` files in a folder, keyed
    by the recording's content, its length, the spectrogram settings and how the overview samples
    the file. A file that cannot be read back (damaged, cut short, of another shape) counts as
    missing and is removed, so the overview is built again. Bounded by ``max_bytes``."""

    def __init__(self, folder: str | Path, max_bytes: int = 256 * 1024**2) -> None:
        self.folder = Path(folder)
        self.max_bytes = max_bytes
        self._lock = threading.Lock()

    def file_for(self, identity: str, frames: int, settings: SpectrogramSettings, scheme: str) -> Path:
        digest = hashlib.sha1(f"{identity}|{frames}|{settings!r}|{scheme}".encode()).hexdigest()
        return self.folder / f"{digest}.npz"

    def get(
        self, identity: str, frames: int, settings: SpectrogramSettings, scheme: str, shape: tuple[int, int]
    ) -> np.ndarray | None:
        """The stored power, shape ``shape`` (columns, bins), or None."""
        path = self.file_for(identity, frames, settings, scheme)
        if not path.exists():
            return None
        try:
            with np.load(path) as stored:
                db = stored["power_db"]
            if db.shape != shape or not np.isfinite(db).all():
                raise ValueError(f"holds {db.shape}, not {shape}")
            power = np.power(10.0, db.astype(np.float32) / 10.0, dtype=np.float32)
        except Exception:  # whatever is wrong with it, the overview is built again
            with contextlib.suppress(OSError):
                path.unlink(missing_ok=True)
            return None
        with contextlib.suppress(OSError):
            os.utime(path)  # recently used: trimmed last
        return power

    def put(self, identity: str, frames: int, settings: SpectrogramSettings, scheme: str, power: np.ndarray) -> None:
        path = self.file_for(identity, frames, settings, scheme)
        db = 10.0 * np.log10(np.maximum(power, 1e-30))
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            temporary = path.with_name(f"{path.stem}.{threading.get_ident()}.tmp.npz")
            np.savez(temporary, power_db=db.astype(np.float16))
            os.replace(temporary, path)
            with self._lock:
                _trim_folder(self.folder, self.max_bytes, "*.npz")
        except OSError:
            return  # a full or read-only disk only costs building it again
