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
#: Windows per stored block at most: an hour of 5 s windows. Scores stored a few windows at a time
#: are appended to the block before them up to this (queries read a block at a time).
BLOCK_WINDOWS = 720


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


def _sparse_parts(blob: bytes) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(rows, columns, float16 values) of a sparse block's entries."""
    count = int(np.frombuffer(blob[:4], dtype=np.uint32)[0])
    rows = np.frombuffer(blob, dtype=np.uint16, count=count, offset=4)
    cols = np.frombuffer(blob, dtype=np.uint16, count=count, offset=4 + 2 * count)
    values = np.frombuffer(blob, dtype=np.float16, count=count, offset=4 + 4 * count)
    return rows, cols, values


def decode(
    encoding: str,
    blob: bytes,
    windows: int,
    classes: int,
    columns: Sequence[int] | None = None,
    lo: int = 0,
    hi: int | None = None,
) -> np.ndarray:
    """The block as float32 (windows, classes), or only ``columns`` of it, in their order; only its
    windows ``lo`` to ``hi`` (exclusive) where given."""
    hi = windows if hi is None else max(lo, min(hi, windows))
    if encoding == DENSE:
        block = np.frombuffer(blob, dtype=np.float16).reshape(windows, classes)[lo:hi]
        chosen = block if columns is None else block[:, list(columns)]
        return chosen.astype(np.float32)
    rows, cols, values = _sparse_parts(blob)
    if lo > 0 or hi < windows:
        inside = (rows >= lo) & (rows < hi)
        rows, cols, values = rows[inside] - lo, cols[inside], values[inside]
    if columns is None:
        out = np.zeros((hi - lo, classes), dtype=np.float32)
        out[rows, cols] = values
        return out
    out = np.zeros((hi - lo, len(columns)), dtype=np.float32)
    if len(columns) == 1:
        keep = cols == columns[0]
        out[rows[keep], 0] = values[keep]
        return out
    where = np.full(classes, -1, dtype=np.int64)
    where[np.asarray(columns, dtype=np.int64)] = np.arange(len(columns))
    target = where[cols]
    keep = target >= 0
    out[rows[keep], target[keep]] = values[keep]
    return out


def hits(
    encoding: str, blob: bytes, windows: int, target: np.ndarray, lowest: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """(row, counted class) of a block's scores at or above each counted class's ``lowest``:
    ``target`` maps each model column to a counted class (-1: not counted). Sparse blocks are
    read as their entries, never made dense (6,522 BirdNET classes cost only the kept scores);
    below :data:`SPARSE_FLOOR` their left-out zeros count too, so they are expanded."""
    rows, code, _ = entries(encoding, blob, windows, target, lowest)
    return rows, code


def entries(
    encoding: str, blob: bytes, windows: int, target: np.ndarray, lowest: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:func:`hits` with the scores (float32): (row, counted class, score), by row, then column."""
    wanted = np.flatnonzero(target >= 0)
    if encoding == SPARSE and lowest.min() >= SPARSE_FLOOR:
        rows, cols, values = _sparse_parts(blob)
        code = target[cols]
        keep = code >= 0
        keep[keep] = values[keep].astype(np.float32) >= lowest[code[keep]]
        return rows[keep].astype(np.int64), code[keep], values[keep].astype(np.float32)
    every = len(wanted) == len(target)
    block = decode(encoding, blob, windows, len(target), None if every else wanted)
    rows, cols = np.nonzero(block >= lowest[target[wanted]])
    return rows.astype(np.int64), target[wanted[cols]], block[rows, cols]


def entries_run(
    blocks: Sequence[tuple[int, str, bytes, int]], target: np.ndarray, lowest: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """:func:`entries` of many blocks (first window, encoding, bytes, windows) at once: (block's
    index in ``blocks``, window, counted class, score), in the blocks' order, then by window and
    counted class. The sparse blocks are read together as one buffer: a season's thousands of
    blocks cost a few array operations."""
    parts: list[tuple[np.ndarray, ...]] = []
    joined = lowest.min() >= SPARSE_FLOOR
    sparse = [k for k, (_, encoding, _, _) in enumerate(blocks) if joined and encoding == SPARSE]
    if sparse:
        parts.append(_sparse_run([blocks[k] for k in sparse], np.array(sparse, dtype=np.int64), target, lowest))
    for k, (first, encoding, blob, windows) in enumerate(blocks):
        if not (joined and encoding == SPARSE):
            rows, code, scores = entries(encoding, blob, windows, target, lowest)
            parts.append((np.full(len(rows), k, dtype=np.int64), first + rows, code, scores))
    if not parts:
        return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.float32)
    block, window, code, scores = (np.concatenate(p) for p in zip(*parts, strict=True))
    if len(parts) > 1 or np.count_nonzero(target >= 0) > 1:
        order = np.lexsort((code, window, block))
        block, window, code, scores = block[order], window[order], code[order], scores[order]
    return block, window, code, scores


def _sparse_run(
    blocks: Sequence[tuple[int, str, bytes, int]], index: np.ndarray, target: np.ndarray, lowest: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """:func:`entries_run` of sparse blocks (``index``: their places in the run), for scores at or
    above the floor. Each block is [count uint32][rows uint16 x count][columns][float16 scores]:
    the blocks joined are one uint16 array in which the scores that can reach ``lowest`` are found
    at once (a non-negative float16's bits grow with it); each one's column and row lie ``count``
    and twice that places before it."""
    counts = np.array([(len(blob) - 4) // _ENTRY_BYTES for _, _, blob, _ in blocks], dtype=np.int64)
    first_score = np.cumsum(np.r_[0, 2 + 3 * counts[:-1]]) + 2 + 2 * counts
    values = np.frombuffer(b"".join(blob for _, _, blob, _ in blocks), dtype=np.uint16)
    found = np.flatnonzero(values >= _lowest_bits(float(lowest.min())))
    block = np.searchsorted(first_score, found, side="right") - 1
    inside = block >= 0
    inside[inside] = found[inside] < first_score[block[inside]] + counts[block[inside]]
    found, block = found[inside], block[inside]
    count = counts[block]
    code = target[values[found - count]]
    counted = code >= 0
    found, block, count, code = found[counted], block[counted], count[counted], code[counted]
    scores = values[found].view(np.float16).astype(np.float32)
    keep = scores >= lowest[code]
    found, block, count = found[keep], block[keep], count[keep]
    firsts = np.array([first for first, _, _, _ in blocks], dtype=np.int64)
    return index[block], firsts[block] + values[found - 2 * count], code[keep], scores[keep]


def _lowest_bits(score: float) -> int:
    """The bits of the lowest float16 that is at least ``score`` (as float32): every non-negative
    float16 at or above it has at least these bits."""
    nearest = np.array([max(score, 0.0)], dtype=np.float32).astype(np.float16)
    bits = int(nearest.view(np.uint16)[0])
    return bits + 1 if nearest.astype(np.float32)[0] < np.float32(score) else bits


def decode_run(blocks: Sequence[tuple[str, bytes, int]], classes: int, columns: Sequence[int]) -> np.ndarray:
    """``columns`` of consecutive blocks (encoding, bytes, windows) as one float32 array, the
    blocks' windows one after another: what :func:`decode` gives for each, concatenated."""
    total = sum(windows for _, _, windows in blocks)
    out = np.zeros((total, len(columns)), dtype=np.float32)
    parts, offsets, counts = [], [], []
    position = 0
    for encoding, blob, windows in blocks:
        if encoding == DENSE:
            out[position : position + windows] = decode(encoding, blob, windows, classes, columns)
        else:
            parts.append(_sparse_parts(blob))
            offsets.append(position)
            counts.append(len(parts[-1][0]))
        position += windows
    if not parts:
        return out
    cols = np.concatenate([c for _, c, _ in parts])
    if len(columns) == 1:
        keep = np.flatnonzero(cols == columns[0])
        target = np.zeros(len(keep), dtype=np.int64)
    else:
        where = np.full(classes, -1, dtype=np.int64)
        where[np.asarray(columns, dtype=np.int64)] = np.arange(len(columns))
        target = where[cols]
        keep = np.flatnonzero(target >= 0)
        target = target[keep]
    rows = np.concatenate([r for r, _, _ in parts])[keep].astype(np.int64)
    rows += np.repeat(np.asarray(offsets, dtype=np.int64), counts)[keep]
    out[rows, target] = np.concatenate([v for _, _, v in parts])[keep]
    return out


def append(encoding: str, blob: bytes, windows: int, classes: int, scores: np.ndarray) -> tuple[str, bytes] | None:
    """A stored block with the scores of the windows that follow it appended, as (encoding, bytes);
    None where the two cannot be one block without changing what either reads back (a dense block
    keeps its scores below the floor; a sparse one has none)."""
    added, extra = encode(np.asarray(scores, dtype=np.float16))
    if added != encoding or windows + len(scores) > 65535:
        return None
    return encoding, join(encoding, blob, windows, extra)


def join(encoding: str, blob: bytes, windows: int, following: bytes) -> bytes:
    """Two stored blocks of one encoding, the second's windows after the first's ``windows``, as
    one block of that encoding. Two sparse blocks, each smaller than dense, make a sparse block
    smaller than dense; nothing is dropped or added."""
    if encoding == DENSE:
        return blob + following
    rows, cols, values = _sparse_parts(blob)
    more_rows, more_cols, more_values = _sparse_parts(following)
    header = np.array([len(rows) + len(more_rows)], dtype=np.uint32).tobytes()
    merged_rows = np.concatenate([rows, more_rows.astype(np.int64) + windows]).astype(np.uint16)
    return (
        header + merged_rows.tobytes() + cols.tobytes() + more_cols.tobytes() + values.tobytes() + more_values.tobytes()
    )


# -- each block's maxima: which blocks can hold a score at or above a threshold ---------------------

#: One entry of a block's maxima: a class and its highest score in the block.
MAXIMUM = np.dtype([("column", "<u2"), ("score", "<f2")])


def block_maxima(scores: np.ndarray) -> bytes | None:
    """Each class's highest score in a block, for the classes reaching ``SPARSE_FLOOR``, as
    (column uint16, score float16) entries; None for models with more than 65,536 classes."""
    scores = np.asarray(scores, dtype=np.float16)
    if scores.shape[1] > 65536:
        return None
    peaks = np.fmax.reduce(scores, axis=0) if len(scores) else np.zeros(scores.shape[1], dtype=np.float16)
    return _entries(peaks)


def _entries(peaks: np.ndarray) -> bytes:
    columns = np.flatnonzero(peaks >= SPARSE_FLOOR)
    entries = np.empty(len(columns), dtype=MAXIMUM)
    entries["column"], entries["score"] = columns, peaks[columns]
    return entries.tobytes()


def stored_maxima(encoding: str, blob: bytes, windows: int, classes: int) -> bytes | None:
    """:func:`block_maxima` of a stored block, read from its bytes (for blocks stored without them)."""
    if classes > 65536:
        return None
    if encoding == DENSE:
        return block_maxima(np.frombuffer(blob, dtype=np.float16).reshape(windows, classes))
    _, cols, values = _sparse_parts(blob)
    peaks = np.zeros(classes, dtype=np.float16)
    np.fmax.at(peaks, cols, values)
    return _entries(peaks)


def merge_maxima(first: bytes | None, second: bytes | None) -> bytes | None:
    """The maxima of two blocks made one."""
    if first is None or second is None:
        return None
    entries = np.concatenate([np.frombuffer(first, dtype=MAXIMUM), np.frombuffer(second, dtype=MAXIMUM)])
    if not len(entries):
        return b""
    entries = entries[np.argsort(entries["column"], kind="stable")]
    starts = np.flatnonzero(np.r_[True, entries["column"][1:] != entries["column"][:-1]])
    merged = np.empty(len(starts), dtype=MAXIMUM)
    merged["column"] = entries["column"][starts]
    merged["score"] = np.fmax.reduceat(entries["score"], starts)
    return merged.tobytes()


# -- each block's peaks: its scores from PEAK_FLOOR up, read instead of the block -------------------

#: A block's scores of at least this are also kept beside it, as a sparse block of the same windows
#: (its peaks, a few per cent of it): a query for scores at or above this reads them instead.
PEAK_FLOOR = 0.25


def block_peaks(scores: np.ndarray) -> bytes | None:
    """A block's scores of at least :data:`PEAK_FLOOR`, in the sparse encoding; None for blocks a
    sparse encoding cannot hold (more than 65,535 windows or classes)."""
    scores = np.asarray(scores, dtype=np.float16)
    if scores.shape[0] > 65535 or scores.shape[1] > 65535:
        return None
    rows, columns = np.nonzero(scores.astype(np.float32) >= np.float32(PEAK_FLOOR))
    return _sparse_bytes(rows, columns, scores[rows, columns])


def stored_peaks(encoding: str, blob: bytes, windows: int, classes: int) -> bytes | None:
    """:func:`block_peaks` of a stored block, read from its bytes."""
    if encoding == DENSE:
        return block_peaks(np.frombuffer(blob, dtype=np.float16).reshape(windows, classes))
    rows, columns, values = _sparse_parts(blob)
    keep = values.astype(np.float32) >= np.float32(PEAK_FLOOR)
    return _sparse_bytes(rows[keep], columns[keep], values[keep])


def _sparse_bytes(rows: np.ndarray, columns: np.ndarray, values: np.ndarray) -> bytes:
    header = np.array([len(rows)], dtype=np.uint32).tobytes()
    return header + rows.astype(np.uint16).tobytes() + columns.astype(np.uint16).tobytes() + values.tobytes()


def reaching(maxima: Sequence[bytes | None], columns: Sequence[int] | None, min_score: float) -> np.ndarray:
    """For blocks with these maxima (None: not known), whether one of ``columns`` (None: any class)
    may score at least ``min_score`` in them. Below ``SPARSE_FLOOR`` every block may."""
    reach = np.ones(len(maxima), dtype=bool)
    if min_score < SPARSE_FLOOR or not len(maxima):
        return reach
    known = np.array([m is not None for m in maxima], dtype=bool)
    counts = np.array([len(m) // MAXIMUM.itemsize for m in maxima if m is not None], dtype=np.int64)
    entries = np.frombuffer(b"".join(m for m in maxima if m is not None), dtype=MAXIMUM)
    high = entries["score"].astype(np.float32) >= min_score
    if columns is not None:
        wanted = np.zeros(65536, dtype=bool)
        wanted[np.asarray(list(columns), dtype=np.int64)] = True
        high &= wanted[entries["column"]]
    hits = np.zeros(len(counts), dtype=bool)
    hits[np.repeat(np.arange(len(counts)), counts)[high]] = True
    reach[known] = hits
    return reach
