"""Background work yields the processor to the window: a training job's process, the scoring
worker and the spectrogram's tile workers run at a lower priority (a higher nice value) than the
GUI thread, so that scrolling stays smooth on a two-core machine while they run.

On Linux each thread has its own nice value (threads it starts inherit it: the thread pools of
PyTorch, ONNX Runtime and OpenVINO started from a lowered thread are lowered too); elsewhere a
thread's priority is left alone and only child processes are lowered.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import threading

#: A training or scoring job: the lowest priority, so that it takes only what the window leaves
#: (benchmarks/README.md, viewer_benchmark --jobs); on an idle machine it still runs at full speed.
JOB_NICE = 19
#: Spectrogram tiles and the overview: below the window, above a job (the user is waiting for
#: them). At 10 rather than 5 the window's frame p95 on a noise-like FLAC fell from 43 to 28 ms
#: with no job and from 53 to 40 ms beside one; the overview took as long.
TILE_NICE = 10


def lower_this_thread(nice: int) -> bool:
    """Give the calling thread at least ``nice`` (never raises its priority), and a job's the
    idle policy; True where done."""
    if not sys.platform.startswith("linux"):
        return False
    return _lower(threading.get_native_id(), nice)


def _lower(task: int, nice: int) -> bool:
    """A process or (Linux) thread: at least ``nice``; at a job's nice, also SCHED_IDLE where the
    system has it: the window's thread then takes the core back the moment it wakes (with nice
    alone the window's frame p95 beside a two-thread job was 57 ms, against 38 ms with no job)."""
    try:
        if os.getpriority(os.PRIO_PROCESS, task) < nice:
            os.setpriority(os.PRIO_PROCESS, task, nice)
    except OSError:
        return False
    if nice >= JOB_NICE and hasattr(os, "SCHED_IDLE"):
        with contextlib.suppress(OSError):
            os.sched_setscheduler(task, os.SCHED_IDLE, os.sched_param(0))
    return True


def job_process_options() -> dict:
    """Extra ``subprocess.Popen`` arguments that start a child at a job's priority (Windows);
    elsewhere see :func:`lower_process`."""
    if sys.platform == "win32":
        return {"creationflags": subprocess.BELOW_NORMAL_PRIORITY_CLASS}
    return {}


def lower_process(pid: int, nice: int = JOB_NICE) -> bool:
    """Lower a child process just started (POSIX; its threads are started later and inherit it)."""
    if sys.platform == "win32":
        return False
    return _lower(pid, nice)
