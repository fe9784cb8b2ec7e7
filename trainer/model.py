"""A timm backbone on one-channel mel spectrograms, with a pooling-over-time head."""

from __future__ import annotations

import torch
import torch.nn.functional as F  # noqa: N812 - the usual name
from torch import nn

POOLINGS = ("gem", "attention", "mean")
DEFAULT_BACKBONE = "tf_efficientnet_b0.ns_jft_in1k"


class PretrainedWeightsError(RuntimeError):
    pass


class GeMTime(nn.Module):
    """Generalised-mean pooling over time: p=1 is the mean, large p approaches the max."""

    def __init__(self, p: float = 3.0) -> None:
        super().__init__()
        self.p = nn.Parameter(torch.tensor(float(p)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, C, T) -> (B, C)
        return x.clamp_min(1e-6).pow(self.p).mean(dim=-1).pow(1.0 / self.p)


class AttentionTime(nn.Module):
    """Attention pooling over time (as in SED models): weights from a 1x1 convolution."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.score = nn.Conv1d(channels, 1, kernel_size=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        weights = torch.softmax(self.score(x), dim=-1)
        return (x * weights).sum(dim=-1)


class BirdClassifier(nn.Module):
    """(batch, 1, mels, frames) -> (batch, classes) logits."""

    def __init__(
        self,
        n_classes: int,
        backbone: str = DEFAULT_BACKBONE,
        pretrained: bool = False,
        weights_file: str | None = None,
        pooling: str = "gem",
        dropout: float = 0.2,
    ) -> None:
        super().__init__()
        if pooling not in POOLINGS:
            raise ValueError(f"pooling must be one of {POOLINGS}, not {pooling!r}")
        self.backbone = _create_backbone(backbone, pretrained, weights_file)
        channels = self.backbone.num_features
        self.pool = {"gem": GeMTime(), "attention": AttentionTime(channels), "mean": None}[pooling] or _MeanTime()
        self.dropout = nn.Dropout(dropout)
        self.classifier = nn.Linear(channels, n_classes)

    def embed(self, mels: torch.Tensor) -> torch.Tensor:
        features = self.backbone(mels)  # (B, C, F', T')
        return self.pool(features.mean(dim=2))

    def forward(self, mels: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.dropout(self.embed(mels)))

    def freeze_backbone(self, frozen: bool = True) -> None:
        """Stop training the backbone: no gradients, and batch-norm statistics stay as they are."""
        self.backbone_frozen = frozen
        for parameter in self.backbone.parameters():
            parameter.requires_grad = not frozen
        self.train(self.training)

    def train(self, mode: bool = True) -> BirdClassifier:
        super().train(mode)
        if getattr(self, "backbone_frozen", False):
            self.backbone.eval()
        return self


class WithEmbedding(nn.Module):
    """A classifier as exports and engines run it: (logits, the pooled embedding before the head)."""

    def __init__(self, model: BirdClassifier) -> None:
        super().__init__()
        self.model = model

    def forward(self, mels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        embedding = self.model.embed(mels)
        return self.model.classifier(embedding), embedding


class _MeanTime(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.mean(dim=-1)


def _create_backbone(name: str, pretrained: bool, weights_file: str | None) -> nn.Module:
    import timm  # here, not at the top: commands that build no network (fit-head) start seconds sooner

    kwargs = {"in_chans": 1, "num_classes": 0, "global_pool": "", "exportable": True}
    if pretrained and weights_file is None:
        try:
            return timm.create_model(name, pretrained=True, **kwargs)
        except Exception as exc:
            raise PretrainedWeightsError(
                f"could not load timm's pretrained weights for {name!r} ({type(exc).__name__}: {exc}). "
                "Offline? Pass --weights FILE (a timm/PyTorch state dict) or --no-pretrained to start "
                "from random weights."
            ) from None
    model = timm.create_model(name, pretrained=False, **kwargs)
    if weights_file is not None:
        load_backbone_weights(model, weights_file)
    return model


def load_backbone_weights(model: nn.Module, path: str) -> None:
    """A state dict from timm or PyTorch; 3-channel stems are summed to one channel, heads dropped.

    Read without running code (a pickle that refers to any is refused, see checkpoint.load_plain)."""
    from trainer.checkpoint import CheckpointError, load_plain  # checkpoint.py imports this module

    try:
        state = load_plain(path, what="weights file")
    except CheckpointError as exc:
        raise PretrainedWeightsError(str(exc)) from None
    if isinstance(state, dict) and isinstance(state.get("state_dict"), dict):
        state = state["state_dict"]
    if not isinstance(state, dict):
        raise PretrainedWeightsError(f"{path}: not a state dict (it holds a {type(state).__name__})")
    own = model.state_dict()
    adapted = {}
    for key, value in state.items():
        if key not in own or not isinstance(value, torch.Tensor):
            continue
        if value.ndim == 4 and own[key].ndim == 4 and value.shape[1] == 3 and own[key].shape[1] == 1:
            value = value.sum(dim=1, keepdim=True)
        if value.shape == own[key].shape:
            adapted[key] = value
    if not adapted:
        raise PretrainedWeightsError(f"{path}: no tensor matches the backbone {type(model).__name__}")
    model.load_state_dict(adapted, strict=False)


def grow_head(old: nn.Linear, old_classes: list[str], new_classes: list[str]) -> nn.Linear:
    """A head for new_classes that keeps the weights of the classes both lists share."""
    head = nn.Linear(old.in_features, len(new_classes))
    with torch.no_grad():
        for row, name in enumerate(new_classes):
            if name in old_classes:
                source = old_classes.index(name)
                head.weight[row] = old.weight[source]
                head.bias[row] = old.bias[source]
    return head


def _reduce(per_example: torch.Tensor, weights: torch.Tensor | None) -> torch.Tensor:
    """The batch's loss: the mean over examples, each times its weight where weights are given."""
    return per_example.mean() if weights is None else (per_example * weights.to(per_example.dtype)).mean()


def bce_loss(logits: torch.Tensor, targets: torch.Tensor, weights: torch.Tensor | None = None) -> torch.Tensor:
    """Binary cross-entropy over every (example, class) cell; targets may be soft (in [0, 1])."""
    if weights is None:
        return F.binary_cross_entropy_with_logits(logits, targets)
    return _reduce(F.binary_cross_entropy_with_logits(logits, targets, reduction="none").mean(dim=1), weights)


def focal_loss(
    logits: torch.Tensor, targets: torch.Tensor, weights: torch.Tensor | None = None, gamma: float = 2.0
) -> torch.Tensor:
    """Focal loss; with a soft target y the cell's p_t is p y + (1 - p)(1 - y)."""
    bce = F.binary_cross_entropy_with_logits(logits, targets, reduction="none")
    p = torch.sigmoid(logits)
    p_t = p * targets + (1 - p) * (1 - targets)
    return _reduce(((1 - p_t) ** gamma * bce).mean(dim=1), weights)


def soft_cross_entropy(
    logits: torch.Tensor, targets: torch.Tensor, weights: torch.Tensor | None = None
) -> torch.Tensor:
    """Cross-entropy over classes for examples with a label; hard negatives (all-zero targets)
    have no class to pick, so their logits are pushed down with binary cross-entropy instead."""
    totals = targets.sum(dim=1)
    labelled = totals > 0
    per_example = logits.new_zeros(len(logits))
    if labelled.any():
        distribution = targets[labelled] / totals[labelled, None]
        per_example[labelled] = -(distribution * F.log_softmax(logits[labelled], dim=1)).sum(dim=1)
    if (~labelled).any():
        per_example[~labelled] = F.softplus(logits[~labelled]).mean(dim=1)
    return _reduce(per_example, weights)


def loss_function(name: str):
    """``loss(logits, targets, weights=None)``: targets may be soft; weights, one per example."""
    if name == "bce":
        return bce_loss
    if name == "focal":
        return focal_loss
    if name == "ce":
        return soft_cross_entropy
    raise ValueError(f"loss must be bce, focal or ce, not {name!r}")
