"""``birdview-train``: fit, predict, evaluate and export from the command line."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from trainer import cli_semi
from trainer.checkpoint import CheckpointError
from trainer.classes import SpeciesFileError
from trainer.config import ConfigError, TrainConfig, load_yaml, merge
from trainer.data.metadata import DatasetError
from trainer.inference import ENGINE_HELP, ENGINES, InferenceError
from trainer.model import PretrainedWeightsError
from trainer.onnx_export import OnnxExportError
from trainer.openvino_backend import PRECISIONS, OpenVinoError
from trainer.progress import Failed, PredictDone, PredictStep, Warned, emit, json_line

EXPECTED_ERRORS = (
    DatasetError,
    ConfigError,
    CheckpointError,
    InferenceError,
    SpeciesFileError,
    PretrainedWeightsError,
    OnnxExportError,
    OpenVinoError,
    FileNotFoundError,
    ValueError,
)
S = argparse.SUPPRESS


def _fit_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("fit", help="train a classifier on a BirdCLEF-layout folder", argument_default=S)
    p.add_argument("--config", help="YAML file of settings (flags override it)")
    p.add_argument(
        "--data", action="append", help="folder with train_metadata.csv and train_audio/ (repeatable: several)"
    )
    p.add_argument("--out", help="output folder (checkpoints/, logs/, config.yaml)")
    p.add_argument("--species", help="class list file, 'birdclef2024' (the 182 species; default) or 'from-data'")
    p.add_argument("--epochs", type=int)
    p.add_argument("--max-steps", type=int, dest="max_steps")
    p.add_argument("--batch-size", type=int, dest="batch_size")
    p.add_argument("--lr", type=float)
    p.add_argument("--weight-decay", type=float, dest="weight_decay")
    p.add_argument("--backbone", help="timm model name (default tf_efficientnet_b0.ns_jft_in1k)")
    p.add_argument("--pretrained", action="store_true", help="timm's pretrained weights (downloads; default)")
    p.add_argument("--no-pretrained", action="store_false", dest="pretrained", help="random initial weights")
    p.add_argument("--weights", help="initial backbone weights from a file (offline)")
    p.add_argument("--pooling", choices=["gem", "attention", "mean"])
    p.add_argument("--dropout", type=float)
    p.add_argument("--loss", choices=["bce", "focal", "ce"])
    p.add_argument("--scheduler", choices=["cosine", "plateau", "onecycle"])
    p.add_argument("--patience", type=int, help="early stopping patience in epochs")
    p.add_argument("--fold", type=int)
    p.add_argument("--folds", type=int)
    p.add_argument("--secondary-coef", type=float, dest="secondary_coef")
    p.add_argument("--min-rating", type=float, dest="min_rating")
    p.add_argument("--seed", type=int)
    p.add_argument("--precision", help="Lightning precision, e.g. 32-true, 16-mixed, bf16-mixed")
    p.add_argument("--gradient-clip", type=float, dest="gradient_clip")
    p.add_argument("--accelerator")
    p.add_argument("--devices")
    p.add_argument("--num-nodes", type=int, dest="num_nodes")
    p.add_argument("--strategy", help="Lightning strategy, e.g. ddp")
    p.add_argument("--num-workers", type=int, dest="num_workers")
    p.add_argument("--logger", choices=["csv", "tensorboard", "wandb"])
    p.add_argument("--progress", choices=["bar", "json", "none"])
    p.add_argument("--context", type=float, dest="context_s", help="seconds the model sees (>= 5)")
    p.add_argument("--init-from", dest="init_from", help="start from this checkpoint (classes may be added)")
    p.add_argument("--freeze-backbone", action="store_true", dest="freeze_backbone")
    p.add_argument(
        "--head-only",
        action="store_true",
        dest="head_only",
        help="quick mode: train only the head on cached backbone embeddings",
    )
    p.add_argument("--skip-bad", action="store_true", dest="skip_bad", help="leave out bad rows and files")
    p.add_argument("--resume", action="store_true", help="continue from OUT/checkpoints/last.ckpt")
    p.add_argument("--no-augment", action="store_true", dest="no_augment")
    for name in ("mixup_p", "gain_p", "noise_p", "shift_p", "xy_mask_p", "cutout_p", "spec_mixup_p"):
        p.add_argument(f"--{name.replace('_', '-')}", type=float, dest=name)
    cli_semi.add_fit_arguments(p)


def _predict_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("predict", help="per-window probabilities for recordings")
    chosen = p.add_mutually_exclusive_group(required=True)
    chosen.add_argument("--checkpoint", nargs="+", help=".ckpt or .onnx; several: an ensemble")
    chosen.add_argument(
        "--model",
        help="a pretrained model: birdnet (the birdnet extra) or perch-v2 (with --model-file); also a .ckpt/.onnx",
    )
    p.add_argument("--model-file", help="perch-v2: its ONNX export (downloaded by you)")
    p.add_argument("--overlap", type=float, default=0.0, help="--model: overlap of windows, a fraction (e.g. 0.5)")
    p.add_argument("--embeddings", help="--model: also write every window's embedding here (.npz, one array a file)")
    p.add_argument("--audio", nargs="+", required=True, help="audio files or folders")
    p.add_argument(
        "--out",
        required=True,
        help="table of probabilities (.csv or .parquet); or .npz: a predictions file (the model's identity, "
        "probabilities and embeddings) that birdview import-predictions merges into a project",
    )
    p.add_argument("--submission", help="also write a Kaggle submission.csv here")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--tta-shift", type=float, default=0.0, help="also score windows shifted by ±this many s")
    p.add_argument("--smooth", action="store_true", help="smooth over neighbouring windows")
    p.add_argument("--ensemble", choices=["mean", "min"], default="mean")
    p.add_argument("--shard", help="i/n: only the i-th of n parts of the file list (cluster job arrays)")
    p.add_argument("--threads", type=int, help="CPU threads for the model and for decoding (default: all cores)")
    p.add_argument(
        "--engine",
        choices=ENGINES,
        default="auto",
        help=ENGINE_HELP,
    )
    p.add_argument(
        "--precision",
        choices=PRECISIONS,
        default="fp32",
        help="bf16: about 1.5x faster on CPUs with AVX-512 BF16 or AMX (OpenVINO), or on a GPU (cuda)",
    )
    p.add_argument("--skip-bad", action="store_true")
    p.add_argument("--progress", choices=["bar", "json", "none"], default="none")


def _evaluate_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("evaluate", help="metrics of a model on labelled clips (BirdCLEF layout)")
    p.add_argument("--checkpoint", required=True)
    p.add_argument("--data", required=True)
    p.add_argument("--fold", type=int, help="only this validation fold (default: every clip)")
    p.add_argument("--folds", type=int, default=5)
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--out", help="per-class ROC-AUC table (.csv)")
    p.add_argument("--skip-bad", action="store_true")


def _export_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("export", help="export a checkpoint to ONNX")
    p.add_argument("--checkpoint", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--opset", type=int, default=17)


def _report_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("report", help="an HTML page on a training set and, with --run, a fit run")
    p.add_argument("--data", required=True, help="folder with train_metadata.csv and train_audio/")
    p.add_argument("--run", help="a fit --out folder: training curves and the per-class ROC-AUC")
    p.add_argument("--out", required=True, help="the report (.html, self-contained)")
    p.add_argument("--examples", type=int, default=2, help="example spectrograms per class (default 2)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="birdview-train", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    _fit_parser(sub)
    _predict_parser(sub)
    _fit_head_parser(sub)
    _evaluate_parser(sub)
    _export_parser(sub)
    _report_parser(sub)
    cli_semi.add_commands(sub)
    return parser


def config_from_args(args: argparse.Namespace) -> TrainConfig:
    values = {k: v for k, v in vars(args).items() if k != "command"}
    config = TrainConfig()
    if "config" in values:
        source = values.pop("config")
        config = merge(config, load_yaml(source), source)
    frontend = {}
    if "context_s" in values:
        frontend["context_s"] = values.pop("context_s")
    augment = {}
    if values.pop("no_augment", False):
        from trainer.augment import AugmentConfig

        augment = AugmentConfig.none().as_dict()
    for name in ("mixup_p", "gain_p", "noise_p", "shift_p", "xy_mask_p", "cutout_p", "spec_mixup_p"):
        if name in values:
            augment[name] = values.pop(name)
    cli_semi.apply_fit_arguments(values, augment)
    overrides = dict(values)
    if frontend:
        overrides["frontend"] = frontend
    if augment:
        overrides["augment"] = augment
    return merge(config, overrides)


def _run_fit(args: argparse.Namespace) -> int:
    config = config_from_args(args)
    if config.rounds:
        return cli_semi.run_rounds(config)
    if config.head_only:
        from trainer.head_only import fit_head_only as fit  # starts without importing Lightning
    else:
        from trainer.train import fit
    result = fit(config)
    for line in result.skipped:
        print(f"skipped: {line}", file=sys.stderr)
    auc = result.metrics.get("val_roc_auc")
    if config.progress != "json":
        print(f"validation macro ROC-AUC: {auc:.4f}" if auc is not None else "no validation score")
    print(result.best_checkpoint)
    return 0


def _run_predict(args: argparse.Namespace) -> int:
    from trainer.inference import expand_audio, load_scorer, predict, shard, write_submission

    paths = expand_audio(args.audio)
    if args.shard:
        paths = shard(paths, args.shard)
    if str(args.out).endswith(".npz") and args.checkpoint:
        if len(args.checkpoint) > 1 or args.tta_shift or args.smooth:
            raise InferenceError("--out .npz (a predictions file) takes one model, without --tta-shift or --smooth")
        args.model = args.checkpoint[0]
    if args.model:
        return _run_predict_model(args, paths)
    scorers = [load_scorer(path, args.threads, args.engine, args.precision) for path in args.checkpoint]
    shifts = (0.0,) if not args.tta_shift else (0.0, -args.tta_shift, args.tta_shift)

    on_file, on_warning = _predict_reporters(args.progress)
    table, skipped = predict(
        paths,
        scorers,
        args.batch_size,
        shifts,
        args.smooth,
        args.ensemble,
        args.skip_bad,
        on_file,
        args.threads,
        on_warning,
    )
    out = _write_predictions(args, table, skipped, paths)
    if args.submission:
        write_submission(table, scorers[0].classes, args.submission)
    return _predicted(args, out, table, skipped)


def _run_evaluate(args: argparse.Namespace) -> int:
    from trainer.evaluate import evaluate

    metrics, table = evaluate(args.checkpoint, args.data, args.fold, args.folds, args.seed, args.skip_bad)
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        table.to_csv(args.out, index=False)
    print(json_line(metrics))
    return 0


def _run_export(args: argparse.Namespace) -> int:
    from trainer.onnx_export import export_onnx

    print(export_onnx(args.checkpoint, args.out, args.opset))
    return 0


def _run_report(args: argparse.Namespace) -> int:
    from trainer.report import write_report

    print(write_report(args.data, args.out, args.run, args.examples))
    return 0


def _fit_head_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("fit-head", help="a classifier head on stored embeddings of a pretrained model (seconds)")
    p.add_argument("--data", required=True, help="the training set (.npz: x, y, fold, classes, negative_for, parent)")
    p.add_argument("--out", required=True, help="folder for head.pt and comparison.json")
    p.add_argument("--epochs", type=int, default=300)
    p.add_argument("--lr", type=float, default=0.01)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--base", default="{}", help="JSON: the pretrained model the head reads (kept in head.pt)")
    p.add_argument("--progress", choices=["bar", "json", "none"], default="none")


def _run_fit_head(args: argparse.Namespace) -> int:
    import json

    from trainer.models.head import fit_head

    path, comparison = fit_head(
        args.data, args.out, args.epochs, args.lr, seed=args.seed, progress=args.progress, base=json.loads(args.base)
    )
    new = comparison.get("new", {})
    print(f"held-out ROC-AUC {new.get('roc_auc')}", file=sys.stderr)
    print(path)
    return 0


def _run_predict_model(args: argparse.Namespace, paths: list[Path]) -> int:
    """predict --model: any model kind (BirdNET, Perch v2, a checkpoint), embeddings optional."""
    import numpy as np

    from trainer.models.base import hop_for
    from trainer.models.predict import predict_windows
    from trainer.models.registry import load_model

    model = load_model(args.model, args.model_file, threads=args.threads, engine=args.engine, precision=args.precision)
    print(f"{model.info.name}: {len(model.info.classes)} classes, licence {model.info.licence}", file=sys.stderr)

    on_file, on_warning = _predict_reporters(args.progress)
    hop = hop_for(model.info.window_s, args.overlap)
    if str(args.out).endswith(".npz"):
        return _run_predict_file(args, paths, model, hop, on_file, on_warning)
    table, embeddings, skipped = predict_windows(paths, model, hop, args.skip_bad, on_file, on_warning)
    out = _write_predictions(args, table, skipped, paths)
    if args.embeddings:
        Path(args.embeddings).parent.mkdir(parents=True, exist_ok=True)
        np.savez(
            args.embeddings,
            **{f"file{i}": vectors for i, vectors in enumerate(embeddings.values())},
            files=np.array(list(embeddings)),
        )
    if args.submission:
        print("birdview-train: --submission needs a birdview-train checkpoint; not written", file=sys.stderr)
    return _predicted(args, out, table, skipped)


def _run_predict_file(args: argparse.Namespace, paths: list[Path], model, hop: float, on_file, on_warning) -> int:
    """predict --out FILE.npz: a predictions file for birdview import-predictions (--shard i/n: this
    part of the file list; its identity names the model, window and hop)."""
    from trainer.predictions_file import write_predictions_file

    out, scored, windows, skipped = write_predictions_file(
        paths, model, hop, args.out, args.shard, args.skip_bad, on_file, on_warning
    )
    for line in skipped:
        print(f"skipped: {line}", file=sys.stderr)
    if paths and not scored:
        out.unlink(missing_ok=True)
        raise InferenceError(f"nothing was scored: all {len(paths)} file(s) were skipped, see above")
    if args.embeddings or args.submission:
        print(
            "birdview-train: a predictions file (.npz) holds the embeddings; --embeddings/--submission not written",
            file=sys.stderr,
        )
    if args.progress == "json":
        emit(PredictDone(str(out), windows, skipped))
    print(out)
    return 0


def _predict_reporters(progress: str):
    """(on_file, on_warning) for predict: JSON progress events, a line per file, warnings on stderr."""

    def on_file(number: int, total: int, path: Path) -> None:
        if progress == "json":
            emit(PredictStep(number, total, str(path)))
        elif progress == "bar":
            print(f"[{number + 1}/{total}] {path}", file=sys.stderr)

    def on_warning(message: str) -> None:
        if progress == "json":
            emit(Warned(message))
        print(f"birdview-train: warning: {message}", file=sys.stderr)

    return on_file, on_warning


def _write_predictions(args: argparse.Namespace, table, skipped: list[str], paths: list) -> Path:
    """The skipped files said, the table written; nothing scored of a non-empty list is an error
    (an empty --shard part has nothing to score: not an error)."""
    from trainer.inference import write_table

    for line in skipped:
        print(f"skipped: {line}", file=sys.stderr)
    if table.empty and paths:
        raise InferenceError(f"nothing was scored: all {len(paths)} file(s) were skipped, see above")
    return write_table(table, args.out)


def _predicted(args: argparse.Namespace, out: Path, table, skipped: list[str]) -> int:
    if args.progress == "json":
        emit(PredictDone(str(out), len(table), skipped))
    print(out)
    return 0


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.WARNING, format="birdview-train: %(message)s")
    args = build_parser().parse_args(argv)
    progress = getattr(args, "progress", "none")
    try:
        if args.command == "fit":
            return _run_fit(args)
        if args.command == "predict":
            return _run_predict(args)
        if args.command == "evaluate":
            return _run_evaluate(args)
        if args.command == "fit-head":
            return _run_fit_head(args)
        if args.command == "report":
            return _run_report(args)
        if args.command in ("pseudo-label", "average"):
            return cli_semi.run_command(args)
        return _run_export(args)
    except EXPECTED_ERRORS as exc:
        if progress == "json":
            emit(Failed(str(exc)))
        print(f"birdview-train: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
