"""A job run as a child process (``birdview-train fit --progress json``...), followed by reading
the files it writes.

The process writes its progress events (:mod:`trainer.progress`, one JSON line each) to
``progress.jsonl`` and its log to ``log.txt`` in the job's folder, in a session of its own, so it
goes on when the app closes; ``state.json`` says what the job is. Whoever opens the project next
can pick up a job that finished meanwhile (:meth:`ChildProcessJob.recover`).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

from birdview.system.priority import job_process_options, lower_process
from trainer.progress import Done, Event, Failed, PredictStep, TrainStep, Validated, parse_event

#: The trainer's events a job delivers, for the app's panels (which do not import the trainer).
__all__ = [
    "ChildProcessJob",
    "Done",
    "Event",
    "Failed",
    "JobEvent",
    "JobFinished",
    "PredictStep",
    "TrainStep",
    "Validated",
]

RUNNING, DONE, FAILED, CANCELLED = "running", "done", "failed", "cancelled"


class JobError(RuntimeError):
    pass


@dataclass
class JobState:
    state: str
    command: list[str]
    pid: int | None = None
    started_at: float = 0.0
    finished_at: float | None = None
    returncode: int | None = None
    checkpoint: str | None = None
    message: str | None = None
    extra: dict = field(default_factory=dict)


@dataclass(frozen=True)
class JobFinished:
    """The job's process has ended and its state is settled: ``state`` (done, failed or
    cancelled), why it failed, and the checkpoint of a done job. Not written by the trainer: the
    runner tells its ``on_event`` after the last of the process's events."""

    state: str
    message: str | None = None
    checkpoint: str | None = None


#: What a job's ``on_event`` gets: each progress event of the process, then :class:`JobFinished`.
JobEvent = Event | JobFinished


def pid_alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie (exited, not yet reaped) still answers kill 0: look at its state where we can.
    stat = Path(f"/proc/{pid}/stat")
    if stat.exists():
        try:
            return stat.read_text().split(")")[-1].split()[0] != "Z"
        except OSError:
            return True
    return True


class ChildProcessJob:
    """Runs and follows one job folder. ``on_event`` gets each progress event, then
    :class:`JobFinished`, on the follower thread; the GUI bridges them to its own thread."""

    def __init__(self, folder: str | Path, on_event: Callable[[JobEvent], None] | None = None) -> None:
        self.folder = Path(folder)
        self.on_event = on_event
        self.events: list[Event] = []
        self._process: subprocess.Popen | None = None
        self._follower: threading.Thread | None = None
        self._stop_following = threading.Event()
        self._cancel_requested = False

    @property
    def state_file(self) -> Path:
        return self.folder / "state.json"

    @property
    def progress_file(self) -> Path:
        return self.folder / "progress.jsonl"

    @property
    def log_file(self) -> Path:
        return self.folder / "log.txt"

    def read_state(self) -> JobState:
        try:
            return JobState(**json.loads(self.state_file.read_text()))
        except (OSError, ValueError, TypeError) as exc:
            raise JobError(f"{self.state_file}: unreadable job state ({exc})") from None

    def write_state(self, state: JobState) -> None:
        temporary = self.state_file.with_suffix(".tmp")
        temporary.write_text(json.dumps(asdict(state), indent=1))
        temporary.replace(self.state_file)

    def start(self, command: Sequence[str], extra: dict | None = None) -> JobState:
        self.folder.mkdir(parents=True, exist_ok=True)
        progress = open(self.progress_file, "w")  # noqa: SIM115 - handed to the child
        log = open(self.log_file, "w")  # noqa: SIM115
        try:
            self._process = subprocess.Popen(
                list(command),
                stdout=progress,
                stderr=log,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
                env={**os.environ, "PYTHONUNBUFFERED": "1"},
                **job_process_options(),
            )
            lower_process(self._process.pid)  # below the window: browsing stays smooth while it trains
        finally:
            progress.close()
            log.close()
        state = JobState(RUNNING, list(command), self._process.pid, time.time(), extra=extra or {})
        self.write_state(state)
        self._follower = threading.Thread(target=self._follow, name="job-follower", daemon=True)
        self._follower.start()
        return state

    def _follow(self) -> None:
        with open(self.progress_file) as handle:
            while True:
                line = handle.readline()
                if line:
                    self._take(line)
                    continue
                if self._process is not None and self._process.poll() is not None:
                    for rest in handle.readlines():
                        self._take(rest)
                    self._finish(self._process.returncode)
                    return
                if self._stop_following.wait(0.1):
                    return

    def _take(self, line: str) -> None:
        """One line of progress.jsonl: an event, or something else (a stray print, a line cut
        short, an event this version does not know), which is skipped."""
        event = parse_event(line)
        if event is None:
            return
        self.events.append(event)
        if self.on_event is not None:
            self.on_event(event)

    def _finish(self, returncode: int) -> JobState:
        state = self.read_state()
        state.returncode = returncode
        state.finished_at = time.time()
        done = next((e for e in reversed(self.events) if isinstance(e, Done)), None)
        error = next((e for e in reversed(self.events) if isinstance(e, Failed)), None)
        if self._cancel_requested:
            state.state, state.message = CANCELLED, "cancelled by the user"
        elif returncode == 0 and done is not None:
            state.state, state.checkpoint = DONE, done.checkpoint
        else:
            state.state = FAILED
            reason = (
                error.message
                if error
                else f"exit status {returncode}" + (" (killed)" if returncode is not None and returncode < 0 else "")
            )
            state.message = f"{reason}; end of log:\n{self.log_tail()}"
        self.write_state(state)
        if self.on_event is not None:
            self.on_event(JobFinished(state.state, state.message, state.checkpoint))
        return state

    def log_tail(self, lines: int = 15) -> str:
        try:
            return "\n".join(self.log_file.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def cancel(self, grace_s: float = 10.0) -> None:
        """Ask the trainer to stop (SIGINT: Lightning ends the epoch loop cleanly), then kill it."""
        if self._process is None or self._process.poll() is not None:
            return
        self._cancel_requested = True
        self._process.send_signal(signal.SIGINT)
        try:
            self._process.wait(grace_s)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()

    def wait(self, timeout: float | None = None) -> JobState:
        if self._process is not None:
            self._process.wait(timeout)
        if self._follower is not None:
            self._follower.join(timeout)
        return self.read_state()

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def recover(self) -> JobState:
        """For a job folder found at start: settle a job whose process is gone."""
        state = self.read_state()
        if state.state != RUNNING or pid_alive(state.pid):
            return state
        self.events = []
        if self.progress_file.exists():
            for line in self.progress_file.read_text(errors="replace").splitlines():
                self._take(line)
        finished = any(isinstance(e, Done) for e in self.events)
        return self._finish(0 if finished else -1)


def trainer_command(arguments: Sequence[str]) -> list[str]:
    """``birdview-train`` with these arguments, run by this Python (the app's own environment)."""
    return [sys.executable, "-m", "trainer.cli", *arguments]
