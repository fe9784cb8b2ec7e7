"""Work off the GUI thread, done one way for the whole window.

:meth:`WorkerPool.run` calls a function on a worker thread and returns a :class:`Worker` whose
signals arrive on the thread that called ``run`` (the GUI thread), so their slots may touch
widgets and the window's project:

``started``   the function began;
``progress``  a value it reported (``progress=True`` hands it a ``progress`` callable);
``result``    what it returned;
``error``     the message of what it raised (the thread never dies of it);
``finished``  after ``result`` or ``error``.

Connect right after ``run``: nothing is delivered before control is back in the event loop.

``project=folder`` gives the function a :class:`~birdview.store.project.Project` of its own,
opened on the worker thread (connections cannot be shared across threads) and closed when it
returns; a project that cannot be opened is an ``error``. ``cancellable=True`` hands it a
``cancel`` :class:`threading.Event`, set by :meth:`Worker.cancel`; it decides what a cancelled
run returns. A result that is no longer wanted is dropped without a signal: every result after
:meth:`WorkerPool.close` (or after the pool's owner was deleted), and those for which the
``wanted`` check made on the GUI thread says no (the project was switched meanwhile).

:class:`GuiCallback` is the same delivery for callbacks from threads this module does not start
(the tile service's workers, a training job's output reader).
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import queue
import threading
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QObject, Qt, QTimer, Signal, Slot

from birdview.audio.recording import AudioFileError
from birdview.store.project import Project

logger = logging.getLogger(__name__)

#: Failures a worker's function is expected to meet (ProjectError is a ValueError): their own
#: message is the error message. Anything else is a bug: its type heads the message and its
#: traceback goes to the log.
EXPECTED_ERRORS: tuple[type[BaseException], ...] = (OSError, ValueError, AudioFileError)

_STARTED, _PROGRESS, _RESULT, _ERROR, _SKIPPED = "started", "progress", "result", "error", "skipped"

#: Workers whose last message has not reached the GUI thread yet. Holding them here means the
#: last reference to one is dropped on the GUI thread, never on its worker thread.
_alive: set[Worker] = set()


def error_message(exc: BaseException) -> str:
    """The message the ``error`` signal carries for ``exc``."""
    if isinstance(exc, EXPECTED_ERRORS):
        return str(exc) or type(exc).__name__
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


class Worker(QObject):
    """One call of a function on a worker thread; made by :meth:`WorkerPool.run`."""

    started = Signal()
    progress = Signal(object)
    result = Signal(object)
    error = Signal(str)
    finished = Signal()
    _posted = Signal(str, object)  # from the worker thread to _deliver on the GUI thread

    def __init__(
        self,
        pool: WorkerPool,
        fn: Callable[..., object],
        args: tuple,
        kwargs: dict,
        project: str | Path | None,
        wanted: Callable[[], bool] | None,
    ) -> None:
        super().__init__()
        self._pool = pool
        self._fn, self._args, self._kwargs = fn, args, kwargs
        self._project_folder = Path(project) if project is not None else None
        self._wanted = wanted
        self.cancel_event = threading.Event()
        self._returned = threading.Event()  # the function is done (or will never run)
        self._active = True  # until the last message is delivered or dropped, on the GUI thread
        self._dropped = False
        self.exception: BaseException | None = None
        self._posted.connect(self._deliver, Qt.ConnectionType.QueuedConnection)

    # -- from the GUI thread -----------------------------------------------------------------

    @property
    def active(self) -> bool:
        """True until its result or error is delivered, or the worker is dropped."""
        return self._active

    @property
    def cancelled(self) -> bool:
        return self.cancel_event.is_set()

    def cancel(self) -> None:
        """Ask the function to stop (it sees the ``cancel`` event); what it returns is delivered."""
        self.cancel_event.set()

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the function has returned (its signals still come through the event loop);
        False on timeout. Any thread may wait."""
        return self._returned.wait(timeout)

    def drop(self) -> None:
        """Cancel, and deliver nothing more: no result, error, progress or finished."""
        self.cancel_event.set()
        self._dropped = True
        self._release()

    def _release(self) -> None:
        if self._active:
            self._active = False
            self._pool._forget(self)

    # -- on the worker thread ----------------------------------------------------------------

    def report(self, value: object) -> None:
        """Send a progress value to the GUI thread; callable from any thread."""
        self._post(_PROGRESS, value)

    def _post(self, kind: str, value: object = None) -> None:
        with contextlib.suppress(RuntimeError):  # the application is gone: nobody waits for it
            self._posted.emit(kind, value)

    def _run(self) -> None:
        kind, value = _SKIPPED, None
        try:
            if self._dropped:
                return  # dropped before it started: not worth starting
            self._post(_STARTED)
            kwargs = dict(self._kwargs)
            if self._project_folder is None:
                value = self._fn(*self._args, **kwargs)
            else:
                with Project.open(self._project_folder) as project:
                    value = self._fn(project, *self._args, **kwargs)
            kind = _RESULT
        except Exception as exc:
            if not isinstance(exc, EXPECTED_ERRORS):
                logger.error("%s failed", getattr(self._fn, "__qualname__", self._fn), exc_info=exc)
            self.exception = exc
            kind, value = _ERROR, error_message(exc)
        finally:
            self._returned.set()
            self._post(kind, value)

    # -- back on the GUI thread --------------------------------------------------------------

    @Slot(str, object)
    def _deliver(self, kind: str, value: object) -> None:
        last = kind in (_RESULT, _ERROR, _SKIPPED)
        if last:
            QTimer.singleShot(0, lambda: _alive.discard(self))  # not while inside its own slot
        if self._dropped or not self._active:
            return
        if last and (kind == _SKIPPED or (self._wanted is not None and not self._wanted())):
            self.drop()
            return
        if kind == _STARTED:
            self.started.emit()
        elif kind == _PROGRESS:
            self.progress.emit(value)
        else:
            self._release()  # no longer active while its slots run
            (self.result if kind == _RESULT else self.error).emit(value)
            self.finished.emit()


class WorkerPool:
    """Runs workers for one owner (a controller, the window) and can drop them all at once.

    ``max_threads`` bounds how many run at a time (the others wait in order); None gives each
    worker a thread of its own. Threads are daemons: a run still going never holds up the exit.
    With an ``owner``, the pool closes itself when the owner is deleted."""

    def __init__(self, name: str = "worker", max_threads: int | None = None, owner: QObject | None = None) -> None:
        self.name = name
        self._max_threads = max_threads
        self._jobs: queue.SimpleQueue[Callable[[], None] | None] = queue.SimpleQueue()
        self._threads: list[threading.Thread] = []
        self._workers: set[Worker] = set()
        self._count = itertools.count(1)
        self._closed = False
        if owner is not None:
            owner.destroyed.connect(self.close)

    @property
    def active(self) -> int:
        """How many workers have yet to deliver their result or error."""
        return len(self._workers)

    @property
    def closed(self) -> bool:
        return self._closed

    def run(
        self,
        fn: Callable[..., object],
        *args: object,
        project: str | Path | None = None,
        progress: bool = False,
        cancellable: bool = False,
        wanted: Callable[[], bool] | None = None,
        **kwargs: object,
    ) -> Worker:
        """Call ``fn(*args, **kwargs)`` on a worker thread (``fn(project, *args, **kwargs)`` with
        ``project``, given a folder); call this on the GUI thread. After :meth:`close` the worker
        is dropped at once and never runs."""
        worker = Worker(self, fn, args, kwargs, project, wanted)
        if progress:
            worker._kwargs["progress"] = worker.report
        if cancellable:
            worker._kwargs["cancel"] = worker.cancel_event
        if self._closed:
            worker._returned.set()
            worker.drop()
            return worker
        self._workers.add(worker)
        _alive.add(worker)
        self._submit(worker._run)
        return worker

    def cancel_all(self) -> None:
        for worker in list(self._workers):
            worker.cancel()

    def close(self) -> None:
        """Cancel every worker and drop whatever they would still deliver; stop the threads
        (those running finish their function first). Later :meth:`run` calls are dropped."""
        self._closed = True
        for worker in list(self._workers):
            worker.drop()
        for _ in self._threads:
            self._jobs.put(None)
        self._threads = []

    def _forget(self, worker: Worker) -> None:
        self._workers.discard(worker)

    def _submit(self, job: Callable[[], None]) -> None:
        name = f"{self.name}-{next(self._count)}"
        if self._max_threads is None:
            threading.Thread(target=job, name=name, daemon=True).start()
            return
        self._jobs.put(job)
        if len(self._threads) < self._max_threads:
            thread = threading.Thread(target=self._serve, name=name, daemon=True)
            self._threads.append(thread)
            thread.start()

    def _serve(self) -> None:
        while (job := self._jobs.get()) is not None:
            job()


class GuiCallback(QObject):
    """``fn`` made callable from any thread: each call runs ``fn`` with its arguments on the
    thread this object was made on (the GUI thread), in order. Calls after :meth:`close`, or
    after the parent was deleted, are dropped."""

    _called = Signal(object)

    def __init__(self, fn: Callable[..., object], parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._fn = fn
        self._closed = False
        self._called.connect(self._call, Qt.ConnectionType.QueuedConnection)

    def __call__(self, *args: object) -> None:
        if not self._closed:
            with contextlib.suppress(RuntimeError):  # deleted with its parent
                self._called.emit(args)

    def close(self) -> None:
        self._closed = True

    @Slot(object)
    def _call(self, args: tuple) -> None:
        if not self._closed:
            self._fn(*args)
