"""Keeping a project's database whole: checks when it opens, rolling backups, recovery.

- An existing ``project.sqlite`` must be an SQLite database before SQLite touches it: an empty or
  foreign file is refused, never rebuilt. ``PRAGMA quick_check`` runs once per process and file.
- Every committed edit counts up ``meta.edits``; after the commit the count is also written beside
  the database (``project.sqlite.edits``). A database whose count is below that file's has lost
  committed edits (its ``-wal`` file was deleted or not copied) and is refused until recovered.
- Backups: ``backups/project-<UTC time>-e<edits>.sqlite``, written with SQLite's online backup
  API (consistent while others write), the newest KEEP_BACKUPS kept.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import sqlite3
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from birdview.store.errors import ProjectDamagedError, ProjectError

DATABASE = "project.sqlite"
BACKUP_FOLDER = "backups"
KEEP_BACKUPS = 5
#: A backup is started after this many label edits in one session.
BACKUP_EVERY_EDITS = 100
#: At open, a backup is made when the newest one lacks edits and is older than this.
BACKUP_MIN_INTERVAL_S = 300.0
SQLITE_HEADER = b"SQLite format 3\x00"
_SQLITE_CORRUPT, _SQLITE_FULL, _SQLITE_NOTADB = 11, 13, 26
_BACKUP_NAME = re.compile(r"project-(\d{8}T\d{12})Z-e(\d+)\.sqlite$")

_verified: set[str] = set()
_verified_lock = threading.Lock()


def backups(folder: Path) -> list[Path]:
    """The project's backups, newest first."""
    found = [p for p in (Path(folder) / BACKUP_FOLDER).glob("project-*.sqlite") if _BACKUP_NAME.search(p.name)]
    return sorted(found, key=lambda p: p.name, reverse=True)


def backup_edits(path: Path) -> int:
    match = _BACKUP_NAME.search(path.name)
    return int(match.group(2)) if match else -1


def way_out(folder: Path) -> str:
    found = backups(folder)
    if found:
        return f"restore the last backup ({found[0].name}) with: birdview recover --project {folder}"
    return f"there is no backup of it in {Path(folder) / BACKUP_FOLDER}, so the file is left as it is"


def damaged(path: Path, detail: str) -> ProjectDamagedError:
    return ProjectDamagedError(
        f"{path}: not a birdview project or damaged ({detail}). Nothing was written into it; {way_out(path.parent)}"
    )


def check_header(path: Path) -> None:
    """Refuse a file that is not an SQLite database, before SQLite would turn it into one."""
    if path.is_dir():
        raise ProjectError(f"{path}: is a folder, not a project database")
    try:
        with open(path, "rb") as handle:
            head = handle.read(len(SQLITE_HEADER))
    except OSError as exc:
        raise ProjectError(f"{path}: cannot read the project database ({exc.strerror or exc})") from None
    if not head:
        raise damaged(path, "the file is empty, 0 bytes")
    if head != SQLITE_HEADER:
        raise damaged(path, "not an SQLite database")


def is_corruption(exc: sqlite3.Error) -> bool:
    code = getattr(exc, "sqlite_errorcode", None)
    if code is not None:
        return code & 0xFF in (_SQLITE_CORRUPT, _SQLITE_NOTADB)
    text = str(exc).lower()
    return "malformed" in text or "not a database" in text


def is_disk_full(exc: sqlite3.Error) -> bool:
    code = getattr(exc, "sqlite_errorcode", None)
    return (code is not None and code & 0xFF == _SQLITE_FULL) or "disk is full" in str(exc).lower()


def quick_check(connection: sqlite3.Connection) -> list[str]:
    """What ``PRAGMA quick_check`` finds wrong (at most 10 lines); empty when the file is whole."""
    try:
        found = [row[0] for row in connection.execute("PRAGMA quick_check(10)")]
    except sqlite3.DatabaseError as exc:
        return [str(exc)]
    return [] if found == ["ok"] else found


def _verified_key(path: Path) -> str:
    status = path.stat()
    return f"{path.resolve()}:{status.st_size}:{status.st_mtime_ns}"


def verify(connection: sqlite3.Connection, path: Path) -> None:
    """quick_check once per process and state of the database file (worker threads reopen a
    project often; the file's size and time change when SQLite writes to it)."""
    key = _verified_key(path)
    with _verified_lock:
        if key in _verified:
            return
    problems = quick_check(connection)
    if problems:
        raise damaged(path, "; ".join(problems[:3]))
    with _verified_lock:
        _verified.add(key)


# -- the count of committed edits, in the database and beside it ----------------------------------


@dataclass(frozen=True)
class EditMark:
    project_id: str
    edits: int


def _mark_path(database: Path) -> Path:
    return database.with_name(database.name + ".edits")


def database_mark(connection: sqlite3.Connection) -> EditMark:
    values = dict(connection.execute("SELECT key, value FROM meta WHERE key IN ('project_id', 'edits')"))
    return EditMark(values.get("project_id", ""), int(values.get("edits", 0)))


def read_mark(database: Path) -> EditMark | None:
    try:
        values = json.loads(_mark_path(database).read_text(encoding="utf-8"))
        return EditMark(str(values["project_id"]), int(values["edits"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def write_mark(database: Path, mark: EditMark) -> None:
    """Written after the commit it counts; a mark that cannot be written only weakens the check."""
    target = _mark_path(database)
    temporary = target.with_name(f"{target.name}.{os.getpid()}.{threading.get_ident()}")
    try:
        temporary.write_text(json.dumps({"project_id": mark.project_id, "edits": mark.edits}), encoding="utf-8")
        os.replace(temporary, target)
    except OSError:
        temporary.unlink(missing_ok=True)


def check_lost_edits(connection: sqlite3.Connection, database: Path) -> EditMark:
    current = database_mark(connection)
    saved = read_mark(database)
    if saved is not None and saved.project_id == current.project_id and saved.edits > current.edits:
        folder = database.parent
        raise ProjectDamagedError(
            f"{database}: {saved.edits - current.edits} saved edit(s) are missing: they were in "
            f"{database.name}-wal, which is gone (deleted, or not copied with the project). Nothing was changed; "
            f"{way_out(folder)}, or keep the project as it is with: birdview recover --project {folder} --keep-current"
        )
    if saved != current:
        write_mark(database, current)
    return current


# -- backups ----------------------------------------------------------------------------------------


def make_backup(database: Path, keep: int | None = None) -> Path:
    """A consistent copy of the database in backups/ (others may go on writing meanwhile)."""
    folder = database.parent / BACKUP_FOLDER
    folder.mkdir(exist_ok=True)
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S%f")
    temporary = folder / f".partial-{stamp}-{os.getpid()}.sqlite"
    source = sqlite3.connect(str(database), timeout=30.0)
    try:
        target = sqlite3.connect(str(temporary))
        try:
            source.backup(target)
            edits = database_mark(target).edits
        finally:
            target.close()
        final = folder / f"project-{stamp}Z-e{edits}.sqlite"
        os.replace(temporary, final)
    finally:
        source.close()
        temporary.unlink(missing_ok=True)
    for old in backups(database.parent)[keep or KEEP_BACKUPS :]:
        old.unlink(missing_ok=True)
    return final


def backup_due(database: Path, edits: int, min_interval_s: float = BACKUP_MIN_INTERVAL_S) -> bool:
    if edits == 0:
        return False
    found = backups(database.parent)
    if not found:
        return True
    newest = found[0]
    return backup_edits(newest) != edits and time.time() - newest.stat().st_mtime >= min_interval_s


# -- recovery ---------------------------------------------------------------------------------------


@dataclass
class Recovery:
    restored: Path | None
    moved_to: Path | None
    labels: int
    edits: int
    #: Saved edits the restored backup does not hold (known when the edit mark beside it was kept).
    behind: int | None = None


def _usable(path: Path) -> bool:
    try:
        check_header(path)
        connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    except (ProjectError, sqlite3.Error):
        return False
    try:
        if quick_check(connection):
            return False
        return connection.execute("SELECT 1 FROM meta WHERE key = 'schema_version'").fetchone() is not None
    except sqlite3.Error:
        return False
    finally:
        connection.close()


def recover(folder: str | Path, backup: str | Path | None = None, keep_current: bool = False) -> Recovery:
    """Restore a backup (the newest usable one unless named), moving the damaged database aside
    (never deleting it); or, with keep_current, accept a whole database that lost edits as it is."""
    folder = Path(folder)
    database = folder / DATABASE
    if keep_current:
        if not database.exists() or not _usable(database):
            raise ProjectError(f"{database}: damaged itself, so it cannot be kept; restore a backup instead")
        connection = sqlite3.connect(str(database))
        try:
            mark = database_mark(connection)
            labels = connection.execute("SELECT count(*) FROM annotations").fetchone()[0]
        finally:
            connection.close()
        write_mark(database, mark)
        return Recovery(None, None, labels, mark.edits)

    if backup is None and database.exists() and _usable(database) and not _lost_edits(database):
        raise ProjectError(
            f"{database}: whole (it passes its check and holds every saved edit), so nothing was changed. "
            f"To go back to a backup all the same, name it: birdview recover --project {folder} --backup FILE "
            f"(the backups: birdview recover --project {folder} --list)"
        )
    saved = read_mark(database)
    candidates = [Path(backup)] if backup is not None else backups(folder)
    if backup is not None and not candidates[0].exists():
        raise ProjectError(f"{candidates[0]}: no such backup")
    chosen = next((c for c in candidates if _usable(c)), None)
    if chosen is None:
        where = candidates[0] if backup is not None else folder / BACKUP_FOLDER
        raise ProjectError(f"{where}: no usable backup to restore; the project was left as it is")

    moved_to = None
    companions = [database.with_name(database.name + suffix) for suffix in ("-wal", "-shm")] + [_mark_path(database)]
    present = [path for path in (database, *companions) if path.exists()]
    if present:
        moved_to = folder / f"damaged-{datetime.now(timezone.utc).strftime('%Y%m%dT%H%M%S')}"
        moved_to.mkdir()
        for path in present:
            shutil.move(str(path), moved_to / path.name)
    temporary = folder / f".{DATABASE}.restoring"
    source = sqlite3.connect(f"file:{chosen}?mode=ro", uri=True)
    try:
        target = sqlite3.connect(str(temporary))
        try:
            source.backup(target)
            mark = database_mark(target)
            labels = target.execute("SELECT count(*) FROM annotations").fetchone()[0]
        finally:
            target.close()
    finally:
        source.close()
    os.replace(temporary, database)
    write_mark(database, mark)
    behind = saved.edits - mark.edits if saved is not None and saved.project_id == mark.project_id else None
    return Recovery(chosen, moved_to, labels, mark.edits, behind)


def _lost_edits(database: Path) -> bool:
    saved = read_mark(database)
    if saved is None:
        return False
    connection = sqlite3.connect(f"file:{database}?mode=ro", uri=True)
    try:
        current = database_mark(connection)
    except sqlite3.Error:
        return True
    finally:
        connection.close()
    return saved.project_id == current.project_id and saved.edits > current.edits
