"""Pull a run window's series from Prometheus, save them as CSV and summarise mean/peak.

Never raises for Prometheus trouble: an unreachable server or a failing query becomes a note
that the report prints, and the figures it would have given are None ("n/a").
"""

from __future__ import annotations

import csv
import math
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

RATE = "{rate}"
# name -> PromQL; {rate} is the rate window. Every series carries the inventory `host` label
# (roles/prometheus sets it per target); per-service series also carry `service`.
RANGE_QUERIES: dict[str, str] = {
    "service_cpu_cores": f"rate(benchlab_cgroup_cpu_usage_seconds_total[{RATE}])",
    "service_cpu_limit_cores": "benchlab_cgroup_cpu_limit_cores",
    "service_memory_bytes": "benchlab_cgroup_memory_usage_bytes",
    "service_memory_working_set_bytes": "benchlab_cgroup_memory_working_set_bytes",
    "service_memory_limit_bytes": "benchlab_cgroup_memory_limit_bytes",
    "service_throttled_ratio": (
        f"rate(benchlab_cgroup_cpu_throttled_periods_total[{RATE}])"
        f" / clamp_min(rate(benchlab_cgroup_cpu_periods_total[{RATE}]), 1e-9)"
    ),
    "service_throttled_seconds_rate": f"rate(benchlab_cgroup_cpu_throttled_seconds_total[{RATE}])",
    "service_up": "benchlab_service_up",
    "node_cpu_busy_cores": (
        f'sum by (host) (rate(node_cpu_seconds_total{{mode!="idle",mode!="iowait"}}[{RATE}]))'
    ),
    "node_disk_write_bytes_per_s": (f"sum by (host) (rate(node_disk_written_bytes_total[{RATE}]))"),
    "node_disk_read_bytes_per_s": f"sum by (host) (rate(node_disk_read_bytes_total[{RATE}]))",
    "node_network_rx_bytes_per_s": (
        f"sum by (host) (rate(node_network_receive_bytes_total[{RATE}]))"
    ),
    "node_network_tx_bytes_per_s": (
        f"sum by (host) (rate(node_network_transmit_bytes_total[{RATE}]))"
    ),
    "loadgen_acked_per_s": f"sum by (target) (rate(benchlab_loadgen_records_acked_total[{RATE}]))",
    "loadgen_sent_per_s": f"sum by (target) (rate(benchlab_loadgen_records_sent_total[{RATE}]))",
    "loadgen_errors_per_s": (
        f"sum by (target, kind) (rate(benchlab_loadgen_errors_total[{RATE}]))"
    ),
}
INCREASE_QUERIES: dict[str, str] = {
    "oom_kills": "benchlab_cgroup_oom_kills_total",
    "restarts": "benchlab_service_restarts_total",
}


def increase_query(metric: str, window: str) -> str:
    """An INCREASE_QUERIES counter's whole events over `window` (a PromQL duration)."""
    return f"round(increase({metric}[{window}]))"


class PromClient(Protocol):
    def custom_query_range(
        self, query: str, start_time: datetime, end_time: datetime, step: str
    ) -> list[dict[str, Any]]: ...

    def custom_query(
        self, query: str, params: dict[str, Any] | None = None
    ) -> list[dict[str, Any]]: ...


@dataclass
class SeriesStats:
    mean: float | None = None
    peak: float | None = None
    last: float | None = None


@dataclass
class MetricsResult:
    available: bool
    url: str | None
    start: float
    end: float
    notes: list[str] = field(default_factory=list)
    # service -> figure name -> value
    services: dict[str, dict[str, Any]] = field(default_factory=dict)
    nodes: dict[str, dict[str, Any]] = field(default_factory=dict)
    loadgen: dict[str, dict[str, Any]] = field(default_factory=dict)
    files: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "available": self.available,
            "prometheus_url": self.url,
            "start": self.start,
            "end": self.end,
            "notes": self.notes,
            "services": self.services,
            "nodes": self.nodes,
            "loadgen": self.loadgen,
            "files": self.files,
        }


def _stats(values: list[float]) -> SeriesStats:
    vals = [v for v in values if math.isfinite(v)]
    if not vals:
        return SeriesStats()
    return SeriesStats(mean=sum(vals) / len(vals), peak=max(vals), last=vals[-1])


def _key(metric: dict[str, str], names: tuple[str, ...]) -> str:
    return "/".join(metric.get(n, "") for n in names if metric.get(n))


def make_client(url: str, timeout_s: int = 10) -> PromClient:
    from prometheus_api_client import PrometheusConnect
    from urllib3.util.retry import Retry

    retry = Retry(total=1, backoff_factor=0.2, status_forcelist=(502, 503, 504))
    return PrometheusConnect(url=url, disable_ssl=True, timeout=timeout_s, retry=retry)  # type: ignore[return-value]


def collect(
    url: str | None,
    start: float,
    end: float,
    out_dir: Path | None,
    *,
    client: PromClient | None = None,
    rate_window: str = "30s",
    pad_s: float = 15.0,
) -> MetricsResult:
    """Series for [start - pad, end + pad]; CSVs go to out_dir (metrics/)."""
    result = MetricsResult(available=False, url=url, start=start, end=end)
    if client is None:
        if not url:
            result.notes.append(
                "no prometheus_url in the run configuration: resource figures are n/a"
            )
            return result
        try:
            client = make_client(url)
        except Exception as exc:
            result.notes.append(f"Prometheus client for {url} failed: {exc}")
            return result
    t_start = datetime.fromtimestamp(start - pad_s, tz=UTC)
    t_end = datetime.fromtimestamp(min(time.time(), end + pad_s), tz=UTC)
    span = max(1.0, (t_end - t_start).total_seconds())
    step = f"{max(1, math.ceil(span / 1000))}s"
    data: dict[str, list[dict[str, Any]]] = {}
    failures = 0
    for name, query in RANGE_QUERIES.items():
        q = query.replace(RATE, rate_window)
        try:
            data[name] = client.custom_query_range(q, t_start, t_end, step) or []
        except Exception as exc:
            failures += 1
            first = str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
            if failures == 1:
                result.notes.append(
                    f"Prometheus at {url} did not answer ({first}): resource figures are n/a"
                )
            if not data:
                break  # unreachable: do not wait for every query to time out
    if not data:
        return result
    result.available = True
    if failures:
        result.notes.append(f"{failures} of {len(RANGE_QUERIES)} Prometheus queries failed")
    if out_dir is not None:
        out_dir.mkdir(parents=True, exist_ok=True)
        for name, series in data.items():
            path = out_dir / f"{name}.csv"
            _write_csv(path, series)
            result.files.append(path.name)
    for name, series in data.items():
        if not series:
            continue
        if name.startswith("service_"):
            fig = name.removeprefix("service_")
            for s in series:
                svc = s["metric"].get("service", "?")
                host = s["metric"].get("host", "")
                key = svc if not host else f"{svc}@{host}"
                st = _stats([float(v) for _, v in s.get("values", [])])
                entry = result.services.setdefault(key, {"service": svc, "host": host})
                entry[f"{fig}_mean"], entry[f"{fig}_peak"] = st.mean, st.peak
        elif name.startswith("node_"):
            fig = name.removeprefix("node_")
            for s in series:
                st = _stats([float(v) for _, v in s.get("values", [])])
                entry = result.nodes.setdefault(s["metric"].get("host", "?"), {})
                entry[f"{fig}_mean"], entry[f"{fig}_peak"] = st.mean, st.peak
        else:
            fig = name.removeprefix("loadgen_")
            for s in series:
                st = _stats([float(v) for _, v in s.get("values", [])])
                key = _key(s["metric"], ("target", "kind")) or "all"
                entry = result.loadgen.setdefault(key, {})
                entry[f"{fig}_mean"], entry[f"{fig}_peak"] = st.mean, st.peak
    window = max(1, round(span))
    at = t_end.timestamp()
    for fig, metric in INCREASE_QUERIES.items():
        q = increase_query(metric, f"{window}s")
        try:
            series = client.custom_query(q, params={"time": at}) or []
        except Exception as exc:
            result.notes.append(f"{fig}: query failed ({str(exc)[:120]})")
            continue
        for s in series:
            svc = s["metric"].get("service", "?")
            host = s["metric"].get("host", "")
            key = svc if not host else f"{svc}@{host}"
            entry = result.services.setdefault(key, {"service": svc, "host": host})
            entry[fig] = float(s["value"][1])
    for entry in result.services.values():
        limit = entry.get("cpu_limit_cores_peak")
        for stat in ("mean", "peak"):
            cores = entry.get(f"cpu_cores_{stat}")
            entry[f"cpu_pct_of_limit_{stat}"] = (
                100.0 * cores / limit if cores is not None and limit else None
            )
    return result


def _write_csv(path: Path, series: list[dict[str, Any]]) -> None:
    labels = sorted({k for s in series for k in s.get("metric", {}) if k != "__name__"})
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["timestamp", *labels, "value"])
        for s in series:
            metric = s.get("metric", {})
            for ts, value in s.get("values", []):
                writer.writerow([ts, *(metric.get(k, "") for k in labels), value])


def read_series_csv(path: Path) -> list[dict[str, Any]]:
    """A CSV written by `collect` (metrics/<name>.csv) read back as series: one per label set,
    each {"metric": labels, "values": [(unix time, value), ...]}; [] if the file is missing.
    A value that is not a number (Prometheus' NaN for 0/0) is left out."""
    try:
        with path.open(encoding="utf-8", newline="") as fh:
            rows = list(csv.DictReader(fh))
    except OSError:
        return []
    series: dict[tuple[tuple[str, str], ...], dict[str, Any]] = {}
    for row in rows:
        labels = tuple((k, v) for k, v in row.items() if k not in ("timestamp", "value") and v)
        entry = series.setdefault(labels, {"metric": dict(labels), "values": []})
        try:
            ts, value = float(row["timestamp"]), float(row["value"])
        except (KeyError, TypeError, ValueError):
            continue
        if math.isfinite(value):
            entry["values"].append((ts, value))
    return list(series.values())


def service_figures(result: MetricsResult, service: str) -> list[dict[str, Any]]:
    """All entries (one per host) for a service name."""
    return [e for e in result.services.values() if e.get("service") == service]


def total_oom_kills(result: MetricsResult, services: tuple[str, ...]) -> float | None:
    if not result.available:
        return None
    found = [e.get("oom_kills") for s in services for e in service_figures(result, s)]
    values = [v for v in found if v is not None]
    if not values:
        return None
    return float(sum(values))
