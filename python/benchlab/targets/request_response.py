"""The request/response kind of target: an HTTP backend loaded by the backend suite.

A write target (postgresql, kafka, pipeline) stores records the load generator sends through
a sink; a request/response target answers HTTP requests, which the suite's load tool
(vegeta, open model) sends at a constant arrival rate, scenario by scenario
(scenarios/<category>/<nn>-<name>.yml). It has no sink and no audit: its figures are the
responses (rate, latency, status codes, errors, late and dropped requests) and its services'
CPU, memory and throttling.

Its entry in the backend run configuration (rendered by backend.yml from
group_vars/all/backends.yml and the inventory's ``backend_extra``):

    {"name": "fastapi_pragmatic", "type": "fastapi_pragmatic",
     "backend": {"url": "http://127.0.0.1:8101", "health": "/health",
                 "scenarios": ["*"], "services": ["backend-fastapi_pragmatic"],
                 "workers": 2, "pool_size": 10}}

``type`` is the package under benchlab.targets (``http_backend`` for a user's own backend).
"""

from __future__ import annotations

import fnmatch
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any, ClassVar

from benchlab import fields
from benchlab.fields import ConfigError
from benchlab.sinks.base import SinkSpec
from benchlab.targets.base import Description, Target, TargetConfig

BACKEND_KEYS = ("url", "health", "scenarios", "services", "workers", "pool_size", "server")


class BackendUnreachable(RuntimeError):
    """The backend's health URL did not answer 2xx."""


@dataclass(frozen=True)
class BackendSettings:
    name: str
    type: str
    url: str  # base URL, no trailing slash
    health: str  # path of the health check
    scenarios: tuple[str, ...]  # scenario ids it implements ("basic/01-lightweight"), globs
    services: tuple[str, ...]  # its limited services (cgroups benchlab/<service>)
    workers: int | None
    pool_size: int | None
    server: str | None  # e.g. "uvicorn 0.54, uvloop"

    def implements(self, scenario_id: str) -> bool:
        return any(fnmatch.fnmatchcase(scenario_id, pattern) for pattern in self.scenarios)

    @property
    def health_url(self) -> str:
        return self.url + self.health

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "type": self.type,
            "url": self.url,
            "health": self.health,
            "scenarios": list(self.scenarios),
            "services": list(self.services),
            "workers": self.workers,
            "pool_size": self.pool_size,
            "server": self.server,
        }


def _strings(section: dict[str, Any], prefix: str, key: str) -> tuple[str, ...]:
    value = section.get(key)
    name = fields.dotted(prefix, key)
    if value is None:
        raise ConfigError(name, "is missing", f"set {name} to a list of strings")
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise ConfigError(name, f"{value!r} is not a list of strings", f"set {name} to a list")
    return tuple(value)


class RequestResponseTarget(Target):
    """An HTTP backend. Subclass per framework for its description; ``http_backend`` is the
    generic one a user's own backend uses."""

    kind: ClassVar[str] = "request_response"
    exactly_once: ClassVar[bool] = False
    candidate: ClassVar[bool] = False
    keys: ClassVar[tuple[str, ...]] = ("backend",)
    # the report's line about it: framework, server, style
    style: ClassVar[str] = "an HTTP backend of your own"

    def parse(self, entry: dict[str, Any], prefix: str) -> tuple[SinkSpec, Any]:
        raise ConfigError(
            f"{prefix}.type",
            f"'{self.name}' is an HTTP backend (request/response kind), not a store for records",
            "run it with backend.yml (the backend suite), not bench.yml",
        )

    def preflight(self, config: TargetConfig) -> None:  # pragma: no cover - not a write target
        raise NotImplementedError("an HTTP backend has no sink")

    def parse_backend(self, entry: dict[str, Any], prefix: str) -> BackendSettings:
        """Its settings from the backend run configuration's entry (``{group}`` resolved)."""
        fields.refuse_unknown(entry, prefix, ("name", "type", "backend"))
        name = fields.string(entry, prefix, "name")
        section = fields.mapping(entry, prefix, "backend")
        bprefix = f"{prefix}.backend"
        fields.refuse_unknown(section, bprefix, BACKEND_KEYS)
        url = fields.string(section, bprefix, "url").rstrip("/")
        if not url.startswith(("http://", "https://")):
            raise ConfigError(
                f"{bprefix}.url", f"'{url}' is not an http(s) URL", "e.g. http://127.0.0.1:8101"
            )
        health = fields.string(section, bprefix, "health", "/health")
        if not health.startswith("/"):
            raise ConfigError(f"{bprefix}.health", f"'{health}' is not a path", "start it with /")
        workers = section.get("workers")
        pool = section.get("pool_size")
        return BackendSettings(
            name=name,
            type=self.name,
            url=url,
            health=health,
            scenarios=_strings(section, bprefix, "scenarios"),
            services=tuple(section.get("services") or ()),
            workers=None
            if workers in (None, "")
            else fields.number(section, bprefix, "workers", integer=True, minimum=1),
            pool_size=None
            if pool in (None, "")
            else fields.number(section, bprefix, "pool_size", integer=True, minimum=1),
            server=section.get("server") or None,
        )

    def check_health(self, settings: BackendSettings, timeout_s: float = 5.0) -> None:
        """Raise BackendUnreachable unless the health URL answers 2xx."""
        try:
            with urllib.request.urlopen(settings.health_url, timeout=timeout_s) as response:
                if 200 <= response.status < 300:
                    return
                raise BackendUnreachable(f"{settings.health_url} answered {response.status}")
        except (urllib.error.URLError, OSError) as exc:
            raise BackendUnreachable(f"{settings.health_url}: {exc}") from exc


def http_description(title: str, style: str) -> Description:
    return Description(
        title=title,
        acknowledgement="an HTTP response with a 2xx status",
        throughput="successful responses per second",
        audit=f"none ({style}; the responses are the result)",
    )
