"""The project database's schema, as numbered migrations applied in order.

Version 1 is the first schema projects were created with; every later step changes a project in
place, inside one transaction, so an interrupted upgrade leaves the old version intact.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from typing import NamedTuple

from birdview.store import predictions
from birdview.store.labels import Source, read_verdict


class _Judged(NamedTuple):
    kind: str
    species: str | None


def _review_columns(connection: sqlite3.Connection) -> None:
    """5: the species a review label answers and its verdict get columns of their own. Until now
    the species was kept in ``note`` (free text); it moves out and ``note`` is left empty, and the
    verdict is read from the labels of each reviewed detection as the review queue read it."""
    connection.execute("ALTER TABLE annotations ADD COLUMN reviewed_species TEXT")
    connection.execute("ALTER TABLE annotations ADD COLUMN verdict TEXT")
    connection.execute(
        "UPDATE annotations SET reviewed_species = coalesce(nullif(note, ''), species), note = NULL WHERE source = ?",
        (Source.MODEL_REVIEW.value,),
    )
    detections: dict[tuple, list[tuple[int, _Judged]]] = {}
    for label_id, version, recording_id, start_s, reviewed, kind, species in connection.execute(
        "SELECT id, model_version, recording_id, start_s, reviewed_species, kind, species FROM annotations "
        "WHERE source = ?",
        (Source.MODEL_REVIEW.value,),
    ):
        detections.setdefault((version, recording_id, start_s, reviewed), []).append((label_id, _Judged(kind, species)))
    connection.executemany(
        "UPDATE annotations SET verdict = ? WHERE id = ?",
        [
            (str(read_verdict([judged for _, judged in labels], key[-1])), label_id)
            for key, labels in detections.items()
            for label_id, _ in labels
        ],
    )


_MAXIMA_TABLE = """
CREATE TABLE prediction_maxima (
    model_version INTEGER NOT NULL,
    recording_id INTEGER NOT NULL,
    first_window INTEGER NOT NULL,
    maxima BLOB,
    PRIMARY KEY (model_version, recording_id, first_window),
    FOREIGN KEY (model_version, recording_id, first_window)
        REFERENCES predictions(model_version, recording_id, first_window) ON DELETE CASCADE
) WITHOUT ROWID
"""


def _prediction_maxima(connection: sqlite3.Connection) -> None:
    """7: each stored block of predictions gets its classes' highest scores (those reaching the
    sparse floor) in a table of its own, so that a season-wide query for a species above a
    threshold reads only the blocks that can hold one; and consecutive blocks of a recording
    stored a chunk at a time (48 windows) are joined into blocks of up to BLOCK_WINDOWS windows,
    as they are stored from now on. Joined blocks keep their encoding: every score reads back as
    before."""
    connection.execute(_MAXIMA_TABLE)
    classes = {
        version: len(json.loads(names)) for version, names in connection.execute("SELECT version, classes FROM models")
    }
    scored = connection.execute("SELECT DISTINCT model_version, recording_id FROM predictions").fetchall()
    for version, recording in scored:
        if version not in classes:
            continue
        blocks: list[list] = []  # [first, windows, blob, encoding, keys joined into it]
        for first, windows, blob, encoding in connection.execute(
            "SELECT first_window, windows, scores, encoding FROM predictions WHERE model_version = ? "
            "AND recording_id = ? ORDER BY first_window",
            (version, recording),
        ):
            last = blocks[-1] if blocks else None
            if (
                last is not None
                and last[0] + last[1] == first
                and last[3] == encoding
                and last[1] + windows <= predictions.BLOCK_WINDOWS
            ):
                last[2] = predictions.join(encoding, last[2], last[1], blob)
                last[1] += windows
                last[4].append(first)
            else:
                blocks.append([first, windows, blob, encoding, []])
        for first, windows, blob, _, joined in blocks:
            if joined:
                connection.executemany(
                    "DELETE FROM predictions WHERE model_version = ? AND recording_id = ? AND first_window = ?",
                    [(version, recording, key) for key in joined],
                )
                connection.execute(
                    "UPDATE predictions SET windows = ?, scores = ? WHERE model_version = ? AND recording_id = ? "
                    "AND first_window = ?",
                    (windows, blob, version, recording, first),
                )
        connection.executemany(
            "INSERT INTO prediction_maxima(model_version, recording_id, first_window, maxima) VALUES (?, ?, ?, ?)",
            [
                (version, recording, first, predictions.stored_maxima(encoding, blob, windows, classes[version]))
                for first, windows, blob, encoding, _ in blocks
            ],
        )


_PEAKS_TABLE = """
CREATE TABLE prediction_peaks (
    model_version INTEGER NOT NULL,
    recording_id INTEGER NOT NULL,
    first_window INTEGER NOT NULL,
    peaks BLOB NOT NULL,
    PRIMARY KEY (model_version, recording_id, first_window),
    FOREIGN KEY (model_version, recording_id, first_window)
        REFERENCES predictions(model_version, recording_id, first_window) ON DELETE CASCADE
)
"""


def _prediction_peaks(connection: sqlite3.Connection) -> None:
    """8: each stored block's scores of at least ``predictions.PEAK_FLOOR`` (its peaks, in the
    sparse encoding) in a table of their own, which a query for scores at or above that reads
    instead of the whole block. A table with rowids: its rows of a kB or so share pages (in a table
    without, rows over a quarter of a page spill into pages of their own). Every block's peaks are
    computed from its stored scores."""
    connection.execute(_PEAKS_TABLE)
    classes = {
        version: len(json.loads(names)) for version, names in connection.execute("SELECT version, classes FROM models")
    }
    rowids = [
        rowid
        for (rowid,) in connection.execute(
            "SELECT rowid FROM predictions ORDER BY model_version, recording_id, first_window"
        )
    ]
    for start in range(0, len(rowids), 500):
        chunk = rowids[start : start + 500]
        batch = connection.execute(
            "SELECT model_version, recording_id, first_window, windows, scores, encoding FROM predictions "
            f"WHERE rowid IN ({', '.join('?' for _ in chunk)}) ORDER BY model_version, recording_id, first_window",
            chunk,
        ).fetchall()
        found = [
            (version, recording, first, predictions.stored_peaks(encoding, blob, windows, classes[version]))
            for version, recording, first, windows, blob, encoding in batch
            if version in classes
        ]
        connection.executemany(
            "INSERT INTO prediction_peaks(model_version, recording_id, first_window, peaks) VALUES (?, ?, ?, ?)",
            [row for row in found if row[3] is not None],
        )


#: Each step is SQL statements, or a function run on the connection, inside one transaction.
MIGRATIONS: list[str | Callable[[sqlite3.Connection], None]] = [
    # 1: the first schema
    """
    CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    CREATE TABLE recordings (
        id INTEGER PRIMARY KEY,
        path TEXT NOT NULL UNIQUE,
        name TEXT NOT NULL,
        size INTEGER NOT NULL,
        content_hash TEXT NOT NULL,
        duration_s REAL NOT NULL,
        sample_rate INTEGER NOT NULL,
        channels INTEGER NOT NULL,
        start_time TEXT,
        added_at TEXT NOT NULL
    );
    CREATE INDEX recordings_by_hash ON recordings(content_hash);
    CREATE TABLE species (
        code TEXT PRIMARY KEY,
        common_name TEXT,
        scientific_name TEXT,
        user_added INTEGER NOT NULL DEFAULT 0
    );
    CREATE TABLE models (
        version INTEGER PRIMARY KEY,
        path TEXT NOT NULL,
        parent INTEGER REFERENCES models(version),
        created_at TEXT NOT NULL,
        classes TEXT NOT NULL,
        metrics TEXT,
        active INTEGER NOT NULL DEFAULT 0
    );
    CREATE TABLE annotations (
        id INTEGER PRIMARY KEY,
        recording_id INTEGER NOT NULL REFERENCES recordings(id) ON DELETE CASCADE,
        start_s REAL NOT NULL,
        end_s REAL NOT NULL,
        low_hz REAL,
        high_hz REAL,
        species TEXT REFERENCES species(code) ON UPDATE CASCADE,
        kind TEXT NOT NULL CHECK (kind IN ('call', 'hard_negative', 'uncertain')),
        status TEXT NOT NULL CHECK (status IN ('unreviewed', 'confirmed', 'rejected')),
        source TEXT NOT NULL CHECK (source IN ('user', 'model_review', 'import')),
        score REAL,
        model_version INTEGER REFERENCES models(version),
        author TEXT,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        CHECK (end_s >= start_s)
    );
    CREATE INDEX annotations_by_time ON annotations(recording_id, start_s);
    CREATE TABLE predictions (
        model_version INTEGER NOT NULL REFERENCES models(version) ON DELETE CASCADE,
        recording_id INTEGER NOT NULL REFERENCES recordings(id) ON DELETE CASCADE,
        first_window INTEGER NOT NULL,
        windows INTEGER NOT NULL,
        scores BLOB NOT NULL,
        PRIMARY KEY (model_version, recording_id, first_window)
    );
    """,
    # 2: recorder site per recording; free-text notes and the channel of an annotation
    """
    ALTER TABLE recordings ADD COLUMN site TEXT;
    ALTER TABLE annotations ADD COLUMN note TEXT;
    ALTER TABLE annotations ADD COLUMN channel INTEGER;
    """,
    # 3: what a model version needs to be used and compared: its front end, window, log and
    # the labels it was trained on
    """
    ALTER TABLE models ADD COLUMN window_s REAL NOT NULL DEFAULT 5.0;
    ALTER TABLE models ADD COLUMN frontend TEXT;
    ALTER TABLE models ADD COLUMN log_path TEXT;
    ALTER TABLE models ADD COLUMN training_labels TEXT;
    CREATE INDEX annotations_by_species ON annotations(species, kind, status)
    """,
    # 4: an identity and a count of committed edits, to tell when saved edits went missing
    """
    INSERT OR IGNORE INTO meta(key, value) VALUES ('project_id', lower(hex(randomblob(16))));
    INSERT OR IGNORE INTO meta(key, value) VALUES ('edits', '0')
    """,
    # 5: review labels keep the species reviewed and the verdict in columns of their own, not in note
    _review_columns,
    # 6: model kinds (birdview-train, BirdNET, Perch) with their windows, hop and licence; sparse
    # prediction blocks for models with thousands of classes; species' category (bird or not);
    # sites with their place and time zone
    """
    ALTER TABLE models ADD COLUMN kind TEXT NOT NULL DEFAULT 'birdview-train';
    ALTER TABLE models ADD COLUMN name TEXT;
    ALTER TABLE models ADD COLUMN hop_s REAL;
    ALTER TABLE models ADD COLUMN sample_rate INTEGER;
    ALTER TABLE models ADD COLUMN embedding_dim INTEGER;
    ALTER TABLE models ADD COLUMN licence TEXT;
    ALTER TABLE predictions ADD COLUMN encoding TEXT NOT NULL DEFAULT 'dense';
    ALTER TABLE species ADD COLUMN category TEXT NOT NULL DEFAULT 'bird';
    CREATE TABLE sites (
        name TEXT PRIMARY KEY,
        latitude REAL CHECK (latitude BETWEEN -90 AND 90),
        longitude REAL CHECK (longitude BETWEEN -180 AND 180),
        timezone TEXT
    )
    """,
    # 7: the highest score of each class in each block of predictions, to skip blocks in queries;
    # consecutive blocks of up to an hour joined
    _prediction_maxima,
    # 8: each block's scores from predictions.PEAK_FLOOR up (its peaks), read instead of it
    _prediction_peaks,
]

SCHEMA_VERSION = len(MIGRATIONS)


class SchemaError(RuntimeError):
    pass


def current_version(connection: sqlite3.Connection) -> int:
    exists = connection.execute("SELECT 1 FROM sqlite_master WHERE type='table' AND name='meta'").fetchone()
    if not exists:
        return 0
    row = connection.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
    return int(row[0]) if row else 0


def migrate(connection: sqlite3.Connection) -> int:
    """Bring the database to SCHEMA_VERSION; returns the version it had."""
    found = current_version(connection)
    if found > SCHEMA_VERSION:
        raise SchemaError(
            f"this project was written by a newer birdview (schema {found}; this one knows {SCHEMA_VERSION})"
        )
    for version in range(found + 1, SCHEMA_VERSION + 1):
        step = MIGRATIONS[version - 1]
        connection.execute("BEGIN IMMEDIATE")
        try:
            if callable(step):
                step(connection)
            else:
                for statement in (s.strip() for s in step.split(";")):
                    if statement:
                        connection.execute(statement)
            connection.execute(
                "INSERT INTO meta(key, value) VALUES ('schema_version', ?) "
                "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                (str(version),),
            )
            connection.execute("COMMIT")
        except Exception:
            connection.execute("ROLLBACK")
            raise
    return found
