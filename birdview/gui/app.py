"""Starting the GUI, and rendering a view of it to a PNG (``birdview --screenshot``)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from PySide6.QtWidgets import QApplication

from birdview.gui.main_window import MainWindow


def make_application() -> QApplication:
    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationName("birdview")
    app.setOrganizationName("birdview")
    return app


def run_gui(paths: list[str], tile_cache: Path | None = None, project: Path | None = None) -> int:
    app = make_application()
    window = MainWindow(tile_cache_dir=tile_cache)
    window.show()
    if project is not None:
        window.open_project(project)
    if paths:
        window.open_paths(paths)
    return app.exec()


def screenshot(
    paths: list[str],
    out: Path,
    start_s: float | None,
    span_s: float | None,
    timeout_s: float = 120.0,
    tile_cache: Path | None = None,
    project: Path | None = None,
) -> int:
    """Render the main window showing ``paths`` at the given view to ``out``; 0 when a
    recording was shown, 1 when none could be opened (the PNG then shows why)."""
    if "DISPLAY" not in os.environ and "WAYLAND_DISPLAY" not in os.environ:
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    app = make_application()
    window = MainWindow(tile_cache_dir=tile_cache)
    window.show()
    if project is not None:
        window.open_project(project)
    window.open_paths(paths)
    window.wait_until_ready(timeout_s)
    if window.current is not None and (start_s is not None or span_s is not None):
        t0, t1 = window.view.view_range()
        window.view.set_view(start_s if start_s is not None else t0, span_s if span_s is not None else t1 - t0)
        window.wait_until_ready(timeout_s)
    out.parent.mkdir(parents=True, exist_ok=True)
    saved = window.grab().save(str(out))
    shown = window.current is not None
    window.close()
    app.processEvents()
    if not saved:
        print(f"birdview: could not write {out}", file=sys.stderr)
        return 1
    for problem in window.problems:
        print(f"birdview: {problem}", file=sys.stderr)
    return 0 if shown else 1
