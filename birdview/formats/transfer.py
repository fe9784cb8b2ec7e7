"""Importing label files into a project and exporting a project's labels, format by format.

An import reads every file first and adds everything in one transaction: a malformed line or
an unknown species stops it with nothing imported, and a label the project already has is not
added again.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from birdview.audio.recording import AudioFileError, Recording
from birdview.formats import aoef, audacity, birdnet, clips, perch, raven
from birdview.formats.labels import LabelFileError, TableLabel
from birdview.store.project import STATUSES, Annotation, Project, ProjectError, RecordingRow

IMPORT_FORMATS = ("raven", "audacity", "birdnet", "perch", "aoef")
EXPORT_FORMATS = ("raven", "audacity", "birdnet", "perch", "aoef", "birdclef", "clips")


class UnknownSpeciesError(LabelFileError):
    def __init__(self, unknown: dict[str, str]) -> None:
        self.unknown = unknown
        listed = "; ".join(f"{name!r} (first at {where})" for name, where in unknown.items())
        super().__init__(
            f"{len(unknown)} species not in the project: {listed}. Map them (--map NAME=CODE) or add them "
            "(--add-unknown); nothing was imported"
        )


@dataclass
class ImportReport:
    added: int
    duplicates: int
    files: list[Path]
    species_added: list[str] = field(default_factory=list)


def read_labels(fmt: str, path: Path, label_column: str | None = None) -> list[TableLabel]:
    if fmt == "raven":
        return raven.read(path, label_column)
    readers = {"audacity": audacity.read, "birdnet": birdnet.read, "perch": perch.read, "aoef": aoef.read}
    if fmt not in readers:
        raise LabelFileError(f"unknown import format {fmt!r}; one of {', '.join(IMPORT_FORMATS)}")
    return readers[fmt](path)


def import_files(
    project: Project,
    fmt: str,
    files: Sequence[str | Path],
    recording: str | Path | None = None,
    mapping: dict[str, str] | None = None,
    add_unknown: bool = False,
    label_column: str | None = None,
    author: str | None = None,
) -> ImportReport:
    mapping = mapping or {}
    labels: list[TableLabel] = []
    for file in files:
        path = Path(file)
        if not path.exists():
            raise LabelFileError(f"{path}: file not found")
        labels += read_labels(fmt, path, label_column)
    default_recording = _recording_for(project, str(recording), "--recording") if recording is not None else None

    codes: list[str | None] = []
    unknown: dict[str, str] = {}
    resolved: dict[tuple[str, ...], str | None] = {}
    for label in labels:
        names = tuple(label.names)
        if names not in resolved:
            resolved[names] = _species_for(project, label, mapping)
        code = resolved[names]
        if code is None and label.names:
            unknown.setdefault(label.names[0], label.where)
        codes.append(code)
    species_added: list[str] = []
    if unknown:
        if not add_unknown:
            raise UnknownSpeciesError(unknown)
        new = []
        for label in labels:
            if label.names and label.names[0] in unknown and label.names[0] not in species_added:
                common = label.names[1] if len(label.names) > 1 else None
                scientific = label.names[0] if common else None
                new.append((label.names[0], common, scientific))
                species_added.append(label.names[0])
        project.add_species(new)
        codes = [_species_for(project, label, mapping) for label in labels]

    annotations = []
    for label, code in zip(labels, codes, strict=True):
        target = default_recording
        if label.recording:
            target = _recording_for(project, label.recording, label.where)
        if target is None:
            raise LabelFileError(f"{label.where}: the table does not say which recording; pass --recording PATH")
        annotations.append(_annotation(label, code, target, author))
    result = project.import_annotations(annotations, f"import {len(files)} {fmt} file(s)")
    return ImportReport(len(result.added), result.duplicates, [Path(f) for f in files], species_added)


def _species_for(project: Project, label: TableLabel, mapping: dict[str, str]) -> str | None:
    for name in label.names:
        if name in mapping:
            return project.resolve_species(mapping[name]) or mapping[name]
        code = project.resolve_species(name)
        if code is not None:
            return code
    return None


def _recording_for(project: Project, reference: str, where: str) -> RecordingRow:
    try:
        row = project.find_recording(reference)
    except ProjectError as exc:
        raise LabelFileError(f"{where}: {exc}") from None
    if row is None:
        raise LabelFileError(f"{where}: recording {reference!r} is not in the project (add it with birdview add)")
    return row


def _annotation(label: TableLabel, code: str | None, recording: RecordingRow, author: str | None) -> Annotation:
    low, high = label.low_hz, label.high_hz
    nyquist = recording.sample_rate / 2
    if low is not None and high is not None and low <= 0 and high >= nyquist * 0.99:
        low = high = None  # the whole band, as Raven writes it
    status = label.status if label.status in STATUSES else "unreviewed"
    return Annotation(
        recording_id=recording.id,
        start_s=label.start_s,
        end_s=label.end_s,
        low_hz=low,
        high_hz=high,
        species=code,
        kind=label.kind,
        status=status,
        source="import",
        score=label.score,
        author=author,
    )


def _rows(project: Project, annotations: Sequence[Annotation]) -> list[dict]:
    names = {code: (common, scientific) for code, common, scientific in project.species_table()}
    recordings = {r.id: r for r in project.recordings()}
    rows = []
    for a in annotations:
        recording = recordings[a.recording_id]
        common, scientific = names.get(a.species, (None, None))
        rows.append(
            {
                "id": a.id,
                "recording_id": a.recording_id,
                "path": str(recording.path),
                "name": recording.name,
                "nyquist": recording.sample_rate / 2,
                "start_s": a.start_s,
                "end_s": a.end_s,
                "low_hz": a.low_hz,
                "high_hz": a.high_hz,
                "species": a.species,
                "kind": a.kind,
                "status": a.status,
                "score": a.score,
                "common": common,
                "scientific": scientific,
            }
        )
    return rows


def export(
    project: Project,
    fmt: str,
    out: str | Path,
    annotations: Sequence[Annotation] | None = None,
    pad_s: float = 0.0,
) -> list[Path]:
    """Write labels (all of the project's by default); returns the files written."""
    out = Path(out)
    if fmt not in EXPORT_FORMATS:
        raise LabelFileError(f"unknown export format {fmt!r}; one of {', '.join(EXPORT_FORMATS)}")
    annotations = list(project.annotations()) if annotations is None else list(annotations)
    rows = _rows(project, annotations)
    recordings = project.recordings()
    by_recording: dict[int, list[dict]] = {}
    for row in rows:
        by_recording.setdefault(row["recording_id"], []).append(row)

    if fmt == "raven":
        table_rows = [_raven_row(row) for row in rows]
        if out.suffix == ".txt":
            return [raven.write(_parent(out), table_rows)]
        out.mkdir(parents=True, exist_ok=True)
        return [
            raven.write(
                out / f"{Path(r.name).stem}.Table.1.selections.txt", [_raven_row(x) for x in by_recording.get(r.id, [])]
            )
            for r in recordings
            if r.id in by_recording
        ]
    if fmt == "audacity":
        if out.suffix == ".txt":
            if len(by_recording) > 1:
                raise LabelFileError(f"{out}: labels of {len(by_recording)} recordings; give a folder instead")
            return [audacity.write(_parent(out), rows)]
        out.mkdir(parents=True, exist_ok=True)
        return [
            audacity.write(out / f"{Path(r.name).stem}.txt", by_recording[r.id])
            for r in recordings
            if r.id in by_recording
        ]
    if fmt == "perch":
        return [perch.write(_parent(out), rows)]
    if fmt == "birdnet":
        return [birdnet.write(_parent(out), rows)]
    if fmt == "aoef":
        described = [
            {
                "id": r.id,
                "path": str(r.path),
                "duration_s": r.duration_s,
                "sample_rate": r.sample_rate,
                "channels": r.channels,
            }
            for r in recordings
        ]
        return [aoef.write(_parent(out), described, rows, project.folder.name)]
    opened: dict[int, Recording] = {}
    try:
        items = []
        for row in rows:
            if row["recording_id"] not in opened:
                opened[row["recording_id"]] = Recording.open(row["path"])
            items.append((opened[row["recording_id"]], row))
        if fmt == "birdclef":
            return [clips.write_birdclef(out, items, pad_s)]
        out.mkdir(parents=True, exist_ok=True)
        return [
            clips.write_clip(
                recording,
                row["start_s"],
                row["end_s"],
                out / clips.clip_name(recording.path.stem, row["start_s"], row["end_s"], row["species"], "wav"),
                pad_s,
            )
            for recording, row in items
        ]
    except AudioFileError as exc:
        raise LabelFileError(f"cannot cut clips: {exc}") from None
    finally:
        for recording in opened.values():
            recording.close()


def _parent(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


def _raven_row(row: dict) -> dict:
    whole = row["low_hz"] is None or row["high_hz"] is None
    return {
        "Begin Time (s)": f"{row['start_s']:.6f}",
        "End Time (s)": f"{row['end_s']:.6f}",
        "Low Freq (Hz)": f"{0.0 if whole else row['low_hz']:.3f}",
        "High Freq (Hz)": f"{row['nyquist'] if whole else row['high_hz']:.3f}",
        "Species": row["species"] or "",
        "Kind": row["kind"],
        "Status": row["status"],
        "Score": "" if row["score"] is None else f"{row['score']:.6f}",
        "Begin Path": row["path"],
        "File Offset (s)": f"{row['start_s']:.6f}",
    }


def write_detections(fmt: str, rows: list[dict], out: str | Path) -> Path:
    """Model detections with their verdicts (the Status column) as a Raven table or BirdNET CSV."""
    out = _parent(Path(out))
    if fmt == "raven":
        return raven.write(out, [_raven_row(row) for row in rows])
    if fmt == "birdnet":
        return birdnet.write(out, rows)
    raise LabelFileError(f"detections are exported as raven or birdnet, not {fmt!r}")
