"""Opening a project of 10,000 recordings in the main window, and scrolling its recordings list,
against the one-widget-per-cell table the list used to be, in the same run.

    python benchmarks/recordings_list_benchmark.py [--recordings 10000] [--sites 10] [--folder DIR]

Writes (once, into ``--folder``, default a temporary folder) short generated WAV files named as a
recorder names them (``SITE03_20240501_040000.wav``: 1 s of silence at 1 kHz, so the app really
opens them) and a project whose rows are inserted through the store API
(:meth:`Project.add_probed`, as the window adds checked files). Then, offscreen, in the real
main window:

  open      File ▸ Open project until the recordings list is shown (grouped site ▸ date, painted);
  checked   until every file has been checked on the worker threads (its row then says OK);
  filter    a site + date filter applied (the tree rebuilt and painted);
  scroll    the GUI thread's time per frame, a page down the list plus a synchronous repaint,
            through the flat list and the fully opened tree (p50 / p95 / max);
  alone     the list by itself (flat) and, as the baseline, a QTableWidget with one item per cell
            (what the list was), filled with the same rows and scrolled alike, in interleaved rounds.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def build(folder: Path, recordings: int, sites: int) -> Path:
    """Files and a project of ``recordings`` rows over ``sites`` sites; kept for the next run."""
    import soundfile as sf

    from birdview.audio.recording import RecordingInfo
    from birdview.store.project import Project, content_hash

    project_dir = folder / "project"
    if (project_dir / "project.sqlite").exists():
        return project_dir
    audio = folder / "audio"
    audio.mkdir(parents=True, exist_ok=True)
    silence = np.zeros(1000, np.int16)
    per_site = recordings // sites
    project = Project.create(project_dir, species=[])
    first = datetime(2024, 5, 1, 4, 0, 0)
    for n in range(recordings):
        site = f"SITE{n % sites:02d}"
        k = n // sites  # the site's k-th recording: 8 a day (04:00 to 07:30, every 30 min)
        start = first + timedelta(days=k // 8, minutes=30 * (k % 8))
        path = audio / f"{site}_{start:%Y%m%d_%H%M%S}.wav"
        if not path.exists():
            sf.write(path, silence, 1000)
        info = RecordingInfo(path, 1.0, 1000, 1, 1000, "WAV", start)
        project.add_probed(info, content_hash(path), site)
    assert len(project.recordings()) == recordings, per_site
    project.close()
    return project_dir


def frame_times(app, view, steps: int = 150) -> list[float]:
    """ms per page step down the list (wrapping to the top), each with a synchronous repaint."""
    bar = view.verticalScrollBar()
    bar.setValue(0)
    app.processEvents()
    times = []
    for _ in range(steps):
        t = time.perf_counter()
        bar.setValue(bar.value() + bar.pageStep() if bar.value() < bar.maximum() else 0)
        view.viewport().repaint()
        app.processEvents()
        times.append((time.perf_counter() - t) * 1000)
    return times


def summary(times: list[float]) -> str:
    ordered = sorted(times)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return f"{statistics.median(ordered):.1f} / {p95:.1f} / {ordered[-1]:.1f} ms"


def wait(app, until, timeout_s: float = 600.0) -> float:
    start = time.perf_counter()
    while not until():
        app.processEvents()
        if time.perf_counter() - start > timeout_s:
            raise TimeoutError("gave up waiting")
        time.sleep(0.001)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--recordings", type=int, default=10000)
    parser.add_argument("--sites", type=int, default=10)
    parser.add_argument(
        "--folder", type=Path, help="where the files and project are kept (default: a temporary folder)"
    )
    args = parser.parse_args()
    folder = args.folder or Path(tempfile.mkdtemp(prefix="birdview-list-"))
    t = time.perf_counter()
    project_dir = build(folder, args.recordings, args.sites)
    print(f"{args.recordings:,} recordings at {args.sites} sites in {project_dir} ({time.perf_counter() - t:.1f} s)")

    from PySide6.QtCore import QSettings
    from PySide6.QtWidgets import QApplication, QTableWidget, QTableWidgetItem

    from birdview.gui.main_window import MainWindow
    from birdview.gui.recordings_panel import COLUMNS, RecordingsPanel
    from birdview.gui.sizing import fit_columns

    app = QApplication(sys.argv)

    def open_window(label: str) -> tuple[MainWindow, float]:
        settings = QSettings(str(folder / "bench.ini"), QSettings.Format.IniFormat)
        window = MainWindow(settings=settings, stream_factory=lambda *a, **k: None)
        window.resize(1400, 820)
        window.show()
        app.processEvents()
        start = time.perf_counter()
        window.open_project(project_dir)
        window.recordings_panel.recordings_model.flush()
        window.recordings_panel.viewport().repaint()
        opened = time.perf_counter() - start
        app.processEvents()  # what was left for after the list is shown (the missing files' count)
        idle = time.perf_counter() - start
        shown = window.recordings_panel.recordings_model.shown
        assert shown == args.recordings, shown
        print(
            f"open ({label}): project opened and its {shown:,} recordings listed and painted in {opened:.2f} s "
            f"(events waiting then done at {idle:.2f} s)"
        )
        return window, opened

    # The first open in a process also pays one-time imports (librosa for the frequency axis, ~1.5 s).
    window, opened = open_window("first in the process")
    for again in (2, 3):  # this machine is shared: a few rounds, each in a new window
        window.shutdown()
        window.deleteLater()
        app.processEvents()
        window, opened = open_window(f"round {again}, a new window")
    panel, model = window.recordings_panel, window.recordings_panel.recordings_model
    checked = wait(app, lambda: not window.loader.pending) + opened
    oks = sum(1 for path in model.paths() if panel.state(path) == "ok")
    print(f"checked: all {oks:,} files checked (rows say OK) {checked:.1f} s after opening")

    t = time.perf_counter()
    window.selection_bar.set_fields(sites="SITE03", date_from="2024-05-10", date_to="2024-05-20")
    panel.viewport().repaint()
    app.processEvents()
    print(f"filter: site + dates applied in {(time.perf_counter() - t) * 1000:.0f} ms -> {model.shown:,} recordings")
    window.selection_bar.clear()

    window.selection_bar.grouped.setChecked(False)
    rows_flat = model.rowCount()
    flat = frame_times(app, panel)
    window.selection_bar.grouped.setChecked(True)
    t = time.perf_counter()
    panel.expandAll()
    app.processEvents()
    expand_ms = (time.perf_counter() - t) * 1000
    tree = frame_times(app, panel)
    print(f"scroll in the window, flat list of {rows_flat:,} rows: p50 / p95 / max {summary(flat)}")
    print(f"scroll in the window, tree opened ({expand_ms:.0f} ms to open every group): {summary(tree)}")
    rows = [(p.name, p.name[:6], p.name[7:15], p.name[7:22], "0:00:01", "1 kHz", "1", "OK") for p in model.paths()]
    infos = [(p, panel.recordings_model.entry(p).site, window.loader.rows[p]) for p in model.paths()]
    window.shutdown()

    # Alone, side by side: the list (flat) and the list as it was, a QTableWidget with an item per cell.
    alone = RecordingsPanel()
    alone.set_grouped(False)
    alone.resize(230, 700)
    alone.show()
    t = time.perf_counter()
    for path, site, row in infos:
        alone.add_pending(path, site, row)
    alone.recordings_model.flush()
    alone.viewport().repaint()
    app.processEvents()
    listed = time.perf_counter() - t
    table = QTableWidget(0, len(COLUMNS))
    table.setHorizontalHeaderLabels(COLUMNS)
    fit_columns(table)
    table.resize(230, 700)
    table.show()
    t = time.perf_counter()
    for values in rows:  # one row at a time, as files were listed
        row = table.rowCount()
        table.insertRow(row)
        for column, value in enumerate(values):
            table.setItem(row, column, QTableWidgetItem(value))
    table.viewport().repaint()
    app.processEvents()
    filled = time.perf_counter() - t
    frame_times(app, alone, 400)  # every row drawn once (their text is made when first shown)
    alone_frames, baseline = [], []
    for _ in range(3):  # interleaved rounds: this machine is shared and its speed drifts
        alone_frames += frame_times(app, alone, 80)
        baseline += frame_times(app, table, 80)
    print(f"alone, model view: {len(infos):,} rows listed in {listed:.2f} s; scroll {summary(alone_frames)}")
    print(f"alone, item widgets (before): {len(rows):,} rows filled in {filled:.2f} s; scroll {summary(baseline)}")


if __name__ == "__main__":
    main()
