"""birdview.gui.workers: work off the GUI thread, its results, progress and errors back on it."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
from PySide6.QtCore import QObject

from birdview.gui.workers import GuiCallback, WorkerPool
from birdview.store.project import Project


def _on_gui_thread() -> bool:
    return threading.current_thread() is threading.main_thread()


class _Seen:
    """Records every signal of a worker and the thread it arrived on."""

    def __init__(self, worker) -> None:
        self.events: list[tuple[str, object]] = []
        self.threads_ok = True
        for name in ("started", "progress", "result", "error", "finished"):
            getattr(worker, name).connect(lambda *args, name=name: self._add(name, args))

    def _add(self, name: str, args: tuple) -> None:
        self.threads_ok &= _on_gui_thread()
        self.events.append((name, args[0] if args else None))

    def kinds(self) -> list[str]:
        return [name for name, _ in self.events]


@pytest.fixture
def pool():
    pool = WorkerPool("test")
    yield pool
    pool.close()


def test_the_result_comes_back_on_the_gui_thread(qtbot, pool: WorkerPool) -> None:
    worker = pool.run(lambda a, b=0: (threading.current_thread().name, a + b), 2, b=3)
    seen = _Seen(worker)
    assert worker.active and pool.active == 1
    with qtbot.waitSignal(worker.finished, timeout=5000):
        pass
    thread_name, value = seen.events[-2][1]
    assert value == 5 and thread_name.startswith("test-")
    assert seen.kinds() == ["started", "result", "finished"] and seen.threads_ok
    assert not worker.active and pool.active == 0


def test_progress_arrives_in_order_before_the_result(qtbot, pool: WorkerPool) -> None:
    def count(n: int, progress) -> str:
        for i in range(n):
            progress(i)
        return "counted"

    worker = pool.run(count, 5, progress=True)
    seen = _Seen(worker)
    with qtbot.waitSignal(worker.result, timeout=5000) as blocker:
        pass
    assert blocker.args == ["counted"]
    assert [value for name, value in seen.events if name == "progress"] == [0, 1, 2, 3, 4]
    assert seen.kinds() == ["started"] + ["progress"] * 5 + ["result", "finished"] and seen.threads_ok


def test_an_exception_becomes_an_error_message_and_the_thread_goes_on(qtbot) -> None:
    pool = WorkerPool("one", max_threads=1)

    def fail(exc: Exception) -> None:
        raise exc

    expected = pool.run(fail, OSError("disk on fire"))
    bug = pool.run(fail, KeyError("x"))
    after = pool.run(lambda: "still here")  # the same, only thread runs this one
    seen = [_Seen(worker) for worker in (expected, bug, after)]
    with qtbot.waitSignal(after.finished, timeout=5000):
        pass
    assert seen[0].kinds() == ["started", "error", "finished"] and seen[0].events[1][1] == "disk on fire"
    assert seen[1].events[1] == ("error", "KeyError: 'x'") and isinstance(bug.exception, KeyError)
    assert seen[2].events[1] == ("result", "still here")
    assert all(s.threads_ok for s in seen)
    pool.close()


def test_a_worker_gets_a_project_of_its_own_opened_and_closed_on_its_thread(
    qtbot, pool: WorkerPool, tmp_path: Path, monkeypatch
) -> None:
    folder = tmp_path / "project"
    Project.create(folder, species=["amecro", "barswa"]).close()
    calls: list[tuple[str, int]] = []
    real_open, real_close = Project.open.__func__, Project.close

    def open_(cls, *args, **kwargs):
        calls.append(("open", threading.get_ident()))
        return real_open(cls, *args, **kwargs)

    def close(self) -> None:
        calls.append(("close", threading.get_ident()))
        real_close(self)

    monkeypatch.setattr(Project, "open", classmethod(open_))
    monkeypatch.setattr(Project, "close", close)

    def species(project: Project, suffix: str) -> tuple[list[str], int]:
        calls.append(("use", threading.get_ident()))
        return [code + suffix for code in project.species_codes()], threading.get_ident()

    worker = pool.run(species, "!", project=folder)
    with qtbot.waitSignal(worker.result, timeout=10_000) as blocker:
        pass
    codes, thread = blocker.args[0]
    assert codes == ["amecro!", "barswa!"]
    assert thread != threading.get_ident()
    assert calls == [("open", thread), ("use", thread), ("close", thread)]


def test_a_project_that_cannot_be_opened_is_an_error(qtbot, pool: WorkerPool, tmp_path: Path) -> None:
    (tmp_path / "project").mkdir()
    (tmp_path / "project" / "project.sqlite").write_bytes(b"not a database at all" * 10)
    worker = pool.run(lambda project: "never", project=tmp_path / "project")
    with qtbot.waitSignal(worker.error, timeout=10_000) as blocker:
        pass
    assert "project.sqlite" in blocker.args[0]


def test_cancel_asks_the_function_to_stop_and_its_answer_is_delivered(qtbot, pool: WorkerPool) -> None:
    started = threading.Event()

    def wait_for_cancel(cancel: threading.Event) -> str:
        started.set()
        return "stopped" if cancel.wait(10) else "timed out"

    worker = pool.run(wait_for_cancel, cancellable=True)
    assert started.wait(5)
    worker.cancel()
    with qtbot.waitSignal(worker.result, timeout=5000) as blocker:
        pass
    assert blocker.args == ["stopped"] and worker.cancelled


def test_a_result_arriving_after_its_pool_was_closed_is_dropped(qtbot) -> None:
    pool = WorkerPool("closing")
    gate, started = threading.Event(), threading.Event()

    def slow(progress) -> str:
        started.set()
        gate.wait(10)
        progress("late")
        return "late"

    worker = pool.run(slow, progress=True)
    seen = _Seen(worker)
    assert started.wait(5)
    qtbot.waitUntil(lambda: seen.kinds() == ["started"], timeout=5000)
    pool.close()
    assert worker.cancelled and not worker.active and pool.active == 0
    gate.set()
    assert worker.wait(5)
    qtbot.wait(100)
    assert seen.kinds() == ["started"]  # no progress, result or finished after the close
    never = pool.run(lambda: pytest.fail("ran after the close"))
    assert not never.active
    qtbot.wait(50)


def test_a_result_no_longer_wanted_is_dropped(qtbot, pool: WorkerPool) -> None:
    state = {"project": "a"}
    worker = pool.run(lambda: "for a", wanted=lambda: state["project"] == "a")
    seen = _Seen(worker)
    state["project"] = "b"  # switched before the result came back
    assert worker.wait(5)
    qtbot.waitUntil(lambda: not worker.active, timeout=5000)
    assert "result" not in seen.kinds() and "finished" not in seen.kinds()
    kept = pool.run(lambda: "for b", wanted=lambda: state["project"] == "b")
    with qtbot.waitSignal(kept.result, timeout=5000) as blocker:
        pass
    assert blocker.args == ["for b"]


def test_deleting_the_owner_closes_its_pool(qtbot) -> None:
    owner = QObject()
    pool = WorkerPool("owned", owner=owner)
    gate = threading.Event()
    worker = pool.run(gate.wait, 10)
    seen = _Seen(worker)
    owner.deleteLater()
    qtbot.waitUntil(lambda: pool.closed, timeout=5000)
    gate.set()
    assert worker.wait(5)
    qtbot.wait(50)
    assert "result" not in seen.kinds()


def test_a_bounded_pool_runs_at_most_that_many_at_once_in_order(qtbot) -> None:
    pool = WorkerPool("two", max_threads=2)
    lock, running, most, order = threading.Lock(), [0], [0], []

    def job(i: int) -> int:
        with lock:
            running[0] += 1
            most[0] = max(most[0], running[0])
            order.append(i)
        time.sleep(0.02)
        with lock:
            running[0] -= 1
        return i

    workers = [pool.run(job, i) for i in range(8)]
    qtbot.waitUntil(lambda: pool.active == 0, timeout=10_000)
    assert most[0] <= 2 and sorted(order) == list(range(8)) and order[:2] in ([0, 1], [1, 0])
    assert all(not w.active for w in workers)
    pool.close()


def test_a_gui_callback_runs_on_the_gui_thread_until_closed(qtbot) -> None:
    owner = QObject()
    calls: list[tuple[object, bool]] = []
    callback = GuiCallback(lambda value: calls.append((value, _on_gui_thread())), parent=owner)
    thread = threading.Thread(target=lambda: [callback(i) for i in range(3)])
    thread.start()
    thread.join()
    assert calls == []  # queued for the event loop
    qtbot.waitUntil(lambda: len(calls) == 3, timeout=5000)
    assert calls == [(0, True), (1, True), (2, True)]
    callback.close()
    callback("late")
    qtbot.wait(20)
    assert len(calls) == 3
