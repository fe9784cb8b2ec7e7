"""How a block of scored windows is kept: dense float16, or sparse for models with thousands of classes.

A BirdNET window has 6,522 scores and nearly all of them are close to 0: kept dense, a season of
recordings would need hundreds of GB. A block is stored sparse (the scores of at least
``SPARSE_FLOOR``, with their window and class) whenever that is smaller than dense; scores below the
floor then read back as 0. A birdview-train model's 182 classes usually stay dense and exact.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

DENSE, SPARSE = "dense", "sparse"
#: Scores below this are not kept in sparse blocks (they read back as 0).
SPARSE_FLOOR = 0.01
_ENTRY_BYTES = 6  # window (uint16), class (uint16), score (float16)


def encode(scores: np.ndarray) -> tuple[str, bytes]:
    """(encoding, bytes) of a (windows, classes) block, whichever of dense or sparse is smaller."""
    scores = np.asarray(scores, dtype=np.float16)
    windows, classes = scores.shape
    rows, columns = np.nonzero(scores >= SPARSE_FLOOR)
    if len(rows) * _ENTRY_BYTES + 4 >= scores.nbytes or windows > 65535 or classes > 65535:
        return DENSE, scores.tobytes()
    header = np.array([len(rows)], dtype=np.uint32).tobytes()
    body = rows.astype(np.uint16).tobytes() + columns.astype(np.uint16).tobytes()
    return SPARSE, header + body + scores[rows, columns].tobytes()


def decode(encoding: str, blob: bytes, windows: int, classes: int, columns: Sequence[int] | None = None) -> np.ndarray:
    """The block as float32 (windows, classes), or only ``columns`` of it, in their order."""
    if encoding == DENSE:
        block = np.frombuffer(blob, dtype=np.float16).reshape(windows, classes)
        chosen = block if columns is None else block[:, list(columns)]
        return chosen.astype(np.float32)
    count = int(np.frombuffer(blob[:4], dtype=np.uint32)[0])
    rows = np.frombuffer(blob, dtype=np.uint16, count=count, offset=4)
    cols = np.frombuffer(blob, dtype=np.uint16, count=count, offset=4 + 2 * count)
    values = np.frombuffer(blob, dtype=np.float16, count=count, offset=4 + 4 * count).astype(np.float32)
    if columns is None:
        out = np.zeros((windows, classes), dtype=np.float32)
        out[rows, cols] = values
        return out
    where = np.full(classes, -1, dtype=np.int64)
    where[np.asarray(columns, dtype=np.int64)] = np.arange(len(columns))
    out = np.zeros((windows, len(columns)), dtype=np.float32)
    target = where[cols]
    keep = target >= 0
    out[rows[keep], target[keep]] = values[keep]
    return out
