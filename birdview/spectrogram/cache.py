"""Tile caches: a bounded in-memory LRU and an optional on-disk cache."""

from __future__ import annotations

import hashlib
import os
import threading
from collections import OrderedDict
from pathlib import Path

import numpy as np

from birdview.spectrogram.tiles import TILE_FORMAT, Tile, TileKey


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
    """Tiles as float16 ``.npz`` files in a folder, keyed by file identity (size, mtime) and settings.

    Bounded by ``max_bytes``: the oldest files are removed when it grows past it.
    """

    def __init__(self, folder: str | Path, max_bytes: int = 2 * 1024**3) -> None:
        self.folder = Path(folder)
        self.max_bytes = max_bytes
        self.folder.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._writes = 0

    def _file_for(self, key: TileKey) -> Path:
        try:
            stat = os.stat(key.path)
            identity = f"{stat.st_size}:{stat.st_mtime_ns}"
        except OSError:
            identity = "missing"
        digest = hashlib.sha1(f"{key!r}|{identity}|{TILE_FORMAT}".encode()).hexdigest()
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
        files = [(p.stat().st_mtime, p.stat().st_size, p) for p in self.folder.rglob("*.npz")]
        total = sum(size for _, size, _ in files)
        for _, size, path in sorted(files):
            if total <= self.max_bytes:
                break
            path.unlink(missing_ok=True)
            total -= size
