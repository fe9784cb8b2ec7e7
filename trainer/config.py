"""Training settings: defaults, overridden by a YAML file, overridden by command-line flags."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

import yaml

from trainer.augment import AugmentConfig
from trainer.frontend import FrontEndConfig
from trainer.model import DEFAULT_BACKBONE
from trainer.typed_fields import SettingTypeError, check_fields

SCHEDULERS = ("cosine", "plateau", "onecycle")
LOSSES = ("bce", "focal", "ce")
LOGGERS = ("csv", "tensorboard", "wandb")


class ConfigError(ValueError):
    pass


@dataclass
class TrainConfig:
    data: str = ""
    out: str = "runs/train"
    #: "birdclef2024" (the 182 species), "from-data" (the labels found), or a class list file.
    species: str = "birdclef2024"
    epochs: int = 20
    batch_size: int = 32
    lr: float = 1e-3
    weight_decay: float = 1e-2
    backbone: str = DEFAULT_BACKBONE
    pretrained: bool = True
    weights: str | None = None
    pooling: str = "gem"
    dropout: float = 0.2
    loss: str = "bce"
    scheduler: str = "cosine"
    patience: int = 5
    fold: int = 0
    folds: int = 5
    secondary_coef: float = 1.0
    min_rating: float | None = None
    seed: int = 42
    precision: str = "32-true"
    gradient_clip: float = 1.0
    accelerator: str = "auto"
    devices: str = "auto"
    num_nodes: int = 1
    strategy: str = "auto"
    num_workers: int = 0
    logger: str = "csv"
    progress: str = "bar"
    init_from: str | None = None
    freeze_backbone: bool = False
    head_only: bool = False
    skip_bad: bool = False
    resume: bool = False
    max_steps: int = -1
    #: More labelled BirdCLEF-layout folders read beside ``data`` (``--data A --data B``).
    more_data: list[str] = field(default_factory=list)
    #: Pseudo-label folders (``birdview-train pseudo-label``): training only, each clip's loss times ``pseudo_weight``.
    pseudo: list[str] = field(default_factory=list)
    pseudo_weight: float = 1.0
    #: Unlabelled recordings: excerpts mixed into training clips (``augment.background_p``, SNR range).
    background_dir: str | None = None
    #: Clips cut at random from the background recordings each epoch and trained as all-zero targets
    #: (-1: a quarter as many as the labelled clips).
    background_negatives: int = 0
    #: Rounds of pseudo-labelling: score ``unlabelled`` (default: the background folder), select, retrain.
    rounds: int = 0
    unlabelled: str | None = None
    pseudo_threshold: float = 0.5
    pseudo_soft: bool = False
    pseudo_power: float = 1.0
    #: Hard pseudo-labels: a class is a target in at most this share of the windows (its highest-scored).
    pseudo_max_share: float = 1.0
    #: Labelled windows (BirdCLEF layout, start/end columns) each round's model is scored on.
    eval_data: str | None = None
    #: The run's model: the mean of the last K epochs' weights (0: off) ...
    average_last: int = 0
    #: ... or an exponential moving average of the weights with this decay per step (0: off).
    ema_decay: float = 0.0
    frontend: FrontEndConfig = field(default_factory=FrontEndConfig)
    augment: AugmentConfig = field(default_factory=AugmentConfig)

    def validate(self) -> None:
        if self.scheduler not in SCHEDULERS:
            raise ConfigError(f"scheduler must be one of {', '.join(SCHEDULERS)}, not {self.scheduler!r}")
        if self.loss not in LOSSES:
            raise ConfigError(f"loss must be one of {', '.join(LOSSES)}, not {self.loss!r}")
        if self.logger not in LOGGERS:
            raise ConfigError(f"logger must be one of {', '.join(LOGGERS)}, not {self.logger!r}")
        if not self.data:
            raise ConfigError("no training data: pass --data DIR (a BirdCLEF-layout folder)")
        if not 0 <= self.fold < self.folds:
            raise ConfigError(f"fold {self.fold} is not in 0..{self.folds - 1}")
        self._validate_semi_supervised()

    def _validate_semi_supervised(self) -> None:
        for name in ("more_data", "pseudo"):
            value = getattr(self, name)
            if isinstance(value, str):
                setattr(self, name, [value])
        if self.pseudo_weight <= 0:
            raise ConfigError(f"pseudo_weight must be above 0, not {self.pseudo_weight}")
        if not 0 < self.pseudo_threshold < 1:
            raise ConfigError(f"pseudo_threshold must be between 0 and 1, not {self.pseudo_threshold}")
        if not 0 < self.pseudo_max_share <= 1:
            raise ConfigError(f"pseudo_max_share must be in (0, 1], not {self.pseudo_max_share}")
        if self.pseudo_power <= 0:
            raise ConfigError(f"pseudo_power must be above 0, not {self.pseudo_power}")
        if self.background_negatives < -1 or self.rounds < 0 or self.average_last < 0:
            raise ConfigError("background_negatives, rounds and average_last cannot be negative")
        if self.background_negatives and not self.background_dir:
            raise ConfigError("background negatives need the recordings: pass --background-dir DIR")
        if self.rounds and not (self.unlabelled or self.background_dir):
            raise ConfigError(
                "pseudo-label rounds need unlabelled recordings: pass --unlabelled DIR (or --background-dir)"
            )
        if not 0 <= self.ema_decay < 1:
            raise ConfigError(f"ema_decay must be in [0, 1), not {self.ema_decay}")
        if self.average_last and self.ema_decay:
            raise ConfigError("choose one of --average-last and --ema, not both")
        if (self.average_last or self.ema_decay or self.background_dir) and self.head_only:
            raise ConfigError("weight averaging and background mixing are for full training, not --head-only")
        low, high = self.augment.background_snr_db
        if low > high:
            raise ConfigError(f"augment.background_snr_db: {low} is above {high}; give (low, high)")

    def as_dict(self) -> dict:
        values = asdict(self)
        values["frontend"] = self.frontend.as_dict()
        values["augment"] = self.augment.as_dict()
        return values

    @classmethod
    def from_dict(cls, values: dict) -> TrainConfig:
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ConfigError(f"unknown setting(s): {', '.join(unknown)}")
        clean = dict(values)
        if isinstance(clean.get("frontend"), dict):
            clean["frontend"] = FrontEndConfig.from_dict(clean["frontend"])
        if isinstance(clean.get("augment"), dict):
            clean["augment"] = AugmentConfig.from_dict(clean["augment"])
        return cls(**clean)


def load_yaml(path: str | Path) -> dict:
    path = Path(path)
    try:
        values = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read ({exc.strerror or exc})") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark is not None else str(path)
        raise ConfigError(f"{where}: not valid YAML ({getattr(exc, 'problem', exc)})") from None
    if not isinstance(values, dict):
        raise ConfigError(f"{path}: expected a mapping of settings")
    for key in values:
        if not isinstance(key, str):
            raise ConfigError(f"{path}: setting names are text, not {key!r}")
    return {key.replace("-", "_"): value for key, value in values.items()}


def merge(base: TrainConfig, overrides: dict, source: str | Path | None = None) -> TrainConfig:
    """``base`` with ``overrides`` (from a YAML file named ``source``, or flags) applied; nested
    ``frontend`` and ``augment`` settings are merged key by key. Every value is checked against
    its field's type first: a ConfigError names the file, the key and the type expected."""
    where = f"{source}: " if source is not None else ""
    try:
        checked = check_fields(TrainConfig, overrides)
    except SettingTypeError as exc:
        raise ConfigError(f"{where}{exc}") from None
    values = base.as_dict()
    for key, value in checked.items():
        if key in ("frontend", "augment"):
            values[key] = {**values[key], **value}
        else:
            values[key] = value
    try:
        return TrainConfig.from_dict(values)
    except (TypeError, ValueError) as exc:  # e.g. a context shorter than the window
        raise ConfigError(f"{where}{exc}") from None
