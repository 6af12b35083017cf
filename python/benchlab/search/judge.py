"""Is a trial's rate sustainable? Each rule on the steady window (after the warm-up).

A rate is sustainable when all hold (docs/architecture.md, "Sustainable throughput"):
- stored >= min_stored_ratio x offered (records stored per second in the measured window:
  acknowledged ones for a store that acknowledges on commit; for the pipeline, Kafka's
  acknowledgements minus the backlog's growth at the micro-batch commits, known to one
  second of load over the window, which the bound allows);
- the generator kept up: steady batches sent late <= max_late_ratio;
- the backlog does not trend upward: the least-squares slope over the window, times its
  length, stays under the allowance (records owed for the pipeline; due-to-commit latency
  for a synchronous store);
- the audit found nothing lost (and completed);
- the p99 criterion of the configured phase holds (on the stored latency);
- no batch failed;
- the kit ran the target (no "kit failure").
Resource causes (CPU throttled at the quota, OOM kills) are named beside the failed rules.

Whose limit a failed trial met (TrialVerdict.limit): the client's when the generator was
behind schedule, every other failed rule is one that late sends cause by themselves, and no
service of the target was at its CPU or OOM-killed; the server's (or the kit's) otherwise.
The search runs a client-limited rate again with more writers; at max_writers the failure
is "client limit".
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from benchlab.search.settings import SearchSettings
from benchlab.stats import slope as least_squares_slope
from benchlab.steady import stored_view

# Throttled in more than this share of CFS periods: "CPU throttled at the quota".
THROTTLED_SATURATED = 0.25
# Using this share of its CPU limit or more, a service is at its CPU (quota accounting and a
# 15 s rate window leave a little short of 100 %).
CPU_SATURATED = 0.9
# What a generator behind schedule causes by itself: late sends are stored late and, in the
# window, below offered; their due-to-commit latency rises.
CLIENT_SYMPTOMS = frozenset(
    {"generator behind", "stored below offered", "backlog growing", "latency over the criterion"}
)
CLIENT = "client"
SERVER = "server"
AUDIT_INCOMPLETE = "audit incomplete"


def reproduced(runs: int, passed: int) -> bool:
    """Most runs of a rate passed: a rate that one run in three holds is not sustainable.
    No runs: nothing to contradict it."""
    return runs == 0 or 2 * passed > runs


def slope(points: Sequence[tuple[float, float]]) -> float | None:
    """The backlog's trend: a least-squares slope over at least 3 points."""
    return least_squares_slope(points, min_points=3)


@dataclass
class TrialVerdict:
    rate: float  # offered records/s
    sustainable: bool
    stored_per_s: float
    p99_ms: float | None
    late_ratio: float | None
    backlog_growth: float | None
    backlog_unit: str
    lost: int | None
    failures: list[dict[str, str]] = field(default_factory=list)  # {"mode", "detail"}
    causes: list[str] = field(default_factory=list)  # resource causes seen in the window
    limit: str | None = None  # a failure's side: CLIENT or SERVER (module docstring)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def judge(
    rate: float,
    figures: Mapping[str, Any],
    audit: Mapping[str, Any] | None,
    settings: SearchSettings,
    max_p99_ms: float | None,
    resources: Mapping[str, Any] | None = None,
    *,
    kit_failed: bool = False,
) -> TrialVerdict:
    view = stored_view(figures)
    steady = figures.get("steady") or {}
    window = float(steady.get("window_s") or settings.measure_s)
    failures: list[dict[str, str]] = []

    def fail(mode: str, detail: str) -> None:
        failures.append({"mode": mode, "detail": detail})

    # A stored rate read from the backlog at micro-batch commits (records) is known to one
    # second of load over the window (per-second acknowledgements, trigger jitter).
    resolution = rate / window if view.backlog_unit == "records" else 0.0
    needed = settings.min_stored_ratio * rate - resolution
    if view.stored_per_s < needed:
        fail(
            "stored below offered",
            f"stored {view.stored_per_s:,.0f}/s = {view.stored_per_s / rate:.1%} of offered "
            f"{rate:,.0f}/s (needs {needed / rate:.1%})",
        )
    batches = int(steady.get("batches") or 0)
    late_ratio = (int(steady.get("batches_late") or 0) / batches) if batches else None
    if late_ratio is None or late_ratio > settings.max_late_ratio:
        shown = "no steady batch sent" if late_ratio is None else f"{late_ratio:.1%}"
        fail("generator behind", f"late batches {shown} (allowed {settings.max_late_ratio:.0%})")
    growth = None
    rise = slope(view.backlog)
    if rise is not None:
        growth = rise * window
        if view.backlog_unit == "records":
            allowed = settings.backlog_growth_ratio * rate * window + rate
        else:
            allowed = max(settings.latency_growth_ms, 0.5 * float(view.p50_ms or 0.0))
        if growth > allowed:
            fail(
                "backlog growing",
                f"+{growth:,.0f} {view.backlog_unit} over the {window:.0f} s window "
                f"(allowed {allowed:,.0f})",
            )
    lost = None
    if not audit or audit.get("error") or audit.get("lost") is None:
        reason = (audit or {}).get("error") or "no audit"
        if not (audit or {}).get("skipped"):
            fail(AUDIT_INCOMPLETE, str(reason))
    else:
        lost = int(audit["lost"])
        if lost > 0:
            fail("data lost", f"{lost:,} acknowledged records missing")
    if max_p99_ms is not None:
        if view.p99_ms is None:
            fail("latency over the criterion", f"no steady {view.latency} measured")
        elif view.p99_ms > max_p99_ms:
            fail(
                "latency over the criterion",
                f"p99 {view.p99_ms:,.0f} ms > {max_p99_ms:,.0f} ms ({view.latency})",
            )
    errors = int(steady.get("batches_failed") or 0)
    if errors:
        kinds = figures.get("errors") or {}
        fail(
            "errors",
            f"{errors} steady batches failed ({', '.join(f'{k}: {v}' for k, v in kinds.items())})",
        )
    if kit_failed:
        fail("kit failure", "the target failed to run")
    causes = resource_causes(resources or {})
    limit = failure_side(failures, resources or {})
    writers = figures.get("processes")
    if limit == CLIENT and writers is not None and int(writers) >= settings.max_writers:
        failures.insert(0, {"mode": "client limit", "detail": client_limit_detail(figures)})
    return TrialVerdict(
        rate=rate,
        sustainable=not failures,
        stored_per_s=view.stored_per_s,
        p99_ms=view.p99_ms,
        late_ratio=late_ratio,
        backlog_growth=growth,
        backlog_unit=view.backlog_unit,
        lost=lost,
        failures=failures,
        causes=causes,
        limit=limit,
    )


def failure_side(failures: Sequence[Mapping[str, str]], resources: Mapping[str, Any]) -> str | None:
    """CLIENT, SERVER or None (passed), by the rule in the module docstring."""
    if not failures:
        return None
    modes = {f["mode"] for f in failures}
    behind = "generator behind" in modes and modes <= CLIENT_SYMPTOMS
    return CLIENT if behind and not saturated_services(resources) else SERVER


def saturated_services(resources: Mapping[str, Any]) -> list[str]:
    """The services at their CPU (throttled in more than THROTTLED_SATURATED of periods, or
    using CPU_SATURATED of the limit) or OOM-killed in the window."""
    out = []
    for service, fig in sorted(resources.items()):
        throttled = fig.get("throttled_ratio")
        cores, limit = fig.get("cpu_cores"), fig.get("cpu_limit_cores")
        at_cpu = (throttled is not None and throttled > THROTTLED_SATURATED) or (
            cores is not None and bool(limit) and cores >= CPU_SATURATED * limit
        )
        if at_cpu or fig.get("oom_kills"):
            out.append(service)
    return out


def client_limit_detail(figures: Mapping[str, Any]) -> str:
    gen = figures.get("generator") or {}
    cpu, cores = gen.get("cpu_cores_mean"), gen.get("cores_available")
    use = f"; the generator used {cpu:.2f} of {cores} cores" if cpu is not None and cores else ""
    return (
        f"the generator was still behind with {figures.get('processes')} writers, the most "
        f"search.max_writers allows, while the target's services had CPU to spare{use}"
    )


def resource_causes(resources: Mapping[str, Any]) -> list[str]:
    """Named causes from the target's services in the window: {service: {throttled_ratio,
    cpu_cores, cpu_limit_cores, oom_kills}}."""
    out = []
    for service, fig in sorted(resources.items()):
        throttled = fig.get("throttled_ratio")
        if throttled is not None and throttled > THROTTLED_SATURATED:
            cores, limit = fig.get("cpu_cores"), fig.get("cpu_limit_cores")
            use = f", {cores:.2f} of {limit:.2f} cores" if cores is not None and limit else ""
            out.append(f"CPU throttled at the quota: {service} in {throttled:.0%} of periods{use}")
        if fig.get("oom_kills"):
            out.append(f"OOM kill: {service} x{fig['oom_kills']:.0f}")
    return out


def data_failures(
    trials: Sequence[Mapping[str, Any]], target: str | None = None
) -> list[Mapping[str, Any]]:
    """The search's data verdict: trials (search.json's, of `target` or all) that lost
    acknowledged records or whose audit did not complete. Any one FAILs the search's data."""
    return [
        t
        for t in trials
        if (target is None or t.get("target") == target)
        and (
            ((t.get("verdict") or {}).get("lost") or 0) > 0
            or any(
                f.get("mode") == AUDIT_INCOMPLETE
                for f in (t.get("verdict") or {}).get("failures") or []
            )
        )
    ]
