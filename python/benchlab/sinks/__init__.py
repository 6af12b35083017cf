"""Sinks: the clients the load generator writes through, one module per kind of store.

A target (benchlab.targets.<name>) picks its sink and builds the sink's typed config; the
load generator gets both as a :class:`SinkSpec`.
"""

from __future__ import annotations

from benchlab.sinks.base import Ack, Batch, ErrorKind, Sink, SinkSpec, SinkUnreachable, SyncSink

__all__ = ["Ack", "Batch", "ErrorKind", "Sink", "SinkSpec", "SinkUnreachable", "SyncSink"]
