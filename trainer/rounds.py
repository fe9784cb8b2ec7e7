"""``fit --rounds N``: self-training. Round 0 trains on the labelled data; each later round scores
the unlabelled recordings with the previous round's model, selects windows (pseudo_label.py) and
trains a fresh model on the labelled data plus those pseudo-labels. Every round keeps its folder
(``OUT/round<k>/``: checkpoints, logs, ``pseudo/``) and ``OUT/rounds.json`` lists each round's
metrics. A round with nothing to select stops the run with a message naming it.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, replace
from pathlib import Path

from trainer.config import TrainConfig
from trainer.fit_common import FitResult
from trainer.progress import PredictStep, emit
from trainer.pseudo_label import PseudoLabelError, pseudo_label

ROUNDS_FILE = "rounds.json"


@dataclass
class RoundRecord:
    round: int
    checkpoint: str
    val_roc_auc: float | None
    eval_roc_auc: float | None
    windows_kept: int
    windows_scored: int
    seconds: float


def _eval_auc(checkpoint: Path, eval_data: str | None, skip_bad: bool) -> float | None:
    if not eval_data:
        return None
    from trainer.evaluate import evaluate

    metrics, _ = evaluate(str(checkpoint), eval_data, skip_bad=skip_bad)
    return float(metrics["roc_auc"])


def _scoring_progress(config: TrainConfig, stream):
    """With ``--progress json``: a PredictStep per unlabelled file a round scores."""
    if config.progress != "json":
        return None

    def report(number: int, total: int, path: Path) -> None:
        emit(PredictStep(step=number, total=total, file=str(path)), stream)

    return report


def fit_rounds(config: TrainConfig, progress_stream=None) -> tuple[FitResult, list[RoundRecord]]:
    """``config.rounds`` rounds after the first fit; returns the last round's result and every
    round's record (also written to ``OUT/rounds.json`` after each round)."""
    from trainer.train import fit

    config.validate()
    base = Path(config.out)
    base.mkdir(parents=True, exist_ok=True)
    unlabelled = config.unlabelled or config.background_dir
    records: list[RoundRecord] = []
    result: FitResult | None = None
    for number in range(config.rounds + 1):
        started = time.perf_counter()
        pseudo_folders = list(config.pseudo)
        kept = scored = 0
        if number > 0:
            folder = base / f"round{number}" / "pseudo"
            try:
                labels = pseudo_label(
                    [result.best_checkpoint],
                    [unlabelled],
                    folder,
                    config.pseudo_threshold,
                    config.pseudo_soft,
                    config.pseudo_power,
                    skip_bad=config.skip_bad,
                    max_share=config.pseudo_max_share,
                    on_file=_scoring_progress(config, progress_stream),
                )
            except PseudoLabelError as exc:
                raise PseudoLabelError(f"round {number} of {config.rounds}: {exc}") from None
            kept, scored = labels.windows_kept, labels.windows_scored
            pseudo_folders.append(str(folder))
        round_config = replace(config, out=str(base / f"round{number}"), pseudo=pseudo_folders, rounds=0)
        result = fit(round_config, progress_stream)
        seconds = round(time.perf_counter() - started, 1)
        records.append(
            RoundRecord(
                round=number,
                checkpoint=str(result.best_checkpoint),
                val_roc_auc=result.metrics.get("val_roc_auc"),
                eval_roc_auc=_eval_auc(result.best_checkpoint, config.eval_data, config.skip_bad),
                windows_kept=kept,
                windows_scored=scored,
                seconds=seconds,
            )
        )
        (base / ROUNDS_FILE).write_text(json.dumps([r.__dict__ for r in records], indent=2), encoding="utf-8")
    return result, records
