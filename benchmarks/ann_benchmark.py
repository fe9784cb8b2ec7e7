"""Approximate similarity search: the usearch index against exact search (issue #16's scale point).

Writes N windows of 1,024-d clustered embeddings into a project as scoring does, builds the
model's index as `birdview score` would on crossing the limit (`update_index`), then times
`birdview.review.similarity.search` through the index (top 100) and exactly (`exact=True`) for
the same queries, and reports recall@100 of the index against exact search: with the exact
re-ranking of FETCH_FACTOR × top candidates that search does, and of the raw HNSW answer alone.
Last, one more 24-hour recording (28,800 windows) is stored and added to the index, as scoring it
would: the incremental cost.

The generated data: 2,000 "sound types", each a centre with its own 8-d variation, plus
independent noise, rectified (embeddings of real calls lie near low-dimensional sets). `--data
isotropic` uses the exact-search benchmark's harder data instead (64 centres plus independent
noise in all 1,024 dimensions: the nearest 100 are all about equally near).

    .venv/bin/python benchmarks/ann_benchmark.py [--windows 1000000] [--queries 50]

1 M windows took 20 minutes on 2 shared cores (15.5 of them building the index); --windows 250000
takes about a quarter of that.
"""

from __future__ import annotations

import argparse
import resource
import shutil
import statistics
import tempfile
import time
from datetime import datetime
from pathlib import Path

import numpy as np
import torch

from birdview.audio.recording import RecordingInfo
from birdview.review import similarity
from birdview.review.similarity import Query, search, update_index
from birdview.store import embedding_index
from birdview.store.embedding_index import EmbeddingIndex, split_keys
from birdview.store.project import Project

DIM, WINDOW_S, PER_RECORDING, CHUNK = 1024, 3.0, 28_800, 4_800


class Generator:
    def __init__(self, kind: str, seed: int = 0) -> None:
        self.kind = kind
        self.rng = np.random.default_rng(seed)
        if kind == "clustered":
            self.centres = 1.5 * self.rng.standard_normal((2000, DIM)).astype(np.float32)
            self.bases = self.rng.standard_normal((2000, 8, DIM)).astype(np.float32) / np.sqrt(8)
        else:
            self.centres = self.rng.standard_normal((64, DIM)).astype(np.float32)

    def __call__(self, n: int) -> np.ndarray:
        rng = self.rng
        which = rng.integers(0, len(self.centres), n)
        if self.kind == "clustered":
            latent = rng.standard_normal((n, 1, 8)).astype(np.float32)
            vectors = self.centres[which] + 0.8 * (latent @ self.bases[which])[:, 0]
            vectors += 0.2 * rng.standard_normal((n, DIM)).astype(np.float32)
        else:
            vectors = self.centres[which] + 0.8 * rng.standard_normal((n, DIM)).astype(np.float32)
        return np.maximum(vectors, 0)


def _add_recording(folder: Path, project: Project, version: int, number: int, count: int, generate) -> None:
    placeholder = folder / f"rec{number}.wav"
    placeholder.touch()
    info = RecordingInfo(
        path=placeholder,
        duration_s=count * WINDOW_S,
        sample_rate=48000,
        channels=1,
        frames=int(count * WINDOW_S * 48000),
        format="WAV",
        start_time=datetime(2024, 5, 1),
    )
    recording = project.add_probed(info, f"hash{number}")
    for first in range(0, count, CHUNK):
        n = min(CHUNK, count - first)
        project.store_predictions(version, recording.id, np.zeros((n, 1)), first, generate(n))


def _peak_rss_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6


def _cpu_s() -> float:
    """CPU time of this process, all threads: on a shared machine, a steadier measure than wall time."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--windows", type=int, default=1_000_000)
    parser.add_argument("--queries", type=int, default=50)
    parser.add_argument("--data", choices=("clustered", "isotropic"), default="clustered")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--dtype", default=embedding_index.DTYPE, help="usearch scalar kind: i8, f16 or f32")
    parser.add_argument("--connectivity", type=int, default=embedding_index.CONNECTIVITY)
    parser.add_argument("--expansion-add", type=int, default=embedding_index.EXPANSION_ADD)
    parser.add_argument("--no-incremental", action="store_true", help="skip the incremental add")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    embedding_index.DTYPE = args.dtype
    embedding_index.CONNECTIVITY = args.connectivity
    embedding_index.EXPANSION_ADD = args.expansion_add
    top = 100
    folder = Path(tempfile.mkdtemp(prefix="birdview-ann-"))
    try:
        project = Project.create(folder / "project", species=[])
        version = project.register_model(
            "birdnet", ["x"], window_s=WINDOW_S, kind="birdnet", embedding_dim=DIM, activate=True
        ).version
        generate = Generator(args.data)
        started = time.perf_counter()
        recordings = int(np.ceil(args.windows / PER_RECORDING))
        for number in range(recordings):
            count = min(PER_RECORDING, args.windows - number * PER_RECORDING)
            _add_recording(folder, project, version, number, count, generate)
        print(
            f"wrote {args.windows:,} {args.data} embeddings of {DIM} dimensions in {recordings} recordings "
            f"in {time.perf_counter() - started:.0f} s"
        )
        print(
            f"index: usearch HNSW, cosine, {args.dtype}, connectivity {args.connectivity}, "
            f"expansion_add {args.expansion_add}; {args.threads} threads"
        )

        similarity.EXACT_LIMIT = 0  # every search through the index
        started, cpu = time.perf_counter(), _cpu_s()
        change = update_index(project, version, say=print)
        build, cpu = time.perf_counter() - started, _cpu_s() - cpu
        index = EmbeddingIndex(project.embedding_files, version, DIM)
        size = index.path.stat().st_size
        print(
            f"built over {change.total:,} windows in {build:.0f} s ({change.total / build:,.0f} windows/s), "
            f"{cpu:.0f} s of CPU ({change.total / cpu:,.0f} windows per CPU second); "
            f"file {size / 1e9:.2f} GB; peak RSS so far {_peak_rss_gb():.1f} GB"
        )

        rng = np.random.default_rng(1)
        rows = project.recordings()
        queries = []
        for _ in range(args.queries):
            recording = rows[int(rng.integers(0, len(rows)))]
            window = int(rng.integers(0, int(recording.duration_s / WINDOW_S)))
            queries.append(Query(recording, window * WINDOW_S, window * WINDOW_S + WINDOW_S))
        search(project, version, queries[:1], top, exact=True)  # the files into the page cache

        exact_hits, exact_times, exact_cpus = [], [], []
        for query in queries:
            started, cpu = time.perf_counter(), _cpu_s()
            exact_hits.append({(h.recording_id, h.window) for h in search(project, version, [query], top, exact=True)})
            exact_times.append(time.perf_counter() - started)
            exact_cpus.append(_cpu_s() - cpu)
        print(
            f"exact search (top {top}): median {statistics.median(exact_times):.3f} s a query, "
            f"{statistics.median(exact_cpus):.3f} s of CPU"
        )

        raw_recall = []
        for query, truth in zip(queries, exact_hits, strict=True):
            vectors, own = similarity._query_vectors(project, project.model(version), [query])
            keys, _ = index.search(vectors, top + len(own))[0]
            found = set(zip(*(a.tolist() for a in split_keys(keys)), strict=True)) - own
            raw_recall.append(len(found & truth) / top)
        print(
            f"raw HNSW answer (top {top}, expansion_search {embedding_index.EXPANSION_SEARCH}, no re-ranking): "
            f"recall@{top} {statistics.mean(raw_recall):.3f}"
        )
        for factor in (1, 2, 3):
            for expansion in (128, 256, 512):
                similarity.FETCH_FACTOR, embedding_index.EXPANSION_SEARCH = factor, expansion
                times, cpus, recall = [], [], []
                for query, truth in zip(queries, exact_hits, strict=True):
                    started, cpu = time.perf_counter(), _cpu_s()
                    hits = search(project, version, [query], top)
                    times.append(time.perf_counter() - started)
                    cpus.append(_cpu_s() - cpu)
                    recall.append(len({(h.recording_id, h.window) for h in hits} & truth) / top)
                print(
                    f"index search, fetch {factor}x top, expansion_search {expansion}: "
                    f"recall@{top} mean {statistics.mean(recall):.3f} (min {min(recall):.2f}), "
                    f"median {1000 * statistics.median(times):.1f} ms a query, "
                    f"{1000 * statistics.median(cpus):.1f} ms of CPU "
                    f"({statistics.median(exact_times) / statistics.median(times):.0f}x faster than exact)"
                )
        print(f"peak RSS {_peak_rss_gb():.1f} GB")

        if not args.no_incremental:
            started = time.perf_counter()
            _add_recording(folder, project, version, recordings, PER_RECORDING, generate)
            stored = time.perf_counter() - started
            started, cpu = time.perf_counter(), _cpu_s()
            change = update_index(project, version, say=print)
            added, cpu = time.perf_counter() - started, _cpu_s() - cpu
            print(
                f"incremental: one more 24 h recording ({change.added:,} windows) stored in {stored:.1f} s, "
                f"added to the index in {added:.1f} s (load, add, save), {cpu:.1f} s of CPU: "
                f"{cpu / args.threads / (PER_RECORDING / 150) * 100:.0f} % of scoring it at 150 windows/s "
                f"on {args.threads} cores"
            )
        project.close()
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
