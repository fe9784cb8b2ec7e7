"""Merging predictions files (``birdview-train predict --model M --shard i/n --out part-i.npz``,
e.g. one per task of a SLURM job array) into a project: ``birdview import-predictions``.

All or nothing, as label imports: every file is checked first — made with the project's model
version (kind, file hash or name, classes, window, sample rate, embedding size), at its hop, each
scored file a recording of the project (by path, else by content hash) with the windows the
project expects of it — and every problem is named; then each recording's windows are written
through the same function as local scoring, committed per recording. Windows a recording already
has are kept: importing a file twice, or after scoring, adds nothing twice.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from birdview.jobs.scoring import store_windows
from birdview.store.project import ModelRow, Project, ProjectError, RecordingRow

MAX_LISTED = 10


@dataclass
class ImportedPredictions:
    windows: int = 0
    recordings: int = 0
    already_scored: int = 0  # recordings the project had every window of
    #: Files the predict runs skipped (``--skip-bad``), with why: still to be scored.
    skipped: list[str] = field(default_factory=list)


def import_predictions(
    project: Project,
    version: int,
    files: Sequence[str | Path],
    on_recording: Callable[[str, int, int], None] | None = None,
) -> ImportedPredictions:
    """Merge predictions files into model ``version``'s predictions; ProjectError naming every
    problem (and nothing imported) where a file does not fit."""
    from trainer.predictions_file import PredictionsFileError, read_predictions_file
    from trainer.window_stream import window_count

    model = project.model(version)
    if model.kind == "embedding-head":
        base = model.frontend.get("base_version")
        raise ProjectError(
            f"model {model.label} is a head on model version {base}'s embeddings: import that version's "
            f"predictions, then `birdview score --model {version}` scores the head from them"
        )
    if not files:
        raise ProjectError("no predictions files given")
    parts = []
    for path in files:
        try:
            parts.append(read_predictions_file(path))
        except PredictionsFileError as exc:
            raise ProjectError(str(exc)) from None

    problems: list[str] = []
    hops = {round(float(part.identity.get("hop_s", 0)), 6) for part in parts}
    hop = hops.pop() if len(hops) == 1 else None
    if hop is None:
        problems.append(f"the files score windows at different hops ({', '.join(f'{h:g} s' for h in sorted(hops))})")
    elif abs(hop - model.hop_s) > 1e-6 and _has_predictions(project, version):
        overlap = 1 - hop / model.window_s
        problems.append(
            f"the files have {model.window_s:g} s windows every {hop:g} s (predict --overlap {overlap:g}), the "
            f"project's model {model.label} every {model.hop_s:g} s: predict again with --overlap "
            f"{1 - model.hop_s / model.window_s:g}, or discard its predictions first (birdview score --rescore)"
        )
    expected_identity = _ModelIdentity(model)
    for part in parts:
        problems.extend(f"{part.path}: {reason}" for reason in expected_identity.mismatches(part.identity))
    by_hash: dict[tuple[str, int], list[RecordingRow]] = {}
    for recording in project.recordings():
        by_hash.setdefault((recording.content_hash, recording.size), []).append(recording)
    planned: list[tuple[object, int, RecordingRow]] = []
    seen: dict[int, str] = {}
    if not problems:
        for part in parts:
            for number, name in enumerate(part.files):
                recording = project.recording_by_path(name)
                if recording is None:
                    candidates = by_hash.get((part.hashes[number], part.sizes[number]), [])
                    recording = candidates[0] if len(candidates) == 1 else None
                where = f"{part.path}: {name}"
                if recording is None:
                    problems.append(f"{where}: not a recording of this project (no recording has its path or content)")
                    continue
                if recording.id in seen:
                    problems.append(f"{where}: {recording.name} is also in {seen[recording.id]}")
                    continue
                seen[recording.id] = str(part.path)
                wanted = window_count(recording.duration_s, model.window_s, hop)
                got = part.windows[number]
                if got != wanted:
                    problems.append(
                        f"{where}: {got} windows, the project's {recording.name} ({recording.duration_s:g} s) has "
                        f"{wanted} of {model.window_s:g} s every {hop:g} s"
                    )
                shapes = part.shape(f"scores_{number}"), part.shape(f"embeddings_{number}")
                if shapes[0] != (got, len(model.classes)) or (
                    model.embedding_dim and shapes[1] != (got, model.embedding_dim)
                ):
                    problems.append(f"{where}: its arrays are {shapes[0]} and {shapes[1]}, not of this model")
                planned.append((part, number, recording))
    if problems:
        listed = "; ".join(problems[:MAX_LISTED])
        more = f"; and {len(problems) - MAX_LISTED} more" if len(problems) > MAX_LISTED else ""
        raise ProjectError(f"nothing imported: {listed}{more}")

    if abs(hop - model.hop_s) > 1e-6:  # the model has no predictions yet: it takes the files' hop
        model = project.set_hop(version, hop)
    result = ImportedPredictions(skipped=[line for part in parts for line in part.skipped])
    for part, number, recording in planned:
        have = project.scored_windows(version, recording.id)
        total = part.windows[number]
        if have >= total:
            result.already_scored += 1
            continue
        scores = part.scores(number)[have:]
        embeddings = part.embeddings(number)[have:] if model.embedding_dim else None
        store_windows(project, version, recording.id, have, scores, embeddings)
        result.windows += total - have
        result.recordings += 1
        if on_recording is not None:
            on_recording(recording.name, total - have, total)
    if result.windows and model.embedding_dim:  # as local scoring: the similarity index takes them
        from birdview.review.similarity import update_index

        update_index(project, version)
    return result


def _has_predictions(project: Project, version: int) -> bool:
    return any(project.scored_windows(version, r.id) for r in project.recordings())


class _ModelIdentity:
    """What a predictions file's identity must say to be the project's model version."""

    def __init__(self, model: ModelRow) -> None:
        self.model = model
        self._sha256: str | None = None

    def sha256(self) -> str | None:
        from trainer.predictions_file import file_sha256

        if self._sha256 is None:
            self._sha256 = file_sha256(self.model.path)
        return self._sha256

    def mismatches(self, identity: dict) -> list[str]:
        model = self.model
        name = f"{identity.get('name')} ({identity.get('kind')})"
        mine = f"model {model.label} ({model.kind})"
        if identity.get("kind") != model.kind:
            return [f"made with {name}, not the project's {mine}"]
        reasons = []
        theirs = identity.get("model_sha256")
        if model.path.is_file():
            ours = self.sha256()
            if theirs != ours:
                reasons.append(
                    f"made with another model file: {identity.get('source')} (sha256 {str(theirs)[:12]}), not the "
                    f"project's {model.label}: {model.path} (sha256 {str(ours)[:12]})"
                )
        elif model.kind != "birdnet" and not model.path.exists():
            reasons.append(f"the project's {mine} file {model.path} is missing: the model cannot be checked")
        elif identity.get("name") != model.name:
            reasons.append(f"made with {name}, not the project's {mine}")
        if list(identity.get("classes", [])) != list(model.classes):
            reasons.append(f"its {len(identity.get('classes', []))} classes are not the {len(model.classes)} of {mine}")
        if abs(float(identity.get("window_s", 0)) - model.window_s) > 1e-6:
            reasons.append(f"it has {identity.get('window_s'):g} s windows, {mine} {model.window_s:g} s windows")
        if model.sample_rate and int(identity.get("sample_rate", 0)) != model.sample_rate:
            reasons.append(f"it reads audio at {identity.get('sample_rate')} Hz, {mine} at {model.sample_rate} Hz")
        if int(identity.get("embedding_dim", 0)) != model.embedding_dim:
            reasons.append(
                f"its embeddings have {identity.get('embedding_dim')} values, {mine}'s {model.embedding_dim}"
            )
        return reasons
