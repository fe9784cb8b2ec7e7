"""The main window: recordings on the left, overview and spectrogram in the middle, settings on
the right, playback on the keyboard.

The window builds the widgets and controllers and wires them; the work is theirs. Files are
checked, listed and added to the project by :class:`RecordingLoader`, played by
:class:`PlaybackController`, scrolled by :class:`Navigation`; display settings are applied and
kept by :class:`DisplayController`, projects chosen and opened by :class:`ProjectOpener`;
labelling, project actions, scoring, review and retraining own their menus and docks.
Start-up order: controllers built later are reached through signals connected in ``_connect``,
once everything exists (a labelling key with nothing to act on asks the review queue for a
verdict through ``LabelingController.verdictRequested``; a new active model reaches the
probability panel and the review queue through :attr:`MainWindow.activeModelChanged`).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

from PySide6.QtCore import QSettings, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QCloseEvent, QDragEnterEvent, QDropEvent, QKeySequence
from PySide6.QtWidgets import QApplication, QDockWidget, QMainWindow, QMessageBox, QVBoxLayout, QWidget

from birdview.audio.playback import StreamFactory, sounddevice_stream
from birdview.audio.recording import Recording
from birdview.gui.candidate_view import CandidateOverlay
from birdview.gui.channel_stack import ChannelStack
from birdview.gui.display_controller import DisplayController
from birdview.gui.export_view import ViewExporter
from birdview.gui.labeling import LabelingController
from birdview.gui.navigation import Navigation
from birdview.gui.overview_strip import OverviewStrip
from birdview.gui.playback_controller import NO_AUDIO_TEXT, PlaybackController
from birdview.gui.probability_panel import ProbabilityPanel
from birdview.gui.project_actions import ProjectActions
from birdview.gui.project_opener import ProjectOpener, StartHint
from birdview.gui.recording_loader import RecordingLoader
from birdview.gui.recordings_panel import RecordingsPanel
from birdview.gui.retrain_panel import RetrainController
from birdview.gui.review_panel import ReviewController
from birdview.gui.scoring_controller import ScoringController
from birdview.gui.season_dialog import SeasonDialog
from birdview.gui.selection_bar import SelectionBar, SelectionState
from birdview.gui.shortcuts import WindowKeys
from birdview.gui.sizing import scrolling
from birdview.gui.spectrogram_view import SpectrogramView
from birdview.gui.waveform_strip import WaveformStrip
from birdview.jobs.species_filter import SpeciesFilter, species_filter
from birdview.review.queue import Candidate
from birdview.review.tracks import visible_tracks
from birdview.spectrogram.cache import OverviewCache, TileDiskCache
from birdview.spectrogram.service import TileService
from birdview.store.project import Annotation, ModelRow, Project, ProjectError, RecordingRow
from birdview.store.sites import site_of

__all__ = ["NO_AUDIO_TEXT", "MainWindow"]

_LEFT, _RIGHT = Qt.DockWidgetArea.LeftDockWidgetArea, Qt.DockWidgetArea.RightDockWidgetArea
#: Docks' widths on first show (px), so the spectrogram gets at least 60 % of a 1400 px window;
#: dock contents scroll rather than hold their dock wider than this.
_LEFT_WIDTH, _RIGHT_WIDTH, _DOCK_MIN_WIDTH = 230, 300, 160


class MainWindow(QMainWindow):
    activeModelChanged = Signal(object)  # the project's active ModelRow, or None

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
        self.tiles = TileService(workers=tile_workers, disk=TileDiskCache(tile_cache_dir) if tile_cache_dir else None)
        self.project: Project | None = None
        self.current: Recording | None = None
        # The species shown by default, by recording id (the geo model takes ~50 ms), and the
        # species that are not birds; both forgotten when the project or its models change.
        self._species_filters: dict[int, SpeciesFilter] = {}
        self._non_birds: frozenset[str] | None = None
        self.view = SpectrogramView(self.tiles)
        self.channels = ChannelStack(self.view, self.tiles, self)  # a pane under the view per other channel
        self.overview = OverviewStrip()
        self.waveform = WaveformStrip(self.view)  # View ▸ Waveform shows it
        self.display = DisplayController(self.settings, self.view, self.overview, self, channels=self.channels)
        self.display_panel = self.display.panel
        self.probabilities = ProbabilityPanel(self.view)
        self.navigation = Navigation(self.view, self.overview, self)
        self.scrollbar = self.navigation.scrollbar
        self.recordings_panel = RecordingsPanel()
        self.loader = RecordingLoader(self.recordings_panel, self._project, self)
        # The one filter (sites, dates, hours) the recordings list, Labels table and review queue follow.
        self.selection_state = SelectionState(self)
        listed = self.recordings_panel.recordings_model
        self.selection_bar = SelectionBar(
            self.selection_state, listed.entries, lambda: (listed.shown, listed.shown_hours)
        )
        self.season_dialog: SeasonDialog | None = None
        self.playback = PlaybackController(stream_factory, self.view, self.display_panel, self)
        self.player, self.audio_label = self.playback.player, self.playback.audio_label
        self._build_layout()
        self._build_menus()
        self._build_controllers()
        self._connect()
        # Keys: one per dock, Esc back to the spectrogram, Help ▸ Keyboard shortcuts (every dock exists now).
        self.keys = WindowKeys(self, self.view, self.labeling, self.review)
        self.statusBar().showMessage("Open recordings with File ▸ Open, or drop files or folders here.")
        self.start_hint = StartHint(self)  # the empty window says how to begin; the status bar, what next

    # -- building -----------------------------------------------------------------------------

    def _build_layout(self) -> None:
        central = QWidget()
        layout = QVBoxLayout(central)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.setSpacing(2)
        strips = ((self.overview, 0), (self.waveform, 0), (self.view, 1), (self.probabilities, 0), (self.scrollbar, 0))
        for widget, stretch in strips:
            layout.addWidget(widget, stretch=stretch)
        self.channels.place_in(layout)  # the other channels' panes go under the view
        self.probabilities.hide()  # shown once the project has a model
        self.setCentralWidget(central)
        recordings = QWidget()
        recordings.setObjectName("RecordingsDock")
        column = QVBoxLayout(recordings)
        column.setContentsMargins(0, 0, 0, 0)
        column.setSpacing(0)
        column.addWidget(self.selection_bar)
        column.addWidget(self.recordings_panel, stretch=1)
        self.resizeDocks([self._add_dock("Recordings", recordings, _LEFT)], [_LEFT_WIDTH], Qt.Orientation.Horizontal)
        self._add_dock("Display", self.display_panel, _RIGHT)
        self.statusBar().addPermanentWidget(self.navigation.cursor_label)
        self.statusBar().addPermanentWidget(self.audio_label)

    def _add_dock(self, title: str, widget: QWidget, area: Qt.DockWidgetArea) -> QDockWidget:
        dock = QDockWidget(title, self)
        dock.setObjectName(title)
        dock.setWidget(scrolling(widget))  # contents wider or taller than the dock scroll
        dock.setMinimumWidth(_DOCK_MIN_WIDTH)
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
        add = partial(self._action, file_menu)
        add("Open files…", lambda: self.loader.choose_files(self), QKeySequence.StandardKey.Open)
        add("Open folder…", lambda: self.loader.choose_folder(self), "Ctrl+Shift+O")
        file_menu.addSeparator()
        self.project_opener = ProjectOpener(self, self.settings, file_menu, add, self.open_project)
        self.view_exporter = ViewExporter(self, self.settings, self.view, self.probabilities)
        self.view_exporter.message.connect(self.statusBar().showMessage)
        add("Export view…", self.view_exporter.choose, "Ctrl+Shift+E")
        file_menu.addSeparator()
        view_menu = self.menuBar().addMenu("&View")
        self.navigation.add_actions(partial(self._action, view_menu))
        self.display.add_actions(partial(self._action, view_menu))
        self.addAction(self.waveform.add_action(view_menu, self.settings))
        add = partial(self._action, self.menuBar().addMenu("&Playback"))
        add("Play / pause", self.toggle_playback, "Space")
        add("Next recording", lambda: self._step_recording(1), "Ctrl+PgDown")
        add("Previous recording", lambda: self._step_recording(-1), "Ctrl+PgUp")

    def _build_controllers(self) -> None:
        project = self._project
        labels_menu = self.menuBar().addMenu("&Labels")
        self.labeling = LabelingController(self, self.view, labels_menu)
        self.project_actions = ProjectActions(
            self, self.file_menu, project, lambda: self.current.path if self.current else None, self.labeling.refresh
        )
        self.file_menu.addSeparator()
        self._action(self.file_menu, "Quit", self.close, QKeySequence.StandardKey.Quit)
        models_menu = self.menuBar().addMenu("&Models")
        self.scoring = ScoringController(self, models_menu, project, self._on_models_changed, self._on_scored)
        self.review_menu = self.menuBar().addMenu("&Review")
        self.review = ReviewController(
            self,
            self.review_menu,
            project,
            self._show_candidate,
            lambda candidate: self.playback.play_span(candidate.start_s, candidate.end_s),
            self.labeling.species_field.code,
            self._after_review,
        )
        self.review_menu.addAction("Summary by site and time…").triggered.connect(self.open_season_summary)
        labels_menu.addSeparator()
        self.find_similar_action = self._action(labels_menu, "Find similar", self.find_similar, "F")
        #: Find similar on an unscored example: the offer to score, and the search it runs after.
        self.score_first_box: QMessageBox | None = None
        self._search_after_scoring: tuple | None = None
        self.review.scoringNeeded.connect(self._offer_scoring)
        self.scoring.finished.connect(self._search_again)
        self.retrain = RetrainController(self, models_menu, project, self._on_model_activated)
        display_dock = self.findChild(QDockWidget, "Display")
        review_dock = self._add_dock("Review", self.review.panel, _RIGHT)
        self.tabifyDockWidget(display_dock, review_dock)
        self.tabifyDockWidget(review_dock, self._add_dock("Retrain", self.retrain.panel, _RIGHT))
        display_dock.raise_()
        self.resizeDocks([display_dock], [_RIGHT_WIDTH], Qt.Orientation.Horizontal)
        # The candidate under review, above the image, its caption placed first by the label layer;
        # labels' captions keep clear of the detections' ones; each kind of label can be hidden.
        layer = self.labeling.layer
        self.candidate_overlay = self.candidate_region = CandidateOverlay(self.view, layer)
        layer.display_name = self.probabilities.display_name
        layer.reserved = lambda: self.probabilities.captions
        view_menu = next(action.menu() for action in self.menuBar().actions() if action.text() == "&View")
        view_menu.addSeparator()
        view_menu.addActions(list(layer.source_actions.values()))
        self.review.candidateCleared.connect(self._clear_candidate)
        self.resizeDocks(
            [self._add_dock("Labels", self.labeling.panel, _LEFT)], [_LEFT_WIDTH], Qt.Orientation.Horizontal
        )

    def _connect(self) -> None:
        status = self.statusBar().showMessage
        for controller in (self.loader, self.project_opener, self.playback, self.display, self.channels):
            controller.message.connect(status)
        self.loader.problem.connect(status)
        self.project_opener.refused.connect(self.problems.append)
        self.loader.firstOpenable.connect(lambda path: self.current is None and self.show_recording(path))
        self.loader.addedToProject.connect(lambda _row: self.retrain.set_recordings(self.project.recordings()))
        self.recordings_panel.recordingActivated.connect(self.show_recording)
        self.selection_state.selection_changed.connect(self.recordings_panel.set_selection)
        self.selection_state.selection_changed.connect(self.labeling.set_selection)
        self.selection_state.selection_changed.connect(self.review.set_selection)
        self.selection_bar.groupingChanged.connect(self.recordings_panel.set_grouped)
        self.recordings_panel.recordings_model.modelReset.connect(self.selection_bar.refresh)
        self.display.spectrogramChanged.connect(lambda _settings: self.labeling.redraw())
        self.channels.panesChanged.connect(self._on_panes_changed)
        self.view.viewChanged.connect(self._on_view_changed)
        self.view.tileFailed.connect(lambda message: status(f"Cannot draw: {message}"))
        self.labeling.verdictRequested.connect(self.review.verdict)
        self.activeModelChanged.connect(self._show_model)
        self.activeModelChanged.connect(lambda _model: self.refresh_tracks())
        self.probabilities.filtersChanged.connect(self.refresh_tracks)
        self.probabilities.chosenChanged.connect(self.refresh_tracks)
        self.activeModelChanged.connect(self.review.set_model)
        self.review.thresholdApplied.connect(lambda _species, value: self.probabilities.set_threshold(value))
        self.retrain.finished.connect(lambda model: model is not None and self.scoring.prepare(model.version))

    # -- find similar ---------------------------------------------------------------------------

    def find_similar(self) -> bool:
        """Labels ▸ Find similar (F): windows like the selected label, else the drawn box, else the
        review candidate, searched on a worker thread and listed in the Review dock as candidates
        of its species (the Species field's when it has none)."""
        project, labeling, candidate = self.project, self.labeling, self.review.current
        if project is None:
            return False
        species = None
        if labeling.layer.selected_id is not None:
            label = project.annotation(labeling.layer.selected_id)
            span, species = (label.recording_id, label.start_s, label.end_s), label.species
        elif self.view.selection is not None and labeling.recording is not None:
            t0, t1, _low, _high = self.view.selection
            span = (labeling.recording.id, t0, t1)
        elif candidate is not None:
            span, species = (candidate.recording_id, candidate.start_s, candidate.end_s), candidate.species
        else:
            self.statusBar().showMessage("Find similar: select a label, draw a box or start reviewing first")
            return False
        if not species:
            typed = labeling.species_field.code()
            species = (project.resolve_species(typed) or typed) if typed else None
        if not species:
            self.statusBar().showMessage("Find similar: type the species in the Species field, then press F again")
            labeling.focus_species_field()
            return False
        return self.review.find_similar(*span, species)

    def _offer_scoring(self, error: object, search: tuple) -> None:
        """The example has no embeddings yet: say so and offer to score now (window-modal, no
        nested event loop); Find similar runs again once scoring is done."""
        recording = getattr(error, "recording", None)
        model = getattr(error, "model", None)
        what = f"{recording.name} is" if recording is not None else "This part of the recording is"
        box = QMessageBox(
            QMessageBox.Icon.Question,
            "Score first",
            f"{what} not scored by {model.label if model is not None else 'the active model'} yet, so it has no "
            "embeddings to compare with: score it first.\n\nScore the unscored recordings now? Find similar runs "
            "again when scoring is done.",
            parent=self,
        )
        box.setObjectName("score_first")
        score_now = box.addButton("Score now", QMessageBox.ButtonRole.AcceptRole)
        box.addButton(QMessageBox.StandardButton.Cancel)
        box.buttonClicked.connect(lambda button: button is score_now and self._score_then_search(search))
        box.open()
        self.score_first_box = box

    def _score_then_search(self, search: tuple) -> None:
        if self.scoring.start():
            self._search_after_scoring = search

    def _search_again(self, result: object) -> None:
        search, self._search_after_scoring = self._search_after_scoring, None
        if search is not None and result is not None and not getattr(result, "cancelled", False):
            self.review.find_similar(*search)

    # -- recordings ---------------------------------------------------------------------------

    @property
    def recordings(self) -> dict[Path, Recording]:
        return self.loader.recordings

    @property
    def problems(self) -> list[str]:
        return self.loader.problems

    @property
    def probes_pending(self) -> bool:
        return self.loader.pending

    def open_paths(self, paths: list[str | Path]) -> None:
        """Open files and folders; each file is checked on a worker thread and listed as it is."""
        self.loader.open_paths(paths)

    def show_recording(self, path: Path) -> None:
        recording = self.loader.recordings.get(Path(path))
        if recording is None or recording is self.current:
            return
        self.playback.set_recording(recording)
        self.current = recording
        self.recordings_panel.select(recording.path)
        self.view.set_recording(recording)
        self.overview.set_recording(recording, self.view.spectrogram_settings)
        self.labeling.set_recording(self.loader.rows.get(recording.path))
        self.refresh_tracks()
        info = recording.info
        self.setWindowTitle(f"birdview — {info.path.name}")
        self.navigation.sync_scrollbar()
        if not info.warning:
            self.statusBar().showMessage(self.loader.summary(info))

    def _step_recording(self, step: int) -> None:
        path = self.loader.step_from(self.current.path if self.current else None, step)
        if path is not None:
            self.show_recording(path)

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if event.mimeData().hasUrls():
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:
        paths = [url.toLocalFile() for url in event.mimeData().urls() if url.isLocalFile()]
        if paths:
            self.open_paths(paths)
            event.acceptProposedAction()

    # -- projects and models ------------------------------------------------------------------

    def open_project(self, folder: str | Path) -> Project | None:
        """Open (or create) a project and list its recordings; new files dropped in are added to it.
        A project that cannot be opened (damaged, not a project) is named in a message and left
        as it is; the project open before stays open."""
        project = self.project_opener.open(folder)
        if project is None:
            return None
        if self.project is not None:
            self.project.close()
        self.project = project
        rows = project.recordings()  # read once: a project may hold 10,000 recordings
        self.loader.set_project_rows(rows)
        self.tiles.disk = TileDiskCache(project.folder / "cache" / "tiles")
        self.overview.cache = OverviewCache(project.folder / "cache" / "overviews")
        self.labeling.set_project(project, self._jump_to_label)
        self._on_models_changed()
        self.retrain.pick_up_finished_jobs()
        self.retrain.set_recordings(rows)
        self.selection_bar.set_sites({site_of(project, row) for row in rows} - {None})
        self.setWindowTitle(f"birdview — {project.folder.name}")
        self.project_opener.remember(project.folder)
        # After the list is shown: looking for each of thousands of files takes a while.
        QTimer.singleShot(0, lambda: self.project is project and self.project_opener.report_missing(project))
        self.open_paths([row.path for row in rows])
        return project

    def _project(self) -> Project | None:
        return self.project

    def _on_models_changed(self) -> None:
        # Another project, or a model's classes became project species, which a species list may name.
        self._species_filters.clear()
        self._non_birds = None
        self.retrain.refresh_versions()
        self.activeModelChanged.emit(self.project.active_model() if self.project is not None else None)

    def _show_model(self, model: ModelRow | None) -> None:
        names = {code: common for code, common, _ in self.project.species_table()} if model is not None else {}
        self.probabilities.set_model(model, names)

    def _on_model_activated(self) -> None:
        self._on_models_changed()
        self.scoring.start()  # the new active model scores what it has not scored yet

    def _on_scored(self) -> None:
        self.refresh_tracks()
        if not self.scoring.running:
            self.review.reload(background=True)

    def refresh_tracks(self) -> None:
        """Probabilities of the active model for the visible range (and half a view either side)."""
        row = self.loader.rows.get(self.current.path) if self.current is not None else None
        model = self.project.active_model() if self.project is not None else None
        if row is None or model is None:
            self.probabilities.show_tracks(None, self.view.spectrogram_settings, 16000.0)
            return
        t0, t1 = self.view.view_range()
        margin = (t1 - t0) / 2
        tracks = visible_tracks(
            self.project,
            model.version,
            row.id,
            t0 - margin,
            t1 + margin,
            chosen=self.probabilities.chosen,
            allowed=self.allowed_species(row, model),
        )
        self.probabilities.show_tracks(tracks, self.view.spectrogram_settings, self.current.sample_rate / 2)

    def allowed_species(self, row: RecordingRow, model: ModelRow) -> set[str] | None:
        """The species the probability panel may show for a recording: those expected there (when
        known and the switch is on), without non-bird classes (unless shown); None: every class."""
        allowed: set[str] | None = None
        if self.probabilities.species_filter_toggle.isChecked():
            expected = self.species_filter_of(row).species
            if expected is not None:
                allowed = set(expected)
        if not self.probabilities.non_bird_toggle.isChecked():
            if self._non_birds is None:
                self._non_birds = frozenset(
                    code for code, category in self.project.species_categories().items() if category != "bird"
                )
            if self._non_birds:
                allowed = (allowed if allowed is not None else set(model.classes)) - self._non_birds
        return allowed

    def species_filter_of(self, row: RecordingRow) -> SpeciesFilter:
        """The species expected for a recording (its species list or the geo model), worked out once."""
        found = self._species_filters.get(row.id)
        if found is None:
            try:
                found = species_filter(self.project, row)
            except ProjectError as exc:  # a species list that cannot be read
                found = SpeciesFilter(None, reason=str(exc))
                self.statusBar().showMessage(f"Every species is shown: {exc}")
            self._species_filters[row.id] = found
        self.probabilities.set_filter_info(
            f"Species from {found.source}" if found.species is not None else f"Every species is shown: {found.reason}"
        )
        return found

    # -- labels and review --------------------------------------------------------------------

    def open_season_summary(self) -> SeasonDialog | None:
        """Review ▸ Summary by site and time: a site × date heat map and a diel plot of the chosen
        species under the window's filter, computed on a worker thread."""
        if self.project is None:
            self.statusBar().showMessage("Summary by site and time: open a project first")
            return None
        if self.season_dialog is None:
            self.season_dialog = SeasonDialog(self, self._project, lambda: self.selection_state.selection)
            self.selection_state.selection_changed.connect(lambda _selection: self.season_dialog.refresh())
            self.activeModelChanged.connect(lambda _model: self.season_dialog.set_project())
        if self.season_dialog.isVisible():
            self.season_dialog.refresh()
        self.season_dialog.show()  # computes when shown
        self.season_dialog.raise_()
        return self.season_dialog

    def _jump_to_label(self, annotation: Annotation) -> None:
        path = self.loader.path_of(annotation.recording_id)
        if path is not None:
            self.show_recording(path)
            self.navigation.centre_on((annotation.start_s + annotation.end_s) / 2)

    def _show_candidate(self, candidate: Candidate) -> None:
        path = self.loader.path_of(candidate.recording_id)
        if path is None:
            return
        self.show_recording(path)
        span = max(self.navigation.span(), 10.0) if self.current else 15.0
        self.navigation.centre_on((candidate.start_s + candidate.end_s) / 2, span)
        name = self.probabilities.display_name(candidate.species)
        self.candidate_overlay.show_candidate(candidate, name)
        self.probabilities.set_focus(candidate.species)
        if self.current is not None and self.current.path == path:  # not while the file is still being checked
            self.review.panel.preview.show_candidate(self.current, candidate, name, self.view, self.tiles)

    def _clear_candidate(self) -> None:
        self.candidate_overlay.hide()
        self.probabilities.set_focus(None)
        self.review.panel.preview.clear()

    def _after_review(self) -> None:
        self.labeling.refresh()
        self.refresh_tracks()

    # -- view, settings and playback ----------------------------------------------------------

    def _on_panes_changed(self, main_channel: int | None, panes: list) -> None:
        """Channels stacked or not: each pane draws the labels of its channel."""
        self.labeling.layer.set_panes(main_channel, panes)
        self.labeling.redraw()

    def _on_view_changed(self, _t0: float, _t1: float) -> None:  # after the navigation's own handler
        self.labeling.refresh_visible()
        self.refresh_tracks()

    def toggle_playback(self) -> None:
        self.playback.toggle()

    def stop_playback(self) -> None:
        self.playback.stop()

    # -- waiting (screenshots, tests) and closing ---------------------------------------------

    def is_ready(self) -> bool:
        """Everything asked for is on screen: files checked, visible tiles drawn, overview done."""
        if self.loader.pending:
            return False
        if self.current is None:
            return not self.loader.recordings  # nothing that could be shown
        return self.channels.visible_tiles_complete() and self.overview.finished

    def wait_until_ready(self, timeout_s: float = 60.0) -> bool:
        """Run the event loop until :meth:`is_ready` (then draw the overview's last state); False on timeout."""
        deadline = time.monotonic() + timeout_s
        app = QApplication.instance()
        while time.monotonic() < deadline:
            app.processEvents()
            if self.is_ready():
                self.overview.refresh()
                app.processEvents()
                return True
            time.sleep(0.005)
        return False

    def closeEvent(self, event: QCloseEvent) -> None:
        if not self.retrain.confirm_close():
            event.ignore()
            return
        self.shutdown()
        super().closeEvent(event)

    def shutdown(self) -> None:
        self.playback.stop()
        self.scoring.shutdown()
        self.overview.shutdown()
        self.waveform.shutdown()
        self.tiles.shutdown()
        self.review.panel.preview.shutdown()  # the close-up's own tile thread
        self.loader.close()
        if self.project is not None:
            self.project.close()
            self.project = None
