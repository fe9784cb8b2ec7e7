"""What a label is and the rules about it, in one place: its kind, status and source, the label a
user draws, the labels a review verdict makes (and the verdict read back from them), and which
labels count for training.

The store checks labels with these, the window draws them, the review queue records verdicts and
retraining picks its labels through them. This module imports nothing above the store (the
``Annotation`` value lives here so that ``birdview.store.project`` can import it without a cycle;
it is re-exported there).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import Enum
from typing import TYPE_CHECKING, Protocol, TypeVar

from birdview.store.errors import ProjectError

if TYPE_CHECKING:
    from birdview.store.project import Project

_T = TypeVar("_T", bound="_Text")


class _Text(str, Enum):
    """A string enum (``enum.StrEnum`` before Python 3.11): members are their values, so what is
    stored in SQLite, written to files and formatted is the plain string."""

    def __str__(self) -> str:
        return str(self.value)

    @classmethod
    def values(cls) -> tuple[str, ...]:
        return tuple(member.value for member in cls)

    @classmethod
    def parse(cls: type[_T], value: object) -> _T:
        """The member for a value (a member or its string); a ProjectError names the choices."""
        try:
            return cls(value)
        except ValueError:
            raise ProjectError(
                f"{cls.__name__.lower()} must be one of {', '.join(cls.values())}, not {value!r}"
            ) from None


class Kind(_Text):
    CALL = "call"
    HARD_NEGATIVE = "hard_negative"
    UNCERTAIN = "uncertain"


class Status(_Text):
    UNREVIEWED = "unreviewed"
    CONFIRMED = "confirmed"
    REJECTED = "rejected"


class Source(_Text):
    USER = "user"
    MODEL_REVIEW = "model_review"
    IMPORT = "import"


class Verdict(_Text):
    """A reviewer's answer to one of a model's detections."""

    CONFIRM = "confirm"
    REJECT = "reject"
    UNCERTAIN = "uncertain"
    RELABEL = "relabel"


@dataclass(frozen=True)
class Annotation:
    """One label. ``note`` is the user's free text; ``reviewed_species`` and ``verdict`` are set on
    labels a review made (source ``model_review``): the species of the model's detection and the
    verdict given on it."""

    recording_id: int
    start_s: float
    end_s: float
    low_hz: float | None = None
    high_hz: float | None = None
    species: str | None = None
    kind: str = Kind.CALL.value
    status: str = Status.UNREVIEWED.value
    source: str = Source.USER.value
    score: float | None = None
    model_version: int | None = None
    author: str | None = None
    note: str | None = None
    channel: int | None = None
    reviewed_species: str | None = None
    verdict: str | None = None
    id: int | None = None
    created_at: str = ""
    updated_at: str = ""

    @property
    def whole_band(self) -> bool:
        return self.low_hz is None or self.high_hz is None

    def identity(self) -> tuple:
        """What makes two labels the same label (for imports that must not duplicate)."""
        return label_identity(
            self.recording_id, self.start_s, self.end_s, self.low_hz, self.high_hz, self.species, self.kind
        )


def label_identity(
    recording_id: int,
    start_s: float,
    end_s: float,
    low_hz: float | None,
    high_hz: float | None,
    species: str | None,
    kind: str,
) -> tuple:
    """Annotation.identity from the columns (for stored labels, without making Annotations)."""
    return (
        recording_id,
        round(start_s, 3),
        round(end_s, 3),
        None if low_hz is None else round(low_hz, 3),
        None if high_hz is None else round(high_hz, 3),
        species,
        kind,
    )


# -- the label a user draws -----------------------------------------------------------------------


def drawn_label(
    recording_id: int,
    start_s: float,
    end_s: float,
    low_hz: float | None,
    high_hz: float | None,
    species: str | None,
    kind: str = Kind.CALL,
    *,
    nyquist_hz: float | None = None,
) -> Annotation:
    """A label the user drew: a call is confirmed by drawing it, a hard negative or an uncertain
    label is left unreviewed. A box from 0 Hz to the top of the spectrogram (``nyquist_hz``) is a
    time span over the whole band: it keeps no frequencies."""
    kind = Kind.parse(kind)
    whole_band = (
        nyquist_hz is not None
        and low_hz is not None
        and high_hz is not None
        and low_hz <= 1.0
        and high_hz >= nyquist_hz * 0.99
    )
    return Annotation(
        recording_id,
        start_s,
        end_s,
        None if whole_band else low_hz,
        None if whole_band else high_hz,
        species,
        kind=kind,
        status=Status.CONFIRMED if kind == Kind.CALL else Status.UNREVIEWED,
        source=Source.USER,
    )


# -- review verdicts ------------------------------------------------------------------------------


class Detection(Protocol):
    """A model's detection to give a verdict on (``birdview.review.queue.Candidate`` is one)."""

    @property
    def recording_id(self) -> int: ...
    @property
    def start_s(self) -> float: ...
    @property
    def end_s(self) -> float: ...
    @property
    def species(self) -> str: ...
    @property
    def score(self) -> float: ...
    @property
    def model_version(self) -> int: ...


class _Judged(Protocol):
    @property
    def kind(self) -> str: ...
    @property
    def species(self) -> str | None: ...


def verdict_labels(
    detection: Detection, verdict: str, species: str | None = None, author: str | None = None
) -> list[Annotation]:
    """The labels a verdict on a detection makes (source ``model_review``, with the model's score
    and version): confirm -> a confirmed call; reject -> a hard negative for the detection's species
    (what retraining learns the model's false alarms from); uncertain -> an uncertain label;
    relabel (to ``species``) -> a hard negative for the detection's species and a confirmed call of
    the right one (a relabel to the same species is a confirm)."""
    verdict = Verdict.parse(verdict)
    if verdict == Verdict.RELABEL:
        if not species:
            raise ProjectError("relabel needs the right species")
        if species == detection.species:
            verdict = Verdict.CONFIRM

    def label(of: str, kind: Kind, status: Status) -> Annotation:
        return Annotation(
            detection.recording_id,
            detection.start_s,
            detection.end_s,
            species=of,
            kind=kind,
            status=status,
            source=Source.MODEL_REVIEW,
            score=detection.score,
            model_version=detection.model_version,
            author=author,
            reviewed_species=detection.species,
            verdict=verdict,
        )

    reviewed = detection.species
    if verdict == Verdict.CONFIRM:
        return [label(reviewed, Kind.CALL, Status.CONFIRMED)]
    if verdict == Verdict.REJECT:
        return [label(reviewed, Kind.HARD_NEGATIVE, Status.REJECTED)]
    if verdict == Verdict.UNCERTAIN:
        return [label(reviewed, Kind.UNCERTAIN, Status.UNREVIEWED)]
    return [label(reviewed, Kind.HARD_NEGATIVE, Status.REJECTED), label(species, Kind.CALL, Status.CONFIRMED)]


def read_verdict(labels: Iterable[_Judged], reviewed_species: str | None) -> Verdict | None:
    """The verdict the labels of one reviewed detection stand for now (None: not reviewed). Read
    from their kinds and species, so a review label edited later (made a hard negative, say) reads
    as what it has become."""
    kinds = {(label.kind, label.species == reviewed_species) for label in labels}
    if not kinds:
        return None
    if (Kind.CALL, True) in kinds:
        return Verdict.CONFIRM
    if (Kind.CALL, False) in kinds:
        return Verdict.RELABEL
    if (Kind.UNCERTAIN, True) in kinds:
        return Verdict.UNCERTAIN
    return Verdict.REJECT


# -- training -------------------------------------------------------------------------------------


def counts_for_training(label: Annotation) -> bool:
    """Every hard negative, and calls of a species that are confirmed or were drawn by the user
    (and not rejected)."""
    if label.kind == Kind.HARD_NEGATIVE:
        return True
    return (
        label.kind == Kind.CALL
        and bool(label.species)
        and (label.status == Status.CONFIRMED or label.source == Source.USER)
        and label.status != Status.REJECTED
    )


def training_labels(project: Project) -> list[Annotation]:
    """The project's labels that count for training (``counts_for_training``)."""
    return [label for label in project.annotations() if counts_for_training(label)]
