"""Sinks: where the load generator writes. ``make_sink`` picks one from a SinkConfig."""

from __future__ import annotations

from benchlab.config import SinkConfig
from benchlab.sinks.base import Ack, Batch, ErrorKind, Sink, SinkUnreachable, SyncSink


def make_sink(config: SinkConfig, *, name: str = "target") -> Sink:
    """A new, unopened sink for the config (each worker process makes its own)."""
    if config.kind == "null":
        from benchlab.sinks.null import NullSink

        return NullSink(config, name=name)
    if config.kind == "postgresql":
        from benchlab.sinks.postgres import PostgresSink

        return PostgresSink(config, name=name)
    if config.kind == "kafka":
        from benchlab.sinks.kafka import KafkaSink

        return KafkaSink(config, name=name)
    raise ValueError(f"unknown sink kind {config.kind!r}")


__all__ = ["Ack", "Batch", "ErrorKind", "Sink", "SinkUnreachable", "SyncSink", "make_sink"]
