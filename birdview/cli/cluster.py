"""``birdview`` subcommands — work done elsewhere: ``import-predictions`` merges the predictions files
of ``birdview-train predict --shard i/n --out part.npz`` (a SLURM job array) into a project.
(Scoring on a Ray cluster is ``birdview score --cluster``.)"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from birdview.cli.common import open_project, warn


def _import_predictions(argv: list[str]) -> int:
    from birdview.jobs.shards import import_predictions

    parser = argparse.ArgumentParser(
        prog="birdview import-predictions",
        description="Merge predictions files (birdview-train predict --model M --out part.npz [--shard i/n]) "
        "into a project's model version. The files must be of that model (file hash, classes, window) and of "
        "the project's recordings (by path or content); otherwise nothing is imported and every problem is named.",
    )
    parser.add_argument("--project", type=Path, required=True)
    parser.add_argument("--model", type=int, required=True, metavar="VERSION", help="the project's model version")
    parser.add_argument("files", nargs="+", type=Path, metavar="FILE.npz")
    args = parser.parse_args(argv)

    def report(name: str, windows: int, total: int) -> None:
        print(f"{name}: {windows} window(s)", file=sys.stderr)

    with open_project(args.project) as project:
        result = import_predictions(project, args.model, args.files, on_recording=report)
    warn("import-predictions", [f"skipped by predict, still unscored: {line}" for line in result.skipped])
    already = f"; {result.already_scored} recording(s) were scored already" if result.already_scored else ""
    print(f"{result.windows} window(s) of {result.recordings} recording(s) imported{already}")
    return 0


COMMANDS = {"import-predictions": _import_predictions}
