"""Run configuration (docs/architecture.md, "Run configuration"): load, validate, dataclasses.

Every problem raises :class:`ConfigError` naming the field and the fix; the CLI turns it into
exit code 2 before anything is changed.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchlab.runparams import BOUND_BY_KEY, PG_DEFAULT_METHOD, PG_METHODS

SINK_KINDS = ("postgresql", "kafka", "null")
RUN_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
IDENT_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}(\.[A-Za-z_][A-Za-z0-9_]{0,62})?$")
SECRET_KEYS = ("password",)


class ConfigError(ValueError):
    """A bad value in the run configuration: names the field and how to fix it."""

    def __init__(self, field_name: str, problem: str, fix: str) -> None:
        self.field = field_name
        self.problem = problem
        self.fix = fix
        super().__init__(f"config field '{field_name}': {problem}; fix: {fix}")


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
class SinkConfig:
    kind: str
    method: str = PG_DEFAULT_METHOD
    host: str = "127.0.0.1"
    port: int = 5432
    dbname: str = "benchlab"
    user: str = "benchlab"
    password_file: str | None = None
    table: str = "events"
    connect_timeout_s: float = 5.0
    statement_timeout_ms: int = 10000
    retries: int = 0
    extra: dict[str, Any] = field(default_factory=dict)

    def read_password(self) -> str | None:
        """The password from password_file; ConfigError when it cannot be read."""
        if self.password_file is None:
            return None
        path = Path(self.password_file)
        try:
            return path.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise ConfigError(
                "sink.password_file",
                f"cannot read {path}: {exc.strerror or exc}",
                "run site.yml to generate the secret, or point password_file at a readable file",
            ) from exc


@dataclass(frozen=True)
class Criteria:
    min_success_rate: float
    max_p99_ms: float
    oom_allowed: bool


@dataclass(frozen=True)
class StreamingConfig:
    """Where the pipeline's Structured Streaming job runs and writes (a kafka target's)."""

    master: str
    namenode: str
    jar_dir: str = "/opt/benchlab/jars/spark-kafka"
    base_dir: str = "/benchlab"
    trigger_s: float = 5.0
    driver_memory: str = "512m"
    driver_host: str = "127.0.0.1"
    ready_timeout_s: float = 180.0
    drain_timeout_s: float = 300.0


@dataclass(frozen=True)
class TargetConfig:
    """One system under test in a run; a run may hold several (PostgreSQL, pipeline...)."""

    name: str
    sink: SinkConfig
    criteria: Criteria | None
    hypothesis: dict[str, Any]
    services: tuple[str, ...]
    # The pipeline's streaming job; None for a sink that stores what it acknowledges.
    streaming: StreamingConfig | None = None


@dataclass(frozen=True)
class RunConfig:
    run_id: str
    phase: str
    inventory: str
    load: LoadConfig
    targets: tuple[TargetConfig, ...]
    prometheus_url: str | None
    loadgen_metrics_port: int
    loadgen_metrics_addr: str
    services: dict[str, dict[str, Any]]
    host_facts: dict[str, Any]
    versions: dict[str, Any]
    raw: dict[str, Any]
    # host -> newest calibration's device figures (MiB/s: B_w, B_r, ...) or None.
    calibration: dict[str, Any] = field(default_factory=dict)
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


def _number(
    section: dict[str, Any],
    prefix: str,
    key: str,
    *,
    integer: bool = False,
    minimum: float | None = None,
    exclusive_min: bool = False,
    maximum: float | None = None,
    default: Any = ...,
) -> Any:
    name = f"{prefix}.{key}" if prefix else key
    if key not in section or section[key] is None:
        if default is ...:
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


def _section(data: dict[str, Any], key: str, *, required: bool = True) -> dict[str, Any]:
    if key not in data or data[key] is None:
        if required:
            raise ConfigError(key, "is missing", f"add a '{key}' object to the run configuration")
        return {}
    value = data[key]
    if not isinstance(value, dict):
        raise ConfigError(
            key, f"must be an object, got {type(value).__name__}", "use a JSON object"
        )
    return value


def _string(section: dict[str, Any], prefix: str, key: str, default: Any = ...) -> str:
    name = f"{prefix}.{key}" if prefix else key
    if key not in section or section[key] is None:
        if default is ...:
            raise ConfigError(name, "is missing", f"set {name}")
        return default
    value = section[key]
    if not isinstance(value, str | int) or isinstance(value, bool) or str(value) == "":
        raise ConfigError(name, f"{value!r} is not a non-empty string", f"set {name} to a string")
    return str(value)


def _bounded(data: dict[str, Any], key: str, default: Any = ...) -> Any:
    """A load field checked against benchlab.runparams.BOUNDS (the bounds -e is checked with)."""
    bound = BOUND_BY_KEY[key]
    return _number(
        data, "load", key, integer=bound.integer, minimum=bound.minimum,
        exclusive_min=bound.exclusive_min, maximum=bound.maximum, default=default,
    )  # fmt: skip


def parse_load(data: dict[str, Any]) -> LoadConfig:
    p = "load"
    return LoadConfig(
        batch_size=_bounded(data, "batch_size"),
        interval_s=_bounded(data, "interval_s"),
        duration_s=_bounded(data, "duration_s"),
        record_bytes=_bounded(data, "record_bytes", default=300),
        processes=_number(data, p, "processes", integer=True, minimum=0, maximum=256, default=0),
        late_after_ms=_number(data, p, "late_after_ms", minimum=0, default=10.0),
        drain_s=_number(data, p, "drain_s", minimum=0, default=None),
        seed=_number(data, p, "seed", integer=True, minimum=0, default=0),
    )


def parse_sink(data: dict[str, Any], prefix: str = "sink") -> SinkConfig:
    kind = _string(data, prefix, "kind")
    if kind not in SINK_KINDS:
        raise ConfigError(
            f"{prefix}.kind", f"unknown sink kind '{kind}'", f"use one of {', '.join(SINK_KINDS)}"
        )
    known = {
        "kind", "method", "host", "port", "dbname", "user", "password_file", "table",
        "connect_timeout_s", "statement_timeout_ms", "retries", "password",
    }  # fmt: skip
    if "password" in data:
        raise ConfigError(
            f"{prefix}.password",
            "passwords are never put in the run configuration",
            "write it to a 0600 file and set password_file",
        )
    method = _string(data, prefix, "method", PG_DEFAULT_METHOD if kind == "postgresql" else "none")
    if kind == "postgresql" and method not in PG_METHODS:
        raise ConfigError(
            f"{prefix}.method",
            f"unknown write method '{method}'",
            f"use one of {', '.join(PG_METHODS)}",
        )
    table = _string(data, prefix, "table", "events")
    if not IDENT_RE.match(table):
        raise ConfigError(
            f"{prefix}.table",
            f"'{table}' is not a plain table name",
            "use e.g. events or public.events",
        )
    password_file = data.get("password_file")
    if kind == "postgresql" and not password_file:
        raise ConfigError(
            f"{prefix}.password_file", "is missing", "point it at the generated password file"
        )
    return SinkConfig(
        kind=kind,
        method=method,
        host=_string(data, prefix, "host", "127.0.0.1"),
        port=_number(data, prefix, "port", integer=True, minimum=1, maximum=65535, default=5432),
        dbname=_string(data, prefix, "dbname", "benchlab"),
        user=_string(data, prefix, "user", "benchlab"),
        password_file=str(password_file) if password_file else None,
        table=table,
        connect_timeout_s=_number(
            data, prefix, "connect_timeout_s", minimum=0, exclusive_min=True, default=5.0
        ),
        statement_timeout_ms=_number(
            data, prefix, "statement_timeout_ms", integer=True, minimum=0, default=10000
        ),
        retries=_number(data, prefix, "retries", integer=True, minimum=0, maximum=10, default=0),
        extra={k: v for k, v in data.items() if k not in known},
    )


def parse_criteria(data: dict[str, Any] | None, prefix: str = "criteria") -> Criteria | None:
    if not data:
        return None
    oom = data.get("oom_allowed", False)
    if isinstance(oom, str) and oom.lower() in ("true", "false", "yes", "no"):
        oom = oom.lower() in ("true", "yes")
    if not isinstance(oom, bool):
        raise ConfigError(f"{prefix}.oom_allowed", f"{oom!r} is not a boolean", "use true or false")
    return Criteria(
        min_success_rate=_number(data, prefix, "min_success_rate", minimum=0, maximum=1),
        max_p99_ms=_number(data, prefix, "max_p99_ms", minimum=0, exclusive_min=True),
        oom_allowed=oom,
    )


def parse_streaming(data: dict[str, Any] | None, prefix: str) -> StreamingConfig | None:
    if data is None:
        return None
    if not isinstance(data, dict):
        raise ConfigError(prefix, "must be an object", "give master, namenode, ...")
    master = _string(data, prefix, "master")
    namenode = _string(data, prefix, "namenode")
    if not master.startswith("spark://"):
        raise ConfigError(f"{prefix}.master", f"{master!r} is not a spark:// URL",
                          "e.g. spark://127.0.0.1:7077")  # fmt: skip
    if not namenode.startswith("hdfs://"):
        raise ConfigError(f"{prefix}.namenode", f"{namenode!r} is not an hdfs:// URL",
                          "e.g. hdfs://127.0.0.1:8020")  # fmt: skip
    return StreamingConfig(
        master=master,
        namenode=namenode,
        jar_dir=_string(data, prefix, "jar_dir", StreamingConfig.jar_dir),
        base_dir=_string(data, prefix, "base_dir", StreamingConfig.base_dir),
        trigger_s=_number(data, prefix, "trigger_s", minimum=0.1, maximum=600, default=5.0),
        driver_memory=_string(data, prefix, "driver_memory", StreamingConfig.driver_memory),
        driver_host=_string(data, prefix, "driver_host", StreamingConfig.driver_host),
        ready_timeout_s=_number(data, prefix, "ready_timeout_s", minimum=1, default=180.0),
        drain_timeout_s=_number(data, prefix, "drain_timeout_s", minimum=1, default=300.0),
    )


def _default_services(target: str, services: dict[str, Any]) -> tuple[str, ...]:
    names = [s for s in services if s == target or s.startswith(f"{target}_")]
    return tuple(names) if names else ((target,) if target in services else ())


def parse_targets(data: dict[str, Any], services: dict[str, Any]) -> tuple[TargetConfig, ...]:
    """Either one target (top-level target/sink/criteria/hypothesis) or a `targets` list."""
    if "targets" in data:
        items = data["targets"]
        if not isinstance(items, list) or not items:
            raise ConfigError("targets", "must be a non-empty list", "list one object per system")
        specs = []
        for i, item in enumerate(items):
            if not isinstance(item, dict):
                raise ConfigError(f"targets[{i}]", "must be an object", "use a JSON object")
            specs.append((f"targets[{i}]", item))
    else:
        specs = [("", data)]
    targets: list[TargetConfig] = []
    for prefix, item in specs:
        dot = f"{prefix}." if prefix else ""
        name = _string(item, prefix, "name" if prefix and "target" not in item else "target")
        if not RUN_ID_RE.match(name):
            raise ConfigError(
                f"{dot}target", f"'{name}' is not a plain name", "use e.g. postgresql"
            )
        sink = parse_sink(_sub(item, "sink", dot), f"{dot}sink")
        criteria = parse_criteria(item.get("criteria"), f"{dot}criteria")
        hypothesis = item.get("hypothesis") or {}
        if not isinstance(hypothesis, dict):
            raise ConfigError(f"{dot}hypothesis", "must be an object", "use a JSON object")
        svc = item.get("services")
        if svc is None or isinstance(svc, dict):
            svc_names = _default_services(name, services)
        elif isinstance(svc, list) and all(isinstance(s, str) for s in svc):
            svc_names = tuple(svc)
        else:
            raise ConfigError(
                f"{dot}services", "must be a list of service names", 'e.g. ["postgresql"]'
            )
        if any(t.name == name for t in targets):
            raise ConfigError(
                f"{dot}target", f"'{name}' appears twice", "give each target a unique name"
            )
        streaming = parse_streaming(item.get("streaming"), f"{dot}streaming")
        if sink.kind == "kafka" and streaming is None:
            raise ConfigError(
                f"{dot}streaming", "is missing for a kafka target",
                "give the Spark master and HDFS NameNode the streaming job uses",
            )  # fmt: skip
        targets.append(TargetConfig(name, sink, criteria, hypothesis, svc_names, streaming))
    return tuple(targets)


def _sub(item: dict[str, Any], key: str, dot: str) -> dict[str, Any]:
    value = item.get(key)
    if not isinstance(value, dict):
        raise ConfigError(f"{dot}{key}", "is missing or not an object", f"add a '{key}' object")
    return value


def parse_config(data: Any) -> RunConfig:
    if not isinstance(data, dict):
        raise ConfigError("<root>", "the run configuration must be a JSON object", "fix the file")
    run_id = _string(data, "", "run_id")
    if not RUN_ID_RE.match(run_id):
        raise ConfigError(
            "run_id", f"'{run_id}' has characters other than letters, digits, '.', '_', '-'",
            "use e.g. 20261122T160102Z-p2-postgresql-3f9a",
        )  # fmt: skip
    services = data.get("services") or {}
    if not isinstance(services, dict):
        raise ConfigError("services", "must be an object", "map service name -> limits")
    for name, svc in services.items():
        if not isinstance(svc, dict):
            raise ConfigError(f"services.{name}", "must be an object", "give host and limits")
        for key in ("cpu_limit", "memory_limit_bytes", "cpu_request", "memory_request_bytes"):
            if key in svc:
                _number(svc, f"services.{name}", key, minimum=0, exclusive_min=True)
    port = _number(
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
    workers = data.get("workers") or {}
    if workers:
        _number(workers, "workers", "count", integer=True, minimum=0)
        hosts = workers.get("hosts", {})
        if not isinstance(hosts, dict) or not all(isinstance(v, list) for v in hosts.values()):
            raise ConfigError(
                "workers.hosts",
                "must map group -> list of hosts",
                'e.g. {"hdfs_datanodes": ["w1"]}',
            )
    return RunConfig(
        run_id=run_id,
        phase=_string(data, "", "phase", "custom"),
        inventory=_string(data, "", "inventory", "local"),
        load=parse_load(_section(data, "load")),
        targets=parse_targets(data, services),
        prometheus_url=prom,
        loadgen_metrics_port=port,
        loadgen_metrics_addr=_string(data, "", "loadgen_metrics_addr", "0.0.0.0"),
        services=services,
        host_facts=data.get("host_facts") or {},
        versions=data.get("versions") or {},
        raw=data,
        calibration=data.get("calibration") or {},
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
