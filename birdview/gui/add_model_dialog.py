"""Models ▸ Add model: which kind of model (BirdNET, Perch v2, a birdview-train model), with its
description, licence and class count, and the file it needs."""

from __future__ import annotations

import html
import re
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QButtonGroup,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFrame,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QRadioButton,
    QVBoxLayout,
    QWidget,
)

from birdview.jobs.model_kinds import ModelKind, model_kinds

_INDENT = 24
_NOTICE_STYLE = "QLabel { background: #fff4d6; color: #4a3500; border: 1px solid #d9a400; padding: 6px; }"
_PROBLEM_STYLE = "QLabel { color: #b00020; }"
_SELECTABLE = Qt.TextInteractionFlag.TextSelectableByMouse


class AddModelDialog(QDialog):
    """Choose a kind of model and, for those that need one, its file; :meth:`choice` is what
    ``add_model`` takes. OK is enabled once everything needed is given."""

    def __init__(self, parent: QWidget | None = None, kinds: list[ModelKind] | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("add_model_dialog")
        self.setWindowTitle("Add a model")
        self.setMinimumWidth(700)
        self.kinds = {kind.kind: kind for kind in (kinds if kinds is not None else model_kinds())}
        self.buttons: dict[str, QRadioButton] = {}
        self.details: dict[str, QLabel] = {}
        self.notices: dict[str, QLabel] = {}
        self.file_edits: dict[str, QLineEdit] = {}
        self.choose_buttons: dict[str, QPushButton] = {}
        self.group = QButtonGroup(self)
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel("Which model should the project add?"))
        for number, kind in enumerate(self.kinds.values()):
            if number:
                line = QFrame()
                line.setFrameShape(QFrame.Shape.HLine)
                line.setFrameShadow(QFrame.Shadow.Sunken)
                layout.addWidget(line)
            layout.addWidget(self._entry(kind))
        self.problem = QLabel()
        self.problem.setObjectName("add_model_problem")
        self.problem.setWordWrap(True)
        self.problem.setStyleSheet(_PROBLEM_STYLE)
        layout.addWidget(self.problem)
        self.button_box = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        self.ok_button = self.button_box.button(QDialogButtonBox.StandardButton.Ok)
        self.ok_button.setText("Add model")
        self.button_box.accepted.connect(self.accept)
        self.button_box.rejected.connect(self.reject)
        layout.addWidget(self.button_box)
        self.group.buttonToggled.connect(lambda _button, _on: self._update())
        self._update()

    def _entry(self, kind: ModelKind) -> QWidget:
        entry = QWidget()
        entry.setObjectName(f"entry_{kind.kind}")
        layout = QVBoxLayout(entry)
        layout.setContentsMargins(0, 2, 0, 2)
        button = QRadioButton(kind.title)
        button.setObjectName(f"kind_{kind.kind}")
        font = button.font()
        font.setBold(True)
        button.setFont(font)
        self.group.addButton(button)
        self.buttons[kind.kind] = button
        layout.addWidget(button)
        details = _rich(
            f"{_text(kind.description)}<br>"
            f"<b>Licence:</b> {_text(kind.licence)} &nbsp;·&nbsp; <b>{_text(kind.classes_text)}</b>"
        )
        details.setObjectName(f"details_{kind.kind}")
        details.setWordWrap(True)
        self.details[kind.kind] = details
        layout.addWidget(_indented(details))
        if kind.kind == "birdnet":
            notice = _rich(f"<b>Non-commercial use only.</b> {_text(kind.notice)}")
            notice.setStyleSheet(_NOTICE_STYLE)
        elif kind.notice:
            notice = _rich(_text(kind.notice))
        else:
            notice = None
        if notice is not None:
            notice.setObjectName(f"notice_{kind.kind}")
            notice.setWordWrap(True)
            notice.setTextInteractionFlags(_SELECTABLE | Qt.TextInteractionFlag.LinksAccessibleByMouse)
            notice.setOpenExternalLinks(True)
            self.notices[kind.kind] = notice
            layout.addWidget(_indented(notice))
        if kind.unavailable:
            missing = _rich(f"Not installed here: {_text(kind.unavailable)}")
            missing.setObjectName(f"unavailable_{kind.kind}")
            missing.setWordWrap(True)
            missing.setStyleSheet(_PROBLEM_STYLE)
            missing.setTextInteractionFlags(_SELECTABLE)
            layout.addWidget(_indented(missing))
        if kind.needs_file:
            row = QHBoxLayout()
            row.setContentsMargins(_INDENT, 0, 0, 0)
            edit = QLineEdit()
            edit.setObjectName(f"file_{kind.kind}")
            edit.setPlaceholderText("the model file")
            edit.textChanged.connect(lambda _text, k=kind.kind: self._on_file_edited(k))
            choose = QPushButton("Choose file…")
            choose.setObjectName(f"choose_{kind.kind}")
            choose.clicked.connect(lambda _checked=False, k=kind.kind: self.choose_file(k))
            row.addWidget(QLabel("File:"))
            row.addWidget(edit, stretch=1)
            row.addWidget(choose)
            layout.addLayout(row)
            self.file_edits[kind.kind] = edit
            self.choose_buttons[kind.kind] = choose
        return entry

    # -- state ---------------------------------------------------------------------------------

    @property
    def selected(self) -> ModelKind | None:
        for name, button in self.buttons.items():
            if button.isChecked():
                return self.kinds[name]
        return None

    def select(self, kind: str) -> None:
        self.buttons[kind].setChecked(True)

    def set_file(self, kind: str, path: str | Path) -> None:
        """Give a kind its file (what Choose file… does), and select the kind."""
        self.file_edits[kind].setText(str(path))
        self.select(kind)

    def file(self, kind: str) -> str:
        edit = self.file_edits.get(kind)
        return edit.text().strip() if edit is not None else ""

    def choose_file(self, kind: str) -> None:
        chosen = self.kinds[kind]
        start = self.file(kind)
        path, _ = QFileDialog.getOpenFileName(
            self, f"Choose the file of {chosen.title}", str(Path(start).parent) if start else "", chosen.file_filter
        )
        if path:
            self.set_file(kind, path)

    def problem_text(self) -> str:
        """Why the model cannot be added yet ("" once it can)."""
        kind = self.selected
        if kind is None:
            return "Choose the kind of model."
        if kind.unavailable:
            return f"Not installed here: {kind.unavailable}"
        if not kind.needs_file:
            return ""
        text = self.file(kind.kind)
        if not text:
            return "Choose its file (Choose file…)."
        path = Path(text).expanduser()
        if not path.is_file():
            return f"{path}: no such file."
        if kind.file_suffixes and path.suffix.lower() not in kind.file_suffixes:
            return f"{path.name}: not a {' or '.join(kind.file_suffixes)} file."
        return ""

    def choice(self) -> tuple[str, str | None]:
        """(path or kind, file) for ``add_model``: ("birdnet", None), ("perch-v2", its ONNX file)
        or (a .ckpt or .onnx file, None)."""
        kind = self.selected
        if kind is None:
            raise ValueError("no kind of model is chosen")
        file = str(Path(self.file(kind.kind)).expanduser().absolute()) if kind.needs_file else None
        return kind.spec(file)

    def _on_file_edited(self, kind: str) -> None:
        if self.file(kind) and not self.buttons[kind].isChecked():
            self.select(kind)  # typing a file picks its kind; _update runs through the toggle
        else:
            self._update()

    def _update(self) -> None:
        problem = self.problem_text()
        self.problem.setText(problem)
        self.ok_button.setEnabled(not problem)


def _rich(text: str) -> QLabel:
    label = QLabel(text)
    label.setTextFormat(Qt.TextFormat.RichText)
    return label


def _text(text: str) -> str:
    """Plain text as rich text, its web addresses as links."""
    return re.sub(r"https://[^\s),]+", lambda m: f"<a href='{m[0]}'>{m[0]}</a>", html.escape(text, quote=False))


def _indented(widget: QWidget) -> QWidget:
    holder = QWidget()
    layout = QHBoxLayout(holder)
    layout.setContentsMargins(_INDENT, 0, 0, 0)
    layout.addWidget(widget)
    return holder
