"""Exact similarity search over a season's stored embeddings (issue #16's scale target).

Writes N recordings of BirdNET-sized embeddings (1,024-d float16, one window every 3 s) into a
project as scoring does, then times `birdview.review.similarity.search` (top 200 over every stored
embedding) against the plain NumPy way in the same run (each recording's float16 block converted
to float32, a matrix-vector product, divided by norms computed on the fly).

    .venv/bin/python benchmarks/similarity_benchmark.py [--windows 1000000] [--repeats 5]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
import time
from datetime import datetime
from pathlib import Path

import numpy as np
import torch

from birdview.audio.recording import RecordingInfo
from birdview.review.similarity import Query, search
from birdview.store.project import Project

DIM, WINDOW_S, PER_RECORDING = 1024, 3.0, 28_800  # 24 h of 3 s windows


def _fill(folder: Path, windows: int) -> Project:
    project = Project.create(folder, species=[])
    model = project.register_model(
        "birdnet", ["x"], window_s=WINDOW_S, kind="birdnet", embedding_dim=DIM, activate=True
    )
    rng = np.random.default_rng(0)
    centres = rng.standard_normal((64, DIM)).astype(np.float32)  # sounds that recur, as calls do
    for number in range(int(np.ceil(windows / PER_RECORDING))):
        count = min(PER_RECORDING, windows - number * PER_RECORDING)
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
        for first in range(0, count, 4800):
            n = min(4800, count - first)
            vectors = centres[rng.integers(0, 64, n)] + 0.8 * rng.standard_normal((n, DIM)).astype(np.float32)
            project.store_predictions(model.version, recording.id, np.zeros((n, 1)), first, np.maximum(vectors, 0))
    return project


def _numpy_search(project: Project, version: int, probe: np.ndarray, top: int) -> list[tuple[int, int, float]]:
    found = []
    for recording in project.recordings():
        block = np.asarray(project.embeddings(version, recording.id), dtype=np.float32)
        similarity = block @ probe / np.maximum(np.linalg.norm(block, axis=1), 1e-12)
        best = np.argpartition(-similarity, top)[:top]
        found += [(recording.id, int(w), float(similarity[w])) for w in best]
    return sorted(found, key=lambda hit: -hit[2])[:top]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--windows", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    folder = Path(tempfile.mkdtemp(prefix="birdview-similarity-"))
    try:
        started = time.perf_counter()
        project = _fill(folder / "project", args.windows)
        print(
            f"wrote {args.windows:,} embeddings of {DIM} dimensions in {time.perf_counter() - started:.1f} s "
            f"({args.windows * WINDOW_S / 3600:,.0f} h of audio at one 3 s window)"
        )
        version = project.active_model().version
        query = [Query(project.recordings()[0], 30.0, 33.0)]
        search(project, version, query, 200)  # the files into the page cache, as in a session
        ours, plain = [], []
        probe = np.asarray(project.embeddings(version, project.recordings()[0].id)[10], dtype=np.float32)
        probe /= np.linalg.norm(probe)
        for _ in range(args.repeats):
            started = time.perf_counter()
            hits = search(project, version, query, 200)
            ours.append(time.perf_counter() - started)
            started = time.perf_counter()
            baseline = _numpy_search(project, version, probe, 200)
            plain.append(time.perf_counter() - started)
        same = len({(h.recording_id, h.window) for h in hits} & {(r, w) for r, w, _ in baseline})
        print(
            f"birdview search (top 200), median of {args.repeats}: {statistics.median(ours):.3f} s "
            f"(min {min(ours):.3f}, max {max(ours):.3f})"
        )
        print(
            f"NumPy float32 baseline, median: {statistics.median(plain):.3f} s; "
            f"birdview is {statistics.median(plain) / statistics.median(ours):.1f}x faster"
        )
        print(f"top-200 agreement with the baseline: {same}/200 (the query's own window is left out by birdview)")
        project.close()
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
