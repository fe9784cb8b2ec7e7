"""Storage of a season of BirdNET-sized scoring, as the project keeps it: sizes, write and read times.

    python benchmarks/season_storage_benchmark.py [--recordings 4] [--hours 24] [--folder /tmp] [--keep]

A simulated BirdNET V2.4 (3 s windows, no overlap, 6,522 classes, 1,024-d embeddings) is
registered in a new project, and ``--recordings`` recordings of ``--hours`` each are added as rows
(empty placeholder files: no audio is read). Every recording is then "scored" the way
birdview.jobs.scoring stores it: ``Project.store_predictions`` once per chunk of 48 windows, with
the chunk's scores (float32, windows x 6,522) and embeddings (float32, windows x 1,024; kept as
float16 files). Per window nearly all scores are tiny (below 0.005, under the sparse floor of
0.01, as BirdNET's sigmoid outputs are) and 0 to 5 random classes, drawn from a local pool of
``--local-species`` with skewed weights, score between 0.01 and 1.

Measured: the time spent in store_predictions (windows/s, MB/s); the growth of the SQLite
database (after a WAL checkpoint) and of the embedding files, per recorded hour; reading one
recording's embeddings for a whole day (memory map, then every value touched), once just after
its pages were dropped from the page cache (posix_fadvise; a VM's host may still cache them) and
warm; one species' track over the day (``predictions(..., columns=[c])``); ``prediction_peaks``
over the day; a brute-force cosine search (normalise, one matrix product with a query, top 200)
over all written embeddings, from the files and from a float32 matrix in memory. Season totals
for ``--season-recordings`` x ``--season-hours`` are extrapolated from the measured per-hour
sizes, not written. The figure to compare with: the same predictions kept dense float16.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import statistics
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from birdview.audio.recording import RecordingInfo
from birdview.store.predictions import SPARSE, SPARSE_FLOOR
from birdview.store.project import Project

WINDOW_S = 3.0
CLASSES = 6522
EMBEDDING_DIM = 1024
CHUNK_WINDOWS = 48  # what scoring hands store_predictions at a time
SAMPLE_RATE = 48_000
TOP_K = 200
MB = 1e6


def database_bytes(project: Project) -> int:
    """The database with its WAL folded in (a checkpoint, as closing the project does)."""
    project.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return sum(p.stat().st_size for p in project.folder.glob(project.database.name + "*") if p.is_file())


def drop_cached(*paths: Path) -> None:
    """Ask the kernel to forget the (clean) cached pages of these files: the next read is from disk."""
    for path in paths:
        if not path.exists():
            continue
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        finally:
            os.close(fd)


def timed(call, repeats: int = 1) -> tuple[float, object]:
    """(median seconds over ``repeats`` calls, the last result)."""
    times, result = [], None
    for _ in range(repeats):
        started = time.perf_counter()
        result = call()
        times.append(time.perf_counter() - started)
    return statistics.median(times), result


class SimulatedBirdNet:
    """Chunks of scores and embeddings shaped like BirdNET V2.4's."""

    def __init__(self, seed: int, local_species: int) -> None:
        self.rng = np.random.default_rng(seed)
        self.local = self.rng.choice(CLASSES, size=local_species, replace=False)
        weights = 1.0 / np.arange(1, local_species + 1)  # a few common species, many rare ones
        self.weights = weights / weights.sum()

    def chunk(self, windows: int) -> tuple[np.ndarray, np.ndarray]:
        rng = self.rng
        scores = rng.random((windows, CLASSES), dtype=np.float32)
        scores *= scores  # skewed towards 0, all below 0.005
        scores *= 0.005
        hits = rng.integers(0, 6, size=windows)  # 0 to 5 classes a window above the floor
        rows = np.repeat(np.arange(windows), hits)
        columns = rng.choice(self.local, size=len(rows), p=self.weights)
        scores[rows, columns] = rng.uniform(SPARSE_FLOOR, 1.0, size=len(rows)).astype(np.float32)
        embeddings = np.abs(rng.standard_normal((windows, EMBEDDING_DIM), dtype=np.float32))
        return scores, embeddings


def add_recordings(project: Project, folder: Path, count: int, hours: float) -> list[int]:
    """Recording rows as add_probed makes them from a probed file; the files are empty placeholders."""
    folder.mkdir(parents=True, exist_ok=True)
    ids = []
    for i in range(count):
        start = datetime(2025, 5, 1) + timedelta(days=i // 20)
        path = folder / f"SITE{i % 20:02d}_{start:%Y%m%d_%H%M%S}.wav"
        path.touch()
        duration = hours * 3600.0
        info = RecordingInfo(path, duration, SAMPLE_RATE, 1, int(duration * SAMPLE_RATE), "WAV", start)
        row = project.add_probed(info, hashlib.sha1(path.name.encode()).hexdigest(), site=f"SITE{i % 20:02d}")
        ids.append(row.id)
    return ids


def top_k(similarities: np.ndarray, k: int) -> np.ndarray:
    k = min(k, len(similarities))
    best = np.argpartition(-similarities, k - 1)[:k]
    return best[np.argsort(-similarities[best], kind="stable")]


def search_files(project: Project, version: int, ids: list[int], query: np.ndarray) -> tuple[int, np.ndarray]:
    """Brute force over the memory-mapped files, one recording at a time: (embeddings, top scores)."""
    best = np.zeros(0, dtype=np.float32)
    total = 0
    for rid in ids:
        block = np.asarray(project.embeddings(version, rid), dtype=np.float32)
        block /= np.linalg.norm(block, axis=1, keepdims=True) + 1e-12
        similarities = block @ query
        total += len(block)
        best = np.concatenate([best, similarities[top_k(similarities, TOP_K)]])
        best = best[top_k(best, TOP_K)]
    return total, best


def search_memory(project: Project, version: int, ids: list[int], query: np.ndarray, repeats: int) -> float:
    """Median seconds of the search over all embeddings as one normalised float32 matrix in memory."""
    matrix = np.concatenate([np.asarray(project.embeddings(version, r), dtype=np.float32) for r in ids])
    matrix /= np.linalg.norm(matrix, axis=1, keepdims=True) + 1e-12
    seconds, _ = timed(lambda: top_k(matrix @ query, TOP_K), repeats)
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--recordings", type=int, default=4, help="recordings written for real (default 4)")
    parser.add_argument("--hours", type=float, default=24.0, help="hours per recording (default 24)")
    parser.add_argument("--folder", type=Path, default=None, help="where the temporary project goes (default /tmp)")
    parser.add_argument("--keep", action="store_true", help="keep the project folder")
    parser.add_argument("--season-recordings", type=int, default=1000)
    parser.add_argument("--season-hours", type=float, default=24.0)
    parser.add_argument("--local-species", type=int, default=250, help="classes that ever score >= 0.01")
    parser.add_argument("--repeats", type=int, default=5, help="warm reads: median of this many")
    args = parser.parse_args()

    windows_per_hour = 3600.0 / WINDOW_S
    windows = round(args.hours * windows_per_hour)
    embedding_bytes = args.recordings * windows * EMBEDDING_DIM * 2
    parent = args.folder or Path(tempfile.gettempdir())
    parent.mkdir(parents=True, exist_ok=True)
    free = shutil.disk_usage(parent).free
    if embedding_bytes * 1.2 + 500 * MB > free:
        sys.exit(f"{parent}: {free / 1e9:.1f} GB free, {embedding_bytes / 1e9:.1f} GB of embeddings needed")
    root = Path(tempfile.mkdtemp(prefix="birdview-season-", dir=parent))
    print(f"project in {root}; {args.recordings} recordings x {args.hours:g} h = {args.recordings * windows:,} windows")
    try:
        run(args, root, windows, windows_per_hour)
    finally:
        if args.keep:
            print(f"kept {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)


def run(args: argparse.Namespace, root: Path, windows: int, windows_per_hour: float) -> None:
    classes = [f"sp{i:04d}" for i in range(CLASSES)]
    project = Project.create(root / "project")
    try:
        project.add_model_species((code, None, None, "bird") for code in classes)
        model = project.register_model(
            "/nowhere/BirdNET_GLOBAL_6K_V2.4_Model.tflite",
            classes,
            window_s=WINDOW_S,
            activate=True,
            kind="birdnet",
            name="BirdNET V2.4 (simulated)",
            hop_s=WINDOW_S,
            sample_rate=SAMPLE_RATE,
            embedding_dim=EMBEDDING_DIM,
        )
        ids = add_recordings(project, root / "audio", args.recordings, args.hours)
        fixed_db = database_bytes(project)

        simulator = SimulatedBirdNet(0, args.local_species)
        store_times = []
        started = time.perf_counter()
        for n, rid in enumerate(ids, 1):
            for first in range(0, windows, CHUNK_WINDOWS):
                scores, embeddings = simulator.chunk(min(CHUNK_WINDOWS, windows - first))
                t0 = time.perf_counter()
                project.store_predictions(model.version, rid, scores, first_window=first, embeddings=embeddings)
                store_times.append(time.perf_counter() - t0)
            print(
                f"  recording {n}/{len(ids)} written ({time.perf_counter() - started:.0f} s so far, "
                f"{sum(store_times):.0f} s in store_predictions)",
                flush=True,
            )
        store_s = sum(store_times)

        total_hours = args.recordings * args.hours
        total_windows = args.recordings * windows
        db_growth = database_bytes(project) - fixed_db
        emb_bytes = project.embedding_files.bytes_used()
        blocks, blob_bytes, sparse_blocks = project.db.execute(
            "SELECT count(*), sum(length(scores)), sum(encoding = ?) FROM predictions", (SPARSE,)
        ).fetchone()
        kept = (blob_bytes - 4 * sparse_blocks) / 6  # sparse entries: 6 bytes each after a 4-byte count
        db_per_hour = db_growth / total_hours
        emb_per_hour = emb_bytes / total_hours
        dense_per_hour = windows_per_hour * CLASSES * 2
        season_hours = args.season_recordings * args.season_hours

        # -- reads of one recording's day -------------------------------------------------------
        rid = ids[0]
        embedding_file = project.embedding_files.path(model.version, rid)

        def read_embeddings() -> float:
            return float(project.embeddings(model.version, rid).astype(np.float32).sum())

        drop_cached(embedding_file)
        emb_cold, _ = timed(read_embeddings)
        emb_warm, _ = timed(read_embeddings, args.repeats)
        day_mb = embedding_file.stat().st_size / MB

        common = int(simulator.local[0])
        database_files = [p for p in project.folder.glob(project.database.name + "*") if p.is_file()]

        def track() -> np.ndarray:
            return project.predictions(model.version, rid, columns=[common])[1]

        def peaks() -> np.ndarray:
            return project.prediction_peaks(model.version, rid)

        project.db.execute("PRAGMA shrink_memory")  # SQLite's own page cache, then the kernel's
        drop_cached(*database_files)
        track_cold, column = timed(track)
        track_warm, column = timed(track, args.repeats)
        peaks_warm, top = timed(peaks, args.repeats)
        detected = int((column[:, 0] >= SPARSE_FLOOR).sum())

        # -- brute-force cosine search ---------------------------------------------------------
        rng = np.random.default_rng(1)
        query = np.abs(rng.standard_normal(EMBEDDING_DIM)).astype(np.float32)
        query /= np.linalg.norm(query)
        files_s, (searched, _) = timed(lambda: search_files(project, model.version, ids, query))
        memory_s = search_memory(project, model.version, ids, query, args.repeats)
        per_million_files = files_s / (searched / 1e6)
        per_million_memory = memory_s / (searched / 1e6)
        season_embeddings = season_hours * windows_per_hour
    finally:
        project.close()

    # -- the table ----------------------------------------------------------------------------------
    print()
    print(
        f"Written: {args.recordings} recordings x {args.hours:g} h = {total_hours:g} h, {total_windows:,} windows of "
        f"{WINDOW_S:g} s, {CLASSES} classes, {EMBEDDING_DIM}-d float16 embeddings, chunks of {CHUNK_WINDOWS}"
    )
    print(
        f"  {blocks:,} blocks ({sparse_blocks:,} sparse); {kept / total_windows:.2f} scores >= {SPARSE_FLOOR} kept "
        f"a window; project database {fixed_db / MB:.2f} MB before scoring (species, model row)"
    )
    print()
    rows = [
        ("store_predictions, all chunks", f"{store_s:.1f} s", f"{total_windows / store_s:,.0f} windows/s"),
        (
            "  written (embeddings + database)",
            f"{(emb_bytes + db_growth) / MB:,.0f} MB",
            f"{(emb_bytes + db_growth) / MB / store_s:.1f} MB/s",
        ),
        (
            "  one chunk of 48 windows, p50 / p95",
            f"{np.percentile(store_times, 50) * 1e3:.1f} / {np.percentile(store_times, 95) * 1e3:.1f} ms",
            f"{windows_per_hour * args.hours / CHUNK_WINDOWS:,.0f} chunks per recording",
        ),
        (
            "database (predictions), per recorded hour",
            f"{db_per_hour / 1e3:.1f} kB",
            f"blobs {blob_bytes / total_hours / 1e3:.1f} kB/h",
        ),
        (
            "embedding files, per recorded hour",
            f"{emb_per_hour / MB:.2f} MB",
            f"{day_mb:.1f} MB per {args.hours:g} h file",
        ),
        ("dense float16 predictions, per hour (computed)", f"{dense_per_hour / MB:.2f} MB", "not stored"),
        (
            "  sparse against dense",
            f"{dense_per_hour / db_per_hour:,.0f}x smaller",
            f"{db_per_hour / windows_per_hour:.0f} B a window",
        ),
        (
            f"read one recording's embeddings ({args.hours:g} h, {day_mb:.0f} MB), cold",
            f"{emb_cold * 1e3:.0f} ms",
            f"{day_mb / emb_cold:,.0f} MB/s",
        ),
        ("  the same, warm (median)", f"{emb_warm * 1e3:.0f} ms", f"{day_mb / emb_warm:,.0f} MB/s"),
        (
            f"one species' track over {args.hours:g} h, cold / warm",
            f"{track_cold * 1e3:.0f} / {track_warm * 1e3:.0f} ms",
            f"{len(column):,} windows, {detected} >= {SPARSE_FLOOR}",
        ),
        (f"prediction_peaks over {args.hours:g} h, warm", f"{peaks_warm * 1e3:.0f} ms", f"top {top.max():.2f}"),
        (
            f"cosine top {TOP_K}, from the files ({searched:,} embeddings)",
            f"{files_s:.2f} s",
            f"{per_million_files:.2f} s per million",
        ),
        ("  the same, float32 matrix in memory", f"{memory_s:.3f} s", f"{per_million_memory:.2f} s per million"),
    ]
    width = max(len(r[0]) for r in rows)
    for label, value, note in rows:
        print(f"{label:<{width}}  {value:>16}  {note}")
    print()
    print(
        f"Extrapolated, NOT written: a season of {args.season_recordings:,} recordings x {args.season_hours:g} h "
        f"= {season_hours:,.0f} h, {season_embeddings / 1e6:.1f} M windows, from the measured per-hour sizes:"
    )
    season = [
        ("database (sparse predictions)", f"{db_per_hour * season_hours / 1e9:.2f} GB"),
        ("embedding files", f"{emb_per_hour * season_hours / 1e9:.1f} GB"),
        ("dense float16 predictions instead (computed)", f"{dense_per_hour * season_hours / 1e9:.0f} GB"),
        (
            "writing it at the measured rate (storage only)",
            f"{season_embeddings / (total_windows / store_s) / 3600:.1f} h",
        ),
        (
            "cosine search over the season, float32 in memory",
            f"{per_million_memory * season_embeddings / 1e6:.0f} s "
            f"(needs {season_embeddings * EMBEDDING_DIM * 4 / 1e9:.0f} GB)",
        ),
        (
            "  from the files at the cold read rate",
            f"{emb_per_hour * season_hours / MB / (day_mb / emb_cold) / 60:.1f} min to read "
            f"{emb_per_hour * season_hours / 1e9:.0f} GB, + {per_million_files * season_embeddings / 1e6 / 60:.1f} "
            "min of search work (the files rate, warm)",
        ),
    ]
    width = max(len(r[0]) for r in season)
    for label, value in season:
        print(f"  {label:<{width}}  {value}")


if __name__ == "__main__":
    main()
