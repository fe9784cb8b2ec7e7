"""Labelling in the main window: boxes on the spectrogram, the labels panel, the species field,
keyboard actions and undo/redo. Every edit goes to the project (and so to disk) at once."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QLabel, QMainWindow, QMenu, QToolBar

from birdview.gui.annotation_layer import AnnotationLayer
from birdview.gui.labels_panel import LabelsPanel, SpeciesField
from birdview.gui.spectrogram_view import SpectrogramView
from birdview.store.labels import Kind, Status, Verdict, drawn_label
from birdview.store.project import Annotation, Project, ProjectError, RecordingRow


class LabelingController(QObject):
    #: A verdict ("confirm", "reject", "uncertain", "relabel") asked for by a key with no box or
    #: label to act on; the review queue takes it for its current candidate.
    verdictRequested = Signal(str)

    def __init__(self, window: QMainWindow, view: SpectrogramView, menu: QMenu) -> None:
        super().__init__(window)
        self.window = window
        self.view = view
        self.project: Project | None = None
        self.recording: RecordingRow | None = None
        self.layer = AnnotationLayer(view)
        self.panel = LabelsPanel()
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
            ("relabel", "Relabel with the species field", "R", self.relabel_selected),
            ("confirm", "Confirm label", "C", lambda: self.set_status(Status.CONFIRMED)),
            ("reject", "Reject label", "X", lambda: self.set_status(Status.REJECTED)),
            ("delete", "Delete label", QKeySequence.StandardKey.Delete, self.delete_selected),
            ("undo", "Undo", QKeySequence.StandardKey.Undo, self.undo),
            ("redo", "Redo", "Ctrl+Shift+Z", self.redo),
        ):
            self.actions[name] = self._action(menu, text, key, slot)
        self.layer.moved.connect(self._on_moved)
        self.layer.selected.connect(self._on_selected)
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

    def _status(self, message: str) -> None:
        self.window.statusBar().showMessage(message)

    # -- what is shown ----------------------------------------------------------------------------

    def set_project(self, project: Project | None, on_jump: Callable[[Annotation], None]) -> None:
        self.project = project
        self._jump = on_jump
        self._set_enabled(project is not None)
        self.species_field.set_species(project.species_table() if project else [])
        self.layer.clear()

    def set_recording(self, recording: RecordingRow | None) -> None:
        self.recording = recording
        self.layer.clear()
        self.refresh()

    def refresh(self) -> None:
        """Redraw the visible labels and refill the panel from the project."""
        if self.project is None or self.recording is None or self.view.recording is None:
            self.layer.clear()
            self.panel.set_annotations([], {})
            return
        self.refresh_visible()
        names = {r.id: r.name for r in [self.recording]}
        self.panel.set_annotations(self.project.annotations(recording_id=self.recording.id), names)

    def refresh_visible(self) -> None:
        if self.project is None or self.recording is None or self.view.recording is None:
            return
        t0, t1 = self.view.view_range()
        margin = (t1 - t0) * 0.5
        visible = self.project.annotations(recording_id=self.recording.id, start_s=t0 - margin, end_s=t1 + margin)
        self.layer.show(visible, self.view.spectrogram_settings, self.view.recording.sample_rate / 2)

    def redraw(self) -> None:
        """Draw the visible labels afresh (the spectrogram's frequency scale may have changed)."""
        self.layer.clear()
        self.refresh_visible()

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
        made: list[Annotation] = []

        def add() -> None:
            label = drawn_label(self.recording.id, t0, t1, f0, f1, self._species(), kind, nyquist_hz=nyquist)
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
