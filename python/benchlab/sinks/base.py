"""The Sink interface.

A sink receives batches and reports each batch's acknowledgement through a callback, so both
kinds of sink fit without rework:

* synchronous sinks (PostgreSQL: acknowledged on commit) subclass :class:`SyncSink` and
  implement ``write_batch``; ``submit`` calls the callback before it returns;
* asynchronous sinks (Kafka: delivery reports) implement ``submit`` to enqueue and return at
  once, fire the callback later from ``poll``/``flush`` (e.g. from confluent-kafka delivery
  callbacks), may ack part of a batch (``Ack.acked_ranges``), and set ``max_in_flight``.

The load generator calls, per process: ``open()``, then for each scheduled batch
``make_batch(...)`` ahead of its time (by default the factory's rows, then ``prepare(rows)``)
and ``submit(batch, on_ack)`` at its time, ``poll(0)`` between batches, ``flush(timeout)`` at
the end and ``close()``.
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, ClassVar

from benchlab.records import RecordFactory, Row


class ErrorKind(StrEnum):
    TIMEOUT = "timeout"
    CONNECTION = "connection"
    CONSTRAINT = "constraint"
    RESOURCE = "resource"  # the server is short of a resource: disk full, memory, connections
    OTHER = "other"


class SinkUnreachable(RuntimeError):
    """The sink could not be reached at open(): the CLI exits 3."""


@dataclass(frozen=True)
class Batch:
    """One scheduled batch: records first_seq .. first_seq + count - 1."""

    index: int
    first_seq: int
    rows: Sequence[Row]  # empty when the sink built only its payload (make_batch)
    payload: Any = None  # what prepare() returned (encoded form), built ahead of time
    size: int | None = None  # the record count when rows is empty

    @property
    def count(self) -> int:
        return len(self.rows) if self.size is None else self.size


@dataclass(frozen=True)
class Ack:
    """Outcome of one batch (or part of one, for sinks that ack per record)."""

    batch_index: int
    first_seq: int
    count: int  # records this ack covers
    ok: bool
    ack_mono: float  # time.monotonic() when acknowledged (or failed)
    error_kind: ErrorKind | None = None
    error: str | None = None
    attempts: int = 1
    # Acknowledged seq ranges (first, count); None means all `count` records from first_seq.
    acked_ranges: tuple[tuple[int, int], ...] | None = None

    @property
    def acked(self) -> int:
        if not self.ok:
            return 0
        if self.acked_ranges is None:
            return self.count
        return sum(n for _, n in self.acked_ranges)

    def ranges(self) -> tuple[tuple[int, int], ...]:
        if not self.ok:
            return ()
        if self.acked_ranges is None:
            return ((self.first_seq, self.count),)
        return self.acked_ranges


AckCallback = Callable[[Ack], None]


class Sink(ABC):
    kind: ClassVar[str] = "abstract"
    # False for a sink that only measures the generator (no server to wait on).
    does_io: ClassVar[bool] = True
    max_in_flight: int = 1

    def __init__(self, config: Any, *, name: str = "target") -> None:
        self.config = config
        self.name = name

    @abstractmethod
    def open(self) -> None:
        """Connect. Raise SinkUnreachable when the sink cannot be reached at all."""

    @abstractmethod
    def close(self) -> None: ...

    def prepare(self, rows: Sequence[Row]) -> Any:
        """Client-side encoding done ahead of the batch's scheduled time (no I/O)."""
        return None

    def make_batch(
        self,
        factory: RecordFactory,
        index: int,
        first_seq: int,
        count: int,
        event_time: datetime,
        spacing_s: float,
    ) -> Batch:
        """Batch `index`: the factory's records from first_seq, event times from event_time
        spaced by spacing_s, encoded by prepare(). A sink whose wire form the factory can
        build directly overrides this (no I/O either)."""
        rows = factory.rows(first_seq, count, event_time, spacing_s)
        return Batch(index, first_seq, rows, self.prepare(rows))

    @abstractmethod
    def submit(self, batch: Batch, on_ack: AckCallback) -> None:
        """Send the batch; call on_ack once per acknowledgement (now, or later from poll)."""

    def poll(self, timeout: float = 0.0) -> None:  # noqa: B027 - optional hook
        """Serve pending acknowledgements (async sinks)."""

    def flush(self, timeout: float) -> int:
        """Wait up to timeout for outstanding acks; return how many batches are still pending."""
        return 0

    def describe(self) -> dict[str, Any]:
        return {"kind": self.kind, "method": "none"}

    def __enter__(self) -> Sink:
        self.open()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@dataclass(frozen=True)
class SinkSpec:
    """A sink class and its typed config: picklable, so each load process builds its own."""

    sink_class: type[Sink]
    config: Any

    def make(self, name: str) -> Sink:
        """A new, unopened sink."""
        return self.sink_class(self.config, name=name)


class SyncSink(Sink):
    """A sink whose write returns once the batch is acknowledged."""

    @abstractmethod
    def write_batch(self, batch: Batch) -> Ack: ...

    def submit(self, batch: Batch, on_ack: AckCallback) -> None:
        try:
            ack = self.write_batch(batch)
        except Exception as exc:  # a bug in a sink must not kill the run: count it
            ack = Ack(
                batch.index,
                batch.first_seq,
                batch.count,
                False,
                time.monotonic(),
                ErrorKind.OTHER,
                f"{type(exc).__name__}: {exc}",
            )
        on_ack(ack)
