"""Kafka's audit: read the topic back and find every acknowledged record of the run.

Each partition is read from the first offset whose timestamp is at or after the load's start
(the record timestamp is the event time, benchlab.sinks.kafka) minus a margin, up to the
high watermark taken when the audit starts: every acknowledged record is below it. Records
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


def read_run_seqs(
    sink: KafkaSinkConfig, run_id: str, since_wall: float, *, timeout_s: float = 30.0
) -> tuple[dict[int, int], int]:
    """Seq -> copies (capped at 2) of the run's records in the topic, and the rows found."""
    from confluent_kafka import Consumer, TopicPartition

    consumer = Consumer(
        {
            "bootstrap.servers": sink.bootstrap,
            "group.id": f"benchlab-audit-{uuid.uuid4().hex[:12]}",
            "enable.auto.commit": False,
            "auto.offset.reset": "earliest",
            "enable.partition.eof": False,
        }
    )
    try:
        since_ms = int((since_wall - START_MARGIN_S) * 1000)
        parts = _partitions(consumer, sink.topic, timeout_s)
        starts = consumer.offsets_for_times(
            [TopicPartition(sink.topic, p, since_ms) for p in parts], timeout=timeout_s
        )
        ends: dict[int, int] = {}
        assign = []
        for tp in starts:
            _low, high = consumer.get_watermark_offsets(
                TopicPartition(sink.topic, tp.partition), timeout=timeout_s
            )
            start = tp.offset if tp.offset >= 0 else high  # -1: nothing at/after the time
            if start < high:
                ends[tp.partition] = high
                assign.append(TopicPartition(sink.topic, tp.partition, start))
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
    target: str, sink: KafkaSinkConfig, run_id: str, acked: RangeSet, since_wall: float
) -> AuditResult:
    """Compare the run's records in the topic with the acknowledged seq ranges."""
    counts, rows = read_run_seqs(sink, run_id, since_wall)
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
