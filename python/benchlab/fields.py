"""Typed readers for configuration objects: each problem is a ConfigError(field, problem, fix).

The run configuration (benchlab.config) and every target's own section
(benchlab.targets.<name>) read their fields through these, so a bad value reads the same
wherever it is: ``config field 'targets[0].sink.port': 'x' is not a number; fix: ...``.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

# A required field: the readers raise when it is absent.
REQUIRED: Any = ...


class ConfigError(ValueError):
    """A bad value in the run configuration: names the field and how to fix it."""

    def __init__(self, field_name: str, problem: str, fix: str) -> None:
        self.field = field_name
        self.problem = problem
        self.fix = fix
        super().__init__(f"config field '{field_name}': {problem}; fix: {fix}")


def dotted(prefix: str, key: str) -> str:
    return f"{prefix}.{key}" if prefix else key


def number(
    section: Mapping[str, Any],
    prefix: str,
    key: str,
    *,
    integer: bool = False,
    minimum: float | None = None,
    exclusive_min: bool = False,
    maximum: float | None = None,
    default: Any = REQUIRED,
) -> Any:
    """A finite int (integer=True) or float within the bounds; `default` when absent."""
    name = dotted(prefix, key)
    if key not in section or section[key] is None:
        if default is REQUIRED:
            raise ConfigError(name, "is missing", f"set {name} to a number")
        return default
    value = section[key]
    if isinstance(value, str):
        try:
            value = float(value) if not integer else int(value)
        except ValueError:
            raise ConfigError(
                name, f"'{section[key]}' is not a number", f"set {name} to a number"
            ) from None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ConfigError(name, f"{value!r} is not a number", f"set {name} to a number")
    if not math.isfinite(value):
        raise ConfigError(name, f"{value!r} is not finite", f"set {name} to a finite number")
    if integer:
        if float(value) != int(value):
            raise ConfigError(name, f"{value!r} is not a whole number", f"use an integer {name}")
        value = int(value)
    else:
        value = float(value)
    if minimum is not None and (value <= minimum if exclusive_min else value < minimum):
        bound = f"greater than {minimum:g}" if exclusive_min else f"at least {minimum:g}"
        raise ConfigError(name, f"{value!r} is out of range", f"{name} must be {bound}")
    if maximum is not None and value > maximum:
        raise ConfigError(name, f"{value!r} is out of range", f"{name} must be at most {maximum:g}")
    return value


def port(
    section: Mapping[str, Any], prefix: str, key: str = "port", default: Any = REQUIRED
) -> int:
    return int(
        number(section, prefix, key, integer=True, minimum=1, maximum=65535, default=default)
    )


def string(section: Mapping[str, Any], prefix: str, key: str, default: Any = REQUIRED) -> Any:
    """A non-empty string (an int is read as its text); `default` when absent."""
    name = dotted(prefix, key)
    if key not in section or section[key] is None:
        if default is REQUIRED:
            raise ConfigError(name, "is missing", f"set {name}")
        return default
    value = section[key]
    if not isinstance(value, str | int) or isinstance(value, bool) or str(value) == "":
        raise ConfigError(name, f"{value!r} is not a non-empty string", f"set {name} to a string")
    return str(value)


def choice(
    section: Mapping[str, Any], prefix: str, key: str, choices: tuple[str, ...], default: Any
) -> str:
    value = string(section, prefix, key, default)
    if value not in choices:
        raise ConfigError(
            dotted(prefix, key), f"unknown value '{value}'", f"use one of {', '.join(choices)}"
        )
    return str(value)


def boolean(section: Mapping[str, Any], prefix: str, key: str, default: bool) -> bool:
    value = section.get(key, default)
    if isinstance(value, str) and value.lower() in ("true", "false", "yes", "no"):
        value = value.lower() in ("true", "yes")
    if not isinstance(value, bool):
        raise ConfigError(dotted(prefix, key), f"{value!r} is not a boolean", "use true or false")
    return value


def mapping(
    section: Mapping[str, Any], prefix: str, key: str, *, required: bool = True
) -> dict[str, Any]:
    """A nested object; {} when absent and not required."""
    name = dotted(prefix, key)
    if key not in section or section[key] is None:
        if required:
            raise ConfigError(name, "is missing", f"add a '{key}' object")
        return {}
    value = section[key]
    if not isinstance(value, dict):
        raise ConfigError(
            name, f"must be an object, got {type(value).__name__}", "use a JSON object"
        )
    return value


def refuse_unknown(section: Mapping[str, Any], prefix: str, known: Any) -> None:
    """A misspelt key must not be silently ignored. `known`: the key names, or a dataclass
    whose fields are the keys."""
    if dataclasses.is_dataclass(known):
        known = tuple(f.name for f in dataclasses.fields(known))
    for key in section:
        if key not in known:
            raise ConfigError(
                dotted(prefix, key), "is not a known field", f"use one of {', '.join(known)}"
            )


def read_secret(path: str | None, field_name: str) -> str | None:
    """The stripped contents of a secret file; ConfigError when it cannot be read."""
    if path is None:
        return None
    try:
        return Path(path).read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise ConfigError(
            field_name,
            f"cannot read {path}: {exc.strerror or exc}",
            "run site.yml to generate the secret, or point it at a readable file",
        ) from exc
