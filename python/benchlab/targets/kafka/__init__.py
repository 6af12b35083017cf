"""Kafka alone as the store: a record is stored once the broker acknowledged it (acks=all).

It separates the pipeline's ingest ceiling (the broker and the producer) from what Spark and
HDFS add. The audit reads the topic back by run id and seq number (audit.py).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from benchlab import fields
from benchlab.sinks.base import SinkSpec
from benchlab.sinks.kafka import KafkaSink, KafkaSinkConfig
from benchlab.targets.base import Description, Target, TargetConfig

if TYPE_CHECKING:
    from benchlab.loadgen.runner import TargetRunResult


class KafkaTarget(Target):
    name = "kafka"
    # the idempotent producer writes each record once; the kit never re-sends a batch
    exactly_once = True
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


TARGET = KafkaTarget()
