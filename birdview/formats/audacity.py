"""Audacity label tracks: ``start<TAB>end<TAB>label`` with optional ``\\<TAB>low<TAB>high`` lines."""

from __future__ import annotations

from pathlib import Path

from birdview.formats.labels import LabelFileError, TableLabel, check_times, decode_name, encode_name, number


def read(path: Path) -> list[TableLabel]:
    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8-sig").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise LabelFileError(f"{path}: cannot read ({exc})") from None
    labels: list[TableLabel] = []
    for line_number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        fields = line.split("\t")
        where = f"{path}:{line_number}"
        if fields[0].strip() == "\\":
            if not labels or len(fields) < 3:
                raise LabelFileError(f"{where}: a frequency line must follow a label and hold low and high")
            labels[-1].low_hz = number(fields[1], "low frequency", where)
            labels[-1].high_hz = number(fields[2], "high frequency", where)
            continue
        if len(fields) < 2:
            raise LabelFileError(f"{where}: expected start<TAB>end<TAB>label")
        start, end = number(fields[0], "start", where), number(fields[1], "end", where)
        check_times(start, end, where)
        text = fields[2].strip() if len(fields) > 2 else ""
        name, kind = decode_name(text)
        labels.append(TableLabel(start, end, None, None, [name] if name else [], kind, line=line_number, source=path))
    return labels


def write(path: Path, rows: list[dict]) -> Path:
    """rows: start_s, end_s, low_hz, high_hz, species, kind."""
    with open(path, "w", encoding="utf-8", newline="\n") as handle:
        for row in rows:
            handle.write(f"{row['start_s']:.6f}\t{row['end_s']:.6f}\t{encode_name(row['species'], row['kind'])}\n")
            if row["low_hz"] is not None and row["high_hz"] is not None:
                handle.write(f"\\\t{row['low_hz']:.6f}\t{row['high_hz']:.6f}\n")
    return path
