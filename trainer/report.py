"""``birdview-train report``: one self-contained HTML page on a training set and, optionally, a run.

The data: clips per class (primary and secondary labels, seconds, mean rating), hard negatives,
the clips' durations and ratings, and example mel spectrograms of each class through the one
front end (the run's, else the default), as the model sees them. The run (a ``fit --out`` folder):
the training curves from the CSV log (``logs/version_*/metrics.csv``; a resumed run's versions
joined) and the per-class ROC-AUC table, read from ``RUN/per_class_auc.csv`` where
``birdview-train evaluate --out`` left one, else computed on the run's validation fold.

Plots are drawn with matplotlib's Agg and SVG canvases (no pyplot, no window) and embedded in the
page as inline SVG, the spectrograms as one base64 PNG: the file needs nothing else to open.
"""

from __future__ import annotations

import base64
import html
import io
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import soundfile as sf

from trainer.config import ConfigError, TrainConfig, load_yaml
from trainer.data.metadata import Clip, DatasetError, TrainingSet, load_training_set
from trainer.frontend import FrontEndConfig

#: Per-class ROC-AUC table that ``birdview-train evaluate --out`` writes, read when in the run folder.
AUC_FILE = "per_class_auc.csv"
NEGATIVE = "(hard negatives)"


class ReportError(ValueError):
    """Nothing to report from what was given; the message says what is missing."""


# -- the data -------------------------------------------------------------------------------------


@dataclass
class DataSummary:
    """What a BirdCLEF-layout folder holds."""

    root: Path
    #: One row per class: class, clips (primary label), secondary (mentions), seconds, mean_rating.
    classes: pd.DataFrame
    negatives: int
    durations: np.ndarray
    ratings: np.ndarray
    training_set: TrainingSet
    skipped: list[str] = field(default_factory=list)


def _clip_seconds(clip: Clip, file_seconds: float) -> float:
    start = clip.start_s or 0.0
    end = file_seconds if clip.end_s is None else min(clip.end_s, file_seconds)
    return max(0.0, end - start)


def summarise_data(data: str | Path) -> DataSummary:
    """Counts, durations and ratings of ``data`` (bad rows left out and listed in ``skipped``)."""
    training_set = load_training_set(data, classes=None, skip_bad=True)
    lengths: dict[Path, float] = {}
    seconds = []
    for clip in training_set.clips:
        if clip.path not in lengths:
            lengths[clip.path] = float(sf.info(str(clip.path)).duration)
        seconds.append(_clip_seconds(clip, lengths[clip.path]))
    durations = np.array(seconds, dtype=np.float64)
    ratings = np.array([c.rating for c in training_set.clips if c.rating is not None], dtype=np.float64)
    rows = []
    for code in training_set.classes:
        own = [i for i, c in enumerate(training_set.clips) if c.primary == code]
        rated = [training_set.clips[i].rating for i in own if training_set.clips[i].rating is not None]
        rows.append(
            {
                "class": code,
                "clips": len(own),
                "secondary": sum(code in c.secondary for c in training_set.clips),
                "seconds": float(durations[own].sum()) if own else 0.0,
                "mean_rating": float(np.mean(rated)) if rated else float("nan"),
            }
        )
    return DataSummary(
        Path(data),
        pd.DataFrame(rows, columns=["class", "clips", "secondary", "seconds", "mean_rating"]),
        sum(c.is_negative for c in training_set.clips),
        durations,
        ratings,
        training_set,
        list(training_set.skipped),
    )


# -- the run --------------------------------------------------------------------------------------


def _version_number(path: Path) -> int:
    found = re.search(r"version_(\d+)$", path.parent.name)
    return int(found.group(1)) if found else -1


def read_training_log(run: str | Path) -> pd.DataFrame | None:
    """The run's CSV log (epoch, step and the logged metrics), None when it has none. A resumed
    run logs to a new version folder: earlier versions whose steps come before it are joined."""
    logs = sorted(Path(run).glob("logs/version_*/metrics.csv"), key=_version_number)
    frames: list[pd.DataFrame] = []
    for path in reversed(logs):
        try:
            frame = pd.read_csv(path)
        except (pd.errors.EmptyDataError, pd.errors.ParserError):
            continue
        if "step" not in frame.columns or frame.empty:
            continue
        if frames and frame["step"].max() >= frames[0]["step"].min():
            break  # an earlier, separate run in the same folder
        frames.insert(0, frame)
    return pd.concat(frames, ignore_index=True) if frames else None


def epoch_table(log: pd.DataFrame) -> pd.DataFrame:
    """One row per epoch: the last value logged in it of each per-epoch metric."""
    columns = [c for c in log.columns if c not in ("epoch", "step") and not c.endswith("_step")]
    return log.groupby("epoch")[columns].last().reset_index()


def run_config(run: Path) -> TrainConfig | None:
    path = run / "config.yaml"
    if not path.exists():
        return None
    try:
        return TrainConfig.from_dict(load_yaml(path))
    except (ConfigError, TypeError, ValueError) as exc:
        raise ReportError(f"{path}: not a birdview-train run's settings ({exc})") from None


def run_checkpoint(run: Path) -> Path | None:
    for name in ("best.ckpt", "last.ckpt"):
        if (run / "checkpoints" / name).exists():
            return run / "checkpoints" / name
    return None


def per_class_auc_table(run: Path, data: Path, config: TrainConfig | None) -> tuple[pd.DataFrame | None, str] | None:
    """(class, positives, roc_auc) with where it comes from, in words; None without a checkpoint;
    (None, why) when the checkpoint cannot be evaluated on the data."""
    saved = run / AUC_FILE
    if saved.exists():
        table = pd.read_csv(saved)
        if {"class", "roc_auc"} <= set(table.columns):
            return table, f"read from {saved}"
    checkpoint = run_checkpoint(run)
    if checkpoint is None:
        return None
    from trainer.checkpoint import CheckpointError
    from trainer.evaluate import evaluate

    fold, folds, seed = (config.fold, config.folds, config.seed) if config else (0, 5, 42)
    try:
        metrics, table = evaluate(str(checkpoint), str(data), fold, folds, seed, skip_bad=True)
    except (DatasetError, CheckpointError) as exc:
        return None, f"not computed: {exc}"
    return table, (
        f"{checkpoint.name} on validation fold {fold} of {folds} ({int(metrics['clips'])} clips), "
        f"macro ROC-AUC {_number(metrics['roc_auc'], 3)}"
    )


# -- plots ----------------------------------------------------------------------------------------


def _figure(width: float, height: float, layout: str | None = "constrained"):
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), layout=layout)


#: No date or creator in the SVG: the same numbers give the same page.
_NO_METADATA = {"Creator": None, "Date": None, "Format": None, "Type": None}


def figure_svg(figure) -> str:
    """The figure as an inline <svg> element (its XML prologue left off; text kept as text)."""
    import matplotlib

    buffer = io.StringIO()
    with matplotlib.rc_context({"svg.fonttype": "none"}):
        figure.savefig(buffer, format="svg", metadata=_NO_METADATA)
    text = buffer.getvalue()
    return text[text.index("<svg") :]


def figure_png(figure, dpi: int = 72, colours: int = 64) -> str:
    """The figure as an <img> with a base64 PNG, drawn with Agg and reduced to ``colours``
    colours (a quarter of the size of a full-colour PNG of spectrograms)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from PIL import Image

    drawn = io.BytesIO()
    FigureCanvasAgg(figure).print_figure(drawn, format="png", dpi=dpi)
    drawn.seek(0)
    buffer = io.BytesIO()
    Image.open(drawn).convert("RGB").quantize(colours).save(buffer, "PNG", optimize=True)
    encoded = base64.b64encode(buffer.getvalue()).decode("ascii")
    return f'<img alt="" src="data:image/png;base64,{encoded}">'


def class_counts_plot(summary: DataSummary) -> str:
    table = summary.classes
    names = [*table["class"], NEGATIVE]
    counts = [*table["clips"], summary.negatives]
    figure = _figure(7, 0.6 + 0.22 * len(names))
    axes = figure.add_subplot()
    axes.barh(range(len(names)), counts, color=["#3a7ca5"] * len(table) + ["#999999"])
    axes.set_yticks(range(len(names)), names, fontsize=8)
    axes.invert_yaxis()
    axes.set_xlabel("clips (primary label)")
    return figure_svg(figure)


def distribution_plot(summary: DataSummary) -> str:
    figure = _figure(8, 2.8)
    left, right = figure.subplots(1, 2)
    left.hist(summary.durations, bins=min(30, max(5, len(summary.durations) // 3)), color="#3a7ca5")
    left.set_xlabel("clip duration (s)")
    left.set_ylabel("clips")
    if len(summary.ratings):
        values, counts = np.unique(summary.ratings, return_counts=True)
        right.bar(values, counts, width=0.4, color="#3a7ca5")
        right.set_xlabel("rating")
    else:
        right.text(0.5, 0.5, "no ratings in the metadata", ha="center", va="center", transform=right.transAxes)
        right.set_axis_off()
    return figure_svg(figure)


def _examples(summary: DataSummary, per_class: int) -> list[tuple[str, int]]:
    """(class, clip index) of the examples: each class's best-rated clips, then the first ones."""
    chosen: list[tuple[str, int]] = []
    clips = summary.training_set.clips
    for code in [*summary.classes["class"], None]:
        own = [i for i, c in enumerate(clips) if c.primary == code]
        own.sort(key=lambda i: -(clips[i].rating or 0.0))
        chosen += [(code or NEGATIVE, i) for i in own[:per_class]]
    return chosen


def spectrogram_plot(summary: DataSummary, frontend: FrontEndConfig, per_class: int) -> str:
    """Example log-mel spectrograms (the front end's input to the model) in a grid, as one PNG."""
    import librosa

    from trainer.data.dataset import ClipDataset
    from trainer.frontend import MelFrontEnd

    chosen = _examples(summary, per_class)
    clips = [summary.training_set.clips[i] for _, i in chosen]
    dataset = ClipDataset(clips, np.zeros((len(clips), 1), np.float32), frontend, train=False)
    mel = MelFrontEnd(frontend)
    columns = max(1, min(4, len(chosen)))
    rows = -(-len(chosen) // columns)
    figure = _figure(3.2 * columns, 2.3 * rows, layout=None)  # laid out by hand: drawn once, not twice
    figure.subplots_adjust(left=0.6 / (3.2 * columns), right=0.99, bottom=0.45 / (2.3 * rows), top=0.97, hspace=0.4)
    edges = librosa.mel_frequencies(frontend.n_mels, fmin=frontend.fmin, fmax=frontend.fmax)
    ticks = [f for f in (500, 1000, 2000, 4000, 8000, 16000) if frontend.fmin <= f <= frontend.fmax]
    for k, (name, _) in enumerate(chosen):
        axes = figure.add_subplot(rows, columns, k + 1)
        image = mel.numpy(dataset.crop(k, None))[0, 0]
        axes.imshow(
            image,
            origin="lower",
            aspect="auto",
            cmap="magma",
            interpolation="nearest",
            extent=(0, frontend.context_s, 0, frontend.n_mels),
        )
        axes.set_yticks(np.interp(ticks, edges, np.arange(frontend.n_mels)), [f"{t / 1000:g}" for t in ticks])
        axes.set_title(f"{name}: {clips[k].path.name}", fontsize=8)
        axes.tick_params(labelsize=7)
        if k % columns == 0:
            axes.set_ylabel("kHz", fontsize=7)
        if k + columns >= len(chosen):
            axes.set_xlabel("s", fontsize=7)
    return figure_png(figure)


def curves_plot(log: pd.DataFrame) -> str:
    figure = _figure(8, 2.8)
    losses, scores = figure.subplots(1, 2)
    if "train_loss_step" in log.columns:
        steps = log.dropna(subset=["train_loss_step"])
        losses.plot(steps["step"], steps["train_loss_step"], color="#bbbbbb", lw=0.8, label="train (step)")
    per_epoch = epoch_table(log)
    last_steps = log.groupby("epoch")["step"].max().reindex(per_epoch["epoch"]).to_numpy()
    for column, colour in (("train_loss_epoch", "#3a7ca5"), ("val_loss", "#d1495b")):
        if column in per_epoch.columns and per_epoch[column].notna().any():
            losses.plot(last_steps, per_epoch[column], marker="o", color=colour, label=column.replace("_", " "))
    losses.set_xlabel("step")
    losses.set_ylabel("loss")
    losses.legend(fontsize=7)
    shown = False
    for column in ("val_roc_auc", "val_top1", "val_top5"):
        if column in per_epoch.columns and per_epoch[column].notna().any():
            scores.plot(per_epoch["epoch"], per_epoch[column], marker="o", label=column.replace("_", " "))
            shown = True
    scores.set_xlabel("epoch")
    if shown:
        scores.legend(fontsize=7)
    return figure_svg(figure)


def auc_plot(table: pd.DataFrame) -> str:
    scored = table.dropna(subset=["roc_auc"])
    figure = _figure(7, 0.6 + 0.22 * max(1, len(scored)))
    axes = figure.add_subplot()
    axes.barh(range(len(scored)), scored["roc_auc"], color="#3a7ca5")
    axes.set_yticks(range(len(scored)), list(scored["class"]), fontsize=8)
    axes.invert_yaxis()
    axes.set_xlim(0, 1)
    axes.set_xlabel("validation ROC-AUC")
    return figure_svg(figure)


# -- the page -------------------------------------------------------------------------------------

STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em; max-width: 70em; color: #222; }
table { border-collapse: collapse; margin: 0.5em 0 1.5em; font-size: 0.9em; }
th, td { border: 1px solid #ccc; padding: 0.2em 0.6em; }
td.n { text-align: right; font-variant-numeric: tabular-nums; }
svg, img { max-width: 100%; height: auto; display: block; margin: 0.5em 0; }
.note { color: #555; }
"""


def _number(value: object, digits: int = 2) -> str:
    if value is None or (isinstance(value, float) and not np.isfinite(value)):
        return "—"
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    return f"{float(value):.{digits}f}"


def html_table(rows: list[dict], columns: list[tuple[str, str]], digits: int = 2) -> str:
    """A table of ``rows`` (dicts) with (key, heading) ``columns``; numbers right-aligned."""
    head = "".join(f"<th>{html.escape(heading)}</th>" for _, heading in columns)
    body = []
    for row in rows:
        cells = []
        for key, _ in columns:
            value = row[key]
            if isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool):
                cells.append(f'<td class="n">{_number(value, digits)}</td>')
            else:
                cells.append(f"<td>{html.escape(str(value))}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table><tr>{head}</tr>{''.join(body)}</table>"


def page(title: str, sections: list[str]) -> str:
    return (
        f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>'
        f"<style>{STYLE}</style></head><body><h1>{html.escape(title)}</h1>\n"
        + "\n".join(sections)
        + "\n</body></html>\n"
    )


def write_page(out: str | Path, text: str) -> Path:
    """Written under a temporary name and renamed into place: no partial file is ever left."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    temporary = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    try:
        temporary.write_text(text, encoding="utf-8")
        os.replace(temporary, out)
    finally:
        temporary.unlink(missing_ok=True)
    return out


def _data_section(summary: DataSummary, frontend: FrontEndConfig, per_class: int) -> list[str]:
    total = len(summary.training_set.clips)
    negatives = [i for i, c in enumerate(summary.training_set.clips) if c.is_negative]
    rated = [
        summary.training_set.clips[i].rating for i in negatives if summary.training_set.clips[i].rating is not None
    ]
    rows = [
        *summary.classes.to_dict("records"),
        {
            "class": NEGATIVE,
            "clips": len(negatives),
            "secondary": 0,
            "seconds": float(summary.durations[negatives].sum()),
            "mean_rating": float(np.mean(rated)) if rated else float("nan"),
        },
    ]
    parts = [
        "<h2>Training data</h2>",
        f"<p>{html.escape(str(summary.root))}: {total} clips, {len(summary.classes)} classes, "
        f"{summary.negatives} hard negatives, {summary.durations.sum() / 3600:.2f} h of audio.</p>",
    ]
    if summary.skipped:
        listed = "".join(f"<li>{html.escape(s)}</li>" for s in summary.skipped[:20])
        more = f"<li>… and {len(summary.skipped) - 20} more</li>" if len(summary.skipped) > 20 else ""
        parts.append(f"<p>{len(summary.skipped)} rows left out:</p><ul>{listed}{more}</ul>")
    parts += [
        "<h3>Clips per class</h3>",
        class_counts_plot(summary),
        html_table(
            rows,
            [
                ("class", "class"),
                ("clips", "clips"),
                ("secondary", "as secondary label"),
                ("seconds", "seconds"),
                ("mean_rating", "mean rating"),
            ],
            digits=1,
        ),
        "<h3>Durations and ratings</h3>",
        distribution_plot(summary),
        f"<p>Durations: median {np.median(summary.durations):.1f} s, "
        f"from {summary.durations.min():.1f} to {summary.durations.max():.1f} s.</p>",
        "<h3>Example spectrograms</h3>",
        f'<p class="note">The {frontend.context_s:g} s the model sees of the first window of up to '
        f"{per_class} best-rated clip(s) per class, through the front end ({frontend.sample_rate} Hz, "
        f"n_fft {frontend.n_fft}, hop {frontend.hop_length}, {frontend.n_mels} mels, "
        f"{frontend.fmin:g}–{frontend.fmax:g} Hz, {frontend.normalization}).</p>",
        spectrogram_plot(summary, frontend, per_class),
    ]
    return parts


def _run_section(run: Path, data: Path, config: TrainConfig | None) -> list[str]:
    log = read_training_log(run)
    aucs = per_class_auc_table(run, data, config)
    parts = [f"<h2>Run {html.escape(str(run))}</h2>"]
    if config is not None:
        parts.append(
            f"<p>{html.escape(config.backbone)}, {config.epochs} epochs, batch {config.batch_size}, "
            f"lr {config.lr:g}, loss {config.loss}, validation fold {config.fold} of {config.folds}.</p>"
        )
    if log is not None:
        per_epoch = epoch_table(log)
        metrics = ("train_loss_epoch", "val_loss", "val_roc_auc", "val_log_loss", "val_top1", "val_top5")
        shown = [c for c in metrics if c in per_epoch.columns]
        parts += [
            "<h3>Training curves</h3>",
            curves_plot(log),
            html_table(
                per_epoch.to_dict("records"),
                [("epoch", "epoch"), *((c, c.replace("_", " ")) for c in shown)],
                digits=4,
            ),
        ]
    else:
        parts.append('<p class="note">No training log (a head-only run logs none).</p>')
    if aucs is not None and aucs[0] is None:
        parts += ["<h3>ROC-AUC per class</h3>", f'<p class="note">{html.escape(aucs[1])}.</p>']
    elif aucs is not None:
        table, source = aucs
        table = table.copy()
        if "positives" not in table.columns:
            table["positives"] = float("nan")
        parts += [
            "<h3>ROC-AUC per class</h3>",
            f'<p class="note">{html.escape(source)}; "—": no positive (or no negative) clip to score.</p>',
            auc_plot(table),
            html_table(
                table.to_dict("records"),
                [("class", "class"), ("positives", "validation positives"), ("roc_auc", "ROC-AUC")],
                digits=3,
            ),
        ]
    return parts


def write_report(data: str | Path, out: str | Path, run: str | Path | None = None, examples: int = 2) -> Path:
    """The report on ``data`` (and ``run``) written to ``out``; nothing is written on an error."""
    data = Path(data)
    run_path = Path(run) if run is not None else None
    if run_path is not None and not run_path.is_dir():
        raise ReportError(f"{run_path}: no such run folder")
    if run_path is not None and read_training_log(run_path) is None and run_checkpoint(run_path) is None:
        raise ReportError(
            f"{run_path}: no training log (logs/version_*/metrics.csv) and no checkpoint (checkpoints/*.ckpt): "
            "is it a birdview-train fit --out folder?"
        )
    config = run_config(run_path) if run_path is not None else None
    summary = summarise_data(data)
    frontend = config.frontend if config is not None else FrontEndConfig()
    sections = _data_section(summary, frontend, max(1, examples))
    if run_path is not None:
        sections += _run_section(run_path, data, config)
    return write_page(out, page(f"Training report: {data.name}", sections))
