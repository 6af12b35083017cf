"""The search's settings: the run configuration's `search` object (group_vars/all/search.yml)."""

from __future__ import annotations

from dataclasses import dataclass
from dataclasses import fields as dataclass_fields
from typing import Any

from benchlab import fields

# The bounds each setting is checked against (benchlab.fields.number's keywords).
BOUNDS: dict[str, dict[str, float]] = {
    "start_rate": {"minimum": 1},
    "factor": {"minimum": 1.1, "maximum": 10},
    "max_rate": {"minimum": 1},
    "precision": {"minimum": 0.005, "maximum": 1},
    "reruns": {"minimum": 1, "maximum": 9},
    "warmup_s": {"minimum": 0},
    "measure_s": {"minimum": 2},
    "interval_s": {"minimum": 0.01, "maximum": 10},
    "min_stored_ratio": {"minimum": 0.5, "maximum": 1},
    "max_late_ratio": {"minimum": 0, "maximum": 1},
    "backlog_growth_ratio": {"minimum": 0, "maximum": 1},
    "latency_growth_ms": {"minimum": 0},
    "max_trials": {"minimum": 1, "maximum": 200},
    "max_writers": {"minimum": 1, "maximum": 64},
    "confirm_failures": {"minimum": 0, "maximum": 4},
}


@dataclass(frozen=True)
class SearchSettings:
    # The grid: start_rate x factor^k up to max_rate (records/s).
    start_rate: float = 500.0
    factor: float = 2.0
    max_rate: float = 256_000.0
    # Bisection stops when (first fail - last pass) / last pass is under this.
    precision: float = 0.05
    # Runs of the best rate in all (the first included); median and spread are reported.
    reruns: int = 3
    # Each trial: warm-up (left out of every figure), then the measured window (seconds).
    warmup_s: float = 10.0
    measure_s: float = 30.0
    # Batches are due every interval_s; the batch size makes the rate.
    interval_s: float = 0.1
    # A rate is sustainable when all hold (docs/architecture.md, "Sustainable throughput"):
    min_stored_ratio: float = 0.98  # stored >= this x offered in the measured window
    max_late_ratio: float = 0.01  # steady batches sent late (behind schedule)
    # backlog growth over the window allowed: this x the offered records in it, plus one
    # second of offered load (records), or for latency max(latency_growth_ms, 0.5 x p50)
    backlog_growth_ratio: float = 0.02
    latency_growth_ms: float = 100.0
    # A safety bound on trials per target (grid + bisection + reruns).
    max_trials: int = 20
    # Writer processes (PostgreSQL connections, Kafka producers): a trial failed only because
    # the generator was behind while the target's services had CPU to spare runs again at
    # the same rate with twice the writers, up to this many (then: "client limit").
    max_writers: int = 8
    # A failing rate runs again until this many more trials failed or as many + 1 passed
    # (majority): noise fails one trial, a limit fails them all. 0: one trial decides.
    confirm_failures: int = 1

    @classmethod
    def parse(cls, data: dict[str, Any] | None, prefix: str = "search") -> SearchSettings:
        data = data or {}
        fields.refuse_unknown(data, prefix, cls)
        values = {
            f.name: fields.number(
                data, prefix, f.name, integer=f.type == "int", default=f.default, **BOUNDS[f.name]
            )
            for f in dataclass_fields(cls)
        }
        settings = cls(**values)
        if settings.max_rate < settings.start_rate:
            raise fields.ConfigError(
                f"{prefix}.max_rate",
                f"{settings.max_rate:g} is below start_rate",
                "raise max_rate or lower start_rate",
            )
        return settings

    @property
    def duration_s(self) -> float:
        return self.warmup_s + self.measure_s

    def batch_size(self, rate: float) -> int:
        """Records per batch for a rate (at least 1)."""
        return max(1, round(rate * self.interval_s))

    def offered(self, rate: float) -> float:
        """The rate the trial really offers (whole records per batch)."""
        return self.batch_size(rate) / self.interval_s
