"""What a system under test is to the kit: a :class:`Target` and its run-time session.

A target package (``benchlab/targets/<name>/``) defines one subclass of :class:`Target` as
``TARGET``. The kit asks it for:
- its typed settings, parsed from the run configuration's entry for it (``parse``);
- the sink the load generator writes through (a :class:`benchlab.sinks.SinkSpec`);
- a :class:`TargetSession` for one run: what starts before the load, what happens after
  it (drain, figures), and the audit;
- whether its store promises each record exactly once (the data verdict), and the prose
  the report prints about it (:class:`Description`).

Which inventory groups a target needs, its limited services, criteria and hypothesis per
phase, and the settings Ansible knows (ports, topic, write method) are a row of
group_vars/all/targets.yml; bench.yml renders that row into the run configuration.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from benchlab.criteria import Criteria
from benchlab.fields import ConfigError
from benchlab.sinks.base import SinkSpec

if TYPE_CHECKING:
    from benchlab.loadgen.runner import TargetRunResult

_PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")


@dataclass(frozen=True)
class Lab:
    """Addresses of the inventory's groups, first host first (the run config's ``lab``).

    A string setting may name a group as ``{group}``: it becomes the address of the group's
    first host, so targets.yml says ``host: "{postgresql}"`` instead of Jinja that fails on
    an inventory without that group.
    """

    groups: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    @classmethod
    def parse(cls, data: Any) -> Lab:
        if data is None:
            return cls()
        groups = data.get("groups") if isinstance(data, dict) else None
        if not isinstance(groups, dict) or not all(
            isinstance(v, list) and all(isinstance(a, str) for a in v) for v in groups.values()
        ):
            raise ConfigError(
                "lab.groups",
                "must map inventory group -> list of addresses",
                'e.g. {"groups": {"postgresql": ["10.0.0.5"]}}',
            )
        return cls({g: tuple(v) for g, v in groups.items()})

    def resolve(self, value: Any, prefix: str) -> Any:
        """`value` with every ``{group}`` in its strings replaced by the group's address."""
        if isinstance(value, dict):
            return {k: self.resolve(v, f"{prefix}.{k}") for k, v in value.items()}
        if isinstance(value, list):
            return [self.resolve(v, f"{prefix}[{i}]") for i, v in enumerate(value)]
        if not isinstance(value, str):
            return value

        def address(match: re.Match[str]) -> str:
            hosts = self.groups.get(match.group(1))
            if not hosts:
                raise ConfigError(
                    prefix,
                    f"needs inventory group '{match.group(1)}', which has no host",
                    f"add a '{match.group(1)}' group to the inventory, or run another target",
                )
            return hosts[0]

        return _PLACEHOLDER.sub(address, value)


@dataclass(frozen=True)
class TargetConfig:
    """One system under test in a run, parsed by its package."""

    name: str  # the column in the report (unique in a run)
    type: str  # the package under benchlab.targets
    sink: SinkSpec
    criteria: Criteria | None
    hypothesis: dict[str, Any]
    services: tuple[str, ...]  # limited services whose figures belong to it
    settings: Any = None  # the package's own typed settings beyond its sink


@dataclass(frozen=True)
class Description:
    """What the report says about a target (its part of the methods section)."""

    title: str  # e.g. "PostgreSQL"
    acknowledgement: str  # what an acknowledged batch means
    throughput: str  # what the throughput row counts
    audit: str  # how the audit finds the records


@dataclass
class AfterLoad:
    """What a session adds once the load has stopped."""

    figures: dict[str, Any] = field(default_factory=dict)  # merged into the load summary
    failed: str | None = None  # why the target failed (the kit's fault, not the data's)


class TargetNotReady(RuntimeError):
    """What the target needs before the load (a job, a topic) did not start."""


class TargetSession:
    """A target's part of one run. The default: nothing around the load, then the audit."""

    def __init__(self, target: Target, config: TargetConfig, run_id: str, work_dir: Path):
        self.target = target
        self.config = config
        self.run_id = run_id
        self.work_dir = work_dir

    def start(self, should_stop: Callable[[], bool]) -> None:
        """Before the load; raise TargetNotReady when the target cannot be loaded."""

    def after_load(self, result: TargetRunResult, should_stop: Callable[[], bool]) -> AfterLoad:
        return AfterLoad()

    def stored_so_far(self, result: TargetRunResult) -> int | None:
        """Records of the run the store holds by now, for the live progress line (cheap: it
        runs every few seconds). By default what was acknowledged: a store that acknowledges
        after it commits (PostgreSQL's COMMIT, Kafka's acks=all) holds that much."""
        return result.records_acked

    def abort(self) -> None:
        """Stop what start() started, at once: the load or after_load raised (an error, a
        third Ctrl-C). An interrupted run (should_stop set) ends through after_load instead."""

    def audit(self, result: TargetRunResult) -> dict[str, Any]:
        """The audit as a dict (benchlab.audit.AuditResult.as_dict), or {"error": why}."""
        try:
            return self.audit_run(result)
        except Exception as exc:
            error = f"audit failed: {type(exc).__name__}: {exc}"
            return {"target": self.config.name, "error": error}

    def audit_run(self, result: TargetRunResult) -> dict[str, Any]:
        """What the target's audit says of this run (a session with its own state overrides)."""
        return self.target.audit(self.config, self.run_id, result)


class Target(ABC):
    """A system under test. Subclass it in ``benchlab/targets/<name>/__init__.py`` as TARGET."""

    name: ClassVar[str]
    description: ClassVar[Description]
    # The store keeps each acknowledged record once: duplicates FAIL the data verdict.
    exactly_once: ClassVar[bool] = True
    # The keys of its run-config entry besides name/type/criteria/hypothesis/services.
    keys: ClassVar[tuple[str, ...]] = ("sink",)
    # A system a user would choose to store the records in: the search's ratio, crossover
    # and recommendation compare these; others (a component's bound) are measured beside.
    candidate: ClassVar[bool] = True
    # "write": a store the write suite loads with records through a sink (bench.yml);
    # "request_response": an HTTP backend the backend suite loads with requests (backend.yml,
    # benchlab.targets.request_response, benchlab.httpsuite).
    kind: ClassVar[str] = "write"

    @abstractmethod
    def parse(self, entry: dict[str, Any], prefix: str) -> tuple[SinkSpec, Any]:
        """The sink spec and the package's own settings from its run-config entry.

        ``{group}`` placeholders are resolved already. Raise ConfigError on a bad value.
        """

    def audit(self, config: TargetConfig, run_id: str, result: TargetRunResult) -> dict[str, Any]:
        """Compare what the store holds for the run with what was acknowledged
        (``result.acked``; ``result.t0_wall`` is when the load started)."""
        return {"target": config.name, "skipped": f"{self.name} keeps nothing to audit"}

    def session(self, config: TargetConfig, run_id: str, work_dir: Path) -> TargetSession:
        return TargetSession(self, config, run_id, work_dir)

    def preflight(self, config: TargetConfig) -> None:
        """Checks before anything changes: secrets readable, store reachable (SinkUnreachable)."""
        sink = config.sink.make(config.name)
        sink.open()
        sink.close()
