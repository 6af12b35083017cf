"""The null sink: discards every batch and acknowledges it at once (measures the generator)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from benchlab import fields
from benchlab.sinks.base import Ack, Batch, SyncSink


@dataclass(frozen=True)
class NullSinkConfig:
    """The null sink takes no settings."""

    @classmethod
    def parse(cls, data: dict[str, Any], prefix: str) -> NullSinkConfig:
        fields.refuse_unknown(data, prefix, ())
        return cls()


class NullSink(SyncSink):
    kind = "null"
    does_io = False

    def open(self) -> None:
        self.batches = 0

    def close(self) -> None:
        pass

    def write_batch(self, batch: Batch) -> Ack:
        self.batches += 1
        return Ack(batch.index, batch.first_seq, batch.count, True, time.monotonic())
