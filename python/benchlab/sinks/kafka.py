"""Kafka sink (confluent-kafka): idempotent producer, acks=all, asynchronous acknowledgement.

Each record of a batch is produced on its own; the broker acknowledges records, and the
batch is acknowledged when the last of its records has its delivery report. Batches are built
straight in the wire form (``make_batch``: RecordFactory.delimited), so the generator's CPU
per record goes to producing, not to building Row tuples and encoding them again. The sink is
asynchronous (``max_in_flight`` > 1): ``submit`` only enqueues, ``poll``/``flush`` serve the
delivery reports, and the load generator polls while it waits for the next batch.

Acknowledgement time: librdkafka measures each record's latency from ``produce()`` to the
broker's acknowledgement in its own thread (``Message.latency()``), so the batch's ack time
is ``submit start + max(record latency)`` and does not depend on when ``poll`` runs (an upper
bound by at most the time the produce loop took).

Partial failure: records whose delivery failed are reported as a second, failed Ack for
the same batch (``count`` = failures), and the delivered records as an Ack with
``acked_ranges``, so audit sees exactly which seq numbers Kafka acknowledged.

Wire format (what ``benchlab.streaming.job`` parses): one Kafka record per row, no key,
value = UTF-8 text of the row's fields joined by tabs in :data:`benchlab.records.COLUMNS`
order, with the event time as integer microseconds since the epoch; the Kafka record
timestamp is the event time in milliseconds.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from benchlab import fields
from benchlab.records import EPOCH, ONE_MICROSECOND, RecordFactory, Row
from benchlab.sinks.base import Ack, AckCallback, Batch, ErrorKind, Sink, SinkUnreachable

DEFAULT_TOPIC = "benchlab-events"

# Producer settings the kit always uses (SPEC.md section 3): not overridable.
FIXED_PRODUCER_CONFIG: dict[str, Any] = {
    "enable.idempotence": True,
    "acks": "all",
}
# Defaults, overridable through sink.extra["producer"].
DEFAULT_PRODUCER_CONFIG: dict[str, Any] = {
    "linger.ms": 5,
    "batch.size": 1_000_000,
    "compression.type": "lz4",
    "queue.buffering.max.messages": 1_000_000,
    "queue.buffering.max.kbytes": 1_048_576,
    "max.in.flight.requests.per.connection": 5,
    "statistics.interval.ms": 0,
}


@dataclass(frozen=True)
class KafkaSinkConfig:
    """Where the Kafka sink produces (a run config's ``sink`` object for Kafka targets)."""

    host: str
    port: int = 9092
    topic: str = DEFAULT_TOPIC
    # host:port[,host:port]; default host:port
    bootstrap_servers: str | None = None
    connect_timeout_s: float = 10.0
    delivery_timeout_ms: int = 30_000
    # librdkafka settings over DEFAULT_PRODUCER_CONFIG (FIXED_PRODUCER_CONFIG always wins)
    producer: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def parse(cls, data: dict[str, Any], prefix: str) -> KafkaSinkConfig:
        fields.refuse_unknown(data, prefix, cls)
        return cls(
            host=fields.string(data, prefix, "host"),
            port=fields.port(data, prefix, default=cls.port),
            topic=fields.string(data, prefix, "topic", DEFAULT_TOPIC),
            bootstrap_servers=fields.string(data, prefix, "bootstrap_servers", None),
            connect_timeout_s=fields.number(
                data, prefix, "connect_timeout_s", minimum=0, exclusive_min=True, default=10.0
            ),
            delivery_timeout_ms=fields.number(
                data, prefix, "delivery_timeout_ms", integer=True, minimum=1, default=30_000
            ),
            producer=fields.mapping(data, prefix, "producer", required=False),
        )

    @property
    def bootstrap(self) -> str:
        return self.bootstrap_servers or f"{self.host}:{self.port}"


def encode_row(row: Row) -> bytes:
    """The record value: tab-separated fields, event time as epoch microseconds."""
    return encode_batch((row,))[0][0]


def encode_batch(rows: Sequence[Row]) -> tuple[list[bytes], list[int]]:
    """The batch's record values (the wire format: tab-separated fields, event time as epoch
    microseconds) and record timestamps (event time in milliseconds), in one pass that reads
    each event time once: what ``prepare`` returns, so the send itself only produces.
    RecordFactory.delimited builds the same bytes straight from seq numbers (make_batch)."""
    values: list[bytes] = []
    stamps: list[int] = []
    value, stamp = values.append, stamps.append
    for run_id, seq, event_time, service, level, host, user_id, latency_ms, message in rows:
        micros = (event_time - EPOCH) // ONE_MICROSECOND
        value(
            f"{run_id}\t{seq}\t{micros}\t{service}\t{level}\t{host}\t{user_id}\t{latency_ms!r}"
            f"\t{message}".encode()
        )
        stamp(micros // 1000)
    return values, stamps


def seq_of(value: bytes) -> int:
    """The seq field of a record value (the second), without decoding the rest."""
    return int(value.split(b"\t", 2)[1])


def decode_value(value: bytes) -> tuple[str, int, int, str, str, str, int, float, str]:
    """Inverse of :func:`encode_row` (tests, tools): event time stays epoch microseconds."""
    p = value.decode().split("\t", 8)
    return (p[0], int(p[1]), int(p[2]), p[3], p[4], p[5], int(p[6]), float(p[7]), p[8])


def classify_kafka_error(err: Any) -> ErrorKind:
    """Map a KafkaError to an error kind."""
    from confluent_kafka import KafkaError

    code = err.code() if hasattr(err, "code") else None
    if code in (KafkaError._MSG_TIMED_OUT, KafkaError._TIMED_OUT, KafkaError.REQUEST_TIMED_OUT):
        return ErrorKind.TIMEOUT
    if code in (
        KafkaError._TRANSPORT,
        KafkaError._ALL_BROKERS_DOWN,
        KafkaError._RESOLVE,
        KafkaError.NETWORK_EXCEPTION,
        KafkaError.NOT_ENOUGH_REPLICAS,
        KafkaError.NOT_ENOUGH_REPLICAS_AFTER_APPEND,
        KafkaError.LEADER_NOT_AVAILABLE,
        KafkaError.NOT_LEADER_FOR_PARTITION,
    ):
        return ErrorKind.CONNECTION
    return ErrorKind.OTHER


def seqs_to_ranges(seqs: Sequence[int]) -> tuple[tuple[int, int], ...]:
    """Sorted seq numbers -> merged (first, count) ranges."""
    out: list[list[int]] = []
    for s in sorted(seqs):
        if out and s == out[-1][0] + out[-1][1]:
            out[-1][1] += 1
        elif not out or s >= out[-1][0] + out[-1][1]:
            out.append([s, 1])
    return tuple((a, n) for a, n in out)


@dataclass
class _Pending:
    batch: Batch
    on_ack: AckCallback
    submit_mono: float
    outstanding: int
    max_latency: float = 0.0
    failed: list[int] = field(default_factory=list)
    first_error: Any = None


class KafkaSink(Sink):
    kind = "kafka"
    max_in_flight = 10_000

    def __init__(self, config: KafkaSinkConfig, *, name: str = "kafka") -> None:
        super().__init__(config, name=name)
        self.topic: str = config.topic
        self.bootstrap: str = config.bootstrap
        self.delivery_timeout_ms: int = config.delivery_timeout_ms
        self.producer_config: dict[str, Any] = {
            **DEFAULT_PRODUCER_CONFIG,
            **config.producer,
            **FIXED_PRODUCER_CONFIG,
            "bootstrap.servers": self.bootstrap,
            "client.id": f"benchlab-{name}",
            "delivery.timeout.ms": self.delivery_timeout_ms,
        }
        self.producer: Any = None
        self._pending: dict[int, _Pending] = {}
        self.queue_full_waits = 0

    # -- connection -------------------------------------------------------------------------
    def open(self) -> None:
        from confluent_kafka import KafkaException, Producer

        self.producer = Producer(self.producer_config)
        try:
            meta = self.producer.list_topics(
                self.topic, timeout=max(1.0, float(self.config.connect_timeout_s))
            )
        except KafkaException as exc:
            self.producer = None
            raise SinkUnreachable(f"Kafka at {self.bootstrap}: {exc}") from exc
        topic = meta.topics.get(self.topic)
        if topic is None or topic.error is not None or not topic.partitions:
            self.producer = None
            why = topic.error if topic is not None and topic.error else "no partitions"
            raise SinkUnreachable(f"Kafka at {self.bootstrap}: topic {self.topic!r}: {why}")

    def close(self) -> None:
        if self.producer is not None:
            self.producer.flush(5.0)
            self.producer = None

    # -- writing ----------------------------------------------------------------------------
    def prepare(self, rows: Sequence[Row]) -> Any:
        return encode_batch(rows)

    def make_batch(
        self,
        factory: RecordFactory,
        index: int,
        first_seq: int,
        count: int,
        event_time: datetime,
        spacing_s: float,
    ) -> Batch:
        # the wire form straight from seq numbers: no Row tuples to build and encode again
        payload = factory.delimited(first_seq, count, event_time, spacing_s)
        return Batch(index, first_seq, (), payload, size=count)

    def submit(self, batch: Batch, on_ack: AckCallback) -> None:
        if self.producer is None:
            raise RuntimeError("KafkaSink.submit before open()")
        payload = batch.payload if batch.payload is not None else self.prepare(batch.rows)
        values, stamps = payload
        state = _Pending(batch, on_ack, time.monotonic(), len(values))
        self._pending[batch.index] = state
        produce = self.producer.produce
        topic = self.topic

        # One callback for the whole batch (not a closure per record): a failed record's seq
        # is read back from its value, which confluent-kafka hands to every delivery report.
        def on_delivery(err: Any, msg: Any) -> None:
            latency = msg.latency()
            if latency is not None and latency > state.max_latency:
                state.max_latency = latency
            if err is not None:
                state.failed.append(seq_of(msg.value()))
                if state.first_error is None:
                    state.first_error = err
            state.outstanding -= 1
            if state.outstanding == 0:
                self._complete(state)

        for value, ts_ms in zip(values, stamps, strict=True):
            while True:
                try:
                    produce(topic, value, timestamp=ts_ms, on_delivery=on_delivery)
                    break
                except BufferError:
                    self.queue_full_waits += 1
                    self.producer.poll(0.05)

    def _complete(self, state: _Pending) -> None:
        self._pending.pop(state.batch.index, None)
        batch = state.batch
        ack_mono = state.submit_mono + state.max_latency
        if not state.failed:
            state.on_ack(Ack(batch.index, batch.first_seq, batch.count, True, ack_mono))
            return
        err = state.first_error
        kind = classify_kafka_error(err)
        text = f"KafkaError: {err}"[:300]
        failed = set(state.failed)
        delivered = [
            s for s in range(batch.first_seq, batch.first_seq + batch.count) if s not in failed
        ]
        if delivered:
            state.on_ack(
                Ack(
                    batch.index,
                    batch.first_seq,
                    len(delivered),
                    True,
                    ack_mono,
                    acked_ranges=seqs_to_ranges(delivered),
                )
            )
        state.on_ack(Ack(batch.index, min(failed), len(failed), False, ack_mono, kind, text))

    def poll(self, timeout: float = 0.0) -> None:
        if self.producer is not None:
            self.producer.poll(timeout)

    def flush(self, timeout: float) -> int:
        if self.producer is None:
            return len(self._pending)
        deadline = time.monotonic() + timeout
        while self._pending:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            self.producer.flush(min(left, 1.0))
        return len(self._pending)

    def describe(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "method": "produce",
            "topic": self.topic,
            "bootstrap_servers": self.bootstrap,
            "acks": "all",
            "idempotence": True,
            "producer": {k: v for k, v in self.producer_config.items() if k != "bootstrap.servers"},
        }
