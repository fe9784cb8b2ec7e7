"""What every training run shares, Lightning or head-only: the class list, the architecture of a
model it starts from, copying that model's weights, and the run folder."""

from __future__ import annotations

import logging
import random
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import yaml

from trainer.checkpoint import frontend_of, model_state, read_checkpoint
from trainer.classes import load_species
from trainer.config import TrainConfig
from trainer.data.metadata import TrainingSet, combine, load_training_set
from trainer.model import BirdClassifier, grow_head

log = logging.getLogger("trainer.train")


@dataclass
class FitResult:
    best_checkpoint: Path
    last_checkpoint: Path
    metrics: dict[str, float]
    skipped: list[str]


def resolve_classes(species: str | None) -> list[str] | None:
    if species == "from-data":
        return None
    if species in (None, "", "birdclef2024"):
        return load_species()
    return load_species(species)


def architecture_of(config: TrainConfig) -> TrainConfig:
    """Starting from a checkpoint means its network and front end: take them from it."""
    if not config.init_from:
        return config
    earlier = read_checkpoint(config.init_from)["hyper_parameters"]
    config.backbone = earlier["config"]["backbone"]
    config.pooling = earlier["config"].get("pooling", config.pooling)
    config.frontend = frontend_of(earlier, config.init_from)
    return config


def initialise_from(model: BirdClassifier, classes: list[str], backbone: str, path: str) -> None:
    """Copy weights from an earlier model; classes it did not know get a fresh head row."""
    checkpoint = read_checkpoint(path)
    old_classes = list(checkpoint["hyper_parameters"]["classes"])
    state = model_state(checkpoint)  # read_checkpoint checked the head's shape against the classes
    head = {k: state.pop(k) for k in list(state) if k.startswith("classifier.")}
    try:
        missing, unexpected = model.load_state_dict(state, strict=False)
    except RuntimeError:
        raise ValueError(f"{path}: its network differs from {backbone!r}") from None
    if unexpected or any(not k.startswith("classifier.") for k in missing):
        raise ValueError(f"{path}: its backbone differs from {backbone!r}")
    old_head = torch.nn.Linear(head["classifier.weight"].shape[1], len(old_classes))
    old_head.load_state_dict({"weight": head["classifier.weight"], "bias": head["classifier.bias"]})
    model.classifier = grow_head(old_head, old_classes, classes)


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def prepare_run(config: TrainConfig) -> tuple[TrainConfig, Path, TrainingSet]:
    """Check the settings, read the data, and write the run folder's config.yaml (and skipped.txt)."""
    config.validate()
    config = architecture_of(config)
    out = Path(config.out)
    out.mkdir(parents=True, exist_ok=True)
    training_set = load_data(config)
    for warning in training_set.warnings:
        log.warning(warning)
    if training_set.skipped:
        (out / "skipped.txt").write_text("\n".join(training_set.skipped) + "\n", encoding="utf-8")
    (out / "config.yaml").write_text(yaml.safe_dump(config.as_dict(), sort_keys=False), encoding="utf-8")
    return config, out, training_set


def load_data(config: TrainConfig) -> TrainingSet:
    """The labelled folders (``data``, then ``more_data``) and the pseudo-label folders, as one set."""
    from trainer.pseudo_label import read_pseudo_labels  # imports inference: only when needed

    classes = resolve_classes(config.species)
    roots = [config.data, *config.more_data]
    labelled = [load_training_set(root, classes, config.min_rating, config.skip_bad) for root in roots]
    if not config.pseudo:
        return labelled[0] if len(labelled) == 1 else combine(labelled, classes)
    if classes is None:  # from-data: the labelled folders' labels; the pseudo-labels must have them
        classes = combine(labelled, None).classes
    pseudo = [
        read_pseudo_labels(root, classes, config.frontend, config.pseudo_weight, config.skip_bad)
        for root in config.pseudo
    ]
    return combine(labelled + pseudo, classes)
