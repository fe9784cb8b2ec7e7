"""One-click retraining in the window: the job's live progress, loss and validation curves, log
and cancel; then the new model against the old on the user's held-out labels, to activate or
not; and every version, to roll back to."""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable
from pathlib import Path

import pyqtgraph as pg
from PySide6.QtCore import QObject, QTimer, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QDoubleSpinBox,
    QFormLayout,
    QGridLayout,
    QHeaderView,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QMainWindow,
    QMenu,
    QMessageBox,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from birdview.gui.sizing import fit_columns
from birdview.gui.workers import GuiCallback, WorkerPool
from birdview.jobs.child_process import DONE, JobEvent, JobFinished, PredictStep, TrainStep, Validated
from birdview.jobs.retrain import (
    FULL_EPOCHS,
    PickedUp,
    RetrainJob,
    RetrainRound,
    register_finished_jobs,
    register_result,
    retrain_rounds,
    start_retrain,
)
from birdview.jobs.soundscapes import SoundscapeOptions, estimate_full_retrain
from birdview.store.project import ModelRow, Project

COMPARED = (
    ("roc_auc", "macro ROC-AUC"),
    ("precision_at_recall", "precision at recall 0.8"),
    ("false_alarm_rate", "false alarms on hard negatives"),
    ("clips", "held-out labels"),
)

#: The rounds table's columns: (header, its tooltip).
ROUND_COLUMNS = (
    ("round", "The retrained version, from its parent"),
    ("labels", "Labelled windows (a head) or clips (a full retrain): training + held out"),
    ("ROC-AUC", "Macro ROC-AUC on the held-out labels"),
    ("P@R0.8", "Precision at recall 0.8 on the held-out labels"),
    ("≥ 0.5", "Windows of the project scored at or above 0.5, summed over the classes: parent → this version"),
    ("mean |Δ|", "Mean absolute change of the scores over the project's windows, against the parent"),
)


#: The job's progress lines are applied to the panel in batches at most this often: a quick job
#: prints a thousand steps in a second, and one redraw per line would stall the window.
DRAIN_MS = 100
#: The curves keep this height however much else the dock shows (the dock scrolls instead).
CURVES_MIN_HEIGHT = 140


class RetrainPanel(QWidget):
    """Laid out to fit a narrow dock: buttons two to a row, long labels wrapped; its parts keep
    readable heights (the main window's dock scrolls when they need more than it has)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout = QVBoxLayout(self)
        buttons = QGridLayout()
        self.quick_button = QPushButton("Retrain (quick)")
        self.full_button = QPushButton("Retrain (full)")
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setEnabled(False)
        buttons.addWidget(self.quick_button, 0, 0)
        buttons.addWidget(self.full_button, 0, 1)
        buttons.addWidget(self.cancel_button, 1, 0, 1, 2)
        layout.addLayout(buttons)
        self.advanced_toggle = QPushButton("Advanced settings ▸")
        self.advanced_toggle.setCheckable(True)
        layout.addWidget(self.advanced_toggle)
        self.advanced = QWidget()
        advanced = QVBoxLayout(self.advanced)
        advanced.setContentsMargins(0, 0, 0, 0)
        form = QFormLayout()
        advanced.addLayout(form)
        form.setRowWrapPolicy(QFormLayout.RowWrapPolicy.WrapLongRows)
        self.epochs = QSpinBox(minimum=0, maximum=500, specialValueText="default")
        self.valid_fraction = QDoubleSpinBox(minimum=0.1, maximum=0.5, singleStep=0.05, value=0.25)
        self.valid_list = QListWidget()
        self.valid_list.setSelectionMode(QListWidget.SelectionMode.MultiSelection)
        self.valid_list.setMaximumHeight(90)
        self.valid_list.setMinimumWidth(160)  # the form puts it under its label in a narrow dock
        form.addRow("Epochs", self.epochs)
        form.addRow("Held-out share of recordings", self.valid_fraction)
        form.addRow("Or validate on these recordings\n(labels kept aside)", self.valid_list)
        self.background = QCheckBox("Unlabelled recordings as background")
        self.background.setToolTip(
            "Excerpts of the project's recordings without labels are mixed into the training clips "
            "(signal-to-background 0–20 dB), so that the model learns the site's noise"
        )
        self.pseudo_round = QCheckBox("One pseudo-label round on them")
        self.pseudo_round.setToolTip(
            "After training, the new model scores the unlabelled recordings; its confident windows "
            "(score ≥ 0.5) become extra training labels and the model is trained again"
        )
        self.estimate = QLabel("")
        self.estimate.setWordWrap(True)
        soundscapes = QLabel("Full retraining can also learn from the recordings you have not labelled:")
        soundscapes.setWordWrap(True)
        for widget in (soundscapes, self.background, self.pseudo_round, self.estimate):
            advanced.addWidget(widget)
        self.advanced.hide()
        self.advanced_toggle.toggled.connect(self.advanced.setVisible)
        self.advanced_toggle.toggled.connect(
            lambda shown: self.advanced_toggle.setText(f"Advanced settings {'▾' if shown else '▸'}")
        )
        layout.addWidget(self.advanced)
        self.state = QLabel("No training job.")
        self.state.setWordWrap(True)
        self.progress = QProgressBar()
        layout.addWidget(self.state)
        layout.addWidget(self.progress)
        self.curves = pg.PlotWidget()
        self.curves.setTitle(
            "<span style='color:#ffd000'>━ training loss</span>&nbsp;&nbsp;"
            "<span style='color:#00e0ff'>● validation ROC-AUC</span>",
            size="9pt",
        )
        self.curves.setMinimumHeight(CURVES_MIN_HEIGHT)
        self.curves.setMaximumHeight(180)
        self.loss_curve = self.curves.plot(pen=pg.mkPen("#ffd000", width=2))
        self.auc_curve = self.curves.plot(pen=pg.mkPen("#00e0ff", width=2), symbol="o", symbolSize=5)
        layout.addWidget(self.curves)
        self.log = QPlainTextEdit(readOnly=True)
        self.log.setMinimumHeight(60)
        self.log.setMaximumHeight(110)
        layout.addWidget(self.log)
        self.comparison = QTableWidget(0, 3)
        self.comparison.setHorizontalHeaderLabels(["", "active model", "new model"])
        self.comparison.verticalHeader().hide()
        layout.addWidget(QLabel("On your held-out labels:"))
        layout.addWidget(self.comparison)
        decide = QVBoxLayout()
        self.activate_button = QPushButton("Activate the new model (and rescore)")
        self.keep_button = QPushButton("Keep the active one")
        for button in (self.activate_button, self.keep_button):
            button.setEnabled(False)
            decide.addWidget(button)
        layout.addLayout(decide)
        rounds_label = QLabel(
            "Rounds: each retrained version's labels (training + held out), its scores on the held-out "
            "labels, and its detections over the project against its parent's:"
        )
        rounds_label.setWordWrap(True)
        layout.addWidget(rounds_label)
        self.rounds = QTableWidget(0, len(ROUND_COLUMNS))
        self.rounds.setHorizontalHeaderLabels([title for title, _ in ROUND_COLUMNS])
        for column, (_, tip) in enumerate(ROUND_COLUMNS):
            self.rounds.horizontalHeaderItem(column).setToolTip(tip)
        self.rounds.verticalHeader().hide()
        self.rounds.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        layout.addWidget(self.rounds)
        versions_label = QLabel("Model versions (select one and press Activate to roll back):")
        versions_label.setWordWrap(True)
        layout.addWidget(versions_label)
        self.versions = QTableWidget(0, 5)
        self.versions.setHorizontalHeaderLabels(["version", "active", "parent", "created", "ROC-AUC"])
        self.versions.verticalHeader().hide()
        self.versions.setSelectionBehavior(QTableWidget.SelectionBehavior.SelectRows)
        for table in (self.comparison, self.rounds, self.versions):
            table.setMinimumWidth(0)
            table.setMinimumHeight(110)
            fit_columns(table)
        self.versions.horizontalHeader().setStretchLastSection(True)
        # What is compared takes the width the numbers leave, its longer names wrapped.
        self.comparison.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self.comparison.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.comparison.setWordWrap(True)
        self.setMinimumWidth(0)
        layout.addWidget(self.versions)
        self.rollback_button = QPushButton("Activate the selected version")
        layout.addWidget(self.rollback_button)


class RetrainController(QObject):
    finished = Signal(object)  # ModelRow of the new version, or None

    def __init__(
        self, window: QMainWindow, menu: QMenu, project: Callable[[], Project | None], activated: Callable[[], None]
    ) -> None:
        super().__init__(window)
        self.window = window
        self._project = project
        self._activated = activated
        self.panel = RetrainPanel()
        self.job: RetrainJob | None = None
        self.new_model: ModelRow | None = None
        self._losses: list[float] = []
        self._aucs: list[tuple[int, float]] = []
        self._pending: deque[JobEvent] = deque()
        self._workers = WorkerPool("retrain", owner=self)
        self._drain_scheduled = threading.Event()
        self._wake = GuiCallback(lambda: QTimer.singleShot(DRAIN_MS, self._drain), parent=self)  # lines wait
        self._starting = False
        self._estimates = 0
        menu.addSeparator()
        menu.addAction("Retrain (quick: head only, seconds)").triggered.connect(lambda: self.start("quick"))
        menu.addAction("Retrain (full fine-tune)").triggered.connect(lambda: self.start("full"))
        panel = self.panel
        panel.quick_button.clicked.connect(lambda: self.start("quick"))
        panel.full_button.clicked.connect(lambda: self.start("full"))
        panel.cancel_button.clicked.connect(self.cancel)
        panel.activate_button.clicked.connect(self.activate_new)
        panel.keep_button.clicked.connect(self.keep_old)
        panel.rollback_button.clicked.connect(self._activate_selected)
        panel.background.toggled.connect(self.refresh_estimate)
        panel.pseudo_round.toggled.connect(self.refresh_estimate)
        panel.epochs.valueChanged.connect(self.refresh_estimate)

    @property
    def running(self) -> bool:
        return self._starting or (self.job is not None and self.job.process.running)

    def confirm_close(self) -> bool:
        """Before the window closes: with a job running, ask whether to stop it (Yes) or leave it
        running in the background (No); False when the user cancels closing."""
        if not self.running:
            return True
        answer = QMessageBox.question(
            self.window,
            "A training job is running",
            "Stop the training job?\n\nNo: it goes on in the background, and its model is added to the "
            "project when you open it next.",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No | QMessageBox.StandardButton.Cancel,
        )
        if answer == QMessageBox.StandardButton.Cancel:
            return False
        if answer == QMessageBox.StandardButton.Yes and self.job is not None:
            self.job.process.cancel()
        return True

    def set_recordings(self, recordings: list) -> None:
        self.panel.valid_list.clear()
        for row in recordings:
            item = QListWidgetItem(row.name)
            item.setData(256, row.id)
            self.panel.valid_list.addItem(item)

    def _held_out(self) -> list[int]:
        return [item.data(256) for item in self.panel.valid_list.selectedItems()]

    def soundscape_options(self) -> SoundscapeOptions:
        return SoundscapeOptions(self.panel.background.isChecked(), self.panel.pseudo_round.isChecked())

    def refresh_estimate(self) -> None:
        """What the chosen options add to a full retrain, under them (counted off the GUI thread)."""
        options, project = self.soundscape_options(), self._project()
        if project is None or not options.used:
            self.panel.estimate.setText("")
            return
        self.panel.estimate.setText("Estimating what this adds…")
        self._estimates += 1
        asked = self._estimates
        worker = self._estimate(project)

        def show(text: str) -> None:
            if asked == self._estimates:  # an answer to an earlier choice of options is dropped
                self.panel.estimate.setText(text)

        worker.result.connect(lambda expected: show(expected.describe(options)))
        worker.error.connect(lambda message: show(f"No estimate: {message}"))

    def _estimate(self, project: Project):
        epochs = self.panel.epochs.value() or FULL_EPOCHS
        return self._workers.run(
            estimate_full_retrain, epochs, self.panel.valid_fraction.value(), project=project.folder
        )

    def start(self, mode: str, epochs: int | None = None) -> bool:
        """Build the training set and start the job, both off the GUI thread (cutting hundreds of
        clips takes seconds); ``finished`` is emitted at the end either way. A full retrain with
        the unlabelled recordings first says how long it is expected to take, and starts only if
        the user agrees."""
        project = self._project()
        if project is None:
            self.window.statusBar().showMessage("Open a project first")
            return False
        if self.running:
            self.panel.state.setText("Not started: a training job is already running; wait for it or cancel it")
            return False
        self._starting = True
        options = self.soundscape_options() if mode == "full" else SoundscapeOptions()
        if options.used:
            self.panel.state.setText("Estimating the time of a full retrain with the unlabelled recordings…")
            worker = self._estimate(project)
            worker.result.connect(lambda expected: self._confirm_and_launch(mode, epochs, options, expected))
            worker.error.connect(self._not_started)
            return True
        self._launch(mode, epochs, options)
        return True

    def _confirm_and_launch(self, mode: str, epochs: int | None, options: SoundscapeOptions, expected) -> None:
        text = expected.describe(options)
        self.panel.estimate.setText(text)
        answer = QMessageBox.question(
            self.window,
            "Retrain (full) with the unlabelled recordings",
            f"{text}\n\nStart it?",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
        )
        if answer != QMessageBox.StandardButton.Yes:
            self._starting = False
            self.panel.state.setText("Not started.")
            self.finished.emit(None)
            return
        self._launch(mode, epochs, options)

    def _not_started(self, message: object) -> None:
        self._starting = False
        self.panel.state.setText(f"Not started: {message}")
        self.finished.emit(None)

    def _launch(self, mode: str, epochs: int | None, options: SoundscapeOptions) -> None:
        folder = self._project().folder
        epochs = epochs or (self.panel.epochs.value() or None)
        held_out, fraction = self._held_out(), self.panel.valid_fraction.value()
        self._losses, self._aucs = [], []
        self.new_model = None
        self.panel.state.setText(f"Preparing the training set for {mode} retraining…")
        self.panel.activate_button.setEnabled(False)
        self.panel.keep_button.setEnabled(False)
        worker = self._workers.run(
            start_retrain,
            mode,
            project=folder,
            epochs=epochs,
            on_event=self._queue_event,
            valid_recordings=held_out or None,
            valid_fraction=fraction,
            soundscapes=options,
        )
        worker.result.connect(self._on_started)
        worker.error.connect(self._on_started)  # the message

    def _on_started(self, job: object) -> None:
        self._starting = False
        if not isinstance(job, RetrainJob):
            self.panel.state.setText(f"Not started: {job}")
            self.finished.emit(None)
            return
        self.job = job
        used = job.process.read_state().extra.get("soundscapes") or {}
        also = [
            text
            for key, text in (("background", "background mixing"), ("pseudo_round", "one pseudo-label round"))
            if used.get(key)
        ]
        self.panel.state.setText(
            f"{job.mode} retraining running on {len(job.data.labels)} labels "
            f"({len(job.data.valid_recordings)} recording(s) held out)"
            + (f", with {' and '.join(also)} over {used['recordings']} unlabelled recording(s)" if also else "")
        )
        self.panel.cancel_button.setEnabled(True)

    def cancel(self) -> None:
        if self.job is not None:
            worker = self._workers.run(self.job.process.cancel)  # waits for the process to end
            worker.error.connect(lambda message: self.panel.state.setText(f"Cancelling failed: {message}"))
            self.panel.state.setText("Cancelling…")

    def _queue_event(self, event: JobEvent) -> None:
        """From the job's reader thread."""
        self._pending.append(event)
        if not self._drain_scheduled.is_set():
            self._drain_scheduled.set()
            self._wake()

    def _drain(self) -> None:
        self._drain_scheduled.clear()
        events = []
        while self._pending:
            events.append(self._pending.popleft())
        for event in events:
            self._on_event(event)
        if events:
            self.loss_plot()

    def _on_event(self, event: JobEvent) -> None:
        if isinstance(event, TrainStep) and event.loss is not None:
            self._losses.append(float(event.loss))
            self.panel.progress.setMaximum(max(1, event.total or 0))
            self.panel.progress.setValue(event.step or 0)
            eta = event.eta_s
            self.panel.progress.setFormat(f"epoch {event.epoch}, step %v/%m" + (f", {eta:.0f} s left" if eta else ""))
        elif isinstance(event, PredictStep):
            self.panel.progress.setMaximum(max(1, event.total or 0))
            self.panel.progress.setValue(event.step or 0)
            self.panel.progress.setFormat("pseudo-labelling: scoring unlabelled recording %v of %m")
        elif isinstance(event, Validated):
            auc = event.metrics.get("val_roc_auc")
            if auc is not None:
                self._aucs.append((len(self._losses), float(auc)))
        elif isinstance(event, JobFinished):
            self.panel.cancel_button.setEnabled(False)
            self.panel.log.setPlainText(self.job.process.log_tail(30) if self.job else "")
            if event.state == DONE and self.job is not None:
                self.panel.state.setText("Trained; comparing with the active model on your held-out labels…")
                self._register(self.job.process.folder)
            else:
                self.panel.state.setText(f"Training {event.state}: {event.message or ''}")
                self.finished.emit(None)

    def loss_plot(self) -> None:
        self.panel.loss_curve.setData(list(range(len(self._losses))), self._losses)
        if self._aucs:
            xs, ys = zip(*self._aucs, strict=True)
            self.panel.auc_curve.setData(list(xs), list(ys))

    def _register(self, folder: Path) -> None:
        worker = self._workers.run(register_result, folder, project=self._project().folder)
        worker.result.connect(self._on_registered)
        worker.error.connect(lambda message: self._on_registered(f"registering the new model failed: {message}"))

    def _on_registered(self, model: object) -> None:
        if not isinstance(model, ModelRow):
            self.panel.state.setText(str(model) if model else "The job left no model")
            self.finished.emit(None)
            return
        self.new_model = model
        self.panel.state.setText(f"New model version {model.version} (from version {model.parent}) is ready.")
        self._fill_comparison(model)
        self.panel.activate_button.setEnabled(True)
        self.panel.keep_button.setEnabled(True)
        self.refresh_versions()
        self.finished.emit(model)

    def _fill_comparison(self, model: ModelRow) -> None:
        table = self.panel.comparison
        old, new = model.metrics.get("old", {}), model.metrics.get("new", {})
        species = sorted(set(new.get("per_species", {})) | set(old.get("per_species", {})))
        rows = [(label, old.get(key), new.get(key)) for key, label in COMPARED]
        rows += [
            (f"ROC-AUC {code}", old.get("per_species", {}).get(code), new.get("per_species", {}).get(code))
            for code in species
        ]
        table.setRowCount(len(rows))
        for row, (label, before, after) in enumerate(rows):
            for column, value in enumerate((label, before, after)):
                if isinstance(value, str):
                    text = value
                else:  # a count (held-out labels) as a whole number, a metric to three decimals
                    text = "—" if value is None else str(value) if isinstance(value, int) else f"{value:.3f}"
                table.setItem(row, column, QTableWidgetItem(text))

    def activate_new(self) -> None:
        project = self._project()
        if project is not None and self.new_model is not None:
            project.activate_model(self.new_model.version)
            self.panel.state.setText(f"Version {self.new_model.version} is active; rescoring in the background.")
            self.panel.activate_button.setEnabled(False)
            self.panel.keep_button.setEnabled(False)
            self.refresh_versions()
            self._activated()

    def keep_old(self) -> None:
        self.panel.state.setText("Kept the active model; the new version stays in the list.")
        self.panel.activate_button.setEnabled(False)
        self.panel.keep_button.setEnabled(False)

    def refresh_versions(self) -> None:
        project = self._project()
        models = project.models() if project is not None else []
        table = self.panel.versions
        table.setRowCount(len(models))
        for row, model in enumerate(models):
            auc = model.metrics.get("new", {}).get("roc_auc")
            values = (
                str(model.version),
                "✓" if model.active else "",
                str(model.parent or ""),
                model.created_at[:16].replace("T", " "),
                "" if auc is None else f"{auc:.3f}",
            )
            for column, value in enumerate(values):
                table.setItem(row, column, QTableWidgetItem(value))
            table.item(row, 3).setToolTip(model.created_at)
        self._fill_rounds(retrain_rounds(models))

    def _fill_rounds(self, rounds: list[RetrainRound]) -> None:
        table = self.panel.rounds
        table.setRowCount(len(rounds))
        for row, found in enumerate(rounds):
            for column, (text, tip) in enumerate(_round_cells(found)):
                item = QTableWidgetItem(text)
                if tip:
                    item.setToolTip(tip)
                table.setItem(row, column, item)

    def activate_version(self, version: int) -> None:
        project = self._project()
        if project is not None:
            project.activate_model(version)
            self.refresh_versions()
            self.window.statusBar().showMessage(f"Model version {version} is active; rescoring in the background.")
            self._activated()

    def _activate_selected(self) -> None:
        rows = {index.row() for index in self.panel.versions.selectedIndexes()}
        if len(rows) == 1:
            self.activate_version(int(self.panel.versions.item(rows.pop(), 0).text()))

    def pick_up_finished_jobs(self) -> None:
        """At project open: register, in the background, the models of jobs that finished while
        the app was closed (:func:`register_finished_jobs`); the versions table shows them when
        they are in."""
        project = self._project()
        self.refresh_versions()
        if project is None:
            return
        folder = project.folder

        def same_project() -> bool:
            current = self._project()
            return current is not None and current.folder == folder

        worker = self._workers.run(register_finished_jobs, project=folder, wanted=same_project)
        worker.result.connect(self._on_picked_up)
        worker.error.connect(
            lambda message: self.window.statusBar().showMessage(f"Picking up finished training jobs failed: {message}")
        )

    def _on_picked_up(self, picked_up: PickedUp) -> None:
        messages = []
        if picked_up.models:
            versions = [model.version for model in picked_up.models]
            messages.append(f"Training finished while birdview was closed: model version(s) {versions} added")
        if picked_up.problems:
            messages.append("Not added: " + "; ".join(picked_up.problems))
        if messages:
            self.window.statusBar().showMessage(". ".join(messages))
        self.refresh_versions()


def _metric(value: float | None) -> str:
    return "—" if value is None else f"{value:.3f}"


def _round_cells(found: RetrainRound) -> list[tuple[str, str]]:
    """The rounds table's (text, tooltip) cells of one round."""
    labels = "—"
    if found.training is not None and found.held_out is not None:
        labels = f"{found.training} + {found.held_out}"
    labels_tip = f"{found.training} {found.unit} in training, {found.held_out} held out"
    if found.weak_negatives:
        labels_tip += f"; {found.weak_negatives} unlabelled windows of the training recordings taken as negatives"
    if found.detections_after is None:
        detections, detections_tip = "—", "Not known until this version has scored the project"
    else:
        before = "—" if found.detections_before is None else str(found.detections_before)
        detections = f"{before} → {found.detections_after}"
        detections_tip = "\n".join(
            f"{code}: {'— (new class)' if b is None else b} → {a}" for code, (b, a) in found.per_species.items()
        )
    return [
        (f"v{found.version} ← v{found.parent}", ""),
        (labels, labels_tip),
        (_metric(found.roc_auc), ""),
        (_metric(found.precision_at_recall), f"precision at recall {found.recall:g}"),
        (detections, detections_tip),
        (_metric(found.mean_abs_change), ""),
    ]
