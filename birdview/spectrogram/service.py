"""Computes spectrogram tiles (or waveform envelope tiles) on worker threads, most wanted first,
and caches them."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from birdview.audio.recording import AudioFileError, Recording
from birdview.spectrogram.cache import TileDiskCache, TileMemoryCache
from birdview.spectrogram.tiles import Tile, TileKey, compute_tile
from birdview.system.priority import TILE_NICE, lower_this_thread

TileCallback = Callable[[Tile], None]
ErrorCallback = Callable[[TileKey, Exception], None]


@dataclass
class _Job:
    recording: Recording
    key: TileKey
    on_ready: TileCallback
    on_error: ErrorCallback


class TileService:
    """Thread pool for tiles. Each :meth:`request` replaces what its client (a view: one pane per
    channel of a recording) still has waiting, so tiles the user has scrolled away from are never
    computed; the workers serve the clients in turn, so stacked panes fill in together."""

    def __init__(
        self,
        workers: int = 2,
        memory: TileMemoryCache | None = None,
        disk: TileDiskCache | None = None,
        compute: Callable[[Recording, TileKey], Tile] = compute_tile,
    ) -> None:
        self.memory = memory or TileMemoryCache()
        self.disk = disk
        #: What a tile is made with: spectrogram tiles, or waveform envelopes (birdview.spectrogram.waveform).
        self.compute = compute
        self._waiting: dict[object, list[_Job]] = {}
        self._turn = 0
        self._running: set[TileKey] = set()
        self._condition = threading.Condition()
        self._stopped = False
        self._threads = [
            threading.Thread(target=self._work, name=f"tile-worker-{i}", daemon=True) for i in range(workers)
        ]
        for thread in self._threads:
            thread.start()

    def cached(self, key: TileKey) -> Tile | None:
        return self.memory.get(key)

    def request(
        self,
        recording: Recording,
        keys: Sequence[TileKey],
        on_ready: TileCallback,
        on_error: ErrorCallback,
        client: object = None,
    ) -> list[Tile]:
        """Return the tiles already in memory; queue the others (in the given order of priority)
        in place of what ``client`` had waiting."""
        ready: list[Tile] = []
        jobs: list[_Job] = []
        for key in keys:
            tile = self.memory.get(key)
            if tile is not None:
                ready.append(tile)
            else:
                jobs.append(_Job(recording, key, on_ready, on_error))
        with self._condition:
            self._waiting[client] = [job for job in jobs if job.key not in self._running]
            self._condition.notify_all()
        return ready

    def cancel(self, client: object = None) -> None:
        """Drop what ``client`` has waiting."""
        with self._condition:
            self._waiting.pop(client, None)

    def cancel_all(self) -> None:
        with self._condition:
            self._waiting = {}

    def _next_job(self) -> _Job | None:
        """The most wanted job of the next client in turn that has one (under the lock)."""
        queues = [jobs for jobs in self._waiting.values() if jobs]
        if not queues:
            return None
        self._turn = (self._turn + 1) % len(queues)
        return queues[self._turn].pop(0)

    def shutdown(self) -> None:
        with self._condition:
            self._stopped = True
            self._waiting = {}
            self._condition.notify_all()
        for thread in self._threads:
            thread.join(timeout=5)

    def _work(self) -> None:
        lower_this_thread(TILE_NICE)  # the GUI thread paints first
        while True:
            with self._condition:
                job = None
                while not self._stopped and (job := self._next_job()) is None:
                    self._condition.wait()
                if self._stopped:
                    return
                self._running.add(job.key)
            try:
                tile = self._load(job)
            except (AudioFileError, ValueError, OSError) as exc:
                job.on_error(job.key, exc)
            else:
                job.on_ready(tile)
            finally:
                with self._condition:
                    self._running.discard(job.key)

    def _load(self, job: _Job) -> Tile:
        tile = self.memory.get(job.key)
        if tile is None and self.disk is not None:
            tile = self.disk.get(job.key)
        if tile is None:
            tile = self.compute(job.recording, job.key)
            if self.disk is not None:
                self.disk.put(tile)
        self.memory.put(tile)
        return tile
