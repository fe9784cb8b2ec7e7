"""soundevent's AOEF JSON (what Whombat reads and writes), through the soundevent package.

Each recording becomes one clip spanning it; each label a sound event (a BoundingBox, or a
TimeInterval for whole-band labels) tagged with its species and birdview's kind and status.
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

from birdview.formats.labels import LabelFileError, TableLabel, check_band, check_times, gathered
from birdview.store.paths import atomic_write

SPECIES_KEYS = ("species", "dwc:scientificName", "scientific_name", "label", "class")
KIND_KEY, STATUS_KEY = "birdview:kind", "birdview:status"


def read(path: Path, problems: list[str] | None = None) -> list[TableLabel]:
    """The sound events of every clip. Each is named by the file's line that holds it and its
    number (``labels.json:1: sound event 3``: exports are one line). Its coordinates are taken as
    the file writes them (soundevent would put a reversed box in order) and every malformed one is
    named (one refusal)."""
    from soundevent.io.aoef import AOEFObject, to_soundevent

    path = Path(path)
    try:
        # Read by content, not by file name (an export to a name without .json reads back), and
        # with or without a byte-order mark.
        text = path.read_text(encoding="utf-8-sig")
        document = AOEFObject.model_validate_json(text)
        if document.data.collection_type != "annotation_project":
            raise ValueError(f"it holds a {document.data.collection_type}, not an annotation project")
        project = to_soundevent(document)
    except Exception as exc:
        raise LabelFileError(f"{path}: not a readable AOEF annotation project ({type(exc).__name__}: {exc})") from None
    written, lines = _written_coordinates(text), _uuid_lines(text)
    labels: list[TableLabel] = []
    found: list[str] = []
    event_number = 0
    for clip_annotation in project.clip_annotations:
        recording = str(clip_annotation.clip.recording.path)
        for annotation in clip_annotation.sound_events:
            event_number += 1
            uuid = str(annotation.sound_event.uuid)
            line = lines.get(uuid, 1)
            where = f"{path}:{line}: sound event {event_number}"
            tags = {tag.key: tag.value for tag in annotation.tags}
            names = [tags[k] for k in SPECIES_KEYS if tags.get(k)]
            geometry = annotation.sound_event.geometry
            coordinates = written.get(uuid, getattr(geometry, "coordinates", []))
            try:
                if geometry.type == "BoundingBox" and len(coordinates) == 4:
                    start, low, end, high = (_number(c, n, where) for c, n in zip(coordinates, BOX_NAMES, strict=True))
                elif geometry.type == "TimeInterval" and len(coordinates) == 2:
                    start, end = (_number(c, n, where) for c, n in zip(coordinates, BOX_NAMES[::2], strict=True))
                    low = high = None
                elif geometry.type == "TimeStamp":
                    time = coordinates[0] if isinstance(coordinates, list) else coordinates
                    start = end = _number(time, "time", where)
                    low = high = None
                else:
                    raise LabelFileError(f"{where}: geometry {geometry.type} is not supported")
                check_times(start, end, where)
                check_band(low, high, where, ("low frequency", "high frequency"))
            except LabelFileError as exc:
                found += exc.problems
                continue
            labels.append(
                TableLabel(
                    start,
                    end,
                    low,
                    high,
                    names,
                    tags.get(KIND_KEY, "call"),
                    status=tags.get(STATUS_KEY),
                    recording=recording,
                    line=line,
                    source=path,
                    place=f"sound event {event_number}",
                )
            )
    return gathered(labels, found, problems)


BOX_NAMES = ("start time", "low frequency", "end time", "high frequency")


def _number(value: object, name: str, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise LabelFileError(f"{where}: {name} {value!r} is not a number")
    if not math.isfinite(value):
        raise LabelFileError(f"{where}: {name} {value} is not a finite number")
    return float(value)


def _uuid_lines(text: str) -> dict[str, int]:
    """The line on which each uuid is first given (once over the text: files can be large)."""
    lines: dict[str, int] = {}
    line, position = 1, 0
    for match in re.finditer(r'"uuid"\s*:\s*"([^"]+)"', text):
        line += text.count("\n", position, match.start())
        position = match.start()
        lines.setdefault(match.group(1), line)
    return lines


def _written_coordinates(text: str) -> dict[str, list]:
    """The coordinates of each sound event (by uuid) as the JSON holds them."""
    try:
        document = json.loads(text)
        events = (document.get("data") or document)["sound_events"]
        return {str(e["uuid"]): e["geometry"]["coordinates"] for e in events}
    except (ValueError, TypeError, KeyError, AttributeError):
        return {}


def write(path: Path, recordings: list[dict], rows: list[dict], name: str) -> Path:
    """recordings: path, duration_s, sample_rate, channels, id; rows: label dicts with recording_id.
    Written whole or not at all."""
    from soundevent import data, io

    clip_annotations, tasks = [], []
    for recording in recordings:
        sound_recording = data.Recording(
            path=Path(recording["path"]),
            duration=recording["duration_s"],
            samplerate=recording["sample_rate"],
            channels=recording["channels"],
        )
        clip = data.Clip(recording=sound_recording, start_time=0.0, end_time=recording["duration_s"])
        events = []
        for row in (r for r in rows if r["recording_id"] == recording["id"]):
            if row["low_hz"] is None or row["high_hz"] is None:
                geometry = data.TimeInterval(coordinates=[row["start_s"], row["end_s"]])
            else:
                geometry = data.BoundingBox(coordinates=[row["start_s"], row["low_hz"], row["end_s"], row["high_hz"]])
            tags = [data.Tag(key=KIND_KEY, value=row["kind"]), data.Tag(key=STATUS_KEY, value=row["status"])]
            if row["species"]:
                tags.insert(0, data.Tag(key="species", value=row["species"]))
            events.append(
                data.SoundEventAnnotation(
                    sound_event=data.SoundEvent(recording=sound_recording, geometry=geometry), tags=tags
                )
            )
        clip_annotations.append(data.ClipAnnotation(clip=clip, sound_events=events))
        tasks.append(data.AnnotationTask(clip=clip))
    project = data.AnnotationProject(name=name, clip_annotations=clip_annotations, tasks=tasks)
    with atomic_write(path) as temp:
        io.save(project, str(temp), format="aoef")
    return path
