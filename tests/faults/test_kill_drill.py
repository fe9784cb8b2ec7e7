"""A short run of benchmarks/fault_drill.py: kill -9 during imports and edits loses no committed
label, doubles none, and leaves the project whole (the benchmark runs many more rounds)."""

from __future__ import annotations

from benchmarks.fault_drill import run_drill


def test_kill_9_during_imports_and_edits_keeps_every_committed_label(tmp_path) -> None:
    drill = run_drill(rounds=4, seed=1, folder=tmp_path, verbose=False)
    assert drill.tried == 4
    assert drill.failures == []
    assert drill.held == 4
