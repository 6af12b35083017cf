"""Scenario files: ``scenarios/<category>/<nn>-<name>.yml``, one HTTP workload each.

    description: GET /users/{id}: one primary-key read
    rate: 200            # requests per second, constant arrival rate (open model)
    duration_s: 20       # the measured window
    warmup_s: 5          # the same load before it, left out of every figure
    targets: 5000        # distinct requests generated; vegeta cycles through them
    vars:                # drawn per request (seeded: the same file gives the same requests)
      user_id: {int: [1, 100000]}
    requests:            # one request shape, or several with weights (a mix)
      - {method: GET, path: "/users/{user_id}", weight: 1}
    # or variants run as separate measurements and compared (e.g. OFFSET vs cursor):
    variants: {offset: {requests: [...], vars: {...}}, cursor: {...}}
    compare: [offset, cursor]   # the report gives the second vs the first

In ``path`` and in string values of ``json`` (the body), ``{var}`` is replaced by the drawn
value; a string that is exactly ``"{var}"`` becomes the value itself (a number stays a number).
"""

from __future__ import annotations

import base64
import json
import random
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from benchlab import fields
from benchlab.fields import ConfigError

CATEGORIES = ("basic", "db-advanced", "caching", "real-world", "stress")
METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD")
SCENARIO_ID = re.compile(r"^(?P<category>[a-z][a-z-]*)/(?P<stem>\d\d-[a-z0-9-]+)$")
_VAR = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")
KEYS = (
    "description",
    "rate",
    "duration_s",
    "warmup_s",
    "targets",
    "vars",
    "requests",
    "variants",
    "compare",
    "seed",
    "timeout_s",
    "max_in_flight",
)


@dataclass(frozen=True)
class RequestShape:
    method: str
    path: str
    body: Any = None  # JSON body (None: no body)
    headers: dict[str, str] = field(default_factory=dict)
    weight: int = 1


@dataclass(frozen=True)
class Variant:
    name: str
    requests: tuple[RequestShape, ...]
    vars: dict[str, Any]


@dataclass(frozen=True)
class Scenario:
    id: str  # "basic/01-lightweight"
    description: str
    rate: float
    duration_s: float
    warmup_s: float
    targets: int
    variants: tuple[Variant, ...]
    compare: tuple[str, str] | None
    seed: int
    timeout_s: float
    max_in_flight: int

    @property
    def category(self) -> str:
        return self.id.split("/")[0]

    @property
    def stem(self) -> str:
        return self.id.split("/")[1]

    def with_load(
        self,
        rate: float | None = None,
        duration_s: float | None = None,
        warmup_s: float | None = None,
    ) -> Scenario:
        from dataclasses import replace

        return replace(
            self,
            rate=self.rate if rate is None else rate,
            duration_s=self.duration_s if duration_s is None else duration_s,
            warmup_s=self.warmup_s if warmup_s is None else warmup_s,
        )


def _var_spec(spec: Any, prefix: str) -> Any:
    if isinstance(spec, dict) and set(spec) == {"int"}:
        lo_hi = spec["int"]
        if (
            not isinstance(lo_hi, list)
            or len(lo_hi) != 2
            or not all(isinstance(v, int) for v in lo_hi)
            or lo_hi[0] > lo_hi[1]
        ):
            raise ConfigError(
                prefix, f"{spec!r} is not {{int: [low, high]}}", "e.g. {int: [1, 100000]}"
            )
        return ("int", lo_hi[0], lo_hi[1])
    if isinstance(spec, dict) and set(spec) == {"choice"}:
        options = spec["choice"]
        if not isinstance(options, list) or not options:
            raise ConfigError(prefix, f"{spec!r} is not {{choice: [a, b, ...]}}", "list the values")
        return ("choice", tuple(options))
    raise ConfigError(
        prefix, f"{spec!r} is not a variable", "use {int: [low, high]} or {choice: [...]}"
    )


def _requests(data: Any, prefix: str) -> tuple[RequestShape, ...]:
    if not isinstance(data, list) or not data:
        raise ConfigError(
            prefix, "must be a non-empty list of requests", "add {method: GET, path: /health}"
        )
    out = []
    for i, item in enumerate(data):
        p = f"{prefix}[{i}]"
        if not isinstance(item, dict):
            raise ConfigError(p, "must be an object", "use {method: GET, path: /health}")
        fields.refuse_unknown(item, p, ("method", "path", "json", "headers", "weight"))
        method = fields.choice(item, p, "method", METHODS, "GET")
        path = fields.string(item, p, "path")
        if not path.startswith("/"):
            raise ConfigError(f"{p}.path", f"'{path}' is not a path", "start it with /")
        headers = item.get("headers") or {}
        if not isinstance(headers, dict):
            raise ConfigError(f"{p}.headers", "must map header -> value", "e.g. {X-Trace: abc}")
        weight = fields.number(item, p, "weight", integer=True, minimum=1, default=1)
        out.append(
            RequestShape(
                method, path, item.get("json"), {str(k): str(v) for k, v in headers.items()}, weight
            )
        )
    return tuple(out)


def _vars(data: Any, prefix: str) -> dict[str, Any]:
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(
            prefix, "must map name -> {int: [lo, hi]} or {choice: [...]}", "fix the file"
        )
    return {str(k): _var_spec(v, f"{prefix}.{k}") for k, v in data.items()}


def parse(data: Any, scenario_id: str) -> Scenario:
    prefix = scenario_id
    if not isinstance(data, dict):
        raise ConfigError(prefix, "is not a YAML mapping", "see scenarios/README.md")
    fields.refuse_unknown(data, prefix, KEYS)
    base_vars = _vars(data.get("vars"), f"{prefix}.vars")
    if "variants" in data:
        if "requests" in data:
            raise ConfigError(
                f"{prefix}.requests", "is beside variants", "put requests inside each variant"
            )
        raw = fields.mapping(data, prefix, "variants")
        variants = []
        for name, body in raw.items():
            vp = f"{prefix}.variants.{name}"
            if not isinstance(body, dict):
                raise ConfigError(vp, "must be an object", "give it requests (and vars)")
            fields.refuse_unknown(body, vp, ("requests", "vars"))
            variants.append(
                Variant(
                    str(name),
                    _requests(body.get("requests"), f"{vp}.requests"),
                    {**base_vars, **_vars(body.get("vars"), f"{vp}.vars")},
                )
            )
    else:
        variants = [
            Variant("main", _requests(data.get("requests"), f"{prefix}.requests"), base_vars)
        ]
    compare = data.get("compare")
    if compare is not None:
        names = [v.name for v in variants]
        if not (
            isinstance(compare, list) and len(compare) == 2 and all(c in names for c in compare)
        ):
            raise ConfigError(
                f"{prefix}.compare",
                f"{compare!r} is not two of its variants",
                f"use two of {names}",
            )
        compare = (str(compare[0]), str(compare[1]))
    for variant in variants:
        for shape in variant.requests:
            used = set(_VAR.findall(shape.path)) | set(_VAR.findall(json.dumps(shape.body)))
            missing = used - set(variant.vars)
            if missing:
                raise ConfigError(
                    f"{prefix}.{variant.name}",
                    f"uses undefined variable(s) {sorted(missing)}",
                    "define them under vars",
                )
    return Scenario(
        id=scenario_id,
        description=str(data.get("description") or ""),
        rate=fields.number(data, prefix, "rate", minimum=0, exclusive_min=True),
        duration_s=fields.number(data, prefix, "duration_s", minimum=1),
        warmup_s=fields.number(data, prefix, "warmup_s", minimum=0, default=5.0),
        targets=fields.number(
            data, prefix, "targets", integer=True, minimum=1, maximum=1_000_000, default=1000
        ),
        variants=tuple(variants),
        compare=compare,
        seed=fields.number(data, prefix, "seed", integer=True, minimum=0, default=1),
        timeout_s=fields.number(data, prefix, "timeout_s", minimum=0.1, default=10.0),
        max_in_flight=fields.number(
            data, prefix, "max_in_flight", integer=True, minimum=1, default=1000
        ),
    )


def scenario_files(root: Path) -> dict[str, Path]:
    """Every scenario id under root (scenarios/) -> its file."""
    found = {}
    for path in sorted(root.glob("*/*.yml")):
        sid = f"{path.parent.name}/{path.stem}"
        if SCENARIO_ID.match(sid):
            found[sid] = path
    return found


def load(root: Path, scenario_id: str) -> Scenario:
    path = scenario_files(root).get(scenario_id)
    if path is None:
        raise ConfigError("scenario", f"no scenario {scenario_id} under {root}", "see scenarios/")
    return parse(yaml.safe_load(path.read_text(encoding="utf-8")), scenario_id)


class SelectionError(ValueError):
    """Bad -e suite / scenario / backends: one line, exit 2."""


def select(root: Path, suite: str, scenario: str | None) -> list[str]:
    """Scenario ids of a suite (a category, or `all`), optionally narrowed to one or more
    scenarios (comma separated: `03-db-read`, `basic/03-db-read` or `03`)."""
    known = scenario_files(root)
    categories = sorted({sid.split("/")[0] for sid in known})
    if suite != "all" and suite not in categories:
        raise SelectionError(
            f"suite '{suite}' is not a scenario category; "
            f"fix: -e suite=<one of {', '.join([*categories, 'all'])}>"
        )
    ids = [sid for sid in known if suite == "all" or sid.startswith(suite + "/")]
    if not scenario:
        return ids
    chosen: list[str] = []
    for want in (w.strip() for w in scenario.split(",") if w.strip()):
        match = [sid for sid in ids if want in (sid, sid.split("/")[1], sid.split("/")[1][:2])]
        if not match:
            stems = ", ".join(sid.split("/")[1] for sid in ids)
            raise SelectionError(
                f"scenario '{want}' is not in suite '{suite}'; fix: -e scenario=<one of {stems}>"
            )
        chosen += [m for m in match if m not in chosen]
    return chosen


# -- expanding a variant into vegeta targets ---------------------------------------------------
def _draw(spec: Any, rng: random.Random) -> Any:
    if spec[0] == "int":
        return rng.randint(spec[1], spec[2])
    return rng.choice(spec[1])


def _fill(value: Any, values: dict[str, Any]) -> Any:
    if isinstance(value, str):
        whole = _VAR.fullmatch(value)
        if whole:
            return values[whole.group(1)]
        return _VAR.sub(lambda m: str(values[m.group(1)]), value)
    if isinstance(value, list):
        return [_fill(v, values) for v in value]
    if isinstance(value, dict):
        return {k: _fill(v, values) for k, v in value.items()}
    return value


def vegeta_targets(scenario: Scenario, variant: Variant, base_url: str) -> list[dict[str, Any]]:
    """`scenario.targets` requests in vegeta's JSON target format, shuffled by weight, the
    same for every backend (seeded by the scenario's seed and the variant's name)."""
    rng = random.Random(f"{scenario.seed}:{scenario.id}:{variant.name}")
    shapes = [s for s in variant.requests for _ in range(s.weight)]
    out = []
    for i in range(scenario.targets):
        shape = shapes[i % len(shapes)] if len(shapes) > 1 else shapes[0]
        values = {name: _draw(spec, rng) for name, spec in variant.vars.items()}
        target: dict[str, Any] = {
            "method": shape.method,
            "url": base_url + _fill(shape.path, values),
        }
        headers = {k: [v] for k, v in shape.headers.items()}
        if shape.body is not None:
            body = json.dumps(_fill(shape.body, values), separators=(",", ":"))
            target["body"] = base64.b64encode(body.encode()).decode()
            headers.setdefault("Content-Type", ["application/json"])
        if headers:
            target["header"] = headers
        out.append(target)
    rng.shuffle(out)
    return out
