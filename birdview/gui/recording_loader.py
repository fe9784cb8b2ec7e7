"""Opening recordings: files and folders are checked on worker threads (``gui/workers.py``), listed
in the recordings panel as they come in, added to the open project, and kept open for the view.

Signals: ``addedToProject(row)`` when a checked file joins the project; ``problem(text)`` for a
file that cannot be read or comes with a warning (also kept in :attr:`RecordingLoader.problems`);
``firstOpenable(path)`` once, for the first file in list order that opens; ``message(text)`` for
the status bar.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QObject, QTimer, Signal
from PySide6.QtWidgets import QFileDialog, QWidget

from birdview.audio.filenames import site_prefix
from birdview.audio.recording import AUDIO_EXTENSIONS, AudioFileError, Recording, RecordingInfo, find_audio_files, probe
from birdview.gui.recordings_panel import RecordingsPanel
from birdview.gui.workers import WorkerPool
from birdview.spectrogram.clock import start_of, wall_clock
from birdview.spectrogram.ticks import format_time
from birdview.store.project import Project, ProjectError, RecordingRow, content_hash
from birdview.store.sites import site_of

#: Files handed to the checking threads at a time, and the pause (ms) before the next batch.
_CHECK_BATCH, _CHECK_PAUSE_MS = 100, 10


def _probe(path: Path, with_hash: bool) -> tuple[RecordingInfo, str | None]:
    """On a worker thread: the file's facts and, for a project, its content hash; a file that
    cannot be read raises with the problem as the message."""
    try:
        return probe(path), content_hash(path) if with_hash else None
    except AudioFileError as exc:
        raise ValueError(exc.problem) from None
    except Exception as exc:
        raise ValueError(f"cannot be read ({exc})") from None


class RecordingLoader(QObject):
    addedToProject = Signal(object)  # RecordingRow
    problem = Signal(str)
    firstOpenable = Signal(object)  # Path
    message = Signal(str)

    def __init__(
        self, panel: RecordingsPanel, project: Callable[[], Project | None], parent: QObject | None = None
    ) -> None:
        super().__init__(parent)
        self.panel = panel
        self._project = project
        #: The readable recordings by absolute path, open for reading.
        self.recordings: dict[Path, Recording] = {}
        #: One line per problem met ("name: problem"), for the screenshot command and tests.
        self.problems: list[str] = []
        #: The open project's recordings by path.
        self.rows: dict[Path, RecordingRow] = {}
        self._first_offered = False
        self._probes = WorkerPool("probe", max_threads=2, owner=self)
        #: Listed files not handed to the workers yet (see :meth:`open_paths`).
        self._to_check: list[Path] = []

    def set_project_rows(self, rows: list[RecordingRow]) -> None:
        """The recordings of a project just opened; files checked from now on are added to it."""
        self.rows = {row.path: row for row in rows}

    def path_of(self, recording_id: int) -> Path | None:
        return next((p for p, row in self.rows.items() if row.id == recording_id), None)

    def site_of(self, path: Path) -> str | None:
        """The recording's site: in a project, as given when it was added, else (and outside a
        project) its file name's prefix (``SITE_20240521_053000.wav``)."""
        project, row = self._project(), self.rows.get(path)
        if project is not None and row is not None:
            return site_of(project, row)
        return site_prefix(path)

    def summary(self, info: RecordingInfo) -> str:
        """The status bar's line for a recording shown: name, site, wall-clock start, duration, format."""
        where = [self.site_of(info.path) or "no site"]
        where.append(f"from {wall_clock(info, 0.0, step=1.0)[0]}" if start_of(info) else "start time unknown")
        return (
            f"{info.path.name} ({', '.join(where)}): "
            f"{format_time(info.duration_s)}, {info.sample_rate} Hz, {info.channels} ch"
        )

    @property
    def pending(self) -> bool:
        """Some files are still being checked."""
        return self._probes.active > 0 or bool(self._to_check)

    def open_paths(self, paths: list[str | Path]) -> None:
        """Open files and folders; each file is listed at once (with what the project knows of
        it) and checked on a worker thread, handed out a batch at a time so that the window
        stays responsive while thousands are checked."""
        for path in self._files(paths):
            path = Path(path).absolute()
            if self.panel.has(path):
                continue
            self.panel.add_pending(path, self.site_of(path), self.rows.get(path))
            self._to_check.append(path)
        self._check_next()
        if not self.panel.paths() and not self.pending:
            self.message.emit("No audio files found in " + ", ".join(str(p) for p in paths))

    def _files(self, paths: list[str | Path]) -> list[Path]:
        """The audio files of the paths, in order; a project's own recordings are taken as they
        are (files, not folders: no need to look at the disk for each of thousands)."""
        found: list[Path] = []
        for entry in paths:
            if isinstance(entry, Path) and entry in self.rows:
                found.append(entry)
            else:
                found.extend(find_audio_files([entry]))
        return found

    def _check_next(self) -> None:
        """Hand the next batch of listed files to the workers (the rest after the event loop has run)."""
        batch, self._to_check = self._to_check[:_CHECK_BATCH], self._to_check[_CHECK_BATCH:]
        with_hash = self._project() is not None
        for path in batch:
            worker = self._probes.run(_probe, path, with_hash)
            worker.result.connect(lambda probed: self._on_probed(*probed))
            worker.error.connect(lambda problem, path=path: self._on_probe_failed(path, problem))
        if self._to_check:
            QTimer.singleShot(_CHECK_PAUSE_MS, self._check_next)

    def choose_files(self, parent: QWidget) -> None:
        pattern = " ".join(f"*{ext}" for ext in sorted(AUDIO_EXTENSIONS))
        files, _ = QFileDialog.getOpenFileNames(parent, "Open recordings", "", f"Audio ({pattern});;All files (*)")
        if files:
            self.open_paths(files)

    def choose_folder(self, parent: QWidget) -> None:
        folder = QFileDialog.getExistingDirectory(parent, "Open a folder of recordings")
        if folder:
            self.open_paths([folder])

    def step_from(self, path: Path | None, step: int) -> Path | None:
        """The readable recording ``step`` places after ``path`` in list order, wrapping round."""
        openable = [p for p in self.panel.paths() if p in self.recordings]
        if not openable:
            return None
        index = openable.index(path) if path is not None else -1
        return openable[(index + step) % len(openable)]

    def _on_probed(self, info: RecordingInfo, digest: str | None) -> None:
        project = self._project()
        if project is not None and digest is not None:
            known = info.path in self.rows  # already in the project (listed when it was opened)
            try:
                row = self.rows[info.path] = project.add_probed(info, digest)
            except ProjectError as exc:
                self._report(info.path, f"not added to the project: {exc}")
            else:
                if not known:
                    self.addedToProject.emit(row)
        self.panel.add_recording(info, self.site_of(info.path))
        self.recordings[info.path] = Recording(info)
        if info.warning:
            self._report(info.path, info.warning)
        self._offer_first_openable()

    def _on_probe_failed(self, path: Path, problem: str) -> None:
        self.panel.add_failure(path, problem)
        self._report(path, problem)
        self._offer_first_openable()

    def _offer_first_openable(self) -> None:
        """Once: the first file in list order that opens, when every file before it is checked."""
        if self._first_offered:
            return
        for path in self.panel.paths():
            state = self.panel.state(path)
            if state == "pending":
                return
            if state == "ok":
                self._first_offered = True
                self.firstOpenable.emit(path)
                return

    def _report(self, path: Path, problem: str) -> None:
        self.problems.append(f"{path.name}: {problem}")
        self.problem.emit(f"Problem with {path}: {problem}")

    def close(self) -> None:
        """Drop what is still being checked and close the recordings."""
        self._to_check = []
        self._probes.close()
        for recording in self.recordings.values():
            recording.close()
