"""The command line of semi-supervised training: ``fit``'s background, pseudo-label, rounds and
weight-averaging options, and the ``pseudo-label`` and ``average`` commands (see cli.py)."""

from __future__ import annotations

import argparse
import sys

from trainer.config import TrainConfig

S = argparse.SUPPRESS


def add_fit_arguments(p: argparse.ArgumentParser) -> None:
    """``fit`` options (``--data`` itself is cli.py's, and may be given more than once)."""
    p.add_argument("--pseudo", action="append", help="a pseudo-label folder (birdview-train pseudo-label); repeatable")
    p.add_argument("--pseudo-weight", type=float, dest="pseudo_weight", help="loss weight of pseudo-labels (1)")
    p.add_argument(
        "--background-dir",
        dest="background_dir",
        help="unlabelled recordings mixed in as background: a folder, or a .txt list of paths (one a line)",
    )
    p.add_argument("--background-p", type=float, dest="background_p", help="share of clips given background (0.5)")
    p.add_argument(
        "--background-snr",
        type=float,
        nargs=2,
        dest="background_snr_db",
        metavar=("LOW", "HIGH"),
        help="signal-to-background ratio range in dB (0 20)",
    )
    p.add_argument(
        "--background-as-negatives",
        type=int,
        nargs="?",
        const=-1,
        dest="background_negatives",
        metavar="N",
        help="also train on N background excerpts an epoch as all-zero targets (default N: a quarter of the clips)",
    )
    p.add_argument("--rounds", type=int, help="pseudo-label rounds: score, select, retrain N times")
    p.add_argument("--unlabelled", help="recordings the rounds score: folder or .txt list (default: --background-dir)")
    p.add_argument("--pseudo-threshold", type=float, dest="pseudo_threshold", help="rounds: hard-label threshold")
    p.add_argument("--soft", action="store_true", dest="pseudo_soft", help="rounds: soft (probability) targets")
    p.add_argument("--power", type=float, dest="pseudo_power", help="rounds: soft targets are probability ** power")
    p.add_argument(
        "--pseudo-max-share",
        type=float,
        dest="pseudo_max_share",
        help="rounds: a class in at most this share of windows",
    )
    p.add_argument("--eval-data", dest="eval_data", help="labelled windows each round's model is scored on")
    p.add_argument("--average-last", type=int, dest="average_last", help="the model: the mean of the last K epochs")
    p.add_argument("--ema", type=float, dest="ema_decay", help="the model: an EMA of the weights (e.g. 0.99)")


def apply_fit_arguments(values: dict, augment: dict) -> None:
    """Moves the parsed options into the settings: several ``--data`` are the main folder and
    ``more_data``; the background's probability and SNR belong to ``augment``."""
    data = values.get("data")
    if isinstance(data, list):
        values["data"] = data[0]
        if len(data) > 1:
            values["more_data"] = data[1:]
    for name in ("background_p", "background_snr_db"):
        if name in values:
            augment[name] = values.pop(name)


def add_commands(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("pseudo-label", help="score unlabelled recordings and write pseudo-labels (BirdCLEF layout)")
    p.add_argument("--checkpoint", nargs="+", required=True, help=".ckpt; several: their mean")
    p.add_argument("--audio", nargs="+", required=True, help="audio files or folders")
    p.add_argument("--out", required=True, help="the folder to write (train_metadata.csv, train_audio/)")
    targets = p.add_mutually_exclusive_group()
    targets.add_argument("--threshold", type=float, default=0.5, help="hard targets: classes at or above this")
    targets.add_argument("--soft", action="store_true", help="soft targets: the probabilities, every window")
    p.add_argument("--power", type=float, default=1.0, help="--soft: targets are probability ** power")
    p.add_argument(
        "--max-share", type=float, default=1.0, help="a class is kept in at most this share of the windows (its top)"
    )
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--skip-bad", action="store_true")

    p = sub.add_parser("average", help="a checkpoint whose weights are the mean of several")
    p.add_argument("--checkpoint", nargs="+", required=True)
    p.add_argument("--out", required=True)


def run_command(args: argparse.Namespace) -> int | None:
    """Runs ``pseudo-label`` or ``average``; None for another command."""
    if args.command == "pseudo-label":
        from trainer.pseudo_label import pseudo_label

        result = pseudo_label(
            args.checkpoint,
            args.audio,
            args.out,
            args.threshold,
            args.soft,
            args.power,
            args.batch_size,
            args.skip_bad,
            max_share=args.max_share,
        )
        print(f"{result.windows_kept} of {result.windows_scored} windows kept", file=sys.stderr)
        print(result.folder)
        return 0
    if args.command == "average":
        from trainer.averaging import average_checkpoints

        print(average_checkpoints(args.checkpoint, args.out))
        return 0
    return None


def run_rounds(config: TrainConfig) -> int:
    from trainer.rounds import fit_rounds

    result, records = fit_rounds(config)
    for record in records:
        shown = {k: v for k, v in record.__dict__.items() if v is not None and k != "checkpoint"}
        print(" ".join(f"{k}={v:.4f}" if isinstance(v, float) else f"{k}={v}" for k, v in shown.items()))
    print(result.best_checkpoint)
    return 0
