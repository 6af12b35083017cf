"""Run parameters: the one reader of group_vars/all/phases.yml and the one set of bounds.

A run's load is a phase (group_vars/all/phases.yml) with `-e` overrides applied. This module
loads the phase table, checks every override against :data:`BOUNDS` (the same bounds the
run configuration's ``load`` section is parsed with, benchlab.config) and resolves the
effective parameters. playbooks/preflight.yml runs it on the controller before anything
changes::

    python -m benchlab.runparams check --repo . --phase 2 --set duration=60 \
        --targets postgresql,pipeline --worker-group hdfs_datanodes=2 --worker-group spark_workers=2

It prints the resolved parameters as JSON (exit 0) or one line naming the parameter, the
problem and the fix on stderr (exit 2). Those lines are what preflight shows.
"""

from __future__ import annotations

import argparse
import json
import math
import re
import sys
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from benchlab.exitcodes import EXIT_BAD_INPUT, EXIT_OK

PHASES_FILE = "group_vars/all/phases.yml"
PHASES_KEY = "benchlab_phases"
# PostgreSQL write methods (-e pg_write_method, a run config's sink.method) and the default.
PG_METHODS = ("insert", "executemany", "copy")
PG_DEFAULT_METHOD = "copy"
DEFAULT_PHASE = "smoke"
DEFAULT_TARGET = "all"
# What -e may override, in the order they are checked; group_vars/all/run.yml's
# benchlab_run_overridable is a copy preflight.yml reads (checked equal by
# tests/unit/test_kit_facts.py); `benchlab scaleout run` reads this one.
OVERRIDABLE = (
    "duration",
    "batch_size",
    "interval",
    "record_bytes",
    "warmup",
    "pg_write_method",
    "target",
    "workers",
    "soak_fraction",
    "soak_rate",
)
# The soak (-e phase=soak): each target's batches are its rate x interval_s, the rate
# `-e soak_rate` or `fraction` (the soak entry of phases.yml, -e soak_fraction) x the newest
# complete search's sustainable rate (benchlab.soak.plan). Its -e parameters apply to it alone.
SOAK_PHASE = "soak"
# -e values as preflight has always read them: plain decimals, no sign, exponent, unit or
# blanks (_spelling names the last three in its refusal, with the plain spelling).
_INTEGER = re.compile(r"[0-9]+")
_NUMBER = re.compile(r"[0-9]*\.?[0-9]+")


def _plain(value: float) -> str:
    """1048576 rather than 1.04858e+06, 0.001 as 0.001."""
    return str(int(value)) if float(value).is_integer() else repr(float(value))


@dataclass(frozen=True)
class Bound:
    """The valid range of one load parameter; `name` is the -e name, `key` the phase/config key."""

    name: str
    key: str
    integer: bool
    minimum: float
    exclusive_min: bool = False
    maximum: float | None = None
    # The value when a phase (or a run config's load) leaves it out; None: required.
    default: float | None = None

    @property
    def kind(self) -> str:
        return "integer" if self.integer else "number"

    @property
    def article(self) -> str:
        return "an" if self.integer else "a"

    def range_text(self) -> str:
        low = (
            f"above {_plain(self.minimum)}"
            if self.exclusive_min
            else f"from {_plain(self.minimum)}"
        )
        return f"{low} to {_plain(self.maximum)}" if self.maximum is not None else low

    def fits(self, value: float) -> bool:
        if not math.isfinite(value):
            return False
        low = value > self.minimum if self.exclusive_min else value >= self.minimum
        return low and (self.maximum is None or value <= self.maximum)


# The one set of bounds: -e overrides, phases.yml entries and a run config's load section.
BOUNDS: tuple[Bound, ...] = (
    Bound("duration", "duration_s", integer=False, minimum=0, exclusive_min=True),
    Bound("batch_size", "batch_size", integer=True, minimum=1, maximum=1_000_000),
    Bound("interval", "interval_s", integer=False, minimum=0.001, maximum=3600),
    Bound("record_bytes", "record_bytes", integer=True, minimum=120, maximum=1_048_576),
    # seconds at the start of the load left out of throughput and latency (not of the audit)
    Bound("warmup", "warmup_s", integer=False, minimum=0, maximum=3600, default=0),
)
# The soak's own -e parameters (-e phase=soak only): the share of the sustainable rate it
# offers (its default: the soak entry's `fraction` in phases.yml) and a rate given directly.
SOAK_BOUNDS: tuple[Bound, ...] = (
    Bound("soak_fraction", "fraction", integer=False, minimum=0, exclusive_min=True, maximum=1),
    Bound(
        "soak_rate", "rate_per_s", integer=False, minimum=0, exclusive_min=True, maximum=10_000_000
    ),
)
# A phase's warm-up is at most this share of the run's duration unless -e warmup says
# otherwise, so `-e duration=20` still measures something.
WARMUP_SHARE_MAX = 0.25
BOUND_BY_KEY: Mapping[str, Bound] = {b.key: b for b in BOUNDS}


class ParamError(ValueError):
    """A bad run parameter: the field, the problem and the fix; str() is one line."""

    def __init__(self, field_name: str, problem: str, fix: str) -> None:
        self.field = field_name
        self.problem = problem
        self.fix = fix
        super().__init__(f"{problem}; {fix}.")


@dataclass(frozen=True)
class PhaseTable:
    """group_vars/all/phases.yml: phase name -> its fields, as written (keys as strings)."""

    phases: Mapping[str, Mapping[str, Any]]
    source: str = PHASES_FILE

    def names(self) -> list[str]:
        return list(self.phases)

    def value(self, phase: str, bound: Bound) -> int | float:
        """The phase's value for one bounded field, checked against the bound."""
        entry = self.phases[phase]
        where = f"{self.source}: phase '{phase}'"
        if bound.key not in entry and bound.default is not None:
            return bound.default
        if bound.key not in entry:
            raise ParamError(
                PHASES_KEY,
                f"{where} has no {bound.key}",
                f"add {bound.key} to it or pass -e {bound.name}=<{bound.kind}>",
            )
        raw = entry[bound.key]
        number = _yaml_number(raw, bound.integer)
        if number is None or not bound.fits(number):
            problem = (
                "is out of range" if number is not None else f"is not {bound.article} {bound.kind}"
            )
            raise ParamError(
                PHASES_KEY,
                f"{where} {bound.key} {raw!r} {problem}",
                f"set it to {bound.article} {bound.kind} {bound.range_text()}",
            )
        return number

    def example(self, phase: str, bound: Bound) -> str:
        """The phase's value as written in phases.yml, for "pass e.g. -e name=value"."""
        return str(self.phases.get(phase, {}).get(bound.key, f"<{bound.kind}>"))

    def rate_per_s(self, phase: str) -> float:
        """Records per second the phase offers: batch_size / interval_s."""
        return self.value(phase, BOUND_BY_KEY["batch_size"]) / self.value(
            phase, BOUND_BY_KEY["interval_s"]
        )


def _yaml_number(value: Any, integer: bool) -> int | float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    if not math.isfinite(value) or (integer and value != int(value)):
        return None
    return int(value) if integer else float(value)


def parse_phases(data: Any, source: str = PHASES_FILE) -> PhaseTable:
    """A PhaseTable from phases.yml's parsed YAML; ParamError when it has another shape."""
    table = data.get(PHASES_KEY) if isinstance(data, dict) else None
    if not isinstance(table, dict) or not table:
        raise ParamError(
            PHASES_KEY,
            f"{source} has no {PHASES_KEY} mapping",
            f"restore {PHASES_FILE} from the kit",
        )
    phases: dict[str, Mapping[str, Any]] = {}
    for name, entry in table.items():
        if entry is not None and not isinstance(entry, dict):
            raise ParamError(
                PHASES_KEY,
                f"{source}: phase '{name}' is not a mapping",
                "give it batch_size, interval_s, duration_s and record_bytes",
            )
        phases[str(name)] = entry or {}
    return PhaseTable(phases, source)


def load_phases(repo: Path) -> PhaseTable:
    """Read <repo>/group_vars/all/phases.yml; ParamError when it is missing or malformed."""
    import yaml  # here, not at the top: benchlab.config imports this module

    path = repo / PHASES_FILE
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ParamError(
            PHASES_KEY,
            f"cannot read {path}: {exc.strerror or exc}",
            "pass --repo <the kit checkout>",
        ) from exc
    except yaml.YAMLError as exc:
        raise ParamError(PHASES_KEY, f"{path} is not valid YAML ({exc})", "fix the file") from exc
    return parse_phases(data, str(path))


@dataclass(frozen=True)
class RunParams:
    """The effective run parameters: the phase's values with the -e overrides applied."""

    phase: str
    duration_s: float
    batch_size: int
    interval_s: float
    record_bytes: int
    warmup_s: float
    pg_write_method: str
    target: str
    # `all` expanded to the available targets; [] when no target list was given to check.
    targets: list[str]
    # -e workers; None when not given (every worker of the inventory).
    workers: int | None
    # The -e overrides as given (strings), for passing on to another run.
    overrides: dict[str, str] = field(default_factory=dict)
    # phase soak: {"fraction": F, "rates": {target: benchlab.soak.plan's entry}}; else None
    soak: dict[str, Any] | None = None

    @property
    def rate_per_s(self) -> float:
        return self.batch_size / self.interval_s

    def soak_batch_size(self, rate_per_s: float) -> int:
        """A soak target's batch: its rate x interval_s, at least one record."""
        return max(1, round(rate_per_s * self.interval_s))

    @property
    def records(self) -> int:
        """Records the run will try to write (run.yml's benchlab_run_records); a soak's
        targets one after the other, each at its own rate."""
        if self.soak and self.soak.get("rates"):
            return sum(
                math.ceil(self.soak_batch_size(r["rate_per_s"]) * self.duration_s / self.interval_s)
                for r in self.soak["rates"].values()
            )
        return math.ceil(self.batch_size * self.duration_s / self.interval_s)

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "rate_per_s": self.rate_per_s, "records": self.records}


def _parse(value: str, integer: bool) -> int | float:
    """A -e value's number; 0 when it is not a plain decimal, inf when it has too many digits."""
    if not (_INTEGER if integer else _NUMBER).fullmatch(value):
        return 0
    try:
        return int(value) if integer else float(value)
    except ValueError:  # more digits than int() converts
        return math.inf


# Seconds per unit a user may type after a time parameter (-e interval=500ms): named in the
# refusal with the value converted, never applied (one spelling: plain seconds).
_TIME_UNITS = {"ms": 0.001, "s": 1, "sec": 1, "m": 60, "min": 60, "h": 3600}
_WITH_UNIT = re.compile(r"([0-9]*\.?[0-9]+)\s*([A-Za-z]+)")
_EXPONENT = re.compile(r"[0-9]*\.?[0-9]+[eE][+-]?[0-9]+")
_SECONDS = ("duration", "interval", "warmup")


def _spelling(bound: Bound, value: str, example: str) -> ParamError | None:
    """A refusal for a number written another way: blanks around it, a unit, exponent form.

    Each is refused rather than read, so a value has one spelling in run.json's overrides
    and in what `benchlab bench` / scale-out runs pass on; the fix gives that spelling.
    """
    plain = _INTEGER if bound.integer else _NUMBER
    stripped = value.strip()
    if stripped != value and (plain.fullmatch(stripped) or _EXPONENT.fullmatch(stripped)):
        fixed = stripped if plain.fullmatch(stripped) else _plain(float(stripped))
        return ParamError(
            bound.name,
            f"-e {bound.name}='{value}' has blanks around the number",
            f"pass -e {bound.name}={fixed}",
        )
    if _EXPONENT.fullmatch(value) and math.isfinite(float(value)):
        return ParamError(
            bound.name,
            f"-e {bound.name}={value} is in exponent form, which the kit does not read",
            f"write it as a plain decimal: -e {bound.name}={_plain(float(value))}",
        )
    unit = _WITH_UNIT.fullmatch(value)
    if unit is None:
        return None
    amount, suffix = unit.groups()
    if bound.name in _SECONDS and suffix.lower() in _TIME_UNITS:
        seconds = float(amount) * _TIME_UNITS[suffix.lower()]
        return ParamError(
            bound.name,
            f"-e {bound.name}={value} has a unit ({suffix}); the kit reads plain seconds",
            f"pass -e {bound.name}={_plain(round(seconds, 6))}",
        )
    if bound.name in _SECONDS:
        return None  # not a unit: the plain "is not a positive number"
    what = "bytes" if bound.name == "record_bytes" else "records"
    return ParamError(
        bound.name,
        f"-e {bound.name}={value} has a unit ({suffix}); the kit reads a plain count of {what}",
        f"pass e.g. -e {bound.name}={example}",
    )


def _override_number(bound: Bound, value: str, example: str) -> int | float:
    spelling = _spelling(bound, value, example)
    if spelling is not None:
        raise spelling
    number = _parse(value, bound.integer)
    positive = bound.exclusive_min or bound.minimum > 0
    plain = (_INTEGER if bound.integer else _NUMBER).fullmatch(value)
    if number <= 0 if positive else not plain:
        kind = f"positive {bound.kind}" if positive else f"non-negative {bound.kind}"
        raise ParamError(
            bound.name,
            f"-e {bound.name}={value} is not a {kind}",
            f"pass e.g. -e {bound.name}={example}",
        )
    if not bound.fits(number):
        raise ParamError(
            bound.name,
            f"-e {bound.name}={value} is out of range",
            f"pass {bound.article} {bound.kind} {bound.range_text()}"
            f", e.g. -e {bound.name}={example}",
        )
    return number


def _workers(value: str, worker_groups: Mapping[str, int] | None) -> int:
    count = _parse(value, integer=True)
    if not worker_groups:
        if count < 1:
            raise ParamError(
                "workers", f"-e workers={value} is not a positive integer", "pass e.g. -e workers=1"
            )
        if math.isinf(count):
            raise ParamError(
                "workers", f"-e workers={value} is out of range", "pass e.g. -e workers=1"
            )
        return int(count)
    most = min(worker_groups.values())
    if 1 <= count <= most:
        return int(count)
    names = list(worker_groups)
    sizes = ", ".join(
        f"{name} has {size} hosts" if i == 0 else f"{name} {size}"
        for i, (name, size) in enumerate(worker_groups.items())
    )
    groups = "both groups" if len(names) == 2 else "each of those groups"
    problem = "more than this inventory has" if count >= 1 else "not a positive integer"
    fix = (
        f"pass -e workers=1..{most} or add hosts to {groups}"
        if most > 0
        else f"add hosts to {groups} or drop -e workers"
    )
    raise ParamError("workers", f"-e workers={value} is {problem} ({sizes})", fix)


def resolve(
    phases: PhaseTable,
    phase: str = DEFAULT_PHASE,
    overrides: Mapping[str, str] | None = None,
    *,
    available_targets: Sequence[str] | None = None,
    worker_groups: Mapping[str, int] | None = None,
    results_root: Path | None = None,
    inventory: str | None = None,
) -> RunParams:
    """Check and apply the overrides to the phase; the first problem raises ParamError.

    `overrides` are -e values as strings (names from OVERRIDABLE). `available_targets` are
    the targets -e target may name (besides `all`); None skips that check.
    `worker_groups` maps each worker group to its host count; -e workers may not exceed the
    smallest (None: only its form is checked).
    Phase soak: each target's rate (benchlab.soak.plan: -e soak_rate, or the soak fraction x
    the newest complete search of `inventory` under `results_root`); with the targets known,
    a target without one raises.
    """
    given = {name: str(value) for name, value in (overrides or {}).items()}
    unknown = sorted(set(given) - set(OVERRIDABLE))
    if unknown:
        raise ParamError(
            unknown[0],
            f"'{unknown[0]}' is not a run parameter",
            f"use one of {', '.join(OVERRIDABLE)}",
        )
    phase = str(phase)
    if phase not in phases.phases:
        raise ParamError(
            "phase",
            f"phase '{phase}' is unknown",
            f"use -e phase=<one of {', '.join(phases.names())}> (defined in {PHASES_FILE})",
        )
    soak = phase == SOAK_PHASE
    for bound in SOAK_BOUNDS:
        if bound.name in given and not soak:
            raise ParamError(
                bound.name,
                f"-e {bound.name} applies to -e phase={SOAK_PHASE} only",
                f"drop it or pass -e phase={SOAK_PHASE}",
            )
    if soak and "batch_size" in given:
        raise ParamError(
            "batch_size",
            f"-e batch_size does not apply to phase {SOAK_PHASE}: each target's batch is its "
            "rate x interval_s",
            "drop it; set the rate with -e soak_rate=<records/s> or -e soak_fraction=<0-1>",
        )
    load: dict[str, int | float] = {}
    for bound in BOUNDS:
        if bound.name in given:
            example = phases.example(phase, bound)
            load[bound.key] = _override_number(bound, given[bound.name], example)
    for bound in BOUNDS:
        if bound.key not in load and not (soak and bound.name == "batch_size"):
            load[bound.key] = phases.value(phase, bound)
    if "warmup" not in given:
        load["warmup_s"] = min(load["warmup_s"], WARMUP_SHARE_MAX * load["duration_s"])
    elif load["warmup_s"] >= load["duration_s"]:
        raise ParamError(
            "warmup",
            f"-e warmup={given['warmup']} is not shorter than the duration "
            f"({_plain(load['duration_s'])} s)",
            "pass a shorter -e warmup or a longer -e duration",
        )
    method = given.get("pg_write_method", PG_DEFAULT_METHOD)
    if method not in PG_METHODS:
        raise ParamError(
            "pg_write_method",
            f"-e pg_write_method={method} is unknown",
            f"use one of {', '.join(PG_METHODS)}",
        )
    target = given.get("target", DEFAULT_TARGET)
    targets: list[str] = []
    if available_targets is not None:
        targets = _targets(target, available_targets)
    workers = _workers(given["workers"], worker_groups) if "workers" in given else None
    soak_plan: dict[str, Any] | None = None
    if soak:
        soak_plan = _soak_plan(phases, given, targets, results_root, inventory)
        rates = [r["rate_per_s"] for r in soak_plan["rates"].values()]
        # the run configuration's load.batch_size: the first target's (each has its own)
        load["batch_size"] = max(1, round((rates[0] if rates else 1.0) * load["interval_s"]))
    return RunParams(
        phase=phase,
        duration_s=float(load["duration_s"]),
        batch_size=int(load["batch_size"]),
        interval_s=float(load["interval_s"]),
        record_bytes=int(load["record_bytes"]),
        warmup_s=float(load["warmup_s"]),
        pg_write_method=method,
        target=target,
        targets=targets,
        workers=workers,
        overrides=given,
        soak=soak_plan,
    )


def _targets(target: str, available: Sequence[str]) -> list[str]:
    """-e target: `all` (every available target), one name, or a comma-separated list run in
    the order given (e.g. postgresql,pipeline)."""
    if target == DEFAULT_TARGET:
        return list(available)
    names = target.split(",")
    for name in names:
        if name not in available:
            raise ParamError(
                "target",
                f"-e target={name or target} is not available",
                f"use one of {', '.join(available)} or {DEFAULT_TARGET}",
            )
    if len(set(names)) < len(names):
        raise ParamError(
            "target", f"-e target={target} names a target twice", "name each target once"
        )
    return names


def _soak_plan(
    phases: PhaseTable,
    given: Mapping[str, str],
    targets: Sequence[str],
    results_root: Path | None,
    inventory: str | None,
) -> dict[str, Any]:
    """The soak's fraction and each target's rate (benchlab.soak.plan)."""
    from benchlab.soak.plan import NoSoakRate, soak_rates

    fraction_bound, rate_bound = SOAK_BOUNDS
    fraction = (
        _override_number(fraction_bound, given["soak_fraction"], "0.7")
        if "soak_fraction" in given
        else phases.value(SOAK_PHASE, fraction_bound)
    )
    rate = (
        _override_number(rate_bound, given["soak_rate"], "2000") if "soak_rate" in given else None
    )
    try:
        rates = soak_rates(targets, float(fraction), rate, results_root, inventory)
    except NoSoakRate as exc:
        raise ParamError("soak_rate", exc.problem, exc.fix) from exc
    return {"fraction": float(fraction), "rate_per_s": rate, "rates": rates}


# -- command line ---------------------------------------------------------------------------
def _pairs(items: Sequence[str], option: str) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise ParamError(
                option, f"{option} {item!r} is not name=value", f"e.g. {option} duration=60"
            )
        out.append((name, value))
    return out


def _worker_groups(items: Sequence[str]) -> dict[str, int] | None:
    if not items:
        return None
    groups: dict[str, int] = {}
    for name, value in _pairs(items, "--worker-group"):
        if not _INTEGER.fullmatch(value):
            raise ParamError(
                "--worker-group",
                f"--worker-group {name}={value} is not a count",
                f"e.g. --worker-group {name}=2",
            )
        groups[name] = int(value)
    return groups


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m benchlab.runparams",
        description="check a phase and its -e overrides; print the resolved parameters as JSON",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("check", help="validate and resolve (exit 2 with one line on error)")
    p.add_argument("--repo", default=".", help="kit checkout holding " + PHASES_FILE)
    p.add_argument("--phase", default=DEFAULT_PHASE)
    p.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="an -e override; NAME one of " + ", ".join(OVERRIDABLE),
    )
    p.add_argument("--targets", help="comma-separated targets -e target may name (besides all)")
    p.add_argument(
        "--results-root",
        help="the controller's results/ (phase soak: where the searches that give its rates are)",
    )
    p.add_argument("--inventory", help="the inventory's name (phase soak: its searches only)")
    p.add_argument(
        "--worker-group",
        action="append",
        default=[],
        metavar="GROUP=HOSTS",
        help="a worker group and its host count (bounds -e workers)",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        overrides = dict(_pairs(args.set, "--set"))
        available = None if args.targets is None else [t for t in args.targets.split(",") if t]
        params = resolve(
            load_phases(Path(args.repo)),
            args.phase,
            overrides,
            available_targets=available,
            worker_groups=_worker_groups(args.worker_group),
            results_root=Path(args.results_root) if args.results_root else None,
            inventory=args.inventory,
        )
    except ParamError as exc:
        # One line whatever the value held: preflight fails with the last line of stderr.
        print(str(exc).replace("\r", "\\r").replace("\n", "\\n"), file=sys.stderr)
        return EXIT_BAD_INPUT
    print(json.dumps(params.to_json(), sort_keys=True))
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
