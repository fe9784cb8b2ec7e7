"""Labelling in the main window: boxes on the spectrogram, the labels panel, the species field,
keyboard actions and undo/redo. Every edit goes to the project (and so to disk) at once.

Keys (the Labels menu): A labels the selected box; N and U make the selected box or label a hard
negative or uncertain; R, C and X relabel, confirm and reject the selected label; these five are
enabled only while there is something selected for them, and otherwise the review queue's verdicts
hold them (``keysTaken``, wired in ``birdview.gui.shortcuts``). Ctrl+L goes to the Species field;
there, Enter sets the species (a name or completion becomes its code; an unknown one is named in
the status bar and the field keeps the keyboard) and Esc puts back what the field held before
typing; both give the keyboard back to the spectrogram. Enter never records a verdict: R does.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QLabel, QMainWindow, QMenu, QToolBar

from birdview.gui.annotation_layer import AnnotationLayer
from birdview.gui.labels_panel import LabelsPanel, SpeciesField
from birdview.gui.shortcuts import portable
from birdview.gui.spectrogram_view import SpectrogramView
from birdview.gui.workers import WorkerPool
from birdview.review.queue import selected_labels
from birdview.store.labels import Kind, Status, Verdict, drawn_label
from birdview.store.project import Annotation, Project, ProjectError, RecordingRow
from birdview.store.selection import Selection
from birdview.store.sites import site_of

#: Actions that need a selected box or label, and those that need a selected label.
_ON_BOX_OR_LABEL = ("negative", "uncertain")
_ON_LABEL = ("relabel", "confirm", "reject")


class LabelingController(QObject):
    #: A verdict ("confirm", "reject", "uncertain", "relabel") asked for by a call of one of the
    #: edits with no box or label to act on; the review queue takes it for its current candidate.
    verdictRequested = Signal(str)
    #: The keys (portable text) the enabled actions that act on a selection hold now; nobody else
    #: may hold them meanwhile (one key, one enabled action).
    keysTaken = Signal(object)

    def __init__(self, window: QMainWindow, view: SpectrogramView, menu: QMenu) -> None:
        super().__init__(window)
        self.window = window
        self.view = view
        self.project: Project | None = None
        self.recording: RecordingRow | None = None
        self.selection = Selection()
        self._workers = WorkerPool("labels-in-filter", max_threads=1, owner=self)
        self.layer = AnnotationLayer(view)
        self.panel = LabelsPanel(settings=getattr(window, "settings", None))  # measurement columns kept there
        self.species_field = SpeciesField()
        toolbar = QToolBar("Labelling")
        toolbar.setObjectName("Labelling")
        toolbar.addWidget(QLabel(" Species: "))
        self.species_field.setMaximumWidth(420)
        toolbar.addWidget(self.species_field)
        window.addToolBar(toolbar)
        self.actions: dict[str, QAction] = {}
        for name, text, key, slot in (
            ("add", "Label the selection", "A", lambda: self.add_from_selection(Kind.CALL)),
            ("negative", "Hard negative (selection or label)", "N", lambda: self.set_kind_or_add(Kind.HARD_NEGATIVE)),
            ("uncertain", "Uncertain (selection or label)", "U", lambda: self.set_kind_or_add(Kind.UNCERTAIN)),
            ("relabel", "Relabel with the Species field", "R", self.relabel_selected),
            ("confirm", "Confirm label", "C", lambda: self.set_status(Status.CONFIRMED)),
            ("reject", "Reject label", "X", lambda: self.set_status(Status.REJECTED)),
            ("delete", "Delete label", QKeySequence.StandardKey.Delete, self.delete_selected),
            ("undo", "Undo", QKeySequence.StandardKey.Undo, self.undo),
            ("redo", "Redo", "Ctrl+Shift+Z", self.redo),
        ):
            self.actions[name] = self._action(menu, text, key, slot)
        menu.addSeparator()
        self.actions["species"] = self._action(menu, "Type a species", "Ctrl+L", self.focus_species_field)
        self.taken_keys: frozenset[str] = frozenset()
        self.layer.moved.connect(self._on_moved)
        self.layer.selected.connect(self._on_selected)
        self.layer.selected.connect(lambda _id: self._update_keys())
        view.selectionChanged.connect(lambda _selection: self._update_keys())
        self.species_field.speciesEntered.connect(self._species_entered)
        self.species_field.editCancelled.connect(self.focus_spectrogram)
        self.panel.labelActivated.connect(self.jump_to)
        # Queued: the panel's rows are refilled after the save, not inside the table's own edit.
        self.panel.noteEdited.connect(self.set_note, Qt.ConnectionType.QueuedConnection)
        self._jump: Callable[[Annotation], None] | None = None
        self._set_enabled(False)

    def _action(self, menu: QMenu, text: str, key, slot: Callable[[], None]) -> QAction:
        action = QAction(text, self.window)
        action.setShortcut(QKeySequence(key))
        action.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
        action.triggered.connect(slot)
        menu.addAction(action)
        self.window.addAction(action)
        return action

    def _set_enabled(self, enabled: bool) -> None:
        for action in self.actions.values():
            action.setEnabled(enabled)
        self._update_keys()

    def _update_keys(self) -> None:
        """Enable the actions that act on a selection only while there is one, and say which keys
        they hold (``keysTaken``)."""
        project = self.project is not None
        box, label = self.view.selection is not None, self.layer.selected_id is not None
        for name in _ON_BOX_OR_LABEL:
            self.actions[name].setEnabled(project and (box or label))
        for name in _ON_LABEL:
            self.actions[name].setEnabled(project and label)
        taken = frozenset(
            portable(sequence)
            for name in (*_ON_BOX_OR_LABEL, *_ON_LABEL)
            if self.actions[name].isEnabled()
            for sequence in self.actions[name].shortcuts()
        )
        if taken != self.taken_keys:
            self.taken_keys = taken
            self.keysTaken.emit(taken)

    def clear_target(self) -> None:
        """Drop the selected box and label (the keys go back to the review queue)."""
        self.view.clear_selection()
        if self.layer.selected_id is not None:
            self.layer.select(None)
        self._update_keys()

    # -- the species field ------------------------------------------------------------------------

    def focus_spectrogram(self) -> None:
        self.view.setFocus(Qt.FocusReason.OtherFocusReason)

    def focus_species_field(self) -> None:
        self.species_field.setFocus(Qt.FocusReason.ShortcutFocusReason)
        self.species_field.selectAll()

    def _species_entered(self) -> None:
        """Enter in the Species field: set the species and give the keyboard back to the spectrogram;
        an unknown species is named and the field keeps the keyboard."""
        field = self.species_field
        text = field.code()
        if text and self.project is not None:
            code = self.project.resolve_species(text)
            if code is None:
                self._status(f"Unknown species {text!r}: pick one from the list or add it to the project")
                return
            field.set_code(code)
            self._status(f"Species: {code} (R relabels, A labels the selected box)")
        field.keep_text()
        self.focus_spectrogram()

    def _status(self, message: str) -> None:
        self.window.statusBar().showMessage(message)

    # -- what is shown ----------------------------------------------------------------------------

    def set_project(self, project: Project | None, on_jump: Callable[[Annotation], None]) -> None:
        self.project = project
        self._jump = on_jump
        self.species_field.set_species(project.species_table() if project else [])
        self.layer.clear()
        self._set_enabled(project is not None)

    def set_recording(self, recording: RecordingRow | None) -> None:
        self.recording = recording
        self.layer.clear()
        self.refresh()
        self._update_keys()

    def refresh(self) -> None:
        """Redraw the visible labels and refill the panel from the project."""
        if self.project is None or self.recording is None or self.view.recording is None:
            self.layer.clear()
            self.panel.set_annotations([], {})
            self._update_keys()
            return
        self.refresh_visible()
        if not self.selection.everything:  # the window's filter: the labels inside it, of every recording
            self._list_selected()
            return
        rows, sites = {self.recording.id: self.recording}, {self.recording.id: site_of(self.project, self.recording)}
        self.panel.set_annotations(self.project.annotations(recording_id=self.recording.id), rows, sites)

    def set_selection(self, selection: Selection) -> None:
        """The window's filter (sites, dates, hours): with one, the panel lists the labels inside it."""
        self.selection = selection
        self.refresh()

    def _list_selected(self) -> None:
        """The labels inside the filter, found on a worker thread (a season holds many recordings)."""
        folder, selection = self.project.folder, self.selection
        worker = self._workers.run(
            _labels_in,
            selection,
            project=folder,
            wanted=lambda: self.project is not None and self.project.folder == folder and self.selection == selection,
        )
        worker.result.connect(lambda found: self.panel.set_annotations(*found, scope=selection.describe()))
        worker.error.connect(lambda message: self.window.statusBar().showMessage(f"Labels: {message}"))

    def refresh_visible(self) -> None:
        if self.project is None or self.recording is None or self.view.recording is None:
            return
        t0, t1 = self.view.view_range()
        margin = (t1 - t0) * 0.5
        visible = self.project.annotations(recording_id=self.recording.id, start_s=t0 - margin, end_s=t1 + margin)
        self.layer.show(visible, self.view.spectrogram_settings, self.view.recording.sample_rate / 2)
        self._update_keys()  # the selected label may have gone

    def redraw(self) -> None:
        """Draw the visible labels afresh (the spectrogram's frequency scale may have changed)."""
        self.layer.clear()
        self.refresh_visible()
        self._update_keys()

    def jump_to(self, annotation: Annotation) -> None:
        if self._jump is not None:
            self._jump(annotation)
        self.layer.select(annotation.id)

    # -- edits ------------------------------------------------------------------------------------

    def _edit(self, edit: Callable[[], object], done: str) -> bool:
        try:
            edit()
        except ProjectError as exc:
            self._status(f"Not saved: {exc}")
            return False
        self._status(done)
        self.refresh()
        return True

    def _species(self) -> str | None:
        code = self.species_field.code()
        if not code:
            return None
        resolved = self.project.resolve_species(code)
        if resolved is None:
            raise ProjectError(f"unknown species {code!r}: pick one from the list or add it to the project")
        return resolved

    def add_from_selection(self, kind: str) -> Annotation | None:
        if self.project is None or self.recording is None:
            return None
        selection = self.view.selection
        if selection is None:
            self._status("Select a time × frequency box first (Shift+drag)")
            return None
        t0, t1, f0, f1 = selection
        nyquist = self.recording.sample_rate / 2
        # The channel of the pane it was drawn on (a file of one channel: none, as ever).
        channel = self.view.selection_channel if self.recording.channels > 1 else None
        made: list[Annotation] = []

        def add() -> None:
            label = drawn_label(self.recording.id, t0, t1, f0, f1, self._species(), kind, nyquist_hz=nyquist)
            label = replace(label, channel=channel)
            made.append(self.project.add_annotation(label, f"add {kind.replace('_', ' ')}"))

        if self._edit(add, f"Label saved ({kind.replace('_', ' ')})"):
            self.view.clear_selection()
            self.layer.select(made[0].id)
            return made[0]
        return None

    def set_kind_or_add(self, kind: str) -> None:
        if self.view.selection is not None:
            self.add_from_selection(kind)
        elif self.layer.selected_id is not None:
            self._edit(
                lambda: self.project.update_annotation(self.layer.selected_id, kind=kind),
                f"Marked {kind.replace('_', ' ')}",
            )
        else:
            self.verdictRequested.emit(Verdict.REJECT if kind == Kind.HARD_NEGATIVE else Verdict.UNCERTAIN)

    def relabel_selected(self) -> None:
        if self.layer.selected_id is not None:
            self._edit(
                lambda: self.project.update_annotation(self.layer.selected_id, species=self._species()), "Relabelled"
            )
        else:
            self.verdictRequested.emit(Verdict.RELABEL)

    def set_status(self, status: str) -> None:
        if self.layer.selected_id is not None:
            self._edit(lambda: self.project.update_annotation(self.layer.selected_id, status=status), status.title())
        else:
            self.verdictRequested.emit(Verdict.CONFIRM if status == Status.CONFIRMED else Verdict.REJECT)

    def set_note(self, annotation_id: int, note: str) -> None:
        """Save a label's free-text note (empty text clears it); one undo step."""
        if self.project is not None:
            self._edit(
                lambda: self.project.update_annotations([annotation_id], "edit note", note=note or None), "Note saved"
            )

    def delete_selected(self) -> None:
        if self.layer.selected_id is not None:
            annotation_id = self.layer.selected_id
            self._edit(lambda: self.project.delete_annotations([annotation_id], "delete label"), "Label deleted")

    def undo(self) -> None:
        if self.project is not None:
            what = self.project.undo()
            self._status(f"Undone: {what}" if what else "Nothing to undo")
            self.refresh()

    def redo(self) -> None:
        if self.project is not None:
            what = self.project.redo()
            self._status(f"Redone: {what}" if what else "Nothing to redo")
            self.refresh()

    def _on_moved(self, annotation_id: int, start: float, end: float, low: object, high: object) -> None:
        self._edit(
            lambda: self.project.update_annotations(
                [annotation_id], "move label", start_s=start, end_s=end, low_hz=low, high_hz=high
            ),
            "Label moved",
        )

    def _on_selected(self, annotation_id: int | None) -> None:
        if annotation_id is not None and self.project is not None:
            a = self.project.annotation(annotation_id)
            self._status(
                f"{a.species or 'unlabelled'} · {a.kind.replace('_', ' ')} · {a.status} · {a.source}"
                + (f" · score {a.score:.2f}" if a.score is not None else "")
            )


def _labels_in(project: Project, selection: Selection) -> tuple[list[Annotation], dict, dict]:
    """On a worker thread: the labels inside the filter, their recordings and sites by id."""
    labels, rows = selected_labels(project, selection)
    return labels, rows, {recording_id: row.site for recording_id, row in rows.items()}
