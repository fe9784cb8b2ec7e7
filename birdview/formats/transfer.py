"""Importing label files into a project and exporting a project's labels, format by format.

An import reads every file and checks every line against its recording first, then adds
everything in one transaction: a malformed line, a label outside its recording or an unknown
species stops it with nothing imported (every problem named by file and line), and a label the
project already has is not added again.
"""

from __future__ import annotations

import gc
import math
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from birdview.audio.measure import MeasureError, Measurements, format_value, measure_boxes
from birdview.audio.recording import AudioFileError, Recording
from birdview.formats import aoef, audacity, birdclef, birdnet, clips, perch, raven
from birdview.formats.labels import LabelFileError, TableLabel, refusal
from birdview.store.paths import (
    StagedWrites,
    UnsafePathError,
    WriteFailedError,
    child_path,
    describe_os_error,
    safe_component,
    staged_writes,
    unique_name,
)
from birdview.store.project import KINDS, STATUSES, Annotation, Project, ProjectError, RecordingRow
from birdview.store.species import SpeciesNames

IMPORT_FORMATS = ("raven", "audacity", "birdnet", "perch", "aoef")
EXPORT_FORMATS = ("raven", "audacity", "birdnet", "perch", "aoef", "birdclef", "clips")
#: What a per-recording Raven table's name adds to the recording's.
RAVEN_SUFFIX = ".Table.1.selections.txt"


class UnknownSpeciesError(LabelFileError):
    def __init__(self, unknown: dict[str, str]) -> None:
        self.unknown = unknown
        listed = "; ".join(f"{name!r} (first at {where})" for name, where in unknown.items())
        super().__init__(
            f"{len(unknown)} species not in the project: {listed}. Map them (--map NAME=CODE) or add them "
            "(--add-unknown); nothing was imported"
        )


#: Tables round: a label may end up to this long after the end of its recording (it is then
#: stored as ending at the end, and not counted as clipped).
TIME_TOLERANCE_S = 0.1
#: Likewise, how far a frequency may lie above the recording's Nyquist frequency.
FREQUENCY_TOLERANCE_HZ = 1.0
#: A box from 0 Hz (or below) to at least this share of the Nyquist frequency is the whole band,
#: as Raven writes it.
WHOLE_BAND_SHARE = 0.99
CLIP_HINT = "Labels that reach outside their recording can be clipped to it: --clip-to-recording."


@dataclass
class ImportReport:
    added: int
    duplicates: int
    files: list[Path]
    species_added: list[str] = field(default_factory=list)
    #: Labels that reached outside their recording and were clipped to it (``clip_to_recording``).
    clipped: int = 0
    #: ``file:line: what`` of lines imported with a remark (e.g. a Raven selection number used twice).
    warnings: list[str] = field(default_factory=list)


def read_labels(
    fmt: str, path: Path, label_column: str | None = None, problems: list[str] | None = None
) -> list[TableLabel]:
    """The file's labels. With ``problems``, malformed rows are added to it and the others
    returned; without, they are raised as one LabelFileError."""
    if fmt == "raven":
        return raven.read(path, label_column, problems)
    readers = {"audacity": audacity.read, "birdnet": birdnet.read, "perch": perch.read, "aoef": aoef.read}
    if fmt not in readers:
        raise LabelFileError(f"unknown import format {fmt!r}; one of {', '.join(IMPORT_FORMATS)}")
    return readers[fmt](path, problems)


def import_files(
    project: Project,
    fmt: str,
    files: Sequence[str | Path],
    recording: str | Path | None = None,
    mapping: dict[str, str] | None = None,
    add_unknown: bool = False,
    label_column: str | None = None,
    author: str | None = None,
    clip_to_recording: bool = False,
) -> ImportReport:
    """Import label files, all of them or nothing.

    Every line is checked before anything is written, against the recording its label lands on:
    numbers finite, a start at or after 0 s and an end within the recording (up to
    TIME_TOLERANCE_S after it), frequencies from 0 Hz to the recording's Nyquist frequency (up to
    FREQUENCY_TOLERANCE_HZ above), low <= high, scores from 0 to 1, a known kind. Problems are
    gathered over all lines of all files into one LabelFileError naming each by ``file:line``.

    With ``clip_to_recording``, times and frequencies that reach outside the recording are clipped
    to it and counted (``ImportReport.clipped``); a label lying wholly outside it (starting after
    its end, ending before 0 s, a band wholly above the Nyquist frequency or below 0 Hz) is still
    refused, and so are non-finite numbers, reversed spans and scores outside 0..1.

    Species added with ``add_unknown`` are written in the same transaction as the labels, and the
    check for labels already in the project runs inside it too (see Project.import_annotations).
    """
    # An import makes a few objects per row; Python's cycle collector would otherwise walk every
    # live object (the undo stack holds earlier imports) again and again meanwhile: a third of the time.
    collecting = gc.isenabled()
    gc.disable()
    try:
        return _import_files(
            project, fmt, files, recording, mapping, add_unknown, label_column, author, clip_to_recording
        )
    finally:
        if collecting:
            gc.enable()


def _import_files(
    project: Project,
    fmt: str,
    files: Sequence[str | Path],
    recording: str | Path | None,
    mapping: dict[str, str] | None,
    add_unknown: bool,
    label_column: str | None,
    author: str | None,
    clip_to_recording: bool,
) -> ImportReport:
    if fmt not in IMPORT_FORMATS:
        raise LabelFileError(f"unknown import format {fmt!r}; one of {', '.join(IMPORT_FORMATS)}")
    mapping = mapping or {}
    finder = _RecordingFinder(project)
    default_recording = None
    if recording is not None:
        default_recording = finder.find(str(recording))
        if isinstance(default_recording, str):
            raise LabelFileError(f"--recording: {default_recording}")

    problems: list[str] = []
    labels: list[TableLabel] = []
    fitted: list[tuple[TableLabel, RecordingRow, tuple[float, float, float | None, float | None]]] = []
    clipped, clippable = 0, False
    for file in files:
        path = Path(file)
        if not path.exists():
            problems.append(f"{path}: file not found")
            continue
        found: list[str] = []
        try:
            read = read_labels(fmt, path, label_column, found)
        except LabelFileError as exc:  # unreadable, or not this format at all
            problems += exc.problems
            continue
        labels += read
        for label in read:
            target = finder.find(label.recording) if label.recording else default_recording
            if isinstance(target, str):
                found.append(f"{label.where}: {target}")
                continue
            if target is None:
                found.append(f"{label.where}: the table does not say which recording; pass --recording PATH")
                continue
            values, refused, fixable, was_clipped = _fit(label, target, clip_to_recording)
            if values is None:
                found += refused
                clippable = clippable or fixable
                continue
            clipped += was_clipped
            fitted.append((label, target, values))
        problems += sorted(found, key=lambda problem: _line_of(problem, path))
    if problems:
        clippable = clippable and not clip_to_recording
        error = refusal(problems, "nothing was imported", CLIP_HINT if clippable else "")
        error.clippable = clippable
        raise error

    species = project.species_names()
    codes: dict[tuple[str, ...], str | None] = {}
    unknown: dict[str, str] = {}
    for label, _, _ in fitted:
        names = tuple(label.names)
        if names not in codes:
            codes[names] = _resolve(species, names, mapping)
        if codes[names] is None and names:
            unknown.setdefault(names[0], label.where)
    new_species: list[tuple[str, str | None, str | None]] = []
    if unknown:
        if not add_unknown:
            raise UnknownSpeciesError(unknown)
        for label, _, _ in fitted:
            if label.names and label.names[0] in unknown and all(label.names[0] != n[0] for n in new_species):
                common = label.names[1] if len(label.names) > 1 else None
                scientific = label.names[0] if common else None
                new_species.append((label.names[0], common, scientific))
        species.add(new_species)
        codes = {names: _resolve(species, names, mapping) for names in codes}

    annotations = [
        _annotation(label, codes[tuple(label.names)], target, author, values) for label, target, values in fitted
    ]
    result = project.import_annotations(annotations, f"import {len(files)} {fmt} file(s)", new_species=new_species)
    return ImportReport(
        len(result.added),
        result.duplicates,
        [Path(f) for f in files],
        result.species_added,
        clipped,
        [label.warning for label in labels if label.warning],
    )


def _line_of(problem: str, path: Path) -> int:
    """The line a ``file:line: what`` problem of this file names (0: none)."""
    rest = problem[len(str(path)) + 1 :] if problem.startswith(f"{path}:") else ""
    digits = rest[: len(rest) - len(rest.lstrip("0123456789"))]
    return int(digits) if digits else 0


def _resolve(species: SpeciesNames, names: Sequence[str], mapping: dict[str, str]) -> str | None:
    """The code of the first of a label's names that is mapped (--map) or known to the project."""
    for name in names:
        if name in mapping:
            return species.code(mapping[name]) or mapping[name]
        code = species.code(name)
        if code is not None:
            return code
    return None


class _RecordingFinder:
    """Project.find_recording once per distinct reference: the row, or why there is none."""

    def __init__(self, project: Project) -> None:
        self.project = project
        self.found: dict[str, RecordingRow | str] = {}

    def find(self, reference: str) -> RecordingRow | str:
        if reference not in self.found:
            try:
                row = self.project.find_recording(reference)
            except ProjectError as exc:
                row = str(exc)
            if row is None:
                row = f"recording {reference!r} is not in the project (add it with birdview add)"
            self.found[reference] = row
        return self.found[reference]


def _fit(
    label: TableLabel, recording: RecordingRow, clip: bool
) -> tuple[tuple[float, float, float | None, float | None] | None, list[str], bool, bool]:
    """The label's start, end, low and high as stored on this recording (None when refused), the
    problems, whether clipping would mend them all, and whether it was clipped."""
    start, end, low, high, score = label.start_s, label.end_s, label.low_hz, label.high_hz, label.score
    duration, nyquist = recording.duration_s, recording.sample_rate / 2
    if label.channel is not None and label.channel >= recording.channels:
        channels = f"{recording.channels} channel{'s' if recording.channels > 1 else ''}"
        return None, [f"{label.where}: Channel {label.channel + 1}: {recording.name} has {channels}"], False, False
    if (
        0.0 <= start <= end <= duration
        and (low is None or 0.0 <= low <= nyquist)
        and (high is None or high <= nyquist)
        and (low is None or high is None or low <= high)
        and (score is None or 0.0 <= score <= 1.0)
        and label.kind in KINDS
    ):  # the common case, quickly (nan fails every comparison; inf fails the bounds)
        if low is not None and high is not None and low <= 0 and high >= nyquist * WHOLE_BAND_SHARE:
            low = high = None  # the whole band, as Raven writes it
        return (start, end, low, high), [], False, False
    where = label.where
    numbers = (("start", start), ("end", end), ("low frequency", low), ("high frequency", high), ("score", score))
    problems = [
        f"{where}: {name} {value} is not a finite number"
        for name, value in numbers
        if value is not None and not math.isfinite(value)
    ]
    if problems:
        return None, problems, False, False
    if end < start:
        problems.append(f"{where}: ends at {end} s, before it starts ({start} s)")
    if low is not None and high is not None and low > high:
        problems.append(f"{where}: low frequency {low} Hz is above high frequency {high} Hz")
    if score is not None and not 0.0 <= score <= 1.0:
        problems.append(f"{where}: score {score} is not between 0 and 1")
    if label.kind not in KINDS:
        problems.append(f"{where}: kind {label.kind!r} is not one of {', '.join(KINDS)}")
    name = recording.name
    # Wholly outside the recording: refused, clipping or not.
    if start > duration + TIME_TOLERANCE_S:
        problems.append(f"{where}: starts at {start} s, after the end of {name} ({round(duration, 3)} s)")
    if end < 0:
        problems.append(f"{where}: ends at {end} s, before the start of {name}")
    if low is not None and low > nyquist + FREQUENCY_TOLERANCE_HZ:
        problems.append(f"{where}: low frequency {low} Hz is above the Nyquist frequency of {name} ({nyquist:g} Hz)")
    if high is not None and high < 0:
        problems.append(f"{where}: high frequency {high} Hz is below 0 Hz")
    if problems:
        return None, problems, False, False
    whole_band = nyquist * WHOLE_BAND_SHARE <= (high or 0.0) <= nyquist + FREQUENCY_TOLERANCE_HZ
    if low is not None and high is not None and low <= 0 and whole_band:
        low = high = None  # the whole band, as Raven writes it
    # Partly outside: refused, or clipped to the recording.
    if start < 0:
        problems.append(f"{where}: starts at {start} s, before the start of {name}")
    if end > duration + TIME_TOLERANCE_S:
        problems.append(f"{where}: ends at {end} s, after the end of {name} ({round(duration, 3)} s)")
    if low is not None and low < 0:
        problems.append(f"{where}: low frequency {low} Hz is below 0 Hz")
    if high is not None and high > nyquist + FREQUENCY_TOLERANCE_HZ:
        problems.append(f"{where}: high frequency {high} Hz is above the Nyquist frequency of {name} ({nyquist:g} Hz)")
    if problems and not clip:
        return None, problems, True, False
    start, end = min(max(start, 0.0), duration), min(end, duration)
    if low is not None and high is not None:
        low, high = min(max(low, 0.0), nyquist), min(high, nyquist)
        if low <= 0 and high >= nyquist * WHOLE_BAND_SHARE:
            low = high = None
    return (start, end, low, high), [], False, bool(problems)


def _annotation(
    label: TableLabel,
    code: str | None,
    recording: RecordingRow,
    author: str | None,
    values: tuple[float, float, float | None, float | None],
) -> Annotation:
    start, end, low, high = values
    status = label.status if label.status in STATUSES else "unreviewed"
    # Positional (recording_id, start_s, end_s, low_hz, high_hz, species, kind, status, source, score,
    # model_version, author, note, channel): imports make 100 000 of these, and keywords cost a third more.
    kind, score = label.kind, label.score
    channel = label.channel if recording.channels > 1 else None  # a mono file's labels carry none
    where = (recording.id, start, end, low, high)
    return Annotation(*where, code, kind, status, "import", score, None, author, None, channel)


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
                "channel": a.channel,
            }
        )
    return rows


class ExportCancelledError(Exception):
    """The export was cancelled before anything was written."""


#: ``progress(done, total)``: labels measured so far, of how many.
MeasureProgress = Callable[[int, int], None]


def measure_annotations(
    project: Project,
    annotations: Sequence[Annotation],
    problems: list[str] | None = None,
    progress: MeasureProgress | None = None,
    cancel: threading.Event | None = None,
    unreadable: dict[str, str] | None = None,
) -> list[Measurements | None]:
    """Raven-style measurements of each label (:mod:`birdview.audio.measure`), in the labels'
    order, each recording opened once and only the audio around its labels read. A label that
    cannot be measured (its recording missing or unreadable, the label outside it) gets None, and
    a line naming the label, its recording and what is wrong is added to ``problems``; the others
    are measured all the same. A recording that cannot be opened is also put in ``unreadable``
    (its path: the problem). ``progress`` is called after each label; a set ``cancel`` stops it
    with :class:`ExportCancelledError`."""
    problems = [] if problems is None else problems
    unreadable = {} if unreadable is None else unreadable
    recordings = {r.id: r for r in project.recordings()}
    by_recording: dict[int, list[int]] = {}
    for index, annotation in enumerate(annotations):
        by_recording.setdefault(annotation.recording_id, []).append(index)
    results: list[Measurements | None] = [None] * len(annotations)
    done, total = 0, len(annotations)

    def step(count: int = 1) -> None:
        nonlocal done
        if cancel is not None and cancel.is_set():
            raise ExportCancelledError("cancelled; nothing was written")
        done += count
        if progress is not None:
            progress(done, total)

    for recording_id, indices in by_recording.items():
        row = recordings.get(recording_id)
        if row is None:
            problems += [
                f"{_label_name(annotations[i])}: recording {recording_id} is not in the project" for i in indices
            ]
            unreadable[f"recording {recording_id}"] = "not in the project"
            step(len(indices))
            continue
        try:
            recording = Recording.open(row.path)
        except AudioFileError as exc:
            problems += [f"{_label_name(annotations[i])}: {exc}" for i in indices]
            unreadable[str(row.path)] = exc.problem
            step(len(indices))
            continue
        try:
            for index in indices:
                (result,) = measure_boxes(recording, [annotations[index]])
                if isinstance(result, MeasureError):
                    problems.append(f"{_label_name(annotations[index])}: {result}")
                else:
                    results[index] = result
                step()
        finally:
            recording.close()
    return results


def _label_name(annotation: Annotation) -> str:
    return (
        f"label {annotation.id} ({annotation.species or 'no species'}, "
        f"{annotation.start_s:.3f}–{annotation.end_s:.3f} s)"
    )


def measurement_cells(measured: Measurements | None) -> dict[str, str]:
    """A label's measurements as Raven table cells (all empty when it was not measured)."""
    values = measured.raven() if measured is not None else dict.fromkeys(raven.MEASUREMENT_COLUMNS)
    return {column: format_value(column, value) for column, value in values.items()}


def export(
    project: Project,
    fmt: str,
    out: str | Path,
    annotations: Sequence[Annotation] | None = None,
    pad_s: float = 0.0,
    measure: bool = True,
    problems: list[str] | None = None,
    progress: MeasureProgress | None = None,
    cancel: threading.Event | None = None,
    unreadable: dict[str, str] | None = None,
) -> list[Path]:
    """Write labels (all of the project's by default); returns the files written.

    Raven tables (with ``measure``) get the Raven measurement columns after the selection's own
    (:func:`measure_annotations`, which ``progress``, ``cancel`` and ``unreadable`` are handed
    to); a label that cannot be measured keeps its row with those cells empty, and why is added
    to ``problems``.

    File and folder names made from recording names and species are safe names inside ``out``
    (:func:`birdview.store.paths.safe_component`); the tables keep the species as they are. All
    files are written or none: a failure (a full disk...) leaves no partial or temporary file,
    and files that were there before as they were; it raises :class:`LabelFileError` naming the
    file and the reason."""
    out = Path(out)
    if fmt not in EXPORT_FORMATS:
        raise LabelFileError(f"unknown export format {fmt!r}; one of {', '.join(EXPORT_FORMATS)}")
    annotations = list(project.annotations()) if annotations is None else list(annotations)
    rows = _rows(project, annotations)
    if fmt == "raven" and measure:
        measured_rows = measure_annotations(project, annotations, problems, progress, cancel, unreadable)
        for row, measured in zip(rows, measured_rows, strict=True):
            row["measured"] = measured
    try:
        with staged_writes() as batch:
            return _export(project, fmt, out, rows, pad_s, batch)
    except OSError as exc:
        raise LabelFileError(_write_error(exc, out)) from None
    except UnsafePathError as exc:
        raise LabelFileError(f"{exc}; nothing was written") from None


def _write_error(exc: OSError, out: Path) -> str:
    if isinstance(exc, WriteFailedError):
        return f"{exc}; nothing was written"
    return f"{exc.filename or out}: cannot write ({describe_os_error(exc)}); nothing was written"


def _export(project: Project, fmt: str, out: Path, rows: list[dict], pad_s: float, batch: StagedWrites) -> list[Path]:
    recordings = project.recordings()
    by_recording: dict[int, list[dict]] = {}
    for row in rows:
        by_recording.setdefault(row["recording_id"], []).append(row)

    if fmt in ("raven", "audacity") and out.suffix != ".txt":
        # One table per recording, named after it.
        batch.mkdir(out)
        used: set[str] = set()
        written = []
        for r in recordings:
            if r.id not in by_recording:
                continue
            stem = safe_component(Path(r.name).stem)
            if fmt == "raven":
                name = unique_name(Path(), f"{stem}{RAVEN_SUFFIX}", used, RAVEN_SUFFIX)
                table = [_raven_row(x) for x in by_recording[r.id]]
                written.append(raven.write(child_path(out, name), table, measurements="measured" in rows[0]))
            else:
                name = unique_name(Path(), f"{stem}.txt", used)
                written.append(audacity.write(child_path(out, name), by_recording[r.id]))
        return written
    if fmt == "raven":
        return [raven.write(out, [_raven_row(row) for row in rows], measurements=bool(rows) and "measured" in rows[0])]
    if fmt == "audacity":
        if len(by_recording) > 1:
            raise LabelFileError(f"{out}: labels of {len(by_recording)} recordings; give a folder instead")
        return [audacity.write(out, rows)]
    if fmt == "perch":
        return [perch.write(out, rows)]
    if fmt == "birdnet":
        return [birdnet.write(out, rows)]
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
        return [aoef.write(out, described, rows, project.folder.name)]
    opened: dict[int, Recording] = {}
    try:
        items = []
        for row in rows:
            if row["recording_id"] not in opened:
                opened[row["recording_id"]] = Recording.open(row["path"])
            items.append((opened[row["recording_id"]], row))
        if fmt == "birdclef":
            labels = [
                birdclef.ClipLabel(
                    recording,
                    row["start_s"],
                    row["end_s"],
                    row["species"],
                    row["kind"],
                    pad_s,
                    birdclef.export_extra(recording, row["start_s"], row["end_s"], row["kind"]),
                )
                for recording, row in items
            ]
            return [birdclef.write_birdclef(out, labels, birdclef.EXPORT_COLUMNS)]
        batch.mkdir(out)
        used = set()
        written = []
        for recording, row in items:
            name = clips.clip_name(recording.path.stem, row["start_s"], row["end_s"], row["species"], "wav")
            target = child_path(out, unique_name(Path(), name, used))
            written.append(clips.write_clip(recording, row["start_s"], row["end_s"], target, pad_s))
        return written
    except AudioFileError as exc:
        raise LabelFileError(f"cannot cut clips: {exc}") from None
    finally:
        for recording in opened.values():
            recording.close()


def _raven_row(row: dict) -> dict:
    whole = row["low_hz"] is None or row["high_hz"] is None
    channel = row.get("channel")
    return {
        "Channel": 1 if channel is None else channel + 1,
        "Begin Time (s)": f"{row['start_s']:.6f}",
        "End Time (s)": f"{row['end_s']:.6f}",
        "Low Freq (Hz)": f"{0.0 if whole else row['low_hz']:.3f}",
        "High Freq (Hz)": f"{row['nyquist'] if whole else row['high_hz']:.3f}",
        "Species": row["species"] or "",
        "Common Name": row.get("common") or "",
        "Kind": row["kind"],
        "Status": row["status"],
        "Score": "" if row["score"] is None else f"{row['score']:.6f}",
        "Begin Path": row["path"],
        "File Offset (s)": f"{row['start_s']:.6f}",
        **(measurement_cells(row["measured"]) if "measured" in row else {}),
    }


def write_measurements(
    project: Project, annotations: Sequence[Annotation], out: str | Path, problems: list[str] | None = None
) -> Path:
    """One Raven selection table (tab-separated, whatever ``out`` is named) of the labels, one row
    each, with the selection's columns then Raven's measurement columns; a label that cannot be
    measured keeps its row with those cells empty, and why is added to ``problems``. Written
    whole or not at all (a failure raises :class:`LabelFileError` naming the file)."""
    out = Path(out)
    rows = _rows(project, annotations)
    for row, measured in zip(rows, measure_annotations(project, annotations, problems), strict=True):
        row["measured"] = measured
    try:
        return raven.write(out, [_raven_row(row) for row in rows], measurements=True)
    except OSError as exc:
        raise LabelFileError(_write_error(exc, out)) from None


def write_detections(fmt: str, rows: list[dict], out: str | Path) -> Path:
    """Model detections with their verdicts (the Status column) as a Raven table or BirdNET CSV;
    written whole or not at all (a failure raises :class:`LabelFileError` naming the file)."""
    out = Path(out)
    if fmt not in ("raven", "birdnet"):
        raise LabelFileError(f"detections are exported as raven or birdnet, not {fmt!r}")
    try:
        if fmt == "raven":
            return raven.write(out, [_raven_row(row) for row in rows])
        return birdnet.write(out, rows)
    except OSError as exc:
        raise LabelFileError(_write_error(exc, out)) from None
