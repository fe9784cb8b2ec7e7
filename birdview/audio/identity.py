"""A recording's identity by content, whatever its path: how the project recognises a moved file
and how the spectrogram caches key their files (no Qt)."""

from __future__ import annotations

import hashlib
from pathlib import Path

_HASH_BLOCK = 1 << 20


def content_hash(path: str | Path) -> str:
    """SHA-1 of the size, the first and the last MiB: enough to recognise a moved recording
    without reading gigabytes."""
    path = Path(path)
    size = path.stat().st_size
    digest = hashlib.sha1(str(size).encode())
    with open(path, "rb") as handle:
        digest.update(handle.read(_HASH_BLOCK))
        if size > _HASH_BLOCK:
            handle.seek(max(_HASH_BLOCK, size - _HASH_BLOCK))
            digest.update(handle.read(_HASH_BLOCK))
    return digest.hexdigest()
