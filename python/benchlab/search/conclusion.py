"""The answer, from the search's trials (docs/architecture.md, "Sustainable throughput").

Per system: the highest sustainable rate (records/s, /min, per core and per GiB of the
limits in force), where it failed and how, CPU at the failing rate. Across systems: the ratio,
the crossover and the recommendation, by one rule: for an offered load, recommend the first
system in run order (the targets table's order: the simplest first) that sustains it; the
crossover is each load above which the recommendation changes. Only candidate systems
(Target.candidate) are compared; a component's bound (Kafka alone) is measured beside
them. Whether the client set the ceiling: from the first failing rate's trial (judge.py,
TrialVerdict.limit).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from benchlab import targets as registry
from benchlab.config import RunConfig
from benchlab.report import target_limits
from benchlab.search.judge import CLIENT

GIB = 1024**3
_BOUND = re.compile(r"^\s*([<>])\s*([0-9][0-9,]*(?:\.[0-9]+)?)")


def system_rows(
    config: RunConfig, targets: Mapping[str, Mapping[str, Any]]
) -> list[dict[str, Any]]:
    rows = []
    for target in config.targets:
        found = targets.get(target.name)
        if found is None:
            continue
        rate = found.get("sustainable_per_s")
        cpu, memory = target_limits(config, target.services)
        gib = memory / GIB if memory else None
        failure = found.get("failure") or {}
        rows.append(
            {
                "target": target.name,
                "candidate": registry.get(target.type).candidate,
                "sustainable_per_s": rate,
                "sustainable_per_min": rate * 60 if rate is not None else None,
                "cpu": cpu,
                "memory_gib": gib,
                "per_core": rate / cpu if rate is not None and cpu else None,
                "per_gib": rate / gib if rate is not None and gib else None,
                "median_per_s": found.get("best_stored_median_per_s"),
                "spread_per_s": found.get("best_stored_spread_per_s"),
                "runs": f"{found.get('best_runs_passed', 0)} of {found.get('best_runs', 0)}",
                "p99_ms": found.get("best_p99_ms"),
                "failed_at_per_s": found.get("first_failing_per_s"),
                "failure_modes": [f"{m['mode']} ({m['detail']})" for m in failure.get("modes", [])],
                "causes": failure.get("causes", []),
                "recovery_s": failure.get("recovery_s"),
                "cpu_at_failure": cpu_use(found.get("resources_at_failure") or {}),
                "writers": found.get("writers"),
                "client": client_ceiling(found),
                # higher rates that passed in the search but not in most of their runs
                "not_reproduced_per_s": found.get("not_reproduced_per_s") or [],
            }
        )
    return rows


def cpu_use(resources: Mapping[str, Any]) -> str | None:
    parts = []
    for service, fig in sorted(resources.items()):
        cores, limit = fig.get("cpu_cores"), fig.get("cpu_limit_cores")
        if cores is None:
            continue
        share = f" = {cores / limit:.0%} of {limit:.2f}" if limit else ""
        throttled = fig.get("throttled_ratio")
        thr = f", throttled in {throttled:.0%} of periods" if throttled is not None else ""
        parts.append(f"{service} {cores:.2f} cores{share}{thr}")
    return "; ".join(parts) or None


def generator_use(gen: Mapping[str, Any] | None) -> str | None:
    """The generator's own CPU and batches in flight (load.json's `generator`)."""
    if not gen or gen.get("cpu_cores_mean") is None:
        return None
    return (
        f"generator {gen['cpu_cores_mean']:.2f} of {gen.get('cores_available')} cores, "
        f"peak batches in flight per writer {gen.get('in_flight_peak')}"
    )


def client_ceiling(found: Mapping[str, Any]) -> str | None:
    """Was the client the ceiling? None for a search.json from before writers were judged."""
    failure = found.get("failure")
    if not failure:
        return "no rate failed: the ceiling was not reached"
    if failure.get("limit") is None:
        return None
    rate, writers = failure["rate"], failure.get("writers")
    use = generator_use(failure.get("generator"))
    at = f"at {rate:,.0f} records/s with {writers} writers" + (f" ({use})" if use else "")
    if failure["limit"] == CLIENT:
        best = found.get("sustainable_per_s")
        floor = f"; the server sustains at least {best:,.0f} records/s" if best else ""
        return (
            f"the client was the ceiling: {at} the generator was still behind (search.max_writers) "
            f"while the target's services had CPU to spare{floor}"
        )
    return f"the client was not the ceiling: {at} the failure was not the generator's"


def crossover(rows: list[dict[str, Any]], highest_tried: float | None) -> dict[str, Any]:
    """The recommendation per load band, by the rule in this module's docstring."""
    candidates = [r for r in rows if r.get("candidate", True)]
    measured = [r for r in candidates if r["sustainable_per_s"]]
    bands: list[dict[str, Any]] = []
    low = 0.0
    while True:
        holding = [r for r in measured if r["sustainable_per_s"] > low]
        if not holding:
            break
        pick = holding[0]
        high = pick["sustainable_per_s"]
        bands.append({"from_per_s": low, "to_per_s": high, "recommend": pick["target"]})
        low = high
    flips = [b["from_per_s"] for b in bands[1:]]
    if len(bands) > 1:
        sentence = "; ".join(
            f"{b['recommend']} from {b['from_per_s']:,.0f} to {b['to_per_s']:,.0f} records/s"
            for b in bands
        )
        at = ", ".join(f"{f:,.0f}" for f in flips)
        text = f"The recommendation flips at {at} records/s: {sentence}."
    elif bands:
        top = max((r["failed_at_per_s"] or 0 for r in candidates), default=0) or highest_tried
        text = (
            f"No crossover up to {bands[0]['to_per_s']:,.0f} records/s: {bands[0]['recommend']} "
            f"sustains every load another system sustains"
            + (f" (highest load tried {top:,.0f} records/s)." if top else ".")
        )
    else:
        text = "No system sustained the lowest rate tried: no recommendation."
    small = bands[0]["recommend"] if bands else None
    large = max(measured, key=lambda r: r["sustainable_per_s"])["target"] if measured else None
    return {"bands": bands, "flips_per_s": flips, "text": text, "small": small, "large": large}


def ratio(rows: list[dict[str, Any]]) -> dict[str, Any] | None:
    measured = [r for r in rows if r["sustainable_per_s"] and r.get("candidate", True)]
    if len(measured) < 2:
        return None
    base = measured[0]
    return {
        "base": base["target"],
        "others": [
            {"target": r["target"], "ratio": r["sustainable_per_s"] / base["sustainable_per_s"]}
            for r in measured[1:]
        ],
    }


def hypothesis_rows(config: RunConfig, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each expectation of SPEC.md section 7 (the search's criteria phase) held or not."""
    by_name = {r["target"]: r for r in rows}
    out = []
    for target in config.targets:
        row = by_name.get(target.name)
        if row is None:
            continue
        for key, expected in target.hypothesis.items():
            out.append(
                {
                    "target": target.name,
                    "what": key,
                    "expected": expected,
                    **judge_expectation(key, expected, row),
                }
            )
    return out


def judge_expectation(key: str, expected: Any, row: Mapping[str, Any]) -> dict[str, Any]:
    if key == "throughput_per_s":
        rate = row["sustainable_per_s"]
        if rate is None:
            return {"measured": "none sustained", "held": "not held"}
        held = rate >= float(expected)
        return {
            "measured": f"{rate:,.0f} records/s sustained",
            "held": "held" if held else "not held",
        }
    if key == "latency_ms":
        p99 = row.get("p99_ms")
        bound = _BOUND.match(str(expected))
        if p99 is None or bound is None:
            return {"measured": "n/a", "held": "not judged"}
        limit = float(bound.group(2).replace(",", ""))
        held = p99 < limit if bound.group(1) == "<" else p99 > limit
        return {
            "measured": f"p99 {p99:,.0f} ms at the sustainable rate",
            "held": "held" if held else "not held",
        }
    return {"measured": "n/a", "held": "not judged by the search"}


def conclusion(config: RunConfig, doc: Mapping[str, Any]) -> dict[str, Any]:
    rows = system_rows(config, doc.get("targets") or {})
    compared = {r["target"] for r in rows if r["candidate"]}
    tried = [t["rate"] for t in doc.get("trials") or [] if t["target"] in compared]
    return {
        "systems": rows,
        "ratio": ratio(rows),
        "crossover": crossover(rows, max(tried, default=None)),
        "hypothesis": hypothesis_rows(config, rows),
    }
