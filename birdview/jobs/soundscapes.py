"""Full retraining that also learns from the project's unlabelled recordings (the trainer's
``--background-dir`` and one ``--rounds 1`` pseudo-label round), and what that adds to its time,
estimated before it starts.

The unlabelled recordings are those without a training label (confirmed call, drawn box, hard
negative) whose file is found; the trainer gets them as a list file (``unlabelled.txt`` in the
job's folder), since a project's recordings lie in many folders.

The estimate: the plain fit is timed from the project's last plain full retrain (seconds per clip
and epoch), or else taken from benchmarks/README.md's figure for the B0 backbone on two cores; the
pseudo-label round scores every unlabelled window with the new model (PyTorch on the CPU) and then
trains again on the labels plus the windows it keeps, which takes as long as the first fit or up
to twice as long, hence a range.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from birdview.jobs.child_process import DONE, ChildProcessJob
from birdview.store import labels as label_rules
from birdview.store.project import ModelRow, Project, ProjectError, RecordingRow

LIST_NAME = "unlabelled.txt"
#: Full fine-tuning of B0 on two CPU cores: 81–94 s per epoch per 1,000 clips (benchmarks/README.md).
DEFAULT_CLIP_EPOCH_S = 0.09
#: Scoring with PyTorch (what a pseudo-label round does): B0 eager, 2 threads, ≈ 29 windows/s
#: (field notes); the window's hop is the model's.
DEFAULT_SCORING_WINDOWS_PER_S = 29.0
#: Mixing background into half the clips: decoding one 5 s excerpt (≈ 5 ms) against ≈ 90 ms of
#: training per clip.
BACKGROUND_SHARE_OF_FIT = 0.03


@dataclass(frozen=True)
class SoundscapeOptions:
    """What a full retrain takes from the unlabelled recordings."""

    background: bool = False
    pseudo_round: bool = False

    @property
    def used(self) -> bool:
        return self.background or self.pseudo_round


@dataclass(frozen=True)
class RetrainEstimate:
    """Seconds a full retrain is expected to take, and what the options add to it."""

    fit_s: float
    #: Training clips (labels outside the held-out recordings).
    clips: int
    background_s: float
    #: Scoring the unlabelled recordings, and the second fit: (low, high).
    pseudo_s: tuple[float, float]
    unlabelled_recordings: int
    unlabelled_hours: float
    windows_to_score: int
    #: Where the fit's speed comes from.
    basis: str

    def added_s(self, options: SoundscapeOptions) -> tuple[float, float]:
        """What the options add: (low, high) seconds."""
        background = self.background_s if options.background else 0.0
        low, high = self.pseudo_s if options.pseudo_round else (0.0, 0.0)
        return background + low, background + high

    def describe(self, options: SoundscapeOptions) -> str:
        """For the user, before the job starts."""
        if self.clips == 0:
            return "No labels to train on yet: confirm or draw calls, or mark hard negatives first."
        parts = [f"Full retrain: about {duration(self.fit_s)} ({self.basis})."]
        if options.background:
            parts.append(
                f"Background from {self.unlabelled_recordings} unlabelled recording(s) "
                f"({duration(self.unlabelled_hours * 3600)} of audio): adds about {duration(self.background_s)}."
            )
        if options.pseudo_round:
            low, high = self.pseudo_s
            parts.append(
                f"One pseudo-label round: scores {self.windows_to_score:,} windows of "
                f"{self.unlabelled_recordings} unlabelled recording(s), then trains again: adds "
                f"{duration_range(low, high)}."
            )
        if options.used:
            low, high = self.added_s(options)
            parts.append(f"In all: {duration_range(self.fit_s + low, self.fit_s + high)}.")
        return " ".join(parts)


def duration(seconds: float) -> str:
    seconds = max(0.0, float(seconds))
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 90 * 60:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def duration_range(low: float, high: float) -> str:
    shorter, longer = duration(low), duration(high)
    return f"about {shorter}" if shorter == longer else f"{shorter} to {longer}"


def unlabelled_recordings(project: Project) -> list[RecordingRow]:
    """Recordings with no training label whose file is there."""
    labelled = {a.recording_id for a in label_rules.training_labels(project)}
    return [r for r in project.recordings() if r.id not in labelled and Path(r.path).is_file()]


def write_recording_list(recordings: list[RecordingRow], folder: Path) -> Path:
    path = folder / LIST_NAME
    folder.mkdir(parents=True, exist_ok=True)
    try:
        path.write_text("".join(f"{Path(r.path).absolute()}\n" for r in recordings), encoding="utf-8")
    except OSError as exc:
        raise ProjectError(f"{path}: cannot write the list of unlabelled recordings ({exc})") from None
    return path


def trainer_arguments(project: Project, options: SoundscapeOptions, folder: Path) -> tuple[list[str], int]:
    """The ``fit`` arguments the options add, and how many unlabelled recordings they use. A
    ProjectError when they are asked for and the project has no unlabelled recording."""
    if not options.used:
        return [], 0
    recordings = unlabelled_recordings(project)
    if not recordings:
        raise ProjectError(
            "background and pseudo-labels need unlabelled recordings: every recording of the project has "
            "labels (or its file is missing); add recordings of the site (File ▸ Add recordings)"
        )
    listing = write_recording_list(recordings, folder)
    arguments = ["--background-dir", str(listing)] if options.background else []
    if options.pseudo_round:
        arguments += ["--rounds", "1", "--unlabelled", str(listing)]
    return arguments, len(recordings)


def estimate_full_retrain(project: Project, epochs: int, valid_fraction: float = 0.25) -> RetrainEstimate:
    """The expected time of a full retrain of the active model, and what background and a
    pseudo-label round add (see the module's docstring)."""
    from birdview.jobs.training_set import validation_recordings

    labels = label_rules.training_labels(project)
    used = sorted({a.recording_id for a in labels})
    held_out = validation_recordings(used, valid_fraction)
    clips = sum(1 for a in labels if a.recording_id not in held_out)
    clip_epoch_s, basis = _clip_epoch_seconds(project)
    fit_s = clips * epochs * clip_epoch_s
    recordings = unlabelled_recordings(project)
    seconds = sum(r.duration_s for r in recordings)
    model = project.active_model()
    windows = int(seconds / _hop_s(model)) if recordings else 0
    scoring_s = windows / DEFAULT_SCORING_WINDOWS_PER_S
    return RetrainEstimate(
        fit_s=fit_s,
        clips=clips,
        background_s=fit_s * BACKGROUND_SHARE_OF_FIT,
        pseudo_s=(scoring_s + fit_s, scoring_s + 2 * fit_s),
        unlabelled_recordings=len(recordings),
        unlabelled_hours=seconds / 3600,
        windows_to_score=windows,
        basis=basis,
    )


def _hop_s(model: ModelRow | None) -> float:
    return float(model.hop_s) if model is not None and model.hop_s else 5.0


def _clip_epoch_seconds(project: Project) -> tuple[float, str]:
    """Seconds per training clip and epoch of the project's last plain full retrain, or the
    benchmark's figure."""
    timed = []
    for state_file in (project.folder / "jobs").glob("*/state.json"):
        try:
            state = ChildProcessJob(state_file.parent).read_state()
        except Exception:
            continue
        extra = state.extra or {}
        if state.state != DONE or extra.get("mode") != "full" or extra.get("soundscapes"):
            continue
        clips, epochs = _training_clips(project, extra), _epochs(state.command)
        if not (state.finished_at and state.started_at and clips and epochs):
            continue
        timed.append((state.finished_at, (state.finished_at - state.started_at) / (clips * epochs), clips, epochs))
    if not timed:
        return DEFAULT_CLIP_EPOCH_S, "rough: no full retrain timed in this project yet"
    _, per_clip_epoch, clips, epochs = max(timed)
    return per_clip_epoch, f"timed from this project's last full retrain, {clips} clips × {epochs} epochs"


def _training_clips(project: Project, extra: dict) -> int:
    """Labels a finished job trained on: those outside its held-out recordings."""
    held_out = set(extra.get("valid_recordings") or [])
    labels = project.annotations_by_id([int(i) for i in extra.get("labels") or []])
    return sum(1 for a in labels if a.recording_id not in held_out)


def _epochs(command: list[str]) -> int:
    try:
        return int(command[command.index("--epochs") + 1])
    except (ValueError, IndexError):
        return 0
