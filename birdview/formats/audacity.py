"""Audacity label tracks: ``start<TAB>end<TAB>label`` with optional ``\\<TAB>low<TAB>high`` lines."""

from __future__ import annotations

from pathlib import Path

from birdview.formats.labels import (
    LabelFileError,
    TableLabel,
    check_band,
    check_times,
    decode_name,
    encode_name,
    gathered,
    number,
)
from birdview.store.paths import atomic_write

#: What Audacity writes for the undefined frequency of a label that has only one of the two.
UNDEFINED_FREQUENCY = -1.0


def read(path: Path, problems: list[str] | None = None) -> list[TableLabel]:
    """The track's labels; every malformed line is named (one refusal)."""
    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8-sig").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise LabelFileError(f"{path}: cannot read ({exc})") from None
    labels: list[TableLabel] = []
    found: list[str] = []
    label_failed = False  # the frequency line of a refused label line is not checked on its own
    for line_number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        fields = line.split("\t")
        where = f"{path}:{line_number}"
        try:
            if fields[0].strip() == "\\":
                if label_failed:
                    continue
                if not labels or len(fields) < 3:
                    raise LabelFileError(f"{where}: a frequency line must follow a label and hold low and high")
                low, high = number(fields[1], "low frequency", where), number(fields[2], "high frequency", where)
                low = None if low == UNDEFINED_FREQUENCY else low
                high = None if high == UNDEFINED_FREQUENCY else high
                check_band(low, high, where, ("low frequency", "high frequency"))
                labels[-1].low_hz, labels[-1].high_hz = low, high
                continue
            label_failed = True
            if len(fields) < 2:
                raise LabelFileError(f"{where}: expected start<TAB>end<TAB>label")
            start, end = number(fields[0], "start", where), number(fields[1], "end", where)
            check_times(start, end, where)
            text = fields[2].strip() if len(fields) > 2 else ""
            name, kind = decode_name(text)
            labels.append(
                TableLabel(start, end, None, None, [name] if name else [], kind, line=line_number, source=path)
            )
            label_failed = False
        except LabelFileError as exc:
            found += exc.problems
    return gathered(labels, found, problems)


def write(path: Path, rows: list[dict]) -> Path:
    """rows: start_s, end_s, low_hz, high_hz, species, kind. Written whole or not at all."""
    with atomic_write(path) as temp, open(temp, "w", encoding="utf-8", newline="\n") as handle:
        for row in rows:
            handle.write(f"{row['start_s']:.6f}\t{row['end_s']:.6f}\t{encode_name(row['species'], row['kind'])}\n")
            if row["low_hz"] is not None and row["high_hz"] is not None:
                handle.write(f"\\\t{row['low_hz']:.6f}\t{row['high_hz']:.6f}\n")
    return path
