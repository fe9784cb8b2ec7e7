"""``--progress json``: one JSON object a line on stdout, for the app (or a script) to follow.

Each line is one of the events below, written by :func:`emit` and read back by :func:`parse_event`.
On the wire an event is ``{"stage": ..., <its fields>}`` (the field names are the wire's names, so
job folders written by earlier versions still read); a line that is not an event this version
knows (another stage, a missing or mistyped field, not JSON) reads as None and is skipped.

Lightning runs report through JsonProgress (lightning_progress.py); this module imports no Lightning."""

from __future__ import annotations

import functools
import json
import math
import numbers
import sys
import types
import typing
from collections.abc import Mapping
from dataclasses import MISSING, dataclass, field, fields
from typing import Any, ClassVar, TextIO, TypeVar


def _plain(value: Any) -> Any:
    """JSON's own types: numpy and torch scalars become numbers, NaN and infinity become null."""
    if isinstance(value, dict):
        return {str(key): _plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    if value is None or isinstance(value, (str, bool, int)):
        return value
    if isinstance(value, numbers.Integral):  # numpy integers
        return int(value)
    try:
        number = float(value)
    except (TypeError, ValueError):
        return str(value)
    return number if math.isfinite(number) else None


_E = TypeVar("_E", bound="_Event")


class _Event:
    """What every event shares: its ``stage`` on the wire, and how it is written and read."""

    STAGE: ClassVar[str]
    #: Further fixed fields that tell this event from others of its stage (e.g. ``"event": "start"``).
    MARK: ClassVar[Mapping[str, str]] = {}

    def to_record(self) -> dict[str, Any]:
        """The wire form: ``stage`` first, then any mark, then every field (None included)."""
        return {"stage": self.STAGE, **self.MARK, **{f.name: getattr(self, f.name) for f in fields(self)}}

    @classmethod
    def from_record(cls: type[_E], record: Mapping[str, Any]) -> _E | None:
        """This event from its wire form, or None when the record is not one (another stage or
        mark, a required field missing, a field of the wrong type). Unknown keys are ignored."""
        if record.get("stage") != cls.STAGE or any(record.get(k) != v for k, v in cls.MARK.items()):
            return None
        hints = _type_hints(cls)
        values = {}
        for item in fields(cls):  # type: ignore[arg-type]
            if item.name not in record:
                if item.default is MISSING and item.default_factory is MISSING:
                    return None  # a required field
                continue
            if not _fits(record[item.name], hints[item.name]):
                return None
            values[item.name] = record[item.name]
        return cls(**values)


@functools.cache
def _type_hints(kind: type) -> dict[str, Any]:
    return typing.get_type_hints(kind)


def _fits(value: Any, hint: Any) -> bool:
    """Whether a JSON value is of a field's declared type (a number for ``float``, not a bool)."""
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        return any(_fits(value, option) for option in typing.get_args(hint))
    if hint is type(None):
        return value is None
    if hint is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, origin or hint)


@dataclass(frozen=True)
class Started(_Event):
    """Training begins: ``total`` optimiser steps (-1 when unknown), from ``step`` of ``epoch``."""

    STAGE: ClassVar[str] = "train"
    MARK: ClassVar[Mapping[str, str]] = {"event": "start"}
    epoch: int | None = None
    step: int | None = None
    total: int | None = None


@dataclass(frozen=True)
class TrainStep(_Event):
    """One optimiser step, with its training loss and the time left (seconds) where known."""

    STAGE: ClassVar[str] = "train"
    epoch: int | None = None
    step: int | None = None
    total: int | None = None
    loss: float | None = None
    eta_s: float | None = None


@dataclass(frozen=True)
class Validated(_Event):
    """The end of a validation pass: its metrics (``val_roc_auc``...; an undefined one is None)."""

    STAGE: ClassVar[str] = "validate"
    epoch: int | None = None
    step: int | None = None
    total: int | None = None
    metrics: dict[str, float | None] = field(default_factory=dict)


@dataclass(frozen=True)
class Done(_Event):
    """A fit ended: its best checkpoint and final metrics."""

    STAGE: ClassVar[str] = "done"
    checkpoint: str
    metrics: dict[str, float | None] = field(default_factory=dict)


@dataclass(frozen=True)
class PredictStep(_Event):
    """``predict`` starts on file number ``step`` (from 0) of ``total``."""

    STAGE: ClassVar[str] = "predict"
    step: int | None = None
    total: int | None = None
    file: str | None = None


@dataclass(frozen=True)
class PredictDone(_Event):
    """``predict`` ended: the table it wrote, its number of windows, and the files it skipped."""

    STAGE: ClassVar[str] = "done"
    out: str
    windows: int = 0
    skipped: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Warned(_Event):
    """Something the user should know that does not stop the run."""

    STAGE: ClassVar[str] = "warning"
    message: str


@dataclass(frozen=True)
class Failed(_Event):
    """The run stopped on an error (the command then exits non-zero)."""

    STAGE: ClassVar[str] = "error"
    message: str


Event = Started | TrainStep | Validated | Done | PredictStep | PredictDone | Warned | Failed
#: Tried in this order: an event with a mark or required fields before a looser one of its stage.
EVENT_TYPES: tuple[type[_Event], ...] = (Started, TrainStep, Validated, Done, PredictStep, PredictDone, Warned, Failed)


def parse_event(line: str | bytes) -> Event | None:
    """The event on one progress line; None for anything else (a blank or log line, malformed
    JSON, an unknown stage, missing or mistyped fields): callers skip those."""
    try:
        record = json.loads(line)
    except (ValueError, TypeError):
        return None
    if not isinstance(record, dict):
        return None
    for kind in EVENT_TYPES:
        event = kind.from_record(record)
        if event is not None:
            return event
    return None


def json_line(record: Event | Mapping[str, Any]) -> str:
    """Strict JSON (no NaN, which many readers reject): a metric that is undefined is null."""
    if isinstance(record, _Event):
        record = record.to_record()
    return json.dumps(_plain(dict(record)), allow_nan=False)


def emit(record: Event | Mapping[str, Any], stream: TextIO | None = None) -> None:
    """One line of ``--progress json``: an event (or, for other tools, a plain record)."""
    stream = stream or sys.stdout
    stream.write(json_line(record) + "\n")
    stream.flush()
