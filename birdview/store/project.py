"""A birdview project: a folder with ``project.sqlite`` (WAL, foreign keys, migrations) and caches.

Every edit is one committed transaction, made durable before the call returns: there is no
Save, and nothing is lost if the app or the machine dies. Edits of annotations are also kept on
an undo stack (per open project) whose undo and redo are themselves committed edits.
"""

from __future__ import annotations

import functools
import json
import logging
import math
import operator
import os
import sqlite3
import threading
import unicodedata
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, field, fields, replace
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from birdview.audio.identity import content_hash
from birdview.audio.recording import AudioFileError, RecordingInfo, find_audio_files, probe
from birdview.store import integrity, predictions
from birdview.store.embeddings import EmbeddingFiles
from birdview.store.errors import ProjectDamagedError, ProjectError
from birdview.store.integrity import DATABASE
from birdview.store.labels import Annotation, Kind, Source, Status, Verdict, label_identity
from birdview.store.schema import migrate
from birdview.store.species import SpeciesNames

__all__ = ["DATABASE", "Annotation", "ModelRow", "Project", "ProjectDamagedError", "ProjectError", "RecordingRow"]
# The choices as plain strings (the rules about them are in birdview.store.labels).
KINDS, STATUSES, SOURCES = Kind.values(), Status.values(), Source.values()


def now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


@dataclass(frozen=True)
class RecordingRow:
    id: int
    path: Path
    name: str
    size: int
    content_hash: str
    duration_s: float
    sample_rate: int
    channels: int
    start_time: str | None
    site: str | None


ANNOTATION_COLUMNS = tuple(f.name for f in fields(Annotation))
_ID, _CREATED, _UPDATED = (ANNOTATION_COLUMNS.index(c) for c in ("id", "created_at", "updated_at"))


@dataclass(frozen=True)
class ModelRow:
    version: int
    path: Path
    parent: int | None
    created_at: str
    classes: list[str]
    metrics: dict
    active: bool
    window_s: float
    frontend: dict
    log_path: str | None
    training_labels: list[int]
    kind: str = "birdview-train"
    name: str | None = None
    #: Seconds between window starts (window_s without overlap).
    hop_s: float = 5.0
    sample_rate: int | None = None
    embedding_dim: int = 0
    licence: str | None = None

    @property
    def label(self) -> str:
        """How the user sees the model: its name (or file name) and version."""
        return f"v{self.version} {self.name or self.path.name}"

    def window_start(self, window: int) -> float:
        return window * self.hop_s

    def windows_covering(self, start_s: float, end_s: float, scored: int) -> list[int]:
        """The scored windows (of the first ``scored``) that a span covers for at least half of the
        window or of itself, whichever is shorter: the windows a label or a query stands for."""
        needed = 0.5 * min(self.window_s, max(end_s - start_s, 1e-6))
        first = max(0, int((start_s - self.window_s) // self.hop_s))
        found = []
        for window in range(first, min(scored, int(end_s // self.hop_s) + 1)):
            begin = window * self.hop_s
            if min(end_s, begin + self.window_s) - max(start_s, begin) >= needed - 1e-9:
                found.append(window)
        return found


PREDICTION_CHUNK = predictions.BLOCK_WINDOWS  # windows per stored block: an hour of 5 s windows
#: Scores that Project.prediction_blocks reads and hands over in one array, at most.
RUN_VALUES = 1 << 20
#: Recordings whose blocks Project.prediction_entries_of reads and searches together.
ENTRY_BATCH = 16
#: Blocks whose peaks Project.prediction_entries_of reads and searches together.
PEAK_ROWS = 2000


@dataclass
class _Change:
    description: str
    before: dict[int, Annotation | None]
    after: dict[int, Annotation | None]


@dataclass
class ImportResult:
    added: list[Annotation]
    duplicates: int
    #: Codes of the species the import added (those of ``new_species`` the project lacked).
    species_added: list[str] = field(default_factory=list)


class Project:
    def __init__(self, folder: Path, connection: sqlite3.Connection, mark: integrity.EditMark) -> None:
        self.folder = folder
        self.db = connection
        self.project_id = mark.project_id
        #: Set once the database is found damaged: every later write is refused with it.
        self.damaged: ProjectDamagedError | None = None
        self._undo: list[_Change] = []
        self._redo: list[_Change] = []
        self._edits_since_backup = 0
        self._backup: threading.Thread | None = None
        self._backup_lock = threading.Lock()
        self._backup_wanted = False

    # -- opening ---------------------------------------------------------------------------------

    @classmethod
    def open(cls, folder: str | Path, create: bool = False, species: Iterable[str] | None = None) -> Project:
        """Open a project after checking its database; a missing one is created (with ``create``)
        whole or not at all. A damaged, empty or foreign file is refused, never rebuilt."""
        folder = Path(folder)
        path = folder / DATABASE
        if path.exists():
            integrity.check_header(path)
        elif not create:
            raise ProjectError(f"{folder}: not a birdview project (no {DATABASE}); create it with birdview add")
        else:
            _create_database(path, species)
        try:
            connection = _connect(path)
        except (sqlite3.DatabaseError, OSError) as exc:
            raise ProjectError(f"{path}: cannot open the project database ({exc})") from None
        try:
            integrity.verify(connection, path)
            _refuse_foreign(connection, path)
            _set_pragmas(connection)
            migrate(connection)
            mark = integrity.check_lost_edits(connection, path)
        except sqlite3.DatabaseError as exc:
            connection.close()
            if integrity.is_corruption(exc):
                raise integrity.damaged(path, str(exc)) from None
            raise ProjectError(f"{path}: cannot open the project database ({exc})") from None
        except BaseException:
            connection.close()
            raise
        project = cls(folder, connection, mark)
        if species is not None and not project.species_codes():
            project.add_species([(code, None, None) for code in species], user_added=False)
        return project

    @classmethod
    def create(cls, folder: str | Path, species: Iterable[str] | None = None) -> Project:
        return cls.open(folder, create=True, species=species)

    @classmethod
    def open_or_create(cls, folder: str | Path) -> Project:
        """Open a project; a new one starts with the trainer's default class list (the BirdCLEF
        2024 species)."""
        from trainer.classes import load_species

        new = not (Path(folder) / DATABASE).exists()
        return cls.open(folder, create=True, species=load_species() if new else None)

    @property
    def database(self) -> Path:
        return self.folder / DATABASE

    def edits(self) -> int:
        """Committed edits since the project was made (a count kept in the database)."""
        return integrity.database_mark(self.db).edits

    def backup_if_due(self, min_interval_s: float = integrity.BACKUP_MIN_INTERVAL_S) -> None:
        """Back up in the background when the newest backup lacks edits and is old enough
        (called when a person or a command opens the project, not by worker threads)."""
        if integrity.backup_due(self.database, self.edits(), min_interval_s):
            self.start_backup()

    def start_backup(self) -> threading.Thread:
        """Back up on a thread of its own; asked while one runs, another follows it."""
        with self._backup_lock:
            self._backup_wanted = True
            if self._backup is None or not self._backup.is_alive():
                self._backup = threading.Thread(target=self._run_backups, name="birdview-backup", daemon=True)
                self._backup.start()
            return self._backup

    def _run_backups(self) -> None:
        while True:
            with self._backup_lock:
                if not self._backup_wanted:
                    return
                self._backup_wanted = False
            try:
                integrity.make_backup(self.database)
            except (OSError, sqlite3.Error) as exc:
                logging.getLogger("birdview").warning(
                    "%s: backup failed (%s); the project itself is unchanged", self.database, exc
                )

    def close(self) -> None:
        if self._backup is not None:
            self._backup.join()
        self.db.close()

    def __enter__(self) -> Project:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def _transaction(self) -> _Transaction:
        if self.damaged is not None:
            raise ProjectDamagedError(str(self.damaged))
        return _Transaction(self)

    def _database_error(self, exc: sqlite3.DatabaseError, writing: bool = False) -> ProjectError:
        """The message for an SQLite error; damage also stops every later write."""
        if integrity.is_corruption(exc):
            self.damaged = integrity.damaged(self.database, str(exc))
            return self.damaged
        reason = "disk full" if integrity.is_disk_full(exc) else str(exc)
        if writing:
            return ProjectError(f"{self.database}: could not save the change ({reason}); nothing of it was saved")
        return ProjectError(f"{self.database}: {reason}")

    # -- recordings ------------------------------------------------------------------------------

    def add_recordings(
        self, paths: Sequence[str | Path], site: str | None = None
    ) -> tuple[list[RecordingRow], list[str]]:
        """Add files and folders; returns what was added and a problem line for each file that
        could not be read. Files already in the project are left as they are, but for their site
        when one is given (:meth:`set_recording_site`)."""
        added, problems = [], []
        for path in find_audio_files(list(paths)):
            path = Path(path).absolute()
            known = self.recording_by_path(path)
            if known is not None:
                if site is not None and known.site != site:
                    self.set_recording_site(known.id, site)
                continue
            try:
                info = probe(path)
                digest = content_hash(path)
            except AudioFileError as exc:
                problems.append(str(exc))
                continue
            except OSError as exc:
                problems.append(f"{path}: {exc.strerror or exc}")
                continue
            added.append(self.add_probed(info, digest, site))
        return added, problems

    def set_recording_site(self, recording_id: int, site: str | None) -> RecordingRow:
        self.recording(recording_id)
        with self._transaction():
            self.db.execute("UPDATE recordings SET site = ? WHERE id = ?", (site, recording_id))
        return self.recording(recording_id)

    def add_probed(self, info: RecordingInfo, digest: str, site: str | None = None) -> RecordingRow:
        """Add a recording already probed and hashed (e.g. on a worker thread); returns its row,
        the existing one when the path is already in the project."""
        path = info.path.absolute()
        existing = self.recording_by_path(path)
        if existing is not None:
            return existing
        with self._transaction():
            cursor = self.db.execute(
                "INSERT INTO recordings(path, name, size, content_hash, duration_s, sample_rate, channels, "
                "start_time, added_at, site) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    str(path),
                    path.name,
                    path.stat().st_size,
                    digest,
                    info.duration_s,
                    info.sample_rate,
                    info.channels,
                    info.start_time.isoformat() if info.start_time else None,
                    now(),
                    site,
                ),
            )
        return self.recording(cursor.lastrowid)

    _RECORDING_SELECT = (
        "SELECT id, path, name, size, content_hash, duration_s, sample_rate, channels, start_time, site FROM recordings"
    )

    def _recording_row(self, row: tuple | None) -> RecordingRow | None:
        if row is None:
            return None
        return RecordingRow(row[0], Path(row[1]), *row[2:])

    def recordings(self) -> list[RecordingRow]:
        return [self._recording_row(r) for r in self.db.execute(self._RECORDING_SELECT + " ORDER BY path")]

    def recording(self, recording_id: int) -> RecordingRow:
        row = self._recording_row(self.db.execute(self._RECORDING_SELECT + " WHERE id = ?", (recording_id,)).fetchone())
        if row is None:
            raise ProjectError(f"no recording {recording_id} in {self.folder}")
        return row

    def recording_by_path(self, path: str | Path) -> RecordingRow | None:
        return self._recording_row(
            self.db.execute(self._RECORDING_SELECT + " WHERE path = ?", (str(Path(path).absolute()),)).fetchone()
        )

    def find_recording(self, reference: str) -> RecordingRow | None:
        """By full path, then by file name, then by file stem (each only when unambiguous)."""
        by_path = self.recording_by_path(reference)
        if by_path is not None:
            return by_path
        name = Path(str(reference).replace("\\", "/")).name
        rows = self.recordings()
        for matches in (lambda r: r.name == name, lambda r: Path(r.name).stem == Path(name).stem):
            found = [r for r in rows if matches(r)]
            if len(found) == 1:
                return found[0]
            if len(found) > 1:
                raise ProjectError(f"{reference!r} matches {len(found)} recordings; give the full path")
        return None

    def missing_recordings(self) -> list[RecordingRow]:
        return [r for r in self.recordings() if not r.path.exists()]

    def relink(self, folders: Sequence[str | Path]) -> list[tuple[RecordingRow, Path]]:
        """Find moved recordings under folders by file name and content hash; update their paths."""
        missing = {r.name: [] for r in self.missing_recordings()}
        for r in self.missing_recordings():
            missing[r.name].append(r)
        if not missing:
            return []
        moved = []
        for candidate in find_audio_files(list(folders)):
            for row in missing.get(candidate.name, []):
                try:
                    if content_hash(candidate) != row.content_hash:
                        continue
                except OSError:
                    continue
                with self._transaction():
                    self.db.execute("UPDATE recordings SET path = ? WHERE id = ?", (str(candidate.absolute()), row.id))
                moved.append((row, candidate.absolute()))
                missing[candidate.name].remove(row)
                break
        return moved

    # -- species ---------------------------------------------------------------------------------

    def add_species(self, entries: Iterable[tuple[str, str | None, str | None]], user_added: bool = True) -> int:
        """Add (code, common name, scientific name) entries the project lacks; returns how many."""
        with self._transaction():
            return len(self._insert_species(entries, user_added))

    def _insert_species(
        self, entries: Iterable[tuple[str, str | None, str | None]], user_added: bool = True
    ) -> list[str]:
        """Inside a transaction: insert the entries whose code the project lacks; their codes."""
        have = {row[0] for row in self.db.execute("SELECT code FROM species")}
        rows = []
        for code, common, scientific in entries:
            if not code.strip() or any(unicodedata.category(c) == "Cc" for c in code):
                raise ProjectError(f"species {code!r}: a species code needs a visible name without tabs or line breaks")
            if code not in have:
                have.add(code)
                rows.append((code, common, scientific, int(user_added)))
        self.db.executemany(
            "INSERT INTO species(code, common_name, scientific_name, user_added) VALUES (?, ?, ?, ?)", rows
        )
        return [row[0] for row in rows]

    def add_model_species(self, entries: Iterable[tuple[str, str | None, str | None, str]]) -> int:
        """A model's classes as (code, common name, scientific name, category): species the project
        lacks are added, and names a species has none of yet are filled in. Returns how many were added."""
        entries = list(entries)
        with self._transaction():
            added = self._insert_species([(code, common, scientific) for code, common, scientific, _ in entries], False)
            self.db.executemany(
                "UPDATE species SET common_name = coalesce(common_name, ?), "
                "scientific_name = coalesce(scientific_name, ?), category = ? WHERE code = ?",
                [(common, scientific, category, code) for code, common, scientific, category in entries],
            )
        return len(added)

    def user_species(self) -> set[str]:
        """Codes the user added (imports with new species, codes made up for a call type...)."""
        return {row[0] for row in self.db.execute("SELECT code FROM species WHERE user_added = 1")}

    def species_categories(self) -> dict[str, str]:
        """Each species' category: bird, or other (non-bird sounds a model knows, which users may hide)."""
        return dict(self.db.execute("SELECT code, category FROM species"))

    def species_codes(self) -> list[str]:
        return [r[0] for r in self.db.execute("SELECT code FROM species ORDER BY code")]

    def species_table(self) -> list[tuple[str, str | None, str | None]]:
        return list(self.db.execute("SELECT code, common_name, scientific_name FROM species ORDER BY code"))

    def species_names(self) -> SpeciesNames:
        """The species table in memory, to find many species by name without a query each."""
        return SpeciesNames(self.species_table())

    def resolve_species(self, label: str) -> str | None:
        """A species code for a label given as code, common name or scientific name (any case)."""
        return self.species_names().code(label)

    # -- annotations -----------------------------------------------------------------------------

    def _check(self, annotation: Annotation, known_species: set[str] | None = None) -> None:
        Kind.parse(annotation.kind)
        Status.parse(annotation.status)
        Source.parse(annotation.source)
        if annotation.verdict is not None:
            Verdict.parse(annotation.verdict)
        # Defence in depth: whatever made the label (an import, the GUI, a review), the store keeps
        # no number that would break the views, exports or the trainer later.
        for name, value in (
            ("start", annotation.start_s),
            ("end", annotation.end_s),
            ("low frequency", annotation.low_hz),
            ("high frequency", annotation.high_hz),
            ("score", annotation.score),
        ):
            if value is not None and not math.isfinite(value):
                raise ProjectError(f"a label's {name} must be a finite number, not {value}")
        if annotation.start_s < 0:
            raise ProjectError(f"a label cannot start before 0 s ({annotation.start_s} s)")
        if annotation.end_s < annotation.start_s:
            raise ProjectError(f"a label cannot end ({annotation.end_s} s) before it starts ({annotation.start_s} s)")
        if annotation.low_hz is not None and annotation.high_hz is not None and annotation.low_hz > annotation.high_hz:
            raise ProjectError(
                f"a label's low frequency ({annotation.low_hz} Hz) cannot be above its high frequency "
                f"({annotation.high_hz} Hz)"
            )
        if annotation.score is not None and not 0.0 <= annotation.score <= 1.0:
            raise ProjectError(f"a label's score must be from 0 to 1, not {annotation.score}")
        known = known_species if known_species is not None else self._species_set()
        if annotation.species is not None and annotation.species not in known:
            raise ProjectError(f"unknown species {annotation.species!r}: add it to the project first")

    def _species_set(self) -> set[str]:
        return set(self.species_codes())

    def _insert(self, annotation: Annotation) -> Annotation:
        stamp = now()
        annotation = replace(annotation, created_at=annotation.created_at or stamp, updated_at=stamp)
        values = asdict(annotation)
        columns = [c for c in ANNOTATION_COLUMNS if c != "id" or annotation.id is not None]
        cursor = self.db.execute(
            f"INSERT INTO annotations({', '.join(columns)}) VALUES ({', '.join('?' for _ in columns)})",
            [values[c] for c in columns],
        )
        return replace(annotation, id=cursor.lastrowid)

    def _write(self, annotation: Annotation) -> None:
        values = asdict(annotation)
        assignments = ", ".join(f"{c} = ?" for c in ANNOTATION_COLUMNS if c != "id")
        self.db.execute(
            f"UPDATE annotations SET {assignments} WHERE id = ?",
            [values[c] for c in ANNOTATION_COLUMNS if c != "id"] + [annotation.id],
        )

    def add_annotation(self, annotation: Annotation, description: str = "add label") -> Annotation:
        return self.add_annotations([annotation], description)[0]

    def add_annotations(self, annotations: Sequence[Annotation], description: str = "add labels") -> list[Annotation]:
        known = self._species_set()
        for annotation in annotations:
            self._check(annotation, known)
        with self._transaction():
            added = self._insert_many(annotations)
        self._record(_Change(description, {a.id: None for a in added}, {a.id: a for a in added}))
        return added

    def update_annotations(
        self, ids: Sequence[int], description: str = "edit labels", **changes: object
    ) -> list[Annotation]:
        unknown = set(changes) - set(ANNOTATION_COLUMNS) - {"id", "created_at", "updated_at"}
        if unknown or "id" in changes:
            raise ProjectError(f"cannot change {', '.join(sorted(unknown or {'id'}))} of a label")
        before = {a.id: a for a in self.annotations_by_id(ids)}
        after = {i: replace(a, **changes, updated_at=now()) for i, a in before.items()}
        for annotation in after.values():
            self._check(annotation)
        with self._transaction():
            for annotation in after.values():
                self._write(annotation)
        self._record(_Change(description, dict(before), dict(after)))
        return list(after.values())

    def update_annotation(self, annotation_id: int, **changes: object) -> Annotation:
        return self.update_annotations([annotation_id], "edit label", **changes)[0]

    def delete_annotations(self, ids: Sequence[int], description: str = "delete labels") -> int:
        before = {a.id: a for a in self.annotations_by_id(ids)}
        with self._transaction():
            self.db.executemany("DELETE FROM annotations WHERE id = ?", [(i,) for i in before])
        self._record(_Change(description, dict(before), {i: None for i in before}))
        return len(before)

    def replace_annotations(
        self, remove: Sequence[int], add: Sequence[Annotation], description: str
    ) -> list[Annotation]:
        """Delete some labels and add others as one edit (one transaction, one undo step)."""
        known = self._species_set()
        for annotation in add:
            self._check(annotation, known)
        before = {a.id: a for a in self.annotations_by_id(list(remove))}
        with self._transaction():
            # Insert first: SQLite would otherwise hand the deleted ids to the new rows.
            added = self._insert_many(add)
            self.db.executemany("DELETE FROM annotations WHERE id = ?", [(i,) for i in before])
        after: dict[int, Annotation | None] = {i: None for i in before}
        after.update({a.id: a for a in added})
        state_before: dict[int, Annotation | None] = dict(before)
        state_before.update({a.id: None for a in added})
        self._record(_Change(description, state_before, after))
        return added

    def import_annotations(
        self,
        annotations: Sequence[Annotation],
        description: str = "import",
        new_species: Sequence[tuple[str, str | None, str | None]] = (),
    ) -> ImportResult:
        """Add labels, leaving out those the project already has, together with the species of
        ``new_species`` (code, common name, scientific name) it lacks, in one write transaction
        (BEGIN IMMEDIATE): a refused import adds no species either, and the look for labels already
        there sees every import committed before, so two imports of one file at the same time add
        each label once. One undo step removes the labels (species added stay)."""
        with self._transaction():
            species_added = self._insert_species(new_species)
            known = self._species_set()
            for annotation in annotations:
                self._check(annotation, known)
            existing = self._identities({a.recording_id for a in annotations})
            fresh, duplicates = [], 0
            for annotation in annotations:
                key = annotation.identity()
                if key in existing:
                    duplicates += 1
                    continue
                existing.add(key)
                fresh.append(annotation)
            added = self._insert_many(fresh)
        if added:
            self._record(_Change(description, {a.id: None for a in added}, {a.id: a for a in added}))
        return ImportResult(added, duplicates, species_added)

    def _identities(self, recording_ids: Iterable[int]) -> set[tuple]:
        """Annotation.identity of every label stored on these recordings."""
        ids = list(recording_ids)
        found: set[tuple] = set()
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            rows = self.db.execute(
                "SELECT recording_id, start_s, end_s, low_hz, high_hz, species, kind FROM annotations "
                f"WHERE recording_id IN ({', '.join('?' for _ in chunk)})",
                chunk,
            )
            found.update(label_identity(*row) for row in rows)
        return found

    def _insert_many(self, annotations: Sequence[Annotation]) -> list[Annotation]:
        """Inside a transaction: insert new labels with one statement; returns them with their ids
        (given here, as SQLite would: after the largest; the transaction holds the write lock)."""
        if not annotations:
            return []
        stamp = now()
        (first_id,) = self.db.execute("SELECT coalesce(max(id), 0) + 1 FROM annotations").fetchone()
        values = operator.attrgetter(*ANNOTATION_COLUMNS)  # a tuple in column order, made in C
        rows = []
        for number, annotation in enumerate(annotations, start=first_id):
            row = list(values(annotation))
            row[_ID], row[_CREATED], row[_UPDATED] = number, row[_CREATED] or stamp, stamp
            rows.append(row)
        placeholders = ", ".join("?" for _ in ANNOTATION_COLUMNS)
        self.db.executemany(f"INSERT INTO annotations({', '.join(ANNOTATION_COLUMNS)}) VALUES ({placeholders})", rows)
        return [Annotation(*row) for row in rows]

    def annotations_by_id(self, ids: Sequence[int]) -> list[Annotation]:
        found = []
        for start in range(0, len(ids), 500):
            chunk = list(ids[start : start + 500])
            found += self._select(f"id IN ({', '.join('?' for _ in chunk)})", chunk)
        return found

    def annotation(self, annotation_id: int) -> Annotation:
        rows = self.annotations_by_id([annotation_id])
        if not rows:
            raise ProjectError(f"no label {annotation_id}")
        return rows[0]

    def _select(self, where: str, parameters: Sequence, order: str = "recording_id, start_s, id") -> list[Annotation]:
        query = f"SELECT {', '.join(ANNOTATION_COLUMNS)} FROM annotations WHERE {where} ORDER BY {order}"
        return [Annotation(*row) for row in self.db.execute(query, list(parameters))]

    def annotations(
        self,
        recording_id: int | None = None,
        start_s: float | None = None,
        end_s: float | None = None,
        species: str | None = None,
        kind: str | None = None,
        status: str | None = None,
        source: str | None = None,
    ) -> list[Annotation]:
        """Labels matching every filter given; a time range keeps labels that overlap it."""
        clauses, parameters = ["1"], []
        for column, value in (
            ("recording_id", recording_id),
            ("species", species),
            ("kind", kind),
            ("status", status),
            ("source", source),
        ):
            if value is not None:
                clauses.append(f"{column} = ?")
                parameters.append(value)
        if end_s is not None:
            clauses.append("start_s <= ?")
            parameters.append(end_s)
        if start_s is not None:
            clauses.append("end_s >= ?")
            parameters.append(start_s)
        return self._select(" AND ".join(clauses), parameters)

    def count_annotations(self) -> int:
        return int(self.db.execute("SELECT count(*) FROM annotations").fetchone()[0])

    # -- undo / redo -----------------------------------------------------------------------------

    def _record(self, change: _Change) -> None:
        self._undo.append(change)
        self._redo.clear()
        self._edits_since_backup += 1
        if self._edits_since_backup >= integrity.BACKUP_EVERY_EDITS:
            self._edits_since_backup = 0
            self.start_backup()

    @property
    def undo_description(self) -> str | None:
        return self._undo[-1].description if self._undo else None

    @property
    def redo_description(self) -> str | None:
        return self._redo[-1].description if self._redo else None

    def undo(self) -> str | None:
        if not self._undo:
            return None
        change = self._undo.pop()
        self._restore(change.before)
        self._redo.append(change)
        return change.description

    def redo(self) -> str | None:
        if not self._redo:
            return None
        change = self._redo.pop()
        self._restore(change.after)
        self._undo.append(change)
        return change.description

    def _restore(self, state: dict[int, Annotation | None]) -> None:
        with self._transaction():
            for annotation_id, annotation in state.items():
                exists = self.db.execute("SELECT 1 FROM annotations WHERE id = ?", (annotation_id,)).fetchone()
                if annotation is None:
                    self.db.execute("DELETE FROM annotations WHERE id = ?", (annotation_id,))
                elif exists:
                    self._write(annotation)
                else:
                    self._insert(annotation)

    # -- models and predictions --------------------------------------------------------------------

    def register_model(
        self,
        path: str | Path,
        classes: Sequence[str],
        frontend: dict | None = None,
        window_s: float = 5.0,
        parent: int | None = None,
        metrics: dict | None = None,
        log_path: str | None = None,
        training_labels: Sequence[int] | None = None,
        activate: bool = False,
        kind: str = "birdview-train",
        name: str | None = None,
        hop_s: float | None = None,
        sample_rate: int | None = None,
        embedding_dim: int = 0,
        licence: str | None = None,
    ) -> ModelRow:
        with self._transaction():
            cursor = self.db.execute(
                "INSERT INTO models(path, parent, created_at, classes, metrics, active, window_s, frontend, log_path, "
                "training_labels, kind, name, hop_s, sample_rate, embedding_dim, licence) "
                "VALUES (?, ?, ?, ?, ?, 0, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    self._stored_path(path),
                    parent,
                    now(),
                    json.dumps(list(classes)),
                    json.dumps(metrics or {}),
                    window_s,
                    json.dumps(frontend or {}),
                    None if log_path is None else self._stored_path(log_path),
                    json.dumps(list(training_labels or [])),
                    kind,
                    name,
                    hop_s,
                    sample_rate,
                    embedding_dim,
                    licence,
                ),
            )
            version = cursor.lastrowid
            if activate:
                self.db.execute("UPDATE models SET active = (version = ?)", (version,))
        return self.model(version)

    _MODEL_SELECT = (
        "SELECT version, path, parent, created_at, classes, metrics, active, window_s, frontend, log_path, "
        "training_labels, kind, name, hop_s, sample_rate, embedding_dim, licence FROM models"
    )

    def _stored_path(self, path: str | Path) -> str:
        """A file inside the project folder (a retrained model, its log) is stored relative to it,
        so that the project can be moved or copied whole; any other path as it is."""
        try:
            return Path(path).absolute().relative_to(self.folder.absolute()).as_posix()
        except ValueError:
            return str(path)

    def _read_path(self, stored: str) -> Path:
        path = Path(stored)
        return path if path.is_absolute() or not (self.folder / path).exists() else (self.folder / path).absolute()

    def _model_row(self, row: tuple) -> ModelRow:
        version, path, parent, created, classes, metrics, active, window_s, frontend, log_path, labels = row[:11]
        kind, name, hop_s, sample_rate, embedding_dim, licence = row[11:]
        return ModelRow(
            version,
            self._read_path(path),
            parent,
            created,
            json.loads(classes),
            json.loads(metrics or "{}"),
            bool(active),
            window_s,
            json.loads(frontend or "{}"),
            None if log_path is None else str(self._read_path(log_path)),
            json.loads(labels or "[]"),
            kind,
            name,
            hop_s or window_s,
            sample_rate,
            embedding_dim or 0,
            licence,
        )

    def set_hop(self, version: int, hop_s: float, discard: bool = False) -> ModelRow:
        """Score this model's windows every ``hop_s`` seconds from now on. Its predictions made with
        another hop are kept unless ``discard``: a model's windows all share one hop."""
        model = self.model(version)
        if abs(model.hop_s - hop_s) < 1e-9:
            return model
        scored = self.db.execute("SELECT count(*) FROM predictions WHERE model_version = ?", (version,)).fetchone()[0]
        if scored and not discard:
            raise ProjectError(
                f"model {model.label} has windows scored every {model.hop_s:g} s; scoring every {hop_s:g} s "
                "would replace them (birdview score --rescore discards them first)"
            )
        with self._transaction():
            self.db.execute("DELETE FROM predictions WHERE model_version = ?", (version,))
            self.db.execute("UPDATE models SET hop_s = ? WHERE version = ?", (hop_s, version))
        self.embedding_files.delete_model(version)
        return self.model(version)

    def discard_predictions(self, version: int) -> None:
        self.model(version)
        with self._transaction():
            self.db.execute("DELETE FROM predictions WHERE model_version = ?", (version,))
        self.embedding_files.delete_model(version)

    def models(self) -> list[ModelRow]:
        return [self._model_row(r) for r in self.db.execute(self._MODEL_SELECT + " ORDER BY version")]

    def model(self, version: int) -> ModelRow:
        row = self.db.execute(self._MODEL_SELECT + " WHERE version = ?", (version,)).fetchone()
        if row is None:
            raise ProjectError(f"no model version {version} in {self.folder}")
        return self._model_row(row)

    def active_model(self) -> ModelRow | None:
        row = self.db.execute(self._MODEL_SELECT + " WHERE active = 1").fetchone()
        return self._model_row(row) if row else None

    def activate_model(self, version: int) -> ModelRow:
        self.model(version)
        with self._transaction():
            self.db.execute("UPDATE models SET active = (version = ?)", (version,))
        return self.model(version)

    @property
    def embedding_files(self) -> EmbeddingFiles:
        return EmbeddingFiles(self.folder)

    def store_predictions(
        self,
        version: int,
        recording_id: int,
        scores: np.ndarray,
        first_window: int = 0,
        embeddings: np.ndarray | None = None,
    ) -> None:
        """Scores of consecutive windows (windows x classes), in blocks (see birdview.store.predictions),
        and their embeddings (windows x the model's embedding_dim, kept as float16 files), the
        embeddings written before the scores are committed."""
        scores = np.asarray(scores, dtype=np.float16)
        model = self.model(version)
        if scores.ndim != 2 or scores.shape[1] != len(model.classes):
            raise ProjectError(f"predictions must be (windows, {len(model.classes)}) for model {version}")
        if embeddings is not None and len(embeddings) and model.embedding_dim:
            if embeddings.shape != (len(scores), model.embedding_dim):
                raise ProjectError(
                    f"embeddings must be ({len(scores)}, {model.embedding_dim}) for model {version}, "
                    f"not {embeddings.shape}"
                )
            self.embedding_files.write(version, recording_id, first_window, embeddings)
        with self._transaction():
            start = self._append_to_last_block(version, recording_id, len(model.classes), scores, first_window)
            for offset in range(start, len(scores), PREDICTION_CHUNK):
                block = scores[offset : offset + PREDICTION_CHUNK]
                encoding, blob = predictions.encode(block)
                key = (version, recording_id, first_window + offset)
                maxima, peaks = predictions.block_maxima(block), predictions.block_peaks(block)
                self._write_block(key, len(block), blob, encoding, maxima, peaks)

    def _write_block(
        self, key: tuple[int, int, int], windows: int, blob: bytes, encoding: str, maxima, peaks: bytes | None
    ) -> None:
        self.db.execute(
            "INSERT OR REPLACE INTO predictions(model_version, recording_id, first_window, windows, scores, "
            "encoding) VALUES (?, ?, ?, ?, ?, ?)",
            (*key, windows, blob, encoding),
        )
        self.db.execute(
            "INSERT OR REPLACE INTO prediction_maxima(model_version, recording_id, first_window, maxima) "
            "VALUES (?, ?, ?, ?)",
            (*key, maxima),
        )
        if peaks is None:
            self.db.execute(
                "DELETE FROM prediction_peaks WHERE model_version = ? AND recording_id = ? AND first_window = ?", key
            )
        else:
            self.db.execute(
                "INSERT OR REPLACE INTO prediction_peaks(model_version, recording_id, first_window, peaks) "
                "VALUES (?, ?, ?, ?)",
                (*key, peaks),
            )

    def _append_to_last_block(
        self, version: int, recording_id: int, classes: int, scores: np.ndarray, first_window: int
    ) -> int:
        """Inside a transaction: the first of ``scores`` appended to the recording's last block where
        they follow it and it is shorter than PREDICTION_CHUNK (scoring stores 48 windows at a time;
        queries read a block at a time); returns how many were."""
        last = self.db.execute(
            "SELECT first_window, windows, scores, encoding FROM predictions WHERE model_version = ? "
            "AND recording_id = ? ORDER BY first_window DESC LIMIT 1",
            (version, recording_id),
        ).fetchone()
        if last is None or not len(scores):
            return 0
        first, windows, blob, encoding = last
        if first + windows != first_window or windows >= PREDICTION_CHUNK:
            return 0
        taken = scores[: PREDICTION_CHUNK - windows]
        merged = predictions.append(encoding, blob, windows, classes, taken)
        if merged is None:
            return 0
        found = self.db.execute(
            "SELECT m.maxima, k.peaks FROM prediction_maxima AS m LEFT JOIN prediction_peaks AS k "
            "USING (model_version, recording_id, first_window) WHERE m.model_version = ? AND m.recording_id = ? "
            "AND m.first_window = ?",
            (version, recording_id, first),
        ).fetchone()
        if found is None:
            maxima = predictions.stored_maxima(merged[0], merged[1], windows + len(taken), classes)
        else:
            maxima = predictions.merge_maxima(found[0], predictions.block_maxima(taken))
        added = predictions.block_peaks(taken)
        if found is None or found[1] is None or added is None or windows + len(taken) > 65535:
            peaks = predictions.stored_peaks(merged[0], merged[1], windows + len(taken), classes)
        else:
            peaks = predictions.join(predictions.SPARSE, found[1], windows, added)
        self._write_block((version, recording_id, first), windows + len(taken), merged[1], merged[0], maxima, peaks)
        return len(taken)

    def embeddings(self, version: int, recording_id: int) -> np.ndarray:
        """The stored embeddings of a recording's scored windows, (windows, dim) float16, read-only.
        A head on a pretrained model's embeddings reads those of its base model."""
        model = self.model(version)
        if model.kind == "embedding-head":
            return self.embeddings(int(model.frontend["base_version"]), recording_id)
        return self.embedding_files.read(
            version, recording_id, model.embedding_dim, self.scored_windows(version, recording_id)
        )

    def predictions(
        self,
        version: int,
        recording_id: int,
        start_s: float | None = None,
        end_s: float | None = None,
        columns: Sequence[int] | None = None,
    ) -> tuple[int, np.ndarray]:
        """(first window number, scores (windows x classes, or x ``columns``) as float32) of the
        windows that overlap [start_s, end_s]."""
        model = self.model(version)
        n_classes = len(model.classes)
        width = n_classes if columns is None else len(columns)
        hop = model.hop_s
        first_wanted = 0 if start_s is None else max(0, math.floor((start_s - model.window_s) / hop + 1e-9) + 1)
        last_wanted = 2**62 if end_s is None else int(end_s // hop)
        rows = self.db.execute(
            "SELECT first_window, windows, scores, encoding FROM predictions WHERE model_version = ? "
            "AND recording_id = ? AND first_window <= ? AND first_window + windows > ? ORDER BY first_window",
            (version, recording_id, last_wanted, first_wanted),
        ).fetchall()
        if not rows:
            return first_wanted, np.zeros((0, width), dtype=np.float32)
        start = rows[0][0]
        lo = max(0, first_wanted - start)
        hi = last_wanted - start + 1
        blocks, position = [], 0
        for _, windows, blob, encoding in rows:
            if position + windows > lo and position < hi:
                blocks.append(
                    predictions.decode(
                        encoding, blob, windows, n_classes, columns, max(0, lo - position), max(0, hi - position)
                    )
                )
            position += windows
        return start + lo, np.concatenate(blocks) if blocks else np.zeros((0, width), dtype=np.float32)

    def prediction_blocks(
        self,
        version: int,
        recording_id: int,
        columns: Sequence[int] | None = None,
        min_score: float | None = None,
    ) -> Iterator[tuple[int, np.ndarray]]:
        """(first window, scores) of a recording's stored blocks in order, one at a time; with
        ``columns``, consecutive blocks come together (up to RUN_VALUES scores), read in one pass.
        With ``min_score``, only the blocks where one of ``columns`` (all classes: None) scores at
        least that: the others are left unread, found from each block's maxima (see
        :func:`birdview.store.predictions.reaching`)."""
        n_classes = len(self.model(version).classes)
        if min_score is None or min_score < predictions.SPARSE_FLOOR:
            rows = self.db.execute(
                "SELECT first_window, windows, scores, encoding FROM predictions WHERE model_version = ? "
                "AND recording_id = ? ORDER BY first_window",
                (version, recording_id),
            ).fetchall()
        else:
            rows = self._blocks_reaching(version, recording_id, columns, min_score)
        if columns is None:
            for first, windows, blob, encoding in rows:
                yield first, predictions.decode(encoding, blob, windows, n_classes)
            return
        run: list[tuple[str, bytes, int]] = []
        start = end = 0
        for first, windows, blob, encoding in rows:
            if run and (first != end or (end - start + windows) * len(columns) > RUN_VALUES):
                yield start, predictions.decode_run(run, n_classes, columns)
                run = []
            if not run:
                start = first
            run.append((encoding, blob, windows))
            end = first + windows
        if run:
            yield start, predictions.decode_run(run, n_classes, columns)

    def _blocks_reaching(
        self, version: int, recording_id: int, columns: Sequence[int] | None, min_score: float, peaks: bool = False
    ) -> list[tuple[int, int, bytes, str]]:
        """The stored blocks (first window, windows, scores, encoding) of a recording in which one of
        ``columns`` may score at least ``min_score``, by their maxima: only those blocks are read;
        with ``peaks``, their peaks where kept (see :meth:`_scores_sql`)."""
        index = self.db.execute(
            "SELECT p.first_window, m.maxima FROM predictions AS p "
            "LEFT JOIN prediction_maxima AS m USING (model_version, recording_id, first_window) "
            "WHERE p.model_version = ? AND p.recording_id = ? ORDER BY p.first_window",
            (version, recording_id),
        ).fetchall()
        reach = predictions.reaching([maxima for _, maxima in index], columns, min_score)
        select = (
            f"SELECT p.first_window, p.windows, {self._scores_sql(peaks)} "
            "WHERE p.model_version = ? AND p.recording_id = ?"
        )
        if reach.all():
            return self.db.execute(f"{select} ORDER BY p.first_window", (version, recording_id)).fetchall()
        wanted = [first for (first, _), chosen in zip(index, reach, strict=True) if chosen]
        rows: list[tuple[int, int, bytes, str]] = []
        for start in range(0, len(wanted), 500):
            chunk = wanted[start : start + 500]
            rows += self.db.execute(
                f"{select} AND p.first_window IN ({', '.join('?' for _ in chunk)}) ORDER BY p.first_window",
                (version, recording_id, *chunk),
            ).fetchall()
        return rows

    @staticmethod
    def _scores_sql(peaks: bool) -> str:
        """A block's scores and encoding, and ``FROM predictions AS p``; with ``peaks``, its peaks
        instead where they are kept: a sparse block of its scores from ``predictions.PEAK_FLOOR``
        up, the same windows."""
        if not peaks:
            return "p.scores, p.encoding FROM predictions AS p"
        return (
            "coalesce(k.peaks, p.scores), CASE WHEN k.peaks IS NULL THEN p.encoding ELSE 'sparse' END "
            "FROM predictions AS p LEFT JOIN prediction_peaks AS k USING (model_version, recording_id, first_window)"
        )

    def prediction_hits(
        self, version: int, recording_id: int, target: np.ndarray, lowest: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """(window, counted class) of a recording's scores at or above each counted class's
        ``lowest``: :meth:`prediction_entries` without the scores."""
        window, code, _ = self.prediction_entries(version, recording_id, target, lowest)
        return window, code

    def prediction_entries(
        self, version: int, recording_id: int, target: np.ndarray, lowest: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(window, counted class, score) of a recording's scores at or above each counted class's
        ``lowest`` (``target``: the counted class of each model column, -1 for none), by window, then
        counted class, reading only the blocks whose maxima can reach them
        (:func:`birdview.store.predictions.entries_run`)."""
        target, lowest = np.asarray(target, dtype=np.int64), np.asarray(lowest, dtype=np.float32)
        columns = np.flatnonzero(target >= 0).tolist()
        if not columns:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        cut = float(lowest.min())
        if cut < predictions.SPARSE_FLOOR:
            rows = self.db.execute(
                "SELECT first_window, windows, scores, encoding FROM predictions WHERE model_version = ? "
                "AND recording_id = ? ORDER BY first_window",
                (version, recording_id),
            ).fetchall()
        else:
            rows = self._blocks_reaching(version, recording_id, columns, cut, _peaks_hold(cut))
        blocks = [(first, encoding, blob, windows) for first, windows, blob, encoding in rows]
        _, window, code, score = predictions.entries_run(blocks, target, lowest)
        return window, code, score

    def prediction_entries_of(
        self, version: int, recording_ids: Sequence[int], target: np.ndarray, lowest: np.ndarray
    ) -> Iterator[tuple[int, np.ndarray, np.ndarray, np.ndarray]]:
        """(recording id, window, counted class, score): :meth:`prediction_entries` of each recording
        in turn, for many at once. From ``predictions.PEAK_FLOOR`` up, one pass over the blocks'
        maxima and peaks (:meth:`_entries_from_peaks`); otherwise the maxima of the model's blocks
        read in one query, and the blocks that can reach the scores a batch of recordings at a time."""
        target, lowest = np.asarray(target, dtype=np.int64), np.asarray(lowest, dtype=np.float32)
        columns = np.flatnonzero(target >= 0).tolist()
        ids = list(recording_ids)
        if len(ids) < ENTRY_BATCH or not columns or float(lowest.min()) < predictions.SPARSE_FLOOR:
            for recording_id in ids:
                yield recording_id, *self.prediction_entries(version, recording_id, target, lowest)
            return
        peaks = _peaks_hold(float(lowest.min()))
        found = self._entries_from_peaks(version, ids, columns, target, lowest) if peaks else None
        if found is not None:
            empty = np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
            for recording_id in ids:
                yield recording_id, *found.get(recording_id, empty)
            return
        reached = self._reached_blocks(version, columns, float(lowest.min()))
        for start in range(0, len(ids), ENTRY_BATCH):
            batch = ids[start : start + ENTRY_BATCH]
            rows = self._blocks_by_rowid([rowid for rid in batch for rowid in reached.get(rid, ())], peaks)
            place = {rid: n for n, rid in enumerate(batch)}
            rows.sort(key=lambda row: (place[row[0]], row[1]))
            blocks = [(first, encoding, blob, windows) for _, first, windows, blob, encoding in rows]
            block, window, code, score = predictions.entries_run(blocks, target, lowest)
            owner = np.array([place[row[0]] for row in rows], dtype=np.int64)[block]
            bounds = np.searchsorted(owner, np.arange(len(batch) + 1))
            for n, rid in enumerate(batch):
                part = slice(bounds[n], bounds[n + 1])
                yield rid, window[part], code[part], score[part]

    def _entries_from_peaks(
        self, version: int, ids: Sequence[int], columns: Sequence[int], target: np.ndarray, lowest: np.ndarray
    ) -> dict[int, tuple[np.ndarray, np.ndarray, np.ndarray]] | None:
        """:meth:`prediction_entries_of` for scores of at least ``predictions.PEAK_FLOOR``, by recording,
        read from the blocks' maxima and peaks alone (a few per cent of the blocks); None where some
        block has no row of maxima (stored otherwise than by this store)."""
        wanted = set(ids)
        parts: dict[int, list[tuple[np.ndarray, ...]]] = {}
        seen = 0
        cursor = self.db.execute(
            "SELECT m.recording_id, m.first_window, m.maxima, k.peaks FROM prediction_maxima AS m "
            "LEFT JOIN prediction_peaks AS k USING (model_version, recording_id, first_window) "
            "WHERE m.model_version = ? ORDER BY m.recording_id, m.first_window",
            (version,),
        )
        while rows := cursor.fetchmany(PEAK_ROWS):
            seen += len(rows)
            rows = [row for row in rows if row[0] in wanted]
            reach = predictions.reaching([maxima for _, _, maxima, _ in rows], columns, float(lowest.min()))
            chosen = [row for row, reached in zip(rows, reach.tolist(), strict=True) if reached]
            blocks = [self._peaks_or_block(version, *row) for row in chosen]
            block, window, code, score = predictions.entries_run(blocks, target, lowest)
            owner = np.array([recording_id for recording_id, *_ in chosen], dtype=np.int64)[block]
            for recording_id in np.unique(owner).tolist():
                mine = owner == recording_id
                parts.setdefault(recording_id, []).append((window[mine], code[mine], score[mine]))
        (blocks,) = self.db.execute("SELECT count(*) FROM predictions WHERE model_version = ?", (version,)).fetchone()
        if seen != blocks:
            return None
        return {rid: tuple(np.concatenate(p) for p in zip(*found, strict=True)) for rid, found in parts.items()}

    def _peaks_or_block(
        self, version: int, recording_id: int, first: int, _maxima: bytes | None, peaks: bytes | None
    ) -> tuple[int, str, bytes, int]:
        """A block as :func:`birdview.store.predictions.entries_run` takes it: its peaks (a sparse block,
        read only at or above the floor, so its windows are not needed), else its scores."""
        if peaks is not None:
            return first, predictions.SPARSE, peaks, 0
        windows, blob, encoding = self.db.execute(
            "SELECT windows, scores, encoding FROM predictions WHERE model_version = ? AND recording_id = ? "
            "AND first_window = ?",
            (version, recording_id, first),
        ).fetchone()
        return first, encoding, blob, windows

    def _reached_blocks(self, version: int, columns: Sequence[int], min_score: float) -> dict[int, list[int]]:
        """The rowids of the model's blocks, by recording, in which one of ``columns`` may score at
        least ``min_score``, by their maxima."""
        index = self.db.execute(
            "SELECT p.rowid, p.recording_id, m.maxima FROM predictions AS p "
            "LEFT JOIN prediction_maxima AS m USING (model_version, recording_id, first_window) "
            "WHERE p.model_version = ?",
            (version,),
        ).fetchall()
        reach = predictions.reaching([maxima for _, _, maxima in index], columns, min_score)
        found: dict[int, list[int]] = {}
        for (rowid, recording_id, _), chosen in zip(index, reach.tolist(), strict=True):
            if chosen:
                found.setdefault(recording_id, []).append(rowid)
        return found

    def _blocks_by_rowid(self, rowids: Sequence[int], peaks: bool = False) -> list[tuple[int, int, int, bytes, str]]:
        """(recording id, first window, windows, scores, encoding) of these blocks, in no order;
        with ``peaks``, their peaks where kept (see :meth:`_scores_sql`)."""
        rows: list[tuple[int, int, int, bytes, str]] = []
        for start in range(0, len(rowids), 500):
            chunk = rowids[start : start + 500]
            rows += self.db.execute(
                f"SELECT p.recording_id, p.first_window, p.windows, {self._scores_sql(peaks)} "
                f"WHERE p.rowid IN ({', '.join('?' for _ in chunk)})",
                chunk,
            ).fetchall()
        return rows

    def prediction_peaks(
        self, version: int, recording_id: int, start_s: float | None = None, end_s: float | None = None
    ) -> np.ndarray:
        """Each class's highest score over the windows that overlap [start_s, end_s], block by
        block: the top species of a day-long recording without holding its whole score matrix."""
        model = self.model(version)
        hop, n_classes = model.hop_s, len(model.classes)
        first_wanted = 0 if start_s is None else max(0, math.floor((start_s - model.window_s) / hop + 1e-9) + 1)
        last_wanted = 2**62 if end_s is None else int(end_s // hop)
        peaks = np.zeros(n_classes, dtype=np.float32)
        for first, windows, blob, encoding in self.db.execute(
            "SELECT first_window, windows, scores, encoding FROM predictions WHERE model_version = ? "
            "AND recording_id = ? AND first_window <= ? AND first_window + windows > ?",
            (version, recording_id, last_wanted, first_wanted),
        ):
            block = predictions.decode(
                encoding, blob, windows, n_classes, None, max(0, first_wanted - first), max(0, last_wanted - first + 1)
            )
            if len(block):
                np.maximum(peaks, block.max(axis=0), out=peaks)
        return peaks

    def scored_recordings(self, version: int) -> set[int]:
        """The ids of the recordings the model version has scored (some of)."""
        rows = self.db.execute("SELECT DISTINCT recording_id FROM predictions WHERE model_version = ?", (version,))
        return {rid for (rid,) in rows.fetchall()}

    def scored_windows(self, version: int, recording_id: int) -> int:
        row = self.db.execute(
            "SELECT coalesce(sum(windows), 0) FROM predictions WHERE model_version = ? AND recording_id = ?",
            (version, recording_id),
        ).fetchone()
        return int(row[0])

    # -- settings ----------------------------------------------------------------------------------

    def get_setting(self, key: str, default: object = None) -> object:
        row = self.db.execute("SELECT value FROM meta WHERE key = ?", (f"setting.{key}",)).fetchone()
        return json.loads(row[0]) if row else default

    def set_setting(self, key: str, value: object) -> None:
        with self._transaction():
            self.db.execute(
                "INSERT INTO meta(key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                (f"setting.{key}", json.dumps(value)),
            )


class _Transaction:
    """One write transaction (BEGIN IMMEDIATE) that also counts the edit, in the database and
    beside it once committed."""

    def __init__(self, project: Project) -> None:
        self.project = project
        self.connection = project.db

    def __enter__(self) -> sqlite3.Connection:
        try:
            self.connection.execute("BEGIN IMMEDIATE")
        except sqlite3.DatabaseError as exc:
            raise self.project._database_error(exc, writing=True) from None
        return self.connection

    def __exit__(self, kind: type | None, error: BaseException | None, *_: object) -> None:
        if kind is None:
            try:
                (edits,) = self.connection.execute(
                    "UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'edits' RETURNING value"
                ).fetchone()
                self.connection.execute("COMMIT")
                integrity.write_mark(self.project.database, integrity.EditMark(self.project.project_id, int(edits)))
                return
            except sqlite3.DatabaseError as exc:
                error = exc
        if self.connection.in_transaction:
            self.connection.execute("ROLLBACK")
        if isinstance(error, sqlite3.DatabaseError):
            # e.g. a full disk: the edit is refused whole and everything saved before stays.
            raise self.project._database_error(error, writing=True) from None


def _peaks_hold(min_score: float) -> bool:
    """Whether a block's peaks hold every score of at least ``min_score`` (a float32 cut)."""
    return bool(np.float32(min_score) >= np.float32(predictions.PEAK_FLOOR))


def _connect(path: Path) -> sqlite3.Connection:
    return sqlite3.connect(str(path), isolation_level=None, timeout=10.0)


def _set_pragmas(connection: sqlite3.Connection) -> None:
    """Only once the file is known to be a whole birdview project: WAL mode rewrites its header."""
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute("PRAGMA synchronous=FULL")
    connection.execute("PRAGMA foreign_keys=ON")


def _create_database(path: Path, species: Iterable[str] | None) -> None:
    """Build a new project database under a temporary name and link it into place: a process
    killed meanwhile leaves no half-made project.sqlite behind."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_name(f".{path.name}.{os.getpid()}.new")
        temporary.unlink(missing_ok=True)
        connection = sqlite3.connect(str(temporary), isolation_level=None)
        try:
            migrate(connection)
            if species is not None:
                connection.execute("BEGIN")
                connection.executemany(
                    "INSERT OR IGNORE INTO species(code, user_added) VALUES (?, 0)", [(code,) for code in species]
                )
                connection.execute("COMMIT")
        finally:
            connection.close()
        try:
            os.link(temporary, path)  # never replaces a project another process created meanwhile
        except FileExistsError:
            pass
        except OSError:
            if not path.exists():
                os.replace(temporary, path)
        finally:
            temporary.unlink(missing_ok=True)
    except (sqlite3.DatabaseError, OSError) as exc:
        raise ProjectError(f"{path}: cannot create the project database ({exc})") from None


def _refuse_foreign(connection: sqlite3.Connection, path: Path) -> None:
    """An SQLite file with tables but none of birdview's is someone else's: leave it alone."""
    tables = {row[0] for row in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    if tables and "meta" not in tables:
        raise integrity.damaged(path, f"an SQLite database of something else, with tables {', '.join(sorted(tables))}")


def _translate_database_errors(method):
    @functools.wraps(method)
    def guarded(self: Project, *args: object, **kwargs: object) -> object:
        try:
            return method(self, *args, **kwargs)
        except sqlite3.DatabaseError as exc:
            raise self._database_error(exc) from None

    return guarded


# Every public method reports SQLite's errors as a ProjectError naming the file (and, for damage,
# the way out), instead of a raw sqlite3 traceback.
for _name, _method in list(vars(Project).items()):
    if not _name.startswith("_") and callable(_method) and not isinstance(_method, (classmethod, staticmethod)):
        setattr(Project, _name, _translate_database_errors(_method))
