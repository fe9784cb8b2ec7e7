"""Scoring a project on a Ray cluster (``birdview score --cluster ray://HOST:10001``, or ``local``
for every core of this machine).

Ray Data batch inference: the project's unscored windows become work items (a span of up to
``SPAN_WINDOWS`` windows of one recording), scored by a pool of actors that each load the model
once (``map_batches`` with a callable class, one item a batch). Workers read the audio themselves
(the recordings must be on storage they see: the same paths, or ``path_map``) and send back
float16 probabilities and embeddings, which is what the project keeps. This process alone writes
the project, through the same function as local scoring, as results arrive: a recording's spans
are written in window order (spans that arrive early wait for those before them), each committed
when written, so an interrupted run keeps a run of windows from the start of each recording and
the next run goes on from there, as local scoring does.

Ray is an optional extra (``birdview[cluster]``) and imported only here, when asked for.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from birdview.jobs.scoring import (
    ModelRecipe,
    ScoringProgress,
    ScoringResult,
    apply_overlap_and_rescore,
    load_recipe,
    prepare_fast_copy,
    score,
    scoring_recipe,
    store_windows,
    windows_to_score,
)
from birdview.store.project import ModelRow, Project, ProjectError

CLUSTER_EXTRA = "pip install 'birdview[cluster]'"
LOCAL = "local"
DEFAULT_PORT = 10001  # the Ray client server's port
#: Windows per work item: an hour of 5 s windows; small enough to spread one long recording over
#: workers and to keep a BirdNET item (6,522 classes) near 10 MB.
SPAN_WINDOWS = 720
CHUNK_WINDOWS = 48  # windows a worker decodes and scores at a time (as local scoring)
_MODEL_FAILED = "model: "  # the prefix of an error a worker gives when it cannot load the model


class ClusterError(ProjectError):
    """Ray missing, a cluster that does not answer, a run the cluster could not finish."""


def import_ray() -> Any:
    """The ``ray`` module, or a ClusterError saying how to install it."""
    try:
        import ray
        import ray.data  # Ray Data is what the scoring runs on
    except ImportError as exc:
        raise ClusterError(
            f"scoring on a cluster needs Ray, which is not installed here ({exc}); install it with {CLUSTER_EXTRA}"
        ) from None
    return ray


def parse_address(cluster: str) -> tuple[str, int] | None:
    """(host, port) of a ``ray://HOST[:PORT]`` address; None for ``local``."""
    if cluster == LOCAL:
        return None
    if not cluster.startswith("ray://"):
        raise ClusterError(f"--cluster takes 'local' or ray://HOST:PORT (a Ray client address), not {cluster!r}")
    host, _, port = cluster[len("ray://") :].rstrip("/").rpartition(":")
    if not host:
        host, port = port, str(DEFAULT_PORT)
    host = host.strip("[]")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ClusterError(f"--cluster {cluster}: expected ray://HOST:PORT, e.g. ray://10.0.0.5:{DEFAULT_PORT}")
    return host, int(port)


@contextmanager
def connect(cluster: str, timeout_s: float = 30.0, num_cpus: int | None = None) -> Iterator[Any]:
    """Ray, connected to ``cluster`` (``local``: a Ray of this machine's cores, or ``num_cpus``),
    shut down afterwards. A session this process already has (``ray.init`` done by the caller) is
    used as it is and left running. A ``ray://`` address that does not answer within ``timeout_s``
    is a ClusterError naming it."""
    ray = import_ray()
    address = parse_address(cluster)
    if address is not None:
        _probe(cluster, address, timeout_s)
    if ray.is_initialized():
        yield ray
        return
    if address is None:
        from trainer.window_stream import default_workers

        ray.init(
            address="local",
            num_cpus=num_cpus or default_workers(),
            include_dashboard=False,
            logging_level=logging.WARNING,
            log_to_driver=False,
        )
    else:
        _connect_remote(ray, cluster, timeout_s)
    try:
        yield ray
    finally:
        ray.shutdown()


def _probe(cluster: str, address: tuple[str, int], timeout_s: float) -> None:
    """A quick look at the address first: Ray's client would retry a closed port for a minute."""
    host, port = address
    try:
        socket.create_connection((host, port), timeout=min(timeout_s, 10.0)).close()
    except OSError as exc:
        reason = exc.strerror or str(exc) or type(exc).__name__
        raise ClusterError(
            f"no Ray cluster answers at {cluster} ({reason}); nothing was changed in the project. "
            f"Start one with `ray start --head --ray-client-server-port {port}` or check the address"
        ) from None


def _connect_remote(ray: Any, cluster: str, timeout_s: float) -> None:
    outcome: dict[str, BaseException | bool] = {}

    def init() -> None:
        try:
            ray.init(cluster, logging_level=logging.WARNING, log_to_driver=False)
            outcome["done"] = True
        except BaseException as exc:  # reported to the caller below
            outcome["error"] = exc

    thread = threading.Thread(target=init, name="birdview-ray-connect", daemon=True)
    thread.start()
    thread.join(timeout_s)
    if thread.is_alive() or "error" in outcome:
        reason = f"no answer within {timeout_s:g} s" if thread.is_alive() else str(outcome["error"]).strip()
        raise ClusterError(
            f"cannot connect to the Ray cluster at {cluster} ({reason}); nothing was changed in the project"
        )


# -- the workers ---------------------------------------------------------------------------------


class SpanScorer:
    """A Ray Data actor: loads the model once, then scores one span of a recording per call."""

    def __init__(self, recipe: dict, threads: int | None = None, model_files: dict | None = None) -> None:
        self.model = None
        self.error: str | None = None
        self.threads = threads
        try:
            self.model = load_recipe(ModelRecipe(**_fetched(recipe, model_files or {})), threads=threads)
        except Exception as exc:  # every item then reports it: the driver stops with the reason
            self.error = f"{_MODEL_FAILED}{exc}"

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        rows = [self._score({key: values[i] for key, values in batch.items()}) for i in range(len(batch["first"]))]
        return {key: np.array([row[key] for row in rows], dtype=object) for key in rows[0]}

    def _score(self, item: dict) -> dict:
        started = time.monotonic()
        row = {"recording_id": int(item["recording_id"]), "first": int(item["first"]), "windows": 0}
        row.update(scores=b"", classes=0, embeddings=b"", dim=0, error="")
        if self.model is None:
            return {**row, "error": self.error or f"{_MODEL_FAILED}not loaded", "seconds": 0.0}
        try:
            scores, embeddings = score_span(
                self.model, str(item["path"]), float(item["hop_s"]), row["first"], int(item["last"]), self.threads
            )
        except Exception as exc:  # a file that cannot be read: listed with its reason, the others go on
            message = str(exc)
            return {
                **row,
                "error": message if item["path"] in message else f"{item['path']}: {message}",
                "seconds": 0.0,
            }
        row.update(windows=len(scores), scores=scores.tobytes(), classes=scores.shape[1])
        row.update(embeddings=embeddings.tobytes(), dim=embeddings.shape[1] if embeddings.ndim == 2 else 0)
        return {**row, "seconds": time.monotonic() - started}


def score_span(
    model: Any, path: str, hop_s: float, first: int, last: int, threads: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Windows ``first`` to ``last`` (exclusive) of a file: (probabilities, embeddings), float16 as
    the project keeps them; fewer windows where the file ends (is truncated) earlier. ``threads``:
    the decoding threads of a birdview-train model (a worker has its share of the cores, not all)."""
    from trainer.models.trained import TrainedModel
    from trainer.window_stream import mel_chunks

    scores, vectors = [], []
    size = min(CHUNK_WINDOWS, last - first)
    if threads and isinstance(model, TrainedModel):
        chunks = mel_chunks(path, model.frontend, chunk_windows=size, start_window=first, workers=threads, hop_s=hop_s)
    else:
        chunks = model.chunks(path, hop_s, start_window=first, chunk_windows=size)
    try:
        for chunk in chunks:
            keep = chunk.index < last
            probabilities, embeddings = model.infer(chunk.inputs[keep] if not keep.all() else chunk.inputs)
            scores.append(np.asarray(probabilities, dtype=np.float16))
            vectors.append(np.asarray(embeddings, dtype=np.float16))
            if chunk.index[-1] >= last - 1:
                break
    finally:
        chunks.close()
    classes = len(model.info.classes)
    if not scores:
        return np.zeros((0, classes), np.float16), np.zeros((0, 0), np.float16)
    return np.concatenate(scores), np.concatenate(vectors)


def _fetched(recipe: dict, model_files: dict) -> dict:
    """The recipe with model files this worker does not see written from what the driver sent."""
    if not model_files:
        return recipe
    import tempfile

    import ray

    recipe = dict(recipe)
    folder = Path(tempfile.mkdtemp(prefix="birdview-model-"))
    for key in ("path", "fast_copy"):
        where = recipe.get(key)
        if where and where in model_files and not Path(where).exists():
            local = folder / f"{key}-{Path(where).name}"
            local.write_bytes(ray.get(model_files[where]))
            recipe[key] = str(local)
    return recipe


# -- the driver ----------------------------------------------------------------------------------


@dataclass
class _Recording:
    name: str
    next_window: int  # the first window not yet written
    waiting: dict[int, dict] = field(default_factory=dict)  # spans that came before their turn
    failed: bool = False


class InOrderWriter:
    """Writes the spans of each recording in window order as they arrive in any order, so that what
    is stored of a recording is always a run of windows from its start (what resuming counts on)."""

    def __init__(self, write: Callable[[int, int, np.ndarray, np.ndarray | None], None]) -> None:
        self.write = write
        self.recordings: dict[int, _Recording] = {}
        self.windows = 0

    def expect(self, recording_id: int, name: str, first_window: int) -> None:
        self.recordings[recording_id] = _Recording(name, first_window)

    def fail(self, recording_id: int) -> bool:
        """Drop what waits of a recording that failed; False where it had failed already."""
        recording = self.recordings[recording_id]
        before, recording.failed = recording.failed, True
        recording.waiting.clear()
        return not before

    def add(self, recording_id: int, first: int, scores: np.ndarray, embeddings: np.ndarray | None) -> int:
        """Windows written now (0 while the span waits for one before it)."""
        recording = self.recordings[recording_id]
        if recording.failed:
            return 0
        recording.waiting[first] = {"scores": scores, "embeddings": embeddings}
        written = 0
        while recording.next_window in recording.waiting:
            span = recording.waiting.pop(recording.next_window)
            count = len(span["scores"])
            if count:
                self.write(recording_id, recording.next_window, span["scores"], span["embeddings"])
            written += count
            if count == 0:  # the file ended early (truncated): nothing after it will be written
                recording.waiting.clear()
                break
            recording.next_window += count
        self.windows += written
        return written


def score_on_cluster(
    project_folder: str | Path,
    cluster: str,
    version: int | None = None,
    recording_ids: Sequence[int] | None = None,
    *,
    engine: str = "auto",
    precision: str = "fp32",
    overlap: float | None = None,
    rescore: bool = False,
    workers: int | None = None,
    worker_cpus: float = 1.0,
    worker_gpus: float = 0.0,
    path_map: Sequence[tuple[str, str]] = (),
    span_windows: int = SPAN_WINDOWS,
    cancel: threading.Event | None = None,
    on_progress: Callable[[ScoringProgress], None] | None = None,
    connect_timeout_s: float = 30.0,
) -> ScoringResult:
    """Score the project's unscored windows on a Ray cluster, as ``score`` does on this machine
    (same arguments; ``workers`` actors of ``worker_cpus`` CPUs and ``worker_gpus`` GPUs each,
    default as many as the cluster's CPUs hold). The cluster is reached before the project is
    opened: an address that does not answer changes nothing."""
    import_ray()
    parse_address(cluster)
    if not Path(project_folder, "project.sqlite").exists():
        raise ProjectError(f"{project_folder}: not a birdview project (no project.sqlite)")
    cancel = cancel or threading.Event()
    with connect(cluster, connect_timeout_s) as ray:
        with Project.open(project_folder) as project:
            model = project.model(version) if version is not None else project.active_model()
            if model is None:
                raise ProjectError(f"{project_folder}: no model to score with; add one (birdview models --add CKPT)")
            head = model if model.kind == "embedding-head" else None
            if head is not None:  # the base model runs on the cluster; the head reads its embeddings here
                model = project.model(int(head.frontend["base_version"]))
            model = _prepared(project, model, overlap if head is None else None, rescore and head is None)
            recipe = _recipe(project, model, engine, precision)
            items = _work_items(project, model, recording_ids, span_windows, path_map)
        with Project.open(project_folder) as project:
            result = _run(
                ray, project, model, recipe, items, cluster, workers, worker_cpus, worker_gpus, cancel, on_progress
            )
    if head is None or result.cancelled:
        return result
    rest = score(
        project_folder, head.version, recording_ids, cancel=cancel, on_progress=on_progress, engine=engine,
        precision=precision, overlap=overlap, rescore=rescore,
    )  # fmt: skip
    return ScoringResult(
        result.windows + rest.windows, rest.recordings, rest.cancelled, result.problems + rest.problems
    )


def _prepared(project: Project, model: ModelRow, overlap: float | None, rescore: bool) -> ModelRow:
    """The model with its hop set (``overlap``) and its predictions discarded (``rescore``), once its
    file is known to be there: a model whose file is gone keeps what it scored."""
    if model.kind != "birdnet" and not model.path.exists():
        raise ProjectError(f"model {model.label}: its file {model.path} is missing; nothing was scored")
    return apply_overlap_and_rescore(project, model, overlap, rescore)


def _recipe(project: Project, model: ModelRow, engine: str, precision: str) -> ModelRecipe:
    """What the workers load; a checkpoint gets its fast ONNX copy first where the engine reads ONNX
    (made once per version, in a child process), so that no worker converts it."""
    from trainer.inference import InferenceError, resolve_engine
    from trainer.models.trained import TRAINED_KIND

    if model.kind == TRAINED_KIND and model.path.suffix != ".onnx":
        try:
            chosen = resolve_engine(engine, False, precision)
        except InferenceError:
            chosen = engine
        if chosen in ("openvino", "onnxruntime", "auto"):
            prepare_fast_copy(project.folder, model.version)
    return scoring_recipe(project, model, engine, precision)


def _work_items(
    project: Project,
    model: ModelRow,
    recording_ids: Sequence[int] | None,
    span_windows: int,
    path_map: Sequence[tuple[str, str]],
) -> list[dict]:
    from trainer.window_stream import window_count

    items = []
    for recording_id in windows_to_score(project, model.version, recording_ids):
        recording = project.recording(recording_id)
        total = window_count(recording.duration_s, model.window_s, model.hop_s)
        path = _mapped(str(recording.path), path_map)
        for first in range(project.scored_windows(model.version, recording_id), total, max(1, span_windows)):
            last = min(total, first + span_windows)
            items.append(
                {"recording_id": recording_id, "path": path, "hop_s": model.hop_s, "first": first, "last": last}
            )
    return items


def _mapped(path: str, path_map: Sequence[tuple[str, str]]) -> str:
    for local, remote in path_map:
        if path == local or path.startswith(local.rstrip("/") + "/"):
            return remote.rstrip("/") + path[len(local.rstrip("/")) :]
    return path


def _run(
    ray: Any,
    project: Project,
    model: ModelRow,
    recipe: ModelRecipe,
    items: list[dict],
    cluster: str,
    workers: int | None,
    worker_cpus: float,
    worker_gpus: float,
    cancel: threading.Event,
    on_progress: Callable[[ScoringProgress], None] | None,
) -> ScoringResult:
    if not items:
        return ScoringResult(0, 0, False, [])
    started = time.monotonic()
    total = sum(item["last"] - item["first"] for item in items)
    writer = InOrderWriter(
        lambda recording_id, first, scores, embeddings: store_windows(
            project, model.version, recording_id, first, scores, embeddings
        )
    )
    for item in items:
        if item["recording_id"] not in writer.recordings:
            writer.expect(item["recording_id"], project.recording(item["recording_id"]).name, item["first"])
    spans_left = {}
    for item in items:
        spans_left[item["recording_id"]] = spans_left.get(item["recording_id"], 0) + 1
    dataset = _dataset(ray, recipe, items, cluster, workers, worker_cpus, worker_gpus)
    problems: list[str] = []
    recordings = 0
    rows = iter(dataset.iter_rows())
    try:
        for row in rows:
            recording_id = int(row["recording_id"])
            recording = writer.recordings[recording_id]
            error = str(row["error"] or "")
            if error.startswith(_MODEL_FAILED):
                raise ClusterError(
                    f"the cluster's workers cannot load model {recipe.label}: {error[len(_MODEL_FAILED) :]}; "
                    f"{writer.windows} window(s) were scored and kept"
                )
            if error:
                if writer.fail(recording_id):
                    problems.append(error)
            else:
                scores = _array(row["scores"], int(row["windows"]), int(row["classes"]))
                dim = int(row["dim"])
                embeddings = _array(row["embeddings"], int(row["windows"]), dim) if dim else None
                if writer.add(recording_id, int(row["first"]), scores, embeddings) and on_progress is not None:
                    on_progress(ScoringProgress(recording.name, writer.windows, total, time.monotonic() - started))
            spans_left[recording_id] -= 1
            if spans_left[recording_id] == 0 and not recording.failed:
                recordings += 1
            if cancel.is_set():
                return ScoringResult(writer.windows, recordings, True, problems)
    except ray.exceptions.RayError as exc:
        raise ClusterError(
            f"the cluster run stopped ({type(exc).__name__}: {str(exc).strip().splitlines()[0]}); "
            f"{writer.windows} window(s) were scored and kept, the next run goes on from there"
        ) from None
    finally:
        close = getattr(rows, "close", None)
        if close is not None:
            close()
    if writer.windows and model.embedding_dim:  # as local scoring: the similarity index takes them
        from birdview.review.similarity import update_index

        update_index(project, model.version)
    return ScoringResult(writer.windows, recordings, False, problems)


def _array(data: bytes, windows: int, width: int) -> np.ndarray:
    return np.frombuffer(data, dtype=np.float16).reshape(windows, width)


def _dataset(
    ray: Any,
    recipe: ModelRecipe,
    items: list[dict],
    cluster: str,
    workers: int | None,
    worker_cpus: float,
    worker_gpus: float,
) -> Any:
    import ray.data

    # Ray Data's own progress lines and notices: the command reports progress itself
    logging.getLogger("ray.data").setLevel(logging.ERROR)
    context = ray.data.DataContext.get_current()
    context.enable_progress_bars = False
    context.enable_auto_log_stats = False
    context.print_on_execution_start = False
    context.execution_options.verbose_progress = False
    context.execution_options.preserve_order = False  # results as they come; the writer orders them
    if workers is None:
        cpus = float(ray.cluster_resources().get("CPU", 1.0))
        workers = max(1, int(cpus // worker_cpus)) if worker_cpus > 0 else 1
    workers = max(1, min(workers, len(items)))
    model_files = {} if cluster == LOCAL else _model_files(ray, recipe)
    options: dict[str, Any] = {"num_cpus": worker_cpus}
    if worker_gpus:
        options["num_gpus"] = worker_gpus
    return ray.data.from_items(items, override_num_blocks=len(items)).map_batches(
        SpanScorer,
        fn_constructor_kwargs={
            "recipe": asdict(recipe),
            "threads": max(1, round(worker_cpus)),
            "model_files": model_files,
        },
        batch_size=1,
        batch_format="numpy",
        # a fixed pool; two items queued per actor keep it busy without piling work on one
        compute=ray.data.ActorPoolStrategy(size=workers, max_tasks_in_flight_per_actor=2),
        **options,
    )


def _model_files(ray: Any, recipe: ModelRecipe) -> dict:
    """The model's files, put in the cluster's object store for workers that do not see them (a
    worker that does reads its own copy and never fetches these)."""
    files = {}
    for where in (recipe.path, recipe.fast_copy):
        if where and Path(where).is_file():
            files[where] = ray.put(Path(where).read_bytes())
    return files
