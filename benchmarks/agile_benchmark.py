"""The agile loop at a season's scale (issue #16): a call type no class of the model covers, found
from one example in 100 h of stored embeddings, in rounds of search → label 20 → quick retrain →
rescoring from the stored embeddings → margin review of 20.

The embeddings are generated, as a pretrained model (BirdNET-sized: 1,024-d float16, one window
every 3 s) would have stored them when scoring: background from 64 recurring sound types varying
within a 32-d subspace; a distractor call type (1 % of the windows); the target call type (0.3 %),
whose embedding shares most of its direction with the distractor's (cosine 0.92 between the two
pure calls), each call mixed over the background at a strength drawn from 0.25 to 0.9.
They are written into a real project through the store (as scoring writes them); every step then
runs as the app runs it: ``search`` over the stored embeddings, verdicts recorded as labels
(``record_verdicts``: confirm, or reject = a hard negative), ``start_retrain`` (the head trained
by ``birdview-train fit-head`` in its own process) and ``register_result`` (the comparison and
the score change against the parent), ``score`` of the new head from the stored embeddings (the
base model is loaded but scores nothing), the margin review (``candidates`` ordered by
uncertainty). The "user" labels by the generated truth.

A fifth of the recordings is never searched, reviewed or labelled: each round's head is judged on
all their windows (ROC-AUC and precision at recall 0.8 of target windows against every other).
The same loop runs twice on copies of the project: with the head's default weak negatives
(unlabelled windows of the training recordings), and, as the baseline, with hard negatives only.

    .venv/bin/python benchmarks/agile_benchmark.py [--hours 100] [--rounds 3] [--label 20]
"""

from __future__ import annotations

import argparse
import resource
import shutil
import tempfile
import time
from datetime import datetime
from pathlib import Path

import numpy as np
import torch
from sklearn.metrics import precision_recall_curve, roc_auc_score

from birdview.audio.recording import RecordingInfo
from birdview.jobs.embedding_set import WEAK_NEGATIVES
from birdview.jobs.retrain import register_result, retrain_round, start_retrain
from birdview.jobs.scoring import score
from birdview.review.queue import Candidate, candidates, record_verdicts
from birdview.review.similarity import Query, search
from birdview.store.project import Project

DIM, WINDOW_S, PER_RECORDING = 1024, 3.0, 1200  # one-hour recordings of 3 s windows
TARGET = "target_call"
#: Hits a search lists (the Review dock's "similar" list keeps as many).
SEARCH_TOP = 200
BACKGROUND, TARGET_KIND, DISTRACTOR = 0, 1, 2
TARGET_SHARE, DISTRACTOR_SHARE = 0.003, 0.01
#: Background: 64 recurring sound types, varying within a 32-d subspace, and a little noise.
BACKGROUND_RANK, NOISE = 32, 0.2
#: The two call types: a shared direction plus a smaller own one each; per-call jitter on top.
OWN_WEIGHT, JITTER, STRENGTH = 0.3, 0.2, 40.0


def _unit(vector: np.ndarray) -> np.ndarray:
    return vector / np.linalg.norm(vector)


def generate(project: Project, hours: int, seed: int) -> tuple[int, dict[int, np.ndarray]]:
    """The base model's version and each recording's truth (one kind a window)."""
    rng = np.random.default_rng(seed)
    base = project.register_model("birdnet", ["other"], window_s=WINDOW_S, kind="birdnet", embedding_dim=DIM)
    project.activate_model(base.version)
    centres = rng.standard_normal((64, DIM)).astype(np.float32)
    varying = (rng.standard_normal((BACKGROUND_RANK, DIM)) / np.sqrt(BACKGROUND_RANK)).astype(np.float32)
    shared = _unit(rng.standard_normal(DIM))
    calls = {
        kind: STRENGTH * (shared + OWN_WEIGHT * _unit(rng.standard_normal(DIM))) for kind in (TARGET_KIND, DISTRACTOR)
    }
    truth = {}
    for number in range(hours):
        placeholder = project.folder.parent / f"rec{number:03d}.wav"
        placeholder.touch()
        info = RecordingInfo(
            path=placeholder,
            duration_s=PER_RECORDING * WINDOW_S,
            sample_rate=48000,
            channels=1,
            frames=int(PER_RECORDING * WINDOW_S * 48000),
            format="WAV",
            start_time=datetime(2024, 5, 1 + number // 24, number % 24),
        )
        recording = project.add_probed(info, f"generated{number}")
        kinds = rng.choice(
            [BACKGROUND, TARGET_KIND, DISTRACTOR],
            size=PER_RECORDING,
            p=[1 - TARGET_SHARE - DISTRACTOR_SHARE, TARGET_SHARE, DISTRACTOR_SHARE],
        )
        vectors = (
            centres[rng.integers(0, 64, PER_RECORDING)]
            + rng.standard_normal((PER_RECORDING, BACKGROUND_RANK)).astype(np.float32) @ varying
            + NOISE * rng.standard_normal((PER_RECORDING, DIM)).astype(np.float32)
        )
        for kind in (TARGET_KIND, DISTRACTOR):
            rows = np.flatnonzero(kinds == kind)
            strength = rng.uniform(0.25, 0.9, (len(rows), 1))
            call = calls[kind] + JITTER * rng.standard_normal((len(rows), DIM))
            vectors[rows] = (1 - strength) * vectors[rows] + strength * call
        scores = np.zeros((PER_RECORDING, 1), dtype=np.float32)
        project.store_predictions(base.version, recording.id, scores, 0, vectors.astype(np.float32))
        truth[recording.id] = kinds
    return base.version, truth


def precision_at_recall(truth: np.ndarray, scores: np.ndarray, recall: float = 0.8) -> float:
    precision, achieved, _ = precision_recall_curve(truth, scores)
    return float(precision[achieved >= recall].max())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hours", type=int, default=100, help="hours of generated audio (one recording an hour)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--label", type=int, default=20, help="search hits labelled per round")
    parser.add_argument("--review", type=int, default=20, help="windows of the margin review per round")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--weak",
        type=int,
        default=WEAK_NEGATIVES,
        help="weak negatives of the head (0: only the hard-negative baseline)",
    )
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    folder = Path(tempfile.mkdtemp(prefix="birdview-agile-"))
    try:
        started = time.perf_counter()
        with Project.create(folder / "generated", species=[]) as project:
            project.add_species([(TARGET, None, None)])
            base_version, truth = generate(project, args.hours, args.seed)
        windows = sum(len(kinds) for kinds in truth.values())
        targets = sum(int((k == TARGET_KIND).sum()) for k in truth.values())
        distractors = sum(int((k == DISTRACTOR).sum()) for k in truth.values())
        print(
            f"wrote {windows:,} embeddings ({args.hours} h at one {WINDOW_S:g} s window, {DIM}-d float16) in "
            f"{time.perf_counter() - started:.1f} s; {targets} target windows, {distractors} distractor windows"
        )
        runs = [(f"head with {args.weak} weak negatives (the default)", args.weak)]
        if args.weak:
            runs.append(("baseline: hard negatives only (weak negatives 0)", 0))
        for title, weak in runs:
            shutil.copytree(folder / "generated", folder / "project")
            with Project.open(folder / "project") as project:
                rows = run_loop(project, base_version, truth, windows, weak, args)
            shutil.rmtree(folder / "project")
            print(f"\n{title}")
            _print(rows)
        print(
            f"\n{args.hours} h, {args.label} search hits and {args.review} margin windows labelled per round; "
            "a round's total leaves out the labelling itself (the user's time)."
        )
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def run_loop(
    project: Project, base_version: int, truth: dict[int, np.ndarray], windows: int, weak: int, args
) -> list[tuple]:
    """The rounds, from one example; a row of figures per round."""
    recordings = project.recordings()
    evaluation = {r.id for r in recordings[::5]}  # never searched, reviewed or labelled
    pool = [r.id for r in recordings if r.id not in evaluation]
    by_id = {r.id: r for r in recordings}
    base = project.model(base_version)
    call = _call_direction(project, base_version, truth, pool)
    # The user starts from one clear example: the pool's target window nearest the pure call.
    first, window = max(
        ((r, int(w)) for r in pool for w in np.flatnonzero(truth[r] == TARGET_KIND)),
        key=lambda key: _cosine(project.embeddings(base.version, key[0])[key[1]], call),
    )
    labelled = {(first, window)}
    examples = [(first, window)]
    record_verdicts(project, [Candidate(first, window, *_span(window), TARGET, 1.0, base_version)], "confirm")
    rows = []
    for round_number in range(1, args.rounds + 1):
        # Search from every confirmed example so far; of the hits not labelled yet, label the best
        # half and the other half spread evenly over the rest (similarity quantiles, as agile
        # modelling samples them: the best hits alone are often all calls, with no negative).
        queries = [Query(by_id[r], *_span(w)) for r, w in examples]
        started, cpu = time.perf_counter(), _cpu()
        hits = search(project, base_version, queries, top=SEARCH_TOP + len(labelled), recording_ids=pool)
        search_s, search_cpu = time.perf_counter() - started, _cpu() - cpu
        fresh = [h for h in hits if (h.recording_id, h.window) not in labelled][:SEARCH_TOP]
        best = args.label // 2
        spread = np.linspace(best, len(fresh) - 1, args.label - best).round().astype(int)
        chosen = fresh[:best] + [fresh[i] for i in sorted(set(spread.tolist())) if i >= best]
        found = [Candidate(h.recording_id, h.window, h.start_s, h.end_s, TARGET, 1.0, base_version) for h in chosen]
        confirmed = _label(project, found, truth, labelled, examples)
        # Quick retrain: the head in its own process, registered with its comparison and score change.
        started, cpu = time.perf_counter(), _cpu()
        job = start_retrain(project, "quick", weak_negatives=weak)
        state = job.process.wait()
        if state.state != "done":
            raise SystemExit(f"round {round_number}: retraining {state.state}: {state.message}")
        trained_s = time.perf_counter() - started
        model = register_result(project, job.process.folder)
        retrain_s, retrain_cpu = time.perf_counter() - started, _cpu() - cpu
        # Rescoring the whole project from the stored embeddings.
        started, cpu = time.perf_counter(), _cpu()
        project.activate_model(model.version)
        result = score(project.folder)
        rescore_s, rescore_cpu = time.perf_counter() - started, _cpu() - cpu
        assert result.windows == windows, result
        auc, precision = _judge(project, model.version, evaluation, truth)
        # Margin review: the 20 unreviewed pool windows nearest 0.5.
        started = time.perf_counter()
        queue = candidates(project, model.version, TARGET, min_score=0.0, order="uncertainty", recording_ids=pool)
        queue = [c for c in queue if (c.recording_id, c.window) not in labelled][: args.review]
        margin_s = time.perf_counter() - started
        reviewed = _label(project, queue, truth, labelled, examples)
        shown = retrain_round(project.model(model.version))
        times = (search_s, trained_s, retrain_s, rescore_s, margin_s, search_cpu + retrain_cpu + rescore_cpu)
        rows.append((round_number, len(labelled), confirmed, reviewed, shown, auc, precision, times))
    return rows


def _call_direction(project: Project, version: int, truth: dict[int, np.ndarray], pool: list[int]) -> np.ndarray:
    """The mean of the pool's target windows (what a clear example sounds like)."""
    found = [np.asarray(project.embeddings(version, r), dtype=np.float32)[truth[r] == TARGET_KIND] for r in pool]
    return np.concatenate(found).mean(axis=0)


def _cosine(a: np.ndarray, b: np.ndarray) -> float:
    a = np.asarray(a, dtype=np.float32)
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b) + 1e-12))


def _cpu() -> float:
    """CPU seconds of this process (all its threads) and of its finished child processes: what a
    step costs whatever else the machine runs."""
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + children.ru_utime + children.ru_stime


def _span(window: int) -> tuple[float, float]:
    return window * WINDOW_S, (window + 1) * WINDOW_S


def _label(
    project: Project,
    found: list[Candidate],
    truth: dict[int, np.ndarray],
    labelled: set[tuple[int, int]],
    examples: list[tuple[int, int]],
) -> int:
    """Confirm the target windows, reject the others (hard negatives), as a user would by the
    truth; returns how many were confirmed."""
    yes = [c for c in found if truth[c.recording_id][c.window] == TARGET_KIND]
    no = [c for c in found if truth[c.recording_id][c.window] != TARGET_KIND]
    record_verdicts(project, yes, "confirm")
    record_verdicts(project, no, "reject")
    labelled.update((c.recording_id, c.window) for c in found)
    examples.extend((c.recording_id, c.window) for c in yes)
    return len(yes)


def _judge(project: Project, version: int, evaluation: set[int], truth: dict[int, np.ndarray]) -> tuple[float, float]:
    """ROC-AUC and precision at recall 0.8 of the head's stored scores on the evaluation recordings."""
    scores, targets = [], []
    for recording_id in sorted(evaluation):
        _, found = project.predictions(version, recording_id)
        scores.append(found[:, 0])
        targets.append(truth[recording_id] == TARGET_KIND)
    scores, targets = np.concatenate(scores), np.concatenate(targets)
    return float(roc_auc_score(targets, scores)), precision_at_recall(targets, scores)


def _print(rows: list[tuple]) -> None:
    print(
        "| round | labels (targets: search / review) | in-app held-out ROC-AUC / P@R0.8 "
        "| evaluation ROC-AUC | evaluation P@R0.8 | search | retrain (child done / registered) | rescoring "
        "| margin queue | round total | CPU of search + retrain + rescoring |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for number, labels, confirmed, reviewed, shown, auc, precision, times in rows:
        search_s, trained_s, retrain_s, rescore_s, margin_s, cpu = times
        in_app = f"{_text(shown.roc_auc)} / {_text(shown.precision_at_recall)}" if shown else "—"
        total = search_s + retrain_s + rescore_s + margin_s
        print(
            f"| {number} | {labels} ({confirmed} / {reviewed}) | {in_app} | {auc:.4f} | {precision:.3f} "
            f"| {search_s:.2f} s | {trained_s:.1f} / {retrain_s:.1f} s | {rescore_s:.1f} s | {margin_s:.2f} s "
            f"| {total:.1f} s | {cpu:.1f} s |"
        )


def _text(value: float | None) -> str:
    return "—" if value is None else f"{value:.3f}"


if __name__ == "__main__":
    main()
