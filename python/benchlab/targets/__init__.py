"""The systems under test, one package each: ``benchlab/targets/<name>/`` defines ``TARGET``.

A package is found by its directory name, as OpenMessaging Benchmark finds a driver: adding
``targets/cassandra/`` with a :class:`benchlab.targets.base.Target` subclass registers it.
The recipe for a new target is in docs/architecture.md ("Adding a system under test").
"""

from __future__ import annotations

import importlib
import pkgutil
import re

from benchlab.targets.base import (
    AfterLoad,
    Description,
    Lab,
    Target,
    TargetConfig,
    TargetNotReady,
    TargetSession,
)

_NAME = re.compile(r"^[a-z][a-z0-9_]*$")


class UnknownTarget(KeyError):
    """No package benchlab.targets.<name>."""


def available() -> tuple[str, ...]:
    """The target packages installed, by name."""
    return tuple(sorted(m.name for m in pkgutil.iter_modules(__path__) if m.ispkg))


def get(name: str) -> Target:
    """The target of package benchlab.targets.<name> (UnknownTarget when there is none)."""
    if not _NAME.match(name) or name not in available():
        raise UnknownTarget(name)
    module = importlib.import_module(f"{__name__}.{name}")
    target = getattr(module, "TARGET", None)
    if not isinstance(target, Target) or target.name != name:
        raise TypeError(f"benchlab.targets.{name} must define TARGET, a Target named {name!r}")
    return target


__all__ = [
    "AfterLoad",
    "Description",
    "Lab",
    "Target",
    "TargetConfig",
    "TargetNotReady",
    "TargetSession",
    "UnknownTarget",
    "available",
    "get",
]
