"""One backend run: every selected scenario (and variant) against every backend that
implements it, one at a time, each warmed up then measured at the scenario's constant
arrival rate; Prometheus' per-service figures for the window; optionally the sustainable
rate search; results/<run id>/ (never overwritten) with results.json and report.md.

Layout of a run folder:
    config.json                          the run configuration (no secrets in it)
    results.json                         every measurement's figures, verdicts, search trials
    report.md                            backends side by side per scenario, with ratios
    <category>/<stem>/<variant>/<backend>/
        vegeta.json                      vegeta's own summary (report -type=json): the raw result
        figures.json                     the kit's figures from the per-request results
        results.bin                      vegeta's per-request results (`vegeta encode` reads it)
        metrics/*.csv                    the window's Prometheus series
    search/<category>/<stem>/<backend>/<rate>/...  the same per search trial
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchlab import metrics
from benchlab.criteria import evaluate, overall
from benchlab.httpsuite import figures as figs
from benchlab.httpsuite import report, scenarios, vegeta
from benchlab.httpsuite.config import BackendRunConfig
from benchlab.results import ResultsError, check_new_run_dir, utc_iso, write_json, write_text_atomic
from benchlab.search.plan import RateSearch
from benchlab.targets import get as get_target
from benchlab.targets.request_response import (
    BackendSettings,
    BackendUnreachable,
    RequestResponseTarget,
)

HEALTH_WAIT_S = 60.0
MIN_COUNTER_WINDOW_S = 16.0


def say(line: str) -> None:
    print(line, flush=True)


def wait_healthy(backend: BackendSettings, wait_s: float = HEALTH_WAIT_S) -> None:
    target = get_target(backend.type)
    assert isinstance(target, RequestResponseTarget)
    deadline = time.monotonic() + wait_s
    while True:
        try:
            target.check_health(backend)
            return
        except BackendUnreachable:
            if time.monotonic() > deadline:
                raise
            time.sleep(1.0)


class Measurer:
    """Runs one window of one scenario variant against one backend."""

    def __init__(
        self,
        config: BackendRunConfig,
        run_dir: Path,
        collect: Callable[..., metrics.MetricsResult] = metrics.collect,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.config = config
        self.run_dir = run_dir
        self.collect = collect
        self.sleep = sleep

    def measure(
        self,
        scenario: scenarios.Scenario,
        variant: scenarios.Variant,
        backend: BackendSettings,
        out: Path,
        cooldown_s: float | None = None,
    ) -> dict[str, Any]:
        cfg = self.config
        out.mkdir(parents=True, exist_ok=True)
        targets_file = out / "targets.jsonl"
        vegeta.write_targets(targets_file, scenarios.vegeta_targets(scenario, variant, backend.url))
        record: dict[str, Any] = {
            "scenario": scenario.id,
            "variant": variant.name,
            "backend": backend.name,
            "rate": scenario.rate,
            "duration_s": scenario.duration_s,
            "warmup_s": scenario.warmup_s,
            "dir": str(out.relative_to(self.run_dir)),
        }
        try:
            wait_healthy(backend)
            if scenario.warmup_s > 0:
                warm = vegeta.Attack(
                    scenario.rate, scenario.warmup_s, scenario.timeout_s, scenario.max_in_flight
                )
                vegeta.run_attack(cfg.vegeta, warm, targets_file, out / "warmup.bin")
                (out / "warmup.bin").unlink(missing_ok=True)
            attack = vegeta.Attack(
                scenario.rate, scenario.duration_s, scenario.timeout_s, scenario.max_in_flight
            )
            start = time.time()
            vegeta.run_attack(cfg.vegeta, attack, targets_file, out / "results.bin")
            end = time.time()
            summary = vegeta.report_json(cfg.vegeta, out / "results.bin")
            write_json(out / "vegeta.json", summary)
            rows = vegeta.encode_rows(cfg.vegeta, out / "results.bin")
        except (BackendUnreachable, vegeta.VegetaError, OSError) as exc:
            record["error"] = f"{type(exc).__name__}: {exc}"
            return record
        finally:
            targets_file.unlink(missing_ok=True)
        figures = figs.analyse(rows, scenario.rate, scenario.duration_s)
        write_json(out / "figures.json", figures)
        # let Prometheus scrape past the window's end, and the backend settle before the next
        self.sleep(cfg.cooldown_s if cooldown_s is None else cooldown_s)
        services = (*backend.services, *cfg.db_services)
        # counters (OOM kills, restarts) need a few scrapes (5 s apart) in their window:
        # a window shorter than MIN_COUNTER_WINDOW_S is padded on both sides to that
        pad = max(0.0, (MIN_COUNTER_WINDOW_S - (end - start)) / 2)
        result = self.collect(
            cfg.prometheus_url, start, end, out / "metrics", rate_window="10s", pad_s=pad
        )
        record.update(
            start=utc_iso(start),
            end=utc_iso(end),
            figures=figures,
            vegeta={
                k: summary.get(k)
                for k in ("requests", "rate", "throughput", "success", "status_codes", "errors")
            },
            resources={s: _service(result, s) for s in services},
            prometheus_notes=result.notes,
        )
        crit = cfg.criteria_for(scenario.id)
        oom = metrics.total_oom_kills(result, services)
        verdicts = evaluate(
            crit,
            success_rate=figures["success_ratio"],
            p99_ms=figures["latency_from_schedule_ms"]["p99"],
            oom_kills=oom,
        )
        record["criteria"] = [v.as_dict() for v in verdicts]
        record["verdict"] = overall(verdicts)
        return record


def _service(result: metrics.MetricsResult, service: str) -> dict[str, Any]:
    entries = metrics.service_figures(result, service)
    if not entries:
        return {}
    e = entries[0]
    keys = (
        "cpu_cores_mean",
        "cpu_cores_peak",
        "cpu_limit_cores_peak",
        "cpu_pct_of_limit_mean",
        "throttled_ratio_mean",
        "throttled_ratio_peak",
        "memory_working_set_bytes_peak",
        "memory_limit_bytes_peak",
        "oom_kills",
        "restarts",
    )
    return {k: e.get(k) for k in keys}


def run_search(
    m: Measurer, scenario: scenarios.Scenario, backend: BackendSettings
) -> dict[str, Any]:
    """The highest constant arrival rate the backend holds (p99 from schedule within the
    scenario's criterion, >= 98 % of offered served, <= 1 % late, success rate) on the first
    variant, by the write suite's planner: a geometric grid then bisection."""
    cfg = m.config
    assert cfg.search is not None
    s = cfg.search.settings
    crit = cfg.criteria_for(scenario.id)
    max_p99 = crit.max_p99_ms if crit else 500.0
    min_success = crit.min_success_rate if crit else 0.99
    plan = RateSearch(s)
    trials = []
    variant = scenario.variants[0]
    while (rate := plan.next_rate()) is not None:
        rate = float(round(rate))
        trial_sc = scenario.with_load(rate=rate, duration_s=s.measure_s, warmup_s=s.warmup_s)
        out = m.run_dir / "search" / scenario.id / backend.name / f"{int(rate)}"
        # a trial's Prometheus figures are a bonus: a short pause (one scrape) between trials
        rec = m.measure(trial_sc, variant, backend, out, cooldown_s=min(cfg.cooldown_s, 3.0))
        if "error" in rec:
            ok, why = False, [rec["error"]]
        else:
            ok, why = figs.judge(rec["figures"], max_p99, min_success)
        plan.record(rate, ok)
        p99 = rec.get("figures", {}).get("latency_from_schedule_ms", {}).get("p99")
        say(
            f"  search {scenario.id} {backend.name} {rate:g}/s: {'held' if ok else 'failed'}"
            f" (p99 {report.fmt(p99)} ms{'; ' + '; '.join(why) if why else ''})"
        )
        trials.append({"rate": rate, "ok": ok, "why": why, "record": rec})
    return {
        "scenario": scenario.id,
        "variant": variant.name,
        "backend": backend.name,
        "sustainable_rate": plan.best,
        "first_failing_rate": plan.first_fail,
        "max_p99_ms": max_p99,
        "trials": trials,
    }


def execute(
    config: BackendRunConfig,
    results_root: Path,
    collect: Callable[..., metrics.MetricsResult] = metrics.collect,
) -> int:
    try:
        run_dir = check_new_run_dir(results_root, config.run_id)
        results_root.mkdir(parents=True, exist_ok=True)
        run_dir.mkdir()
    except (ResultsError, FileExistsError) as exc:
        say(f"benchlab backends: {exc}")
        return 2
    write_json(run_dir / "config.json", config.raw)
    try:
        tool_version = vegeta.version(config.vegeta) or config.vegeta_version or "unknown version"
    except vegeta.VegetaError as exc:
        say(
            f"benchlab backends: the load tool is missing ({exc}); "
            "fix: run backend.yml, which builds it"
        )
        return 2
    m = Measurer(config, run_dir, collect=collect)
    doc: dict[str, Any] = {
        "run_id": config.run_id,
        "kind": "backends",
        "suite": config.suite,
        "inventory": config.inventory,
        "started": utc_iso(),
        "load_tool": {"name": "vegeta", "version": tool_version},
        "backends": [b.as_dict() for b in config.backends],
        "services": config.services,
        "host_facts": config.host_facts,
        "versions": config.versions,
        "search_settings": (config.raw.get("search") or None),
        "scenarios": [],
        "measurements": [],
        "searches": [],
    }
    failed = 0
    for sid in config.scenarios:
        sc = scenarios.load(config.scenarios_dir, sid).with_load(**config.load)
        doc["scenarios"].append(
            {
                "id": sc.id,
                "description": sc.description,
                "rate": sc.rate,
                "duration_s": sc.duration_s,
                "warmup_s": sc.warmup_s,
                "variants": [v.name for v in sc.variants],
                "compare": sc.compare,
                "criteria": (c.__dict__ if (c := config.criteria_for(sc.id)) else None),
            }
        )
        for variant in sc.variants:
            for backend in config.backends:
                if not backend.implements(sc.id):
                    say(f"{sc.id} {variant.name}: {backend.name} does not implement it, skipped")
                    continue
                out = run_dir / sc.category / sc.stem / variant.name / backend.name
                say(
                    f"{sc.id} [{variant.name}] {backend.name}: {sc.rate:g}/s "
                    f"for {sc.duration_s:g} s "
                    f"(warm-up {sc.warmup_s:g} s)"
                )
                rec = m.measure(sc, variant, backend, out)
                doc["measurements"].append(rec)
                if "error" in rec:
                    failed += 1
                    say(f"  failed: {rec['error']}")
                else:
                    f = rec["figures"]
                    lat = f["latency_ms"]
                    say(
                        f"  {report.fmt(f['throughput_per_s'])} ok/s, "
                        f"p50 {report.fmt(lat['p50'])} ms, p95 {report.fmt(lat['p95'])} ms, "
                        f"p99 {report.fmt(lat['p99'])} ms, failed {f['failed']}, "
                        f"dropped {f['dropped']}, late {f['late']}: {rec['verdict']}"
                    )
                write_json(run_dir / "results.json", doc)
        if config.search is not None:
            for backend in config.backends:
                if backend.implements(sc.id) and config.search.covers(sc.id, backend.name):
                    doc["searches"].append(run_search(m, sc, backend))
                    write_json(run_dir / "results.json", doc)
    doc["ended"] = utc_iso()
    write_json(run_dir / "results.json", doc)
    write_text_atomic(run_dir / "report.md", report.render(doc))
    say(f"report: {run_dir / 'report.md'}")
    return 1 if failed else 0


def main_run(config_path: Path, results_root: Path) -> int:
    from benchlab.httpsuite.config import load_file

    try:
        config = load_file(config_path)
        for sid in config.scenarios:
            scenarios.load(config.scenarios_dir, sid)
    except ValueError as exc:
        print(f"benchlab backends: {exc}", file=sys.stderr)
        return 2
    return execute(config, results_root)


def dumps(doc: Any) -> str:
    return json.dumps(doc, indent=2, default=str)
