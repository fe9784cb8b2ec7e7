"""The main window: recordings on the left, overview and spectrogram in the middle, settings on
the right, playback on the keyboard."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pyqtgraph as pg
from PySide6.QtCore import QSettings, Qt, QTimer
from PySide6.QtGui import QAction, QDragEnterEvent, QDropEvent, QKeySequence
from PySide6.QtWidgets import (
    QApplication,
    QDockWidget,
    QFileDialog,
    QLabel,
    QMainWindow,
    QMessageBox,
    QScrollBar,
    QVBoxLayout,
    QWidget,
)

from birdview.audio.playback import AudioDeviceError, Player, StreamFactory, sounddevice_stream
from birdview.audio.recording import AUDIO_EXTENSIONS, AudioFileError, Recording, RecordingInfo, find_audio_files, probe
from birdview.gui.display_panel import DisplayPanel, load_settings, save_settings
from birdview.gui.labeling import LabelingController
from birdview.gui.overview_strip import OverviewStrip
from birdview.gui.probability_panel import ProbabilityPanel
from birdview.gui.project_actions import ProjectActions
from birdview.gui.recordings_panel import RecordingsPanel
from birdview.gui.retrain_panel import RetrainController
from birdview.gui.review_panel import ReviewController
from birdview.gui.scoring_controller import ScoringController
from birdview.gui.spectrogram_view import SpectrogramView
from birdview.gui.workers import WorkerPool
from birdview.review.tracks import visible_tracks
from birdview.spectrogram.cache import TileDiskCache
from birdview.spectrogram.service import TileService
from birdview.spectrogram.settings import DisplaySettings, SpectrogramSettings
from birdview.spectrogram.ticks import format_time
from birdview.store.project import Annotation, Project, ProjectError, RecordingRow, content_hash

_PLAYHEAD_MS = 30
_SCROLL_UNITS_PER_S = 100
_PAN_STEP = 0.1
_ZOOM_STEP = 2.0
NO_AUDIO_TEXT = "No audio output device: playback off"


def _probe(path: Path, with_hash: bool) -> tuple[RecordingInfo, str | None]:
    """On a worker thread: the file's facts and, for a project, its content hash; a file that
    cannot be read raises with the problem as the message."""
    try:
        return probe(path), content_hash(path) if with_hash else None
    except AudioFileError as exc:
        raise ValueError(exc.problem) from None
    except Exception as exc:
        raise ValueError(f"cannot be read ({exc})") from None


def audio_output_status() -> str | None:
    """The default output device's name, or None when there is none (as on a server)."""
    try:
        import sounddevice

        return str(sounddevice.query_devices(kind="output")["name"])
    except Exception:
        return None


class MainWindow(QMainWindow):
    def __init__(
        self,
        settings: QSettings | None = None,
        stream_factory: StreamFactory = sounddevice_stream,
        tile_workers: int = 2,
        tile_cache_dir: str | Path | None = None,
    ) -> None:
        super().__init__()
        self.setWindowTitle("birdview")
        self.resize(1400, 820)
        self.setAcceptDrops(True)
        self.settings = settings or QSettings("birdview", "birdview")
        spectrogram_settings, display_settings = load_settings(self.settings)

        disk_cache = TileDiskCache(tile_cache_dir) if tile_cache_dir else None
        self.tiles = TileService(workers=tile_workers, disk=disk_cache)
        self.player = Player(stream_factory=stream_factory)
        self.recordings: dict[Path, Recording] = {}
        self.current: Recording | None = None
        self.problems: list[str] = []
        self.project: Project | None = None
        self.project_rows: dict[Path, RecordingRow] = {}
        self._probes = WorkerPool("probe", max_threads=2, owner=self)

        self.view = SpectrogramView(self.tiles)
        self.view.set_spectrogram_settings(spectrogram_settings)
        self.view.set_display_settings(display_settings)
        self.overview = OverviewStrip()
        self.overview.set_display_settings(display_settings)
        self.scrollbar = QScrollBar(Qt.Orientation.Horizontal)
        central = QWidget()
        layout = QVBoxLayout(central)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.setSpacing(2)
        layout.addWidget(self.overview)
        layout.addWidget(self.view, stretch=1)
        self.probabilities = ProbabilityPanel(self.view)
        layout.addWidget(self.probabilities)
        self.probabilities.hide()  # shown once the project has a model
        layout.addWidget(self.scrollbar)
        self.setCentralWidget(central)

        self.recordings_panel = RecordingsPanel()
        recordings_dock = self._add_dock("Recordings", self.recordings_panel, Qt.DockWidgetArea.LeftDockWidgetArea)
        self.resizeDocks([recordings_dock], [380], Qt.Orientation.Horizontal)
        self.display_panel = DisplayPanel(spectrogram_settings, display_settings)
        self._add_dock("Display", self.display_panel, Qt.DockWidgetArea.RightDockWidgetArea)

        self.cursor_label = QLabel()
        self.audio_label = QLabel()
        self.statusBar().addPermanentWidget(self.cursor_label)
        self.statusBar().addPermanentWidget(self.audio_label)
        device = audio_output_status()
        self.audio_available = device is not None or stream_factory is not sounddevice_stream
        if device:
            self.audio_label.setText(f"Audio: {device}")
        else:
            self.audio_label.setText("Audio: test stream" if self.audio_available else NO_AUDIO_TEXT)

        self._playhead_timer = QTimer(self, interval=_PLAYHEAD_MS)
        self._playhead_timer.timeout.connect(self._follow_playhead)
        self._build_menus()
        self.labeling = LabelingController(self, self.view, self.menuBar().addMenu("&Labels"))
        self.project_actions = ProjectActions(
            self,
            self.file_menu,
            lambda: self.project,
            lambda: self.current.path if self.current else None,
            self.labeling.refresh,
        )
        self.file_menu.addSeparator()
        self._action(self.file_menu, "Quit", self.close, QKeySequence.StandardKey.Quit)
        models_menu = self.menuBar().addMenu("&Models")
        self.scoring = ScoringController(
            self,
            models_menu,
            lambda: self.project,
            self._on_models_changed,
            self._on_scored,
        )
        self.review = ReviewController(
            self,
            self.menuBar().addMenu("&Review"),
            lambda: self.project,
            self._show_candidate,
            self._play_candidate,
            self.labeling.species_field.code,
            self._after_review,
        )
        review_dock = self._add_dock("Review", self.review.panel, Qt.DockWidgetArea.RightDockWidgetArea)
        self.tabifyDockWidget(self.findChild(QDockWidget, "Display"), review_dock)
        self.retrain = RetrainController(self, models_menu, lambda: self.project, self._on_model_activated)
        self.retrain.finished.connect(lambda model: model is not None and self.scoring.prepare(model.version))
        retrain_dock = self._add_dock("Retrain", self.retrain.panel, Qt.DockWidgetArea.RightDockWidgetArea)
        self.tabifyDockWidget(review_dock, retrain_dock)
        display_dock = self.findChild(QDockWidget, "Display")
        display_dock.raise_()
        self.resizeDocks([display_dock], [340], Qt.Orientation.Horizontal)
        self.labeling.fallback = lambda verdict: self.review.active and self.review.verdict(verdict)
        self.review.thresholdApplied.connect(lambda _species, value: self.probabilities.set_threshold(value))
        self.candidate_region = pg.LinearRegionItem(movable=False, brush=pg.mkBrush(255, 208, 0, 40))
        self.candidate_region.setZValue(5)
        self.candidate_region.hide()
        self.view.addItem(self.candidate_region, ignoreBounds=True)
        labels_dock = self._add_dock("Labels", self.labeling.panel, Qt.DockWidgetArea.LeftDockWidgetArea)
        self.resizeDocks([labels_dock], [380], Qt.Orientation.Horizontal)
        self._connect()
        self.statusBar().showMessage("Open recordings with File ▸ Open, or drop files or folders here.")

    def _add_dock(self, title: str, widget: QWidget, area: Qt.DockWidgetArea) -> QDockWidget:
        dock = QDockWidget(title, self)
        dock.setObjectName(title)
        dock.setWidget(widget)
        self.addDockWidget(area, dock)
        return dock

    def _action(self, menu, text: str, slot: Callable[[], None], shortcut: str | QKeySequence | None = None) -> QAction:
        action = QAction(text, self)
        if shortcut is not None:
            action.setShortcut(QKeySequence(shortcut))
            action.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
        action.triggered.connect(slot)
        menu.addAction(action)
        self.addAction(action)
        return action

    def _build_menus(self) -> None:
        file_menu = self.file_menu = self.menuBar().addMenu("&File")
        self._action(file_menu, "Open files…", self._choose_files, QKeySequence.StandardKey.Open)
        self._action(file_menu, "Open folder…", self._choose_folder, "Ctrl+Shift+O")
        file_menu.addSeparator()
        self._action(file_menu, "New or open project…", self._choose_project, "Ctrl+Shift+P")
        self.recent_menu = file_menu.addMenu("Recent projects")
        self._fill_recent_menu()
        file_menu.addSeparator()
        view_menu = self.menuBar().addMenu("&View")
        self._action(view_menu, "Zoom in", lambda: self.view.zoom(1 / _ZOOM_STEP), "Ctrl+=")
        self._action(view_menu, "Zoom out", lambda: self.view.zoom(_ZOOM_STEP), "Ctrl+-")
        self._action(view_menu, "Whole file", self.view.show_whole_file, "Ctrl+0")
        self._action(view_menu, "Pan left", lambda: self.view.pan(-_PAN_STEP), "Left")
        self._action(view_menu, "Pan right", lambda: self.view.pan(_PAN_STEP), "Right")
        self._action(view_menu, "Page left", lambda: self.view.pan(-1.0), "PgUp")
        self._action(view_menu, "Page right", lambda: self.view.pan(1.0), "PgDown")
        self._action(view_menu, "Go to start", lambda: self.view.set_view(0, self._span()), "Home")
        self._action(view_menu, "Go to end", lambda: self.view.set_view(1e12, self._span()), "End")
        self._action(view_menu, "Brighter", lambda: self._nudge_levels(-5, 0), "Ctrl+Up")
        self._action(view_menu, "Darker", lambda: self._nudge_levels(5, 0), "Ctrl+Down")
        self._action(view_menu, "More contrast", lambda: self._nudge_levels(0, -5), "Ctrl+Right")
        self._action(view_menu, "Less contrast", lambda: self._nudge_levels(0, 5), "Ctrl+Left")
        play_menu = self.menuBar().addMenu("&Playback")
        self._action(play_menu, "Play / pause", self.toggle_playback, "Space")
        self._action(play_menu, "Next recording", lambda: self._step_recording(1), "Ctrl+PgDown")
        self._action(play_menu, "Previous recording", lambda: self._step_recording(-1), "Ctrl+PgUp")

    def _connect(self) -> None:
        self.recordings_panel.recordingActivated.connect(self.show_recording)
        self.display_panel.spectrogramChanged.connect(self._on_spectrogram_settings)
        self.display_panel.displayChanged.connect(self._on_display_settings)
        self.view.viewChanged.connect(self._on_view_changed)
        self.view.cursorMoved.connect(self._on_cursor_moved)
        self.view.tileFailed.connect(lambda message: self.statusBar().showMessage(f"Cannot draw: {message}"))
        self.overview.jumpRequested.connect(self._jump_to)
        self.scrollbar.valueChanged.connect(self._on_scrollbar)

    # -- opening recordings -----------------------------------------------------------------

    def open_paths(self, paths: list[str | Path]) -> None:
        """Open files and folders; each file is checked on a worker thread and listed as it is."""
        for path in find_audio_files(paths):
            path = Path(path).absolute()
            if self.recordings_panel.has(path):
                continue
            self.recordings_panel.add_pending(path)
            worker = self._probes.run(_probe, path, self.project is not None)
            worker.result.connect(lambda probed: self._on_probed(*probed))
            worker.error.connect(lambda problem, path=path: self._on_probe_failed(path, problem))
        if not self.recordings_panel.paths() and not self.probes_pending:
            self.statusBar().showMessage("No audio files found in " + ", ".join(str(p) for p in paths))

    def _on_probed(self, info: RecordingInfo, digest: str | None) -> None:
        if self.project is not None and digest is not None:
            try:
                self.project_rows[info.path] = self.project.add_probed(info, digest)
                self.retrain.set_recordings(self.project.recordings())
            except ProjectError as exc:
                self._report_problem(info.path, f"not added to the project: {exc}")
        self.recordings_panel.add_recording(info)
        self.recordings[info.path] = Recording(info)
        if info.warning:
            self._report_problem(info.path, info.warning)
        self._show_first_openable()

    def _on_probe_failed(self, path: Path, problem: str) -> None:
        self.recordings_panel.add_failure(path, problem)
        self._report_problem(path, problem)
        self._show_first_openable()

    def _show_first_openable(self) -> None:
        """Until something is shown, show the first file in list order that opens."""
        if self.current is not None:
            return
        for path in self.recordings_panel.paths():
            state = self.recordings_panel.state(path)
            if state == "pending":
                return
            if state == "ok":
                self.show_recording(path)
                return

    def _report_problem(self, path: Path, problem: str) -> None:
        message = f"{path.name}: {problem}"
        self.problems.append(message)
        self.statusBar().showMessage(f"Problem with {path}: {problem}")

    @property
    def probes_pending(self) -> bool:
        return self._probes.active > 0

    def show_recording(self, path: Path) -> None:
        recording = self.recordings.get(Path(path))
        if recording is None or recording is self.current:
            return
        self.stop_playback()
        self.current = recording
        self.recordings_panel.select(recording.path)
        self.view.set_recording(recording)
        self.overview.set_recording(recording, self.view.spectrogram_settings)
        self.labeling.set_recording(self.project_rows.get(recording.path))
        self.refresh_tracks()
        info = recording.info
        self.setWindowTitle(f"birdview — {info.path.name}")
        self._update_scrollbar()
        if not info.warning:
            self.statusBar().showMessage(
                f"{info.path.name}: {format_time(info.duration_s)}, {info.sample_rate} Hz, {info.channels} ch"
            )

    # -- projects ---------------------------------------------------------------------------------

    def open_project(self, folder: str | Path) -> Project | None:
        """Open (or create) a project and list its recordings; new files dropped in are added to it.
        A project that cannot be opened (damaged, not a project) is named in a message and left
        as it is; the project open before stays open."""
        folder = Path(folder).absolute()
        try:
            project = Project.open_or_create(folder)
        except ProjectError as exc:
            self._report_project_problem(folder, str(exc))
            return None
        project.backup_if_due()
        if self.project is not None:
            self.project.close()
        self.project = project
        self.project_rows = {row.path: row for row in project.recordings()}
        self.tiles.disk = TileDiskCache(folder / "cache" / "tiles")
        self.labeling.set_project(project, self._jump_to_label)
        self._on_models_changed()
        self.retrain.pick_up_finished_jobs()
        self.retrain.set_recordings(project.recordings())
        self.setWindowTitle(f"birdview — {folder.name}")
        self._remember_project(folder)
        missing = project.missing_recordings()
        if missing:
            self.statusBar().showMessage(
                f"{len(missing)} recording(s) of the project are not where they were; "
                "relink them with: birdview relink --project " + str(folder) + " FOLDER"
            )
        self.open_paths([row.path for row in project.recordings()])
        return project

    def _report_project_problem(self, folder: Path, message: str) -> None:
        self.problems.append(message)
        self.statusBar().showMessage(f"Project {folder} not opened: {message}")
        box = QMessageBox(QMessageBox.Icon.Critical, "Cannot open the project", message, parent=self)
        box.setObjectName("project_problem")
        box.open()

    def _on_models_changed(self) -> None:
        model = self.project.active_model() if self.project is not None else None
        self.probabilities.setVisible(model is not None)  # no room taken until there is a model
        self.probabilities.set_classes(model.classes if model else [])
        self.refresh_tracks()
        if hasattr(self, "review"):
            self.review.set_classes(model.classes if model else [])

    def _path_of(self, recording_id: int) -> Path | None:
        return next((p for p, row in self.project_rows.items() if row.id == recording_id), None)

    def _show_candidate(self, candidate) -> None:
        path = self._path_of(candidate.recording_id)
        if path is None:
            return
        self.show_recording(path)
        span = max(self._span(), 10.0) if self.current else 15.0
        centre = (candidate.start_s + candidate.end_s) / 2
        self.view.set_view(centre - span / 2, span)
        self.candidate_region.setRegion((candidate.start_s, candidate.end_s))
        self.candidate_region.show()

    def _play_candidate(self, candidate) -> None:
        if self.current is None:
            return
        try:
            self.player.play(
                self.current,
                candidate.start_s,
                candidate.end_s,
                speed=self.display_panel.playback_speed(),
                channel=self.view.spectrogram_settings.channel,
            )
        except AudioDeviceError as exc:
            self.statusBar().showMessage(f"Cannot play: {exc}")
            return
        self._playhead_timer.start()

    def _on_scored(self) -> None:
        self.refresh_tracks()
        if not self.scoring.running:
            self.review.reload(background=True)

    def _after_review(self) -> None:
        self.labeling.refresh()
        self.refresh_tracks()

    def refresh_tracks(self) -> None:
        """Probabilities of the active model for the visible range (and half a view either side)."""
        row = self.project_rows.get(self.current.path) if self.current is not None else None
        model = self.project.active_model() if self.project is not None else None
        if row is None or model is None:
            self.probabilities.show_tracks(None, self.view.spectrogram_settings, 16000.0)
            return
        t0, t1 = self.view.view_range()
        margin = (t1 - t0) / 2
        tracks = visible_tracks(self.project, model.version, row.id, t0 - margin, t1 + margin)
        self.probabilities.show_tracks(tracks, self.view.spectrogram_settings, self.current.sample_rate / 2)

    def _choose_project(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Choose or create a project folder")
        if folder:
            self.open_project(folder)

    def _remember_project(self, folder: Path) -> None:
        recent = [str(folder)] + [p for p in self._recent_projects() if p != str(folder)]
        self.settings.setValue("recent_projects", recent[:10])
        self._fill_recent_menu()

    def _recent_projects(self) -> list[str]:
        value = self.settings.value("recent_projects") or []
        return [value] if isinstance(value, str) else list(value)

    def _fill_recent_menu(self) -> None:
        self.recent_menu.clear()
        for folder in self._recent_projects():
            action = self.recent_menu.addAction(folder)
            action.triggered.connect(lambda _=False, f=folder: self.open_project(f))

    def _jump_to_label(self, annotation: Annotation) -> None:
        path = self._path_of(annotation.recording_id)
        if path is None:
            return
        self.show_recording(path)
        span = self._span()
        centre = (annotation.start_s + annotation.end_s) / 2
        self.view.set_view(centre - span / 2, span)

    def _step_recording(self, step: int) -> None:
        openable = [p for p in self.recordings_panel.paths() if p in self.recordings]
        if not openable:
            return
        index = openable.index(self.current.path) if self.current else -1
        self.show_recording(openable[(index + step) % len(openable)])

    def _choose_files(self) -> None:
        pattern = " ".join(f"*{ext}" for ext in sorted(AUDIO_EXTENSIONS))
        files, _ = QFileDialog.getOpenFileNames(self, "Open recordings", "", f"Audio ({pattern});;All files (*)")
        if files:
            self.open_paths(files)

    def _choose_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Open a folder of recordings")
        if folder:
            self.open_paths([folder])

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if event.mimeData().hasUrls():
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:
        paths = [url.toLocalFile() for url in event.mimeData().urls() if url.isLocalFile()]
        if paths:
            self.open_paths(paths)
            event.acceptProposedAction()

    # -- view and settings ------------------------------------------------------------------

    def _span(self) -> float:
        t0, t1 = self.view.view_range()
        return t1 - t0

    def _jump_to(self, centre_s: float) -> None:
        span = self._span()
        self.view.set_view(centre_s - span / 2, span)

    def _on_view_changed(self, t0: float, t1: float) -> None:
        self.overview.set_view_region(t0, t1)
        self._update_scrollbar()
        self.labeling.refresh_visible()
        self.refresh_tracks()

    def _update_scrollbar(self) -> None:
        if self.current is None:
            return
        t0, t1 = self.view.view_range()
        span = t1 - t0
        self.scrollbar.blockSignals(True)
        self.scrollbar.setRange(0, int((self.current.info.duration_s - span) * _SCROLL_UNITS_PER_S))
        self.scrollbar.setPageStep(max(1, int(span * _SCROLL_UNITS_PER_S)))
        self.scrollbar.setSingleStep(max(1, int(span * _PAN_STEP * _SCROLL_UNITS_PER_S)))
        self.scrollbar.setValue(int(t0 * _SCROLL_UNITS_PER_S))
        self.scrollbar.blockSignals(False)

    def _on_scrollbar(self, value: int) -> None:
        self.view.set_view(value / _SCROLL_UNITS_PER_S, self._span())

    def _on_cursor_moved(self, seconds: float, hz: float) -> None:
        start = self.current.info.start_time if self.current else None
        clock = format_time(seconds, 0.01, start) if start else format_time(seconds, 0.01)
        self.cursor_label.setText(f"{clock}   {hz / 1000:.2f} kHz")

    def _on_spectrogram_settings(self, settings: SpectrogramSettings) -> None:
        if self.current is not None and settings.channel >= self.current.info.channels:
            self.statusBar().showMessage(
                f"{self.current.path.name} has {self.current.info.channels} channel(s); showing the last one"
            )
        self.view.set_spectrogram_settings(settings)
        self.overview.set_recording(self.current, settings)
        self.labeling.layer.clear()
        self.labeling.refresh_visible()
        save_settings(self.settings, settings, self.view.display_settings)

    def _on_display_settings(self, settings: DisplaySettings) -> None:
        self.view.set_display_settings(settings)
        self.overview.set_display_settings(settings)
        save_settings(self.settings, self.view.spectrogram_settings, settings)

    def _nudge_levels(self, ceiling_db: float, range_db: float) -> None:
        current = self.view.display_settings
        new_range = max(10.0, current.db_ceiling - current.db_floor + range_db)
        ceiling = current.db_ceiling + ceiling_db
        settings = current.with_changes(db_ceiling=ceiling, db_floor=ceiling - new_range)
        self.display_panel.set_values(self.view.spectrogram_settings, settings)
        self._on_display_settings(settings)

    # -- playback -----------------------------------------------------------------------------

    def toggle_playback(self) -> None:
        if self.player.playing:
            self.stop_playback()
            return
        recording = self.current
        if recording is None:
            return
        t0, t1 = self.view.view_range()
        band = None
        if self.view.selection is not None:
            start, end, f0, f1 = self.view.selection
            if self.display_panel.band_pass.isChecked():
                band = (f0, f1)
        else:
            cursor = self.view.cursor_s
            start = cursor if cursor is not None and t0 <= cursor < t1 else t0
            end = None
        try:
            self.player.play(
                recording,
                start,
                end,
                speed=self.display_panel.playback_speed(),
                band_hz=band,
                channel=self.view.spectrogram_settings.channel,
            )
        except AudioDeviceError as exc:
            self.audio_label.setText(NO_AUDIO_TEXT)
            self.statusBar().showMessage(f"Cannot play: {exc}")
            return
        self.view.set_playhead(start)
        self._playhead_timer.start()

    def stop_playback(self) -> None:
        self.player.stop()
        self._playhead_timer.stop()

    def _follow_playhead(self) -> None:
        position = self.player.position_s
        self.view.set_playhead(position)
        t0, t1 = self.view.view_range()
        if position > t1 or position < t0:
            span = t1 - t0
            self.view.set_view(position - 0.02 * span, span)
        if not self.player.playing:
            self._playhead_timer.stop()
            self.player.stop()
            if self.player.error is not None:
                self.statusBar().showMessage(f"Playback stopped: {self.player.error}")

    # -- waiting (screenshots, tests) -------------------------------------------------------

    def is_ready(self) -> bool:
        """Everything asked for is on screen: files checked, visible tiles drawn, overview done."""
        if self.probes_pending:
            return False
        if self.current is None:
            return not self.recordings  # nothing that could be shown
        return self.view.visible_tiles_complete() and self.overview.finished

    def wait_until_ready(self, timeout_s: float = 60.0) -> bool:
        deadline = time.monotonic() + timeout_s
        app = QApplication.instance()
        while time.monotonic() < deadline:
            app.processEvents()
            if self.is_ready():
                self.overview._refresh()
                app.processEvents()
                return True
            time.sleep(0.005)
        return False

    def _on_model_activated(self) -> None:
        self._on_models_changed()
        self.scoring.start()  # the new active model scores what it has not scored yet

    def closeEvent(self, event) -> None:
        if self.retrain.running:
            answer = QMessageBox.question(
                self,
                "A training job is running",
                "Stop the training job?\n\nNo: it goes on in the background, and its model is added to the "
                "project when you open it next.",
                QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No | QMessageBox.StandardButton.Cancel,
            )
            if answer == QMessageBox.StandardButton.Cancel:
                event.ignore()
                return
            if answer == QMessageBox.StandardButton.Yes:
                self.retrain.job.process.cancel()
        self.shutdown()
        super().closeEvent(event)

    def shutdown(self) -> None:
        self.stop_playback()
        self.scoring.shutdown()
        self.overview.shutdown()
        self.tiles.shutdown()
        self._probes.close()
        for recording in self.recordings.values():
            recording.close()
        if self.project is not None:
            self.project.close()
            self.project = None
