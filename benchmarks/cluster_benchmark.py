"""``birdview score --cluster local`` (Ray Data, an actor per core) against plain ``birdview score``
on the same files, as a user runs them: wall time of each command, Ray's start included.

    python benchmarks/cluster_benchmark.py [--files 4] [--minutes 10] [--backbone tf_efficientnet_b0] [--rounds 1]

Same model (random weights, 182 classes), same engine (the default: OpenVINO fp32 where
installed; the project's ONNX copy is made once, before timing), same generated recordings, two
projects that differ only in how they are scored. Checks that both stored the same probabilities.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np

from birdview.jobs.scoring import add_model, prepare_fast_copy
from birdview.store.project import Project
from tests.synthetic_birds import soundscape
from trainer.classes import load_species
from trainer.config import TrainConfig
from trainer.lightning_module import BirdModule
from trainer.train import save_module


def _project(folder: Path, audio: Path, checkpoint: Path) -> Path:
    with Project.create(folder, species=[]) as project:
        project.add_recordings([audio])
        add_model(project, checkpoint)
    prepare_fast_copy(folder, 1)
    return folder


def _timed(command: list[str]) -> float:
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True)
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        sys.exit(f"{' '.join(command)} failed:\n{done.stderr[-3000:]}")
    return elapsed


def _scores(folder: Path) -> dict[str, np.ndarray]:
    with Project.open(folder) as project:
        return {r.name: project.predictions(1, r.id)[1] for r in project.recordings()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--files", type=int, default=4)
    parser.add_argument("--minutes", type=float, default=10.0, help="length of each generated recording")
    parser.add_argument("--backbone", default="tf_efficientnet_b0")
    parser.add_argument("--rounds", type=int, default=1)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="birdview-cluster-"))
    config = TrainConfig(data="-", backbone=args.backbone, pretrained=False)
    checkpoint = save_module(BirdModule(config.as_dict(), load_species()), work / "model.ckpt")
    audio = work / "audio"
    audio.mkdir()
    for number in range(args.files):
        soundscape(audio / f"SITE_20240521_{5 + number:02d}0000.flac", args.minutes * 60, [], seed=number)
    windows = args.files * int(args.minutes * 12)
    birdview = [sys.executable, "-m", "birdview", "score"]
    rows = []
    for round_number in range(args.rounds):
        plain = _project(work / f"plain-{round_number}", audio, checkpoint)
        ray = _project(work / f"ray-{round_number}", audio, checkpoint)
        plain_s = _timed([*birdview, "--project", str(plain)])
        ray_s = _timed([*birdview, "--project", str(ray), "--cluster", "local"])
        a, b = _scores(plain), _scores(ray)
        worst = max(float(np.abs(a[name] - b[name]).max()) for name in a)
        assert all(a[name].shape == b[name].shape for name in a)
        rows.append((plain_s, ray_s, worst))
        print(
            f"round {round_number + 1}: plain {plain_s:.1f} s ({windows / plain_s:.0f} windows/s), "
            f"--cluster local {ray_s:.1f} s ({windows / ray_s:.0f} windows/s), "
            f"ratio {plain_s / ray_s:.2f}x, largest difference {worst:.4f}",
            flush=True,
        )
    print(
        f"\n{args.files} files x {args.minutes:g} min ({windows} windows of 5 s), "
        f"{os.cpu_count()} cores, {args.backbone}"
    )
    print("| command | wall time | windows/s |")
    print("| --- | --- | --- |")
    for label, column in (("birdview score", 0), ("birdview score --cluster local", 1)):
        times = [row[column] for row in rows]
        print(
            f"| {label} | {min(times):.1f}–{max(times):.1f} s | {windows / max(times):.0f}–{windows / min(times):.0f} |"
        )
    ratios = [row[0] / row[1] for row in rows]
    print(f"speed of --cluster local over plain: {min(ratios):.2f}–{max(ratios):.2f}x")
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
