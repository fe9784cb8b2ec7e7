"""Paths built from user text, and files written whole or not at all.

Species codes and recording names become file and folder names when labels are exported or cut
into clips. Every such name goes through :func:`safe_component`, and every path made of them
through :func:`child_path`, which refuses a path that would leave its folder.

Every exported file is written under a temporary name in its own folder and renamed over its
target once complete (:func:`atomic_write`): a failed write leaves neither a partial file nor a
temporary one, and a file that was there before is left as it was. Inside :func:`staged_writes`
the renames wait until the whole block has succeeded, so an export of many files either writes
all of them or none.
"""

from __future__ import annotations

import contextvars
import errno
import hashlib
import os
import secrets
import stat
import unicodedata
from collections.abc import Iterable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

#: Longest file name most file systems accept, in bytes of UTF-8.
MAX_NAME_BYTES = 255
#: What :func:`safe_component` keeps by default: room for suffixes such as ``.Table.1.selections.txt``.
DEFAULT_NAME_BYTES = 200
#: A name with nothing usable left.
PLACEHOLDER = "unnamed"

_WINDOWS_INVALID = set('<>:"|?*/\\')
_WINDOWS_RESERVED = {"CON", "PRN", "AUX", "NUL", "CONIN$", "CONOUT$"} | {
    f"{device}{n}" for device in ("COM", "LPT") for n in "0123456789\u00b9\u00b2\u00b3"
}
_HASH_CHARS = 8
_TEMP_MARK = ".tmp"


class UnsafePathError(ValueError):
    """A path that would end up outside the folder it was built in."""


def _name_hash(text: str) -> str:
    return hashlib.sha1(text.encode("utf-8", "surrogatepass")).hexdigest()[:_HASH_CHARS]


def _truncate_utf8(text: str, max_bytes: int) -> str:
    return text.encode("utf-8")[: max(max_bytes, 0)].decode("utf-8", "ignore")


def _is_windows_reserved(name: str) -> bool:
    # Windows ignores an extension and trailing spaces: "con.txt" and "CON .log" are the console too.
    return name.split(".", 1)[0].rstrip(" ").upper() in _WINDOWS_RESERVED


def safe_component(text: str | None, max_bytes: int = DEFAULT_NAME_BYTES, reserved: Iterable[str] = ()) -> str:
    """``text`` as one file or folder name that is valid on Linux, macOS and Windows.

    Path separators, ``..``, control and NUL characters, characters Windows forbids, leading and
    trailing dots and spaces and Windows device names (``CON``, ``nul.txt``...) are made harmless;
    the result is at most ``max_bytes`` bytes of UTF-8 (``max_bytes`` >= 16). A name that had to
    change ends in ``-`` and a short hash of the original, so two different texts stay two
    different names; a name that needed no change is returned as it is. Names in ``reserved``
    (compared without case) count as needing a change, e.g. folders the caller uses itself.
    """
    if max_bytes < 2 * _HASH_CHARS:
        raise ValueError(f"max_bytes {max_bytes} leaves no room for a name")
    original = "" if text is None else str(text)
    cleaned = "".join("_" if c in _WINDOWS_INVALID or unicodedata.category(c) in ("Cc", "Cs") else c for c in original)
    cleaned = cleaned.strip(" .")
    if _is_windows_reserved(cleaned):
        cleaned = "_" + cleaned
    changed = not cleaned or cleaned != original or cleaned.lower() in {name.lower() for name in reserved}
    if len(cleaned.encode("utf-8")) > max_bytes:
        changed = True
    if not changed:
        return cleaned
    suffix = "-" + _name_hash(original)
    kept = _truncate_utf8(cleaned or PLACEHOLDER, max_bytes - len(suffix))
    return kept + suffix


def child_path(folder: str | Path, *parts: str) -> Path:
    """``folder/part/part...`` with each part made a safe name (:func:`safe_component`, up to
    :data:`MAX_NAME_BYTES`); raises :class:`UnsafePathError` if the result, symbolic links
    followed, is not inside ``folder``."""
    folder = Path(folder)
    path = folder.joinpath(*(safe_component(part, MAX_NAME_BYTES) for part in parts))
    if not path.resolve().is_relative_to(folder.resolve()):
        raise UnsafePathError(f"{path}: leads outside {folder}")
    return path


def describe_os_error(exc: OSError) -> str:
    """A short plain-language reason for a failed write."""
    reasons = {
        getattr(errno, "EDQUOT", errno.ENOSPC): "disk quota exceeded",
        errno.ENOSPC: "disk full",
        errno.EROFS: "read-only file system",
        errno.EACCES: "permission denied",
        errno.EPERM: "permission denied",
        errno.ENAMETOOLONG: "file name too long",
        errno.EFBIG: "file too large",
    }
    detail = exc.strerror or str(exc) or type(exc).__name__
    reason = reasons.get(exc.errno) if exc.errno is not None else None
    if reason is None or reason.lower() == detail.lower():
        return detail
    return f"{reason}: {detail}"


class WriteFailedError(OSError):
    """A file could not be written; its path was left as it was. ``str()`` names the file."""

    def __init__(self, path: str | Path, cause: OSError) -> None:
        self.path = Path(path)
        self.reason = cause.reason if isinstance(cause, WriteFailedError) else describe_os_error(cause)
        super().__init__(cause.errno, self.reason, str(self.path))

    def __str__(self) -> str:
        return f"{self.path}: cannot write ({self.reason})"


def _remove(path: Path) -> None:
    with suppress(FileNotFoundError):
        path.unlink()


class StagedWrites:
    """Files written under temporary names, renamed over their targets by :meth:`commit`."""

    def __init__(self, sync: bool = True) -> None:
        self.sync = sync
        self._staged: dict[Path, Path] = {}
        self._created_folders: list[Path] = []

    def mkdir(self, folder: Path) -> None:
        """Create ``folder`` and missing parents; :meth:`discard` removes those it created if empty."""
        missing = []
        for candidate in (folder, *folder.parents):
            if candidate.is_dir():
                break
            missing.append(candidate)
        for candidate in reversed(missing):
            try:
                candidate.mkdir()
            except FileExistsError:
                if not candidate.is_dir():
                    raise
                continue
            self._created_folders.append(candidate)

    def stage(self, target: Path) -> Path:
        """A new empty temporary file next to ``target`` (same suffix, so audio writers see the
        format) that :meth:`commit` renames to ``target``."""
        if target in self._staged:
            self.drop(target)
        self.mkdir(target.parent)
        suffix = target.suffix if len(target.suffix) <= 16 else ""
        prefix = _truncate_utf8(target.name, 64)
        while True:
            temp = target.with_name(f".{prefix}.{secrets.token_hex(4)}{_TEMP_MARK}{suffix}")
            try:
                os.close(os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
            except FileExistsError:
                continue
            break
        self._staged[target] = temp
        return temp

    def drop(self, target: Path) -> None:
        """Forget ``target`` and delete its temporary file."""
        temp = self._staged.pop(target, None)
        if temp is not None:
            _remove(temp)

    def discard(self) -> None:
        """Delete every temporary file and the folders this batch created that are now empty."""
        for target in list(self._staged):
            self.drop(target)
        for folder in reversed(self._created_folders):
            with suppress(OSError):
                folder.rmdir()
        self._created_folders.clear()

    def commit(self) -> None:
        """Rename every temporary file over its target. If one fails, the targets this batch
        created are removed again and the error names the file (the rest is discarded)."""
        if self.sync:
            for target, temp in self._staged.items():
                try:
                    descriptor = os.open(temp, os.O_RDONLY)
                    try:
                        os.fsync(descriptor)
                    finally:
                        os.close(descriptor)
                except OSError as exc:
                    self.discard()
                    raise WriteFailedError(target, exc) from exc
        created: list[Path] = []
        while self._staged:
            target, temp = next(iter(self._staged.items()))
            try:
                existed = target.exists()
                if existed:
                    os.chmod(temp, stat.S_IMODE(target.stat().st_mode))
                os.replace(temp, target)
            except OSError as exc:
                for path in created:
                    _remove(path)
                self.discard()
                raise WriteFailedError(target, exc) from exc
            del self._staged[target]
            if not existed:
                created.append(target)
        self._created_folders.clear()


_batch: contextvars.ContextVar[StagedWrites | None] = contextvars.ContextVar("birdview_staged_writes", default=None)


@contextmanager
def staged_writes(sync: bool = True) -> Iterator[StagedWrites]:
    """Every :func:`atomic_write` inside the block (same thread) is renamed into place only when
    the block ends without an exception; otherwise nothing it wrote is left. Nested blocks join
    the outermost one. ``sync``: flush files to disk before renaming (off for scratch data)."""
    outer = _batch.get()
    if outer is not None:
        yield outer
        return
    batch = StagedWrites(sync)
    token = _batch.set(batch)
    try:
        yield batch
    except BaseException:
        batch.discard()
        raise
    finally:
        _batch.reset(token)
    batch.commit()


@contextmanager
def atomic_write(path: str | Path) -> Iterator[Path]:
    """A temporary path next to ``path`` to write the file to; renamed over ``path`` when the
    block succeeds (at the end of an enclosing :func:`staged_writes`, if any), deleted when it
    fails. An :class:`OSError` becomes a :class:`WriteFailedError` naming ``path``."""
    path = Path(path)
    with staged_writes() as batch:
        try:
            temp = batch.stage(path)
        except OSError as exc:
            raise WriteFailedError(path, exc) from exc
        try:
            yield temp
        except OSError as exc:
            batch.drop(path)
            if isinstance(exc, WriteFailedError):
                raise
            raise WriteFailedError(path, exc) from exc
        except BaseException:
            batch.drop(path)
            raise


def unique_name(folder: Path, name: str, used: set[str], suffix: str | None = None) -> str:
    """``name``, or ``name`` with ``_2``, ``_3``... before ``suffix`` (default: its extension)
    when ``used`` already holds it in ``folder`` (compared without case, as on macOS and
    Windows); records the result in ``used``."""
    if suffix is None or not name.endswith(suffix):
        suffix = Path(name).suffix
    stem = name[: len(name) - len(suffix)]
    candidate, number = name, 1
    while str(folder / candidate).casefold() in used:
        number += 1
        candidate = f"{stem}_{number}{suffix}"
    used.add(str(folder / candidate).casefold())
    return candidate
