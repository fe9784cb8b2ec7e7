"""Settings read from a file (a YAML config, a checkpoint) checked against a dataclass's annotations.

Imports nothing heavy: checkpoint loading uses it, and the app loads checkpoints.
"""

from __future__ import annotations

import dataclasses
import re
import types
import typing
from collections.abc import Mapping

#: Text settings that also take a whole number (``devices: 2``, ``precision: 32`` in YAML).
NUMBERS_AS_TEXT = frozenset({"devices", "precision"})
#: A number PyYAML leaves as text: YAML 1.1 reads ``1e-3`` (no dot) as a string.
_NUMBER_TEXT = re.compile(r"[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?")


class SettingTypeError(ValueError):
    """A setting whose value does not have the type its field is annotated with; the message
    starts with the setting's name (``lr: expected ...``)."""


def describe(annotation: object) -> str:
    """The expected type in words, with the annotation's name: ``a number (float)``."""
    if annotation is bool:
        return "true or false (bool)"
    if annotation is int:
        return "a whole number (int)"
    if annotation is float:
        return "a number (float)"
    if annotation is str:
        return "text (str)"
    if dataclasses.is_dataclass(annotation):
        return f"a mapping of settings ({annotation.__name__})"
    arguments = typing.get_args(annotation)
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        named = [describe(a) for a in arguments if a is not type(None)]
        return " or ".join(named) + (" or null" if type(None) in arguments else "")
    if typing.get_origin(annotation) is tuple and arguments and Ellipsis not in arguments:
        inner = ", ".join(getattr(a, "__name__", str(a)) for a in arguments)
        return f"a list of {len(arguments)} values (tuple[{inner}])"
    return str(annotation)


def check_value(value: object, annotation: object, name: str) -> object:
    """``value`` as a field annotated ``annotation`` takes it (ints become floats where a float is
    expected, 20.0 an int where one is), or :class:`SettingTypeError`. A dataclass field takes a
    mapping, checked key by key (unknown keys are an error) and returned as a dict."""
    origin, arguments = typing.get_origin(annotation), typing.get_args(annotation)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in arguments:
            return None
        for option in arguments:
            if option is type(None):
                continue
            try:
                return check_value(value, option, name)
            except SettingTypeError:
                pass
    elif dataclasses.is_dataclass(annotation):
        if dataclasses.is_dataclass(value) and isinstance(value, annotation):
            return dataclasses.asdict(value)
        if isinstance(value, Mapping):
            return check_fields(annotation, value, prefix=f"{name}.")
    elif origin is tuple and arguments and Ellipsis not in arguments:
        if isinstance(value, (list, tuple)) and len(value) == len(arguments):
            pairs = enumerate(zip(value, arguments, strict=True))
            return tuple(check_value(v, a, f"{name}[{i}]") for i, (v, a) in pairs)
    elif annotation is bool:
        if isinstance(value, bool):
            return value
    elif annotation is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, float) and value.is_integer():  # 20.0: a whole number all the same
            return int(value)
    elif annotation is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        if isinstance(value, str) and _NUMBER_TEXT.fullmatch(value.strip()):
            return float(value)
    elif annotation is str:
        if isinstance(value, str):
            return value
        if name.rsplit(".", 1)[-1] in NUMBERS_AS_TEXT and isinstance(value, int) and not isinstance(value, bool):
            return str(value)
    else:
        return value  # an annotation this checker does not know: left to the dataclass
    raise SettingTypeError(f"{name}: expected {describe(annotation)}, not {_shown(value)}")


def check_fields(cls: type, values: Mapping, prefix: str = "", unknown_ok: bool = False) -> dict:
    """Every value of ``values`` checked against the annotation of ``cls``'s field of that name."""
    hints = typing.get_type_hints(cls)
    known = {f.name for f in dataclasses.fields(cls)}
    checked = {}
    for key, value in values.items():
        if key not in known:
            if unknown_ok:
                continue
            raise SettingTypeError(f"{prefix}{key}: unknown setting")
        checked[key] = check_value(value, hints[key], f"{prefix}{key}")
    return checked


def _shown(value: object) -> str:
    text = repr(value)
    if len(text) > 60:
        text = text[:57] + "..."
    return f"{text} ({type(value).__name__})"
