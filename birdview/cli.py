"""The ``birdview`` command: the GUI, or a headless subcommand over the same data layer."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from birdview.audio.recording import AudioFileError, find_audio_files, probe
from birdview.spectrogram.ticks import format_time

if TYPE_CHECKING:
    from collections.abc import Sequence

    from birdview.jobs.child_process import JobEvent

SUBCOMMANDS = (
    "info",
    "add",
    "import",
    "export",
    "relink",
    "models",
    "score",
    "detections",
    "retrain",
    "recover",
    "sites",
    "search",
    "species-list",
)


def _gui_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="birdview",
        description="Review long field recordings for bird calls. Headless subcommands: "
        + ", ".join(SUBCOMMANDS)
        + " (birdview SUBCOMMAND --help).",
    )
    parser.add_argument("paths", nargs="*", help="recordings or folders of recordings to open")
    parser.add_argument("--screenshot", type=Path, metavar="OUT.png", help="render the window to a PNG and exit")
    parser.add_argument("--start", type=float, help="with --screenshot: view start in seconds")
    parser.add_argument("--span", type=float, help="with --screenshot: seconds shown")
    parser.add_argument("--project", type=Path, metavar="DIR", help="open (or create) this project")
    parser.add_argument(
        "--tile-cache", type=Path, metavar="DIR", help="also keep spectrogram tiles on disk here (faster reopening)"
    )
    return parser


def _info(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="birdview info", description="Print what birdview reads of recordings.")
    parser.add_argument("paths", nargs="+", help="recordings or folders")
    args = parser.parse_args(argv)
    problems: list[str] = []
    files = find_audio_files(args.paths, problems)
    for problem in problems:  # folders with no audio files
        print(f"birdview: {problem}", file=sys.stderr)
    failures = len(problems)
    print("path\tduration\tsample_rate\tchannels\tstart_time\tstatus")
    for path in files:
        try:
            info = probe(path)
        except AudioFileError as exc:
            failures += 1
            print(f"{path}\t\t\t\t\terror: {exc.problem}")
            print(f"birdview: {exc}", file=sys.stderr)
            continue
        start = info.start_time.isoformat(sep=" ") if info.start_time else ""
        status = f"warning: {info.warning}" if info.warning else "ok"
        print(f"{path}\t{format_time(info.duration_s, 0.001)}\t{info.sample_rate}\t{info.channels}\t{start}\t{status}")
    return 1 if failures else 0


def _open_project(folder: Path, create: bool = False):
    from birdview.store.project import Project

    project = Project.open_or_create(folder) if create else Project.open(folder)
    project.backup_if_due()
    return project


def _recover(argv: list[str]) -> int:
    from birdview.store.integrity import backup_edits, backups, recover

    parser = argparse.ArgumentParser(
        prog="birdview recover",
        description="Restore a project's database from its backups (the damaged one is moved aside, not deleted).",
    )
    parser.add_argument("--project", type=Path, required=True)
    parser.add_argument("--list", action="store_true", help="list the backups and change nothing")
    parser.add_argument("--backup", type=Path, help="restore this backup instead of the newest usable one")
    parser.add_argument(
        "--keep-current", action="store_true", help="accept a whole database that lost its latest edits, as it is"
    )
    args = parser.parse_args(argv)
    if args.list:
        found = backups(args.project)
        print("backup\tedits\tbytes")
        for path in found:
            print(f"{path}\t{backup_edits(path)}\t{path.stat().st_size}")
        if not found:
            print(f"birdview recover: no backups in {args.project}", file=sys.stderr)
        return 0 if found else 1
    result = recover(args.project, args.backup, args.keep_current)
    if result.restored is None:
        print(f"kept the current database as it is: {result.labels} label(s), {result.edits} edit(s)")
        return 0
    print(f"restored {result.restored}: {result.labels} label(s), {result.edits} edit(s)")
    if result.behind:
        print(f"the backup is {result.behind} saved edit(s) behind the database it replaces")
    if result.moved_to is not None:
        print(f"the damaged database was moved to {result.moved_to}")
    return 0


def _add(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="birdview add", description="Add recordings to a project (created if need be)."
    )
    parser.add_argument("--project", type=Path, required=True)
    parser.add_argument("--site", help="recorder site of these recordings")
    parser.add_argument("paths", nargs="+", help="recordings or folders")
    args = parser.parse_args(argv)
    problems: list[str] = []
    files = find_audio_files(args.paths, problems)  # folders with no audio files are problems
    if not files:
        for problem in problems:
            print(f"birdview: {problem}", file=sys.stderr)
        print("0 recording(s) added")
        return 1
    with _open_project(args.project, create=True) as project:
        added, failed = project.add_recordings(files, site=args.site)
        problems += failed
        for row in added:
            print(f"added\t{row.path}\t{format_time(row.duration_s)}")
        for problem in problems:
            print(f"birdview: {problem}", file=sys.stderr)
        print(f"{len(added)} recording(s) added; the project has {len(project.recordings())}")
    return 1 if problems and not added else 0


def _parse_mapping(pairs: list[str]) -> dict[str, str]:
    mapping = {}
    for pair in pairs:
        name, sep, code = pair.partition("=")
        if not sep:
            raise SystemExit(f"birdview import: --map expects NAME=CODE, not {pair!r}")
        mapping[name.strip()] = code.strip()
    return mapping


def _import(argv: list[str]) -> int:
    from birdview.formats.labels import MAX_LISTED
    from birdview.formats.transfer import IMPORT_FORMATS, import_files

    parser = argparse.ArgumentParser(prog="birdview import", description="Import label files into a project.")
    parser.add_argument("--project", type=Path, required=True)
    parser.add_argument("--format", required=True, choices=IMPORT_FORMATS)
    parser.add_argument("--recording", help="the recording of tables that do not name one")
    parser.add_argument("--map", action="append", default=[], metavar="NAME=CODE", help="species name to code")
    parser.add_argument("--add-unknown", action="store_true", help="add species the project does not know")
    parser.add_argument("--label-column", help="Raven: the column holding the species")
    parser.add_argument("--author")
    parser.add_argument(
        "--clip-to-recording",
        action="store_true",
        help="clip times and frequencies that reach outside their recording to it (and count them) instead of "
        "refusing the file; a label wholly outside its recording is still refused",
    )
    parser.add_argument("files", nargs="+")
    args = parser.parse_args(argv)
    with _open_project(args.project) as project:
        report = import_files(
            project,
            args.format,
            args.files,
            args.recording,
            _parse_mapping(args.map),
            args.add_unknown,
            args.label_column,
            args.author,
            clip_to_recording=args.clip_to_recording,
        )
    for warning in report.warnings[:MAX_LISTED]:
        print(f"birdview import: warning: {warning}", file=sys.stderr)
    if len(report.warnings) > MAX_LISTED:
        print(f"birdview import: and {len(report.warnings) - MAX_LISTED} more warning(s)", file=sys.stderr)
    if report.species_added:
        print(f"species added: {', '.join(report.species_added)}")
    if report.clipped:
        print(f"{report.clipped} label(s) clipped to their recording")
    if report.warnings:
        print(f"{len(report.warnings)} warning(s)")
    print(f"{report.added} label(s) imported, {report.duplicates} already in the project")
    return 0


def _export(argv: list[str]) -> int:
    from birdview.formats.transfer import EXPORT_FORMATS, export
    from birdview.store.labels import Kind, Status

    parser = argparse.ArgumentParser(prog="birdview export", description="Export a project's labels.")
    parser.add_argument("--project", type=Path, required=True)
    parser.add_argument("--format", required=True, choices=EXPORT_FORMATS)
    parser.add_argument("--out", type=Path, required=True, help="a file, or a folder for per-recording tables/clips")
    parser.add_argument("--species", help="only this species")
    parser.add_argument("--kind", choices=Kind.values())
    parser.add_argument("--status", choices=Status.values())
    parser.add_argument("--pad", type=float, default=0.0, help="clips: seconds added on each side")
    args = parser.parse_args(argv)
    with _open_project(args.project) as project:
        chosen = project.annotations(species=args.species, kind=args.kind, status=args.status)
        written = export(project, args.format, args.out, chosen, args.pad)
    for path in written:
        print(path)
    print(f"{len(chosen)} label(s) exported to {len(written)} file(s)", file=sys.stderr)
    return 0


def _relink(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="birdview relink", description="Find moved recordings by name and hash.")
    parser.add_argument("--project", type=Path, required=True)
    parser.add_argument("folders", nargs="+")
    args = parser.parse_args(argv)
    with _open_project(args.project) as project:
        for row, new in project.relink(args.folders):
            print(f"relinked\t{row.path}\t{new}")
        still = project.missing_recordings()
        for row in still:
            print(f"birdview: still missing: {row.path}", file=sys.stderr)
    return 1 if still else 0


def _models(argv: list[str]) -> int:
    from birdview.jobs.scoring import add_model
    from trainer.models.registry import BUILT_IN, DESCRIPTIONS

    parser = argparse.ArgumentParser(
        prog="birdview models",
        description="List, add and activate model versions. Built-in kinds: "
        + "; ".join(f"{kind}: {text}" for kind, text in DESCRIPTIONS.items()),
    )
    parser.add_argument("--project", type=Path, required=True)
    parser.add_argument(
        "--add",
        nargs="+",
        metavar="MODEL",
        help="birdnet | perch-v2 FILE | a birdview-train checkpoint (.ckpt) or ONNX export (.onnx)",
    )
    parser.add_argument("--activate", type=int, metavar="VERSION")
    args = parser.parse_args(argv)
    with _open_project(args.project) as project:
        if args.add:
            kind, *rest = args.add
            if len(rest) > (1 if kind in BUILT_IN else 0):
                parser.error(f"--add {kind} takes {'one file' if kind in BUILT_IN else 'no more arguments'}")
            model = add_model(project, kind, file=rest[0] if rest else None)
            print(f"added model version {model.version}: {model.name}, {len(model.classes)} classes")
            print(f"licence: {model.licence}")
            if model.kind == "birdnet":
                from trainer.models.birdnet import BIRDNET_NOTICE

                print(BIRDNET_NOTICE)
        if args.activate is not None:
            project.activate_model(args.activate)
        print("version\tactive\tkind\tname\tparent\tcreated\tclasses\twindow_s\thop_s\tlicence\tpath")
        for model in project.models():
            print(
                f"{model.version}\t{'*' if model.active else ''}\t{model.kind}\t{model.name or ''}\t"
                f"{model.parent or ''}\t{model.created_at}\t{len(model.classes)}\t{model.window_s:g}\t"
                f"{model.hop_s:g}\t{model.licence or ''}\t{model.path}"
            )
    return 0


def _score(argv: list[str]) -> int:
    from birdview.jobs.scoring import score
    from trainer.inference import ENGINE_HELP, ENGINES
    from trainer.openvino_backend import PRECISIONS

    parser = argparse.ArgumentParser(prog="birdview score", description="Score the project's unscored windows.")
    parser.add_argument("--project", type=Path, required=True)
    parser.add_argument("--model", type=int, metavar="VERSION", help="default: the active model")
    parser.add_argument(
        "--engine",
        choices=ENGINES,
        default="auto",
        help=ENGINE_HELP,
    )
    parser.add_argument(
        "--precision",
        choices=PRECISIONS,
        default="fp32",
        help="bf16: faster on CPUs with bf16 (OpenVINO) or on a GPU (cuda)",
    )
    parser.add_argument(
        "--overlap",
        type=float,
        help="overlap of windows as a fraction of the model's window (0.5: a 3 s window every 1.5 s); "
        "default: as the model was scored before, else 0",
    )
    parser.add_argument(
        "--rescore", action="store_true", help="discard the model's predictions and embeddings and score again"
    )
    args = parser.parse_args(argv)

    def report(progress) -> None:
        eta = f", {progress.eta_s:.0f} s left" if progress.eta_s is not None else ""
        print(f"{progress.recording}: {progress.windows_done}/{progress.windows_total} windows{eta}", file=sys.stderr)

    result = score(
        args.project,
        args.model,
        on_progress=report,
        engine=args.engine,
        precision=args.precision,
        overlap=args.overlap,
        rescore=args.rescore,
    )
    for problem in result.problems:
        print(f"birdview: {problem}", file=sys.stderr)
    print(f"{result.windows} window(s) of {result.recordings} recording(s) scored")
    return 1 if result.problems else 0


def _detections(argv: list[str]) -> int:
    from birdview.formats.transfer import write_detections
    from birdview.review.summary import detection_rows

    parser = argparse.ArgumentParser(
        prog="birdview detections", description="Export a model's detections with their review verdicts."
    )
    parser.add_argument("--project", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--format", choices=["raven", "birdnet"], default="raven")
    parser.add_argument("--model", type=int, metavar="VERSION", help="default: the active model")
    parser.add_argument("--species")
    parser.add_argument("--threshold", type=float, help="default: each species' own threshold, else 0.5")
    parser.add_argument(
        "--species-list",
        type=Path,
        metavar="FILE",
        help="only these species (default: the project's species list, "
        "else those BirdNET expects at each recording's site and week)",
    )
    parser.add_argument("--all-species", action="store_true", help="every species, whatever the species lists say")
    args = parser.parse_args(argv)
    with _open_project(args.project) as project:
        model = project.model(args.model) if args.model else project.active_model()
        if model is None:
            print("birdview detections: error: no model in the project", file=sys.stderr)
            return 2
        allowed = None if args.all_species else _species_allowed(project, args.species_list)
        rows = detection_rows(project, model.version, args.species, args.threshold, allowed)
        print(write_detections(args.format, rows, args.out))
    print(f"{len(rows)} detection(s) written", file=sys.stderr)
    return 0


def _species_allowed(project, species_list: Path | None) -> dict[int, frozenset[str] | None]:
    """The species shown per recording, saying on stderr where each filter came from."""
    from birdview.jobs.species_filter import species_filters

    filters = species_filters(project, project.recordings(), species_list)
    _warn("detections", list(dict.fromkeys(w for f in filters.values() for w in f.warnings)))
    recordings: dict[tuple[str, str, int], int] = {}
    for f in filters.values():
        key = (f.source, f.reason, -1 if f.species is None else len(f.species))
        recordings[key] = recordings.get(key, 0) + 1
    for (source, reason, count), n in sorted(recordings.items()):
        if count < 0:
            print(f"birdview detections: every species for {n} recording(s): {reason}", file=sys.stderr)
        else:
            print(
                f"birdview detections: {n} recording(s) limited to the {count} species of {source} "
                "(--all-species shows every species)",
                file=sys.stderr,
            )
    return {recording_id: f.species for recording_id, f in filters.items()}


def _warn(command: str, warnings: Sequence[str]) -> None:
    from birdview.formats.labels import MAX_LISTED

    for warning in warnings[:MAX_LISTED]:
        print(f"birdview {command}: warning: {warning}", file=sys.stderr)
    if len(warnings) > MAX_LISTED:
        print(f"birdview {command}: and {len(warnings) - MAX_LISTED} more warning(s)", file=sys.stderr)


def _sites(argv: list[str]) -> int:
    from birdview.store.sites import Site, recordings_per_site, set_site, site, sites

    parser = argparse.ArgumentParser(
        prog="birdview sites", description="List the recorder sites, or set one's place and time zone."
    )
    parser.add_argument("--project", type=Path, required=True)
    parser.add_argument("--set", metavar="NAME", help="the site to set (values not given are kept)")
    parser.add_argument("--lat", type=float, help="with --set: latitude in degrees north (-90 to 90)")
    parser.add_argument("--lon", type=float, help="with --set: longitude in degrees east (-180 to 180)")
    parser.add_argument("--timezone", help="with --set: IANA time zone, e.g. Europe/Amsterdam")
    parser.add_argument("--list", action="store_true", help="list the sites (the default without --set)")
    args = parser.parse_args(argv)
    if args.set is None and (args.lat is not None or args.lon is not None or args.timezone is not None):
        parser.error("--lat, --lon and --timezone go with --set NAME")
    with _open_project(args.project) as project:
        if args.set is not None:
            old = site(project, args.set.strip()) or Site(args.set)
            new = set_site(
                project,
                args.set,
                old.latitude if args.lat is None else args.lat,
                old.longitude if args.lon is None else args.lon,
                old.timezone if args.timezone is None else args.timezone,
            )
            place = f"{new.latitude}, {new.longitude}" if new.has_place else "no place"
            print(f"site {new.name}: {place}; time zone {new.timezone or 'unknown'}", file=sys.stderr)
        if args.list or args.set is None:
            counts = recordings_per_site(project)
            known = {s.name: s for s in sites(project)}
            print("site\tlatitude\tlongitude\ttimezone\trecordings")
            for name in sorted(known.keys() | counts.keys()):
                values = [getattr(known.get(name), column, None) for column in ("latitude", "longitude", "timezone")]
                cells = "\t".join("" if value is None else str(value) for value in values)
                print(f"{name}\t{cells}\t{counts.get(name, 0)}")
    return 0


def _species_list(argv: list[str]) -> int:
    from birdview.jobs.species_filter import set_species_list, species_filter

    parser = argparse.ArgumentParser(
        prog="birdview species-list",
        description="Set, clear or show the species shown by default (a species list, else BirdNET's geo model "
        "at the recording's site).",
    )
    parser.add_argument("--project", type=Path, required=True)
    action = parser.add_mutually_exclusive_group(required=True)
    action.add_argument(
        "--set", type=Path, metavar="FILE", help="one species a line: code, name, or Scientific name_Common name"
    )
    action.add_argument("--clear", action="store_true", help="no project-wide species list")
    action.add_argument("--show", action="store_true", help="print the species shown by default")
    parser.add_argument("--recording", help="with --show: for this recording (path, file name or stem)")
    args = parser.parse_args(argv)
    if args.recording and not args.show:
        parser.error("--recording goes with --show")
    with _open_project(args.project) as project:
        if args.clear:
            set_species_list(project, None)
            print("the project has no species list now", file=sys.stderr)
            return 0
        if args.set is not None:
            chosen = set_species_list(project, args.set)
            _warn("species-list", chosen.warnings)
            print(f"species list {chosen.path}: {len(chosen.codes)} species", file=sys.stderr)
            return 0
        recording = None
        if args.recording:
            recording = project.find_recording(args.recording)
            if recording is None:
                print(f"birdview species-list: error: no recording {args.recording!r} in the project", file=sys.stderr)
                return 2
        shown = species_filter(project, recording)
    _warn("species-list", shown.warnings)
    if shown.species is None:
        print(f"# every species: {shown.reason}")
        return 0
    print(f"# {len(shown.species)} species from {shown.source}")
    for code in sorted(shown.species):
        print(code)
    return 0


def _search(argv: list[str]) -> int:
    from birdview.review.similarity import COMBINE, parse_like, save_for_review, search, write_hits

    parser = argparse.ArgumentParser(
        prog="birdview search",
        description="Find the windows most like one or more examples, by cosine similarity of a model's stored "
        "embeddings (score the recordings first).",
    )
    parser.add_argument("--project", type=Path, required=True)
    parser.add_argument(
        "--like",
        action="append",
        required=True,
        metavar="RECORDING:START-END",
        help="an example: a recording (its path or name in the project) and seconds; give several to combine",
    )
    parser.add_argument("--model", type=int, metavar="VERSION", help="whose embeddings (default: the active model)")
    parser.add_argument("--top", type=int, default=200)
    parser.add_argument("--site", help="only recordings of this site")
    parser.add_argument(
        "--combine", choices=COMBINE, default="mean", help="several examples: their mean, or each window's best match"
    )
    parser.add_argument("--out", type=Path, help="CSV: recording,start_s,end_s,similarity, best first")
    parser.add_argument(
        "--review",
        action="store_true",
        help="keep the hits as the project's 'similar' review list (the Review dock's order 'similar to the examples')",
    )
    parser.add_argument("--species", metavar="CODE", help="with --review: the species the hits are candidates of")
    args = parser.parse_args(argv)
    if args.top < 1:
        parser.error("--top must be at least 1")
    if args.out is None and not args.review:
        parser.error("give --out, --review or both")
    if args.review and not args.species:
        parser.error("--review needs --species CODE: what the hits are candidates of")
    with _open_project(args.project) as project:
        model = project.model(args.model) if args.model else project.active_model()
        if model is None:
            print("birdview search: error: no model in the project (birdview models --add ...)", file=sys.stderr)
            return 2
        if not model.embedding_dim:
            print(f"birdview search: error: model {model.label} keeps no embeddings", file=sys.stderr)
            return 2
        queries = [parse_like(project, spec) for spec in args.like]
        species = None
        if args.review:
            species = project.resolve_species(args.species) or (args.species if args.species in model.classes else None)
            if species is None:
                print(f"birdview search: error: unknown species {args.species!r}", file=sys.stderr)
                return 2
        hits = search(project, model.version, queries, args.top, args.combine, site=args.site)
        if args.out is not None:
            print(write_hits(project, hits, args.out))
        if species is not None:
            save_for_review(project, model.version, queries, hits, species)
    print(f"{len(hits)} window(s) like {len(queries)} example(s), by model {model.label}", file=sys.stderr)
    if species is not None:
        print(
            f"kept for review as candidates of {species}: Review dock, order 'similar to the examples'", file=sys.stderr
        )
    return 0


def _retrain(argv: list[str]) -> int:
    from birdview.jobs.retrain import MODES, register_result, start_retrain

    parser = argparse.ArgumentParser(
        prog="birdview retrain",
        description="Retrain the active model on the project's labels (prints the new checkpoint).",
    )
    parser.add_argument("--project", type=Path, required=True)
    parser.add_argument("--mode", choices=MODES, default="quick")
    parser.add_argument("--base-data", type=Path, help="a BirdCLEF-layout dataset to train on as well")
    parser.add_argument("--epochs", type=int)
    args = parser.parse_args(argv)

    def report(event: JobEvent) -> None:
        text = _training_progress(event)
        if text is not None:
            print(f"birdview retrain: {text}", file=sys.stderr)

    with _open_project(args.project) as project:
        job = start_retrain(project, args.mode, args.base_data, args.epochs, on_event=report)
        try:
            state = job.process.wait()
        except KeyboardInterrupt:
            job.process.cancel()
            state = job.process.wait()
        if state.state != "done":
            print(f"birdview retrain: {state.state}: {state.message}", file=sys.stderr)
            return 1
        model = register_result(project, job.process.folder)
        new, old = model.metrics.get("new", {}), model.metrics.get("old", {})
        print(
            f"model version {model.version} (from {model.parent}): validation ROC-AUC {new.get('roc_auc'):.3f}"
            + (f" (was {old.get('roc_auc'):.3f})" if old else ""),
            file=sys.stderr,
        )
        print(model.path)
    return 0


def _training_progress(event: JobEvent) -> str | None:
    """A training job's progress event as a line for the terminal; None for other events."""
    from trainer.progress import Started, TrainStep, Validated

    def number(value: float | None) -> str:
        return "n/a" if value is None else f"{value:.4f}"

    if isinstance(event, Started):
        return f"training started: epoch {event.epoch}, {event.total} steps"
    if isinstance(event, TrainStep):
        return f"epoch {event.epoch}, step {event.step}/{event.total}, loss {number(event.loss)}"
    if isinstance(event, Validated):
        metrics = ", ".join(f"{name} {number(value)}" for name, value in sorted(event.metrics.items()))
        return f"epoch {event.epoch}, step {event.step}/{event.total}, validation: {metrics}"
    return None


HEADLESS = {
    "search": _search,
    "recover": _recover,
    "retrain": _retrain,
    "detections": _detections,
    "sites": _sites,
    "species-list": _species_list,
    "info": _info,
    "add": _add,
    "import": _import,
    "export": _export,
    "relink": _relink,
    "models": _models,
    "score": _score,
}


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] in HEADLESS:
        from birdview.formats.labels import LabelFileError
        from birdview.store.project import ProjectError

        try:
            return HEADLESS[argv[0]](argv[1:])
        except (LabelFileError, ProjectError) as exc:
            print(f"birdview {argv[0]}: error: {exc}", file=sys.stderr)
            return 2
    args = _gui_parser().parse_args(argv)
    if args.screenshot is not None:
        from birdview.gui.app import screenshot

        return screenshot(
            args.paths, args.screenshot, args.start, args.span, tile_cache=args.tile_cache, project=args.project
        )
    from birdview.gui.app import run_gui

    return run_gui(args.paths, tile_cache=args.tile_cache, project=args.project)


if __name__ == "__main__":
    sys.exit(main())
