"""Loading a trained model with the front end and class list it was trained with.

A checkpoint is a pickle, and unpickling can run code: every checkpoint is read with PyTorch's
weights-only unpickler (tensors, numbers, text, lists and dicts; birdview-train and Lightning
write nothing else), and one that names anything else is refused without running it.
"""

from __future__ import annotations

import io
import pickle
import pickletools
import re
import warnings
import zipfile
from dataclasses import dataclass
from pathlib import Path

import torch

from trainer.frontend import FrontEndConfig
from trainer.model import BirdClassifier
from trainer.typed_fields import SettingTypeError, check_fields


class CheckpointError(ValueError):
    pass


class UnsafeCheckpointError(CheckpointError):
    """A file whose unpickling would import or call something other than plain data."""


@dataclass
class LoadedModel:
    model: BirdClassifier
    frontend: FrontEndConfig
    classes: list[str]
    config: dict
    path: Path


def load_plain(path: str | Path, what: str = "checkpoint") -> object:
    """``torch.load`` that never runs code: the weights-only unpickler, with messages that name
    the file. A pickle that refers to other code is refused (:class:`UnsafeCheckpointError`)."""
    path = Path(path)
    if not path.exists():
        raise CheckpointError(f"{path}: {what} not found")
    if path.is_dir():
        raise CheckpointError(f"{path}: is a folder, not a {what}")
    if path.stat().st_size == 0:
        raise CheckpointError(f"{path}: not a readable {what} (the file is empty, 0 bytes)")
    try:
        with warnings.catch_warnings():  # PyTorch's note on a pickle protocol it does not write
            warnings.filterwarnings("ignore", message="Detected pickle protocol", category=UserWarning)
            return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        names = _code_references(path) or _refused_global(str(exc))
        if names:
            raise UnsafeCheckpointError(
                f"{path}: refused: the file may contain code (it refers to {', '.join(names)}), so it was "
                f"not loaded. Only tensors and plain settings are read from a {what}; birdview-train writes "
                "nothing else."
            ) from None
        raise CheckpointError(f"{path}: not a readable {what} (not a PyTorch file, or damaged)") from None
    except Exception as exc:
        detail = str(exc).split(". ", 1)[0].strip() or type(exc).__name__
        if isinstance(exc, KeyError) or detail.isdigit():  # e.g. a text file read as a legacy torch file
            detail = "not a PyTorch file, or damaged"
        elif isinstance(exc, (RuntimeError, EOFError, zipfile.BadZipFile)):
            detail = f"the file is truncated or damaged: {detail}"
        raise CheckpointError(f"{path}: not a readable {what} ({detail})") from None


#: What PyTorch's weights-only unpickler takes: not code, whatever the file's other contents.
_PLAIN_GLOBALS = re.compile(r"collections\.OrderedDict|torch\.[\w.]+|builtins\.(set|frozenset|bytearray|complex)")


def _code_references(path: Path) -> list[str]:
    """The modules' functions and classes a pickle (or a torch.save zip's data.pkl) refers to
    beyond plain data, read from its opcodes without running it."""
    try:
        with zipfile.ZipFile(path) as archive:
            name = next((n for n in archive.namelist() if n.endswith("data.pkl")), None)
            data = archive.read(name) if name else b""
    except (zipfile.BadZipFile, OSError, KeyError):
        try:
            data = path.read_bytes()
        except OSError:
            return []
    found: list[str] = []
    strings: list[str] = []
    memo: dict[int, object] = {}
    stream = io.BytesIO(data)
    while stream.tell() < len(data):  # torch's legacy format is several pickles in a row
        start = stream.tell()
        try:
            for opcode, argument, _ in pickletools.genops(stream):
                if isinstance(argument, str) and opcode.name.endswith(("UNICODE", "STRING")):
                    strings.append(str(argument))
                elif opcode.name in ("PUT", "BINPUT", "LONG_BINPUT") and strings:
                    memo[argument] = strings[-1]
                elif opcode.name == "MEMOIZE" and strings:
                    memo[len(memo)] = strings[-1]
                elif opcode.name in ("GET", "BINGET", "LONG_BINGET") and isinstance(memo.get(argument), str):
                    strings.append(memo[argument])
                elif opcode.name in ("GLOBAL", "INST"):
                    found.append(str(argument).replace(" ", "."))
                elif opcode.name == "STACK_GLOBAL":
                    found.append(".".join(strings[-2:]) if len(strings) >= 2 else "an unnamed global")
        except Exception:
            break
        if stream.tell() <= start:
            break
    return sorted({name for name in found if not _PLAIN_GLOBALS.fullmatch(name)})


def _refused_global(message: str) -> list[str]:
    """The global PyTorch's weights-only unpickler refused, from its message."""
    match = re.search(r"GLOBAL ([\w.]+)", message)
    return [match.group(1)] if match else []


def read_checkpoint(path: str | Path) -> dict:
    """A birdview-train checkpoint's contents, read without running code and checked for the
    layout it must have: ``hyper_parameters`` (config, classes, frontend) and ``state_dict``."""
    path = Path(path)
    checkpoint = load_plain(path)
    if not isinstance(checkpoint, dict):
        raise CheckpointError(f"{path}: not a birdview-train checkpoint (it holds a {type(checkpoint).__name__})")
    parameters = checkpoint.get("hyper_parameters", {})
    if not isinstance(parameters, dict):
        raise CheckpointError(
            f"{path}: damaged checkpoint: hyper_parameters is a {type(parameters).__name__}, not a mapping"
        )
    if not {"config", "classes", "frontend"} <= set(parameters):
        raise CheckpointError(f"{path}: not a birdview-train checkpoint (no front end or class list in it)")
    _check_parameters(parameters, path)
    _check_weights(checkpoint, len(parameters["classes"]), path)
    return checkpoint


def _check_parameters(parameters: dict, path: Path) -> None:
    config, classes = parameters["config"], parameters["classes"]
    if not isinstance(config, dict):
        raise CheckpointError(f"{path}: damaged checkpoint: its config is a {type(config).__name__}, not a mapping")
    if not isinstance(config.get("backbone"), str) or not config["backbone"]:
        raise CheckpointError(f"{path}: damaged checkpoint: its config names no backbone")
    for key, kind in (("pooling", str), ("dropout", (int, float))):
        if key in config and (not isinstance(config[key], kind) or isinstance(config[key], bool)):
            raise CheckpointError(f"{path}: damaged checkpoint: its config's {key} is {config[key]!r}")
    if not isinstance(classes, (list, tuple)) or not all(isinstance(c, str) for c in classes):
        raise CheckpointError(
            f"{path}: damaged checkpoint: its class list is a {type(classes).__name__}, not a list of class names"
        )
    if not classes or len(set(classes)) != len(classes):
        raise CheckpointError(f"{path}: damaged checkpoint: its class list is empty or names a class twice")
    frontend_of(parameters, path)


def frontend_of(parameters: dict, path: str | Path) -> FrontEndConfig:
    """The checkpoint's front end; settings this version does not know are left out."""
    values = parameters["frontend"]
    if not isinstance(values, dict):
        raise CheckpointError(f"{path}: damaged checkpoint: its front end is a {type(values).__name__}, not a mapping")
    try:
        return FrontEndConfig(**check_fields(FrontEndConfig, values, prefix="frontend.", unknown_ok=True))
    except (SettingTypeError, TypeError, ValueError) as exc:
        raise CheckpointError(f"{path}: damaged checkpoint: its front end is invalid ({exc})") from None


def _check_weights(checkpoint: dict, n_classes: int, path: Path) -> None:
    state = checkpoint.get("state_dict")
    if not isinstance(state, dict):
        what = "no state_dict" if state is None else f"a {type(state).__name__} as state_dict"
        raise CheckpointError(f"{path}: damaged checkpoint: it holds no weights ({what})")
    for key, value in state.items():
        if not isinstance(key, str) or not isinstance(value, torch.Tensor):
            raise CheckpointError(f"{path}: damaged checkpoint: its weight {key!r} is a {type(value).__name__}")
    weight, bias = state.get("model.classifier.weight"), state.get("model.classifier.bias")
    if weight is None or bias is None:
        raise CheckpointError(f"{path}: damaged checkpoint: it holds no classifier weights (model.classifier.*)")
    if weight.ndim != 2 or bias.shape != (weight.shape[0],) or weight.shape[0] != n_classes:
        raise CheckpointError(
            f"{path}: damaged checkpoint: its classifier has {tuple(weight.shape)} weights and "
            f"{tuple(bias.shape)} biases for {n_classes} classes"
        )


def model_state(checkpoint: dict) -> dict[str, torch.Tensor]:
    """The network's weights, without the LightningModule's ``model.`` prefix."""
    return {k.removeprefix("model."): v for k, v in checkpoint["state_dict"].items() if k.startswith("model.")}


def load_checkpoint(path: str | Path) -> LoadedModel:
    checkpoint = read_checkpoint(path)
    parameters = checkpoint["hyper_parameters"]
    config = parameters["config"]
    classes = list(parameters["classes"])
    try:
        model = BirdClassifier(
            n_classes=len(classes),
            backbone=config["backbone"],
            pretrained=False,
            pooling=config.get("pooling", "gem"),
            dropout=config.get("dropout", 0.0),
        )
    except (RuntimeError, ValueError, TypeError) as exc:
        raise CheckpointError(f"{path}: cannot build the model it names ({config['backbone']!r}: {exc})") from None
    try:
        model.load_state_dict(model_state(checkpoint))
    except RuntimeError as exc:
        raise CheckpointError(f"{path}: weights do not fit the model they name ({exc})") from None
    model.eval()
    return LoadedModel(model, frontend_of(parameters, path), classes, config, Path(path))


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
