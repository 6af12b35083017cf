"""Kafka's audit: read the topic back and find every acknowledged record of the run.

Each partition is read from its end offset taken just before the load (the session's), up to
the high watermark taken when the audit starts: every acknowledged record is between them.
Without start offsets, from the first record at or after the load's start less a margin. Records
of other runs are skipped by run id. Seq numbers are counted in a bytearray (0, 1, 2 = more
than once), so 5M records take 5 MB.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

from benchlab.audit import AuditResult
from benchlab.seqranges import RangeSet
from benchlab.sinks.kafka import KafkaSinkConfig

EXAMPLES = 10
START_MARGIN_S = 60.0  # clocks and timestamps: read from a minute before the load started
POLL_BATCH = 10_000


def _partitions(consumer: Any, topic: str, timeout_s: float) -> list[int]:
    meta = consumer.list_topics(topic, timeout=timeout_s)
    info = meta.topics.get(topic)
    if info is None or info.error is not None:
        raise RuntimeError(f"topic {topic!r}: {info.error if info else 'not found'}")
    return sorted(info.partitions)


def _consumer(sink: KafkaSinkConfig) -> Any:
    from confluent_kafka import Consumer

    return Consumer(
        {
            "bootstrap.servers": sink.bootstrap,
            "group.id": f"benchlab-audit-{uuid.uuid4().hex[:12]}",
            "enable.auto.commit": False,
            "auto.offset.reset": "earliest",
            "enable.partition.eof": False,
        }
    )


def end_offsets(sink: KafkaSinkConfig, timeout_s: float = 30.0) -> dict[int, int]:
    """Each partition's high watermark: where records written from now on start."""
    from confluent_kafka import TopicPartition

    consumer = _consumer(sink)
    try:
        return {
            p: consumer.get_watermark_offsets(TopicPartition(sink.topic, p), timeout=timeout_s)[1]
            for p in _partitions(consumer, sink.topic, timeout_s)
        }
    finally:
        consumer.close()


def read_run_seqs(
    sink: KafkaSinkConfig,
    run_id: str,
    since_wall: float,
    *,
    start_offsets: dict[int, int] | None = None,
    timeout_s: float = 30.0,
) -> tuple[dict[int, int], int]:
    """Seq -> copies (capped at 2) of the run's records in the topic, and the rows found.

    From `start_offsets` (taken just before the load: the same run id's records another
    target of the run wrote to the topic before, the pipeline's, are not this target's), or
    without them from the first record at or after the load's start less a margin."""
    from confluent_kafka import TopicPartition

    consumer = _consumer(sink)
    try:
        parts = _partitions(consumer, sink.topic, timeout_s)
        if start_offsets is None:
            since_ms = int((since_wall - START_MARGIN_S) * 1000)
            found = consumer.offsets_for_times(
                [TopicPartition(sink.topic, p, since_ms) for p in parts], timeout=timeout_s
            )
            start_offsets = {tp.partition: tp.offset for tp in found}
        ends: dict[int, int] = {}
        assign = []
        for partition in parts:
            _low, high = consumer.get_watermark_offsets(
                TopicPartition(sink.topic, partition), timeout=timeout_s
            )
            offset = start_offsets.get(partition, -1)
            start = offset if offset >= 0 else high  # -1: nothing at/after the time
            if start < high:
                ends[partition] = high
                assign.append(TopicPartition(sink.topic, partition, start))
        counts: dict[int, int] = {}
        rows = 0
        prefix = run_id.encode() + b"\t"
        consumer.assign(assign)
        remaining = set(ends)
        idle_since = time.monotonic()
        while remaining:
            # consume() waits for a full batch or the time-out: short waits, one overall limit
            messages = consumer.consume(POLL_BATCH, timeout=0.5)
            if not messages:
                if time.monotonic() - idle_since > timeout_s:
                    raise TimeoutError(
                        f"no records for {timeout_s:.0f} s; partitions {sorted(remaining)} unread"
                    )
                continue
            idle_since = time.monotonic()
            for msg in messages:
                if msg.error() is not None:
                    raise RuntimeError(f"consume: {msg.error()}")
                partition, offset = msg.partition(), msg.offset()
                if partition not in remaining:
                    continue
                if offset + 1 >= ends[partition]:
                    remaining.discard(partition)
                if offset >= ends[partition]:
                    continue
                value = msg.value()
                if value.startswith(prefix):
                    seq = int(value[len(prefix) : value.index(b"\t", len(prefix))])
                    counts[seq] = min(2, counts.get(seq, 0) + 1)
                    rows += 1
        return counts, rows
    finally:
        consumer.close()


def audit_kafka(
    target: str,
    sink: KafkaSinkConfig,
    run_id: str,
    acked: RangeSet,
    since_wall: float,
    start_offsets: dict[int, int] | None = None,
) -> AuditResult:
    """Compare the run's records in the topic with the acknowledged seq ranges."""
    counts, rows = read_run_seqs(sink, run_id, since_wall, start_offsets=start_offsets)
    acked_found = 0
    lost_examples: list[int] = []
    for first, n in acked.ranges():
        for seq in range(first, first + n):
            if seq in counts:
                acked_found += 1
            elif len(lost_examples) < EXAMPLES:
                lost_examples.append(seq)
    duplicated = sorted(s for s, c in counts.items() if c > 1)
    return AuditResult(
        target=target,
        acknowledged=acked.total(),
        rows_found=rows,
        distinct_found=len(counts),
        acked_found=acked_found,
        lost_examples=lost_examples,
        duplicate_examples=duplicated[:EXAMPLES],
        duplicated_seqs=len(duplicated),
    )
