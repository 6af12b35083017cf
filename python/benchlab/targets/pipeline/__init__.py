"""Kafka -> Spark Structured Streaming -> HDFS: stored is what the job committed to HDFS.

Kafka acknowledges a record long before it is in HDFS, so around the load the session
starts the streaming job, waits for the drain after it, and summarises the job's progress;
the audit reads the run's Parquet files back (audit.py).
"""

from __future__ import annotations

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


class PipelineSession(TargetSession):
    job: StreamingJob
    warmup_s: float | None = None

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

    def abort(self) -> None:
        self.job.stop()

    def after_load(self, result: TargetRunResult, should_stop: Callable[[], bool]) -> AfterLoad:
        drain = self.job.wait_drained(result.records_acked, result.end_wall, should_stop)
        exit_code = self.job.stop()
        acked = {second: row[1] for second, row in result.per_second.items()}
        lines = self.job.progress()
        progress = summarize_progress(lines, result.t0_wall, drain, acked)
        window = (result.load.warmup_s, result.load.duration_s)
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
                # throughput is what reached HDFS, not Kafka's acknowledgements
                "acked_throughput_per_s": result.summary()["throughput_per_s"],
                "throughput_per_s": streaming.get("stored_per_s"),
                "streaming": streaming,
                # what reached HDFS after the warm-up: what a sustainable-rate search judges
                "stored_steady": steady_stored(lines, result.t0_wall, window, acked),
            },
            failed=failed,
        )

    def audit_run(self, result: TargetRunResult) -> dict[str, Any]:
        from benchlab.targets.pipeline.audit import audit_hdfs

        output = self.job.output
        return audit_hdfs(self.config.name, output, self.run_id, result.acked).as_dict()


class PipelineTarget(Target):
    name = "pipeline"
    keys = ("sink", "streaming")
    description = Description(
        title="Kafka -> Spark -> HDFS",
        acknowledgement="Kafka's (acks=all, idempotent producer)",
        throughput=(
            "records committed to HDFS per second (from the streaming job's progress, load "
            "start to last commit); freshness is a record's event time to the commit of the "
            "micro-batch that wrote it (per-batch figures weighted by rows); before the load "
            "the job commits a warm-up micro-batch of its own (not counted)"
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
