"""Background work yields the processor to the window: a training job's process, the scoring
worker and the spectrogram's tile workers run at a lower priority (a higher nice value) than the
GUI thread, so that scrolling stays smooth on a two-core machine while they run.

On Linux each thread has its own nice value (threads it starts inherit it: the thread pools of
PyTorch, ONNX Runtime and OpenVINO started from a lowered thread are lowered too); elsewhere a
thread's priority is left alone and only child processes are lowered.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading

#: A training or scoring job: well below the window, still running at full speed on an idle machine.
JOB_NICE = 10
#: Spectrogram tiles and the overview: below the window, above a job (the user is waiting for them).
TILE_NICE = 5


def lower_this_thread(nice: int) -> bool:
    """Give the calling thread at least ``nice`` (never raises its priority); True where done."""
    if not sys.platform.startswith("linux"):
        return False
    thread = threading.get_native_id()
    try:
        if os.getpriority(os.PRIO_PROCESS, thread) < nice:
            os.setpriority(os.PRIO_PROCESS, thread, nice)
        return True
    except OSError:
        return False


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
    try:
        os.setpriority(os.PRIO_PROCESS, pid, max(nice, os.getpriority(os.PRIO_PROCESS, pid)))
        return True
    except OSError:
        return False
