"""Kafka -> Spark Structured Streaming -> HDFS: stored is what the job committed to HDFS.

Kafka acknowledges a record long before it is in HDFS, so around the load the session
starts the streaming job, waits for the drain after it, and summarises the job's progress;
the audit reads the run's Parquet files back (audit.py).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from benchlab import fields
from benchlab.sinks.base import SinkSpec
from benchlab.sinks.kafka import KafkaSink, KafkaSinkConfig
from benchlab.targets.base import (
    AfterLoad,
    Description,
    Target,
    TargetConfig,
    TargetNotReady,
    TargetSession,
)
from benchlab.targets.pipeline.settings import StreamingConfig
from benchlab.targets.pipeline.stored_latency import BASIS, stored_latency
from benchlab.targets.pipeline.streaming_job import (
    PipelineError,
    StreamingJob,
    steady_stored,
    summarize_progress,
)

if TYPE_CHECKING:
    from benchlab.loadgen.runner import TargetRunResult


# Records of the warm-up run id the job commits before the load (StreamingJob.warm_up).
WARMUP_RECORDS = 200
# An interrupted run: how long the streaming job gets to commit what Kafka acknowledged before
# it is stopped (a few trigger intervals), so the partial result's audit finds it in HDFS
# rather than counting it lost. Bounded by the settings' drain_timeout_s.
INTERRUPTED_DRAIN_S = 30.0


class PipelineSession(TargetSession):
    job: StreamingJob
    warmup_s: float | None = None
    # The local Spark session that reads the run's Parquet files back after the load: the
    # latency per record first, then the audit (one JVM start for both).
    reader: Any = None

    def start(self, should_stop: Callable[[], bool]) -> None:
        self.job = StreamingJob(
            self.run_id, self.config.sink.config, self.config.settings, self.work_dir
        )
        try:
            self.job.start(should_stop)
            self.warmup_s = self.job.warm_up(WARMUP_RECORDS, should_stop)
        except (PipelineError, OSError) as exc:
            self.job.stop()
            raise TargetNotReady(str(exc)) from exc

    def stored_so_far(self, result: TargetRunResult) -> int | None:
        """What the streaming job has committed to HDFS (its progress file)."""
        return self.job.committed_rows()

    def abort(self) -> None:
        self.job.stop()
        self.close_reader()

    def close_reader(self) -> None:
        if self.reader is not None:
            self.reader.stop()
            self.reader = None

    def read_back(self) -> Any:
        from benchlab.targets.pipeline.audit import local_spark

        if self.reader is None:
            self.reader = local_spark()
        return self.reader

    def latency(self, lines: list[dict[str, Any]], result: TargetRunResult) -> dict[str, Any]:
        """Per-record latency to the HDFS commit (stored_latency.py), all and steady."""
        commits = [float(p["commit_epoch_s"]) for p in lines if p.get("commit_epoch_s")]
        steady = (result.t0_wall + result.load.warmup_s, result.t0_wall + result.load.duration_s)
        try:
            return stored_latency(self.read_back(), self.job.output, self.run_id, commits, steady)
        except Exception as exc:  # the audit that follows reports what HDFS holds
            return {"error": f"{type(exc).__name__}: {exc}", "basis": BASIS}

    def after_load(self, result: TargetRunResult, should_stop: Callable[[], bool]) -> AfterLoad:
        if should_stop():  # interrupted: a short drain of what was acknowledged, then stop
            limit = min(INTERRUPTED_DRAIN_S, self.job.streaming.drain_timeout_s)
            until = time.monotonic() + limit
            drain = self.job.wait_drained(
                result.records_acked, result.end_wall, lambda: time.monotonic() > until, limit
            )
        else:
            drain = self.job.wait_drained(result.records_acked, result.end_wall, should_stop)
        exit_code = self.job.stop()
        acked = {second: row[1] for second, row in result.per_second.items()}
        lines = self.job.progress()
        progress = summarize_progress(lines, result.t0_wall, drain, acked)
        window = (result.load.warmup_s, result.load.duration_s)
        latency = self.latency(lines, result) if not should_stop() else {}
        stored_steady = steady_stored(lines, result.t0_wall, window, acked)
        stored_steady.update(
            latency_ms=latency.get("steady") or {},
            latency=BASIS,
        )
        streaming = {
            **progress,
            "job_exit_code": exit_code,
            "job_restarts": self.job.restarts,
            "warmup_s": self.warmup_s,
            "output": self.job.output,
            "starting_offsets": self.job.starting_offsets,
        }
        failed = None
        if not drain.drained and not should_stop():
            failed = "the streaming job did not drain (dead after its restarts, or time-out)"
        return AfterLoad(
            figures={
                # throughput and latency are of what reached HDFS; Kafka's acknowledgements
                # are reported beside them
                "acked_throughput_per_s": result.summary()["throughput_per_s"],
                "throughput_per_s": streaming.get("stored_per_s"),
                "ack_latency_ms": result.summary()["latency_ms"],
                "latency_ms": latency.get("all") or {},
                "latency_basis": BASIS,
                "latency_error": latency.get("error"),
                "records_without_commit": latency.get("records_without_commit"),
                "streaming": streaming,
                # what reached HDFS after the warm-up: what a sustainable-rate search judges
                "stored_steady": stored_steady,
            },
            failed=failed,
        )

    def audit_run(self, result: TargetRunResult) -> dict[str, Any]:
        from benchlab.targets.pipeline.audit import audit_hdfs

        try:
            return audit_hdfs(
                self.config.name, self.job.output, self.run_id, result.acked,
                spark=self.read_back(),
            ).as_dict()  # fmt: skip
        finally:
            self.close_reader()


class PipelineTarget(Target):
    name = "pipeline"
    keys = ("sink", "streaming")
    description = Description(
        title="Kafka -> Spark -> HDFS",
        acknowledgement="Kafka's (acks=all, idempotent producer)",
        throughput=(
            "records committed to HDFS per second (from the streaming job's progress, load "
            "start to last commit); latency is each record's, from its scheduled time to the "
            "HDFS commit of the micro-batch that wrote its file (read back from HDFS), and "
            "Kafka's acknowledgement latency is shown beside it; before the load the job "
            "commits a warm-up micro-batch of its own (not counted)"
        ),
        audit="reads the run's committed Parquet files in HDFS back with Spark",
    )

    def parse(self, entry: dict[str, Any], prefix: str) -> tuple[SinkSpec, StreamingConfig]:
        sink = KafkaSinkConfig.parse(fields.mapping(entry, prefix, "sink"), f"{prefix}.sink")
        streaming = StreamingConfig.parse(
            fields.mapping(entry, prefix, "streaming"), f"{prefix}.streaming"
        )
        return SinkSpec(KafkaSink, sink), streaming

    def session(self, config: TargetConfig, run_id: str, work_dir: Path) -> TargetSession:
        return PipelineSession(self, config, run_id, work_dir / "streaming" / config.name)


TARGET = PipelineTarget()
