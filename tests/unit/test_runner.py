"""The multi-process runner against the null sink (real processes, real clock, short)."""

from __future__ import annotations

import socket
import threading
import time
import urllib.request

import pytest

from benchlab.config import parse_load
from benchlab.loadgen.runner import BatchEvent, LoadgenMetrics, TargetRunResult, run_load
from benchlab.loadgen.usage import UsageMeter, WorkerUsage, generator_figures
from benchlab.sinks import SinkSpec
from benchlab.sinks.null import NullSink, NullSinkConfig

NULL = SinkSpec(NullSink, NullSinkConfig())


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_two_processes_share_the_schedule_and_every_record_is_acked() -> None:
    load = parse_load({"batch_size": 200, "interval_s": 0.05, "duration_s": 2, "processes": 2})
    r = run_load("null", "t-runner", load, NULL)
    s = r.summary()
    assert s["status"] == "complete"
    assert s["processes"] == 2
    assert s["batches_due"] == s["batches_sent"] == 40
    assert s["records_acked"] == 8000 and s["success_rate"] == 1.0
    assert r.acked.ranges() == [(0, 8000)]  # seqs from both workers, no gap, no overlap
    assert s["latency_ms"]["count"] == 40
    assert s["schedule_lag_ms"]["p99_ms"] < 50
    assert abs(s["throughput_per_s"] - 4000) / 4000 < 0.01
    rows = r.timeseries_csv().splitlines()
    assert rows[0] == "second,unix_time,records_sent,records_acked,batches_failed,latency_max_ms"
    assert sum(int(line.split(",")[3]) for line in rows[1:]) == 8000
    gen = s["generator"]  # each worker reported its own CPU; a synchronous sink holds one batch
    assert gen["workers_reporting"] == 2 and gen["per_worker_in_flight_peak"] == [1, 1]
    assert 0 < gen["cpu_s"] < 2 * s["active_s"] and gen["cores_available"] >= 1


def test_auto_processes_picks_at_least_one() -> None:
    load = parse_load({"batch_size": 10, "interval_s": 0.1, "duration_s": 0.3, "processes": 0})
    r = run_load("null", "t-auto", load, NULL)
    assert r.processes >= 1 and r.processes_reason.startswith("auto")
    assert r.records_acked == 30


def test_stop_leaves_a_partial_result() -> None:
    load = parse_load({"batch_size": 10, "interval_s": 0.1, "duration_s": 30, "processes": 1})
    started = time.monotonic()
    r = run_load(
        "null",
        "t-stop",
        load,
        NULL,
        should_stop=lambda: time.monotonic() - started > 1.5,
    )
    assert r.status == "partial"
    assert time.monotonic() - started < 10
    assert 5 <= r.batches_sent < 300
    assert r.batches_due >= r.batches_sent
    assert r.records_acked == r.batches_sent * 10


def test_live_metrics_are_served_by_the_parent() -> None:
    port = free_port()
    metrics = LoadgenMetrics()
    metrics.start("127.0.0.1", port)
    scraped: list[str] = []
    try:
        load = parse_load({"batch_size": 100, "interval_s": 0.1, "duration_s": 1.5, "processes": 2})

        def scrape_later() -> None:
            time.sleep(1.2)
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as resp:
                scraped.append(resp.read().decode())

        t = threading.Thread(target=scrape_later)
        t.start()
        run_load("null", "t-metrics", load, NULL, metrics=metrics)
        t.join()
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as resp:
            final = resp.read().decode()
    finally:
        metrics.stop()
    assert scraped and 'benchlab_loadgen_records_acked_total{target="null"}' in scraped[0]
    assert 'benchlab_loadgen_records_acked_total{target="null"} 1500.0' in final
    assert 'benchlab_loadgen_batches_total{target="null"} 15.0' in final
    assert 'benchlab_loadgen_errors_total{kind="timeout",target="null"} 0.0' in final
    assert "benchlab_loadgen_ack_latency_seconds_bucket" in final


# -- latency: successful batches only ------------------------------------------------------
def event(k: int, ok: bool, latency_s: float) -> BatchEvent:
    return BatchEvent(
        0, k, k * 10, 10, 1000.0 + k, 0.001, False, ok, 10 if ok else 0,
        ((k * 10, 10),) if ok else (), None if ok else "connection",
        None if ok else "connection refused", latency_s, latency_s, 1,
    )  # fmt: skip


def test_failed_batches_are_counted_by_kind_not_in_the_percentiles() -> None:
    load = parse_load({"batch_size": 10, "interval_s": 1, "duration_s": 100})
    r = TargetRunResult("postgresql", {}, 1, "configured", load, 1000.0)
    for k in range(10):
        r.add(event(k, True, 0.080), None)
    for k in range(10, 100):  # an outage: 90 batches refused in 2 ms
        r.add(event(k, False, 0.002), None)
    s = r.summary()
    assert s["latency_ms"]["count"] == 10
    assert s["latency_ms"]["p50_ms"] == pytest.approx(80.0, rel=0.01)
    assert s["latency_ms"]["p99_ms"] == pytest.approx(80.0, rel=0.01)
    assert s["service_time_ms"]["count"] == 10
    assert s["errors"] == {"connection": 90} and s["batches_failed"] == 90
    assert s["schedule_lag_ms"]["count"] == 100  # every send, ok or not


# -- the generator's own cost ----------------------------------------------------------------
def test_generator_figures_sum_the_workers_cpu_over_the_active_span() -> None:
    usages = [WorkerUsage(1, 3.0, 4), WorkerUsage(0, 1.0, 1)]  # arrival order: not worker order
    gen = generator_figures(usages, active_s=10.0, cores=2)
    assert gen["cpu_s"] == 4.0 and gen["cpu_cores_mean"] == pytest.approx(0.4)
    assert gen["per_worker_cpu_cores"] == [0.1, 0.3]
    assert gen["in_flight_peak"] == 4 and gen["per_worker_in_flight_peak"] == [1, 4]
    assert gen["workers_reporting"] == 2 and gen["cores_available"] == 2
    none = generator_figures([], active_s=10.0, cores=2)  # no worker reported (all fatal)
    assert none["cpu_s"] == 0 and none["in_flight_peak"] == 0


def test_summary_reports_the_generator_from_the_workers_messages() -> None:
    load = parse_load({"batch_size": 10, "interval_s": 1, "duration_s": 20})
    r = TargetRunResult("kafka", {}, 2, "configured", load, 1000.0)
    r.batches_due = 20  # 20 s scheduled: the active span
    r.usages += [WorkerUsage(0, 5.0, 7), WorkerUsage(1, 3.0, 9)]
    gen = r.summary()["generator"]
    assert r.active_s == 20.0
    assert gen["cpu_cores_mean"] == pytest.approx(0.4) and gen["in_flight_peak"] == 9


def test_a_batch_is_in_flight_from_submit_to_its_first_acknowledgement() -> None:
    meter = UsageMeter(3)
    meter.start()
    for k in (0, 1, 2):
        meter.submitted(k)
    meter.acknowledged(1)
    meter.acknowledged(1)  # a second ack of the same batch (its failed records) changes nothing
    meter.submitted(3)
    usage = meter.stop()
    assert usage.worker == 3 and usage.in_flight_peak == 3 and usage.cpu_s >= 0
