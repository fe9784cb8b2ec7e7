"""Importing a 100 000-row Raven selection table into a project.

    python benchmarks/import_benchmark.py [--rows 100000] [--recordings 4] [--profile]

Writes a few generated 16 kHz recordings of 5 minutes and one Raven table whose rows name their
recording by file name (``Begin File``, as BirdNET-Analyzer's combined tables do), with a species
code, a box and a confidence each; then measures, in this process: reading the table with the
Raven reader; importing it into a project that has none of its labels; importing it again (every
row already in the project); importing it with ``clip_to_recording``. Baseline in the same run:
a plain ``csv.reader`` pass over the same file that converts the five numbers of each row. With
``--profile`` the first import runs under cProfile and the 25 costliest functions are printed.
"""

from __future__ import annotations

import argparse
import cProfile
import csv
import inspect
import pstats
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from birdview.formats import raven
from birdview.formats.transfer import import_files
from birdview.store.project import Project
from tests.conftest import write_tone_file
from trainer.classes import load_species

SAMPLE_RATE = 16_000


def make_recordings(folder: Path, count: int, duration_s: float) -> list[Path]:
    folder.mkdir(parents=True)
    return [
        write_tone_file(folder / f"R{i:02d}_20240521_{i:02d}0000.wav", duration_s, sample_rate=SAMPLE_RATE, seed=i)
        for i in range(count)
    ]


def raven_table(path: Path, rows: int, recordings: list[Path], duration_s: float, species: list[str]) -> Path:
    """Rows spread over the recordings; every row a different label (start, species and box)."""
    header = "Selection\tView\tChannel\tBegin Time (s)\tEnd Time (s)\tLow Freq (Hz)\tHigh Freq (Hz)\tSpecies\t"
    lines = [header + "Confidence\tBegin File"]
    slots = int((duration_s - 3) / 0.25)
    for i in range(rows):
        start = (i % slots) * 0.25
        turn = i // slots
        low = 500 + (turn % 7) * 250
        lines.append(
            f"{i + 1}\tSpectrogram 1\t1\t{start:.3f}\t{start + 1.5:.3f}\t{low}\t{low + 3000}\t"
            f"{species[turn % len(species)]}\t{(i % 997) / 997:.4f}\t{recordings[i % len(recordings)].name}"
        )
    path.write_text("\n".join(lines) + "\n")
    return path


def plain_parse(path: Path) -> int:
    """The baseline: what any reader of the table has to do at least."""
    with open(path, newline="", encoding="utf-8") as handle:
        reader = csv.reader(handle, delimiter="\t")
        next(reader)
        count = 0
        for row in reader:
            float(row[3]), float(row[4]), float(row[5]), float(row[6]), float(row[8])
            count += 1
    return count


def timed(function, *args, **kwargs):
    start = time.perf_counter()
    result = function(*args, **kwargs)
    return time.perf_counter() - start, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--recordings", type=int, default=4)
    parser.add_argument("--duration", type=float, default=300.0, help="seconds per recording")
    parser.add_argument("--profile", action="store_true", help="run the first import under cProfile")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="birdview-import-"))
    species = load_species()
    recordings = make_recordings(folder / "audio", args.recordings, args.duration)
    table = raven_table(folder / "big.Table.1.selections.txt", args.rows, recordings, args.duration, species)
    size_mb = table.stat().st_size / 1e6
    print(f"{args.rows} rows ({size_mb:.1f} MB) over {args.recordings} recordings of {args.duration:.0f} s")

    baseline, parsed = timed(plain_parse, table)
    assert parsed == args.rows
    read_s, labels = timed(raven.read, table)
    assert len(labels) == args.rows

    project = Project.create(folder / "project", species=species)
    project.add_recordings(recordings)
    if args.profile:
        profiler = cProfile.Profile()
        profiler.enable()
    first_s, first = timed(import_files, project, "raven", [table])
    if args.profile:
        profiler.disable()
    assert first.added == args.rows, first
    again_s, again = timed(import_files, project, "raven", [table])
    assert again.added == 0 and again.duplicates == args.rows, again
    clip_s = None
    if "clip_to_recording" in inspect.signature(import_files).parameters:
        with Project.create(folder / "project2", species=species) as other:
            other.add_recordings(recordings)
            clip_s, clipped = timed(import_files, other, "raven", [table], clip_to_recording=True)
            assert clipped.added == args.rows
    assert project.count_annotations() == args.rows
    project.close()

    print("\n| measurement | seconds | × baseline | target |")
    print("|---|---|---|---|")
    print(f"| plain csv parse of the table (baseline) | {baseline:.2f} | 1.0× | |")
    print(f"| Raven reader alone | {read_s:.2f} | {read_s / baseline:.1f}× | |")
    print(f"| import, none in the project | {first_s:.2f} | {first_s / baseline:.1f}× | < 5 s |")
    print(f"| import again, all already in the project | {again_s:.2f} | {again_s / baseline:.1f}× | < 5 s |")
    if clip_s is not None:
        print(f"| import with clip_to_recording | {clip_s:.2f} | {clip_s / baseline:.1f}× | < 5 s |")
    if args.profile:
        print()
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(25)


if __name__ == "__main__":
    main()
