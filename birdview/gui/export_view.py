"""File ▸ Export view…: the spectrogram as it is shown (its axes, labels, detections, and the
probability tracks under it when they are shown) written to a PNG or an SVG file, at a size
chosen in pixels or at the size it has in the window.

Each plot is laid out again at the export's width (its share of the height: the tracks keep
theirs, the spectrogram takes the rest) and its scene rendered with Qt's painter, into a QImage
for a PNG and into a QSvgGenerator for an SVG: a vector file whose axes, ticks, text and boxes
are SVG shapes and text, the spectrogram tiles embedded images. Text keeps its size in pixels, so
a larger export shows more ticks rather than larger letters. The plots are put back as they were.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import pyqtgraph as pg
from PySide6.QtCore import QObject, QRect, QRectF, QSettings, QSize, Signal
from PySide6.QtGui import QColor, QImage, QPainter
from PySide6.QtSvg import QSvgGenerator
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QRadioButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

#: File name endings and what they are written as.
FORMATS = {".png": "PNG image", ".svg": "SVG drawing (vector)"}
MIN_SIZE, MAX_SIZE = 64, 16384
_SETTINGS_KEY = "export_view"


def window_size(parts: Sequence[pg.PlotWidget]) -> tuple[int, int]:
    """The size the plots have in the window, stacked: (width of the first, sum of heights)."""
    if not parts:
        return 0, 0
    return parts[0].width(), sum(part.height() for part in parts)


def _heights(parts: Sequence[pg.PlotWidget], height: int) -> list[int]:
    """Each plot's height in an export ``height`` tall: the ones under the first keep theirs
    (shrunk alike when they would take more than half), the first gets the rest."""
    others = [part.height() for part in parts[1:]]
    room = height // 2
    if sum(others) > room:
        others = [h * room // max(sum(others), 1) for h in others]
    return [height - sum(others), *others]


def render_view(painter: QPainter, parts: Sequence[pg.PlotWidget], width: int, height: int) -> None:
    """Paint the plots stacked into (0, 0, width, height), each laid out at that width."""
    boxes = [part.getPlotItem().getViewBox() for part in parts]
    for box in boxes:
        box.blockLink(True)  # no linked view follows another's temporary size
    try:
        top = 0
        for part, part_height in zip(parts, _heights(parts, height), strict=True):
            if part_height <= 0:
                continue
            item = part.getPlotItem()
            before = item.geometry()
            source = QRectF(0, 0, width, part_height)
            item.setGeometry(source)
            item.layout.activate()
            try:
                scene = part.scene()
                scene.prepareForPaint()
                target = QRectF(0, top, width, part_height)
                painter.fillRect(target, part.backgroundBrush())
                scene.render(painter, target, source)
            finally:
                item.setGeometry(before)
                item.layout.activate()
            top += part_height
    finally:
        for box in boxes:
            box.blockLink(False)


def export_view(parts: Sequence[pg.PlotWidget], path: str | Path, width: int, height: int) -> Path:
    """Write the plots to ``path`` (.png or .svg) at width × height pixels."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in FORMATS:
        raise ValueError(f"{path.name}: a view is exported to a .png or an .svg file")
    if not parts:
        raise ValueError("nothing to export: no recording is shown")
    width, height = int(width), int(height)
    if not (MIN_SIZE <= width <= MAX_SIZE and MIN_SIZE <= height <= MAX_SIZE):
        raise ValueError(f"the size must be {MIN_SIZE} to {MAX_SIZE} pixels each way, not {width} × {height}")
    if suffix == ".png":
        image = QImage(width, height, QImage.Format.Format_RGB32)
        image.fill(QColor("black"))
        painter = QPainter(image)
        try:
            painter.setRenderHint(QPainter.RenderHint.Antialiasing)
            render_view(painter, parts, width, height)
        finally:
            painter.end()
        if not image.save(str(path), "PNG"):
            raise OSError(f"could not write {path}")
        return path
    generator = QSvgGenerator()
    generator.setFileName(str(path))
    generator.setSize(QSize(width, height))
    generator.setViewBox(QRect(0, 0, width, height))
    generator.setResolution(round(parts[0].logicalDpiX()))  # text as large as on screen
    generator.setTitle("birdview view")
    painter = QPainter()
    if not painter.begin(generator):
        raise OSError(f"could not write {path}")
    try:
        render_view(painter, parts, width, height)
    finally:
        painter.end()
    if not path.exists() or path.stat().st_size == 0:
        raise OSError(f"could not write {path}")
    return path


class ExportViewDialog(QDialog):
    """Where to, and how large: the window's size or width × height pixels."""

    def __init__(self, window_px: tuple[int, int], settings: QSettings, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Export view")
        self.setObjectName("export_view_dialog")
        self.settings = settings
        try:
            stored = json.loads(str(settings.value(_SETTINGS_KEY) or "{}"))
        except ValueError:
            stored = {}
        stored = stored if isinstance(stored, dict) else {}
        self.window_px = window_px
        self.window_size = QRadioButton(f"As in the window: {window_px[0]} × {window_px[1]} px")
        self.chosen_size = QRadioButton("This size:")
        self.width_px = QSpinBox(minimum=MIN_SIZE, maximum=MAX_SIZE, suffix=" px")
        self.height_px = QSpinBox(minimum=MIN_SIZE, maximum=MAX_SIZE, suffix=" px")
        self.width_px.setValue(int(stored.get("width", 1920)))
        self.height_px.setValue(int(stored.get("height", 1080)))
        (self.chosen_size if stored.get("chosen", False) else self.window_size).setChecked(True)
        self.path = QLineEdit(str(stored.get("path", "")))
        self.path.setPlaceholderText("view.png or view.svg")
        browse = QPushButton("Browse…")
        browse.clicked.connect(self._browse)

        sizes = QHBoxLayout()
        sizes.addWidget(self.chosen_size)
        sizes.addWidget(self.width_px)
        sizes.addWidget(QLabel("×"))
        sizes.addWidget(self.height_px)
        where = QHBoxLayout()
        where.addWidget(self.path, stretch=1)
        where.addWidget(browse)
        form = QFormLayout()
        form.addRow("Size", self.window_size)
        form.addRow("", sizes)
        form.addRow("File", where)
        form.addRow("", QLabel("PNG: an image; SVG: a vector drawing with the axes' text"))
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(buttons)
        self.chosen_size.toggled.connect(self._enable)
        self._enable(self.chosen_size.isChecked())

    def _enable(self, chosen: bool) -> None:
        self.width_px.setEnabled(chosen)
        self.height_px.setEnabled(chosen)

    def _browse(self) -> None:
        filters = ";;".join(f"{name} (*{suffix})" for suffix, name in FORMATS.items())
        path, _ = QFileDialog.getSaveFileName(self, "Export view", self.path.text() or "view.png", filters)
        if path:
            self.path.setText(path)

    def size_px(self) -> tuple[int, int]:
        if self.chosen_size.isChecked():
            return self.width_px.value(), self.height_px.value()
        return self.window_px

    def remember(self) -> None:
        remembered = {
            "width": self.width_px.value(),
            "height": self.height_px.value(),
            "chosen": self.chosen_size.isChecked(),
            "path": self.path.text(),
        }
        self.settings.setValue(_SETTINGS_KEY, json.dumps(remembered))


class ViewExporter(QObject):
    """File ▸ Export view…; ``message(text)`` for the status bar says what was written, or why not.
    ``probabilities`` is the probability panel: its track and heat-map plots go under the
    spectrogram when they are shown."""

    message = Signal(str)

    def __init__(self, window: QWidget, settings: QSettings, view: pg.PlotWidget, probabilities: QWidget) -> None:
        super().__init__(window)
        self.window, self.settings, self.view, self.probabilities = window, settings, view, probabilities
        self.dialog: ExportViewDialog | None = None

    def parts(self) -> list[pg.PlotWidget]:
        """The plots exported, top to bottom: the spectrogram, then the shown probability plots."""
        below = [getattr(self.probabilities, name, None) for name in ("track_plot", "heatmap_plot")]
        return [self.view, *(plot for plot in below if plot is not None and plot.isVisible())]

    def choose(self) -> ExportViewDialog | None:
        """Open the dialog (not modal: tests and the user fill it in); exports when it is accepted."""
        if getattr(self.view, "recording", None) is None:
            self.message.emit("Open a recording first: there is no view to export")
            return None
        self.dialog = ExportViewDialog(window_size(self.parts()), self.settings, self.window)
        self.dialog.accepted.connect(self._accepted)
        self.dialog.open()
        return self.dialog

    def _accepted(self) -> None:
        dialog = self.dialog
        if dialog is None:
            return
        dialog.remember()
        text = dialog.path.text().strip()
        if not text:
            self.message.emit("Not exported: no file name given")
            return
        path = Path(text).expanduser()
        if not path.suffix:
            path = path.with_suffix(".png")
        self.export(path, *dialog.size_px())

    def export(self, path: str | Path, width: int, height: int) -> Path | None:
        try:
            written = export_view(self.parts(), path, width, height)
        except (OSError, ValueError) as exc:
            self.message.emit(f"View not exported: {exc}")
            return None
        self.message.emit(f"View exported to {written} ({width} × {height} px)")
        return written
