"""Scoring inside the app against birdview-train predict, and how long the GUI stalls meanwhile.

    python benchmarks/scoring_benchmark.py [--minutes 30] [--backbone tf_efficientnet_b0]

Same model (random weights, 182 classes), same engine (the default: OpenVINO fp32 where
installed), same generated recording, same run. Adding the model to the project (which exports its ONNX
copy in a child process, once per version) is timed apart from scoring. The app scores in
its background thread while the window is open offscreen; a 10 ms timer on the GUI thread records
the longest gap between its ticks (the worst stall a user would feel).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import torch

from tests.synthetic_birds import soundscape
from trainer.classes import load_species
from trainer.config import TrainConfig
from trainer.inference import load_scorer, predict
from trainer.lightning_module import BirdModule
from trainer.train import save_module


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=30.0)
    parser.add_argument("--backbone", default="tf_efficientnet_b0")
    args = parser.parse_args()
    torch.set_num_threads(2)
    work = Path(tempfile.mkdtemp(prefix="birdview-scoring-"))
    config = TrainConfig(data="-", backbone=args.backbone, pretrained=False)
    checkpoint = save_module(BirdModule(config.as_dict(), load_species()), work / "model.ckpt")
    audio = work / "audio"
    audio.mkdir()
    recording = soundscape(audio / "SITE_20240521_050000.flac", args.minutes * 60, [])
    windows = int(args.minutes * 12)

    from PySide6.QtCore import QEventLoop, QSettings, QTimer

    from birdview.gui.app import make_application
    from birdview.gui.main_window import MainWindow

    app = make_application()  # noqa: F841 (kept alive for the window)
    window = MainWindow(settings=QSettings(str(work / "s.ini"), QSettings.Format.IniFormat))
    window.resize(1400, 900)
    window.show()
    window.open_project(work / "project")
    window.open_paths([audio])
    window.wait_until_ready(60)
    started = time.perf_counter()
    window.scoring.add(checkpoint)
    window.scoring.wait_prepared()  # once per model version: its ONNX copy, made in a child process
    prepare_s = time.perf_counter() - started
    gaps, last = [], [time.perf_counter()]

    ticks = []

    def tick() -> None:
        now = time.perf_counter()
        gaps.append(now - last[0])
        ticks.append(now)
        last[0] = now

    timer = QTimer(interval=10)
    timer.timeout.connect(tick)
    done = []
    window.scoring.finished.connect(done.append)
    timer.start()
    start = time.perf_counter()
    loop = QEventLoop()  # the window's own event loop, as in use (a polling loop would steal CPU)
    window.scoring.finished.connect(lambda _result: loop.quit())
    window.scoring.start()
    if not done:
        loop.exec()
    elapsed = time.perf_counter() - start
    timer.stop()
    in_app = done[0].windows / elapsed
    worst = sorted(range(len(gaps)), key=lambda i: -gaps[i])[:3]
    print("worst stalls (ms, at s after start):", [(round(gaps[i] * 1000), round(ticks[i] - start, 2)) for i in worst])
    copy = window.project.folder / "models" / "model-v1.onnx"
    window.shutdown()
    start = time.perf_counter()  # the same model file and engine, loaded inside the timing as the app does
    predict([recording], [load_scorer(copy if copy.exists() else checkpoint)], batch_size=32)
    baseline = windows / (time.perf_counter() - start)
    print(f"{args.backbone}, 2 threads, {windows} windows ({args.minutes:g} min)")
    print("\n| measurement | result | target |")
    print("|---|---|---|")
    print(f"| birdview-train predict | {baseline:.1f} windows/s | |")
    print(f"| scoring in the app | {in_app:.1f} windows/s ({in_app / baseline:.2f}× predict) | within 10 % |")
    print(f"| adding the model (once per version; ONNX copy in a child process) | {prepare_s:.1f} s | |")
    p99 = sorted(gaps)[int(len(gaps) * 0.99)]
    print(f"| worst GUI stall while scoring | {max(gaps) * 1000:.0f} ms (p99 {p99 * 1000:.0f} ms) | < 100 ms |")


if __name__ == "__main__":
    main()
