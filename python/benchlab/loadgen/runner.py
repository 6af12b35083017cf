"""Run the open-loop load against one target with one or more worker processes.

Workers generate, encode and send their share of the schedule (batch k goes to worker
k % processes) and report every acknowledgement to the parent over a queue. The parent alone
aggregates: HDR histograms, per-second series, acked seq ranges, error counts, and the live
Prometheus metrics, so there is no multi-process metrics state to reconcile.
"""

from __future__ import annotations

import math
import multiprocessing as mp
import os
import queue as queue_mod
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from benchlab.config import LoadConfig
from benchlab.loadgen.latency import LatencyHistogram
from benchlab.loadgen.schedule import MonotonicClock, ScheduleStats, Tick, run_open_loop, ticks
from benchlab.loadgen.usage import UsageMeter, WorkerUsage, generator_figures
from benchlab.records import RecordFactory, utc_from_timestamp
from benchlab.seqranges import RangeSet
from benchlab.sinks import Ack, Batch, SinkSpec, SinkUnreachable

START_MARGIN_S = 0.3
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.3, 0.5, 1, 2, 5, 10, 30, 60)
GEN_BUSY_TARGET = 0.5  # a worker should spend at most half its time generating/encoding
SYNC_SINK_SECOND_WORKER_S = 0.5
STOP_GRACE_S = 30.0  # after a stop, how long workers may take to finish their batch


@dataclass(frozen=True)
class WorkerSpec:
    target: str
    run_id: str
    load: LoadConfig
    sink: SinkSpec
    worker: int
    workers: int


@dataclass(frozen=True)
class BatchEvent:
    worker: int
    index: int
    first_seq: int
    count: int
    due_wall: float
    lag_s: float
    late: bool
    ok: bool
    acked: int
    acked_ranges: tuple[tuple[int, int], ...]
    error_kind: str | None
    error: str | None
    latency_s: float  # acknowledgement - due time (what a user would see)
    service_s: float  # acknowledgement - send time
    attempts: int


def _worker_main(spec: WorkerSpec, out: Any, go: Any, stop: Any, t0: Any) -> None:
    """Entry point of a worker process (arguments are picklable, so spawn works too)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent handles Ctrl-C and tells us
    local_stop = {"flag": False}
    signal.signal(signal.SIGTERM, lambda *_: local_stop.__setitem__("flag", True))
    sink = spec.sink.make(spec.target)
    try:
        sink.open()
    except SinkUnreachable as exc:
        out.put(("warning", spec.worker, f"open failed, will retry per batch: {exc}"))
    except Exception as exc:
        out.put(("fatal", spec.worker, f"{type(exc).__name__}: {exc}"))
        return
    out.put(("ready", spec.worker, None))
    while not go.wait(0.1):
        if stop.is_set() or local_stop["flag"]:
            sink.close()
            out.put(("done", spec.worker, ScheduleStats()))
            return
    t0_mono, t0_wall = t0[0], t0[1]
    meter = UsageMeter(spec.worker)
    meter.start()
    load = spec.load
    factory = RecordFactory(spec.run_id, load.record_bytes, load.seed)
    spacing = load.interval_s / load.batch_size
    clock = MonotonicClock()

    def prepare(tick: Tick) -> Batch:
        return sink.make_batch(
            factory,
            tick.index,
            tick.index * load.batch_size,
            load.batch_size,
            utc_from_timestamp(t0_wall + tick.index * load.interval_s),
            spacing,
        )

    def send(tick: Tick, batch: Batch, send_time: float, lag: float, late: bool) -> None:
        def on_ack(ack: Ack) -> None:
            meter.acknowledged(tick.index)
            out.put(
                (
                    "batch",
                    spec.worker,
                    BatchEvent(
                        spec.worker,
                        tick.index,
                        ack.first_seq,
                        ack.count,
                        t0_wall + tick.index * load.interval_s,
                        lag,
                        late,
                        ack.ok,
                        ack.acked,
                        ack.ranges(),
                        ack.error_kind.value if ack.error_kind else None,
                        ack.error,
                        ack.ack_mono - tick.due,
                        ack.ack_mono - send_time,
                        ack.attempts,
                    ),
                )
            )

        meter.submitted(tick.index)
        sink.submit(batch, on_ack)
        sink.poll(0)

    deadline = t0_mono + load.batch_count * load.interval_s + load.drain_deadline_s
    stats = run_open_loop(
        ticks(t0_mono, load.interval_s, load.batch_count, spec.worker, spec.workers),
        clock,
        send,
        prepare=prepare,
        late_after_s=load.late_after_ms / 1000.0,
        deadline=deadline,
        should_stop=lambda: local_stop["flag"] or stop.is_set(),
        idle=lambda s: sink.poll(s) if sink.max_in_flight > 1 else clock.sleep(s),
    )
    pending = sink.flush(max(1.0, load.drain_deadline_s))
    if pending:
        out.put(("warning", spec.worker, f"{pending} batches still unacknowledged at the end"))
    out.put(("usage", spec.worker, meter.stop()))
    sink.close()
    out.put(("done", spec.worker, stats))


def probe_generation_cost(load: LoadConfig, sink: SinkSpec, run_id: str) -> float:
    """Seconds of CPU to generate and encode one record in this process."""
    factory = RecordFactory(run_id, load.record_bytes, load.seed)
    encoder = sink.make("probe")  # prepare() does no I/O, open() not needed
    n = min(load.batch_size, 2000)
    start = time.process_time()
    done = 0
    now = utc_from_timestamp(time.time())
    while time.process_time() - start < 0.2 or done < n:
        encoder.make_batch(factory, 0, done, n, now, 0.0)
        done += n
    return (time.process_time() - start) / done


def choose_processes(load: LoadConfig, sink: SinkSpec, run_id: str) -> tuple[int, str]:
    """processes: 0 -> enough workers that generation uses at most half of each one."""
    cores = os.cpu_count() or 1
    if load.processes > 0:
        return load.processes, "configured"
    cost = probe_generation_cost(load, sink, run_id)
    busy = load.rate_per_s * cost
    n = max(1, min(cores, math.ceil(busy / GEN_BUSY_TARGET)))
    reason = f"auto: generation {cost * 1e6:.1f} us/record -> {busy:.2f} cores at target rate"
    # a synchronous sink holds one batch at a time per worker: with batches due more often
    # than every 0.5 s (phase 3), give it two in flight so one slow commit does not queue all
    if sink.sink_class.does_io and load.interval_s < SYNC_SINK_SECOND_WORKER_S and cores > 1:
        if n < 2:
            reason += f"; 2 workers: synchronous sink, interval < {SYNC_SINK_SECOND_WORKER_S} s"
        n = max(n, 2)
    return n, reason


@dataclass
class TargetRunResult:
    target: str
    sink: dict[str, Any]
    processes: int
    processes_reason: str
    load: LoadConfig
    t0_wall: float
    end_wall: float = 0.0
    status: str = "complete"
    stop_reason: str | None = None
    batches_due: int = 0
    batches_sent: int = 0
    batches_late: int = 0
    batches_not_sent: int = 0
    batches_failed: int = 0
    records_due: int = 0
    records_sent: int = 0
    records_acked: int = 0
    max_lag_s: float = 0.0
    last_ack_wall: float | None = None
    first_send_wall: float | None = None
    last_send_wall: float | None = None
    errors: dict[str, int] = field(default_factory=dict)
    error_samples: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    latency: LatencyHistogram = field(default_factory=LatencyHistogram)
    service_time: LatencyHistogram = field(default_factory=LatencyHistogram)
    lag: LatencyHistogram = field(default_factory=LatencyHistogram)
    per_second: dict[int, list[int]] = field(default_factory=dict)  # s -> [sent, acked, errors]
    acked: RangeSet = field(default_factory=RangeSet)
    # The steady window: batches due at or after t0 + load.warmup_s (all of them without one).
    steady_latency: LatencyHistogram = field(default_factory=LatencyHistogram)
    steady_batches: int = 0
    steady_batches_late: int = 0
    steady_batches_failed: int = 0
    # due second -> highest acknowledgement latency (ms) of its successful batches: the
    # trend of due-to-acknowledgement latency (a backlog in front of a synchronous store)
    latency_max_by_due_s: dict[int, float] = field(default_factory=dict)
    # (due second after t0, acknowledgement latency ms) of every successful batch, in arrival
    # order: what a soak's latency per window is computed from (benchlab.soak.analysis)
    batch_latency_ms: list[tuple[float, float]] = field(default_factory=list)
    # each worker's CPU and batches in flight over its load loop (summary()["generator"])
    usages: list[WorkerUsage] = field(default_factory=list)

    def add(self, ev: BatchEvent, metrics: LoadgenMetrics | None) -> None:
        self.records_sent += ev.count
        self.records_acked += ev.acked
        for first, n in ev.acked_ranges:
            self.acked.add(first, n)
        due_s = ev.due_wall - self.t0_wall
        steady = due_s >= self.load.warmup_s
        if steady:
            self.steady_batches += 1
            self.steady_batches_late += int(ev.late)
            self.steady_batches_failed += int(not ev.ok)
        if ev.ok:  # a batch refused in 2 ms must not make p99 look better: errors count by kind
            self.latency.record_s(ev.latency_s)
            self.service_time.record_s(ev.service_s)
            if steady:
                self.steady_latency.record_s(ev.latency_s)
            key = max(0, int(due_s))
            latency_ms = ev.latency_s * 1000.0
            self.latency_max_by_due_s[key] = max(
                self.latency_max_by_due_s.get(key, 0.0), latency_ms
            )
            self.batch_latency_ms.append((due_s, latency_ms))
        self.lag.record_s(max(0.0, ev.lag_s))  # the send's lag behind schedule, ok or not
        ack_wall = ev.due_wall + ev.latency_s
        send_wall = ev.due_wall + ev.lag_s
        if self.first_send_wall is None or send_wall < self.first_send_wall:
            self.first_send_wall = send_wall
        if self.last_send_wall is None or send_wall > self.last_send_wall:
            self.last_send_wall = send_wall
        if ev.acked:
            self.last_ack_wall = max(self.last_ack_wall or 0.0, ack_wall)
        if not ev.ok:
            self.batches_failed += 1
            kind = ev.error_kind or "other"
            self.errors[kind] = self.errors.get(kind, 0) + 1
            if len(self.error_samples) < 5 and ev.error:
                self.error_samples.append(f"batch {ev.index}: {kind}: {ev.error}")
        sec_send = max(0, int(ev.due_wall + ev.lag_s - self.t0_wall))
        sec_ack = max(0, int(ack_wall - self.t0_wall))
        self.per_second.setdefault(sec_send, [0, 0, 0])[0] += ev.count
        row = self.per_second.setdefault(sec_ack, [0, 0, 0])
        row[1] += ev.acked
        row[2] += 0 if ev.ok else 1
        if metrics is not None:
            metrics.observe(self.target, ev)

    @property
    def window_s(self) -> float:
        return max(1e-9, self.end_wall - self.t0_wall)

    @property
    def active_s(self) -> float:
        """From t0 to the last acknowledgement (or the scheduled span, if longer)."""
        span = self.batches_due * self.load.interval_s
        last = (self.last_ack_wall - self.t0_wall) if self.last_ack_wall else 0.0
        return max(1e-9, span, last)

    @property
    def achieved_send_rate(self) -> float | None:
        """Records sent over the real span of the sends (first to last send, plus one interval)."""
        if self.first_send_wall is None or self.last_send_wall is None:
            return None
        span = self.last_send_wall - self.first_send_wall + self.load.interval_s
        return self.records_sent / span

    def summary(self) -> dict[str, Any]:
        lat = self.latency.summary()
        return {
            "target": self.target,
            "sink": self.sink,
            "status": self.status,
            "stop_reason": self.stop_reason,
            "processes": self.processes,
            "processes_reason": self.processes_reason,
            "start": self.t0_wall,
            "end": self.end_wall,
            "window_s": round(self.window_s, 3),
            "active_s": round(self.active_s, 3),
            "target_rate_per_s": self.load.rate_per_s,
            "batch_size": self.load.batch_size,
            "interval_s": self.load.interval_s,
            "duration_s": self.load.duration_s,
            "record_bytes": self.load.record_bytes,
            "batches_due": self.batches_due,
            "batches_sent": self.batches_sent,
            "batches_late": self.batches_late,
            "batches_not_sent": self.batches_not_sent,
            "batches_failed": self.batches_failed,
            "late_after_ms": self.load.late_after_ms,
            "records_due": self.records_due,
            "records_sent": self.records_sent,
            "records_acked": self.records_acked,
            "success_rate": (self.records_acked / self.records_due) if self.records_due else None,
            "throughput_per_s": self.records_acked / self.active_s,
            "send_rate_per_s": self.achieved_send_rate,
            "errors": dict(sorted(self.errors.items())),
            "errors_total": sum(self.errors.values()),
            "error_samples": self.error_samples,
            "warnings": self.warnings,
            "latency_ms": lat.as_dict(),
            "service_time_ms": self.service_time.summary().as_dict(),
            "schedule_lag_ms": self.lag.summary().as_dict(),
            "max_schedule_lag_ms": self.max_lag_s * 1000.0,
            "acked_ranges": len(self.acked.ranges()),
            "steady": self.steady_summary(),
            "generator": generator_figures(self.usages, self.active_s, os.cpu_count()),
        }

    def steady_summary(self) -> dict[str, Any]:
        """The figures after the warm-up: acknowledged per second over [warmup, duration), the
        steady batches' latency and lateness (the warm-up is load.warmup_s seconds)."""
        start = self.load.warmup_s
        span = max(1e-9, self.load.duration_s - start)
        first, end = math.ceil(start), math.ceil(self.load.duration_s)
        acked = sum(self.per_second.get(s, (0, 0, 0))[1] for s in range(first, end))
        return {
            "warmup_s": start,
            "window_s": span,
            "acked_per_s": acked / max(1, end - first),
            "batches": self.steady_batches,
            "batches_late": self.steady_batches_late,
            "batches_failed": self.steady_batches_failed,
            "latency_ms": self.steady_latency.summary().as_dict(),
            # [second, highest latency ms] of the steady seconds: a backlog shows as a rise
            "latency_max_ms_by_s": [
                [s, round(ms, 3)]
                for s, ms in sorted(self.latency_max_by_due_s.items())
                if first <= s < end
            ],
        }

    def timeseries_csv(self) -> str:
        # latency_max_ms: of the batches due in that second (empty: none succeeded)
        lines = ["second,unix_time,records_sent,records_acked,batches_failed,latency_max_ms"]
        if self.per_second:
            last = max(self.per_second)
            for s in range(0, last + 1):
                sent, acked, err = self.per_second.get(s, (0, 0, 0))
                lat = self.latency_max_by_due_s.get(s)
                lat_text = "" if lat is None else f"{lat:.3f}"
                lines.append(f"{s},{self.t0_wall + s:.3f},{sent},{acked},{err},{lat_text}")
        return "\n".join(lines) + "\n"


class LoadgenMetrics:
    """The generator's live Prometheus metrics (docs/architecture.md), owned by the parent."""

    def __init__(self) -> None:
        from prometheus_client import CollectorRegistry, Counter, Histogram

        self.registry = CollectorRegistry()
        lbl = ["target"]
        self.sent = Counter(
            "benchlab_loadgen_records_sent", "records sent", lbl, registry=self.registry
        )
        self.acked = Counter(
            "benchlab_loadgen_records_acked", "records acknowledged", lbl, registry=self.registry
        )
        self.batches = Counter(
            "benchlab_loadgen_batches", "batches sent", lbl, registry=self.registry
        )
        self.late = Counter(
            "benchlab_loadgen_batches_late", "batches sent late", lbl, registry=self.registry
        )
        self.errors = Counter(
            "benchlab_loadgen_errors",
            "failed batches by kind",
            [*lbl, "kind"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "benchlab_loadgen_ack_latency_seconds",
            "ack latency from the scheduled time",
            lbl,
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self._server: Any = None

    def start(self, addr: str, port: int) -> None:
        """Serve /metrics; OSError (e.g. the port is busy) propagates to the caller."""
        from prometheus_client import start_http_server

        if port:
            self._server = start_http_server(port, addr=addr, registry=self.registry)

    def stop(self) -> None:
        if self._server is not None:
            server, thread = self._server
            server.shutdown()
            server.server_close()
            thread.join(timeout=2)
            self._server = None

    def init_target(self, target: str) -> None:
        for metric in (self.sent, self.acked, self.batches, self.late):
            metric.labels(target=target)
        for kind in ("timeout", "connection", "constraint", "other"):
            self.errors.labels(target=target, kind=kind)

    def observe(self, target: str, ev: BatchEvent) -> None:
        self.sent.labels(target=target).inc(ev.count)
        self.acked.labels(target=target).inc(ev.acked)
        self.batches.labels(target=target).inc()
        if ev.late:
            self.late.labels(target=target).inc()
        if not ev.ok:
            self.errors.labels(target=target, kind=ev.error_kind or "other").inc()
        else:
            self.latency.labels(target=target).observe(ev.latency_s)


ProgressFn = Callable[[TargetRunResult], None]


def run_load(
    target: str,
    run_id: str,
    load: LoadConfig,
    sink: SinkSpec,
    *,
    should_stop: Callable[[], bool] = lambda: False,
    metrics: LoadgenMetrics | None = None,
    on_progress: ProgressFn | None = None,
    start_timeout_s: float = 60.0,
) -> TargetRunResult:
    """Run the whole schedule for one target; returns when done, stopped or past the drain."""
    processes, reason = choose_processes(load, sink, run_id)
    # fork: fast start and no re-import of __main__; the parent holds no connections here
    ctx = mp.get_context("fork" if "fork" in mp.get_all_start_methods() else "spawn")
    out = ctx.Queue()
    go = ctx.Event()
    stop = ctx.Event()
    t0 = ctx.Array("d", 2)
    probe = sink.make(target)
    result = TargetRunResult(target, probe.describe(), processes, reason, load, time.time())
    if metrics is not None:
        metrics.init_target(target)
    workers = [
        ctx.Process(
            target=_worker_main,
            args=(WorkerSpec(target, run_id, load, sink, i, processes), out, go, stop, t0),
            name=f"benchlab-loadgen-{target}-{i}",
            daemon=True,
        )
        for i in range(processes)
    ]
    for w in workers:
        w.start()
    ready: set[int] = set()
    done: dict[int, ScheduleStats] = {}
    stop_mono: float | None = None
    deadline = time.monotonic() + start_timeout_s

    def handle(msg: tuple[str, int, Any]) -> None:
        kind, worker, payload = msg
        if kind == "ready":
            ready.add(worker)
        elif kind == "batch":
            result.add(payload, metrics)
        elif kind == "usage":
            result.usages.append(payload)
        elif kind == "done":
            done[worker] = payload
        elif kind in ("warning", "fatal"):
            result.warnings.append(f"worker {worker}: {payload}")
            if kind == "fatal":
                done[worker] = ScheduleStats()

    try:
        while len(ready) + len(done) < processes:
            if should_stop() or time.monotonic() > deadline:
                result.stop_reason = (
                    "stopped before start" if should_stop() else "workers did not start"
                )
                stop.set()
                break
            try:
                handle(out.get(timeout=0.1))
            except queue_mod.Empty:
                if not any(w.is_alive() for w in workers):
                    break
        start_mono = time.monotonic() + START_MARGIN_S
        result.t0_wall = time.time() + START_MARGIN_S
        t0[0], t0[1] = start_mono, result.t0_wall
        go.set()
        last_progress = 0.0
        while len(done) < processes:
            if stop_mono is None and should_stop():
                stop_mono = time.monotonic()
                result.stop_reason = result.stop_reason or "interrupted"
                stop.set()
            if stop_mono is not None and time.monotonic() - stop_mono > STOP_GRACE_S:
                result.warnings.append(f"workers still busy {STOP_GRACE_S:.0f} s after stop")
                break
            try:
                handle(out.get(timeout=0.1))
            except queue_mod.Empty:
                alive = [w for w in workers if w.is_alive()]
                for i, w in enumerate(workers):
                    if not w.is_alive() and i not in done:
                        done[i] = ScheduleStats()
                        result.warnings.append(f"worker {i} exited with code {w.exitcode}")
                if not alive:
                    break
            if on_progress is not None and time.monotonic() - last_progress > 0.25:
                last_progress = time.monotonic()
                on_progress(result)
        while True:  # what is left in the queue
            try:
                handle(out.get(timeout=0.2))
            except queue_mod.Empty:
                break
    finally:
        stop.set()
        go.set()
        for w in workers:
            w.join(timeout=10)
            if w.is_alive():
                w.terminate()
                w.join(timeout=5)
        result.end_wall = time.time()
    for stats in done.values():
        result.batches_sent += stats.sent
        result.batches_late += stats.late
        result.max_lag_s = max(result.max_lag_s, stats.max_lag_s)
        if stats.not_sent_reason and stats.not_sent_reason != "stopped":
            result.stop_reason = result.stop_reason or stats.not_sent_reason
    if stop_mono is not None or result.stop_reason in (
        "stopped before start",
        "workers did not start",
    ):
        result.status = "partial"
        elapsed = (stop_mono or start_mono) - start_mono
        due = min(load.batch_count, max(0, math.floor(elapsed / load.interval_s) + 1))
        result.batches_due = max(due, result.batches_sent)
    else:
        result.batches_due = load.batch_count
    result.batches_not_sent = max(0, result.batches_due - result.batches_sent)
    result.records_due = result.batches_due * load.batch_size
    if on_progress is not None:
        on_progress(result)
    return result
