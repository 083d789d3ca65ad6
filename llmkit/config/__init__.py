"""How a recipe, flags and `--set` overrides become one typed job configuration.

Precedence, lowest first: the dataclass defaults < the recipe YAML < explicit CLI flags < `--set a.b=c`.
Every layer is a nested dict of plain values; `build_config` checks each key and type against the
dataclasses before any model is loaded, so a typo fails in a second with the valid keys listed.

The jobs' dataclasses live one module per job beside this one (finetune.py, pretrain.py, ...), the sections
several jobs share in sections.py; a fine-tuning method's own section lives with the method
(llmkit/tuning/methods/). A job config may list `renamed_keys` (old dotted key -> new one): a recipe that
still uses an old spelling is refused with the new name.
"""

from __future__ import annotations

import dataclasses
import math
import operator
import types
import typing
from dataclasses import field
from typing import Any, Literal

import yaml

from llmkit.errors import LlmkitError


def option(text: str, default: Any = dataclasses.MISSING, *, at_least: float | None = None,
          above: float | None = None, at_most: float | None = None, below: float | None = None,
          **kwargs: Any) -> Any:
    """A dataclass field whose one-line help text is shown by `llmkit recipes show` and in errors.

    at_least / above / at_most / below declare the range a number must lie in (inclusive / exclusive);
    `build_config` checks them, so a bad value fails before any model loads, with the key named.
    """
    bounds = {k: v for k, v in (("at_least", at_least), ("above", above), ("at_most", at_most), ("below", below))
              if v is not None}
    metadata = {"help": text, "bounds": bounds}
    if isinstance(default, (list, dict)):
        return field(default_factory=lambda: type(default)(default), metadata=metadata, **kwargs)
    return field(default=default, metadata=metadata, **kwargs)



def parse_set_overrides(items: list[str]) -> dict[str, Any]:
    """Turn ["train.lr=1e-4", "lora.target=[q_proj,v_proj]"] into a nested dict (values parsed as YAML)."""
    nested: dict[str, Any] = {}
    for item in items:
        key, sep, raw = item.partition("=")
        if not sep or not key.strip():
            raise LlmkitError(f"--set expects KEY=VALUE (e.g. train.lr=1e-4), got {item!r}")
        try:
            value = yaml.safe_load(raw) if raw.strip() else None
        except yaml.YAMLError as e:
            raise LlmkitError(f"--set {item!r}: the value is not valid YAML ({e.problem})") from None
        set_dotted(nested, key.strip(), value)
    return nested


def set_dotted(nested: dict[str, Any], dotted_key: str, value: Any) -> None:
    parts = dotted_key.split(".")
    node = nested
    for part in parts[:-1]:
        node = node.setdefault(part, {})
        if not isinstance(node, dict):
            raise LlmkitError(f"cannot set {dotted_key!r}: {part!r} is a value, not a section")
    node[parts[-1]] = value


def deep_merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def build_config(cls: type, *layers: dict[str, Any], source: str = "config") -> Any:
    """Build dataclass `cls` from the defaults overlaid with each layer in turn, checking keys and types."""
    merged: dict[str, Any] = {}
    for layer in layers:
        merged = deep_merge(merged, layer or {})
    _refuse_renamed(cls, merged, source)
    return _build(cls, merged, prefix="", source=source)


def _refuse_renamed(cls: type, values: dict[str, Any], source: str) -> None:
    """A key that was renamed fails with its new name, rather than as an unknown key or, worse, silently."""
    for old, new in getattr(cls, "renamed_keys", {}).items():
        node: Any = values
        for part in old.split("."):
            node = node.get(part, _ABSENT) if isinstance(node, dict) else _ABSENT
        if node is not _ABSENT:
            raise LlmkitError(f"{source}: '{old}' is now '{new}'")


_ABSENT = object()


def _build(cls: type, values: dict[str, Any], prefix: str, source: str) -> Any:
    if not isinstance(values, dict):
        raise LlmkitError(f"{source}: '{prefix.rstrip('.') or 'the top level'}' must be a mapping of keys, "
                          f"got {type(values).__name__}")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    hints = typing.get_type_hints(cls)
    unknown = sorted(set(values) - set(fields))
    if unknown:
        raise LlmkitError(f"{source}: unknown key '{prefix}{unknown[0]}'; valid keys here: "
                          f"{', '.join(prefix + name for name in fields)}")
    kwargs = {}
    for name, value in values.items():
        hint = hints[name]
        if dataclasses.is_dataclass(hint):
            if isinstance(value, dict):
                # Start from the field's own default instance, so a job whose section defaults differ
                # from the class's (pretrain's train section) keeps them for the keys a layer leaves out.
                value = {**_field_defaults(fields[name]), **value}
            kwargs[name] = _build(hint, value, prefix=f"{prefix}{name}.", source=source)
        else:
            kwargs[name] = _coerce(value, hint, f"{prefix}{name}", source)
            _check_bounds(kwargs[name], fields[name].metadata.get("bounds", {}), f"{prefix}{name}", source)
    return cls(**kwargs)


_BOUND_WORDS = {"at_least": ("at least", operator.ge), "above": ("greater than", operator.gt),
                "at_most": ("at most", operator.le), "below": ("less than", operator.lt)}


def _check_bounds(value: Any, bounds: dict[str, float], key: str, source: str) -> None:
    """Refuse a number outside its field's declared range, and any NaN or infinity."""
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        return
    if not math.isfinite(value):
        raise LlmkitError(f"{source}: '{key}' must be a finite number; got {value!r}")
    failed = [kind for kind, bound in bounds.items() if not _BOUND_WORDS[kind][1](value, bound)]
    if failed:
        allowed = " and ".join(f"{_BOUND_WORDS[kind][0]} {_number(bound)}" for kind, bound in bounds.items())
        raise LlmkitError(f"{source}: '{key}' must be {allowed}; got {value!r}")


def _number(bound: float) -> str:
    return str(int(bound)) if float(bound).is_integer() else str(bound)


def _field_defaults(f: dataclasses.Field) -> dict[str, Any]:
    if f.default_factory is dataclasses.MISSING:
        return {}
    default = f.default_factory()
    return {sub.name: getattr(default, sub.name) for sub in dataclasses.fields(default)}


def _coerce(value: Any, hint: Any, key: str, source: str) -> Any:
    """Accept `value` for a field typed `hint`, converting the few safe cases (1 -> 1.0, "1e-4" -> 0.0001)."""
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        (inner,) = [a for a in args if a is not type(None)]
        return _coerce(value, inner, key, source)
    if origin is Literal:
        if value in args:
            return value
        raise LlmkitError(f"{source}: '{key}' must be one of {', '.join(map(str, args))}; got {value!r}")
    if origin is list:
        if isinstance(value, str):
            value = [v.strip() for v in value.split(",") if v.strip()]
        if not isinstance(value, list):
            raise LlmkitError(f"{source}: '{key}' must be a list, got {value!r}")
        return [_coerce(v, args[0], f"{key}[{i}]", source) for i, v in enumerate(value)]
    if hint is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "false", "yes", "no"):
            return value.lower() in ("true", "yes")
    elif hint is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if isinstance(value, str) and value.strip().lstrip("-").isdigit():
            return int(value)
    elif hint is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        if isinstance(value, str):
            try:
                return float(value)  # YAML 1.1 reads "1e-4" (no dot) as a string
            except ValueError:
                pass
    elif hint is str:
        if isinstance(value, str):
            return value
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return str(value)
    raise LlmkitError(f"{source}: '{key}' must be {_type_name(hint)}, got {value!r}")


def _type_name(hint: Any) -> str:
    return {bool: "true or false", int: "an integer", float: "a number", str: "a string"}.get(hint, str(hint))


def to_dict(config: Any) -> dict[str, Any]:
    return dataclasses.asdict(config)


def to_yaml(config: Any) -> str:
    return yaml.safe_dump(to_dict(config), sort_keys=False, allow_unicode=True)
