"""Background work runs below the window: a training job's process, the tile workers and the
scoring worker get a higher nice value than the GUI thread (Linux, where threads have their own)."""

from __future__ import annotations

import os
import sys
import threading
from pathlib import Path

import pytest

from birdview.jobs.child_process import ChildProcessJob
from birdview.spectrogram.service import TileService
from birdview.system.priority import JOB_NICE, TILE_NICE, lower_this_thread

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="per-thread nice values are Linux's")


def _nice(native_id: int) -> int:
    return os.getpriority(os.PRIO_PROCESS, native_id)


def test_a_training_jobs_process_runs_below_the_window(tmp_path: Path) -> None:
    job = ChildProcessJob(tmp_path / "job")
    job.start([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        pid = job.read_state().pid
        assert _nice(pid) >= JOB_NICE and os.sched_getscheduler(pid) == os.SCHED_IDLE
        assert _nice(threading.get_native_id()) < JOB_NICE  # this process (the window's) is left alone
    finally:
        job.cancel(grace_s=1)


def test_tile_workers_and_lowered_threads_yield_to_the_gui_thread() -> None:
    service = TileService(workers=2)
    try:
        workers = [t for t in threading.enumerate() if t.name.startswith("tile-worker")]
        assert workers and all(_nice(t.native_id) >= TILE_NICE for t in workers)
    finally:
        service.shutdown()
    seen: dict[str, int] = {}

    def scoring() -> None:
        lower_this_thread(JOB_NICE)

        def started() -> None:
            me = threading.get_native_id()
            seen.update(started=_nice(me), policy=os.sched_getscheduler(me))

        inner = threading.Thread(target=started)
        inner.start()  # a thread the scoring worker starts (a decoder, the model's pool) inherits it
        inner.join()
        lower_this_thread(TILE_NICE)  # never raised back
        seen["after"] = _nice(threading.get_native_id())

    worker = threading.Thread(target=scoring)
    worker.start()
    worker.join()
    assert seen == {"started": JOB_NICE, "after": JOB_NICE, "policy": os.SCHED_IDLE}
    assert _nice(threading.get_native_id()) < TILE_NICE
