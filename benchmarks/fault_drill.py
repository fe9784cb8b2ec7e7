"""kill -9 during imports and label edits, again and again: is every committed label still there,
exactly once, and is the project whole?

    python benchmarks/fault_drill.py [--rounds 40] [--seed 0]

Each round starts a worker process on one project and kills it (SIGKILL) after a random delay:
either `birdview import` of a 3 000-row Raven table (some tables imported again after an earlier
import was killed or finished), or a script that adds, edits and deletes labels and prints
a line before and after each committed edit. After each kill the project must open (quick_check,
no lost edits), pass PRAGMA integrity_check, hold each table's labels either all once or not at
all, and hold every edit the worker reported done (only the one it had begun may be either way).
Prints one line per round, then tried / held.
"""

from __future__ import annotations

import argparse
import random
import signal
import sqlite3
import subprocess
import sys
import tempfile
import textwrap
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from birdview.store.project import DATABASE, Project  # noqa: E402
from tests.conftest import write_tone_file  # noqa: E402

TABLES = 6
ROWS_PER_TABLE = 3000
DURATION_S = 600.0
RECORDING = "site_20240521_053000.wav"

EDIT_SCRIPT = textwrap.dedent(
    """
    import random, sys
    from birdview.store.project import Annotation, Project
    project = Project.open(sys.argv[1])
    rng = random.Random(int(sys.argv[2]))
    recording = project.recordings()[0]
    mine = [a.id for a in project.annotations(species="editme")]
    version = 0
    for step in range(100000):
        choice = rng.random()
        if choice < 0.5 or not mine:
            start = rng.uniform(0, 590)
            print("begin add", flush=True)
            label = project.add_annotation(Annotation(recording.id, start, start + 1.0, species="editme"))
            mine.append(label.id)
            print(f"done add {label.id}", flush=True)
        elif choice < 0.8:
            version += 1
            target = rng.choice(mine)
            print(f"begin note {target} {version}", flush=True)
            project.update_annotation(target, note=f"v{version}")
            print(f"done note {target} {version}", flush=True)
        else:
            target = mine.pop(rng.randrange(len(mine)))
            print(f"begin delete {target}", flush=True)
            project.delete_annotations([target])
            print(f"done delete {target}", flush=True)
    """
)


@dataclass
class Drill:
    tried: int = 0
    held: int = 0
    killed_midway: int = 0
    failures: list[str] = field(default_factory=list)


def _write_table(path: Path, species: str, rng: random.Random) -> None:
    lines = ["Selection\tView\tChannel\tBegin Time (s)\tEnd Time (s)\tLow Freq (Hz)\tHigh Freq (Hz)\tSpecies"]
    for i in range(ROWS_PER_TABLE):
        start = rng.uniform(0, DURATION_S - 2)
        high = rng.uniform(2e3, 9e3)
        lines.append(f"{i + 1}\tSpectrogram 1\t1\t{start:.4f}\t{start + 1.5:.4f}\t1000.0\t{high:.1f}\t{species}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def prepare(folder: Path, seed: int) -> tuple[Path, list[Path], Path]:
    rng = random.Random(seed)
    audio = write_tone_file(folder / RECORDING, duration_s=DURATION_S, noise=0.0)
    tables = []
    for t in range(TABLES):
        table = folder / f"table{t}.txt"
        _write_table(table, f"sp{t}", rng)
        tables.append(table)
    project = folder / "project"
    with Project.create(project, species=[f"sp{t}" for t in range(TABLES)] + ["editme"]) as opened:
        opened.add_recordings([audio])
    script = folder / "edit.py"
    script.write_text(EDIT_SCRIPT, encoding="utf-8")
    return project, tables, script


def _check_whole(project: Path) -> list[str]:
    problems = []
    connection = sqlite3.connect(str(project / DATABASE))
    found = [row[0] for row in connection.execute("PRAGMA integrity_check")]
    connection.close()
    if found != ["ok"]:
        problems.append(f"integrity_check: {found[:3]}")
    try:
        Project.open(project).close()
    except Exception as exc:  # the drill reports whatever goes wrong
        problems.append(f"does not open: {exc}")
    return problems


def _import_round(project: Path, table: Path, species: str, delay: float) -> tuple[bool, list[str]]:
    command = ["import", "--project", str(project), "--format", "raven", "--recording", RECORDING, str(table)]
    process = subprocess.Popen(
        [sys.executable, "-m", "birdview.cli", *command],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    time.sleep(delay)
    midway = process.poll() is None
    process.send_signal(signal.SIGKILL)
    process.wait()
    problems = _check_whole(project)
    with Project.open(project) as opened:
        count = len(opened.annotations(species=species))
    if count not in (0, ROWS_PER_TABLE):
        problems.append(f"{table.name}: {count} labels, expected 0 or {ROWS_PER_TABLE}")
    if not midway and process.returncode != 0 and count != ROWS_PER_TABLE:
        problems.append(f"{table.name}: import finished with code {process.returncode}: {process.stderr.read()}")
    return midway, problems


def _edit_round(project: Path, script: Path, seed: int, delay: float) -> tuple[bool, list[str]]:
    process = subprocess.Popen(
        [sys.executable, str(script), str(project), str(seed)], cwd=ROOT, stdout=subprocess.PIPE, text=True
    )
    time.sleep(delay)
    process.send_signal(signal.SIGKILL)
    process.wait()
    lines = process.stdout.read().splitlines()
    problems = _check_whole(project)
    done = [line.split()[1:] for line in lines if line.startswith("done ")]
    in_flight = lines[-1].split()[1:] if lines and lines[-1].startswith("begin ") else None
    with Project.open(project) as opened:
        labels = {a.id: a for a in opened.annotations(species="editme")}
    # Replay what was reported done: each added label present unless deleted later, each deleted
    # one absent, each note at least as new as the last reported (the edit begun may be either way).
    expected_present: set[int] = set()
    deleted: set[int] = set()
    notes: dict[int, int] = {}
    for entry in done:
        if entry[0] == "add":  # SQLite may hand a deleted label's id to the next new one
            expected_present.add(int(entry[1]))
            deleted.discard(int(entry[1]))
        elif entry[0] == "delete":
            expected_present.discard(int(entry[1]))
            deleted.add(int(entry[1]))
        elif entry[0] == "note":
            notes[int(entry[1])] = int(entry[2])
    in_flight_delete = int(in_flight[1]) if in_flight and in_flight[0] == "delete" else None
    missing = [i for i in expected_present if i not in labels and i != in_flight_delete]
    back = [i for i in deleted if i in labels]
    stale = [i for i, version in notes.items() if i in labels and int((labels[i].note or "v0")[1:]) < version]
    if missing:
        problems.append(f"{len(missing)} reported label(s) missing, e.g. {missing[:3]}")
    if back:
        problems.append(f"{len(back)} deleted label(s) back, e.g. {back[:3]}")
    if stale:
        problems.append(f"{len(stale)} edit(s) lost, e.g. {stale[:3]}")
    return bool(lines), problems


def run_drill(rounds: int, seed: int = 0, folder: Path | None = None, verbose: bool = True) -> Drill:
    rng = random.Random(seed)
    work = Path(folder or tempfile.mkdtemp(prefix="fault-drill-"))
    project, tables, script = prepare(work, seed)
    drill = Drill()
    for round_ in range(rounds):
        delay = rng.uniform(0.3, 2.5)
        if round_ % 2 == 0:
            t = rng.randrange(TABLES)
            midway, problems = _import_round(project, tables[t], f"sp{t}", delay)
            what = f"import {tables[t].name}"
        else:
            midway, problems = _edit_round(project, script, rng.randrange(1 << 30), delay)
            what = "edits"
        drill.tried += 1
        drill.killed_midway += midway
        if problems:
            drill.failures.append(f"round {round_ + 1} ({what}, kill after {delay:.2f} s): {'; '.join(problems)}")
        else:
            drill.held += 1
        if verbose:
            print(f"round {round_ + 1:3d}: {what:<20} kill after {delay:.2f} s: {'; '.join(problems) or 'held'}")
    return drill


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=40)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    drill = run_drill(args.rounds, args.seed)
    print(f"tried {drill.tried}, held {drill.held} ({drill.killed_midway} killed while working)")
    for failure in drill.failures:
        print(f"FAILED {failure}")
    return 0 if drill.held == drill.tried else 1


if __name__ == "__main__":
    sys.exit(main())
