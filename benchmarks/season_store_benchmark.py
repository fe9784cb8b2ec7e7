"""A season of predictions in the project store: writing, size, opening, and the queries the app makes.

    python benchmarks/season_store_benchmark.py [--recordings 100] [--hours 24] [--classes 200]
        [--fast-after 20] [--open-recordings 10000] [--migration-recordings 20] [--folder /tmp] [--keep]
    python benchmarks/season_store_benchmark.py --project KEPT/season/project [--repeats 3]

``--project``: only the queries, on a project an earlier run kept (``--keep``; the same
``--classes``, ``--sites`` and ``--local-species``), so that code can be compared on the same data.

Issue 17's scale is ``--recordings 1000`` (1,000 x 24 h x 200 classes = 17.3 million windows; about
half an hour here with ``--fast-after 50``); the default, 100 recordings, takes about 5 minutes.
A birdview-train model (5 s windows, no overlap, no embeddings) has scored ``--recordings``
recordings of ``--hours`` each. Recordings are rows as ``add_probed`` makes them (empty placeholder
files, no audio), one recorder per site (``--sites``) recording day after day from midnight, the
sites' seasons staggered over ``--days`` days. Scores are stored the way scoring stores them:
``Project.store_predictions`` once per chunk of 48 windows. Per window nearly every score is below
0.005 (under the sparse floor, as a sigmoid's outputs are) and a Poisson number of species from the
site's local pool (``--local-species``: a few common, many rare; the regional commons at most sites)
scores 0.01 to 1 (Beta(0.7, 5): most calls faint), more at dawn and dusk than at night. The
recordings after the first ``--fast-after`` are written with ``PRAGMA synchronous=OFF``, only to
fill the project sooner (the same blocks): the write rate is that of the first ones, with the app's
settings.

Measured, against a baseline in the same run where there is one:

- writing: the time in store_predictions (windows/s, one chunk's p50 / p95), the database's size
  (after a WAL checkpoint) and its tables';
- opening, in a fresh process (so ``PRAGMA quick_check`` runs, as when the app starts; the file is
  in the OS's cache): ``Project.open`` and ``recordings()``;
- the view: ``birdview.review.tracks.visible_tracks`` for 60 s (what the probability panel asks
  for), median and p95 over random views;
- a species over the season: ``birdview.review.queue.candidates`` for one species at or above 0.5
  (the review queue's and the detections export's query), for a common species and a rare one
  (at the fewest sites), against the same call with the store reading as it did before blocks
  had maxima (every block decoded, one at a time); both must find the same candidates;
- a site x date summary: windows of the common species at or above 0.5 per site and date, through
  ``Project.prediction_entries_of`` (same baseline); and
  ``birdview.season.tables.detection_table(by=site,date)`` for that species (no baseline; its
  total must equal the counts');
- schema 7's and 8's migrations: a project of ``--migration-recordings`` recordings stored as schema
  6 stored them (every 48-window chunk a block, no maxima, no peaks), opened in a fresh process;
  every score must read back as before;
- a project of ``--open-recordings`` recordings (rows only, one model, nothing scored) opened in a
  fresh process: ``Project.open``, ``recordings()``, and what the window reads at open (the list
  three more times, the models, the species table; ``missing_recordings()`` apart).
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from birdview.audio.recording import RecordingInfo
from birdview.review.queue import candidates
from birdview.review.tracks import visible_tracks
from birdview.store import predictions
from birdview.store.predictions import SPARSE_FLOOR
from birdview.store.project import Project
from birdview.store.schema import MIGRATIONS

WINDOW_S = 5.0
CHUNK_WINDOWS = 48  # what scoring hands store_predictions at a time
SAMPLE_RATE = 32_000
THRESHOLD = 0.5
VIEW_S = 60.0
MB = 1e6
#: Expected species with a score >= 0.01 per window, by hour of the day: dawn and dusk choruses.
ACTIVITY = np.array(
    [0.3, 0.3, 0.3, 0.4, 1.5, 4.0, 4.0, 3.0, 2.0, 1.5, 1.2, 1.0] + [1.0] * 5 + [1.5, 2.5, 2.0, 1.0, 0.5, 0.3, 0.3]
)

OPEN_CHILD = """
import json, sys, time
sys.path.insert(0, sys.argv[2])
started = time.perf_counter()
from birdview.store.project import Project
from birdview.store.schema import MIGRATIONS
imported = time.perf_counter()
project = Project.open(sys.argv[1])
opened = time.perf_counter()
rows = project.recordings()
listed = time.perf_counter()
project.models(); project.active_model(); project.species_table(); project.recordings(); project.recordings()
read = time.perf_counter()
missing = project.missing_recordings()
checked = time.perf_counter()
project.close()
print(json.dumps({"import": imported - started, "open": opened - imported, "recordings": listed - opened,
                  "window_reads": read - listed, "missing": checked - read, "rows": len(rows),
                  "missing_rows": len(missing)}))
"""


def database_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.glob("project.sqlite*") if p.is_file())


def table_sizes(database: Path) -> dict[str, int]:
    connection = sqlite3.connect(database)
    try:
        return dict(connection.execute("SELECT name, sum(pgsize) FROM dbstat GROUP BY name"))
    finally:
        connection.close()


def timed(call, repeats: int = 1) -> tuple[float, list[float], object]:
    """(median seconds, every time, the last result); CPU seconds of the last call in ``timed.cpu``
    (this process's own time: less swayed than wall time by other work on a shared machine)."""
    times, cpu, result = [], [], None
    for _ in range(repeats):
        started, used = time.perf_counter(), time.process_time()
        result = call()
        times.append(time.perf_counter() - started)
        cpu.append(time.process_time() - used)
    timed.cpu = statistics.median(cpu)
    return statistics.median(times), times, result


def both(seconds: float) -> str:
    """Wall time and this process's CPU time of the call just timed."""
    return f"{seconds:.2f} s (CPU {timed.cpu:.2f} s)"


def open_in_child(folder: Path) -> dict:
    done = subprocess.run(
        [sys.executable, "-c", OPEN_CHILD, str(folder), str(Path(__file__).resolve().parents[1])],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


class Season:
    """Sites, their recordings' start times and scores shaped like a trained model's over a season."""

    def __init__(self, classes: int, sites: int, local: int, seed: int = 0) -> None:
        self.rng = np.random.default_rng(seed)
        self.classes = classes
        regional = 1.0 / np.arange(1, classes + 1) ** 0.8  # class 0 the commonest in the region
        regional /= regional.sum()
        size = min(local, classes)
        self.pools = [self.rng.choice(classes, size=size, replace=False, p=regional) for _ in range(sites)]
        for pool in self.pools:  # each pool in order of the regional abundance: commoner first
            pool.sort()
        weights = 1.0 / np.arange(1, size + 1)
        self.weights = weights / weights.sum()

    def scores(self, site: int, start: datetime, windows: int) -> np.ndarray:
        rng = self.rng
        scores = rng.random((windows, self.classes), dtype=np.float32)
        scores *= scores
        scores *= 0.005
        seconds = start.hour * 3600 + start.minute * 60 + start.second + np.arange(windows) * WINDOW_S
        hits = rng.poisson(ACTIVITY[(seconds // 3600).astype(np.int64) % 24])
        rows = np.repeat(np.arange(windows), hits)
        columns = rng.choice(self.pools[site], size=len(rows), p=self.weights)
        scores[rows, columns] = (SPARSE_FLOOR + (1 - SPARSE_FLOOR) * rng.beta(0.7, 5.0, size=len(rows))).astype(
            np.float32
        )
        return scores


def schedule(recordings: int, sites: int, days: int) -> list[tuple[int, datetime]]:
    """(site, start) of each recording: each site records day after day from its own first day,
    the sites' first days spread over the season."""
    sites = max(1, min(sites, recordings))
    per_site = -(-recordings // sites)
    spread = max(0, days - per_site)
    found = []
    for i in range(recordings):
        site, day = i % sites, i // sites
        first = round(site * spread / max(1, sites - 1)) if sites > 1 else 0
        found.append((site, datetime(2025, 4, 15) + timedelta(days=first + day)))
    return found


def add_rows(project: Project, folder: Path, plan: list[tuple[int, datetime]], hours: float) -> list[int]:
    folder.mkdir(parents=True, exist_ok=True)
    ids = []
    for site, start in plan:
        path = folder / f"S{site:02d}_{start:%Y%m%d_%H%M%S}.wav"
        path.touch()
        duration = hours * 3600.0
        info = RecordingInfo(path, duration, SAMPLE_RATE, 1, int(duration * SAMPLE_RATE), "WAV", start)
        ids.append(project.add_probed(info, hashlib.sha1(path.name.encode()).hexdigest(), site=f"S{site:02d}").id)
    return ids


def register(project: Project, classes: list[str]) -> int:
    project.add_model_species((code, None, None, "bird") for code in classes)
    model = project.register_model("/nowhere/season.ckpt", classes, window_s=WINDOW_S, activate=True, hop_s=WINDOW_S)
    return model.version


@contextlib.contextmanager
def reading_every_block() -> Iterator[None]:
    """The store's queries as they read before blocks had maxima, the baseline: every block of a
    recording decoded, one at a time (``min_score`` ignored); ``prediction_entries(_of)`` the
    scores of those blocks at or above the cuts, one recording at a time."""
    originals = {
        name: getattr(Project, name) for name in ("prediction_blocks", "prediction_entries", "prediction_entries_of")
    }

    def reading_all(self, version, recording_id, columns=None, min_score=None):
        n_classes = len(self.model(version).classes)
        for first, windows, blob, encoding in self.db.execute(
            "SELECT first_window, windows, scores, encoding FROM predictions WHERE model_version = ? "
            "AND recording_id = ? ORDER BY first_window",
            (version, recording_id),
        ).fetchall():
            yield first, predictions.decode(encoding, blob, windows, n_classes, columns)

    def entries(self, version, recording_id, target, lowest):
        target, lowest = np.asarray(target), np.asarray(lowest, dtype=np.float32)
        wanted = np.flatnonzero(target >= 0)
        found = [np.zeros(0, np.int64)], [np.zeros(0, np.int64)], [np.zeros(0, np.float32)]
        for first, block in reading_all(self, version, recording_id, wanted.tolist()):
            rows, cols = np.nonzero(block >= lowest[target[wanted]])
            for part, values in zip(found, (first + rows, target[wanted[cols]], block[rows, cols]), strict=True):
                part.append(values)
        window, code, score = (np.concatenate(part) for part in found)
        order = np.lexsort((code, window))
        return window[order], code[order], score[order]

    def entries_of(self, version, recording_ids, target, lowest):
        for recording_id in recording_ids:
            yield recording_id, *entries(self, version, recording_id, target, lowest)

    for name, stand_in in zip(originals, (reading_all, entries, entries_of), strict=True):
        setattr(Project, name, stand_in)
    try:
        yield
    finally:
        for name, original in originals.items():
            setattr(Project, name, original)


def site_date_counts(project: Project, version: int, column: int, threshold: float) -> Counter:
    """Windows of one species at or above the threshold per (site, date of the window's start),
    from ``Project.prediction_entries_of`` (what the season's tables read)."""
    counts: Counter = Counter()
    target = np.full(len(project.model(version).classes), -1, dtype=np.int64)
    target[column] = 0
    lowest = np.array([threshold - 5e-4], dtype=np.float32)
    recordings = project.recordings()
    found = project.prediction_entries_of(version, [r.id for r in recordings], target, lowest)
    for recording, (_, window, _, _) in zip(recordings, found, strict=True):
        start = datetime.fromisoformat(recording.start_time)
        base = start.hour * 3600 + start.minute * 60 + start.second
        days, number = np.unique((base + window * WINDOW_S) // 86400, return_counts=True)
        for day, n in zip(days, number, strict=True):
            counts[(recording.site, start.date() + timedelta(days=int(day)))] += int(n)
    return counts


def build(args: argparse.Namespace, folder: Path, windows: int) -> dict:
    classes = [f"sp{i:03d}" for i in range(args.classes)]
    season = Season(args.classes, args.sites, args.local_species)
    plan = schedule(args.recordings, args.sites, args.days)
    project = Project.create(folder / "project")
    try:
        version = register(project, classes)
        ids = add_rows(project, folder / "audio", plan, args.hours)
        project.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        empty = database_bytes(project.folder)
        store_times: list[float] = []
        kept = high = 0
        started = time.perf_counter()
        synced = len(ids) if args.fast_after is None else min(args.fast_after, len(ids))
        for n, (rid, (site, start)) in enumerate(zip(ids, plan, strict=True), 1):
            if n == synced + 1:
                project.db.execute("PRAGMA synchronous=OFF")  # the rest only to fill the project sooner
            scores = season.scores(site, start, windows)
            kept += int(np.count_nonzero(scores >= SPARSE_FLOOR))
            high += int(np.count_nonzero(scores >= THRESHOLD))
            for first in range(0, windows, CHUNK_WINDOWS):
                t0 = time.perf_counter()
                project.store_predictions(version, rid, scores[first : first + CHUNK_WINDOWS], first_window=first)
                store_times.append(time.perf_counter() - t0)
            if n == synced:
                synced_times = list(store_times)
            if n % max(1, len(ids) // 10) == 0 or n == len(ids):
                print(
                    f"  {n}/{len(ids)} recordings written ({time.perf_counter() - started:.0f} s, "
                    f"{sum(store_times):.0f} s in store_predictions)",
                    flush=True,
                )
        project.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        size = database_bytes(project.folder)
    finally:
        project.close()
    return {
        "version": version,
        "synced": synced,
        "synced_times": synced_times,
        "classes": classes,
        "season": season,
        "store_times": store_times,
        "kept": kept,
        "high": high,
        "empty": empty,
        "size": size,
        "tables": table_sizes(folder / "project" / "project.sqlite"),
    }


def measure_queries(args: argparse.Namespace, folder: Path, built: dict, windows: int) -> list[tuple[str, str, str]]:
    rows: list[tuple[str, str, str]] = []
    version, classes, season = built["version"], built["classes"], built["season"]
    project = Project.open(folder / "project")
    try:
        recordings = project.recordings()
        rng = np.random.default_rng(1)
        duration = args.hours * 3600.0

        def view() -> object:
            recording = recordings[int(rng.integers(len(recordings)))]
            t0 = float(rng.uniform(0, max(0.0, duration - VIEW_S)))
            return visible_tracks(project, version, recording.id, t0, t0 + VIEW_S)

        _, times, _ = timed(view, args.views)
        ms = np.array(times) * 1e3
        rows.append(
            (
                f"a {VIEW_S:g} s view's scores (`visible_tracks`), median / p95 of {args.views}",
                f"{np.median(ms):.2f} / {np.percentile(ms, 95):.2f} ms",
                "< 20 ms",
            )
        )

        common = classes[int(season.pools[0][0])]
        # The rare species: at the fewest sites, the commonest of those in the region.
        sites_of = Counter(int(c) for pool in season.pools for c in pool)
        rare = classes[min(sites_of, key=lambda c: (sites_of[c], c))]
        for label, code in (("common", common), ("rare", rare)):

            def query(code: str = code) -> list:
                return candidates(project, version, code, min_score=THRESHOLD, show="all", order="time")

            seconds, _, found = timed(query, args.repeats)
            after = both(seconds)
            with reading_every_block():
                before, _, everything = timed(query)
            assert found == everything, f"{code}: the candidates differ with and without the blocks' maxima"
            rows.append(
                (
                    f"{label} species ({code}) >= {THRESHOLD} over the season (`candidates`): {len(found):,} windows",
                    f"{after}; every block, one at a time: {both(before)}",
                    "< 2 s",
                )
            )

        column = classes.index(common)
        seconds, _, counts = timed(lambda: site_date_counts(project, version, column, THRESHOLD), args.repeats)
        after = both(seconds)
        with reading_every_block():
            before, _, everything = timed(lambda: site_date_counts(project, version, column, THRESHOLD))
        assert counts == everything
        rows.append(
            (
                f"site x date counts of {common} >= {THRESHOLD} (`prediction_entries_of`): {len(counts):,} cells",
                f"{after}; every block, one at a time: {both(before)}",
                "< 2 s",
            )
        )
        try:
            from birdview.season.tables import detection_table
        except ImportError:
            detection_table = None
        if detection_table is not None:
            seconds, _, table = timed(
                lambda: detection_table(project, version, by=("site", "date"), species=[common], threshold=THRESHOLD),
                args.repeats,
            )
            total = int(table["detections"].sum())
            assert total == sum(counts.values()), (total, sum(counts.values()))
            rows.append(
                (
                    f"`detection_table(by=site,date)` of {common} >= {THRESHOLD}: {len(table):,} rows",
                    both(seconds),
                    "< 2 s",
                )
            )
    finally:
        project.close()

    return rows


def queries_only(args: argparse.Namespace, folder: Path, windows: int) -> None:
    """The queries of :func:`measure_queries` on a project kept by an earlier run."""
    with Project.open(folder) as project:
        model = project.active_model()
        recordings = len(project.recordings())
    built = {
        "version": model.version,
        "classes": model.classes,
        "season": Season(len(model.classes), args.sites, args.local_species),
    }
    args.hours = windows * WINDOW_S / 3600.0
    print(f"{folder}: {recordings:,} recordings, model v{model.version} ({len(model.classes)} classes)")
    rows = measure_queries(args, folder.parent, built, windows)
    print()
    print("| measurement | result | note / goal |")
    print("|---|---|---|")
    for label, value, note in rows:
        print(f"| {label} | {value} | {note} |")


def version_6_project(folder: Path, args: argparse.Namespace, windows: int) -> tuple[dict[int, str], Season]:
    """A project as birdview stored it at schema 6 (every 48-window chunk a block of its own, no
    maxima), written directly with SQL; returns a digest of each recording's scores as they read
    back then, and the season simulated."""
    classes = [f"sp{i:03d}" for i in range(args.classes)]
    season = Season(args.classes, args.sites, args.local_species, seed=7)
    folder.mkdir(parents=True)
    connection = sqlite3.connect(folder / "project.sqlite", isolation_level=None)
    for step in MIGRATIONS[:6]:
        step(connection) if callable(step) else connection.executescript(step)
    connection.execute("INSERT INTO meta VALUES ('schema_version', '6')")
    connection.executemany("INSERT INTO species(code) VALUES (?)", [(code,) for code in classes])
    connection.execute(
        "INSERT INTO models(path, created_at, classes, active, hop_s, window_s) VALUES ('/m.ckpt', 't', ?, 1, ?, ?)",
        (json.dumps(classes), WINDOW_S, WINDOW_S),
    )
    read_back = {}
    for rid, (site, start) in enumerate(schedule(args.migration_recordings, args.sites, args.days), 1):
        connection.execute(
            "INSERT INTO recordings(id, path, name, size, content_hash, duration_s, sample_rate, channels, added_at, "
            "start_time, site) VALUES (?, ?, ?, 1, 'h', ?, ?, 1, 't', ?, ?)",
            (rid, f"/old/{rid}.wav", f"{rid}.wav", windows * WINDOW_S, SAMPLE_RATE, start.isoformat(), f"S{site:02d}"),
        )
        scores = season.scores(site, start, windows)
        parts = []
        connection.execute("BEGIN")
        for first in range(0, windows, CHUNK_WINDOWS):
            chunk = scores[first : first + CHUNK_WINDOWS]
            encoding, blob = predictions.encode(chunk)
            parts.append(predictions.decode(encoding, blob, len(chunk), args.classes))
            connection.execute(
                "INSERT INTO predictions(model_version, recording_id, first_window, windows, scores, encoding) "
                "VALUES (1, ?, ?, ?, ?, ?)",
                (rid, first, len(chunk), blob, encoding),
            )
        connection.execute("COMMIT")
        read_back[rid] = hashlib.sha1(np.concatenate(parts).tobytes()).hexdigest()
    connection.close()
    return read_back, season


def species_of(season: Season, classes: list[str]) -> tuple[str, str]:
    """A common species (the first site's commonest) and a rare one (at the fewest sites, the
    region's commonest of those)."""
    sites_of = Counter(int(c) for pool in season.pools for c in pool)
    return classes[int(season.pools[0][0])], classes[min(sites_of, key=lambda c: (sites_of[c], c))]


def season_queries(project: Project, common: str, rare: str, repeats: int) -> dict[str, tuple[str, object]]:
    """The season-wide queries: (wall and CPU time, result) by name."""
    model = project.active_model()
    found = {}
    for name, call in (
        (
            f"common species ({common})",
            lambda: candidates(project, model.version, common, min_score=THRESHOLD, show="all", order="time"),
        ),
        (
            f"rare species ({rare})",
            lambda: candidates(project, model.version, rare, min_score=THRESHOLD, show="all", order="time"),
        ),
        (
            f"site x date counts of {common}",
            lambda: site_date_counts(project, model.version, model.classes.index(common), THRESHOLD),
        ),
    ):
        seconds, _, result = timed(call, repeats)
        found[name] = (both(seconds), result)
    return found


def migrate_old(args: argparse.Namespace, folder: Path, windows: int) -> list[tuple[str, str, str]]:
    """Schema 6's layout read as before this change, the migration, and the same queries after it."""
    import birdview.store.project as project_module

    started = time.perf_counter()
    digests, season = version_6_project(folder / "project", args, windows)
    print(f"  {len(digests):,} recordings stored as schema 6 did in {time.perf_counter() - started:.0f} s", flush=True)
    common, rare = species_of(season, [f"sp{i:03d}" for i in range(args.classes)])
    (blocks,) = (
        sqlite3.connect(folder / "project" / "project.sqlite").execute("SELECT count(*) FROM predictions").fetchone()
    )
    # Before: the blocks as schema 6 stored them, read as birdview read them (migration held back).
    migrate = project_module.migrate
    project_module.migrate = lambda connection: 6
    try:
        with reading_every_block(), Project.open(folder / "project") as project:
            before = season_queries(project, common, rare, 1)
    finally:
        project_module.migrate = migrate
    child = open_in_child(folder / "project")
    with Project.open(folder / "project") as project:
        (joined,) = project.db.execute("SELECT count(*) FROM predictions").fetchone()
        after = season_queries(project, common, rare, args.repeats)
        for rid, digest in digests.items():
            back = hashlib.sha1(project.predictions(1, rid)[1].tobytes()).hexdigest()
            assert back == digest, f"recording {rid} reads back otherwise"
    rows = [
        (
            f"migrations 7 and 8 at open: {len(digests):,} recordings stored as schema 6 did ({blocks:,} blocks "
            f"of {CHUNK_WINDOWS} windows → {joined:,}, maxima and peaks computed)",
            f"{child['open']:.1f} s",
            "once; every score reads back the same (checked)",
        )
    ]
    for name, (timing, result) in after.items():
        assert result == before[name][1], name
        count = f"{len(result):,} windows" if isinstance(result, list) else f"{len(result):,} cells"
        rows.append(
            (f"that project, {name} >= {THRESHOLD}: {count}", f"before {before[name][0]}; after {timing}", "< 2 s")
        )
    return rows


def build_rows_only(folder: Path, count: int, classes: int) -> None:
    project = Project.create(folder / "project")
    try:
        register(project, [f"sp{i:03d}" for i in range(classes)])
        add_rows(project, folder / "audio", schedule(count, 25, 60), 24.0)
    finally:
        project.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--recordings", type=int, default=100, help="recordings scored (issue 17's season: 1000)")
    parser.add_argument("--hours", type=float, default=24.0, help="hours per recording")
    parser.add_argument("--classes", type=int, default=200)
    parser.add_argument("--sites", type=int, default=25)
    parser.add_argument("--days", type=int, default=60, help="the season's length over which sites start")
    parser.add_argument("--local-species", type=int, default=40, help="species per site that ever score >= 0.01")
    parser.add_argument("--views", type=int, default=200, help="random views timed")
    parser.add_argument("--repeats", type=int, default=3, help="season-wide queries: median of this many")
    parser.add_argument("--no-migration", dest="migration", action="store_false", help="skip the migration")
    parser.add_argument(
        "--open-recordings", type=int, default=10_000, help="recordings of the opening test (0: skip it)"
    )
    parser.add_argument(
        "--fast-after",
        type=int,
        default=20,
        help="write the recordings after this many with PRAGMA synchronous=OFF (the same blocks, sooner); "
        "the write time is that of the first ones",
    )
    parser.add_argument(
        "--migration-recordings", type=int, default=20, help="recordings of the schema 6 project migrated"
    )
    parser.add_argument("--folder", type=Path, default=None, help="where the temporary projects go (default /tmp)")
    parser.add_argument("--keep", action="store_true", help="keep the project folders")
    parser.add_argument("--project", type=Path, default=None, help="only the queries, on this kept project")
    args = parser.parse_args()

    windows = round(args.hours * 3600.0 / WINDOW_S)
    if args.project is not None:
        queries_only(args, args.project, windows)
        return
    parent = args.folder or Path(tempfile.gettempdir())
    parent.mkdir(parents=True, exist_ok=True)
    root = Path(tempfile.mkdtemp(prefix="birdview-season-store-", dir=parent))
    total = args.recordings * windows
    print(
        f"in {root}: {args.recordings:,} recordings x {args.hours:g} h x {args.classes} classes = {total:,} windows "
        f"of {WINDOW_S:g} s, {min(args.sites, args.recordings)} sites over {args.days} days"
    )
    rows = []
    try:
        built = build(args, root / "season", windows)
        store_s = sum(built["synced_times"])
        written = built["synced"] * windows
        chunk_ms = np.array(built["synced_times"]) * 1e3
        hours = args.recordings * args.hours
        growth = built["size"] - built["empty"]
        tables = built["tables"]
        rows += [
            (
                f"write: store_predictions, {len(chunk_ms):,} chunks of {CHUNK_WINDOWS} windows "
                f"({built['synced']:,} recordings, the app's settings)",
                f"{store_s:.0f} s ({written / store_s:,.0f} windows/s; {total / (written / store_s) / 60:.0f} min "
                "for all)",
                f"chunk p50 / p95 {np.percentile(chunk_ms, 50):.2f} / {np.percentile(chunk_ms, 95):.2f} ms",
            ),
            (
                f"scores kept (>= {SPARSE_FLOOR}) / >= {THRESHOLD}, per window",
                f"{built['kept'] / total:.2f} / {built['high'] / total:.3f}",
                "",
            ),
            (
                "disk: project database after a checkpoint",
                f"{built['size'] / MB:,.0f} MB ({growth / hours / 1e3:.1f} kB per recorded hour)",
                f"blocks {tables.get('predictions', 0) / MB:,.0f} MB, "
                f"maxima {tables.get('prediction_maxima', 0) / MB:,.0f} MB, "
                f"peaks {tables.get('prediction_peaks', 0) / MB:,.0f} MB",
            ),
        ]
        opened = open_in_child(root / "season" / "project")
        rows.append(
            (
                f"open in a fresh process: Project.open ({built['size'] / MB:,.0f} MB, quick_check included)",
                f"{opened['open'] * 1e3:.0f} ms",
                f"recordings() {opened['recordings'] * 1e3:.0f} ms",
            )
        )
        rows += measure_queries(args, root / "season", built, windows)
        if args.migration and args.migration_recordings:
            rows += migrate_old(args, root / "old", windows)
            shutil.rmtree(root / "old", ignore_errors=True)
        if not args.keep:
            shutil.rmtree(root / "season", ignore_errors=True)
        if args.open_recordings:
            started = time.perf_counter()
            build_rows_only(root / "many", args.open_recordings, args.classes)
            print(f"  {args.open_recordings:,} recording rows added in {time.perf_counter() - started:.0f} s")
            runs = [open_in_child(root / "many" / "project") for _ in range(3)]
            best = min(runs, key=lambda r: r["open"] + r["recordings"] + r["window_reads"])
            at_open = [r["open"] + r["recordings"] + r["window_reads"] for r in runs]
            rows.append(
                (
                    f"{args.open_recordings:,} recordings: open + recordings() + the window's reads, median of 3",
                    f"{statistics.median(at_open) * 1e3:.0f} ms",
                    f"open {best['open'] * 1e3:.0f}, recordings() {best['recordings'] * 1e3:.0f}, "
                    f"3 more lists + models {best['window_reads'] * 1e3:.0f}, missing_recordings() "
                    f"{best['missing'] * 1e3:.0f} ms; goal < 2 s",
                )
            )
    finally:
        if args.keep:
            print(f"kept {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)
    print()
    print("| measurement | result | note / goal |")
    print("|---|---|---|")
    for label, value, note in rows:
        print(f"| {label} | {value} | {note} |")


if __name__ == "__main__":
    main()
