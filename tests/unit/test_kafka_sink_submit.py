"""KafkaSink's prepare/submit path against a fake producer (no broker): one pass of encoding,
one delivery callback per batch, the failed records' seqs read back from their values."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

from benchlab.records import RecordFactory
from benchlab.sinks.base import Ack, Batch, ErrorKind
from benchlab.sinks.kafka import (
    KafkaSink,
    KafkaSinkConfig,
    decode_value,
    encode_batch,
    encode_row,
    seq_of,
)

T = datetime(2026, 11, 22, 16, 1, 2, 123456, tzinfo=UTC)


class FakeMessage:
    def __init__(self, value: bytes, latency: float) -> None:
        self._value = value
        self._latency = latency

    def value(self) -> bytes:
        return self._value

    def latency(self) -> float:
        return self._latency


class FakeProducer:
    """Records produce() calls; deliver() reports them, failing the values in `fail`."""

    def __init__(self, full_after: int | None = None) -> None:
        self.produced: list[tuple[str, bytes, int, Any]] = []
        self.full_after = full_after
        self.full_raised = 0
        self.polls = 0

    def produce(self, topic: str, value: bytes, *, timestamp: int, on_delivery: Any) -> None:
        if self.full_after is not None and len(self.produced) == self.full_after:
            self.full_after = None  # full once, then room again after a poll
            self.full_raised += 1
            raise BufferError("queue full")
        self.produced.append((topic, value, timestamp, on_delivery))

    def poll(self, timeout: float = 0.0) -> int:
        self.polls += 1
        return 0

    def deliver(self, fail: frozenset[int] = frozenset(), error: Any = "broker down") -> None:
        produced, self.produced = self.produced, []
        for i, (_, value, _, callback) in enumerate(produced):
            err = error if seq_of(value) in fail else None
            callback(err, FakeMessage(value, 0.001 * (i + 1)))


def sink_with(producer: FakeProducer) -> KafkaSink:
    sink = KafkaSink(KafkaSinkConfig(host="127.0.0.1", topic="t"))
    sink.producer = producer
    return sink


def test_encode_batch_gives_the_wire_values_and_the_millisecond_timestamps() -> None:
    rows = RecordFactory("run-1", 300).rows(100, 50, T, 0.0007)
    values, stamps = encode_batch(rows)
    assert (
        values[0]
        == (b"run-1\t100\t1795363262123456\t" + "\t".join(map(str, rows[0][3:8])).encode() + b"\t")
        + rows[0][8].encode()
    )
    assert [decode_value(v) for v in values] == [
        (r[0], r[1], int(r[2].timestamp() * 1_000_000), *r[3:]) for r in rows
    ]
    assert values == [encode_row(r) for r in rows]
    assert stamps == [int(r[2].timestamp() * 1000) for r in rows]
    assert [decode_value(v)[2] // 1000 for v in values] == stamps  # the value's event time, in ms
    assert [seq_of(v) for v in values] == list(range(100, 150))
    assert encode_batch([]) == ([], [])


def test_a_delivered_batch_is_one_ack_with_its_latest_record_latency() -> None:
    producer = FakeProducer()
    sink = sink_with(producer)
    rows = RecordFactory("run-1", 200).rows(10, 5, T, 0.001)
    acks: list[Ack] = []
    before = time.monotonic()
    sink.submit(Batch(2, 10, rows, sink.prepare(rows)), acks.append)
    after = time.monotonic()
    assert [(t, ts) for t, _, ts, _ in producer.produced] == [
        ("t", ts) for ts in encode_batch(rows)[1]
    ]
    assert len({id(cb) for *_, cb in producer.produced}) == 1  # one callback for the batch
    assert acks == [] and sink.flush(0) == 1
    producer.deliver()
    (ack,) = acks
    assert (ack.batch_index, ack.first_seq, ack.count, ack.ok, ack.acked) == (2, 10, 5, True, 5)
    assert ack.ranges() == ((10, 5),)
    # submit time + the highest record latency (the fake's 5th record: 5 ms)
    assert before + 0.005 <= ack.ack_mono <= after + 0.005
    assert sink.flush(0) == 0


def test_failed_records_are_named_by_seq_and_the_rest_acknowledged() -> None:
    producer = FakeProducer()
    sink = sink_with(producer)
    rows = RecordFactory("run-1", 200).rows(100, 6, T)
    acks: list[Ack] = []
    sink.submit(Batch(0, 100, rows, sink.prepare(rows)), acks.append)
    producer.deliver(fail=frozenset({101, 104, 105}))
    ok, failed = acks
    assert ok.ok and ok.acked == 3 and ok.ranges() == ((100, 1), (102, 2))
    assert not failed.ok and (failed.first_seq, failed.count) == (101, 3)
    assert failed.error_kind == ErrorKind.OTHER and "broker down" in (failed.error or "")


def test_a_full_queue_is_polled_and_the_record_produced_again() -> None:
    producer = FakeProducer(full_after=2)
    sink = sink_with(producer)
    rows = RecordFactory("run-1", 200).rows(0, 4, T)
    acks: list[Ack] = []
    sink.submit(Batch(0, 0, rows, None), acks.append)  # no payload: encoded at submit
    assert producer.full_raised == 1 and sink.queue_full_waits == 1 and producer.polls == 1
    assert [seq_of(v) for _, v, _, _ in producer.produced] == [0, 1, 2, 3]
    producer.deliver()
    assert [a.acked for a in acks] == [4]


def test_delimited_records_are_the_encoded_rows() -> None:
    """RecordFactory.delimited (Kafka's batch path) gives byte for byte what encoding the
    factory's rows gives, event times and stamps included, for several seeds and spacings."""
    for seed, spacing in ((0, 0.0), (3, 0.0001), (7, 0.0123457)):
        factory = RecordFactory("20261122T160102Z-p2-kafka-3f9a", 300, seed)
        rows = factory.rows(1_000, 3_000, T, spacing)
        assert factory.delimited(1_000, 3_000, T, spacing) == encode_batch(rows)


def test_make_batch_builds_the_payload_without_rows() -> None:
    sink = KafkaSink(KafkaSinkConfig(host="127.0.0.1"))
    factory = RecordFactory("run-make-batch", 300)
    batch = sink.make_batch(factory, 4, 20_000, 5_000, T, 0.0002)
    assert (batch.index, batch.first_seq, batch.count, batch.rows) == (4, 20_000, 5_000, ())
    values, stamps = batch.payload
    assert len(values) == len(stamps) == 5_000
    assert decode_value(values[0])[:3] == ("run-make-batch", 20_000, 1_795_363_262_123_456)
    assert seq_of(values[-1]) == 24_999
