"""Kafka alone as the store: a record is stored once the broker acknowledged it (acks=all).

It separates the pipeline's ingest ceiling (the broker and the producer) from what Spark and
HDFS add. The audit reads the topic back by run id and seq number (audit.py).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from benchlab import fields
from benchlab.sinks.base import SinkSpec
from benchlab.sinks.kafka import KafkaSink, KafkaSinkConfig
from benchlab.targets.base import (
    Description,
    Target,
    TargetConfig,
    TargetNotReady,
    TargetSession,
)

if TYPE_CHECKING:
    from benchlab.loadgen.runner import TargetRunResult


class KafkaSession(TargetSession):
    """Takes the topic's end offsets before the load: the audit reads from there, so the
    same run id's records of a target before it on the topic (the pipeline's) are not read."""

    start_offsets: dict[int, int] | None = None

    def start(self, should_stop: Callable[[], bool]) -> None:
        from benchlab.targets.kafka.audit import end_offsets

        try:
            self.start_offsets = end_offsets(self.config.sink.config)
        except Exception as exc:
            raise TargetNotReady(f"Kafka end offsets: {type(exc).__name__}: {exc}") from exc

    def audit_run(self, result: TargetRunResult) -> dict[str, Any]:
        from benchlab.targets.kafka.audit import audit_kafka

        sink = self.config.sink.config
        audit = audit_kafka(
            self.config.name, sink, self.run_id, result.acked, result.t0_wall, self.start_offsets
        )
        return audit.as_dict()


class KafkaTarget(Target):
    name = "kafka"
    # the idempotent producer writes each record once; the kit never re-sends a batch
    exactly_once = True
    # Kafka alone is the pipeline's ingest bound, not an answer to where to store records
    candidate = False
    description = Description(
        title="Kafka",
        acknowledgement="the broker's (acks=all, idempotent producer)",
        throughput="records acknowledged by the broker per second",
        audit="reads the topic back from the load's start and matches run id and seq",
    )

    def parse(self, entry: dict[str, Any], prefix: str) -> tuple[SinkSpec, Any]:
        sink = KafkaSinkConfig.parse(fields.mapping(entry, prefix, "sink"), f"{prefix}.sink")
        return SinkSpec(KafkaSink, sink), None

    def audit(self, config: TargetConfig, run_id: str, result: TargetRunResult) -> dict[str, Any]:
        from benchlab.targets.kafka.audit import audit_kafka

        sink = config.sink.config
        return audit_kafka(config.name, sink, run_id, result.acked, result.t0_wall).as_dict()

    def session(self, config: TargetConfig, run_id: str, work_dir: Path) -> TargetSession:
        return KafkaSession(self, config, run_id, work_dir)


TARGET = KafkaTarget()
