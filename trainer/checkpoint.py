"""Loading a trained model with the front end and class list it was trained with."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

from trainer.frontend import FrontEndConfig
from trainer.model import BirdClassifier


class CheckpointError(ValueError):
    pass


@dataclass
class LoadedModel:
    model: BirdClassifier
    frontend: FrontEndConfig
    classes: list[str]
    config: dict
    path: Path


def read_checkpoint(path: str | Path) -> dict:
    path = Path(path)
    if not path.exists():
        raise CheckpointError(f"{path}: checkpoint not found")
    try:
        # Lightning checkpoints hold loop and callback state beside the weights; they are the
        # user's own files, so the full unpickler is used.
        checkpoint = torch.load(path, map_location="cpu", weights_only=False)
    except Exception as exc:
        raise CheckpointError(f"{path}: not a readable checkpoint ({type(exc).__name__}: {exc})") from None
    parameters = checkpoint.get("hyper_parameters", {}) if isinstance(checkpoint, dict) else {}
    if not {"config", "classes", "frontend"} <= set(parameters):
        raise CheckpointError(f"{path}: not a birdview-train checkpoint (no front end or class list in it)")
    return checkpoint


def load_checkpoint(path: str | Path) -> LoadedModel:
    checkpoint = read_checkpoint(path)
    parameters = checkpoint["hyper_parameters"]
    config = parameters["config"]
    classes = list(parameters["classes"])
    model = BirdClassifier(
        n_classes=len(classes),
        backbone=config["backbone"],
        pretrained=False,
        pooling=config.get("pooling", "gem"),
        dropout=config.get("dropout", 0.0),
    )
    state = {k.removeprefix("model."): v for k, v in checkpoint["state_dict"].items() if k.startswith("model.")}
    try:
        model.load_state_dict(state)
    except RuntimeError as exc:
        raise CheckpointError(f"{path}: weights do not fit the model they name ({exc})") from None
    model.eval()
    return LoadedModel(model, FrontEndConfig.from_dict(parameters["frontend"]), classes, config, Path(path))


def write_checkpoint(path: Path, state_dict: dict, config: dict, classes: list[str]) -> Path:
    """A checkpoint in the layout Lightning writes (state_dict + hyper_parameters), atomically.

    ``state_dict`` holds the network's weights under ``model.``, as a LightningModule's does."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        lightning = version("pytorch-lightning")
    except PackageNotFoundError:
        lightning = "unknown"
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(".tmp")
    torch.save(
        {
            "state_dict": state_dict,
            "hyper_parameters": {"config": config, "classes": list(classes), "frontend": config["frontend"]},
            "pytorch-lightning_version": lightning,
        },
        temporary,
    )
    temporary.replace(path)
    return path
