"""The backend run configuration, rendered by backend.yml (templates/backend-run.json.j2)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchlab import fields, targets
from benchlab.criteria import Criteria
from benchlab.fields import ConfigError
from benchlab.search.settings import SearchSettings
from benchlab.targets.request_response import BackendSettings, RequestResponseTarget

TOP_KEYS = (
    "run_id",
    "inventory",
    "suite",
    "scenarios",
    "scenarios_dir",
    "vegeta",
    "prometheus_url",
    "backends",
    "criteria",
    "load",
    "search",
    "services",
    "db_services",
    "host_facts",
    "versions",
    "cooldown_s",
    "vegeta_version",
)
SEARCH_KEYS = (
    "start_rate",
    "factor",
    "max_rate",
    "precision",
    "warmup_s",
    "measure_s",
    "max_trials",
)
# which scenarios and backends the search covers ([]: every one of the run)
SEARCH_FILTERS = ("scenarios", "backends")


@dataclass(frozen=True)
class HttpSearch:
    settings: SearchSettings  # the write suite's grid-then-bisection planner (search/plan.py)
    scenarios: tuple[str, ...] = ()  # scenario ids, stems or their numbers; () = all
    backends: tuple[str, ...] = ()  # () = all

    def covers(self, scenario_id: str, backend: str) -> bool:
        stem = scenario_id.split("/")[-1]
        in_scenarios = not self.scenarios or any(
            want in (scenario_id, stem, stem[:2]) for want in self.scenarios
        )
        return in_scenarios and (not self.backends or backend in self.backends)

    @classmethod
    def parse(cls, data: dict[str, Any], prefix: str) -> HttpSearch:
        fields.refuse_unknown(data, prefix, SEARCH_KEYS + SEARCH_FILTERS)
        filters = {}
        for key in SEARCH_FILTERS:
            value = data.get(key) or []
            if isinstance(value, str):
                value = [v.strip() for v in value.split(",") if v.strip()]
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise ConfigError(
                    f"{prefix}.{key}", f"{value!r} is not a list of names", "e.g. [01]"
                )
            filters[key] = tuple(value)
        data = {k: v for k, v in data.items() if k not in SEARCH_FILTERS}
        values = {
            "start_rate": fields.number(data, prefix, "start_rate", minimum=1, default=100.0),
            "factor": fields.number(data, prefix, "factor", minimum=1.1, default=2.0),
            "max_rate": fields.number(data, prefix, "max_rate", minimum=1, default=20_000.0),
            "precision": fields.number(data, prefix, "precision", minimum=0.01, default=0.1),
            "warmup_s": fields.number(data, prefix, "warmup_s", minimum=0, default=3.0),
            "measure_s": fields.number(data, prefix, "measure_s", minimum=1, default=10.0),
            "max_trials": fields.number(
                data, prefix, "max_trials", integer=True, minimum=1, default=12
            ),
        }
        if values["max_rate"] < values["start_rate"]:
            raise ConfigError(f"{prefix}.max_rate", "is below start_rate", "raise max_rate")
        # whole requests per second: the planner's "batch" is one second of requests
        settings = SearchSettings(interval_s=1.0, reruns=1, confirm_failures=0, **values)
        return cls(settings, **filters)


@dataclass(frozen=True)
class BackendRunConfig:
    run_id: str
    inventory: str
    suite: str
    scenarios: tuple[str, ...]
    scenarios_dir: Path
    vegeta: str
    vegeta_version: str
    prometheus_url: str | None
    backends: tuple[BackendSettings, ...]
    criteria: dict[str, Criteria]
    load: dict[str, float | None]
    search: HttpSearch | None
    services: dict[str, Any] = field(default_factory=dict)
    db_services: tuple[str, ...] = ()
    host_facts: dict[str, Any] = field(default_factory=dict)
    versions: dict[str, Any] = field(default_factory=dict)
    cooldown_s: float = 6.0
    raw: dict[str, Any] = field(default_factory=dict)

    def criteria_for(self, scenario_id: str) -> Criteria | None:
        return self.criteria.get(scenario_id) or self.criteria.get("default")


def parse(data: Any) -> BackendRunConfig:
    if not isinstance(data, dict):
        raise ConfigError(
            "", "the run configuration is not a JSON object", "render it with backend.yml"
        )
    fields.refuse_unknown(data, "", TOP_KEYS)
    run_id = fields.string(data, "", "run_id")
    entries = data.get("backends")
    if not isinstance(entries, list) or not entries:
        raise ConfigError("backends", "must be a non-empty list", "name at least one backend")
    backends = []
    for i, entry in enumerate(entries):
        prefix = f"backends[{i}]"
        if not isinstance(entry, dict):
            raise ConfigError(prefix, "must be an object", "see docs/architecture.md")
        kind = fields.string(entry, prefix, "type", entry.get("name"))
        try:
            target = targets.get(kind)
        except targets.UnknownTarget:
            raise ConfigError(
                f"{prefix}.type", f"no target package '{kind}'", "use http_backend for your own"
            ) from None
        if not isinstance(target, RequestResponseTarget):
            raise ConfigError(
                f"{prefix}.type",
                f"'{kind}' is a {target.kind} target, not an HTTP backend",
                "run it with bench.yml",
            )
        backends.append(target.parse_backend({**entry, "type": kind}, prefix))
    names = [b.name for b in backends]
    if len(set(names)) != len(names):
        raise ConfigError("backends", f"names repeat: {names}", "give each backend its own name")
    criteria_raw = fields.mapping(data, "", "criteria", required=False)
    criteria = {}
    for key, value in criteria_raw.items():
        parsed = Criteria.parse(value, f"criteria.{key}")
        if parsed is not None:
            criteria[key] = parsed
    load = fields.mapping(data, "", "load", required=False)
    fields.refuse_unknown(load, "load", ("rate", "duration_s", "warmup_s"))
    load_values = {
        "rate": fields.number(load, "load", "rate", minimum=0, exclusive_min=True, default=None),
        "duration_s": fields.number(load, "load", "duration_s", minimum=1, default=None),
        "warmup_s": fields.number(load, "load", "warmup_s", minimum=0, default=None),
    }
    scenarios = data.get("scenarios")
    if (
        not isinstance(scenarios, list)
        or not scenarios
        or not all(isinstance(s, str) for s in scenarios)
    ):
        raise ConfigError(
            "scenarios", "must be a non-empty list of scenario ids", "e.g. [basic/01-lightweight]"
        )
    search = data.get("search")
    return BackendRunConfig(
        run_id=run_id,
        inventory=str(data.get("inventory") or ""),
        suite=fields.string(data, "", "suite"),
        scenarios=tuple(scenarios),
        scenarios_dir=Path(fields.string(data, "", "scenarios_dir")),
        vegeta=fields.string(data, "", "vegeta"),
        vegeta_version=str(data.get("vegeta_version") or ""),
        prometheus_url=data.get("prometheus_url") or None,
        backends=tuple(backends),
        criteria=criteria,
        load=load_values,
        search=HttpSearch.parse(search, "search") if isinstance(search, dict) else None,
        services=dict(data.get("services") or {}),
        db_services=tuple(data.get("db_services") or ()),
        host_facts=dict(data.get("host_facts") or {}),
        versions=dict(data.get("versions") or {}),
        cooldown_s=fields.number(data, "", "cooldown_s", minimum=0, default=6.0),
        raw=data,
    )


def load_file(path: Path) -> BackendRunConfig:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise ConfigError(
            str(path), f"cannot be read as JSON ({exc})", "render it with backend.yml"
        ) from exc
    return parse(data)
