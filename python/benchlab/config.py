"""Run configuration (docs/architecture.md, "Run configuration"): load, validate, dataclasses.

One shape: the run's load, the lab's group addresses and a ``targets`` list; each target's
entry is parsed by its package (benchlab.targets). Every problem raises
:class:`ConfigError` naming the field and the fix; the CLI turns it into exit code 2 before
anything is changed.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchlab import targets
from benchlab.criteria import Criteria
from benchlab.fields import ConfigError, mapping, number, string
from benchlab.runparams import BOUND_BY_KEY
from benchlab.search.settings import SearchSettings
from benchlab.targets import Lab, TargetConfig

RUN_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
SECRET_KEYS = ("password",)
# The keys every target entry may have; its package adds its own (Target.keys).
COMMON_TARGET_KEYS = ("name", "type", "criteria", "hypothesis", "services")


@dataclass(frozen=True)
class LoadConfig:
    batch_size: int
    interval_s: float
    duration_s: float
    record_bytes: int = 300
    processes: int = 0
    late_after_ms: float = 10.0
    drain_s: float | None = None
    seed: int = 0
    # Seconds at the start whose batches the steady figures leave out (summary()["steady"]).
    warmup_s: float = 0.0

    @property
    def rate_per_s(self) -> float:
        return self.batch_size / self.interval_s

    @property
    def batch_count(self) -> int:
        """Batches scheduled at t0 + k*interval for every k with k*interval < duration."""
        return max(1, math.ceil(self.duration_s / self.interval_s - 1e-9))

    @property
    def drain_deadline_s(self) -> float:
        """Seconds after the last scheduled batch during which late batches are still sent."""
        if self.drain_s is not None:
            return self.drain_s
        return max(10.0, 0.25 * self.duration_s)


@dataclass(frozen=True)
class RunConfig:
    run_id: str
    phase: str
    inventory: str
    load: LoadConfig
    targets: tuple[TargetConfig, ...]
    lab: Lab
    prometheus_url: str | None
    loadgen_metrics_port: int
    loadgen_metrics_addr: str
    services: dict[str, dict[str, Any]]
    host_facts: dict[str, Any]
    versions: dict[str, Any]
    raw: dict[str, Any]
    # host -> newest calibration's device figures (MiB/s: B_w, B_r, ...) or None.
    calibration: dict[str, Any] = field(default_factory=dict)
    # The sustainable-throughput search's settings (-e phase=search); None for a plain run.
    search: SearchSettings | None = None
    # Scale-out (-e workers=N): {"count": N (0: no workers), "of": workers in the inventory,
    # "hosts": {group: [active hosts]}}; empty for configurations that predate it.
    workers: dict[str, Any] = field(default_factory=dict)

    def public_dict(self) -> dict[str, Any]:
        """The configuration as given, without secrets (safe for run.json)."""
        return redact(self.raw)

    def target(self, name: str) -> TargetConfig:
        for target in self.targets:
            if target.name == name:
                return target
        raise KeyError(name)


def redact(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: ("<redacted>" if k in SECRET_KEYS else redact(v)) for k, v in value.items()}
    if isinstance(value, list):
        return [redact(v) for v in value]
    return value


def _bounded(data: dict[str, Any], key: str, default: Any = ...) -> Any:
    """A load field checked against benchlab.runparams.BOUNDS (the bounds -e is checked with)."""
    bound = BOUND_BY_KEY[key]
    return number(
        data,
        "load",
        key,
        integer=bound.integer,
        minimum=bound.minimum,
        exclusive_min=bound.exclusive_min,
        maximum=bound.maximum,
        default=default,
    )


# The fields of a run configuration's `load`; another (a hand edit's "duration" for
# "duration_s") is refused rather than ignored, which would run with the default.
LOAD_KEYS = (
    "batch_size",
    "interval_s",
    "duration_s",
    "record_bytes",
    "processes",
    "late_after_ms",
    "drain_s",
    "seed",
    "warmup_s",
)


def parse_load(data: dict[str, Any]) -> LoadConfig:
    p = "load"
    for key in data:
        if key not in LOAD_KEYS:
            raise ConfigError(f"{p}.{key}", "is not a field of load", f"use {', '.join(LOAD_KEYS)}")
    return LoadConfig(
        batch_size=_bounded(data, "batch_size"),
        interval_s=_bounded(data, "interval_s"),
        duration_s=_bounded(data, "duration_s"),
        record_bytes=_bounded(data, "record_bytes", default=300),
        processes=number(data, p, "processes", integer=True, minimum=0, maximum=256, default=0),
        late_after_ms=number(data, p, "late_after_ms", minimum=0, default=10.0),
        drain_s=number(data, p, "drain_s", minimum=0, default=None),
        seed=number(data, p, "seed", integer=True, minimum=0, default=0),
        warmup_s=_bounded(data, "warmup_s", default=BOUND_BY_KEY["warmup_s"].default),
    )


def _default_services(target: str, services: dict[str, Any]) -> tuple[str, ...]:
    names = [s for s in services if s == target or s.startswith(f"{target}_")]
    return tuple(names) if names else ((target,) if target in services else ())


def parse_targets(
    data: dict[str, Any], services: dict[str, Any], lab: Lab
) -> tuple[TargetConfig, ...]:
    """The `targets` list: one entry per system under test, parsed by its package."""
    items = data.get("targets")
    if not isinstance(items, list) or not items:
        raise ConfigError(
            "targets",
            "must be a non-empty list",
            'list one object per system, e.g. [{"name": "postgresql", "sink": {...}}]',
        )
    parsed: list[TargetConfig] = []
    for i, item in enumerate(items):
        prefix = f"targets[{i}]"
        if not isinstance(item, dict):
            raise ConfigError(prefix, "must be an object", "use a JSON object")
        name = string(item, prefix, "name")
        if not RUN_ID_RE.match(name):
            raise ConfigError(
                f"{prefix}.name", f"'{name}' is not a plain name", "use e.g. postgresql"
            )
        if any(t.name == name for t in parsed):
            raise ConfigError(
                f"{prefix}.name", f"'{name}' appears twice", "give each target a unique name"
            )
        kind = string(item, prefix, "type", name)
        try:
            target = targets.get(kind)
        except targets.UnknownTarget:
            raise ConfigError(
                f"{prefix}.type",
                f"no target package '{kind}'",
                f"use one of {', '.join(targets.available())}, or add benchlab/targets/{kind}/",
            ) from None
        entry = lab.resolve(item, prefix)
        for key in entry:
            if key not in COMMON_TARGET_KEYS + target.keys:
                raise ConfigError(
                    f"{prefix}.{key}",
                    f"is not a field of a {kind} target",
                    f"use {', '.join(COMMON_TARGET_KEYS + target.keys)}",
                )
        sink, settings = target.parse(entry, prefix)
        hypothesis = mapping(entry, prefix, "hypothesis", required=False)
        svc = entry.get("services")
        if svc is None:
            svc_names = _default_services(name, services)
        elif isinstance(svc, list) and all(isinstance(s, str) for s in svc):
            svc_names = tuple(svc)
        else:
            raise ConfigError(
                f"{prefix}.services", "must be a list of service names", 'e.g. ["postgresql"]'
            )
        criteria = Criteria.parse(
            mapping(entry, prefix, "criteria", required=False), f"{prefix}.criteria"
        )
        parsed.append(TargetConfig(name, kind, sink, criteria, hypothesis, svc_names, settings))
    return tuple(parsed)


def parse_config(data: Any) -> RunConfig:
    if not isinstance(data, dict):
        raise ConfigError("<root>", "the run configuration must be a JSON object", "fix the file")
    run_id = string(data, "", "run_id")
    if not RUN_ID_RE.match(run_id):
        raise ConfigError(
            "run_id",
            f"'{run_id}' has characters other than letters, digits, '.', '_', '-'",
            "use e.g. 20261122T160102Z-p2-postgresql-3f9a",
        )
    services = data.get("services") or {}
    if not isinstance(services, dict):
        raise ConfigError("services", "must be an object", "map service name -> limits")
    for name, svc in services.items():
        if not isinstance(svc, dict):
            raise ConfigError(f"services.{name}", "must be an object", "give host and limits")
        for key in ("cpu_limit", "memory_limit_bytes", "cpu_request", "memory_request_bytes"):
            if key in svc:
                number(svc, f"services.{name}", key, minimum=0, exclusive_min=True)
    port = number(
        data, "", "loadgen_metrics_port", integer=True, minimum=0, maximum=65535, default=9105
    )
    prom = data.get("prometheus_url")
    if prom is not None and (
        not isinstance(prom, str) or not prom.startswith(("http://", "https://"))
    ):
        raise ConfigError(
            "prometheus_url", f"{prom!r} is not an http(s) URL", "e.g. http://127.0.0.1:9090"
        )
    for key in ("host_facts", "versions", "calibration", "workers"):
        if key in data and not isinstance(data[key], dict):
            raise ConfigError(key, "must be an object", "use a JSON object")
    lab = Lab.parse(data.get("lab"))
    workers = data.get("workers") or {}
    if workers:
        number(workers, "workers", "count", integer=True, minimum=0)
        hosts = workers.get("hosts", {})
        if not isinstance(hosts, dict) or not all(isinstance(v, list) for v in hosts.values()):
            raise ConfigError(
                "workers.hosts",
                "must map group -> list of hosts",
                'e.g. {"hdfs_datanodes": ["w1"]}',
            )
    return RunConfig(
        run_id=run_id,
        phase=string(data, "", "phase", "custom"),
        inventory=string(data, "", "inventory", "local"),
        load=parse_load(mapping(data, "", "load")),
        targets=parse_targets(data, services, lab),
        lab=lab,
        prometheus_url=prom,
        loadgen_metrics_port=port,
        loadgen_metrics_addr=string(data, "", "loadgen_metrics_addr", "127.0.0.1"),
        services=services,
        host_facts=data.get("host_facts") or {},
        versions=data.get("versions") or {},
        raw=data,
        calibration=data.get("calibration") or {},
        search=SearchSettings.parse(data["search"]) if data.get("search") is not None else None,
        workers=workers,
    )


def load_config(path: str | Path) -> RunConfig:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(
            "--config",
            f"cannot read {path}: {exc.strerror or exc}",
            "give the path bench.yml rendered",
        ) from exc
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(
            "--config", f"{path} is not valid JSON (line {exc.lineno}: {exc.msg})", "fix the JSON"
        ) from exc
    return parse_config(data)
