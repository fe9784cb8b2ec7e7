"""Find more like this: the windows of a project most similar to a few example windows, by cosine
similarity of a model's stored embeddings (no network is run).

Exact search: a matrix product over every stored embedding, recording by recording, in float16
(PyTorch's CPU kernel keeps it about 0.1 s per million 1,024-d embeddings on two cores), divided
by the embedding lengths kept beside them.

Beyond ``EXACT_LIMIT`` stored windows, an approximate index (usearch's HNSW, one per model, kept in
the project folder and brought up to date as recordings are scored) finds the candidates, and the
stored embeddings rank them exactly.
"""

from __future__ import annotations

import logging
import math
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from birdview.review.queue import Candidate, selected_recordings, verdicts_of
from birdview.store.embedding_index import EmbeddingIndex, IndexChange, split_keys
from birdview.store.errors import ProjectError
from birdview.store.project import ModelRow, Project, RecordingRow
from birdview.store.selection import Selection
from birdview.store.sites import site_of

COMBINE = ("mean", "max")
#: Seconds a query may reach past its recording's end (a rounded end time).
END_TOLERANCE_S = 0.1


class NotScoredError(ProjectError):
    """An example lies in windows the model has not scored yet (no embeddings to compare with)."""

    def __init__(self, message: str, recording: RecordingRow, model: ModelRow) -> None:
        super().__init__(message)
        self.recording, self.model = recording, model


@dataclass(frozen=True)
class Query:
    recording: RecordingRow
    start_s: float
    end_s: float


@dataclass(frozen=True)
class Hit:
    recording_id: int
    window: int
    start_s: float
    end_s: float
    similarity: float


def parse_like(project: Project, spec: str) -> Query:
    """``RECORDING:START-END``: the recording by its path or its name in the project, seconds."""
    reference, colon, span = spec.rpartition(":")
    first, dash, last = span.partition("-")
    if not colon or not dash:
        raise ProjectError(f"--like {spec!r}: expected RECORDING:START-END, e.g. site_20240521_053000.wav:12.5-15")
    try:
        start_s, end_s = float(first), float(last)
    except ValueError:
        raise ProjectError(f"--like {spec!r}: START and END are seconds, e.g. 12.5-15") from None
    recording = project.find_recording(reference)
    if recording is None:
        raise ProjectError(f"--like {spec!r}: no recording {reference!r} in the project (its path or its name)")
    if not (math.isfinite(start_s) and math.isfinite(end_s)) or start_s < 0 or end_s <= start_s:
        raise ProjectError(f"--like {spec!r}: START must be at least 0 and below END")
    if end_s > recording.duration_s + END_TOLERANCE_S:
        raise ProjectError(
            f"--like {spec!r}: {recording.name} is {recording.duration_s:.1f} s long; the span reaches {end_s:g} s"
        )
    return Query(recording, start_s, min(end_s, recording.duration_s))


def _query_vectors(project: Project, model: ModelRow, queries: Sequence[Query]) -> tuple[np.ndarray, set]:
    """One unit vector per query (the mean of the windows it covers), and those windows."""
    vectors, own = [], set()
    for query in queries:
        recording = query.recording
        scored = project.scored_windows(model.version, recording.id)
        windows = model.windows_covering(query.start_s, query.end_s, scored)
        embeddings = project.embeddings(model.version, recording.id)
        windows = [w for w in windows if w < len(embeddings)]
        if not windows:
            raise NotScoredError(
                f"{recording.name} {query.start_s:g}-{query.end_s:g} s has no embeddings of model {model.label} "
                "yet: score the recording first (birdview score)",
                recording,
                model,
            )
        mean = np.asarray(embeddings[windows], dtype=np.float32).mean(axis=0)
        norm = float(np.linalg.norm(mean))
        if norm == 0:
            raise ProjectError(f"{recording.name} {query.start_s:g}-{query.end_s:g} s: its embedding is all zeros")
        vectors.append(mean / norm)
        own.update((recording.id, w) for w in windows)
    return np.stack(vectors), own


def search(
    project: Project,
    version: int,
    queries: Sequence[Query],
    top: int = 200,
    combine: str = "mean",
    recording_ids: Sequence[int] | None = None,
    site: str | None = None,
    exact: bool = False,
    say: Callable[[str], None] | None = None,
) -> list[Hit]:
    """The ``top`` windows most similar to the queries, best first, the query windows left out.
    ``combine``: ``mean`` compares with the mean of the examples, ``max`` takes each window's best
    match over them. Over more than ``EXACT_LIMIT`` windows (those the filters leave) the model's
    approximate index answers, unless ``exact``; ``say`` hears about building it (default: the
    ``birdview`` logger)."""
    if combine not in COMBINE:
        raise ProjectError(f"combine must be one of {', '.join(COMBINE)}, not {combine!r}")
    if not queries:
        raise ProjectError("no example to search for (--like RECORDING:START-END)")
    model = project.model(version)
    vectors, own = _query_vectors(project, model, queries)
    if combine == "mean":
        mean = vectors.mean(axis=0)
        vectors = (mean / np.linalg.norm(mean))[None]
    source = _source_version(model)
    searched = []
    for recording in project.recordings():
        if recording_ids is not None and recording.id not in recording_ids:
            continue
        if site is not None and site_of(project, recording) != site:
            continue
        embeddings = project.embeddings(version, recording.id)
        if len(embeddings):
            searched.append((recording, embeddings))
    if not exact and sum(len(e) for _, e in searched) > EXACT_LIMIT:
        say = say or _log
        try:
            found = _index_search(project, model, source, vectors, own, top, searched, say)
        except ProjectError as exc:
            say(f"{exc}; searching exactly instead")
        else:
            return found
    return _exact_search(project, model, source, vectors, own, top, searched)


def _exact_search(
    project: Project,
    model: ModelRow,
    source: int,
    vectors: np.ndarray,
    own: set,
    top: int,
    searched: Sequence[tuple[RecordingRow, np.ndarray]],
) -> list[Hit]:
    import torch

    probe = torch.from_numpy(vectors.T.astype(np.float16))
    files = project.embedding_files
    found: list[Hit] = []
    for recording, embeddings in searched:
        norms = files.norms(source, recording.id, embeddings.shape[1], len(embeddings))
        with warnings.catch_warnings():  # a read-only memory map: torch only reads it
            warnings.simplefilter("ignore", UserWarning)
            matrix = torch.from_numpy(np.asarray(embeddings))
        products = (matrix @ probe).float().max(dim=1).values.numpy()
        similarity = products / np.maximum(norms, 1e-12)
        keep = min(len(similarity), top + len(own))
        best = np.argpartition(-similarity, keep - 1)[:keep] if keep < len(similarity) else np.arange(keep)
        for window in best.tolist():
            if (recording.id, window) in own:
                continue
            start = model.window_start(window)
            end = min(start + model.window_s, recording.duration_s)
            found.append(Hit(recording.id, window, start, end, float(similarity[window])))
    found.sort(key=lambda hit: (-hit.similarity, hit.recording_id, hit.window))
    return found[:top]


# -- beyond EXACT_LIMIT windows: the approximate index ------------------------------------------

#: Up to this many stored windows (of the recordings a search covers) search is exact: a matrix
#: product, about 1 s per million 1,024-d embeddings on two cores. Beyond it, the model's usearch
#: index (birdview.store.embedding_index) answers in milliseconds.
EXACT_LIMIT = 3_000_000
#: Candidates asked of the index per hit wanted; they are ranked again by their exact similarity
#: (recall@100 against exact search: benchmarks/ann_benchmark.py).
FETCH_FACTOR = 2
#: At least this many candidates are ranked again, however few hits are wanted: the exact ranking
#: of a few hundred stored embeddings costs microseconds, and a small ``top`` then does not hang on
#: the index's last few neighbours.
MIN_CANDIDATES = 256


def _source_version(model: ModelRow) -> int:
    """The model whose embeddings are stored: a head on embeddings reads its base model's."""
    return int(model.frontend["base_version"]) if model.kind == "embedding-head" else model.version


def _log(message: str) -> None:
    logging.getLogger("birdview").warning("%s", message)


def stored_windows(project: Project, version: int) -> dict[int, int]:
    """How many embeddings of each recording a model has stored (and scored)."""
    stored = {}
    for recording in project.recordings():
        count = len(project.embeddings(version, recording.id))
        if count:
            stored[recording.id] = count
    return stored


def update_index(project: Project, version: int, say: Callable[[str], None] | None = None) -> IndexChange | None:
    """After scoring: add the windows scored since to the model's similarity index, or build the
    index once the model has more than ``EXACT_LIMIT`` windows stored; None where it keeps none.
    A project below the limit pays one look at the files. Failing to save it is said, not raised
    (searches build it when they need it)."""
    model = project.model(version)
    if not model.embedding_dim or model.kind == "embedding-head":
        return None
    index = EmbeddingIndex(project.embedding_files, model.version, model.embedding_dim)
    if not index.exists() and sum(project.scored_windows(version, r.id) for r in project.recordings()) <= EXACT_LIMIT:
        return None
    try:
        return index.update(stored_windows(project, model.version), say or _log)
    except ProjectError as exc:
        (say or _log)(str(exc))
        return None


def _index_search(
    project: Project,
    model: ModelRow,
    source: int,
    vectors: np.ndarray,
    own: set,
    top: int,
    searched: Sequence[tuple[RecordingRow, np.ndarray]],
    say: Callable[[str], None],
) -> list[Hit]:
    """The index's candidates (more than asked, and more again where filters leave recordings
    out), ranked by their exact similarity from the stored embeddings."""
    index = EmbeddingIndex(project.embedding_files, source, searched[0][1].shape[1])
    stored = stored_windows(project, source)
    index.update(stored, say)
    everything = sum(stored.values())
    allowed = {recording.id: (recording, embeddings) for recording, embeddings in searched}
    reachable = sum(len(e) for _, e in searched) - len(own)
    asked = max(FETCH_FACTOR * top, MIN_CANDIDATES)
    wanted = min(asked, reachable)
    # Filters leave out some of what the index finds: ask for as many more as they leave out.
    count = math.ceil((asked + len(own)) * everything / max(sum(len(e) for _, e in searched), 1))
    while True:
        try:
            results = index.search(vectors, min(count, everything))
        except ProjectError as exc:  # damaged since the update: build it again, once
            say(f"{exc}: building it again")
            index.delete()
            index.update(stored, say)
            results = index.search(vectors, min(count, everything))
        candidates = set()
        for keys, _ in results:
            recordings, windows = split_keys(keys)
            candidates.update(
                (r, w) for r, w in zip(recordings.tolist(), windows.tolist(), strict=True) if r in allowed
            )
        candidates -= own
        if len(candidates) >= wanted or count >= everything:
            break
        count *= 4
    by_recording: dict[int, list[int]] = {}
    for recording_id, window in candidates:
        by_recording.setdefault(recording_id, []).append(window)
    # As exact search computes it (float16 inputs, float32 sums, the products rounded to float16):
    # the same similarities, so near-ties come in the same order.
    probe = vectors.T.astype(np.float16).astype(np.float32)
    files = project.embedding_files
    found: list[Hit] = []
    for recording_id, windows in by_recording.items():
        recording, embeddings = allowed[recording_id]
        windows = sorted(windows)
        products = (np.asarray(embeddings[windows], dtype=np.float32) @ probe).astype(np.float16)
        norms = files.norms(source, recording_id, embeddings.shape[1], len(embeddings))[windows]
        similarity = products.astype(np.float32).max(axis=1) / np.maximum(norms, 1e-12)
        for window, value in zip(windows, similarity.tolist(), strict=True):
            start = model.window_start(window)
            end = min(start + model.window_s, recording.duration_s)
            found.append(Hit(recording_id, window, start, end, float(value)))
    found.sort(key=lambda hit: (-hit.similarity, hit.recording_id, hit.window))
    return found[:top]


def write_hits(project: Project, hits: Sequence[Hit], out: str | Path) -> Path:
    """``recording,start_s,end_s,similarity``, best first (recording: its path), written whole."""
    import csv

    from birdview.store.paths import atomic_write

    out = Path(out)
    paths = {r.id: str(r.path) for r in project.recordings()}
    try:
        with atomic_write(out) as temporary, open(temporary, "w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(["recording", "start_s", "end_s", "similarity"])
            for hit in hits:
                writer.writerow(
                    [paths[hit.recording_id], f"{hit.start_s:.3f}", f"{hit.end_s:.3f}", f"{hit.similarity:.4f}"]
                )
    except OSError as exc:
        raise ProjectError(f"{out}: cannot write the hits ({exc.strerror or exc})") from None
    return out


# -- the "similar" review list: hits kept in the project to review in the queue -----------------

SIMILAR_SETTING = "review.similar"


def save_for_review(
    project: Project, version: int, examples: Sequence[Query], hits: Sequence[Hit], species: str
) -> None:
    """Keep the hits as the project's "similar" review list: candidates of ``species`` (the
    verdicts confirm, relabel or reject them), best first; it replaces the list kept before."""
    project.set_setting(
        SIMILAR_SETTING,
        {
            "model_version": int(version),
            "species": species,
            "examples": [[q.recording.id, float(q.start_s), float(q.end_s)] for q in examples],
            "hits": [[h.recording_id, h.window, round(h.similarity, 6)] for h in hits],
        },
    )


def similar_list(project: Project) -> dict | None:
    """The kept "similar" review list (model_version, species, examples, hits), or None."""
    kept = project.get_setting(SIMILAR_SETTING, None)
    return kept if isinstance(kept, dict) and kept.get("hits") is not None else None


def similar_candidates(project: Project) -> list[Candidate]:
    """The kept hits as review candidates of its species, by similarity (the Candidate's score)."""
    kept = similar_list(project)
    if kept is None:
        return []
    version = int(kept["model_version"])
    try:
        model = project.model(version)
    except ProjectError:
        return []
    durations = {r.id: r.duration_s for r in project.recordings()}
    found = []
    for recording_id, window, similarity in kept["hits"]:
        if recording_id not in durations:  # the recording left the project meanwhile
            continue
        start = model.window_start(int(window))
        end = min(start + model.window_s, durations[recording_id])
        # A cosine in float16 may stray just past 1; a verdict's score is from 0 to 1.
        score = min(max(float(similarity), 0.0), 1.0)
        found.append(Candidate(int(recording_id), int(window), start, end, kept["species"], score, version))
    found.sort(key=lambda c: (-c.score, c.recording_id, c.window))
    return found


def similar_queue_with_progress(project: Project, show: str = "unreviewed") -> tuple[list[Candidate], int, int]:
    """The "similar" list as a queue (``show``: unreviewed, reviewed or all), with (reviewed, total)."""
    everything = similar_candidates(project)
    verdicts = verdicts_of(project, everything)
    done = [v is not None for v in verdicts]
    if show == "all":
        queue = everything
    else:
        queue = [c for c, d in zip(everything, done, strict=True) if d == (show == "reviewed")]
    return queue, sum(done), len(everything)


def similar_in(
    project: Project, version: int, query: Query, selection: Selection | None = None, top: int = 200
) -> list[Hit]:
    """The ``top`` windows like ``query`` among the recordings ``selection`` keeps (sites and
    dates), those whose start falls outside its hours of the day left out; all with none."""
    if selection is None or selection.everything:
        return search(project, version, [query], top)
    chosen = {row.id: row for row in selected_recordings(project, selection)}
    if not chosen:
        return []
    found = search(project, version, [query], top * 2 if selection.hours else top, recording_ids=list(chosen))
    kept = [hit for hit in found if selection.keeps(chosen[hit.recording_id], hit.start_s)]
    return kept[:top]
