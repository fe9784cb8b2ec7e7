"""File and folder names made from user text (species codes, recording names), kept inside their folder.

The trainer's own counterpart of the app's path rules (the trainer never imports birdview): a
name keeps letters, digits, ``-``, ``_`` and ``.``; anything else becomes ``_``, and a name that
had to change gets a short hash of the original so that two codes never share a file.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from pathlib import Path

_KEEP = re.compile(r"[^\w.\-]+")
_WINDOWS_RESERVED = {"CON", "PRN", "AUX", "NUL"} | {f"{d}{n}" for d in ("COM", "LPT") for n in "123456789"}
MAX_NAME_CHARS = 100


class UnsafeNameError(ValueError):
    """A path that would end up outside the folder it was built in."""


def safe_name(text: str) -> str:
    """``text`` as one file or folder name valid on Linux, macOS and Windows (never ``.``, ``..``,
    a path separator or a reserved device name)."""
    original = str(text)
    name = _KEEP.sub("_", unicodedata.normalize("NFC", original)).strip("._ ")[:MAX_NAME_CHARS]
    if name.split(".", 1)[0].upper() in _WINDOWS_RESERVED:
        name = f"_{name}"
    if name != original or not name:
        digest = hashlib.sha1(original.encode("utf-8", "surrogatepass")).hexdigest()[:8]
        name = f"{name}_{digest}" if name else f"unnamed_{digest}"
    return name


def child_path(root: str | Path, *names: str) -> Path:
    """``root / name / ...`` with every name made safe; refuses a result outside ``root``."""
    root = Path(root)
    path = root.joinpath(*(safe_name(name) for name in names))
    if not path.resolve().is_relative_to(root.resolve()):
        raise UnsafeNameError(f"{path}: would be outside {root}")
    return path
