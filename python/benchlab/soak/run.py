"""`benchlab soak`: each target, one after the other, held at its soak rate for the duration.

Each target's load is `benchlab.execute.execute` of a one-target configuration whose batch is
the target's rate x interval_s (the rate from preflight: benchlab.soak.plan), written to
<soak dir>/runs/<soak id>-<target>/ like any run (audit, raw results, its report.md). Then
its figures (analysis.py): per limited service the working set from Prometheus after the
warm-up (range query, `step_s`), and the acknowledgement latency per window from the load's
own per-batch record. soak.json holds them, soak.md and soak.png show them (report.py).
"""

from __future__ import annotations

import csv
import dataclasses
import io
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from benchlab.config import RunConfig
from benchlab.execute import RunOutcome, execute
from benchlab.progress import FiguresFn
from benchlab.results import (
    PARTIAL_MARKER,
    check_new_run_dir,
    utc_iso,
    write_json,
    write_text_atomic,
)
from benchlab.soak import analysis
from benchlab.soak.settings import SoakSettings
from benchlab.targets import TargetConfig

SOAK_FILE = "soak.json"
RUNS_DIR = "runs"
WORKING_SET = "benchlab_cgroup_memory_working_set_bytes"
LIMIT = "benchlab_cgroup_memory_limit_bytes"
# counters whose rise in the window resets a working set (the trend then measures no leak)
RESETS = {
    "oom_kills": "benchlab_cgroup_oom_kills_total",
    "restarts": "benchlab_service_restarts_total",
}

Say = Callable[[str], None]
# (query, start, end, step seconds) -> Prometheus range result; raises on failure
RangeQuery = Callable[[str, float, float, float], list[dict[str, Any]]]


def target_config(
    config: RunConfig, target: TargetConfig, batch_size: int, writers: int | None = None
) -> RunConfig:
    """The one-target run of a soak target at its own batch size, with `writers` processes
    when given (the search's), else the run's own (raw too: its report reads the
    configuration back from run.json)."""
    run_id = f"{config.run_id}-{target.name}"
    processes = int(writers) if writers else config.load.processes
    load = dataclasses.replace(config.load, batch_size=batch_size, processes=processes)
    raw = dict(config.raw)
    raw["run_id"] = run_id
    raw["load"] = {**(raw.get("load") or {}), "batch_size": batch_size, "processes": processes}
    raw["targets"] = [
        t for t in raw.get("targets") or [] if isinstance(t, dict) and t.get("name") == target.name
    ]
    return dataclasses.replace(config, run_id=run_id, load=load, targets=(target,), raw=raw)


def prometheus_range(url: str) -> RangeQuery:
    from benchlab.metrics import make_client

    client = make_client(url, timeout_s=30)

    def query(q: str, start: float, end: float, step: float) -> list[dict[str, Any]]:
        return client.custom_query_range(
            q,
            datetime.fromtimestamp(start, tz=UTC),
            datetime.fromtimestamp(end, tz=UTC),
            f"{max(1, round(step))}s",
        )

    return query


def memory_figures(
    config: RunConfig,
    target: TargetConfig,
    settings: SoakSettings,
    start: float,
    end: float,
    query: RangeQuery | None,
) -> tuple[dict[str, Any], list[str]]:
    """service@host -> memory_trend figures (with the series as [[seconds, MiB], ...]); notes."""
    notes: list[str] = []
    out: dict[str, Any] = {}
    if not target.services:
        return out, [f"{target.name}: no limited service: no memory trend"]
    if query is None:
        return out, ["no prometheus_url in the run configuration: no memory trend"]
    rule = analysis.leak_rule(settings)
    for service in target.services:
        try:
            series = query(f'{WORKING_SET}{{service="{service}"}}', start, end, settings.step_s)
            limits = query(f'{LIMIT}{{service="{service}"}}', start, end, settings.step_s)
        except Exception as exc:  # Prometheus trouble is a note, never a failed soak
            first = str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
            notes.append(f"{service}: Prometheus range query failed ({first})")
            continue
        if not series:
            notes.append(f"{service}: no {WORKING_SET} series in the window")
        limit_by_host = {
            s["metric"].get("host", ""): float(s["values"][-1][1])
            for s in limits
            if s.get("values")
        }
        configured = (config.services.get(service) or {}).get("memory_limit_bytes")
        resets = counter_rises(query, service, start, end, settings.step_s, notes)
        for s in series:
            host = s["metric"].get("host", "")
            points = [(float(t), float(v)) for t, v in s.get("values", [])]
            limit = limit_by_host.get(host) or (float(configured) if configured else None)
            trend = analysis.memory_trend(points, start, end, limit, rule)
            trend["service"] = service
            trend["host"] = host
            for name, by_host in resets.items():
                trend[name] = by_host.get(host)
            if any(trend.get(name) for name in RESETS):
                notes.append(
                    f"{service}@{host}: OOM kills {trend.get('oom_kills')}, restarts "
                    f"{trend.get('restarts')} in the window: the working set restarted, so its "
                    "trend is not a measure of a leak (the kill itself may be one)"
                )
            trend["series"] = [
                [round(t - start, 3), round(v / analysis.MIB, 3)] for t, v in sorted(points)
            ]
            out[f"{service}@{host}" if host else service] = trend
    return out, notes


def counter_rises(
    query: RangeQuery, service: str, start: float, end: float, step: float, notes: list[str]
) -> dict[str, dict[str, float]]:
    """OOM kills and restarts of the service in [start, end], per host (last - first sample)."""
    out: dict[str, dict[str, float]] = {}
    for name, metric in RESETS.items():
        try:
            series = query(f'{metric}{{service="{service}"}}', start, end, step)
        except Exception as exc:
            notes.append(f"{service}: {name} not read ({str(exc)[:120]})")
            continue
        out[name] = {
            s["metric"].get("host", ""): float(s["values"][-1][1]) - float(s["values"][0][1])
            for s in series
            if s.get("values")
        }
    return out


def batches_csv(batches: list[tuple[float, float]]) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(["due_s", "latency_ms"])
    for due, ms in batches:
        writer.writerow([f"{due:.3f}", f"{ms:.3f}"])
    return buf.getvalue()


def target_figures(
    config: RunConfig,
    target: TargetConfig,
    settings: SoakSettings,
    rate: dict[str, Any],
    outcome: RunOutcome,
    query: RangeQuery | None,
    soak_dir: Path,
) -> dict[str, Any]:
    """One target's soak figures: what ran, the audit, memory trends, latency drift."""
    name = target.name
    result = outcome.results.get(name)
    load = config.load
    summary = result.summary() if result is not None else {}
    audit = outcome.audits.get(name) or {}
    verdict = outcome.verdicts.get(name)
    out: dict[str, Any] = {
        "target": name,
        "run_id": outcome.run_dir.name,
        "run_dir": f"{RUNS_DIR}/{outcome.run_dir.name}",
        "status": outcome.status,
        "rate": rate,
        "offered_per_s": load.rate_per_s,
        "batch_size": load.batch_size,
        "processes": summary.get("processes"),
        "interval_s": load.interval_s,
        "duration_s": load.duration_s,
        "warmup_s": load.warmup_s,
        "services": list(target.services),
        "kit_failed": name in outcome.failed_targets,
        "audit": {
            k: audit.get(k) for k in ("acknowledged", "found", "lost", "duplicates", "error")
        },
        "data_verdict": verdict.as_dict() if verdict is not None else None,
        "memory": {},
        "latency": None,
        "notes": [],
    }
    if result is None:
        out["notes"].append("the load did not run: no figures")
        return out
    steady = summary.get("steady") or {}
    out.update(
        records_due=summary.get("records_due"),
        records_acked=summary.get("records_acked"),
        acked_per_s_steady=steady.get("acked_per_s"),
        batches_late_steady=steady.get("batches_late"),
        batches_steady=steady.get("batches"),
        errors_total=summary.get("errors_total"),
        errors=summary.get("errors"),
        p99_ms_steady=(steady.get("latency_ms") or {}).get("p99_ms"),
    )
    t0 = result.t0_wall
    # the measured span: from the warm-up's end to the schedule's (or where the load stopped)
    end_s = min(load.duration_s, max(0.0, result.end_wall - t0))
    start_s = min(load.warmup_s, end_s)
    out["measured_s"] = end_s - start_s
    out["start_wall"] = t0 + start_s
    out["end_wall"] = t0 + end_s
    memory, notes = memory_figures(config, target, settings, t0 + start_s, t0 + end_s, query)
    out["memory"] = memory
    out["notes"].extend(notes)
    write_text_atomic(soak_dir / f"{name}-batch-latency.csv", batches_csv(result.batch_latency_ms))
    out["latency"] = analysis.latency_drift(
        result.batch_latency_ms,
        start_s,
        end_s,
        settings.window_s,
        analysis.drift_rule(settings),
        settings.min_points,
        settings.min_span_s,
    )
    out["latency"]["what"] = (
        "acknowledgement latency of the successful batches, from the due time"
        + (
            " (Kafka's acknowledgement: the records reach HDFS later)"
            if target.type == "pipeline"
            else ""
        )
    )
    leaks = [k for k, m in memory.items() if m["verdict"] == analysis.LEAK]
    judged = [k for k, m in memory.items() if m["verdict"] != analysis.NOT_JUDGED]
    out["leak"] = analysis.LEAK if leaks else (analysis.NO_LEAK if judged else analysis.NOT_JUDGED)
    out["leaking_services"] = leaks
    return out


def soak(
    config: RunConfig,
    settings: SoakSettings,
    results_root: Path,
    *,
    should_stop: Callable[[], bool] = lambda: False,
    say: Say = lambda _: None,
    on_figures: FiguresFn | None = None,
    query: RangeQuery | None = None,
) -> tuple[Path, dict[str, Any], list[RunOutcome]]:
    """Soak every target of the configuration; the soak directory, soak.json and the runs."""
    soak_dir = check_new_run_dir(results_root, config.run_id)
    results_root.mkdir(parents=True, exist_ok=True)
    soak_dir.mkdir(exist_ok=False)  # never another's: FileExistsError rather than a reuse
    runs_root = soak_dir / RUNS_DIR
    runs_root.mkdir()
    if query is None and config.prometheus_url:
        try:
            query = prometheus_range(config.prometheus_url)
        except Exception as exc:
            print(f"benchlab soak: Prometheus client failed ({exc})", file=sys.stderr)
    doc: dict[str, Any] = {
        "run_id": config.run_id,
        "kind": "soak",
        "phase": config.phase,
        "inventory": config.inventory,
        "status": "running",
        "created": utc_iso(),
        "settings": settings.as_dict(),
        "leak_rule": analysis.rule_dict(analysis.leak_rule(settings)),
        "drift_rule": analysis.rule_dict(analysis.drift_rule(settings)),
        "config": config.public_dict(),
        "services": config.services,
        "host_facts": config.host_facts,
        "targets": {},
        "data_verdict": {},
    }
    write_json(soak_dir / SOAK_FILE, doc)
    outcomes: list[RunOutcome] = []
    for target in config.targets:
        if should_stop():
            break
        rate = settings.rate(target.name)
        batch = max(1, round(rate["rate_per_s"] * config.load.interval_s))
        one = target_config(config, target, batch, rate.get("writers"))
        say(
            f"{target.name}: soak at {one.load.rate_per_s:,.0f} records/s for "
            f"{config.load.duration_s:,.0f} s ({rate['source']})"
        )
        outcome = execute(one, runs_root, should_stop=should_stop, on_figures=on_figures)
        outcomes.append(outcome)
        try:
            from benchlab.report import generate_report

            generate_report(outcome.run_dir)
        except Exception as exc:  # the soak's own figures do not need it
            say(f"{target.name}: report.md of the run failed ({exc})")
        figures = target_figures(one, target, settings, rate, outcome, query, soak_dir)
        doc["targets"][target.name] = figures
        if figures["data_verdict"] is not None:
            doc["data_verdict"][target.name] = figures["data_verdict"]
        write_json(soak_dir / SOAK_FILE, doc)
        say(
            f"{target.name}: memory {figures.get('leak')}; latency "
            f"{(figures.get('latency') or {}).get('verdict', analysis.NOT_JUDGED)}"
        )
        if outcome.status != "complete":
            break
    stopped = should_stop() or any(o.status != "complete" for o in outcomes)
    doc["status"] = "partial" if stopped else "complete"
    doc["finished"] = utc_iso()
    if stopped:
        (soak_dir / PARTIAL_MARKER).write_text("interrupted: the soak stopped early\n")
    write_json(soak_dir / SOAK_FILE, doc)
    return soak_dir, doc, outcomes
