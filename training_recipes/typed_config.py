"""Strict YAML -> typed dataclasses: a misspelt key or a value of the wrong type is an error naming it.

```python
@dataclass
class Optim:
    lr: float = 1e-3

@dataclass
class Config:
    output_dir: str
    optim: Optim = field(default_factory=Optim)

config = load_typed_config(Config, "config.yaml", overrides=["optim.lr=3e-4"])
```

Nested dataclass fields are built from nested mappings; `dict` fields (free-form sections such as a model config's
keyword arguments) are taken as they are.
"""

from __future__ import annotations

import dataclasses
import os
import types
import typing
from typing import Any

from .config import apply_overrides, read_yaml_mapping


__all__ = ["from_dict", "load_typed_config", "to_dict"]


def _type_name(tp) -> str:
    return getattr(tp, "__name__", str(tp))


def _coerce(value: Any, tp, where: str):
    """Checks `value` against the annotation `tp` (int -> float is widened; nothing else is converted)."""
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        options = typing.get_args(tp)
        if value is None and type(None) in options:
            return None
        errors = []
        for option in options:
            if option is type(None):
                continue
            try:
                return _coerce(value, option, where)
            except (TypeError, ValueError) as error:
                errors.append(str(error))
        raise TypeError(f"{where}: {value!r} matches none of {[_type_name(o) for o in options]}")
    if dataclasses.is_dataclass(tp):
        if not isinstance(value, dict):
            raise TypeError(f"{where} must be a mapping (section {_type_name(tp)}), got {type(value).__name__}")
        return from_dict(tp, value, where)
    if origin in (list, tuple):
        if not isinstance(value, (list, tuple)):
            raise TypeError(f"{where} must be a list, got {type(value).__name__} {value!r}")
        (item_type, *_) = typing.get_args(tp) or (Any,)
        return [_coerce(item, item_type, f"{where}[{index}]") for index, item in enumerate(value)]
    if origin is dict or tp is dict:
        if not isinstance(value, dict):
            raise TypeError(f"{where} must be a mapping, got {type(value).__name__}")
        return dict(value)
    if tp is Any:
        return value
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise TypeError(f"{where} must be a number, got {type(value).__name__} {value!r}")
        return float(value)
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise TypeError(f"{where} must be an integer, got {type(value).__name__} {value!r}")
        return value
    if tp is bool:
        if not isinstance(value, bool):
            raise TypeError(f"{where} must be true or false, got {type(value).__name__} {value!r}")
        return value
    if tp is str:
        if not isinstance(value, str):
            raise TypeError(f"{where} must be a string, got {type(value).__name__} {value!r}")
        return value
    return value


def from_dict(cls, raw: dict, where: str = "config"):
    """Builds dataclass `cls` from `raw`, refusing unknown keys and missing required ones."""
    hints = typing.get_type_hints(cls)
    fields = {field.name: field for field in dataclasses.fields(cls)}
    unknown = sorted(set(raw) - set(fields))
    if unknown:
        raise ValueError(f"{where}: unknown key(s) {unknown}; expected among {sorted(fields)}")
    values = {}
    for name, field in fields.items():
        if name in raw:
            values[name] = _coerce(raw[name], hints[name], f"{where}.{name}")
        elif field.default is dataclasses.MISSING and field.default_factory is dataclasses.MISSING:
            raise ValueError(f"{where}.{name} is required")
    return cls(**values)


def to_dict(instance) -> dict:
    """The plain-dict form of a config dataclass (for logs and saved copies)."""
    return dataclasses.asdict(instance)


def load_typed_config(cls, path: str | os.PathLike, overrides: list[str] | None = None):
    """Reads YAML `path`, applies `section.key=value` overrides, and builds `cls` strictly."""
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise ValueError(f"--config {path!r} is not a file")
    return from_dict(cls, apply_overrides(read_yaml_mapping(path), overrides), where=os.path.basename(path))
