"""``birdview`` subcommands — model versions: adding, activating, scoring with them, retraining."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from birdview.cli.common import open_project

if TYPE_CHECKING:
    from birdview.jobs.child_process import JobEvent


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
    with open_project(args.project) as project:
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
    parser.add_argument(
        "--channel",
        type=_scoring_channel,
        default=None,
        metavar="N|mix",
        help="score channel N of each recording (1 = the first, the left of a stereo file) or mix, the mean of "
        "its channels (the default); a model scored on one cannot go on with another without --rescore",
    )
    _cluster_arguments(parser)
    args = parser.parse_args(argv)
    if args.cluster and args.channel is not None:
        parser.error("--channel with --cluster: cluster scoring reads the mix of the channels only")

    def report(progress) -> None:
        eta = f", {progress.eta_s:.0f} s left" if progress.eta_s is not None else ""
        print(f"{progress.recording}: {progress.windows_done}/{progress.windows_total} windows{eta}", file=sys.stderr)

    options = dict(on_progress=report, engine=args.engine, precision=args.precision, overlap=args.overlap)
    try:
        if args.cluster:
            result = _score_on_cluster(parser, args, options)
        else:
            result = score(args.project, args.model, rescore=args.rescore, channel=args.channel, **options)
    except KeyboardInterrupt:
        print("birdview score: interrupted; what was scored is kept, and running it again goes on", file=sys.stderr)
        return 130
    for problem in result.problems:
        print(f"birdview: {problem}", file=sys.stderr)
    print(f"{result.windows} window(s) of {result.recordings} recording(s) scored")
    return 1 if result.problems else 0


def _scoring_channel(text: str) -> int | None:
    """``--channel``: N (1-based, as users count channels) to 0-based, or ``mix`` to None."""
    if text.strip().lower() == "mix":
        return None
    try:
        number = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: a channel number (1, 2, ...) or mix") from None
    if number < 1:
        raise argparse.ArgumentTypeError(f"{text!r}: channels are counted from 1")
    return number - 1


def _cluster_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("on a Ray cluster (needs the cluster extra: pip install 'birdview[cluster]')")
    group.add_argument(
        "--cluster",
        metavar="ray://HOST:PORT|local",
        help="score on a Ray cluster (its client address), or on a Ray of every core of this machine (local); "
        "workers read the recordings at the project's paths (see --map-path)",
    )
    group.add_argument(
        "--workers", type=int, help="model copies (Ray actors); default: the cluster's CPUs / --worker-cpus"
    )
    group.add_argument("--worker-cpus", type=float, default=1.0, help="CPUs (and model threads) of each worker")
    group.add_argument("--worker-gpus", type=float, default=0.0, help="GPUs of each worker (e.g. 1 with --engine cuda)")
    group.add_argument(
        "--map-path",
        action="append",
        default=[],
        metavar="LOCAL=REMOTE",
        help="workers see recordings under LOCAL at REMOTE instead (repeatable)",
    )
    group.add_argument("--connect-timeout", type=float, default=30.0, metavar="S", help="seconds to reach the cluster")


def _score_on_cluster(parser: argparse.ArgumentParser, args: argparse.Namespace, options: dict):
    from birdview.jobs.cluster import score_on_cluster

    path_map = []
    for pair in args.map_path:
        local, sep, remote = pair.partition("=")
        if not sep or not local or not remote:
            parser.error(f"--map-path {pair!r}: expected LOCAL=REMOTE")
        path_map.append((local, remote))
    if args.workers is not None and args.workers < 1:
        parser.error("--workers must be at least 1")
    return score_on_cluster(
        args.project,
        args.cluster,
        args.model,
        rescore=args.rescore,
        workers=args.workers,
        worker_cpus=args.worker_cpus,
        worker_gpus=args.worker_gpus,
        path_map=path_map,
        connect_timeout_s=args.connect_timeout,
        **options,
    )


def _retrain(argv: list[str]) -> int:
    from birdview.jobs.retrain import FULL_EPOCHS, MODES, register_result, start_retrain
    from birdview.jobs.soundscapes import SoundscapeOptions, estimate_full_retrain

    parser = argparse.ArgumentParser(
        prog="birdview retrain",
        description="Retrain the active model on the project's labels (prints the new checkpoint).",
    )
    parser.add_argument("--project", type=Path, required=True)
    parser.add_argument("--mode", choices=MODES, default="quick")
    parser.add_argument("--base-data", type=Path, help="a BirdCLEF-layout dataset to train on as well")
    parser.add_argument("--epochs", type=int)
    parser.add_argument(
        "--background",
        action="store_true",
        help="full mode: mix excerpts of the project's unlabelled recordings into the training clips",
    )
    parser.add_argument(
        "--pseudo-round",
        action="store_true",
        help="full mode: then score the unlabelled recordings, keep confident windows, train again",
    )
    args = parser.parse_args(argv)
    options = SoundscapeOptions(background=args.background, pseudo_round=args.pseudo_round)

    def report(event: JobEvent) -> None:
        text = _training_progress(event)
        if text is not None:
            print(f"birdview retrain: {text}", file=sys.stderr)

    with open_project(args.project) as project:
        if options.used and args.mode == "full":
            expected = estimate_full_retrain(project, args.epochs or FULL_EPOCHS)
            print(f"birdview retrain: {expected.describe(options)}", file=sys.stderr)
        job = start_retrain(project, args.mode, args.base_data, args.epochs, on_event=report, soundscapes=options)
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
    from trainer.progress import PredictStep, Started, TrainStep, Validated

    def number(value: float | None) -> str:
        return "n/a" if value is None else f"{value:.4f}"

    if isinstance(event, Started):
        return f"training started: epoch {event.epoch}, {event.total} steps"
    if isinstance(event, TrainStep):
        return f"epoch {event.epoch}, step {event.step}/{event.total}, loss {number(event.loss)}"
    if isinstance(event, Validated):
        metrics = ", ".join(f"{name} {number(value)}" for name, value in sorted(event.metrics.items()))
        return f"epoch {event.epoch}, step {event.step}/{event.total}, validation: {metrics}"
    if isinstance(event, PredictStep):
        return f"pseudo-labelling: scoring unlabelled recording {(event.step or 0) + 1} of {event.total}"
    return None


COMMANDS = {"models": _models, "score": _score, "retrain": _retrain}
