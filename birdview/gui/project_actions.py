"""File-menu actions on a project: import and export labels, relink moved recordings.

Each action has a dialog-free core (``import_labels``, ``export_labels``, ``relink``) that tests
and scripts call; the menu entries only gather the arguments with dialogs.

An export runs on a worker thread (:mod:`birdview.gui.workers`) with its own connection to the
project: a Raven table gets the Raven measurement columns, as ``birdview export --format raven``
writes them (the same file), and measuring reads audio around every label, which takes a while
on a large project. A progress bar and a Cancel button sit in the status bar meanwhile, and the
window stays usable. A recording that cannot be read leaves its labels' measurement cells empty
(the other labels are measured); the message at the end names it and why.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from PySide6.QtWidgets import (
    QFileDialog,
    QInputDialog,
    QMainWindow,
    QMenu,
    QMessageBox,
    QProgressBar,
    QPushButton,
)

from birdview.formats.labels import LabelFileError
from birdview.formats.transfer import (
    EXPORT_FORMATS,
    IMPORT_FORMATS,
    ExportCancelledError,
    UnknownSpeciesError,
    export,
    import_files,
)
from birdview.gui.workers import Worker, WorkerPool
from birdview.store.project import Project, ProjectError

FILE_FORMATS = {"raven": ".txt", "birdnet": ".csv", "perch": ".csv", "aoef": ".json"}
THIS_RECORDING, WHOLE_PROJECT = "This recording", "Whole project"
#: Problems listed in the status bar and the message box at most (the rest are counted).
LISTED = 5
#: Progress reported to the window at most this often (seconds).
PROGRESS_EVERY_S = 0.1


@dataclass
class ExportOutcome:
    """What an export from the window did."""

    fmt: str
    out: Path
    labels: int
    written: list[Path] = field(default_factory=list)
    #: One line per label exported without measurements (which label, why).
    problems: list[str] = field(default_factory=list)
    #: Recordings that could not be read: path (or name): the problem.
    unreadable: dict[str, str] = field(default_factory=dict)
    cancelled: bool = False
    #: Why nothing was written (a full disk, a bad name...).
    error: str | None = None

    def summary(self) -> str:
        """One line for the status bar."""
        if self.cancelled:
            return "Export cancelled; nothing was written"
        if self.error is not None:
            return f"Export failed: {self.error}"
        text = f"{self.labels} label(s) exported to {len(self.written)} file(s) in {self.out}"
        if self.problems:
            text += f"; {len(self.problems)} label(s) without measurements"
            if self.unreadable:
                text += ": " + "; ".join(
                    f"{Path(path).name} cannot be read ({problem})"
                    for path, problem in list(self.unreadable.items())[:LISTED]
                )
                if len(self.unreadable) > LISTED:
                    text += f" and {len(self.unreadable) - LISTED} more recording(s)"
            else:
                text += f": {self.problems[0]}"
        return text

    def details(self) -> str:
        """The problems in full, for a message box ("" when there were none)."""
        if not self.problems:
            return ""
        lines = []
        if self.unreadable:
            lines.append("These recordings could not be read; their labels are in the table, without measurements:")
            lines += [f"  {path}: {problem}" for path, problem in self.unreadable.items()]
        others = [p for p in self.problems if not any(path in p for path in self.unreadable)]
        if others:
            lines.append("These labels could not be measured:")
            lines += [f"  {problem}" for problem in others[:LISTED]]
            if len(others) > LISTED:
                lines.append(f"  and {len(others) - LISTED} more")
        return "\n".join(lines)


def export_job(
    project: Project,
    fmt: str,
    out: Path,
    recording: Path | None,
    progress: Callable[[tuple[int, int]], None],
    cancel: threading.Event,
) -> ExportOutcome:
    """On a worker thread: export the labels of ``recording`` (all of the project's when None),
    as :func:`birdview.formats.transfer.export` does for ``birdview export``."""
    chosen = project.annotations()
    if recording is not None:
        row = project.recording_by_path(recording)
        chosen = [a for a in chosen if row is not None and a.recording_id == row.id]
    outcome = ExportOutcome(fmt, out, len(chosen))
    last = 0.0

    def measured(done: int, total: int) -> None:
        nonlocal last
        now = time.monotonic()
        if done == total or now - last >= PROGRESS_EVERY_S:
            last = now
            progress((done, total))

    try:
        outcome.written = export(
            project,
            fmt,
            out,
            chosen,
            problems=outcome.problems,
            progress=measured,
            cancel=cancel,
            unreadable=outcome.unreadable,
        )
    except ExportCancelledError:
        outcome.cancelled = True
    except (LabelFileError, ProjectError, OSError) as exc:
        outcome.error = str(exc)
    return outcome


class ProjectActions:
    def __init__(
        self,
        window: QMainWindow,
        menu: QMenu,
        project: Callable[[], Project | None],
        current_path: Callable[[], Path | None],
        changed: Callable[[], None],
    ) -> None:
        self.window = window
        self._project = project
        self._current_path = current_path
        self._changed = changed
        #: Refusals are also shown in a message box (on while a dialog of this menu is in use).
        self.show_dialogs = False
        self._exports = WorkerPool("export", max_threads=1, owner=window)
        self._export: Worker | None = None
        #: What the last export did, once it is done.
        self.last_export: ExportOutcome | None = None
        #: The message box listing an export's problems (recordings that cannot be read...).
        self.problem_box: QMessageBox | None = None
        self.export_bar = QProgressBar()
        self.export_bar.setMaximumWidth(260)
        self.export_bar.hide()
        self.cancel_export_button = QPushButton("Cancel export")
        self.cancel_export_button.hide()
        self.cancel_export_button.clicked.connect(self.cancel_export)
        window.statusBar().addPermanentWidget(self.export_bar)
        window.statusBar().addPermanentWidget(self.cancel_export_button)
        menu.addAction("Import labels…").triggered.connect(self._import_dialog)
        menu.addAction("Export labels…").triggered.connect(self._export_dialog)
        menu.addAction("Relink moved recordings…").triggered.connect(self._relink_dialog)

    def _status(self, message: str) -> None:
        self.window.statusBar().showMessage(message)

    def _require_project(self) -> Project | None:
        project = self._project()
        if project is None:
            self._status("Open or create a project first (File ▸ New or open project)")
        return project

    def import_labels(
        self,
        fmt: str,
        files: Sequence[str | Path],
        ask_add_unknown: Callable[[list[str]], bool] | None = None,
        ask_clip: Callable[[str], bool] | None = None,
    ) -> int:
        """Import into the project; tables that name no recording go to the one shown. Unknown
        species and labels reaching outside their recording are put to ``ask_add_unknown`` and
        ``ask_clip``. Returns the number of labels added (0 when refused; the status bar and,
        from the dialog, a message box say why)."""
        project = self._require_project()
        if project is None:
            return 0
        options: dict[str, bool] = {}
        while True:
            try:
                report = import_files(project, fmt, files, recording=self._current_path(), **options)
                break
            except UnknownSpeciesError as exc:
                if "add_unknown" in options or ask_add_unknown is None or not ask_add_unknown(list(exc.unknown)):
                    return self._refused(exc)
                options["add_unknown"] = True
            except LabelFileError as exc:
                if not exc.clippable or ask_clip is None or not ask_clip("\n".join(exc.problems[:10])):
                    return self._refused(exc)
                options["clip_to_recording"] = True
            except ProjectError as exc:
                return self._refused(exc)
        self._changed()
        self._status(
            f"{report.added} label(s) imported, {report.duplicates} already in the project"
            + (f"; species added: {', '.join(report.species_added)}" if report.species_added else "")
            + (f"; {report.clipped} clipped to their recording" if report.clipped else "")
            + (f"; {len(report.warnings)} warning(s): {report.warnings[0]}" if report.warnings else "")
        )
        return report.added

    def _refused(self, error: Exception) -> int:
        text = str(error)
        self._status(f"Nothing imported: {text.splitlines()[0]}")
        if self.show_dialogs:
            QMessageBox.warning(self.window, "Nothing imported", text)
        return 0

    @property
    def exporting(self) -> bool:
        """True while an export runs."""
        return self._export is not None and self._export.active

    def export_labels(
        self, fmt: str, out: str | Path, whole_project: bool, show_problems: bool = False
    ) -> Worker | None:
        """Start exporting the labels of the recording shown (or of the whole project) on a worker
        thread; None when it cannot start (no project, an export already running). When it is
        done, :attr:`last_export` says what it did and the status bar sums it up; with
        ``show_problems``, problems (a recording that cannot be read...) are also listed in a
        message box."""
        project = self._require_project()
        if project is None:
            return None
        if self.exporting:
            self._status("An export is already running")
            return None
        recording = None
        if not whole_project:
            recording = self._current_path()
            if recording is None:
                self._status("No recording is shown: export the whole project instead")
                return None
        # The files are written whatever the window shows meanwhile, so the outcome is always reported.
        worker = self._exports.run(
            export_job,
            fmt,
            Path(out),
            recording,
            project=project.folder,
            progress=True,
            cancellable=True,
        )
        self._export = worker
        worker.progress.connect(self._export_progress)
        worker.result.connect(lambda outcome: self._exported(outcome, show_problems))
        worker.error.connect(self._export_failed)
        worker.finished.connect(self._export_done)
        self.export_bar.setRange(0, 0)  # busy until the first label is measured
        self.export_bar.setFormat("exporting…")
        self.export_bar.show()
        self.cancel_export_button.show()
        self._status(f"Exporting labels to {Path(out)}…")
        return worker

    def cancel_export(self) -> None:
        if self._export is not None:
            self._export.cancel()

    def _export_progress(self, value: tuple[int, int]) -> None:
        done, total = value
        self.export_bar.setRange(0, max(total, 1))
        self.export_bar.setValue(done)
        self.export_bar.setFormat("measuring %v/%m labels")

    def _exported(self, outcome: ExportOutcome, show_problems: bool) -> None:
        self.last_export = outcome
        self._status(outcome.summary())
        details = outcome.details()
        if show_problems and (details or outcome.error):
            self.problem_box = QMessageBox(
                QMessageBox.Icon.Warning,
                "Export failed" if outcome.error else "Exported, some labels without measurements",
                outcome.summary() + (f"\n\n{details}" if details else ""),
                QMessageBox.StandardButton.Ok,
                self.window,
            )
            self.problem_box.open()  # window-modal, and the event loop goes on

    def _export_failed(self, message: str) -> None:
        self._status(f"Export failed: {message}")

    def _export_done(self) -> None:
        self.export_bar.hide()
        self.cancel_export_button.hide()

    def relink(self, folder: str | Path) -> int:
        project = self._require_project()
        if project is None:
            return 0
        moved = project.relink([folder])
        missing = project.missing_recordings()
        self._status(f"{len(moved)} recording(s) relinked" + (f"; {len(missing)} still missing" if missing else ""))
        if moved:
            self._changed()
        return len(moved)

    # -- dialogs -----------------------------------------------------------------------------------

    def _import_dialog(self) -> None:
        fmt, ok = QInputDialog.getItem(self.window, "Import labels", "Format", list(IMPORT_FORMATS), 0, False)
        if not ok:
            return
        files, _ = QFileDialog.getOpenFileNames(self.window, f"Import {fmt} labels")
        if files:
            self.show_dialogs = True
            try:
                self.import_labels(fmt, files, self._ask_add_unknown, self._ask_clip)
            finally:
                self.show_dialogs = False

    def _ask_clip(self, problems: str) -> bool:
        answer = QMessageBox.question(
            self.window,
            "Labels outside their recording",
            f"{problems}\n\nClip the labels that reach outside their recording to it, and import?",
        )
        return answer == QMessageBox.StandardButton.Yes

    def _ask_add_unknown(self, names: list[str]) -> bool:
        answer = QMessageBox.question(
            self.window,
            "Unknown species",
            f"{len(names)} species are not in the project:\n\n"
            + "\n".join(names[:30])
            + "\n\nAdd them to the project and import?",
        )
        return answer == QMessageBox.StandardButton.Yes

    def _export_dialog(self) -> None:
        fmt, ok = QInputDialog.getItem(self.window, "Export labels", "Format", list(EXPORT_FORMATS), 0, False)
        if not ok:
            return
        scope, ok = QInputDialog.getItem(
            self.window, "Export labels", "Labels of", [THIS_RECORDING, WHOLE_PROJECT], 0, False
        )
        if not ok:
            return
        if fmt in FILE_FORMATS:
            out, _ = QFileDialog.getSaveFileName(self.window, "Export to", f"labels{FILE_FORMATS[fmt]}")
        else:
            out = QFileDialog.getExistingDirectory(self.window, "Export into folder")
        if out:
            self.export_labels(fmt, out, scope == WHOLE_PROJECT, show_problems=True)

    def _relink_dialog(self) -> None:
        folder = QFileDialog.getExistingDirectory(self.window, "Folder where the recordings are now")
        if folder:
            self.relink(folder)
