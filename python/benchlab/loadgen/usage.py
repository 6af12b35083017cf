"""The generator's own cost: each worker's CPU time and batches in flight over its load loop.

So a reader (and the search) can tell whether the client, not the server, set the ceiling:
a worker near a whole core, or few batches in flight per worker while batches go out late,
is the generator's limit. The worker measures itself (CPU time of its process, which
includes a sink's own threads, e.g. librdkafka's) and sends it with its final message; the
parent aggregates with :func:`generator_figures`.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class WorkerUsage:
    """One worker's load loop: CPU seconds of its process, most batches in flight at once."""

    worker: int
    cpu_s: float
    in_flight_peak: int


@dataclass
class UsageMeter:
    """In a worker: CPU from start() to stop(); a batch is in flight from submit to its
    first acknowledgement (a Kafka batch with failed records gets two)."""

    worker: int
    _cpu_start: float | None = None
    _in_flight: set[int] = field(default_factory=set)
    _peak: int = 0

    def start(self) -> None:
        self._cpu_start = time.process_time()

    def submitted(self, index: int) -> None:
        self._in_flight.add(index)
        self._peak = max(self._peak, len(self._in_flight))

    def acknowledged(self, index: int) -> None:
        self._in_flight.discard(index)

    def stop(self) -> WorkerUsage:
        cpu = 0.0 if self._cpu_start is None else time.process_time() - self._cpu_start
        return WorkerUsage(self.worker, cpu, self._peak)


def generator_figures(
    usages: Sequence[WorkerUsage], active_s: float, cores: int | None
) -> dict[str, Any]:
    """load.json's `generator`: the workers' CPU (seconds, and cores over the run's active
    span), the most batches any one worker had in flight, and the machine's cores."""
    ordered = sorted(usages, key=lambda u: u.worker)
    span = max(1e-9, active_s)
    cpu = sum(u.cpu_s for u in ordered)
    return {
        "cpu_s": round(cpu, 3),
        "cpu_cores_mean": round(cpu / span, 3),
        "per_worker_cpu_cores": [round(u.cpu_s / span, 3) for u in ordered],
        "in_flight_peak": max((u.in_flight_peak for u in ordered), default=0),
        "per_worker_in_flight_peak": [u.in_flight_peak for u in ordered],
        "workers_reporting": len(ordered),
        "cores_available": cores,
    }
