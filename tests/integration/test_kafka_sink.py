"""The Kafka sink against the lab's broker: acks, ack ranges, wire format, unreachable broker."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from pipeline_helpers import KAFKA, TOPIC, Pipeline, pipeline

from benchlab.records import RecordFactory
from benchlab.sinks.base import Ack, Batch, SinkUnreachable
from benchlab.sinks.kafka import KafkaSink, KafkaSinkConfig, decode_value

__all__ = ["pipeline"]


def config(**extra: Any) -> KafkaSinkConfig:
    host, port = KAFKA.split(":")
    return KafkaSinkConfig(host=host, port=int(port), topic=TOPIC, **extra)


def test_batches_are_acknowledged_and_readable(pipeline: Pipeline) -> None:
    from confluent_kafka import Consumer, TopicPartition

    run_id = f"it-kafka-{uuid.uuid4().hex[:10]}"
    sink = KafkaSink(config(), name="it")
    sink.open()
    acks: list[Ack] = []
    factory = RecordFactory(run_id, 300)
    for index in range(4):
        rows = factory.rows(index * 250, 250, datetime.now(UTC))
        sink.submit(Batch(index, index * 250, rows, sink.prepare(rows)), acks.append)
    assert sink.flush(30) == 0
    sink.close()
    assert sorted(a.batch_index for a in acks) == [0, 1, 2, 3]
    assert all(a.ok and a.acked == 250 for a in acks)
    assert all(a.error_kind is None for a in acks)

    consumer = Consumer(
        {"bootstrap.servers": KAFKA, "group.id": f"it-{run_id}", "enable.auto.commit": False}
    )
    parts = consumer.list_topics(TOPIC, timeout=10).topics[TOPIC].partitions
    tps = []
    for p in parts:
        _, high = consumer.get_watermark_offsets(TopicPartition(TOPIC, p), timeout=10)
        tps.append(TopicPartition(TOPIC, p, max(0, high - 1000)))
    consumer.assign(tps)
    seen: set[int] = set()
    for _ in range(50):
        for msg in consumer.consume(500, timeout=1.0):
            if msg.error() is None:
                rec = decode_value(msg.value())
                if rec[0] == run_id:
                    seen.add(rec[1])
        if len(seen) == 1000:
            break
    consumer.close()
    assert seen == set(range(1000))


def test_unreachable_broker_raises_sink_unreachable() -> None:
    sink = KafkaSink(KafkaSinkConfig(host="127.0.0.1", port=1, connect_timeout_s=2, topic=TOPIC))
    with pytest.raises(SinkUnreachable):
        sink.open()


def test_describe_reports_the_fixed_guarantees() -> None:
    info = KafkaSink(config(producer={"acks": "1", "linger.ms": 20})).describe()
    assert info["acks"] == "all" and info["idempotence"] is True
    assert info["producer"]["acks"] == "all"  # acks cannot be weakened
    assert info["producer"]["linger.ms"] == 20
