"""Typed construction of the config dataclasses from plain mappings (parsed YAML, a
checkpoint's stored config): every key and value is checked against the dataclass field's type,
and an unknown key is refused naming the nearest valid one.

:mod:`acga.config` defines the dataclasses and reads the YAML files, :mod:`acga.config_upgrade`
upgrades the keys of older configs; this module only turns a mapping into one of them.
"""

from __future__ import annotations

import dataclasses
import difflib
import types
import typing
from typing import Any, Literal, Mapping

from .errors import ConfigError

__all__ = ["build_dataclass"]

# Types checked by one isinstance test: (accepted types, what the message asks for). A bool is
# an int to Python, but ``true`` for an integer field is a mistake.
_PLAIN: dict[type, tuple[type, str]] = {
    bool: (bool, "true or false"),
    int: (int, "an integer"),
    str: (str, "a string"),
}


def build_dataclass(cls: type, data: Mapping[str, Any], source: str) -> Any:
    """``cls(**data)`` with every value coerced to its field's type (nested dataclasses too).

    Args:
        cls: a (frozen) dataclass whose fields are dataclasses, Literals, tuples, unions of
            them, dicts or bool/int/float/str.
        data: the mapping of field name -> value.
        source: the file (or ``<dict>``) named in every error.
    """
    return _build(cls, data, source, "")


def _build(cls: type, data: Mapping[str, Any], source: str, prefix: str) -> Any:
    if not isinstance(data, Mapping):
        raise ConfigError(f"config {source}: {prefix.rstrip('.') or 'top level'} must be a mapping")
    hints = typing.get_type_hints(cls)
    names = [f.name for f in dataclasses.fields(cls)]
    kwargs = {}
    for key, value in data.items():
        if key not in names:
            near = difflib.get_close_matches(str(key), names, n=1)
            hint = f" (did you mean {prefix}{near[0]}?)" if near else ""
            raise ConfigError(
                f"config {source}: unknown key {prefix}{key}{hint}; valid keys: {', '.join(names)}"
            )
        kwargs[key] = _coerce(hints[key], value, source, f"{prefix}{key}")
    return cls(**kwargs)


def _coerce(tp: Any, value: Any, source: str, key: str) -> Any:
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if dataclasses.is_dataclass(tp):
        return _build(tp, value if value is not None else {}, source, key + ".")
    if tp is Any:
        return value
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        errors = []
        for option in args:
            if option is type(None):
                continue
            try:
                return _coerce(option, value, source, key)
            except ConfigError as exc:
                errors.append(str(exc))
        raise ConfigError(errors[-1] if errors else f"config {source}: {key} has a wrong value")
    if origin is Literal:
        if value not in args:
            allowed = ", ".join(repr(a) for a in args)
            raise ConfigError(f"config {source}: {key} = {value!r} is not allowed; use one of {allowed}")
        return value
    if origin is tuple:
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"config {source}: {key} must be a list, got {value!r}")
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_coerce(args[0], v, source, f"{key}[{i}]") for i, v in enumerate(value))
        if len(value) != len(args):
            raise ConfigError(f"config {source}: {key} must have {len(args)} items, got {len(value)}")
        return tuple(_coerce(a, v, source, f"{key}[{i}]") for i, (a, v) in enumerate(zip(args, value)))
    if origin is dict:
        if not isinstance(value, Mapping):
            raise ConfigError(f"config {source}: {key} must be a mapping")
        return dict(value)
    if tp in _PLAIN:
        accepted, wanted = _PLAIN[tp]
        if not isinstance(value, accepted) or (tp is not bool and isinstance(value, bool)):
            raise ConfigError(f"config {source}: {key} must be {wanted}, got {value!r}")
        return value
    if tp is float:
        if isinstance(value, str):  # YAML 1.1 reads "1e-4" (no dot) as a string
            try:
                value = float(value)
            except ValueError:
                pass
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"config {source}: {key} must be a number, got {value!r}")
        return float(value)
    raise ConfigError(f"config {source}: {key} has unsupported type {tp}")
