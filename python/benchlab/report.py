"""`benchlab report`: metrics from Prometheus, criteria, report.md, the completed run.json and
report.html (benchlab.report_html).

The report has one column per target (system under test); what a target's figures mean
comes from its package (benchlab.targets.<name>, Target.description). Every figure comes
from the run directory or from Prometheus; anything missing is printed as n/a with a note,
never invented.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchlab import targets
from benchlab.config import ConfigError, RunConfig, parse_config
from benchlab.criteria import FAIL, PASS, CriterionResult, evaluate, overall
from benchlab.metrics import MetricsResult, PromClient, collect, service_figures, total_oom_kills
from benchlab.render import render_template
from benchlab.report_html import html_or_warning, write_run_html
from benchlab.restarts import RESTARTS_FILE
from benchlab.results import (
    ResultsError,
    open_run_dir,
    read_json,
    read_throughput_csv,
    utc_iso,
    write_json,
    write_text_atomic,
)
from benchlab.steady import stored_view
from benchlab.verdict import NONE, audited_success_rate, data_verdict, exactly_once_sink

MIB = 1024**2
GIB = 1024**3


def peak_per_second(path: Path) -> float | None:
    values = [row["records_acked"] for row in read_throughput_csv(path) if "records_acked" in row]
    return max(values) if values else None


@dataclass
class TargetColumn:
    name: str
    figures: dict[str, Any]
    criteria: list[dict[str, Any]]
    overall: str
    hypothesis: dict[str, Any]
    services: list[dict[str, Any]]


def target_limits(
    config: RunConfig, services: tuple[str, ...]
) -> tuple[float | None, float | None]:
    # Limits are per instance; a service runs on `instances` hosts (the run's workers).
    def total(service: str, key: str) -> float | None:
        svc = config.services.get(service, {})
        value = svc.get(key)
        return float(value) * int(svc.get("instances") or 1) if value else None

    cpu = [total(s, "cpu_limit") for s in services]
    mem = [total(s, "memory_limit_bytes") for s in services]
    cpu_total = sum(float(c) for c in cpu if c) if any(cpu) else None
    mem_total = sum(float(m) for m in mem if m) if any(mem) else None
    return cpu_total, mem_total


def resource_statement(
    config: RunConfig, columns: list[TargetColumn], metrics: MetricsResult
) -> dict[str, Any]:
    """What each target was given, from the limits in force in this run (SPEC.md section 2
    asks the report to state the asymmetry), and which supervised programs ran uncapped."""
    services_of = {t.name: t.services for t in config.targets}

    def instances(svc: str) -> int:
        return int(config.services[svc].get("instances") or 1)

    given = []
    for c in columns:
        memory = c.figures.get("memory_limit_bytes")
        given.append(
            {
                "target": c.name,
                "cpu": c.figures.get("cpu_limit_cores"),
                "memory_gib": memory / GIB if memory else None,
                "services": [
                    f"{svc} x{instances(svc)}"
                    for svc in services_of.get(c.name, ())
                    if svc in config.services
                ],
            }
        )
    comparison = None
    limited = [g for g in given if g["cpu"] and g["memory_gib"]]
    if len(limited) >= 2:
        base, other = limited[0], limited[1]
        comparison = {
            "base": base["target"],
            "other": other["target"],
            "cpu_ratio": other["cpu"] / base["cpu"],
            "memory_ratio": other["memory_gib"] / base["memory_gib"],
        }
    capped = set(config.services)
    uncapped = sorted(
        {
            f"{entry['service']}@{entry['host']}" if entry.get("host") else entry["service"]
            for entry in metrics.services.values()
            if entry.get("service") and entry["service"] not in capped
        }
    )
    return {"given": given, "comparison": comparison, "uncapped": uncapped}


def build_columns(
    config: RunConfig,
    run_dir: Path,
    load: dict[str, Any],
    audit: dict[str, Any],
    metrics: MetricsResult,
) -> list[TargetColumn]:
    columns: list[TargetColumn] = []
    for target in config.targets:
        summary = load.get(target.name)
        if summary is None:
            continue
        lat = summary.get("latency_ms", {})
        aud = audit.get(target.name, {})
        cpu_limit, mem_limit = target_limits(config, target.services)
        throughput = summary.get("throughput_per_s")
        steady = stored_view(summary)
        if steady.warmup_s > 0:  # the warm-up is left out of throughput and latency
            throughput, lat = steady.stored_per_s, steady.latency_ms
        svc_rows: list[dict[str, Any]] = []
        for svc in target.services:
            entries = service_figures(metrics, svc) or [{"service": svc, "host": ""}]
            limits = config.services.get(svc, {})
            for e in entries:
                svc_rows.append(
                    {
                        **e,
                        "configured_cpu_limit": limits.get("cpu_limit"),
                        "configured_memory_limit": limits.get("memory_limit_bytes"),
                    }
                )
        oom = total_oom_kills(metrics, target.services)
        restarts = [e.get("restarts") for e in svc_rows if e.get("restarts") is not None]
        cpu_means = [
            e.get("cpu_cores_mean") for e in svc_rows if e.get("cpu_cores_mean") is not None
        ]
        cpu_peaks = [
            e.get("cpu_cores_peak") for e in svc_rows if e.get("cpu_cores_peak") is not None
        ]
        mem_peaks = [
            e.get("memory_bytes_peak") for e in svc_rows if e.get("memory_bytes_peak") is not None
        ]
        ws_peaks = [
            e["memory_working_set_bytes_peak"]
            for e in svc_rows
            if e.get("memory_working_set_bytes_peak") is not None
        ]
        verdict = data_verdict(target.name, aud, exactly_once=exactly_once_sink(target))
        acked_rate = summary.get("success_rate")
        if verdict.status == NONE:  # a sink that keeps nothing: acknowledgements are all there is
            success_rate, success_note = acked_rate, None
        else:
            success_rate = audited_success_rate(aud, summary.get("records_due"))
            success_note = "no audit counts" if verdict.failed else None
        crit = evaluate(
            target.criteria,
            success_rate=success_rate,
            p99_ms=lat.get("p99_ms"),
            oom_kills=oom,
            success_note=success_note,
        )
        if target.criteria is not None and verdict.status != NONE:
            crit.append(data_criterion(verdict, aud, exactly_once_sink(target)))
        figures = {
            **summary,
            "throughput_per_s": throughput,
            "throughput_whole_run_per_s": summary.get("throughput_per_s"),
            "latency_ms": lat,
            "success_rate": success_rate,
            "acked_success_rate": acked_rate,
            "data_verdict": verdict.as_dict(),
            "p50_ms": lat.get("p50_ms"),
            "p95_ms": lat.get("p95_ms"),
            "p99_ms": lat.get("p99_ms"),
            "max_ms": lat.get("max_ms"),
            "peak_per_s": peak_per_second(run_dir / "timeseries" / f"{target.name}-throughput.csv"),
            "cpu_limit_cores": cpu_limit,
            "memory_limit_bytes": mem_limit,
            "per_core_per_s": throughput / cpu_limit
            if throughput is not None and cpu_limit
            else None,
            "per_gib_per_s": throughput / (mem_limit / GIB)
            if throughput is not None and mem_limit
            else None,
            "cpu_cores_mean": sum(cpu_means) if cpu_means else None,
            "cpu_cores_peak": sum(cpu_peaks) if cpu_peaks else None,
            "memory_bytes_peak": sum(mem_peaks) if mem_peaks else None,
            "memory_working_set_bytes_peak": sum(ws_peaks) if ws_peaks else None,
            "oom_kills": oom,
            "restarts": sum(restarts) if restarts else None,
            "audit": aud,
            "device": device_rows(config, target.services, metrics),
            "ceiling": ceiling_rows(config, target.services, throughput),
        }
        columns.append(
            TargetColumn(
                target.name,
                figures,
                [c.as_dict() for c in crit],
                overall(crit),
                target.hypothesis,
                svc_rows,
            )
        )
    return columns


def data_criterion(verdict: Any, aud: dict[str, Any], exactly_once: bool) -> CriterionResult:
    """The data verdict as a row of the criteria table (it also sets the exit code)."""
    dup_rule = "duplicates 0" if exactly_once else "duplicates reported"
    threshold = f"lost 0, {dup_rule}, audit complete"
    if aud.get("lost") is not None and aud.get("duplicates") is not None:
        measured = f"lost {aud['lost']:,}, duplicates {aud['duplicates']:,}"
    else:
        measured = "audit incomplete"
    note = "; ".join(verdict.reasons) if verdict.failed else None
    return CriterionResult(
        "data (audit)", threshold, measured, FAIL if verdict.failed else PASS, note
    )


def device_rows(
    config: RunConfig, target_services: tuple[str, ...], metrics: MetricsResult
) -> list[dict[str, Any]]:
    """Host disk writes during the run beside that host's calibrated B_w (SPEC.md section 8).

    Node exporter counts every writer on the host, so on a shared host this is an upper
    bound for the system under test.
    """
    hosts = sorted({config.services.get(s, {}).get("host") for s in target_services} - {None})
    rows = []
    for host in hosts:
        node = metrics.nodes.get(host, {})
        cal = config.calibration.get(host) or {}
        write_mean = node.get("disk_write_bytes_per_s_mean")
        write_peak = node.get("disk_write_bytes_per_s_peak")
        b_w = cal.get("B_w")
        b_w_bytes = float(b_w) * MIB if b_w else None
        rows.append(
            {
                "host": host,
                "write_mean": write_mean,
                "write_peak": write_peak,
                "b_w_mib_s": b_w,
                "calibration_id": cal.get("calibration_id"),
                "fraction_mean": write_mean / b_w_bytes
                if write_mean is not None and b_w_bytes
                else None,
                "fraction_peak": write_peak / b_w_bytes
                if write_peak is not None and b_w_bytes
                else None,
            }
        )
    return rows


def ceiling_rows(
    config: RunConfig, target_services: tuple[str, ...], throughput: float | None
) -> list[dict[str, Any]]:
    """Each host's calibrated S_sustained (RocksDB's sustainable put rate, issue 12) in
    records of the run's size: a physical ceiling beside the measured throughput.

    Of the calibration's workloads, the one whose record (key + value) is nearest the
    run's record size is used; the ceiling is S_sustained bytes/s over record_bytes.
    """
    record = config.load.record_bytes
    hosts = sorted({config.services.get(s, {}).get("host") for s in target_services} - {None})
    rows = []
    for host in hosts:
        cal = config.calibration.get(host) or {}
        sustained = [w for w in cal.get("sustained") or [] if w.get("mib_s")]
        if not sustained or not record:
            continue
        nearest = min(sustained, key=lambda w: abs(int(w["record_bytes"]) - record))
        ceiling = float(nearest["mib_s"]) * MIB / record
        rows.append(
            {
                "host": host,
                "calibration_id": cal.get("calibration_id"),
                "workload": nearest["workload"],
                "workload_record_bytes": nearest["record_bytes"],
                "sustained_mib_s": nearest["mib_s"],
                "record_bytes": record,
                "ceiling_per_s": ceiling,
                "throughput_per_s": throughput,
                "fraction": throughput / ceiling if throughput is not None and ceiling else None,
            }
        )
    return rows


def measured_state(col: TargetColumn) -> str:
    f = col.figures
    if f.get("status") != "complete":
        return "interrupted"
    verdict = f.get("data_verdict") or {}
    if verdict.get("status") == FAIL:
        reasons = " ".join(verdict.get("reasons") or [])
        if "lost" in reasons:
            return "lost data"
        return "duplicates" if "duplicate" in reasons else "audit incomplete"
    if col.overall == "FAIL":
        return "failed criteria"
    if f.get("errors_total") or f.get("batches_late"):
        return "loaded"
    return "stable"


def render(context: dict[str, Any]) -> str:
    return render_template("report.md.j2", {**context, "measured_state": measured_state})


def generate_report(
    run_dir: Path, *, client: PromClient | None = None, skip_metrics: bool = False
) -> Path:
    """Write report.md in run_dir, complete run.json, then write report.html (a failure there is
    a warning on stderr). Raises ResultsError for a bad dir."""
    open_run_dir(run_dir)
    run = read_json(run_dir / "run.json")
    if not isinstance(run, dict) or not isinstance(run.get("config"), dict):
        raise ResultsError(
            f"{run_dir}/run.json is not a run record (a JSON object with its config); fix: "
            "restore it from a copy of that results directory, or move the directory out of "
            "the results folder"
        )
    try:
        config = parse_config(run["config"])
    except (ConfigError, KeyError, TypeError) as exc:
        raise ResultsError(
            f"{run_dir}/run.json holds no usable configuration ({exc}); fix: restore it from a "
            "copy of that results directory"
        ) from exc
    load = read_json(run_dir / "load.json") or run.get("load") or {}
    audit = read_json(run_dir / "audit.json") or run.get("audit") or {}
    starts = [s["start"] for s in load.values() if s.get("start")]
    ends = [s["end"] for s in load.values() if s.get("end")]
    start, end = (min(starts), max(ends)) if starts and ends else (0.0, 0.0)
    if skip_metrics or not starts:
        metrics = MetricsResult(False, config.prometheus_url, start, end)
        metrics.notes.append("metrics collection skipped" if skip_metrics else "no load window")
    else:
        metrics = collect(config.prometheus_url, start, end, run_dir / "metrics", client=client)
    columns = build_columns(config, run_dir, load, audit, metrics)
    restarts = read_json(run_dir / RESTARTS_FILE)  # None: bench.yml did not collect the logs
    job_restarts = [
        {
            **r,
            "target": c.name,
            "noticed_utc": utc_iso(r["noticed_wall"]) if r.get("noticed_wall") else None,
            "running_utc": utc_iso(r["running_wall"]) if r.get("running_wall") else None,
            "took_s": r["running_wall"] - r["noticed_wall"] if r.get("running_wall") else None,
        }
        for c in columns
        for r in (c.figures.get("streaming") or {}).get("job_restarts") or []
    ]
    context = {
        "run": run,
        "config": config,
        "columns": columns,
        # what each target's acknowledgement, throughput and audit mean (its package says)
        "descriptions": {
            c.name: targets.get(config.target(c.name).type).description for c in columns
        },
        "resources": resource_statement(config, columns, metrics),
        "metrics": metrics,
        "partial": (run_dir / "PARTIAL").exists(),
        "restarts": restarts,
        "job_restarts": job_restarts,
        "generated": utc_iso(),
        "hypothesis_keys": [
            ("throughput", "throughput_per_s"),
            ("latency", "latency_ms"),
            ("CPU", "cpu"),
            ("memory", "memory"),
            ("state", "state"),
        ],
    }
    text = render(context)
    write_text_atomic(run_dir / "report.md", text)
    run["figures"] = {
        c.name: {
            "throughput_per_s": c.figures.get("throughput_per_s"),
            "throughput_whole_run_per_s": c.figures.get("throughput_whole_run_per_s"),
            "warmup_s": (c.figures.get("steady") or {}).get("warmup_s"),
            "peak_per_s": c.figures.get("peak_per_s"),
            "success_rate": c.figures.get("success_rate"),
            "acked_success_rate": c.figures.get("acked_success_rate"),
            "data_verdict": c.figures.get("data_verdict"),
            "latency_ms": {k: c.figures.get(k) for k in ("p50_ms", "p95_ms", "p99_ms", "max_ms")},
            "errors": c.figures.get("errors"),
            "batches_late": c.figures.get("batches_late"),
            "cpu_cores_mean": c.figures.get("cpu_cores_mean"),
            "cpu_cores_peak": c.figures.get("cpu_cores_peak"),
            "memory_bytes_peak": c.figures.get("memory_bytes_peak"),
            "memory_working_set_bytes_peak": c.figures.get("memory_working_set_bytes_peak"),
            "oom_kills": c.figures.get("oom_kills"),
            "restarts": c.figures.get("restarts"),
            "per_core_per_s": c.figures.get("per_core_per_s"),
            "per_gib_per_s": c.figures.get("per_gib_per_s"),
            "audit": c.figures.get("audit"),
            "device": c.figures.get("device"),
            "ceiling": c.figures.get("ceiling"),
            "criteria": c.criteria,
            "overall": c.overall,
            "services": c.services,
        }
        for c in columns
    }
    run["metrics"] = metrics.as_dict()
    run["restarts"] = restarts
    run["report"] = {"generated": context["generated"], "path": "report.md"}
    write_json(run_dir / "run.json", run)
    html_or_warning(lambda: write_run_html(run_dir, context, load))
    return run_dir / "report.md"
