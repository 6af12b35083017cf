"""The null sink: discards every batch and acknowledges it at once (measures the generator)."""

from __future__ import annotations

import time

from benchlab.sinks.base import Ack, Batch, SyncSink


class NullSink(SyncSink):
    kind = "null"

    def open(self) -> None:
        self.batches = 0

    def close(self) -> None:
        pass

    def write_batch(self, batch: Batch) -> Ack:
        self.batches += 1
        return Ack(batch.index, batch.first_seq, batch.count, True, time.monotonic())
