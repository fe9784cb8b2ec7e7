"""File-menu actions on a project: import and export labels, relink moved recordings.

Each action has a dialog-free core (``import_labels``, ``export_labels``, ``relink``) that tests
and scripts call; the menu entries only gather the arguments with dialogs.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from PySide6.QtWidgets import QFileDialog, QInputDialog, QMainWindow, QMenu, QMessageBox

from birdview.formats.labels import LabelFileError
from birdview.formats.transfer import EXPORT_FORMATS, IMPORT_FORMATS, UnknownSpeciesError, export, import_files
from birdview.store.project import Project, ProjectError

FILE_FORMATS = {"raven": ".txt", "birdnet": ".csv", "perch": ".csv", "aoef": ".json"}
THIS_RECORDING, WHOLE_PROJECT = "This recording", "Whole project"


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

    def export_labels(self, fmt: str, out: str | Path, whole_project: bool) -> list[Path]:
        project = self._require_project()
        if project is None:
            return []
        chosen = project.annotations()
        if not whole_project:
            row = project.recording_by_path(self._current_path()) if self._current_path() else None
            chosen = [a for a in chosen if row is not None and a.recording_id == row.id]
        try:
            # Measuring reads audio around every label: on the GUI thread it would freeze the
            # window, so the menu writes the selection table; `birdview measure` adds measurements.
            written = export(project, fmt, out, chosen, measure=False)
        except (LabelFileError, ProjectError, OSError) as exc:
            self._status(f"Export failed: {exc}")
            return []
        self._status(f"{len(chosen)} label(s) exported to {len(written)} file(s) in {Path(out)}")
        return written

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
            self.export_labels(fmt, out, scope == WHOLE_PROJECT)

    def _relink_dialog(self) -> None:
        folder = QFileDialog.getExistingDirectory(self.window, "Folder where the recordings are now")
        if folder:
            self.relink(folder)
