"""The review queue dock: candidates of the active model, one at a time, verdicts by keyboard.

Keys (the Review menu, wherever the focus is but in a text field): Ctrl+R starts (and gives the
keyboard to the spectrogram), Y or C confirm, N or X reject (a hard negative), U uncertain, R
relabel with the Species field, S next, B previous; Space plays (the Playback menu). While a box
is selected N and U act on it, and while a label is selected N, U, R, C and X act on it (the
Labels menu): the verdicts give those keys up meanwhile (:meth:`ReviewController.set_taken_keys`),
and their menu entries show the keys they hold.

Above the list, the candidate close up (:class:`~birdview.gui.candidate_view.CandidatePreview`):
its spectrogram with a second and a half either side, its species and score, and buttons that play
it alone or with that context.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QAction
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QDockWidget,
    QDoubleSpinBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QMainWindow,
    QMenu,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from birdview.gui.candidate_view import CONTEXT_S, CandidatePreview
from birdview.gui.shortcuts import portable, set_keys
from birdview.gui.sizing import fit_columns
from birdview.gui.workers import WorkerPool
from birdview.jobs.species_filter import shown_species
from birdview.review.queue import (
    INFORMATIVE,
    MIX_TEXT,
    ORDERS,
    Candidate,
    progress,
    queue_with_progress,
    record_verdicts,
    verdicts_of,
)
from birdview.review.similarity import (
    NotScoredError,
    Query,
    save_for_review,
    similar_in,
    similar_list,
    similar_queue_with_progress,
)
from birdview.spectrogram.clock import UNKNOWN, date_text, wall_clock
from birdview.store.labels import Verdict
from birdview.store.project import ModelRow, Project, ProjectError
from birdview.store.selection import Selection
from birdview.store.sites import site_of

ALL_SPECIES = "all species"
REVIEW_COLUMNS = ("Species", "Score", "Verdict", "Time", "Site", "Date", "Recording")
VERDICT_COLUMN, TIME_COLUMN = REVIEW_COLUMNS.index("Verdict"), REVIEW_COLUMNS.index("Time")
SCORE_COLUMN = REVIEW_COLUMNS.index("Score")
#: The Order box's entry for the kept "similar" list (its item data; its text counts the hits).
SIMILAR = "similar"
#: Windows Labels ▸ Find similar keeps.
SIMILAR_TOP = 200
#: Rows listed in the table; the queue itself can be longer (S goes on past them).
MAX_ROWS = 500


class ReviewPanel(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout = QVBoxLayout(self)
        form = QFormLayout()
        self.species = QComboBox()
        self.species.setEditable(True)
        self.species.setInsertPolicy(QComboBox.InsertPolicy.NoInsert)
        self.min_score = QDoubleSpinBox(minimum=0, maximum=1, singleStep=0.05, decimals=2, value=0.5)
        self.max_score = QDoubleSpinBox(minimum=0, maximum=1, singleStep=0.05, decimals=2, value=1.0)
        self.order = QComboBox()
        for order in ORDERS:
            self.order.addItem(order, order)
        self.order_note = QLabel()
        self.order_note.setObjectName("review_order_note")
        self.order_note.setWordWrap(True)
        self.order_note.hide()
        self.show_reviewed = QCheckBox("Show reviewed too")
        self.expected_only = QCheckBox("Only expected species, no non-birds")  # fits the dock
        self.expected_only.setObjectName("review_expected_only")
        self.expected_only.setChecked(True)
        self.expected_only.setToolTip(
            "The species list of the project, or BirdNET's species for each recording's site and week; "
            "and no Human vocal, Dog, Engine... Untick to review every class of the model."
        )
        self.auto_play = QCheckBox("Play each candidate")
        form.addRow("Species", self.species)
        form.addRow("Score from", self.min_score)
        form.addRow("Score to", self.max_score)
        form.addRow("Order by", self.order)
        form.addRow(self.order_note)  # the whole row: what the chosen order mixes
        form.addRow(self.show_reviewed)  # the whole row: the dock is narrow
        form.addRow(self.expected_only)  # the whole row: the dock is narrow
        form.addRow(self.auto_play)  # the whole row: the dock is narrow
        layout.addLayout(form)
        self.counter = QLabel("no model")
        layout.addWidget(self.counter)
        self.preview = CandidatePreview()
        layout.addWidget(self.preview)
        self.table = QTableWidget(0, 7)
        # What a reviewer reads first comes first: the narrow dock shows these without scrolling.
        self.table.setHorizontalHeaderLabels(list(REVIEW_COLUMNS))
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().hide()
        fit_columns(self.table)
        layout.addWidget(self.table)
        batch = QHBoxLayout()
        self.confirm_all = QPushButton("Confirm all listed")
        self.reject_all = QPushButton("Reject all listed")
        batch.addWidget(self.confirm_all)
        batch.addWidget(self.reject_all)
        layout.addLayout(batch)


class ReviewController(QObject):
    candidateShown = Signal(object)
    #: The list was refilled and is empty: no candidate is under review any more.
    candidateCleared = Signal()
    thresholdApplied = Signal(str, float)
    #: Find similar's example is in windows the model has not scored: (the NotScoredError, and
    #: the search to run again once they are: (recording id, start s, end s, species)).
    scoringNeeded = Signal(object, object)

    def __init__(
        self,
        window: QMainWindow,
        menu: QMenu,
        project: Callable[[], Project | None],
        show: Callable[[Candidate], None],
        play: Callable[[Candidate], None],
        species_code: Callable[[], str],
        changed: Callable[[], None],
    ) -> None:
        super().__init__(window)
        self.window = window
        self.panel = ReviewPanel()
        self._project, self._show, self._play = project, show, play
        self._species_code, self._changed = species_code, changed
        self.queue: list[Candidate] = []
        self.position = -1
        #: The window's filter (sites, dates, hours): only candidates inside it are queued.
        self.selection = Selection()
        self._workers = WorkerPool("review-queue", owner=self)
        #: The menu's actions by name, and the keys each has when no selection takes some of them.
        self.actions: dict[str, QAction] = {}
        self.keys: dict[str, tuple[str, ...]] = {}
        for name, text, keys, slot in (
            ("start", "Start reviewing", ("Ctrl+R",), self.start),
            (None, None, None, None),
            ("confirm", "Confirm", ("Y", "C"), lambda: self.verdict(Verdict.CONFIRM)),
            ("reject", "Reject (hard negative)", ("N", "X"), lambda: self.verdict(Verdict.REJECT)),
            ("uncertain", "Uncertain", ("U",), lambda: self.verdict(Verdict.UNCERTAIN)),
            ("relabel", "Relabel with the Species field", ("R",), lambda: self.verdict(Verdict.RELABEL)),
            (None, None, None, None),
            ("next", "Next candidate", ("S",), lambda: self.step(1)),
            ("previous", "Previous candidate", ("B",), lambda: self.step(-1)),
            (None, None, None, None),
        ):
            if name is None:
                menu.addSeparator()
                continue
            action = QAction(text, window)
            set_keys(action, keys)
            # A key held down gives one verdict, not one per auto-repeat (S and B may run on).
            action.setAutoRepeat(name in ("next", "previous"))
            action.triggered.connect(slot)
            menu.addAction(action)
            window.addAction(action)
            self.actions[name], self.keys[name] = action, keys
        menu.addAction("Summary and thresholds…").triggered.connect(self.open_summary)
        self.summary_dialog = None
        panel = self.panel
        for widget in (panel.min_score, panel.max_score):
            widget.valueChanged.connect(self.start)
        for combo in (panel.species, panel.order):
            combo.currentIndexChanged.connect(self.start)
        panel.show_reviewed.toggled.connect(self.start)
        panel.expected_only.toggled.connect(self.start)
        panel.order.currentIndexChanged.connect(lambda _index: self._note_order())
        panel.table.cellClicked.connect(lambda row, _column: self.go_to(row))
        panel.confirm_all.clicked.connect(lambda: self.batch("confirm"))
        panel.reject_all.clicked.connect(lambda: self.batch("reject"))
        panel.preview.play_button.clicked.connect(lambda: self.play_current())
        panel.preview.play_context.clicked.connect(lambda: self.play_current(CONTEXT_S))

    def set_taken_keys(self, taken: frozenset[str]) -> None:
        """Keys (portable text) another enabled action holds now: the actions here give them up
        until they are free again, so a key never means two things (Qt would then do neither)."""
        for name, action in self.actions.items():
            set_keys(action, [key for key in self.keys[name] if portable(key) not in taken])

    @property
    def active(self) -> bool:
        return 0 <= self.position < len(self.queue)

    @property
    def current(self) -> Candidate | None:
        return self.queue[self.position] if self.active else None

    def play_current(self, context_s: float = 0.0) -> None:
        """Play the candidate under review, with ``context_s`` seconds either side."""
        candidate = self.current
        if candidate is not None:
            start, end = max(0.0, candidate.start_s - context_s), candidate.end_s + context_s
            self._play(dataclasses.replace(candidate, start_s=start, end_s=end))

    def set_model(self, model: ModelRow | None) -> None:
        """The active model changed: its classes are the species to filter by; the queue is refilled."""
        self.set_classes(model.classes if model is not None else [])

    def set_classes(self, classes: list[str]) -> None:
        self.panel.species.blockSignals(True)
        self.panel.species.clear()
        self.panel.species.addItems([ALL_SPECIES, *classes])
        self.panel.species.blockSignals(False)
        self.reload()

    @property
    def order(self) -> str:
        return self.panel.order.currentData() or self.panel.order.currentText()

    def _note_order(self, kept: dict | None = None) -> None:
        """The line under the Order box: the mix of "most informative", or what "similar" holds."""
        note = self.panel.order_note
        if self.order == INFORMATIVE:
            note.setText(MIX_TEXT)
        elif self.order == SIMILAR:
            project = self._project()
            kept = kept if kept is not None else (similar_list(project) if project is not None else None)
            note.setText(
                f"Windows most similar to {len(kept['examples'])} example(s), as candidates of {kept['species']}"
                if kept
                else ""
            )
        else:
            note.setText("")
        note.setVisible(bool(note.text()))

    def _refresh_similar(self, select: bool = False) -> None:
        """Offer the kept "similar" list in the Order box while there is one (``select``: choose it)."""
        project = self._project()
        kept = similar_list(project) if project is not None else None
        combo = self.panel.order
        index = combo.findData(SIMILAR)
        combo.blockSignals(True)
        if kept is None and index >= 0:
            if combo.currentIndex() == index:
                combo.setCurrentIndex(0)
            combo.removeItem(index)
        elif kept is not None:
            text = f"similar to the examples ({len(kept['hits'])})"
            if index < 0:
                combo.addItem(text, SIMILAR)
                index = combo.count() - 1
            combo.setItemText(index, text)
            if select:
                combo.setCurrentIndex(index)
        combo.blockSignals(False)
        self._note_order(kept)

    def _filters(self) -> dict:
        species = self.panel.species.currentText()
        return {
            "species": None if species in ("", ALL_SPECIES) else species,
            "min_score": self.panel.min_score.value(),
            "max_score": self.panel.max_score.value(),
            "expected_only": self.panel.expected_only.isChecked(),
            "selection": None if self.selection.everything else self.selection,
        }

    def set_selection(self, selection: Selection) -> None:
        """The window's filter changed: the queue is refilled with the candidates inside it."""
        if selection != self.selection:
            self.selection = selection
            self.reload(background=True)

    def start(self) -> None:
        """Reload the queue and show its first candidate (the Review dock comes to the front)."""
        dock = self.panel.parentWidget()
        while dock is not None and not isinstance(dock, QDockWidget):  # inside a scroll area
            dock = dock.parentWidget()
        if dock is not None:
            dock.raise_()
        self.reload(navigate=True)

    def reload(self, navigate: bool = False, background: bool = False) -> None:
        """Refill the queue from the filters; the view moves only when ``navigate`` is set
        (a finished scoring run must not yank the view away from what the user is doing).
        ``background`` computes the queue on a worker thread (with its own connection) and fills
        the table when it is ready, so the window never waits for it."""
        project = self._project()
        model = project.active_model() if project is not None else None
        if model is None:
            self.queue, self.position = [], -1
            self.panel.counter.setText("no model: add one in the Models menu")
            self._fill()
            self.candidateCleared.emit()
            return
        self._refresh_similar()
        options = dict(
            order=self.order,
            show="all" if self.panel.show_reviewed.isChecked() else "unreviewed",
            **self._filters(),
        )
        if not background:
            self._apply(self._compute(project, model.version, options), navigate)
            return
        folder, version = project.folder, model.version
        worker = self._workers.run(
            self._compute, version, options, project=folder, wanted=lambda: self._still_wanted(folder, version)
        )
        worker.result.connect(lambda result: self._apply(result, navigate))
        worker.error.connect(lambda message: self._apply(message, navigate))

    def _compute(self, project: Project, version: int, options: dict) -> tuple[list[Candidate], int, int] | str:
        try:
            if options["order"] == SIMILAR:  # the kept hits, by similarity; the filters do not apply
                return similar_queue_with_progress(project, options["show"])
            return queue_with_progress(project, version, **self._with_allowed(project, options))
        except ProjectError as exc:
            return str(exc)

    def _with_allowed(self, project: Project, options: dict) -> dict:
        """The filters, with the species shown per recording (the expected ones, no non-birds)."""
        expected = options.pop("expected_only", False)
        if expected:
            try:
                options["allowed"] = shown_species(project)
            except ProjectError:  # an unreadable species list (the tracks' switch says so): no list
                options["allowed"] = shown_species(project, expected_only=False)
        return options

    def _still_wanted(self, folder: Path, version: int) -> bool:
        project = self._project()
        model = project.active_model() if project is not None else None
        # The project may have been closed or switched, or another model activated, meanwhile.
        return project is not None and project.folder == folder and model is not None and model.version == version

    def _apply(self, result: tuple[list[Candidate], int, int] | str, navigate: bool) -> None:
        if isinstance(result, str):
            self.window.statusBar().showMessage(result)
            result = ([], 0, 0)
        self.queue, done, total = result
        self.position = 0 if self.queue else -1
        self._fill()
        self.panel.counter.setText(f"{done} of {total} reviewed")
        if navigate and self.active:
            self.go_to(self.position)
        elif not self.queue:
            self.candidateCleared.emit()

    def _count(self) -> None:
        project = self._project()
        model = project.active_model() if project is not None else None
        if model is None:
            return
        if self.order == SIMILAR:
            _, done, total = similar_queue_with_progress(project, "all")
        else:
            done, total = progress(project, model.version, **self._with_allowed(project, self._filters()))
        self.panel.counter.setText(f"{done} of {total} reviewed")

    def _fill(self) -> None:
        table = self.panel.table
        project = self._project()
        recordings = {r.id: r for r in project.recordings()} if project is not None else {}
        shown = self.queue[:MAX_ROWS]
        table.setRowCount(len(shown))
        header = "Similarity" if self.order == SIMILAR else "Score"
        table.setHorizontalHeaderItem(SCORE_COLUMN, QTableWidgetItem(header))
        verdicts = verdicts_of(project, shown) if project is not None else [None] * len(shown)
        for row, (candidate, verdict) in enumerate(zip(shown, verdicts, strict=True)):
            verdict = verdict or ""
            recording = recordings.get(candidate.recording_id)
            time, offset = wall_clock(recording, candidate.start_s)  # the offset from the file start: the tooltip
            values = (
                candidate.species,
                f"{candidate.score:.3f}",
                verdict,
                time,
                (site_of(project, recording) if recording is not None else None) or UNKNOWN,
                date_text(recording, candidate.start_s),
                recording.name if recording is not None else "",
            )
            for column, value in enumerate(values):
                table.setItem(row, column, QTableWidgetItem(value))
            table.item(row, TIME_COLUMN).setToolTip(offset)

    def go_to(self, row: int) -> None:
        if not 0 <= row < len(self.queue):
            return
        self.position = row
        if row < self.panel.table.rowCount():
            self.panel.table.selectRow(row)
        candidate = self.queue[row]
        self._show(candidate)
        if self.panel.auto_play.isChecked():
            self._play(candidate)
        self.candidateShown.emit(candidate)

    def step(self, by: int) -> None:
        if self.queue:
            self.go_to(min(max(self.position + by, 0), len(self.queue) - 1))

    def verdict(self, kind: str) -> bool:
        """A verdict on the current candidate; the queue then moves to the next one."""
        project, candidate = self._project(), self.current
        if project is None or candidate is None:
            self.window.statusBar().showMessage("No candidate to judge: Review ▸ Start reviewing (Ctrl+R)")
            return False
        species = None
        if kind == Verdict.RELABEL:  # the Species field: a code, or a name that stands for one
            typed = self._species_code()
            species = (project.resolve_species(typed) or typed) if typed else None
        try:
            record_verdicts(project, [candidate], kind, species)
        except ProjectError as exc:
            self.window.statusBar().showMessage(f"Not saved: {exc}")
            return True
        if self.position < self.panel.table.rowCount():
            self.panel.table.setItem(self.position, VERDICT_COLUMN, QTableWidgetItem(kind))
        when, _ = wall_clock(project.recording(candidate.recording_id), candidate.start_s, 1.0)
        self.window.statusBar().showMessage(f"{kind}: {candidate.species} at {when}")
        self._count()
        self._changed()
        if self.position + 1 < len(self.queue):
            self.go_to(self.position + 1)
        return True

    def open_summary(self):
        from birdview.gui.summary_dialog import SummaryDialog

        project = self._project()
        if project is None or project.active_model() is None:
            self.window.statusBar().showMessage("The summary needs a project with a model")
            return None
        self.summary_dialog = SummaryDialog(project, self._threshold_applied, self.window, background=True)
        self.summary_dialog.show()
        return self.summary_dialog

    def _threshold_applied(self, species: str, threshold: float) -> None:
        self.window.statusBar().showMessage(f"Threshold for {species}: {threshold:.2f}")
        self.thresholdApplied.emit(species, threshold)

    def batch(self, kind: str) -> int:
        project = self._project()
        if project is None or not self.queue:
            return 0
        added = record_verdicts(project, list(self.queue), kind)
        self.window.statusBar().showMessage(f"{kind}: {len(self.queue)} detection(s) (one undo step)")
        self._changed()
        self.reload()
        return len(added)

    # -- find similar -----------------------------------------------------------------------------

    def find_similar(self, recording_id: int, start_s: float, end_s: float, species: str) -> bool:
        """Search the project (the recordings inside the window's filter) for windows like this span
        (the active model's embeddings) on a worker thread, keep them as the "similar" list of
        ``species`` and show it in the queue."""
        project = self._project()
        model = project.active_model() if project is not None else None
        if model is None or not model.embedding_dim:
            self.window.statusBar().showMessage("Find similar needs an active model that keeps embeddings")
            return False
        folder, version = project.folder, model.version
        self.window.statusBar().showMessage(f"Finding windows like {start_s:.1f}-{end_s:.1f} s…")
        worker = self._workers.run(
            _find_and_keep,
            version,
            recording_id,
            start_s,
            end_s,
            species,
            self.selection,
            project=folder,
            wanted=lambda: self._still_wanted(folder, version),
        )
        worker.result.connect(self._found)
        worker.error.connect(lambda message: self.window.statusBar().showMessage(f"Find similar: {message}"))
        return True

    def _found(
        self, result: tuple[int, str, tuple[list[Candidate], int, int]] | tuple[NotScoredError, tuple] | str
    ) -> None:
        if isinstance(result, tuple) and isinstance(result[0], NotScoredError):
            error, search_again = result
            self.window.statusBar().showMessage(f"Find similar: {error}")
            self.scoringNeeded.emit(error, search_again)
            return
        if isinstance(result, str):
            self.window.statusBar().showMessage(f"Find similar: {result}")
            return
        count, species, queue = result
        self._refresh_similar(select=True)
        dock = self.panel.parentWidget()
        while dock is not None and not isinstance(dock, QDockWidget):
            dock = dock.parentWidget()
        if dock is not None:
            dock.raise_()
        self._apply(queue, navigate=True)
        self.window.statusBar().showMessage(f"{count} window(s) like it, to review as {species}")


def _find_and_keep(
    project: Project,
    version: int,
    recording_id: int,
    start_s: float,
    end_s: float,
    species: str,
    selection: Selection | None = None,
) -> tuple[int, str, tuple[list[Candidate], int, int]] | tuple[NotScoredError, tuple] | str:
    """On a worker thread: search (only the recordings and hours the window's filter keeps), keep
    the hits as the "similar" list, and its queue; an example the model has not scored yet comes
    back with the search to run again once it has."""
    try:
        query = Query(project.recording(recording_id), start_s, end_s)
        hits = similar_in(project, version, query, selection, SIMILAR_TOP)
        save_for_review(project, version, [query], hits, species)
        return len(hits), species, similar_queue_with_progress(project, "unreviewed")
    except NotScoredError as exc:
        return exc, (recording_id, start_s, end_s, species)
    except ProjectError as exc:
        return str(exc)
