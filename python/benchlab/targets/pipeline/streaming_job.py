"""The distributed target around its load: streaming job up, drain, stop, progress summary.

Kafka acknowledges a record long before it is in HDFS, so for the pipeline `benchlab run`
starts the Structured Streaming job (client mode, driver here) reading from the topic's end
offsets taken just before the load, so it sees only this run's records; runs the load
through the Kafka sink; waits until the job has committed every acknowledged record to
HDFS (the drain); stops the job through its stop file so the last batch commits cleanly;
and summarises the job's per-batch progress: records stored per second, micro-batch
durations and the backlog (acknowledged, not yet in HDFS). Latency per record is read from
the Parquet files afterwards (stored_latency.py).
"""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchlab.sinks.kafka import KafkaSinkConfig
from benchlab.stats import slope
from benchlab.streaming.job import WARMUP_SUFFIX
from benchlab.streaming.submit import SubmitSpec, build_command, connector_jars, submit_env
from benchlab.targets.pipeline.settings import StreamingConfig


class PipelineError(RuntimeError):
    """The streaming job could not be started or stopped; the message says where to look."""


def topic_end_offsets(bootstrap: str, topic: str, timeout_s: float = 10.0) -> dict[str, int]:
    """High watermark of every partition of the topic (what a reader starting now skips)."""
    from confluent_kafka import Consumer, TopicPartition

    consumer = Consumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": "benchlab-offsets",
            "enable.auto.commit": False,
        }
    )
    try:
        meta = consumer.list_topics(topic, timeout=timeout_s)
        info = meta.topics.get(topic)
        if info is None or info.error is not None or not info.partitions:
            raise PipelineError(f"topic {topic!r} at {bootstrap} has no partitions")
        offsets = {}
        for partition in sorted(info.partitions):
            _low, high = consumer.get_watermark_offsets(
                TopicPartition(topic, partition), timeout=timeout_s
            )
            offsets[str(partition)] = int(high)
        return offsets
    finally:
        consumer.close()


@dataclass
class DrainResult:
    drained: bool
    committed_rows: int
    expected_rows: int
    drain_s: float | None  # load end -> last needed commit; None when it never drained


class StreamingJob:
    """One run's streaming job: spark-submit in the background, driven through files.

    A job that dies before its drain is over (e.g. its query failed because the only
    DataNode was killed mid-write) is started again, up to `max_restarts` times, after
    `restart_backoff_s`: it resumes from the run's checkpoint, so the exactly-once file sink
    loses and duplicates nothing. Each restart is recorded in `restarts`.
    """

    max_restarts = 3
    restart_backoff_s = 5.0

    def __init__(
        self, run_id: str, sink: KafkaSinkConfig, streaming: StreamingConfig, work_dir: Path
    ) -> None:
        self.run_id = run_id
        self.streaming = streaming
        self.work_dir = work_dir
        self.topic = sink.topic
        self.bootstrap = sink.bootstrap
        self.progress_file = work_dir / "progress.jsonl"
        self.ready_file = work_dir / "ready"
        self.stop_file = work_dir / "stop"
        self.log_file = work_dir / "spark-submit.log"
        self.process: subprocess.Popen[bytes] | None = None
        self.starting_offsets: dict[str, int] = {}
        self.restarts: list[dict[str, Any]] = []
        self.sink = sink
        # Micro-batches up to this id held only the warm-up's records (warm_up()).
        self.warmup_through_batch: int | None = None

    @property
    def output(self) -> str:
        return self.spec().output

    def spec(self) -> SubmitSpec:
        offsets = json.dumps({self.topic: self.starting_offsets}) if self.starting_offsets else ""
        job_args = ["--ready-file", str(self.ready_file), "--stop-file", str(self.stop_file)]
        if offsets:
            job_args += ["--starting-offsets", offsets]
        return SubmitSpec(
            run_id=self.run_id,
            master=self.streaming.master,
            namenode=self.streaming.namenode,
            bootstrap=self.bootstrap,
            topic=self.topic,
            base_dir=self.streaming.base_dir,
            progress_file=str(self.progress_file),
            jars=connector_jars(self.streaming.jar_dir),
            driver_host=self.streaming.driver_host,
            driver_memory=self.streaming.driver_memory,
            trigger_s=self.streaming.trigger_s,
            job_args=job_args,
        )

    def start(self, should_stop: Callable[[], bool] = lambda: False) -> None:
        """Start the job and return once its query runs; PipelineError if it does not."""
        self.work_dir.mkdir(parents=True, exist_ok=True)
        # A restart of the same run (same checkpoint) must not see the last job's signals.
        self.ready_file.unlink(missing_ok=True)
        self.stop_file.unlink(missing_ok=True)
        # Ignored by Spark when the run's checkpoint exists: a restart resumes from it. A
        # restart of this job keeps its first offsets, in case it died before its checkpoint.
        if not self.starting_offsets:
            self.starting_offsets = topic_end_offsets(self.bootstrap, self.topic)
        spec = self.spec()
        with self.log_file.open("ab") as log:
            # Own session: a Ctrl-C of `benchlab run` stops the job through its stop file,
            # after the load, rather than killing it mid-batch.
            self.process = subprocess.Popen(
                build_command(spec),
                stdout=log,
                stderr=subprocess.STDOUT,
                env=submit_env(spec),
                start_new_session=True,
            )
        deadline = time.monotonic() + self.streaming.ready_timeout_s
        while not self.ready_file.exists():
            if self.process.poll() is not None:
                raise PipelineError(
                    f"the streaming job exited with {self.process.returncode} before its query "
                    f"started; see {self.log_file}"
                )
            if time.monotonic() > deadline or should_stop():
                self.stop()
                raise PipelineError(
                    f"the streaming query did not start within {self.streaming.ready_timeout_s:.0f}"
                    f" s; see {self.log_file}"
                )
            time.sleep(0.5)

    def warm_up(self, records: int, should_stop: Callable[[], bool] = lambda: False) -> float:
        """Write `records` of the warm-up run id and wait until the job has committed them
        all: the first micro-batch's start-up (HDFS writer, JIT) is paid before the load.
        Returns the seconds it took; PipelineError when it does not happen in time."""
        from benchlab.records import RecordFactory, utc_from_timestamp
        from benchlab.sinks.base import Batch
        from benchlab.sinks.kafka import KafkaSink

        started = time.monotonic()
        sink = KafkaSink(self.sink, name="warmup")
        sink.open()
        rows = RecordFactory(self.run_id + WARMUP_SUFFIX, 300).rows(
            0, records, utc_from_timestamp(time.time())
        )
        sink.submit(Batch(0, 0, rows, sink.prepare(rows)), lambda ack: None)
        left = sink.flush(30.0)
        sink.close()
        if left:
            raise PipelineError("the warm-up records were not acknowledged by Kafka in 30 s")
        deadline = started + self.streaming.ready_timeout_s
        while True:
            done = [p for p in self.progress() if p.get("num_input_rows")]
            if sum(int(p["num_input_rows"]) for p in done) >= records:
                self.warmup_through_batch = max(int(p.get("batch_id", -1)) for p in done)
                return time.monotonic() - started
            if self.process is not None and self.process.poll() is not None:
                raise PipelineError(
                    f"the streaming job exited during its warm-up; see {self.log_file}"
                )
            if time.monotonic() > deadline or should_stop():
                raise PipelineError(
                    f"the warm-up micro-batch was not committed within "
                    f"{self.streaming.ready_timeout_s:.0f} s; see {self.log_file}"
                )
            time.sleep(0.5)

    def progress(self) -> list[dict[str, Any]]:
        """The job's progress lines, with the run's committed total on each.

        Each job process counts from 0, so the total spans restarted jobs; but a restarted
        job resumes from the run's checkpoint and may run (and report) a micro-batch again
        with the same batch id, the same Kafka offset range and so the same records, which
        the file sink commits only once. The total therefore counts each batch id once (the
        checkpoint's sequence numbers, each a distinct offset range); a repeat is kept,
        marked `repeated_batch`, and adds nothing (see summarize_progress).
        """
        if not self.progress_file.exists():
            return []
        records = []
        total = 0
        seen: set[int] = set()
        for line in self.progress_file.read_text(encoding="utf-8").splitlines():
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                continue  # a line being written right now
            batch_id = record.get("batch_id")
            rows = int(record.get("num_input_rows") or 0)
            warmup = self.warmup_through_batch
            if batch_id is not None and warmup is not None and int(batch_id) <= warmup:
                record["warmup_batch"] = True  # the warm-up's records only: not the run's
                rows = 0
            elif batch_id is not None and rows:
                if int(batch_id) in seen:
                    record["repeated_batch"] = True
                    rows = 0
                seen.add(int(batch_id))
            total += rows
            record["committed_rows_total"] = total
            records.append(record)
        return records

    def committed_rows(self) -> int:
        progress = self.progress()
        return int(progress[-1].get("committed_rows_total", 0)) if progress else 0

    def wait_drained(
        self,
        expected_rows: int,
        load_end_wall: float,
        should_stop: Callable[[], bool],
        timeout_s: float | None = None,
    ) -> DrainResult:
        """Wait until the job has committed expected_rows, it dies, or the drain time-out
        (timeout_s, default the streaming settings' drain_timeout_s)."""
        deadline = time.monotonic() + (
            self.streaming.drain_timeout_s if timeout_s is None else timeout_s
        )
        committed = self.committed_rows()
        while committed < expected_rows:
            dead = self.process is not None and self.process.poll() is not None
            if dead and not self.restart_after_failure(should_stop):
                break
            if time.monotonic() > deadline or should_stop():
                break
            time.sleep(0.5)
            committed = self.committed_rows()
        drained = committed >= expected_rows
        drain_s = None
        if drained:
            done = [
                p["commit_epoch_s"]
                for p in self.progress()
                if p.get("commit_epoch_s") and p.get("committed_rows_total", 0) >= expected_rows
            ]
            drain_s = max(0.0, min(done) - load_end_wall) if done else 0.0
        return DrainResult(drained, committed, expected_rows, drain_s)

    def restart_after_failure(self, should_stop: Callable[[], bool]) -> bool:
        """Start a job that died again from its checkpoint; False when it must not or failed."""
        if self.process is None or len(self.restarts) >= self.max_restarts or should_stop():
            return False
        record: dict[str, Any] = {
            "exit_code": self.process.returncode, "noticed_wall": time.time(),
            "running_wall": None, "error": None,
        }  # fmt: skip
        self.restarts.append(record)
        deadline = time.monotonic() + self.restart_backoff_s
        while time.monotonic() < deadline:  # let the failed dependency (a DataNode) come back
            if should_stop():
                return False
            time.sleep(0.2)
        try:
            self.start(should_stop)
        except (PipelineError, OSError) as exc:
            record["error"] = str(exc)
            return False
        record["running_wall"] = time.time()
        return True

    def kill(self) -> None:
        """SIGKILL the job's whole process group (spark-submit JVM and the Python driver)."""
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()

    def stop(self, timeout_s: float = 120.0) -> int | None:
        """Ask the job to stop after its current batch; kill it if it does not."""
        self.stop_file.touch()
        if self.process is None:
            return None
        try:
            return self.process.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            self.process.terminate()
            try:
                return self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                return self.process.wait()


def _percentile(pairs: list[tuple[float, float]], q: float) -> float | None:
    """Weighted percentile of (value, weight) pairs; q in [0, 1]."""
    pairs = sorted((v, w) for v, w in pairs if w > 0 and v is not None and math.isfinite(v))
    if not pairs:
        return None
    total = sum(w for _, w in pairs)
    running = 0.0
    for value, weight in pairs:
        running += weight
        if running >= q * total:
            return value
    return pairs[-1][0]


def acked_before(acked_per_second: dict[int, int], t0_wall: float, t: float) -> int:
    """Records Kafka acknowledged in the whole seconds of the load that ended before t."""
    limit = math.floor(t - t0_wall)
    return sum(n for second, n in acked_per_second.items() if second < limit)


def counted(p: dict[str, Any]) -> bool:
    """A micro-batch with the run's rows, reported for the first time (not a warm-up one)."""
    return (
        bool(p.get("num_input_rows")) and not p.get("repeated_batch") and not p.get("warmup_batch")
    )


def backlog_at_commits(
    batches: list[dict[str, Any]], load_start_wall: float, acked_per_second: dict[int, int]
) -> list[list[Any]]:
    """[commit time, records acknowledged by Kafka before it and not yet committed] per
    micro-batch with a commit time."""
    return [
        [
            p["commit_epoch_s"],
            max(
                0,
                acked_before(acked_per_second, load_start_wall, p["commit_epoch_s"])
                - int(p.get("committed_rows_total", 0)),
            ),
        ]
        for p in batches
        if p.get("commit_epoch_s")
    ]


def summarize_progress(
    progress: list[dict[str, Any]],
    load_start_wall: float,
    drain: DrainResult | None,
    acked_per_second: dict[int, int] | None = None,
) -> dict[str, Any]:
    """Figures for the report from the job's per-batch progress lines.

    The backlog at each commit is what Kafka had acknowledged (per second of the load)
    minus what the job had committed to HDFS: the work the pipeline still owed. A micro-batch
    reported again by a restarted job (`repeated_batch`, StreamingJob.progress) counts once.
    """
    batches = [p for p in progress if counted(p)]
    repeated = sum(1 for p in progress if p.get("repeated_batch"))
    rows = sum(int(p["num_input_rows"]) for p in batches)
    commits = [p["commit_epoch_s"] for p in batches if p.get("commit_epoch_s")]
    last_commit = max(commits) if commits else None
    span = (last_commit - load_start_wall) if last_commit else None
    durations = [
        (float(p["batch_duration_ms"]), 1.0) for p in batches if p.get("batch_duration_ms")
    ]
    backlog = (
        backlog_at_commits(batches, load_start_wall, acked_per_second)
        if acked_per_second is not None
        else []
    )
    return {
        "batches": len(batches),
        "repeated_batches": repeated,
        "rows_committed": rows,
        "stored_per_s": rows / span if span and span > 0 else None,
        "batch_duration_ms": {
            "p50": _percentile(durations, 0.50),
            "p99": _percentile(durations, 0.99),
            "max": max((d for d, _ in durations), default=None),
        },
        "backlog_peak": max((b for _, b in backlog), default=None),
        "backlog": backlog,
        "drained": drain.drained if drain else None,
        "drain_s": drain.drain_s if drain else None,
        "last_commit_wall": last_commit,
    }


def steady_stored(
    progress: list[dict[str, Any]],
    load_start_wall: float,
    window: tuple[float, float],
    acked_per_second: dict[int, int],
) -> dict[str, Any]:
    """The stored side in the steady window [start, end) (seconds from the load's start):
    rows stored in HDFS per second and the backlog (acknowledged by Kafka, not yet in HDFS) at
    each of its commits. The latency per record comes from the Parquet files
    (stored_latency.py)."""
    start, end = window
    lo, hi = load_start_wall + start, load_start_wall + end
    batches = [p for p in progress if counted(p) and p.get("commit_epoch_s")]
    inside = [p for p in batches if lo <= p["commit_epoch_s"] < hi]
    rows = sum(int(p["num_input_rows"]) for p in inside)
    backlog = [
        (round(t - load_start_wall, 3), owed)
        for t, owed in backlog_at_commits(inside, load_start_wall, acked_per_second)
    ]
    # Rows arrive a micro-batch at a time, so rows per second of commits saw-tooths; the
    # backlog sampled at each commit does not: stored = acknowledged - the backlog's growth
    # (least squares over the window's commits). One commit or none: rows over the window.
    seconds = range(math.ceil(start), math.ceil(end))
    acked_rate = sum(acked_per_second.get(s, 0) for s in seconds) / max(1, len(seconds))
    growth = slope([(float(t), float(v)) for t, v in backlog])
    stored_per_s = rows / max(1e-9, end - start)
    if growth is not None:
        stored_per_s = acked_rate - max(0.0, growth)
    return {
        "stored_per_s": stored_per_s,
        "commits": len(inside),
        "backlog": [list(b) for b in backlog],
        "backlog_unit": "records",
    }
