"""Opening a folder as a project: File ▸ "New or open project…" (a folder dialog) and "Recent
projects" (the last ten folders opened, kept in QSettings). A folder that cannot be opened as a
project is named in a message box and left as it is; ``refused(problem)`` says so.
``message(text)`` is for the status bar."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QObject, QSettings, Signal
from PySide6.QtWidgets import QFileDialog, QMenu, QMessageBox, QWidget

from birdview.gui.navigation import AddAction
from birdview.store.project import Project, ProjectError

_KEY = "recent_projects"
_KEPT = 10


class ProjectOpener(QObject):
    refused = Signal(str)
    message = Signal(str)

    def __init__(
        self, window: QWidget, settings: QSettings, menu: QMenu, add: AddAction, open_project: Callable[[str], object]
    ) -> None:
        super().__init__(window)
        self.window = window
        self.settings = settings
        self._open_project = open_project  # the window's, which hands the project to everything that uses it
        add("New or open project…", self.choose, "Ctrl+Shift+P")
        self.recent_menu = menu.addMenu("Recent projects")
        self._fill()

    def open(self, folder: str | Path) -> Project | None:
        """Open (or create) the project in ``folder``, backed up when due; None when refused."""
        folder = Path(folder).absolute()
        try:
            project = Project.open_or_create(folder)
        except ProjectError as exc:
            self.refused.emit(str(exc))
            self.message.emit(f"Project {folder} not opened: {exc}")
            box = QMessageBox(QMessageBox.Icon.Critical, "Cannot open the project", str(exc), parent=self.window)
            box.setObjectName("project_problem")
            box.open()
            return None
        project.backup_if_due()
        return project

    def report_missing(self, project: Project) -> None:
        """Say how many of the project's recordings are not where they were, and how to relink them."""
        missing = project.missing_recordings()
        if missing:
            self.message.emit(
                f"{len(missing)} recording(s) of the project are not where they were; "
                "relink them with: birdview relink --project " + str(project.folder) + " FOLDER"
            )

    def choose(self) -> None:
        folder = QFileDialog.getExistingDirectory(self.window, "Choose or create a project folder")
        if folder:
            self._open_project(folder)

    def recent(self) -> list[str]:
        """Project folders, the most recently opened first."""
        value = self.settings.value(_KEY) or []
        return [value] if isinstance(value, str) else list(value)

    def remember(self, folder: Path) -> None:
        recent = [str(folder)] + [p for p in self.recent() if p != str(folder)]
        self.settings.setValue(_KEY, recent[:_KEPT])
        self._fill()

    def _fill(self) -> None:
        self.recent_menu.clear()
        for folder in self.recent():
            action = self.recent_menu.addAction(folder)
            action.triggered.connect(lambda _=False, f=folder: self._open_project(f))
