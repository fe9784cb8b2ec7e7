"""Opening a folder as a project: File ▸ "New or open project…" (a folder dialog) and "Recent
projects" (the last ten folders opened, kept in QSettings). A folder that cannot be opened as a
project is named in a message box and left as it is; ``refused(problem)`` says so.
``message(text)`` is for the status bar.

:class:`StartHint`: the empty window says how to open recordings or the demo project, and the
status bar what to do next."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QEvent, QObject, QSettings, Qt, QTimer, Signal
from PySide6.QtWidgets import QFileDialog, QLabel, QMenu, QMessageBox, QWidget

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


#: Where ``bash scripts/setup.sh demo`` builds the demo project (it runs in the repository).
DEMO_PROJECT = ".demo-project"

START_TEXT = """<h3>No recording open</h3>
<p>Open recordings with <b>File ▸ Open files…</b> (Ctrl+O) or <b>Open folder…</b> (Ctrl+Shift+O),
or drop files or folders here.</p>
<p>The demo: {demo}</p>
<p>Then <b>Models ▸ Add model…</b> (BirdNET is built in), <b>Models ▸ Score unscored recordings</b>
and <b>Review ▸ Start reviewing</b> (Ctrl+R).</p>"""
DEMO_FOUND = '<a href="{path}" style="color: #7fd0ff">open the demo project</a> ({path})'
DEMO_MISSING = (
    "build it with <code>bash scripts/setup.sh demo</code>, or open its folder "
    "<code>.demo-project</code> with <b>File ▸ New or open project…</b>"
)


def demo_project() -> Path | None:
    """The demo project, if built: in the working folder or in the repository birdview runs from."""
    for folder in (Path.cwd(), Path(__file__).resolve().parents[2]):
        if (folder / DEMO_PROJECT / "project.sqlite").is_file():
            return folder / DEMO_PROJECT
    return None


class StartHint(QObject):
    """How to begin, said where the user looks. While no recording is shown, a note over the empty
    spectrogram says how to open recordings or the demo project (files dropped on the spectrogram
    open, as on the rest of the window); the status bar says what comes next (open recordings,
    a project, add a model, score, review), read again when a recording is shown, a project or
    model changes, or scoring ends. ``window`` is the main window."""

    def __init__(self, window: QWidget) -> None:
        super().__init__(window)
        self.window = window
        self.view = window.view
        viewport = self.view.viewport()
        demo = demo_project()
        self.demo = demo
        self.label = QLabel(START_TEXT.format(demo=DEMO_FOUND.format(path=demo) if demo else DEMO_MISSING), viewport)
        self.label.setObjectName("start_hint")
        self.label.setWordWrap(True)
        self.label.setTextFormat(Qt.TextFormat.RichText)
        self.label.setTextInteractionFlags(Qt.TextInteractionFlag.LinksAccessibleByMouse)
        self.label.setStyleSheet(
            "QLabel { color: #e8e8e8; background: rgba(40, 40, 40, 220); border-radius: 8px; padding: 14px; }"
        )
        self.label.linkActivated.connect(lambda path: window.open_project(path))
        self.next_step_label = QLabel()
        self.next_step_label.setObjectName("next_step")
        window.statusBar().insertPermanentWidget(0, self.next_step_label)
        viewport.installEventFilter(self)
        self.view.view_box.sigResized.connect(self._place_later)
        self.view.viewChanged.connect(self._on_view_changed)
        window.activeModelChanged.connect(lambda _model: self.refresh())
        window.scoring.finished.connect(lambda _result: self.refresh())
        window.loader.addedToProject.connect(lambda _row: self.refresh())
        self._shown: object = object()  # the recording the hints were last worked out for
        self.refresh()

    def _on_view_changed(self, *_: object) -> None:
        if self.view.recording is not self._shown:
            self.refresh()

    def refresh(self) -> None:
        self._shown = self.view.recording
        empty = self.view.recording is None
        self.label.setVisible(empty)
        if empty:
            self._place()
        # An empty view's axes have nothing to say (they would count 0-1 s and 0-0.07 kHz).
        for axis in (self.view.time_axis, self.view.frequency_axis, self.window.overview.time_axis):
            axis.setStyle(showValues=not empty)
        self.next_step_label.setText(self.next_step())

    def next_step(self) -> str:
        window = self.window
        if window.view.recording is None:
            return "Next: open recordings (File ▸ Open files…)"
        project = window.project
        if project is None:
            return "Next: File ▸ New or open project…, then Models ▸ Add model…"
        model = project.active_model()
        if model is None:
            return "Next: Models ▸ Add model…"
        if window.scoring.running:
            return ""
        row = window.loader.rows.get(window.view.recording.path)
        if row is None or project.scored_windows(model.version, row.id) == 0:
            return "Next: Models ▸ Score unscored recordings"
        return "Next: Review ▸ Start reviewing (Ctrl+R)"

    def _place_later(self, *_: object) -> None:
        """Once the plot has its new size (after the pending layout)."""
        if self.label.isVisible():
            QTimer.singleShot(0, self._place)

    def _place(self) -> None:
        """Centred on the plot area (not on the axes), within the viewport."""
        area = self.view.mapFromScene(self.view.view_box.sceneBoundingRect()).boundingRect()
        area = area.intersected(self.view.viewport().rect()) if area.isValid() else self.view.viewport().rect()
        width = min(560, max(200, area.width() - 40))
        self.label.setFixedWidth(width)
        self.label.adjustSize()
        self.label.move(area.center().x() - width // 2, max(10, area.center().y() - self.label.height() // 2))
        self.label.raise_()

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        kind = event.type()
        if kind in (QEvent.Type.Resize, QEvent.Type.Show):
            self._place_later()
        elif kind in (QEvent.Type.DragEnter, QEvent.Type.DragMove) and event.mimeData().hasUrls():
            event.acceptProposedAction()
            return True
        elif kind == QEvent.Type.Drop and event.mimeData().hasUrls():
            self.window.dropEvent(event)
            return True
        return False
