"""Adding models to a project and scoring its recordings with the trainer's inference.

Scoring stores each chunk of windows as soon as it is computed, so a cancelled run keeps what it
did and the next run goes on from there (only unscored windows are computed). It opens its own
connection to the project, so it can run on a worker thread while the GUI keeps its own.
"""

from __future__ import annotations

import subprocess
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from birdview.jobs.child_process import trainer_command
from birdview.store.project import ModelRow, Project, ProjectError

if TYPE_CHECKING:
    from trainer.inference import Scorer
    from trainer.models.base import WindowModel

# The trainer's inference (torch, timm, OpenVINO) is imported where it is used, not when the
# window starts: a viewer that never scores never pays for it.


@dataclass
class ScoringProgress:
    recording: str
    windows_done: int
    windows_total: int
    elapsed_s: float

    @property
    def eta_s(self) -> float | None:
        if self.windows_done <= 0:
            return None
        return self.elapsed_s / self.windows_done * (self.windows_total - self.windows_done)


@dataclass
class ScoringResult:
    windows: int
    recordings: int
    cancelled: bool
    problems: list[str]


def add_model(
    project: Project,
    path: str | Path,
    parent: int | None = None,
    activate: bool | None = None,
    metrics: dict | None = None,
    log_path: str | None = None,
    training_labels: list[int] | None = None,
    file: str | Path | None = None,
) -> ModelRow:
    """Register a model: ``birdnet``, ``perch-v2`` (``file``: its ONNX export), or a birdview-train
    checkpoint or ONNX export. Its classes become project species, with their names."""
    from trainer.models.base import ModelError
    from trainer.models.registry import BUILT_IN, load_model

    built_in = str(path) in BUILT_IN
    source = Path(file if built_in and file is not None else path).absolute()
    for known in project.models():
        same = known.kind == "birdnet" if str(path) == "birdnet" else known.path == source
        if same:
            raise ProjectError(
                f"{known.name or known.path} is already model version {known.version} of this project "
                f"(birdview models --activate {known.version} makes it the active one)"
            )
    try:
        model = load_model(str(path) if built_in else source, file, engine=_adding_engine(source))
    except ModelError as exc:
        raise ProjectError(str(exc)) from None
    info = model.info
    project.add_model_species(
        (name.code, name.common_name, name.scientific_name, name.category) for name in info.species
    )
    first = project.active_model() is None
    return project.register_model(
        info.source if str(path) == "birdnet" else source,
        info.classes,
        info.frontend,
        info.window_s,
        parent=parent,
        metrics=metrics,
        log_path=log_path,
        training_labels=training_labels,
        activate=first if activate is None else activate,
        kind=info.kind,
        name=info.name,
        sample_rate=info.sample_rate,
        embedding_dim=info.embedding_dim,
        licence=info.licence,
    )


def _adding_engine(path: Path) -> str:
    return "onnxruntime" if path.suffix == ".onnx" else "torch"


def bf16_available() -> bool:
    """Whether scoring in bf16 runs natively here (OpenVINO installed and a CPU with bf16)."""
    from trainer.openvino_backend import bf16_supported

    try:
        return bf16_supported()
    except ImportError:  # OpenVINO is not installed
        return False


def fast_copy_path(project: Project, version: int) -> Path:
    """Where a checkpoint's ONNX export is kept for scoring (OpenVINO reads it in 0.2 s)."""
    return project.folder / "models" / f"model-v{version}.onnx"


def prepare_fast_copy(
    project_folder: str | Path, version: int, timeout_s: float = 600, cancel: threading.Event | None = None
) -> Path | None:
    """Export a checkpoint model to ONNX in a child process, once per version.

    Converting in the app's own process holds Python's lock for about 0.1 s at a time (the
    exporter's C++ passes), which a window would feel; a child process costs the GUI nothing.
    None where there is nothing to do or the export failed (scoring then converts in-process)."""
    with Project.open(project_folder) as project:
        model = project.model(version)
        if model is None or model.kind != "birdview-train" or model.path.suffix == ".onnx":
            return None
        target = fast_copy_path(project, version)
    if target.exists() and _exports_embeddings(target):
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix(".partial.onnx")
    command = trainer_command(["export", "--checkpoint", str(model.path), "--out", str(partial)])
    cancel = cancel or threading.Event()
    try:
        child = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    except OSError:
        return None
    deadline = time.monotonic() + timeout_s
    while child.poll() is None:
        if cancel.wait(0.1) or time.monotonic() > deadline:
            child.kill()
            child.wait()
            break
    if child.returncode != 0 or not partial.exists():
        partial.unlink(missing_ok=True)
        return None
    partial.replace(target)
    return target


def _exports_embeddings(path: Path) -> bool:
    """Whether an ONNX copy gives the embedding too (copies made before embeddings were kept do not:
    they are made again)."""
    import onnx

    from trainer.onnx_export import EMBEDDING_NAME

    try:
        graph = onnx.load(str(path), load_external_data=False).graph
    except Exception:
        return False
    return any(output.name == EMBEDDING_NAME for output in graph.output)


def windows_to_score(project: Project, version: int, recording_ids: Sequence[int] | None = None) -> dict[int, int]:
    """Per recording, how many windows are still unscored by this model version."""
    from trainer.window_stream import window_count

    model = project.model(version)
    todo = {}
    for recording in project.recordings():
        if recording_ids is not None and recording.id not in recording_ids:
            continue
        total = window_count(recording.duration_s, model.window_s, model.hop_s)
        left = total - project.scored_windows(version, recording.id)
        if left > 0:
            todo[recording.id] = left
    return todo


@dataclass(frozen=True)
class ModelRecipe:
    """How to load a project's model version, in plain values: what a process that has no project
    (a cluster worker) needs to load the same model as local scoring does."""

    kind: str
    path: str  # the model's file (a checkpoint, an ONNX export, Perch's ONNX file; BirdNET: its folder)
    label: str  # how the user sees the model (messages)
    fast_copy: str | None = None  # a checkpoint's ONNX copy, where there is one
    engine: str = "auto"
    precision: str = "fp32"


def scoring_recipe(project: Project, model: ModelRow, engine: str = "auto", precision: str = "fp32") -> ModelRecipe:
    copy = fast_copy_path(project, model.version)
    return ModelRecipe(
        model.kind, str(model.path), model.label, str(copy) if copy.exists() else None, engine, precision
    )


def load_recipe(recipe: ModelRecipe, threads: int | None = None) -> WindowModel:
    """The model of a recipe, ready to score: a checkpoint through its fast ONNX copy where the
    engine (resolved here, where it runs) reads ONNX, BirdNET and Perch through their own engines."""
    from trainer.inference import InferenceError, load_scorer, resolve_engine
    from trainer.models.base import ModelError
    from trainer.models.registry import load_model
    from trainer.models.trained import TRAINED_KIND, TrainedModel

    try:
        if recipe.kind != TRAINED_KIND:
            return load_model(recipe.kind, recipe.path, threads=threads)
        chosen = resolve_engine(recipe.engine, recipe.path.endswith(".onnx"), recipe.precision)
        use_copy = chosen in ("openvino", "onnxruntime") and recipe.fast_copy and Path(recipe.fast_copy).exists()
        path = recipe.fast_copy if use_copy else recipe.path
        scorer = load_scorer(path, threads=threads, engine=chosen, precision=recipe.precision)
        return TrainedModel(scorer, recipe.path)
    except (InferenceError, ModelError, ValueError, RuntimeError) as exc:
        raise ProjectError(f"model {recipe.label} ({recipe.path}): cannot score with it ({exc})") from None


def load_for_scoring(project: Project, model: ModelRow, engine: str = "auto", precision: str = "fp32") -> WindowModel:
    """The model of a project's version, ready to score (see load_recipe)."""
    return load_recipe(scoring_recipe(project, model, engine, precision))


def store_windows(
    project: Project,
    version: int,
    recording_id: int,
    first_window: int,
    scores: np.ndarray,
    embeddings: np.ndarray | None,
) -> None:
    """Store consecutive scored windows of a recording and their embeddings (none where the model
    gives none): what every way of scoring (local, on a cluster, imported shards) writes through."""
    project.store_predictions(
        version,
        recording_id,
        scores,
        first_window=first_window,
        embeddings=embeddings if embeddings is not None and embeddings.ndim == 2 and embeddings.shape[1] else None,
    )


def score(
    project_folder: str | Path,
    version: int | None = None,
    recording_ids: Sequence[int] | None = None,
    batch_size: int = 32,
    cancel: threading.Event | None = None,
    on_progress: Callable[[ScoringProgress], None] | None = None,
    scorer: Scorer | WindowModel | None = None,
    chunk_windows: int = 48,
    engine: str = "auto",
    precision: str = "fp32",
    overlap: float | None = None,
    rescore: bool = False,
    channel: int | None = None,
) -> ScoringResult:
    """Score what is not yet scored, keeping every window's probabilities and embedding;
    ``version`` defaults to the active model.

    ``overlap`` (a fraction of the window) sets where windows start; a model already scored with
    another overlap is refused unless ``rescore`` (which discards its predictions first).
    ``channel`` (0-based) scores one channel of each recording; None, the mean of its channels
    (mono, as always before). A model already scored on another channel is refused unless
    ``rescore``; a recording without that channel is a problem named in the result, and nothing
    is stored for it. ``engine`` and ``precision`` are those of ``birdview-train predict``
    (see ``resolve_engine``).
    """
    from trainer.inference import InferenceError
    from trainer.models.base import ModelError
    from trainer.models.trained import TrainedModel
    from trainer.window_stream import check_channel

    cancel = cancel or threading.Event()
    started = time.monotonic()
    with Project.open(project_folder) as project:
        model = project.model(version) if version is not None else project.active_model()
        if model is None:
            raise ProjectError(f"{project_folder}: no model to score with; add one (birdview models --add CKPT)")
        # The model is loaded first: a model whose file is gone keeps what it scored.
        head = model.kind == "embedding-head" and scorer is None
        if head:
            _load_head(model)
        elif scorer is None:
            window_model = load_for_scoring(project, model, engine, precision)
        elif hasattr(scorer, "infer"):
            window_model = scorer
        else:
            window_model = TrainedModel(scorer, model.path, batch_size)
        check_scoring_channel(project, model, channel, rescore)
        model = apply_overlap_and_rescore(project, model, overlap, rescore)
        if head:
            return _score_head(project, model, recording_ids, cancel, on_progress, engine, precision, started, channel)
        todo = windows_to_score(project, model.version, recording_ids)
        total = sum(todo.values())
        done, problems, scored_recordings = 0, [], 0
        for recording_id in todo:
            recording = project.recording(recording_id)
            first_unscored = project.scored_windows(model.version, recording_id)
            try:
                check_channel(recording.name, recording.channels, channel)
                chunks = window_model.chunks(
                    recording.path,
                    model.hop_s,
                    start_window=first_unscored,
                    chunk_windows=chunk_windows,
                    channel=channel,
                )
                for chunk in chunks:
                    if cancel.is_set():
                        chunks.close()
                        return ScoringResult(done, scored_recordings, True, problems)
                    scores, embeddings = window_model.infer(chunk.inputs)
                    if not done:
                        project.set_setting(_channel_setting(model.version), channel)
                    store_windows(project, model.version, recording_id, int(chunk.index[0]), scores, embeddings)
                    done += len(chunk.index)
                    if on_progress is not None:
                        on_progress(ScoringProgress(recording.name, done, total, time.monotonic() - started))
            except (InferenceError, ModelError) as exc:
                problems.append(str(exc))
                continue
            scored_recordings += 1
        if done and model.embedding_dim:  # a large project's similarity index takes the new windows
            from birdview.review.similarity import update_index

            update_index(project, model.version)
        return ScoringResult(done, scored_recordings, False, problems)


def _load_head(model: ModelRow):
    from trainer.models.base import ModelError
    from trainer.models.head import Head

    try:
        return Head.load(model.path)[0]
    except ModelError as exc:
        raise ProjectError(f"model {model.label}: {exc}") from None


def _score_head(
    project: Project,
    model: ModelRow,
    recording_ids: Sequence[int] | None,
    cancel: threading.Event,
    on_progress: Callable[[ScoringProgress], None] | None,
    engine: str,
    precision: str,
    started: float,
    channel: int | None = None,
) -> ScoringResult:
    """A head on a pretrained model's embeddings: the base model scores (and keeps the embeddings
    of) what it has not scored yet; the head then scores from the stored embeddings, without
    running the network again."""

    base = project.model(int(model.frontend["base_version"]))
    if abs(base.hop_s - model.hop_s) > 1e-9:
        raise ProjectError(
            f"model {model.label} reads windows every {model.hop_s:g} s, {base.label} every {base.hop_s:g} s"
        )
    first = score(
        project.folder,
        base.version,
        recording_ids,
        cancel=cancel,
        on_progress=on_progress,
        engine=engine,
        precision=precision,
        channel=channel,
    )
    if first.cancelled:
        return first
    head = _load_head(model)
    done, recordings = 0, 0
    for recording in project.recordings():
        if recording_ids is not None and recording.id not in recording_ids:
            continue
        if cancel.is_set():
            return ScoringResult(done, recordings, True, first.problems)
        have = project.scored_windows(model.version, recording.id)
        embeddings = project.embeddings(base.version, recording.id)
        if len(embeddings) <= have:
            continue
        scores = head.probabilities(np.asarray(embeddings[have:], dtype=np.float32))
        project.set_setting(_channel_setting(model.version), channel)
        project.store_predictions(model.version, recording.id, scores, first_window=have)
        done += len(scores)
        recordings += 1
        if on_progress is not None:
            on_progress(ScoringProgress(recording.name, done, done, time.monotonic() - started))
    return ScoringResult(done, recordings, False, first.problems)


def describe_channel(channel: int | None) -> str:
    """What a model scored, as a user says it: "channel 2" (``channel`` is 0-based) or the mix."""
    return "the mix of the channels" if channel is None else f"channel {channel + 1}"


def _channel_setting(version: int) -> str:
    return f"scoring_channel.v{version}"


def scored_channel(project: Project, version: int) -> int | None:
    """The channel (0-based) a model version's predictions were made on; None: the mix (also for
    predictions made before the channel was recorded, which were all of the mix)."""
    value = project.get_setting(_channel_setting(version))
    return int(value) if value is not None else None


def check_scoring_channel(project: Project, model: ModelRow, channel: int | None, rescore: bool) -> None:
    """Refuse to add windows of one channel to a model's windows of another (``rescore`` discards
    them first, as for another overlap)."""
    if rescore or channel == scored_channel(project, model.version) or not project.scored_recordings(model.version):
        return
    raise ProjectError(
        f"model {model.label} has windows scored on {describe_channel(scored_channel(project, model.version))}; "
        f"scoring {describe_channel(channel)} would mix the two (birdview score --rescore discards them first)"
    )


def apply_overlap_and_rescore(project: Project, model: ModelRow, overlap: float | None, rescore: bool) -> ModelRow:
    """The model row to score with: its hop set from ``overlap`` (checked before anything is
    discarded), its predictions and embeddings discarded first with ``rescore``."""
    from trainer.models.base import ModelError, hop_for

    hop = None
    if overlap is not None:
        try:
            hop = hop_for(model.window_s, overlap)
        except ModelError as exc:
            raise ProjectError(str(exc)) from None
    if rescore:
        project.discard_predictions(model.version)
    if hop is not None:
        model = project.set_hop(model.version, hop)
    return model
