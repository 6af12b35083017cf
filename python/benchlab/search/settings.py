"""The search's settings: the run configuration's `search` object (group_vars/all/search.yml)."""

from __future__ import annotations

from dataclasses import dataclass
from dataclasses import fields as dataclass_fields
from typing import Any

from benchlab import fields


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

    @classmethod
    def parse(cls, data: dict[str, Any] | None, prefix: str = "search") -> SearchSettings:
        data = data or {}
        names = tuple(f.name for f in dataclass_fields(cls))
        fields.refuse_unknown(data, prefix, names)
        number = fields.number
        settings = cls(
            start_rate=number(data, prefix, "start_rate", minimum=1, default=cls.start_rate),
            factor=number(data, prefix, "factor", minimum=1.1, maximum=10, default=cls.factor),
            max_rate=number(data, prefix, "max_rate", minimum=1, default=cls.max_rate),
            precision=number(
                data, prefix, "precision", minimum=0.005, maximum=1, default=cls.precision
            ),
            reruns=number(
                data, prefix, "reruns", integer=True, minimum=1, maximum=9, default=cls.reruns
            ),
            warmup_s=number(data, prefix, "warmup_s", minimum=0, default=cls.warmup_s),
            measure_s=number(data, prefix, "measure_s", minimum=2, default=cls.measure_s),
            interval_s=number(
                data, prefix, "interval_s", minimum=0.01, maximum=10, default=cls.interval_s
            ),
            min_stored_ratio=number(
                data,
                prefix,
                "min_stored_ratio",
                minimum=0.5,
                maximum=1,
                default=cls.min_stored_ratio,
            ),
            max_late_ratio=number(
                data, prefix, "max_late_ratio", minimum=0, maximum=1, default=cls.max_late_ratio
            ),
            backlog_growth_ratio=number(
                data,
                prefix,
                "backlog_growth_ratio",
                minimum=0,
                maximum=1,
                default=cls.backlog_growth_ratio,
            ),
            latency_growth_ms=number(
                data, prefix, "latency_growth_ms", minimum=0, default=cls.latency_growth_ms
            ),
            max_trials=number(
                data,
                prefix,
                "max_trials",
                integer=True,
                minimum=1,
                maximum=200,
                default=cls.max_trials,
            ),
        )
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
