"""soundevent's AOEF JSON (what Whombat reads and writes), through the soundevent package.

Each recording becomes one clip spanning it; each label a sound event (a BoundingBox, or a
TimeInterval for whole-band labels) tagged with its species and birdview's kind and status.
"""

from __future__ import annotations

from pathlib import Path

from birdview.formats.labels import LabelFileError, TableLabel

SPECIES_KEYS = ("species", "dwc:scientificName", "scientific_name", "label", "class")
KIND_KEY, STATUS_KEY = "birdview:kind", "birdview:status"


def read(path: Path) -> list[TableLabel]:
    from soundevent import io

    path = Path(path)
    try:
        project = io.load(str(path), type="annotation_project")
    except Exception as exc:
        raise LabelFileError(f"{path}: not a readable AOEF annotation project ({type(exc).__name__}: {exc})") from None
    labels = []
    for clip_number, clip_annotation in enumerate(project.clip_annotations, start=1):
        recording = str(clip_annotation.clip.recording.path)
        for annotation in clip_annotation.sound_events:
            tags = {tag.key: tag.value for tag in annotation.tags}
            names = [tags[k] for k in SPECIES_KEYS if tags.get(k)]
            geometry = annotation.sound_event.geometry
            coordinates = list(getattr(geometry, "coordinates", []))
            if geometry.type == "BoundingBox":
                start, low, end, high = coordinates
            elif geometry.type == "TimeInterval":
                (start, end), low, high = coordinates, None, None
            elif geometry.type == "TimeStamp":
                start = end = float(coordinates if not isinstance(coordinates, list) else coordinates[0])
                low = high = None
            else:
                raise LabelFileError(f"{path}: clip {clip_number}: geometry {geometry.type} is not supported")
            labels.append(
                TableLabel(
                    float(start),
                    float(end),
                    low,
                    high,
                    names,
                    tags.get(KIND_KEY, "call"),
                    status=tags.get(STATUS_KEY),
                    recording=recording,
                    line=clip_number,
                    source=path,
                )
            )
    return labels


def write(path: Path, recordings: list[dict], rows: list[dict], name: str) -> Path:
    """recordings: path, duration_s, sample_rate, channels, id; rows: label dicts with recording_id."""
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
    io.save(project, str(path))
    return path
